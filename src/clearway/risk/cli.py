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


# ---------------------------------------------------------------------------------------------------------------------
# Selectivity profiles, named lists, retraining on inspection results, the targeting report (risk/service.py).
# Written by the risk-integration engineer; the commands above belong to the model engineer.

profiles_app = typer.Typer(help="Selectivity profiles: list, create, test on past declarations, activate, retire.")
lists_app = typer.Typer(help="Named lists used by selectivity profiles (watched importers, HS codes, AEO holders).")
app.add_typer(profiles_app, name="profiles")
app.add_typer(lists_app, name="lists")


@contextmanager
def _session(*, write: bool = True):
    from clearway.db import configured_database

    with configured_database() as db, _errors(), db.session() if write else db.read_session() as session:
        yield session


def _who() -> str:
    import getpass

    return f"cli:{getpass.getuser()}"


def _read_json(path: Path, argument: str):  # type: ignore[no-untyped-def]
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        _fail(f"{argument}: cannot read {path} ({exc.strerror or exc})")
    except json.JSONDecodeError as exc:
        _fail(f"{argument}: {path} is not valid JSON ({exc.msg} at line {exc.lineno})")


def _parse_day(value: str | None, option: str):  # type: ignore[no-untyped-def]
    from datetime import date

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: {value!r} is not a date (YYYY-MM-DD)")


@profiles_app.command("list")
def profiles_list(status: Annotated[str | None, typer.Option(help="draft, active or retired")] = None) -> None:
    """List the profiles (newest version of each) with their live hit statistics."""
    from clearway.risk import service

    if status not in (None, "draft", "active", "retired"):
        _fail(f"--status: unknown status {status!r}; expected draft, active or retired")
    with _session(write=False) as session:
        profiles = service.list_profiles(session=session, status=status)
        stats = service.hit_statistics(session=session)
    if not profiles:
        typer.echo("No selectivity profile" + (f" is {status}." if status else " yet."))
        return
    for p in profiles:
        s = stats.get((p.profile_id, p.version))
        rate = f"{s.hit_rate:.0%}" if s and s.hit_rate is not None else "n/a"
        typer.echo(
            f"{p.profile_id}  v{p.version}  {p.status:<7} {p.channel:<6} prio {p.priority:>3}"
            f"{'  MANDATORY' if p.mandatory else ''}  {p.name}  — hits {s.hits if s else 0}, "
            f"inspected {s.inspected if s else 0}, with findings {s.with_findings if s else 0} (hit rate {rate})"
        )


@profiles_app.command("create")
def profiles_create(
    file: Annotated[Path, typer.Argument(help="JSON file with the profile (docs/selectivity.md).")],
) -> None:
    """Validate and store a new profile as a draft (version 1)."""
    from clearway.risk import service

    data = _read_json(file, "FILE")
    with _session() as session:
        profile = service.create_profile(session=session, data=data, by=_who())
        session.commit()
    typer.echo(f"Created selectivity profile {profile.profile_id} '{profile.name}' (version 1, draft).")
    typer.echo(f"Test it with `clearway risk profiles test {profile.profile_id} --since YYYY-MM-DD`, then activate it.")


@profiles_app.command("test")
def profiles_test(
    profile_id: Annotated[str, typer.Argument(help="Profile id, e.g. rp-1a2b3c4d.")],
    since: Annotated[str, typer.Option("--since", help="First day (YYYY-MM-DD) of accepted declarations.")],
    until: Annotated[str | None, typer.Option("--until", help="Last day included (default today).")] = None,
    version: Annotated[int | None, typer.Option(help="Version to test (default the newest).")] = None,
) -> None:
    """How many past declarations the profile would have hit, and how many of those were found fraudulent."""
    from clearway.risk import service

    start, end = _parse_day(since, "--since"), _parse_day(until, "--until")
    with _session(write=False) as session:
        result = service.backtest_profile(
            session=session, profile_id=profile_id, since=start, until=end, version=version
        )
    pct = lambda v: "n/a" if v is None else f"{v:.0%}"  # noqa: E731
    typer.echo(
        f"Profile {result.profile_id} version {result.version} would have hit {result.hits} of "
        f"{result.declarations} declarations accepted since {start} ({result.share:.1%})."
    )
    typer.echo(
        f"Of those hits {result.hits_with_known_outcome} were inspected and {result.hits_with_fraud} had findings "
        f"(precision {pct(result.precision)}; recall {pct(result.recall)} of {result.known_frauds} known frauds)."
    )
    if result.sample_hits:
        typer.echo("Sample of hits: " + ", ".join(result.sample_hits))


@profiles_app.command("activate")
def profiles_activate(
    profile_id: Annotated[str, typer.Argument(help="Profile id.")],
    version: Annotated[int | None, typer.Option(help="Version (default the newest draft).")] = None,
) -> None:
    """Activate a profile version; the previously active version is retired."""
    from clearway.risk import service

    with _session() as session:
        profile = service.activate_profile(session=session, profile_id=profile_id, by=_who(), version=version)
        session.commit()
    typer.echo(f"Selectivity profile {profile.profile_id} version {profile.version} '{profile.name}' is now active.")


