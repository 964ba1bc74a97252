"""Engine, sessions and the unit of work. Nothing is built at import time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


READ_ONLY = "clearway_read_only"


class Base(DeclarativeBase):
    """Declarative base shared by every domain's tables."""

    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Clearway stores UTC-aware timestamps only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """Returns the current time, timezone-aware UTC."""
    return datetime.now(UTC)


def make_engine(database_url: str) -> Engine:
    """Builds an engine; SQLite gets WAL, foreign keys and a busy timeout for concurrent writers."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20, max_overflow=20
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, open transactions: BEGIN IMMEDIATE avoids upgrade deadlocks.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        # SQLite has one writer at a time. Threads of this process queue on a lock instead of polling the file lock
        # (the busy handler sleeps up to 100 ms between tries, which ruins tail latency); other processes still
        # meet the busy timeout. The lock is taken at BEGIN and released once COMMIT or ROLLBACK has run.
        writer = threading.Lock()
        holders: set[int] = set()
        dialect = engine.dialect
        commit, rollback = dialect.do_commit, dialect.do_rollback

        def release(connection: Any) -> None:
            key = id(getattr(connection, "dbapi_connection", connection))  # a pool proxy or the raw connection
            if key in holders:
                holders.discard(key)
                writer.release()

        def do_commit(dbapi_connection: Any) -> None:
            try:
                commit(dbapi_connection)
            finally:
                release(dbapi_connection)

        def do_rollback(dbapi_connection: Any) -> None:
            try:
                rollback(dbapi_connection)
            finally:
                release(dbapi_connection)

        dialect.do_commit = do_commit  # type: ignore[method-assign]
        dialect.do_rollback = do_rollback  # type: ignore[method-assign]

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN")  # a snapshot for reading: no writer lock
                return
            if not writer.acquire(timeout=30):
                raise TimeoutError("the SQLite database stayed locked for 30 s")
            holders.add(id(conn.connection.dbapi_connection))
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
            except BaseException:
                release(conn.connection.dbapi_connection)
                raise

        return engine
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True)


class Database:
    """One engine and its session factory; `after_commit` hooks let the job dispatcher wake up."""

    def __init__(self, database_url: str, *, settings: Any = None) -> None:
        self.url = database_url
        self.engine = make_engine(database_url)
        # Every session carries the settings, so job handlers read configuration without globals.
        self._info: dict[str, Any] = {"settings": settings}
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False, info=self._info)
        # Reads (lookups, rendering, GET requests) never take SQLite's writer lock.
        self.read_sessionmaker = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False, info=self._info
        )
        self.after_commit_hooks: list[Callable[[Session], None]] = []
        event.listen(self.sessionmaker, "after_commit", self._after_commit)

    @property
    def settings(self) -> Any:
        return self._info["settings"]

    @settings.setter
    def settings(self, value: Any) -> None:
        self._info["settings"] = value

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def _after_commit(self, session: Session) -> None:
        for hook in self.after_commit_hooks:
            hook(session)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Yields a session; the caller commits once (a use case), anything else is rolled back."""
        session = self.sessionmaker()
        try:
            yield session
        finally:
            session.close()  # rolls back what was not committed; objects stay readable, detached

    @contextmanager
    def read_session(self) -> Iterator[Session]:
        """Yields a session for reading only: on SQLite it does not queue behind writers."""
        session = self.read_sessionmaker()
        try:
            yield session
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def configured_database() -> Iterator[Database]:
    """The database the settings name, for one command: its connections close when the command ends, error or not."""
    from clearway.config import get_settings

    settings = get_settings()
    db = Database(settings.database_url, settings=settings)
    try:
        yield db
    finally:
        db.dispose()
