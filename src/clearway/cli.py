"""The `clearway` command: serve, migrate, manage users, load demo data, run workers, and each domain's commands."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

from clearway.classification import cli as classification_cli
from clearway.config import get_settings
from clearway.db import configured_database
from clearway.errors import ClearwayError
from clearway.revenue import cli as revenue_cli
from clearway.risk import cli as risk_cli
from clearway.tariff import cli as tariff_cli

app = typer.Typer(help="Clearway: smart customs clearance.", no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="People and systems that use Clearway.", no_args_is_help=True)
demo_app = typer.Typer(help="Demo data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(demo_app, name="demo")
app.add_typer(tariff_cli.app, name="tariff")
app.add_typer(tariff_cli.rates_app, name="rates")
app.add_typer(risk_cli.app, name="risk")
app.add_typer(revenue_cli.app, name="revenue")
app.add_typer(classification_cli.app, name="classify")

console = Console()
err = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code=2)


def explain(exc: ClearwayError) -> typer.Exit:
    lines = [exc.detail] + [f"  {e['field']}: {e['reason']}" for e in exc.errors]
    return fail("\n".join(lines))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrates the database to the newest schema and loads the HS nomenclature if it is missing."""
    from clearway.nomenclature import service as nomenclature
    from clearway.schema import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    with configured_database() as db, db.session() as session:
        added = nomenclature.load_shipped(session=session)
        session.commit()
    console.print(f"Database at [bold]{_safe_url(settings.database_url)}[/] is up to date.")
    if added:
        console.print(f"Loaded the HS 2022 nomenclature: {added:,} codes.")


@users_app.command("create")
def users_create(
    username: Annotated[str, typer.Option(help="Login name")],
    password: Annotated[str, typer.Option(help="At least 8 characters", prompt=True, hide_input=True)],
    role: Annotated[
        str, typer.Option(help="declarant, customs_officer, risk_analyst, checkpoint_operator, administrator")
    ],
    eori: Annotated[list[str] | None, typer.Option(help="EORI the declarant acts for (repeatable)")] = None,
    full_name: Annotated[str | None, typer.Option(help="Name shown in the workbench")] = None,
) -> None:
    """Adds a user."""
    from clearway.auth import service

    with configured_database() as db, db.session() as session:
        try:
            user = service.create_user(
                session=session, username=username, password=password, role=role, eoris=eori or [], full_name=full_name
            )
        except ClearwayError as exc:
            raise explain(exc) from None
        session.commit()
        console.print(
            f"User [bold]{user.username}[/] created with role {user.role}"
            + (f", acting for {', '.join(sorted(user.eoris))}" if user.eoris else "")
            + "."
        )


@demo_app.command("load")
def demo_load(
    if_empty: Annotated[bool, typer.Option("--if-empty", help="Do nothing when users already exist")] = False,
) -> None:
    """Loads demo users (one per role) and demo declarations, and prints the logins."""
    from clearway.demo import has_users, load_demo

    with configured_database() as db:
        if if_empty and has_users(db):
            console.print("Demo data already present: nothing loaded.")
            return
        # The demo declarations' risk assessment asks the HS classification assistant. On a new installation its
        # model is built here, with its progress shown, rather than silently inside the assessment.
        classification_cli.prepare()
        console.print(load_demo(db, db.settings))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port", envvar="PORT")] = 8000,
    workers: Annotated[int, typer.Option(help="HTTP worker processes")] = 1,
) -> None:
    """Serves the API and the workbench."""
    import uvicorn

    settings = get_settings()
    console.print(
        f"Clearway on [bold]http://{host}:{port}/[/] (API docs at http://{host}:{port}/docs), "
        f"database {_safe_url(settings.database_url)}, jobs {settings.jobs_mode}."
    )
    if settings.demo or settings.environment == "development":
        from clearway.demo import DEMO_USERS

        console.print("Demo logins: " + ", ".join(f"{u.username} / {u.password} ({u.role})" for u in DEMO_USERS))
    uvicorn.run(
        "clearway.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
    )


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Run what is due, then stop")] = False,
    poll: Annotated[float, typer.Option(help="Seconds between polls")] = 1.0,
) -> None:
    """Runs background jobs (assessment, release) in this process; start several to scale out."""
    from clearway.workers.jobs import JobRunner
    from clearway.workers.registry import load_handlers

    load_handlers()
    with configured_database() as db:
        runner = JobRunner(db, max_attempts=db.settings.job_max_attempts)
        console.print("Worker started; Ctrl-C stops it." if not once else "Running due jobs once.")
        try:
            while True:
                ran = runner.drain()
                if ran:
                    console.print(f"Ran {ran} job(s).")
                if once:
                    break
                time.sleep(poll)
        except KeyboardInterrupt:
            console.print("Worker stopped.")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    app()
