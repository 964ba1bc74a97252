"""`clearway classify ...` commands."""

import typer

app = typer.Typer(help="HS classification assistant.", no_args_is_help=True)
