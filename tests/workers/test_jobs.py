"""The job outbox: jobs commit with their state change, survive a crash, are retried, never run twice."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from clearway.db import utcnow
from clearway.workers import jobs
from clearway.workers.jobs import JobRunner, enqueue
from clearway.workers.models import Job

CALLS: list[dict] = []


@jobs.handler("test.record")
def _record(session, payload):
    CALLS.append(payload)


@jobs.handler("test.fail")
def _fail(session, payload):
    raise RuntimeError("scanner offline")


def test_a_job_rolls_back_with_its_transaction(database):
    with database.session() as session:
        enqueue(session, "test.record", {"n": 1})
        session.rollback()
    with database.session() as session:
        assert session.scalars(select(Job)).all() == []


def test_a_job_left_running_by_a_crashed_worker_is_run_again_after_its_lease(database):
    CALLS.clear()
    with database.session() as session:
        enqueue(session, "test.record", {"n": 2})
        session.commit()
    runner = JobRunner(database, lease_seconds=60)
    claimed = runner.claim()
    assert len(claimed) == 1
    # The worker dies here: the job stays "running" under its lease, and nobody else takes it meanwhile.
    assert runner.claim() == []
    with database.session() as session:
        job = session.get(Job, claimed[0])
        job.locked_until = utcnow() - timedelta(seconds=1)
        session.commit()
    assert runner.drain() == 1
    assert CALLS == [{"n": 2}]
    with database.session() as session:
        job = session.get(Job, claimed[0])
        assert job.status == "done" and job.attempts == 2


def test_a_failing_job_is_retried_then_marked_failed(database):
    with database.session() as session:
        enqueue(session, "test.fail", {})
        session.commit()
    runner = JobRunner(database, max_attempts=2)
    runner.drain()
    with database.session() as session:
        job = session.scalars(select(Job)).one()
        assert job.status == "pending" and "scanner offline" in job.last_error
        job.run_after = utcnow()
        session.commit()
    runner.drain()
    with database.session() as session:
        job = session.scalars(select(Job)).one()
        assert job.status == "failed" and job.attempts == 2


def test_a_done_job_is_not_run_again(database):
    CALLS.clear()
    with database.session() as session:
        enqueue(session, "test.record", {"n": 3})
        session.commit()
    runner = JobRunner(database)
    assert runner.drain() == 1
    assert runner.drain() == 0
    assert CALLS == [{"n": 3}]
