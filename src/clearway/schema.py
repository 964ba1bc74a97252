"""Every domain's tables, and migrating a database to the newest schema."""

from __future__ import annotations

import importlib
from importlib import resources

from alembic import command
from alembic.config import Config

DOMAIN_MODELS = (
    "clearway.auth.models",
    "clearway.nomenclature.models",
    "clearway.declarations.models",
    "clearway.notifications.models",
    "clearway.workers.models",
    "clearway.tariff.models",
    "clearway.risk.models",
    "clearway.revenue.models",
)


def import_all_models() -> None:
    """Imports each domain's models so Base.metadata knows every table."""
    for name in DOMAIN_MODELS:
        importlib.import_module(name)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("clearway") / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrates the database to `revision` (the newest by default)."""
    command.upgrade(alembic_config(database_url), revision)
