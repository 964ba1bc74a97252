"""`clearway revenue ...`: payment reminders for declarations waiting for payment."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Revenue: assessments, payments, deferment accounts.", no_args_is_help=True)
console = Console()


@app.command("remind")
def remind(
    after_days: Annotated[
        float, typer.Option("--after-days", min=0, help="Remind when the last payment notice is older than this")
    ] = 1.0,
) -> None:
    """Sends CDS's 15 DMSCPR payment reminder for declarations still waiting for payment."""
    from clearway.db import configured_database
    from clearway.revenue import service

    with configured_database() as db, db.session() as session:
        sent = service.remind_unpaid(session=session, after=timedelta(days=after_days))
        session.commit()
    console.print(f"Sent {sent} payment reminder{'s' if sent != 1 else ''} (15 DMSCPR).")
