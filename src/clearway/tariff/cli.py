"""`clearway tariff ...` and `clearway rates ...` commands."""

import typer

app = typer.Typer(help="National tariff: load, show.", no_args_is_help=True)
rates_app = typer.Typer(help="Exchange rates: load, show.", no_args_is_help=True)
