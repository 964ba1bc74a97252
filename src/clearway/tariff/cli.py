"""`clearway tariff ...` and `clearway rates ...` commands."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from clearway.db import configured_database
from clearway.errors import ClearwayError

app = typer.Typer(help="National tariff: load, show.", no_args_is_help=True)
rates_app = typer.Typer(help="Exchange rates: load, show.", no_args_is_help=True)

console = Console()
err = Console(stderr=True)
HTS_DEFAULT_VALID_FROM = date(2026, 1, 1)  # the CSV carries no effective date; docs/tariff.md explains


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=code)


def _explain(exc: ClearwayError) -> typer.Exit:
    lines = [exc.detail] + [f"  {e['field']}: {e['reason']}" for e in exc.errors[:20]]
    if len(exc.errors) > 20:
        lines.append(f"  ... and {len(exc.errors) - 20} more")
    return _fail("\n".join(lines))


def _date_option(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fail(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


@app.command("load")
def load(
    path: Annotated[Path | None, typer.Argument(help="Tariff file; none (or --demo) loads the shipped US HTS")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="hts | clearway (default: from the file)")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the shipped US HTS 2026 Rev. 4")] = False,
    valid_from: Annotated[str | None, typer.Option(help="Date the measures apply from (YYYY-MM-DD)")] = None,
    name: Annotated[str | None, typer.Option(help="Name of this tariff version")] = None,
    partial: Annotated[
        bool, typer.Option("--partial", help="Add to the tariff in force instead of replacing it from --valid-from")
    ] = False,
    show_unparsed: Annotated[int, typer.Option(help="How many unparsed rate texts to list")] = 100,
) -> None:
    """Loads a tariff as a new version and reports rows, lines and rate texts parsed / not parsed."""
    from clearway.tariff import service
    from clearway.tariff.sources import read_clearway, read_hts

    if path is None or demo:
        path, fmt = service.shipped_hts_path(), "hts"
        name = name or "US HTS 2026 Revision 4 (shipped demo)"
    if not path.is_file():
        raise _fail(f"PATH {str(path)!r}: no such file")
    if fmt is None:
        with path.open(encoding="utf-8-sig") as handle:
            header = handle.readline()
        fmt = "hts" if header.startswith("hts_number") else "clearway"
    if fmt not in ("hts", "clearway"):
        raise _fail(f"--format {fmt!r}: expected hts or clearway")
    start = _date_option(valid_from, "--valid-from") or (HTS_DEFAULT_VALID_FROM if fmt == "hts" else date.today())
    try:
        with _progress() as progress:
            if fmt == "hts":
                total_rows = sum(1 for _ in path.open(encoding="utf-8-sig")) - 1
                task = progress.add_task("Reading rows", total=max(total_rows, 1))
                with path.open(encoding="utf-8-sig", newline="") as handle:
                    data = read_hts(handle, valid_from=start, progress=lambda n: progress.update(task, completed=n))
            else:
                data = read_clearway(path, valid_from=start)
            with configured_database() as db, db.session() as session:
                task = progress.add_task("Storing measures", total=max(len(data.measures), 1))
                version = service.load_tariff(
                    db_session=session,
                    data=data,
                    name=name or path.name,
                    source_format=fmt,
                    source=str(path),
                    valid_from=start,
                    replace=not partial,
                    progress=lambda n: progress.update(task, completed=n),
                )
                session.commit()
    except ClearwayError as exc:
        raise _explain(exc) from None
    report = data.report
    console.print(
        f"Loaded tariff version [bold]{version.id}[/] ({version.name}), in force from {start.isoformat()}"
        + (" (added to the tariff in force)." if partial else "; earlier versions end the day before.")
    )
    console.print(f"  rows read: {report.rows_read:,}; tariff lines: {report.lines:,}; measures: {report.measures:,}")
    console.print(
        f"  rate texts: {report.texts_total:,}; parsed: {report.texts_parsed:,} ({report.parsed_share:.2%}); "
        f"not parsed: {sum(report.unparsed.values()):,} ({len(report.unparsed):,} distinct)"
    )
    console.print(
        f"  of the parsed: {report.texts_references:,} point to another provision (see heading / duty of the "
        f"applicable subheading + ...), {report.texts_not_computable:,} charge a part of the goods "
        f"(on the case, on copper content, ...): an officer assesses those."
    )
    if report.unparsed:
        table = Table(title="Rate texts not parsed (count, text)", show_lines=False)
        table.add_column("count", justify="right")
        table.add_column("text")
        for text, count in report.unparsed.most_common(show_unparsed):
            table.add_row(str(count), text)
        console.print(table)
        if len(report.unparsed) > show_unparsed:
            console.print(f"  ... {len(report.unparsed) - show_unparsed} more distinct texts (--show-unparsed N)")


@app.command("show")
def show(
    code: Annotated[str, typer.Argument(help="Commodity code, e.g. 0201.10.50.10")],
    on: Annotated[str | None, typer.Option(help="Date (YYYY-MM-DD); default today")] = None,
) -> None:
    """Shows the measures in force for a commodity code on a date."""
    from clearway.tariff import service

    when = _date_option(on, "--on") or date.today()
    try:
        with configured_database() as db, db.session() as session:
            shown = service.show_line(db_session=session, code=code, on=when)
    except ClearwayError as exc:
        raise _explain(exc) from None
    console.print(f"[bold]{shown['code']}[/] {shown['description'] or ''}  (on {shown['on']})")
    if shown["units"]:
        console.print(f"  units of quantity: {', '.join(shown['units'])}")
    table = Table()
    for column in ("id", "type", "from line", "rate", "read as", "programme", "countries", "valid"):
        table.add_column(column)
    for m in shown["measures"]:
        countries = m["countries"]
        table.add_row(
            str(m["measure_id"]),
            m["measure_type"],
            m["code"],
            m["duty_text"],
            (m["normalised"] or "[red]not parsed[/]") + ("" if m["computable"] else " [yellow](officer)[/]"),
            m["programme"] or "",
            ", ".join(countries[:8]) + (f" +{len(countries) - 8}" if len(countries) > 8 else ""),
            f"{m['valid_from']} – {m['valid_to'] or ''}",
        )
    console.print(table)


@app.command("versions")
def list_versions() -> None:
    """Lists the loaded tariff versions (the newest covering a date wins)."""
    from clearway.tariff import service

    with configured_database() as db, db.session() as session:
        rows = service.versions(db_session=session)
    if not rows:
        console.print("No tariff loaded yet: run `clearway tariff load --demo`.")
        return
    table = Table()
    for column in ("id", "name", "format", "from", "loaded at", "lines", "measures", "texts parsed"):
        table.add_column(column)
    for v in rows:
        share = f"{v.texts_parsed}/{v.texts_total}"
        table.add_row(
            str(v.id),
            v.name,
            v.source_format,
            v.valid_from.isoformat(),
            v.loaded_at.strftime("%Y-%m-%d %H:%M UTC"),
            f"{v.lines_loaded:,}",
            f"{v.measures_loaded:,}",
            share,
        )
    console.print(table)


@rates_app.command("load")
def rates_load(
    path: Annotated[Path | None, typer.Argument(help="CSV with currency,valid_from,rate_per_unit[,source]")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the shipped demo rates")] = False,
) -> None:
    """Loads exchange rates (national currency per unit of each currency, in force from valid_from)."""
    from clearway.tariff import service
    from clearway.tariff.exchange import read_rates_csv

    if path is None or demo:
        path = service.shipped_rates_path()
    if not path.is_file():
        raise _fail(f"PATH {str(path)!r}: no such file")
    try:
        records = read_rates_csv(path.read_text(encoding="utf-8"), source=path.name)
        with configured_database() as db, db.session() as session:
            result = service.load_rates(db_session=session, records=records)
            session.commit()
    except ClearwayError as exc:
        raise _explain(exc) from None
    currencies = sorted({r.currency for r in records})
    console.print(
        f"Read {len(records)} exchange rates for {len(currencies)} currencies ({', '.join(currencies)}): "
        f"{result.inserted} added, {result.updated} updated, {result.unchanged} unchanged."
    )


@rates_app.command("show")
def rates_show(
    currency: Annotated[str | None, typer.Argument(help="Only this currency")] = None,
    on: Annotated[str | None, typer.Option(help="Show the rate in force on this date (YYYY-MM-DD)")] = None,
) -> None:
    """Lists loaded exchange rates, or the rate in force on a date."""
    from clearway.tariff import service

    when = _date_option(on, "--on")
    try:
        with configured_database() as db, db.session() as session:
            national = db.settings.national_currency
            if when is not None:
                table_ = service.rate_table(db_session=session, national_currency=national)
                wanted = [currency.upper()] if currency else table_.currencies()
                for code in wanted:
                    rate = table_.rate_on(code, when).normalize()
                    console.print(f"{code} 1 = {rate} {national} on {when.isoformat()}")
                return
            rows = service.list_rates(db_session=session, currency=currency)
    except ClearwayError as exc:
        raise _explain(exc) from None
    if not rows:
        console.print("No exchange rates loaded: run `clearway rates load --demo` or `clearway rates load PATH.csv`.")
        return
    table = Table()
    for column in ("currency", "valid from", f"{national} per unit", "source"):
        table.add_column(column)
    for r in rows:
        table.add_row(r.currency, r.valid_from.isoformat(), str(r.rate.normalize()), r.source)
    console.print(table)
