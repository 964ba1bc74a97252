"""Shared fixtures: every integration test runs on SQLite and, when reachable, on PostgreSQL.

A database per backend is migrated once per session; each test then gets a fresh copy (SQLite: a copy of the
migrated file; PostgreSQL: the same database with every non-reference table truncated).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import make_url

from clearway.app import create_app
from clearway.auth import service as auth
from clearway.auth.models import User
from clearway.auth.security import create_access_token
from clearway.classification import registry as classification_registry
from clearway.classification import training as classification_training
from clearway.config import Settings, get_settings
from clearway.db import Base, Database
from clearway.nomenclature import service as nomenclature
from clearway.schema import import_all_models, upgrade
from tests.classification.small import small_model

POSTGRES_URL = os.environ.get("CLEARWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("CLEARWAY_REQUIRE_POSTGRES") == "1"
SECRET = "test-secret-" + "x" * 40
# Reference data loaded once per session and kept between tests.
KEEP_TABLES = {"alembic_version", "hs_nomenclature"}


def _postgres_reachable() -> str | None:
    url = make_url(POSTGRES_URL)
    try:
        with psycopg.connect(
            host=url.host, port=url.port or 5432, user=url.username, dbname=url.database, connect_timeout=3
        ):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


_PG_PROBLEM = _postgres_reachable()
BACKENDS = ["sqlite"] + (["postgresql"] if _PG_PROBLEM is None else [])


def pytest_configure(config: pytest.Config) -> None:
    if _PG_PROBLEM is not None and REQUIRE_POSTGRES:
        raise pytest.UsageError(f"PostgreSQL is required (CLEARWAY_REQUIRE_POSTGRES=1) but unreachable: {_PG_PROBLEM}")


def pytest_report_header(config: pytest.Config) -> str:
    if _PG_PROBLEM is None:
        return f"database backends: sqlite, postgresql ({make_url(POSTGRES_URL).render_as_string(hide_password=True)})"
    return f"!!! PostgreSQL NOT reachable ({_PG_PROBLEM}): integration tests run on SQLite ONLY !!!"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _PG_PROBLEM is not None:
        terminalreporter.write_line(
            f"WARNING: PostgreSQL was not reachable ({_PG_PROBLEM}); integration tests ran on SQLite only.",
            red=True,
            bold=True,
        )


def _prepare(url: str) -> None:
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        nomenclature.load_shipped(session=session)
        session.commit()
    db.dispose()


@pytest.fixture(autouse=True)
def _small_shipped_classifier(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The HS classifier "built from the shipped files" is the small model of tests/classification/small.py, in a
    registry of the test session's own: the real one takes minutes to build (`classify prepare` and
    bench/classification.py build it), and the developer's own var/ keeps its cached model."""
    monkeypatch.setenv(classification_registry.ENV_VAR, str(tmp_path_factory.getbasetemp() / "classification-models"))
    monkeypatch.setattr(classification_training, "build_shipped_model", lambda progress=None: small_model())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _prepare(f"sqlite:///{path}")
    return path


@contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """The URL of an empty database of its own on the PostgreSQL server, so parallel runs never collide; dropped
    afterwards."""
    base = make_url(POSTGRES_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = dict(host=base.host, port=base.port or 5432, user=base.username, dbname=base.database, autocommit=True)
    with psycopg.connect(**admin) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Database]:
    """A migrated database of its own on the PostgreSQL server, for the whole session."""
    with scratch_postgres_database("clearway_test") as url:
        _prepare(url)
        db = Database(url)
        yield db
        db.dispose()


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database with the HS nomenclature and nothing else."""
    if request.param == "sqlite":
        path = tmp_path / "clearway.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        db = Database(f"sqlite:///{path}")
        yield db
        db.dispose()
        return
    db = request.getfixturevalue("postgres_database")
    import_all_models()
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name not in KEEP_TABLES)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.after_commit_hooks.clear()
    yield db
    db.after_commit_hooks.clear()


@pytest.fixture
def settings(database: Database, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database.url,
        var_dir=tmp_path / "var",
        secret_key=SECRET,
        environment="test",
        jobs_mode="inline",
    )


@pytest.fixture
def cli_env(database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """The `clearway` commands of this test read `database` and `settings` (the process-wide settings reloaded)."""
    monkeypatch.setenv("CLEARWAY_DATABASE_URL", database.url)
    monkeypatch.setenv("CLEARWAY_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("CLEARWAY_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("CLEARWAY_ENVIRONMENT", "test")
    get_settings.cache_clear()
    yield database
    get_settings.cache_clear()


@pytest.fixture
def app(settings: Settings, database: Database) -> Any:
    return create_app(settings, db=database)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


class People:
    """Creates users of each role and the headers to act as them."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._count = 0

    def create(self, role: str, *, eoris: list[str] | None = None, username: str | None = None) -> User:
        self._count += 1
        with self.database.session() as session:
            user = auth.create_user(
                session=session,
                username=username or f"{role.replace('_', '-')}-{self._count}",
                password="correct-horse-battery",
                role=role,
                eoris=eoris or ([f"GB{100000000000 + self._count:012d}"] if role == "declarant" else []),
            )
            session.commit()
            session.refresh(user)
            _ = user.eoris
            return user

    @staticmethod
    def headers(user: User) -> dict[str, str]:
        token = create_access_token(subject=str(user.id), role=user.role, secret=SECRET, minutes=30)
        return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def people(database: Database) -> People:
    return People(database)
