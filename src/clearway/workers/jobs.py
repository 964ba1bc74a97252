"""Background jobs through one interface, whatever runs them.

`enqueue` adds a job row to the caller's session, so the job commits or rolls back with the state change that needs
it: a crash can never lose one. A runner takes due jobs, runs each handler and marks the job done in the same
transaction, so a job's effect and its completion commit together; a runner that died left nothing committed, so
its jobs are simply due again. Runners: `inline` (right after commit, in the committing thread: tests), `thread`
(an embedded worker thread: `clearway serve`), `external` (`clearway worker` processes; Celery later).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from clearway.db import Database, utcnow
from clearway.workers.models import Job

log = logging.getLogger(__name__)

Handler = Callable[[Session, dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}
ENQUEUED_FLAG = "clearway.jobs_enqueued"
RAN_INLINE_FLAG = "clearway.jobs_ran_inline"  # the session's commit ran its jobs: what it holds may be stale


def handler(kind: str) -> Callable[[Handler], Handler]:
    """Registers the function that runs jobs of `kind`."""

    def register(func: Handler) -> Handler:
        HANDLERS[kind] = func
        return func

    return register


def enqueue(session: Session, kind: str, payload: dict[str, Any], *, delay: timedelta | None = None) -> int:
    """Adds a job to the caller's transaction; returns its id."""
    now = utcnow()
    row = {
        "kind": kind,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "run_after": now + (delay or timedelta()),
        "created_at": now,
    }
    job_id = session.execute(insert(Job.__table__).returning(Job.__table__.c.id), row).scalar_one()
    session.info[ENQUEUED_FLAG] = True
    return job_id


class JobRunner:
    """Runs due jobs against one database, a batch per transaction.

    The batch's rows are locked (FOR UPDATE SKIP LOCKED on PostgreSQL, so several workers share the queue; SQLite
    has one writer at a time anyway). Each job runs in a savepoint: its effect and its `done` mark commit together;
    a failing job is rolled back alone and rescheduled with back-off. If the worker dies mid-batch nothing of the
    batch is committed and the jobs are simply due again.
    """

    def __init__(self, db: Database, *, max_attempts: int = 8, batch: int = 20) -> None:
        self.db = db
        self.max_attempts = max_attempts
        self.batch = batch

    def run_due(self) -> tuple[int, bool]:
        """Runs one batch of due jobs; returns how many were taken and whether they enqueued more."""
        now = utcnow()
        with self.db.session() as session:
            due = session.execute(
                select(Job.id, Job.kind, Job.payload, Job.attempts)
                .where(Job.status == "pending", Job.run_after <= now)
                .order_by(Job.id)
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            if not due:
                session.commit()
                return 0, False
            done: list[int] = []
            for job_id, kind, payload, attempts in due:
                try:
                    func = HANDLERS.get(kind)
                    if func is None:
                        raise LookupError(f"no handler for job kind {kind!r}")
                    with session.begin_nested():
                        func(session, payload)
                    done.append(job_id)
                except Exception as exc:
                    log.warning("job %s (%s) failed: %s", job_id, kind, exc)
                    self._reschedule(session, job_id, attempts + 1, exc)
            if done:
                session.execute(
                    update(Job)
                    .where(Job.id.in_(done))
                    .values(status="done", attempts=Job.attempts + 1, finished_at=utcnow())
                )
            more = bool(session.info.get(ENQUEUED_FLAG))
            session.commit()
            return len(due), more

    def _reschedule(self, session: Session, job_id: int, attempts: int, exc: Exception) -> None:
        error = "".join(traceback.format_exception_only(exc)).strip()[:2000]
        values: dict[str, Any] = {"attempts": attempts, "last_error": error}
        if attempts >= self.max_attempts:
            values.update(status="failed", finished_at=utcnow())
        else:
            values["run_after"] = utcnow() + timedelta(seconds=min(300, 2**attempts))
        session.execute(update(Job).where(Job.id == job_id).values(**values))

    def drain(self, *, max_batches: int = 1000) -> int:
        """Runs due jobs until none is left (jobs may enqueue more); returns how many ran."""
        ran = 0
        for _ in range(max_batches):
            taken, more = self.run_due()
            ran += taken
            if taken < self.batch and not more:
                break
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
        session.info[RAN_INLINE_FLAG] = True

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


def make_dispatcher(db: Database, mode: str, *, max_attempts: int = 8) -> Dispatcher:
    """Builds the dispatcher for `mode` and hooks it to the database's commits."""
    runner = JobRunner(db, max_attempts=max_attempts)
    dispatcher: Dispatcher
    if mode == "inline":
        dispatcher = InlineDispatcher(runner)
    elif mode == "thread":
        dispatcher = ThreadDispatcher(runner)
    else:
        dispatcher = ExternalDispatcher(runner)
    db.after_commit_hooks.append(dispatcher.after_commit)
    return dispatcher
