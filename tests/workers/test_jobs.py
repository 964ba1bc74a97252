"""The job outbox: jobs commit with their state change, survive a crash, are retried, never run twice."""

from __future__ import annotations

import pytest
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


@jobs.handler("test.crash")
def _crash(session, payload):
    raise SystemExit("the worker process dies here")


def test_a_worker_that_dies_mid_job_commits_nothing_and_the_job_runs_later(database):
    CALLS.clear()
    with database.session() as session:
        enqueue(session, "test.record", {"n": 1})
        crash = enqueue(session, "test.crash", {})
        session.commit()
    runner = JobRunner(database)
    with pytest.raises(SystemExit):
        runner.drain()
    with database.session() as session:
        assert {j.status for j in session.scalars(select(Job))} == {"pending"}
        session.get(Job, crash).kind = "test.record"  # the redeployed worker can run it
        session.commit()
    assert runner.drain() == 2
    assert CALLS == [{"n": 1}, {"n": 1}, {}]  # the first job's effect was rolled back with the crashed batch
    with database.session() as session:
        assert {j.status for j in session.scalars(select(Job))} == {"done"}


def test_a_failing_job_is_retried_then_marked_failed(database):
    with database.session() as session:
        enqueue(session, "test.fail", {})
        session.commit()
    runner = JobRunner(database, max_attempts=2)
    assert runner.drain() == 1
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
