"""Intake benchmark: declarations lodged over HTTP per second, and latency, on SQLite and PostgreSQL.

Starts its own server (`clearway serve` on a free port, embedded job worker) on a fresh database per backend,
lodges declarations of 3 goods items each from concurrent clients, and prints the figures. The last line is one
JSON object: {"sqlite": {...}, "postgresql": {...}}.

    .venv/bin/python bench/intake.py [--count 3000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import psycopg
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from clearway.demo import sample_declaration  # noqa: E402

POSTGRES_URL = os.environ.get("CLEARWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CLEARWAY = str(Path(sys.executable).parent / "clearway")
EORI = "GB123456789000"
# Where `make run` prepares the HS classifier that risk assessment asks about each goods item's code.
CLASSIFIER_MODELS = ROOT / "var" / "models" / "classification"


def prepare_classifier() -> dict[str, str]:
    """The environment under which a worker finds the HS classifier ready, prepared here if it is not yet (built
    once per installation, in minutes): otherwise the first assessment would build it inside the timings."""
    env = {**os.environ, "CLEARWAY_CLASSIFICATION_MODELS": str(CLASSIFIER_MODELS)}
    print(f"preparing the HS classifier in {CLASSIFIER_MODELS} (built once, then loaded)", file=sys.stderr, flush=True)
    subprocess.run([CLEARWAY, "classify", "prepare"], env=env, check=True, stdout=subprocess.DEVNULL)
    return env


@contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """The URL of a fresh database of its own on the PostgreSQL server, dropped afterwards (psycopg.Error on
    entering when the server is not reachable)."""
    base = make_url(POSTGRES_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = dict(host=base.host, port=base.port or 5432, user=base.username, dbname=base.database, autocommit=True)
    with psycopg.connect(**admin, connect_timeout=3) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**admin) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), to report cost per declaration independent of machine load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = int(fields[11]) + int(fields[12])
    children = sum(cpu_ticks(int(child)) for child in _children(pid))
    return (own + children) / os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def _children(pid: int) -> list[str]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return path.read_text().split() if path.exists() else []


def run(env: dict[str, str], *args: str) -> None:
    subprocess.run([CLEARWAY, *args], env=env, check=True, capture_output=True)


async def lodge_all(base: str, token: str, count: int, concurrency: int, prefix: str) -> tuple[float, list[float], int]:
    payloads = [sample_declaration(f"{prefix}-{n}", declarant_eori=EORI, items=3, seed=n) for n in range(count)]
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for payload in payloads:
        queue.put_nowait(payload)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=60
    ) as client:

        async def worker() -> None:
            nonlocal failures
            while not queue.empty():
                payload = queue.get_nowait()
                started = time.perf_counter()
                response = await client.post("/api/v1/declarations", json=payload)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code != 201:
                    failures += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, failures


def wait_healthy(base: str) -> None:
    for _ in range(150):
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {base} did not start")


def bench_backend(
    name: str, database_url: str, workdir: Path, count: int, concurrency: int, workers: int
) -> dict[str, float]:
    """Intake first (the server only lodges: jobs wait in the outbox), then the job worker drains the backlog."""
    env = {
        **prepare_classifier(),
        "CLEARWAY_DATABASE_URL": database_url,
        "CLEARWAY_VAR_DIR": str(workdir),
        # Not "development": its server loads the HS classifier in a background thread, beside the timings (the
        # server only lodges; the worker loads the classifier for its first assessment).
        "CLEARWAY_ENVIRONMENT": "test",
        "CLEARWAY_JOBS_MODE": "external",
    }
    run(env, "db", "upgrade")
    run(
        env,
        "users",
        "create",
        "--username",
        "bench",
        "--password",
        "bench-password",
        "--role",
        "declarant",
        "--eori",
        EORI,
    )
    port = free_port()
    server = subprocess.Popen(
        [CLEARWAY, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    worker = None
    try:
        wait_healthy(base)
        token = httpx.post(
            f"{base}/api/v1/auth/token", data={"username": "bench", "password": "bench-password"}
        ).json()["access_token"]
        asyncio.run(lodge_all(base, token, min(200, count), concurrency, "WARM"))  # warm-up
        cpu_before, client_before = cpu_seconds(server.pid), time.process_time()
        elapsed, latencies, failures = asyncio.run(lodge_all(base, token, count, concurrency, "RUN"))
        server_cpu, client_cpu = cpu_seconds(server.pid) - cpu_before, time.process_time() - client_before
        backlog = httpx.get(f"{base}/health").json()["jobs"]["waiting"]
        # The background chain: risk and revenue assessment, then release, by one worker process.
        chain_started = time.perf_counter()
        worker = subprocess.Popen(
            [CLEARWAY, "worker", "--poll", "0.2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        while httpx.get(f"{base}/health").json()["jobs"]["waiting"]:
            time.sleep(0.2)
        chain = time.perf_counter() - chain_started
        worker_cpu = cpu_seconds(worker.pid)
    finally:
        for process in (worker, server):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
    latencies.sort()
    result = {
        "declarations_per_s": round(count / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
        "failures": failures,
        "server_cpu_ms_per_declaration": round(server_cpu / count * 1000, 2),
        "client_cpu_ms_per_declaration": round(client_cpu / count * 1000, 2),
        "assessed_and_released_per_s": round(backlog / chain, 1),
        "worker_cpu_ms_per_declaration": round(worker_cpu / max(backlog, 1) * 1000, 2),
    }
    print(
        f"{name}: lodged {count} declarations (3 goods items each) from {concurrency} concurrent clients in "
        f"{elapsed:.1f} s: {result['declarations_per_s']}/s, p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, "
        f"{failures} failures, {result['server_cpu_ms_per_declaration']} ms server CPU each. Then one worker "
        f"assessed and released the {backlog} waiting: {result['assessed_and_released_per_s']}/s, "
        f"{result['worker_cpu_ms_per_declaration']} ms CPU each.",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="HTTP worker processes (PostgreSQL run)")
    args = parser.parse_args()
    results: dict[str, dict[str, float] | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results["sqlite"] = bench_backend(
            "sqlite", f"sqlite:///{workdir / 'bench.db'}", workdir, args.count, args.concurrency, 1
        )
        with ExitStack() as stack:
            try:
                url = stack.enter_context(scratch_postgres_database("clearway_bench"))
            except psycopg.Error as exc:
                print(f"postgresql: not reachable ({exc}); skipped", flush=True)
                results["postgresql"] = None
            else:
                pg_dir = workdir / "pg"
                pg_dir.mkdir()
                results["postgresql"] = bench_backend(
                    "postgresql", url, pg_dir, args.count, args.concurrency, args.workers
                )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
