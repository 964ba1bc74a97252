"""`clearway risk ...` commands."""

import typer

app = typer.Typer(help="Risk management: selectivity profiles, models, evaluation.", no_args_is_help=True)
