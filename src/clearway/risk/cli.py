"""`clearway risk ...` commands."""

import json
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from clearway.errors import ClearwayError

app = typer.Typer(help="Risk management: selectivity profiles, models, evaluation.", no_args_is_help=True)


# ---------------------------------------------------------------------------------------------------------------------
# Machine-learned targeting (model.py): train, evaluate, models, activate, rollback, score

_console = Console(stderr=True)
_FORMATS = ("kcs",)

RegistryOption = Annotated[
    Path | None,
    typer.Option("--registry", help="Model registry root (default: $CLEARWAY_RISK_MODELS or var/models/risk)."),
]


def _fail(message: str) -> None:
    _console.print(f"[red]Error:[/red] {message}")
    raise typer.Exit(code=2)


def _check_format(fmt: str) -> None:
    if fmt not in _FORMATS:
        _fail(f"--format: unknown format {fmt!r}; supported: {', '.join(_FORMATS)}")


@contextmanager
def _errors():
    try:
        yield
    except ClearwayError as exc:
        reasons = "; ".join(f"{e.get('field')}: {e.get('reason')}" for e in exc.errors if e.get("reason"))
        _fail(f"{exc.detail}" + (f" ({reasons})" if reasons else ""))
    except OSError as exc:
        _fail(f"{exc.filename or ''}: {exc.strerror or exc}")


@contextmanager
def _progress(enabled: bool = True):
    if not enabled:
        yield lambda _message: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=_console) as bar:
        task = bar.add_task("starting", total=None)
        yield lambda message: bar.update(task, description=message)


@app.command("train")
def train_command(
    data: Annotated[Path, typer.Option("--data", help="CSV of inspected declarations with outcomes.")],
    fmt: Annotated[str, typer.Option("--format", help="Format of the file.")] = "kcs",
    holdout_months: Annotated[int, typer.Option(help="Last months held out to evaluate the new model.")] = 2,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
    activate: Annotated[bool, typer.Option(help="Make the new version active.")] = True,
    registry: RegistryOption = None,
) -> None:
    """Train a model on DATA, evaluate it on a time-ordered holdout, register it and make it active."""
    from clearway.risk.evaluation import evaluate, figures_in_words, time_split
    from clearway.risk.kcs import read_kcs
    from clearway.risk.model import TrainParams, train
    from clearway.risk.registry import ModelRegistry

    _check_format(fmt)
    if holdout_months < 1:
        _fail("--holdout-months must be at least 1")
    with _errors(), _progress() as progress:
        progress(f"reading {data}")
        source = read_kcs(data)
        if source.fraud is None:
            _fail(f"--data: {data} has no Fraud column: a model needs inspection outcomes")
        params = TrainParams(seed=seed)
        train_mask, test_mask = time_split(source.frame["date"], months=holdout_months)
        result = evaluate(
            source.frame[train_mask],
            source.fraud[train_mask],
            source.critical[train_mask],
            source.frame[test_mask],
            test_fraud=source.fraud[test_mask],
            test_critical=source.critical[test_mask],
            params=params,
            progress=lambda m: progress(f"holdout evaluation: {m}"),
        )
        started = time.perf_counter()
        model = train(source.frame, source.fraud, source.critical, params=params, progress=progress)
        model.metadata["evaluation"] = {
            **result.figures,
            "holdout_from": str(source.frame["date"][test_mask].min().date()),
            "holdout_rows": int(test_mask.sum()),
        }
        model.metadata["train_seconds"] = round(time.perf_counter() - started, 2)
        model.metadata["source"] = {"path": str(data), "format": fmt}
        progress("registering")
        reg = ModelRegistry(registry)
        version = reg.register(model, activate=activate)
    meta = model.metadata
    typer.echo(
        f"Trained risk model {version} on {meta['rows']} declarations "
        f"({meta['date_from']} to {meta['date_to']}, fraud rate {meta['fraud_rate']:.1%})."
    )
    typer.echo(
        f"Evaluated on the last {holdout_months} month(s) ({int(test_mask.sum())} declarations), "
        "training on the earlier ones:"
    )
    for line in figures_in_words(result.figures):
        typer.echo(f"  {line}")
    typer.echo(f"Version {version} {'is now active' if activate else 'is registered (not active)'} in {reg.root}.")


