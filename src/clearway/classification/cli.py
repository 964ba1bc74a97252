"""`clearway classify ...` commands: suggest codes, train a new model version, evaluate on a labelled file."""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from typer.core import TyperGroup

from clearway.errors import ClearwayError

if TYPE_CHECKING:
    from clearway.declarations.corrections import RecordedCorrection


class SuggestByDefault(TyperGroup):
    """A group whose first token, when it is not a subcommand, is a goods description for `suggest`."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["suggest", *args]
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=SuggestByDefault,
    help='HS classification assistant: `clearway classify "mens cotton tshirt"` suggests HS 2022 codes.',
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)


def _count(n: int, noun: str) -> str:
    """'1 correction', '2 corrections'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _fail(exc: ClearwayError) -> typer.Exit:
    reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in exc.errors)
    err_console.print(f"[red]error:[/red] {exc.detail}" + (f" ({reasons})" if reasons else ""))
    return typer.Exit(code=2)


@app.command()
def suggest(
    description: Annotated[list[str], typer.Argument(help="The goods description (quoted, or several words).")],
    limit: Annotated[int, typer.Option(min=1, max=10, help="How many codes to suggest.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Suggests HS 2022 subheadings for a goods description, best first, with confidence and reasons."""
    from clearway.classification import service

    text = " ".join(description)
    try:
        with err_console.status("loading the classification model"):
            service.get_model()
        result = service.suggest(description=text, limit=limit)
    except ClearwayError as exc:
        raise _fail(exc) from None
    if as_json:
        print(
            json.dumps(
                {
                    "description": result.description,
                    "model_version": result.model_version,
                    "suggestions": [
                        {
                            "hs_code": s.hs_code,
                            "confidence": s.confidence,
                            "chapter": {"code": s.chapter.code, "description": s.chapter.description},
                            "heading": {"code": s.heading.code, "description": s.heading.description},
                            "subheading": {"code": s.subheading.code, "description": s.subheading.description},
                            "why": list(s.why),
                        }
                        for s in result.suggestions
                    ],
                },
                ensure_ascii=False,
            )
        )
        return
    if not result.suggestions:
        console.print("No suggestion: the description has no word the model knows.")
        return
    table = Table(
        title=f"HS 2022 suggestions for '{result.description}' (model {result.model_version})", show_lines=True
    )
    table.add_column("#", justify="right")
    table.add_column("HS code")
    table.add_column("confidence", justify="right")
    table.add_column("chapter / heading / subheading")
    table.add_column("why")
    for rank, s in enumerate(result.suggestions, start=1):
        texts = (
            f"{s.chapter.code} {s.chapter.description}\n{s.heading.code} {s.heading.description}\n"
            f"{s.hs_code[:4]}.{s.hs_code[4:]} {s.subheading.description}"
        )
        table.add_row(str(rank), f"{s.hs_code[:4]}.{s.hs_code[4:]}", f"{s.confidence:.0%}", texts, "\n".join(s.why))
    console.print(table)


T = TypeVar("T")


def _recorded_corrections(**query: Any) -> list[RecordedCorrection]:
    """The HS codes officers recorded in control results, read from the configured database (`query`: the filter
    and page of `recorded_code_corrections`)."""
    from clearway.declarations.corrections import recorded_code_corrections

    return _reading_corrections(lambda session: recorded_code_corrections(session, **query))


def _reading_corrections(read: Callable[[Any], T]) -> T:
    """What `read` finds in a read session of the configured database; a database that is not reachable or not set
    up is named, with the ways on."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from clearway.db import configured_database

    with configured_database() as db:
        try:
            with db.read_session() as session:
                return read(session)
        except SQLAlchemyError as exc:
            where = make_url(db.url).render_as_string(hide_password=True)
            err_console.print(
                f"[red]error:[/red] cannot read officers' corrections from the database {where}: it is not reachable "
                f"or not set up (run `clearway db upgrade`), or pass --no-recorded to train without them "
                f"({type(exc.orig or exc).__name__})"
            )
            raise typer.Exit(code=2) from None


@app.command()
def train(
    data: Annotated[
        Path | None, typer.Option(help="Labelled CSV (description, code); default: the shipped file.")
    ] = None,
    corrections: Annotated[
        Path | None, typer.Option(help="Officers' corrections, a CSV with the same columns (they win over `data`).")
    ] = None,
    recorded: Annotated[
        bool,
        typer.Option(help="Also learn the HS codes officers recorded in control results (read from the database)."),
    ] = True,
    evaluate: Annotated[bool, typer.Option(help="Measure on a seeded 20% holdout first (saved in metadata).")] = True,
    activate: Annotated[bool, typer.Option(help="Make the new version the active one.")] = True,
) -> None:
    """Trains a new classification model version from the labelled file plus officers' corrections, and registers it.

    Corrections are the codes officers recorded after documentary checks and inspections (from the database) and
    those of a --corrections file; each replaces a labelled example with the same description."""
    from clearway.classification import service
    from clearway.classification.training import read_labelled_csv, shipped_examples

    try:
        examples = read_labelled_csv(data, field="--data") if data else shipped_examples()
        from_file = read_labelled_csv(corrections, field="--corrections") if corrections else []
    except ClearwayError as exc:
        raise _fail(exc) from None
    from_controls = [(r.description, r.correction.hs_code) for r in _recorded_corrections()] if recorded else []
    try:
        with err_console.status("training") as status:
            version = service.train(
                examples,
                corrections=[*from_controls, *from_file],  # the file's rows win over the database's
                evaluate=evaluate,
                activate=activate,
                progress=lambda message: status.update(message),
            )
    except ClearwayError as exc:
        raise _fail(exc) from None
    meta = version.metadata
    sources = []
    if recorded:
        sources.append(f"{len(from_controls)} recorded by officers in control results")
    if corrections:
        sources.append(f"{len(from_file)} from {corrections}")
    console.print(
        f"Trained classification model {version.version} on {meta['examples']} examples "
        f"({_count(meta['corrections'], 'correction')}"
        f"{': ' + ', '.join(sources) if sources else ''}), "
        f"data fingerprint {meta['data_fingerprint']}; "
        f"{'now active' if version.active else 'not activated'}. Saved in {version.path}."
    )
    if meta.get("evaluation"):
        figures = ", ".join(f"{k} {v:.1%}" for k, v in meta["evaluation"].items() if k.startswith("hs"))
        console.print(f"Holdout figures: {figures}.")


@app.command("corrections")
def corrections_command(
    out: Annotated[
        Path | None,
        typer.Option(help="Write them all to this CSV (description, code, ...), the columns `train` reads, instead."),
    ] = None,
    changed: Annotated[
        bool, typer.Option("--changed", help="Only the codes that differ from the declared one.")
    ] = False,
    limit: Annotated[
        int, typer.Option(min=0, help="Show the newest this many (0: all of them); --out writes them all.")
    ] = 50,
) -> None:
    """Lists the HS codes officers recorded in control results, newest first: the corrections `train` learns from."""
    from clearway.declarations.corrections import count_code_corrections, write_corrections_csv

    if out is not None:
        recorded = _recorded_corrections(changed_only=changed)
        try:
            with out.open("w", newline="", encoding="utf-8") as fh:
                write_corrections_csv(recorded, fh)
        except OSError as exc:
            err_console.print(f"[red]error:[/red] --out: cannot write {out} ({exc.strerror or exc})")
            raise typer.Exit(code=2) from None
        console.print(f"Wrote {_count(len(recorded), 'correction')} recorded by officers to {out}.")
        return
    counts = _reading_corrections(count_code_corrections)
    shown = counts.kept(changed_only=changed)
    if not shown:
        what = "changed a goods item's HS code" if changed else "recorded a corrected HS code"
        console.print(f"No officer has {what} in a control result yet.")
        return
    recorded = _recorded_corrections(changed_only=changed, newest_first=True, limit=limit or None)
    table = Table("Declaration", "Item", "Description", "Declared", "Corrected to", "Officer", "Recorded")
    for r in recorded:
        c = r.correction
        table.add_row(
            c.declaration_id,
            str(c.sequence),
            r.description,
            r.declared_code,
            c.hs_code,
            c.officer,
            c.recorded_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)
    if len(recorded) < shown:
        kept = "changed codes" if changed else "corrections"
        console.print(
            f"The newest {len(recorded):,} of {shown:,} {kept}: --limit 0 lists them all, --out F.csv writes them all."
        )
    console.print(
        f"{_count(counts.total, 'goods item')} with a code recorded by an officer, {counts.changed:,} of them "
        "different from the declared code; `clearway classify train` learns from them."
    )


@app.command()
def evaluate(
    train_file: Annotated[Path, typer.Option("--train", help="Labelled training CSV (description, code).")],
    test_file: Annotated[Path, typer.Option("--test", help="CSV of descriptions to classify (labels optional).")],
    predictions_out: Annotated[
        Path | None, typer.Option("--predictions-out", help="Write description,suggestions (5 HS-6 codes) here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object of figures.")] = False,
) -> None:
    """Trains on TRAIN only, suggests five codes for every TEST description, and measures them against TEST labels."""
    from clearway.classification.evaluation import evaluate_split
    from clearway.classification.training import read_descriptions_csv, read_labelled_csv

    try:
        train_rows = read_labelled_csv(train_file, field="--train")
        descriptions, codes = read_descriptions_csv(test_file, field="--test")
    except ClearwayError as exc:
        raise _fail(exc) from None
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=as_json,
    ) as progress:
        task = progress.add_task(f"training on {len(train_rows)} rows", total=None)
        started = {"done": False}

        def step(n: int) -> None:
            if not started["done"]:
                progress.update(task, description="suggesting codes", total=len(descriptions), completed=0)
                started["done"] = True
            progress.advance(task, n)

        def stage(message: str) -> None:
            progress.update(task, description=f"training on {len(train_rows)} rows: {message}")

        result = evaluate_split(
            train=train_rows, test_descriptions=descriptions, test_codes=codes, progress=step, stage=stage
        )
    if predictions_out:
        predictions_out.parent.mkdir(parents=True, exist_ok=True)
        with predictions_out.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["description", "suggestions"])
            for description, ranked in zip(descriptions, result.predictions, strict=True):
                writer.writerow([description, " ".join(ranked)])
    if as_json:
        print(json.dumps(result.figures))
        return
    for key, value in result.figures.items():
        shown = f"{value:.1%}" if key.startswith("hs") else str(value)
        console.print(f"{key}: {shown}")
    if predictions_out:
        console.print(f"Wrote {len(result.predictions)} rows of suggestions to {predictions_out}.")


@app.command()
def prepare() -> None:
    """Makes the HS classification assistant ready: loads the active model, or builds the one from the shipped files
    (once per installation: five to eleven minutes on two cores) so the first declaration does not wait for it."""
    from clearway.classification.registry import ClassifierRegistry

    started = time.perf_counter()
    with err_console.status("preparing the HS classification assistant") as status:

        def progress(message: str) -> None:
            # On a terminal the status line changes; in a log (make run's, CI's) each stage is a line of its own.
            text = f"building the shipped model: {message}"
            if err_console.is_terminal:
                status.update(text)
            else:
                err_console.print(f"[{time.perf_counter() - started:5.0f} s] {text}", highlight=False)

        model = ClassifierRegistry().load_active(progress=progress)
    console.print(
        f"HS classification assistant ready: model {model.metadata.get('version') or 'unversioned'}, "
        f"{len(model.classes):,} subheadings, {model.metadata.get('examples', '?')} examples "
        f"({time.perf_counter() - started:.0f} s)."
    )


@app.command()
def versions() -> None:
    """Lists the trained classification model versions and which one is active."""
    from clearway.classification.registry import ClassifierRegistry

    found = ClassifierRegistry().versions()
    if not found:
        console.print("No trained version: the model built from the shipped files is used.")
        return
    for v in found:
        figures = v.metadata.get("evaluation") or {}
        top1 = figures.get("hs6_top1")
        console.print(
            f"{v.version}{' (active)' if v.active else ''}  created {v.metadata.get('created_at')}  "
            f"examples {v.metadata.get('examples')}  hs6_top1 {top1 if top1 is not None else '-'}"
        )


@app.command()
def activate(version: Annotated[str, typer.Argument(help="A version such as v0002.")]) -> None:
    """Makes a trained version the active classification model."""
    from clearway.classification.registry import ClassifierRegistry

    try:
        ClassifierRegistry().activate(version)
    except ClearwayError as exc:
        raise _fail(exc) from None
    console.print(f"Classification model {version} is now active.")


@app.command()
def rollback() -> None:
    """Goes back to the previously active classification model version."""
    from clearway.classification.registry import ClassifierRegistry

    try:
        previous = ClassifierRegistry().rollback()
    except ClearwayError as exc:
        raise _fail(exc) from None
    console.print(f"Classification model {previous or 'shipped (built from the package files)'} is now active.")


if __name__ == "__main__":  # pragma: no cover
    app(sys.argv[1:])