@profiles_app.command("retire")
def profiles_retire(
    profile_id: Annotated[str, typer.Argument(help="Profile id.")],
    version: Annotated[int | None, typer.Option(help="Version (default every version not yet retired).")] = None,
) -> None:
    """Retire a profile (it no longer selects declarations; its history and statistics stay)."""
    from clearway.risk import service

    with _session() as session:
        versions = service.retire_profile(session=session, profile_id=profile_id, by=_who(), version=version)
        session.commit()
    typer.echo(f"Selectivity profile {profile_id}: retired version(s) {', '.join(map(str, versions))}.")


@lists_app.command("show")
def lists_show(name: Annotated[str | None, typer.Argument(help="List name; none: every list.")] = None) -> None:
    """Show a named list (or the names and sizes of all lists)."""
    from clearway.risk import service

    with _session(write=False) as session:
        if name is None:
            for item in service.all_lists(session=session):
                typer.echo(f"{item.name}  {len(item.entries)} entries  revision {item.revision}  by {item.updated_by}")
            return
        item = service.get_list(session=session, name=name)
    typer.echo(f"{item.name} (revision {item.revision}, {len(item.entries)} entries)")
    for entry in item.entries:
        typer.echo(f"  {entry}")


@lists_app.command("set")
def lists_set(
    name: Annotated[str, typer.Argument(help="List name, e.g. watched_importers.")],
    file: Annotated[Path, typer.Argument(help="Text file, one entry a line (or a JSON array).")],
) -> None:
    """Create or replace a named list from a file."""
    from clearway.risk import service

    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        _fail(f"FILE: cannot read {file} ({exc.strerror or exc})")
    entries = json.loads(text) if text.lstrip().startswith("[") else text.splitlines()
    with _session() as session:
        item = service.put_list(session=session, name=name, entries=entries, by=_who())
        session.commit()
    typer.echo(f"Named list {item.name} now has {len(item.entries)} entries (revision {item.revision}).")


@app.command("retrain")
def retrain_command(
    data: Annotated[
        Path | None, typer.Option("--data", help="Base training file (KCS CSV); default: the shipped KCS data.")
    ] = None,
    base: Annotated[bool, typer.Option(help="Use base training data; --no-base: only Clearway's inspections.")] = True,
    registry: RegistryOption = None,
) -> None:
    """Train a new model version on the base data plus Clearway's inspected declarations, register and activate it."""
    from clearway.config import get_settings
    from clearway.risk import service

    root = registry or service.registry_root(get_settings())
    with _session(write=False) as session, _progress() as progress:
        result = service.retrain(
            session=session,
            registry_dir=root,
            base_data=(data or service.SHIPPED_TRAINING_DATA) if base else None,
            progress=progress,
        )
    typer.echo(
        f"Trained risk model {result['version']} on {result['rows']} goods items: {result['base_rows']} from the base "
        f"data and {result['clearway_rows']} from Clearway's inspected declarations ({result['clearway_frauds']} "
        f"with fraud); fraud rate {result['fraud_rate']:.1%}."
    )
    typer.echo(
        f"Version {result['version']} is now active (registry {result['registry']}); "
        "`clearway risk rollback` goes back."
    )


@app.command("report")
def report_command(
    since: Annotated[str, typer.Option("--since", help="First day (YYYY-MM-DD).")],
    until: Annotated[str | None, typer.Option("--until", help="Last day included (default today).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Targeting report: channel shares, red/yellow precision, random-sample hit rate, weekly profile hit rates."""
    from clearway.risk import service

    start, end = _parse_day(since, "--since"), _parse_day(until, "--until")
    with _session(write=False) as session:
        figures = service.report(session=session, since=start, until=end)
    if as_json:
        typer.echo(json.dumps(figures))
        return
    pct = lambda v: "n/a" if v is None else f"{v:.1%}"  # noqa: E731
    typer.echo(f"{figures['declarations']} declarations assessed from {figures['since']} to {figures['until']}.")
    typer.echo(
        "Channels: " + ", ".join(f"{c} {v['declarations']} ({pct(v['share'])})" for c, v in figures["channels"].items())
    )
    for lane in ("red", "yellow"):
        f = figures[lane]
        typer.echo(
            f"{lane.capitalize()} precision {pct(f['precision'])} ({f['with_findings']} of {f['inspected']} inspected)"
        )
    r = figures["random"]
    typer.echo(
        f"Random-sample hit rate {pct(r['hit_rate'])} ({r['with_findings']} of {r['inspected']} inspected): "
        "the unbiased baseline"
    )
    for p in figures["profiles"]:
        typer.echo(
            f"  {p['week']}  {p['profile_id']} v{p['version']} {p['name'] or ''}: hits {p['hits']}, "
            f"inspected {p['inspected']}, with findings {p['with_findings']} (hit rate {pct(p['hit_rate'])})"
        )
    typer.echo(
        f"Model in use: {figures['model_version_active']}; versions in the period: {figures['model_versions_used']}"
    )
