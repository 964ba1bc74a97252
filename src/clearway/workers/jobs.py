"""Background jobs through one interface, whatever runs them.

`enqueue` adds a job row to the caller's session, so the job commits or rolls back with the state change that needs
it: a crash can never lose one. A runner claims due jobs (a lease), runs each handler in its own transaction and marks
the job done in that same transaction, so a job's effect and its completion commit together; a job whose runner died
is claimed again when its lease expires. Runners: `inline` (right after commit, in the committing thread: tests),
`thread` (an embedded worker thread: `clearway serve`), `external` (`clearway worker` processes; Celery later).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from clearway.db import Database, utcnow
from clearway.workers.models import Job

log = logging.getLogger(__name__)

Handler = Callable[[Session, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}
ENQUEUED_FLAG = "clearway.jobs_enqueued"


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Registers the function that runs jobs of `kind`."""

    def register(func: Handler) -> Handler:
        HANDLERS[kind] = func
        return func

    return register


def enqueue(session: Session, kind: str, payload: dict[str, Any], *, delay: timedelta | None = None) -> Job:
    """Adds a job to the caller's transaction."""
    now = utcnow()
    job = Job(
        kind=kind, payload=payload, status="pending", attempts=0, run_after=now + (delay or timedelta()), created_at=now
    )
    session.add(job)
    session.info[ENQUEUED_FLAG] = True
    return job


class JobRunner:
    """Claims and runs due jobs against one database."""

    def __init__(self, db: Database, *, lease_seconds: int = 60, max_attempts: int = 8, batch: int = 50) -> None:
        self.db = db
        self.lease = timedelta(seconds=lease_seconds)
        self.max_attempts = max_attempts
        self.batch = batch

    def claim(self) -> list[int]:
        """Leases up to `batch` due jobs (pending, or running with an expired lease) and returns their ids."""
        now = utcnow()
        with self.db.session() as session:
            query = (
                select(Job.id)
                .where(
                    or_(
                        (Job.status == "pending") & (Job.run_after <= now),
                        (Job.status == "running") & (Job.locked_until < now),
                    )
                )
                .order_by(Job.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            )
            ids = list(session.scalars(query))
            if ids:
                session.execute(
                    update(Job)
                    .where(Job.id.in_(ids))
                    .values(status="running", locked_until=now + self.lease, attempts=Job.attempts + 1)
                )
                session.commit()
            return ids

    def run(self, job_id: int) -> None:
        """Runs one claimed job; its effect and its `done` mark commit together."""
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is None or job.status != "running":
                return
            func = HANDLERS.get(job.kind)
            try:
                if func is None:
                    raise LookupError(f"no handler for job kind {job.kind!r}")
                func(session, job.payload)
                job.status = "done"
                job.finished_at = utcnow()
                job.locked_until = None
                session.commit()
                return
            except Exception as exc:
                session.rollback()
                log.warning("job %s (%s) failed: %s", job_id, job.kind, exc)
                error = "".join(traceback.format_exception_only(exc)).strip()
        with self.db.session() as session:
            job = session.get(Job, job_id)
            if job is None:
                return
            job.last_error = error
            if job.attempts >= self.max_attempts:
                job.status = "failed"
                job.finished_at = utcnow()
            else:
                job.status = "pending"
                job.run_after = utcnow() + timedelta(seconds=min(300, 2**job.attempts))
            job.locked_until = None
            session.commit()

    def drain(self, *, max_rounds: int = 1000) -> int:
        """Runs due jobs until none is left (jobs may enqueue more); returns how many ran."""
        ran = 0
        for _ in range(max_rounds):
            ids = self.claim()
            if not ids:
                break
            for job_id in ids:
                self.run(job_id)
                ran += 1
        return ran


class InlineDispatcher:
    """Runs jobs right after the transaction that enqueued them commits, in the same thread."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner
        self._local = threading.local()

    def after_commit(self, session: Session) -> None:
        if not session.info.pop(ENQUEUED_FLAG, False):
            return
        if getattr(self._local, "draining", False):
            return  # the outer drain picks the new jobs up
        self._local.draining = True
        try:
            self.runner.drain()
        finally:
            self._local.draining = False

    def start(self) -> None:
        self.runner.drain()

    def stop(self) -> None:
        pass


class ThreadDispatcher:
    """An embedded worker thread, woken by commits that enqueued jobs and polling for leftovers."""

    def __init__(self, runner: JobRunner, *, poll_seconds: float = 1.0) -> None:
        self.runner = runner
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_commit(self, session: Session) -> None:
        if session.info.pop(ENQUEUED_FLAG, False):
            self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="clearway-jobs", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            try:
                self.runner.drain()
            except Exception:
                log.exception("job runner failed; retrying")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=10)


class ExternalDispatcher:
    """Leaves jobs to separate `clearway worker` processes."""

    def __init__(self, runner: JobRunner) -> None:
        self.runner = runner

    def after_commit(self, session: Session) -> None:
        session.info.pop(ENQUEUED_FLAG, None)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass


Dispatcher = InlineDispatcher | ThreadDispatcher | ExternalDispatcher


def make_dispatcher(db: Database, mode: str, *, lease_seconds: int = 60, max_attempts: int = 8) -> Dispatcher:
    """Builds the dispatcher for `mode` and hooks it to the database's commits."""
    runner = JobRunner(db, lease_seconds=lease_seconds, max_attempts=max_attempts)
    dispatcher: Dispatcher
    if mode == "inline":
        dispatcher = InlineDispatcher(runner)
    elif mode == "thread":
        dispatcher = ThreadDispatcher(runner)
    else:
        dispatcher = ExternalDispatcher(runner)
    db.after_commit_hooks.append(dispatcher.after_commit)
    return dispatcher
