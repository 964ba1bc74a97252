"""HS corrections review benchmark: how long the analysts' list takes with many recorded codes, by backend.

Fills a fresh database per backend with N goods items whose codes officers recorded (half of them changed, a tenth
recorded twice, so the latest must be found), starts `clearway serve` on a free port and times, over HTTP, the API's
first page, a page deep in the list, the changed codes only, the counts alone, and the workbench page an analyst
opens (`/classification/corrections`). The last line is one JSON object: {"sqlite": {...}, "postgresql": {...}}.

    .venv/bin/python bench/corrections.py [--count 50000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import insert, select

from clearway.auth.models import User
from clearway.db import Database
from clearway.declarations.models import ControlResult, Declaration, GoodsItem, HSCodeCorrection
from intake import CLEARWAY, free_port, run, scratch_postgres_database, wait_healthy

PASSWORD = "bench-password"
BATCH = 5000


def fill(database_url: str, count: int) -> None:
    """`count` declarations of one goods item each, every item with a recorded code (a tenth recorded twice)."""
    db = Database(database_url)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    with db.session() as session:
        user_id = session.scalar(select(User.id))
        for start in range(0, count, BATCH):
            numbers = range(start, min(start + BATCH, count))
            ids = [f"BENCH-{n:09d}" for n in numbers]
            session.execute(
                insert(Declaration),
                [
                    {
                        **dict(id=d, lrn=d[-22:], declarant_eori="GB123456789000", declaration_type="IM"),
                        **dict(procedure_code="4000", office_of_lodgement="GB000060", status="released", version=1),
                        **dict(document={}, goods_item_count=1, invoice_currency="GBP", invoice_amount=100),
                        **dict(content_hash="x", submitted_by=user_id, submitted_at=at, updated_at=at),
                    }
                    for d in ids
                ],
            )
            session.execute(
                insert(GoodsItem),
                [
                    {
                        **dict(declaration_id=d, sequence=1, hs_code="610910", description=f"Cotton T-shirts lot {n}"),
                        **dict(country_of_origin="CN", net_mass_kg=1, gross_mass_kg=1.2, item_price=100),
                    }
                    for n, d in zip(numbers, ids, strict=True)
                ],
            )
            for twice in (False, True):
                chosen = [(n, d) for n, d in zip(numbers, ids, strict=True) if not twice or n % 10 == 0]
                when = {n: at + timedelta(seconds=n, hours=1000 * twice) for n, _ in chosen}
                results = session.scalars(
                    insert(ControlResult).returning(ControlResult.id),
                    [
                        dict(
                            declaration_id=d,
                            kind="physical",
                            outcome="discrepancy",
                            officer="officer",
                            recorded_at=when[n],
                        )
                        for n, d in chosen
                    ],
                ).all()
                session.execute(
                    insert(HSCodeCorrection),
                    [
                        dict(
                            control_result_id=result,
                            declaration_id=d,
                            sequence=1,
                            hs_code="950300" if n % 2 else "610910",
                            officer="officer",
                            recorded_at=when[n],
                        )
                        for result, (n, d) in zip(results, chosen, strict=True)
                    ],
                )
            session.commit()
            print(f"  filled {min(start + BATCH, count):,} of {count:,}", file=sys.stderr, flush=True)
    db.dispose()


def timed(get, path: str, repeat: int) -> tuple[float, httpx.Response]:
    """Median milliseconds of `repeat` GETs of path (after one warm-up), and the last response."""
    response = get(path)
    response.raise_for_status()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = get(path)
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return round(statistics.median(times), 1), response


def bench_backend(name: str, database_url: str, workdir: Path, count: int, repeat: int) -> dict[str, float]:
    env = {
        **os.environ,
        "CLEARWAY_DATABASE_URL": database_url,
        "CLEARWAY_VAR_DIR": str(workdir),
        # Not "development": its server warms the HS classifier up in a background thread, which on a fresh
        # directory builds the shipped model (minutes of CPU) beside the timings.
        "CLEARWAY_ENVIRONMENT": "test",
        "CLEARWAY_JOBS_MODE": "external",
    }
    run(env, "db", "upgrade")
    run(env, "users", "create", "--username", "analyst", "--password", PASSWORD, "--role", "risk_analyst")
    started = time.perf_counter()
    fill(database_url, count)
    print(f"{name}: {count:,} recorded codes stored in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    port = free_port()
    server = subprocess.Popen(
        [CLEARWAY, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        token = httpx.post(f"{base}/api/v1/auth/token", data={"username": "analyst", "password": PASSWORD}).json()
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=120)
        web = httpx.Client(base_url=base, timeout=120)
        login = web.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)
        web.post("/login", data={"csrf_token": csrf, "username": "analyst", "password": PASSWORD, "next": "/"})
        path = "/api/v1/classification/corrections"
        result = {}
        # What any signed-in API call costs here (authentication, the request itself), to read the others against.
        result["api_me_ms"], _ = timed(api.get, "/api/v1/auth/me", repeat)
        result["api_first_page_ms"], first = timed(api.get, f"{path}?limit=100", repeat)
        result["api_deep_page_ms"], _ = timed(api.get, f"{path}?limit=100&offset={count - 200}", repeat)
        result["api_changed_page_ms"], _ = timed(api.get, f"{path}?limit=100&changed=true", repeat)
        result["workbench_page_ms"], page = timed(web.get, "/classification/corrections", repeat)
        result["workbench_last_page_ms"], _ = timed(web.get, f"/classification/corrections?page={count // 100}", repeat)
        body = first.json()
        assert body["total"] == count and len(body["items"]) == 100, body["total"]
        assert f"{count:,}" in page.text or str(count) in page.text
        result["total"], result["changed"] = body["total"], body["changed"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(
        f"{name}: {count:,} goods items with a recorded code ({result['changed']:,} changed). A signed-in call "
        f"(/api/v1/auth/me) {result['api_me_ms']} ms; API first page "
        f"{result['api_first_page_ms']} ms, a deep page {result['api_deep_page_ms']} ms, changed codes only "
        f"{result['api_changed_page_ms']} ms; the workbench page {result['workbench_page_ms']} ms, its last page "
        f"{result['workbench_last_page_ms']} ms (medians of {repeat}).",
        flush=True,
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    results: dict[str, dict[str, float] | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results["sqlite"] = bench_backend(
            "sqlite", f"sqlite:///{workdir / 'bench.db'}", workdir, args.count, args.repeat
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
                results["postgresql"] = bench_backend("postgresql", url, pg_dir, args.count, args.repeat)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