@app.command("evaluate")
def evaluate_command(
    train_path: Annotated[Path, typer.Option("--train", help="Training CSV (with labels).")],
    test_path: Annotated[Path, typer.Option("--test", help="Test CSV; its labels are read only for the figures.")],
    fmt: Annotated[str, typer.Option("--format", help="Format of both files.")] = "kcs",
    scores_out: Annotated[Path | None, typer.Option("--scores-out", help="Write `Declaration ID,score` here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 7,
) -> None:
    """Train on TRAIN only, score every TEST row blind, then compute the targeting figures from TEST's labels."""
    from clearway.risk.evaluation import evaluate, figures_in_words
    from clearway.risk.kcs import read_kcs
    from clearway.risk.model import TrainParams

    _check_format(fmt)
    with _errors(), _progress(enabled=not as_json) as progress:
        progress(f"reading {train_path}")
        train_data = read_kcs(train_path)
        if train_data.fraud is None:
            _fail(f"--train: {train_path} has no Fraud column")
        progress(f"reading {test_path}")
        test_features = read_kcs(test_path, labels=False)  # scoring never sees the labels
        result = evaluate(
            train_data.frame,
            train_data.fraud,
            train_data.critical,
            test_features.frame,
            params=TrainParams(seed=seed),
            progress=progress,
        )
        figures = result.figures
        test_labels = read_kcs(test_path, labels=True)
        if test_labels.fraud is not None:
            from clearway.risk.evaluation import targeting_figures

            figures = {
                **targeting_figures(result.scores, test_labels.fraud, test_labels.critical, test_labels.item_price),
                **{k: figures[k] for k in ("train_seconds", "score_rows_per_second", "test_rows")},
            }
        if scores_out is not None:
            scores_out.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(
                {"Declaration ID": test_features.frame["declaration_id"], "score": np.round(result.scores, 8)}
            ).to_csv(scores_out, index=False)
    if as_json:
        typer.echo(json.dumps(figures))
        return
    typer.echo(
        f"Trained on {len(train_data.frame)} declarations in {figures['train_seconds']} s; "
        f"scored {len(test_features.frame)} at {figures['score_rows_per_second']} per second."
    )
    for line in figures_in_words(figures) or ["The test file has no labels: no figures."]:
        typer.echo(f"  {line}")
    if scores_out is not None:
        typer.echo(f"Scores written to {scores_out}.")


@app.command("models")
def models_command(registry: RegistryOption = None) -> None:
    """List the registered model versions (the active one marked with *)."""
    from clearway.risk.registry import ModelRegistry

    reg = ModelRegistry(registry)
    versions = reg.versions()
    if not versions:
        typer.echo(f"No risk model registered in {reg.root}: the shipped demo model is used.")
        return
    for v in versions:
        meta = v.metadata
        ev = meta.get("evaluation", {})
        p10 = ev.get("precision_at", {}).get("10")
        auc = ev.get("auc")
        typer.echo(
            f"{'*' if v.active else ' '} {v.version}  created {meta.get('created_at')}  rows {meta.get('rows')}  "
            f"data {str(meta.get('training_fingerprint', ''))[:12]}  "
            f"precision@10% {p10 if p10 is not None else 'n/a'}  AUC {auc if auc is not None else 'n/a'}"
        )
    if reg.active_version() is None:
        typer.echo("No version is active: the shipped demo model is used.")


@app.command("activate")
def activate_command(
    version: Annotated[str, typer.Argument(help="Version to activate, e.g. v0002.")], registry: RegistryOption = None
) -> None:
    """Make VERSION the active risk model."""
    from clearway.risk.registry import ModelRegistry

    with _errors():
        ModelRegistry(registry).activate(version)
    typer.echo(f"Risk model {version} is now active.")


@app.command("rollback")
def rollback_command(registry: RegistryOption = None) -> None:
    """Go back to the previously active risk model."""
    from clearway.risk.registry import ModelRegistry

    with _errors():
        previous = ModelRegistry(registry).rollback()
    typer.echo(
        f"Rolled back: risk model {previous} is active again."
        if previous
        else "Rolled back: no version is active, the shipped demo model is used."
    )


@app.command("score")
def score_command(
    declaration: Annotated[Path, typer.Argument(help="JSON file of one Clearway declaration.")],
    registry: RegistryOption = None,
) -> None:
    """Score one declaration with the active model and explain the result."""
    from clearway.risk.features import records_from_declaration
    from clearway.risk.registry import ModelRegistry

    with _errors():
        try:
            payload = json.loads(declaration.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            _fail(f"{declaration}: not valid JSON ({exc.msg} at line {exc.lineno})")
        model = ModelRegistry(registry).load_active()
        score = model.score_declaration(records_from_declaration(payload))
    typer.echo(
        f"Fraud probability {score.probability:.1%} (critical {score.critical_probability:.1%}), "
        f"value at risk {score.value_at_risk}."
    )
    for factor in score.factors:
        typer.echo(f"  - {factor}")
