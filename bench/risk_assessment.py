"""Risk assessment benchmark: milliseconds per declaration for the channel decision, on SQLite and PostgreSQL.

Lodges declarations with jobs held back, activates a few selectivity profiles (one with a 1,000-entry named list),
then assesses each declaration in its own transaction as the `declaration.assess` job does: profiles, the shipped
risk model's score with its worded factors, the office's channel policy with its budget row locked, the stored
decision, the channel transition. Prints the figures; the last line is one JSON object.

    .venv/bin/python bench/risk_assessment.py [--count 300]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from clearway.auth import service as auth  # noqa: E402
from clearway.classification import service as classification  # noqa: E402
from clearway.config import Settings  # noqa: E402
from clearway.db import Database  # noqa: E402
from clearway.declarations import service as declarations  # noqa: E402
from clearway.declarations.schemas import DeclarationIn  # noqa: E402
from clearway.demo import IMPORTERS, sample_declaration  # noqa: E402
from clearway.release import service as release  # noqa: E402
from clearway.risk import assessment  # noqa: E402
from clearway.risk import service as risk  # noqa: E402
from clearway.schema import upgrade  # noqa: E402
from intake import CLASSIFIER_MODELS, scratch_postgres_database  # noqa: E402

EORI = "GB123456789000"
PROFILES = [
    {
        "name": "Apples from the US",
        "reason": "Phytosanitary alert",
        "channel": "red",
        "priority": 80,
        "valid_from": "2020-01-01",
        "criteria": {
            "all": [
                {"field": "goods_items.hs_code", "op": "prefix", "value": "0808"},
                {"field": "goods_items.country_of_origin", "op": "eq", "value": "US"},
            ]
        },
    },
    {
        "name": "Watched importers",
        "reason": "Importer on the watch list",
        "channel": "yellow",
        "priority": 50,
        "valid_from": "2020-01-01",
        "criteria": {"field": "importer.eori", "op": "in_list", "list": "watched_importers"},
    },
    {
        "name": "Cheap laptops",
        "reason": "Value per kg far below the usual",
        "channel": "yellow",
        "priority": 60,
        "valid_from": "2020-01-01",
        "criteria": {
            "all": [
                {"field": "goods_items.hs_code", "op": "prefix", "value": "8471"},
                {"field": "goods_items.value_per_kg_ratio_to_hs_median", "op": "lt", "value": 0.01},
            ]
        },
    },
    {
        "name": "High model score",
        "reason": "Model score above 0.95",
        "channel": "red",
        "priority": 40,
        "valid_from": "2020-01-01",
        "criteria": {"field": "context.score", "op": "gt", "value": 0.95},
    },
    {
        "name": "Tobacco by sea",
        "reason": "Tobacco in containers",
        "channel": "red",
        "priority": 70,
        "valid_from": "2020-01-01",
        "criteria": {
            "all": [
                {"field": "goods_items.hs_code", "op": "prefix", "value": ["2402", "2403"]},
                {"field": "containers", "op": "exists"},
            ]
        },
    },
]


def setup(url: str, var_dir: Path, count: int) -> tuple[Database, list[str]]:
    upgrade(url)
    settings = Settings(database_url=url, var_dir=var_dir, secret_key="bench-" + "x" * 40, jobs_mode="external")
    db = Database(url, settings=settings)
    with db.session() as session:
        user = auth.create_user(
            session=session,
            username=f"bench-{uuid.uuid4().hex[:6]}",
            password="correct-horse-battery",
            role="declarant",
            eoris=[EORI],
        )
        risk.put_list(
            session=session,
            name="watched_importers",
            by="bench",
            entries=[IMPORTERS[0][0]] + [f"US{n:09d}" for n in range(999)],
        )
        for body in PROFILES:
            profile = risk.create_profile(session=session, data=body, by="bench")
            risk.activate_profile(session=session, profile_id=profile.profile_id, by="bench")
        ids = []
        for n in range(count):
            data = sample_declaration(f"RB-{uuid.uuid4().hex[:8]}-{n}", declarant_eori=EORI, items=3, seed=n)
            decl, _ = declarations.submit(
                session=session,
                user=user,
                declaration=DeclarationIn.model_validate(data),
                idempotency_key=None,
                country_code="US",
            )
            ids.append(decl.id)
        session.commit()
    return db, ids


def measure(db: Database, ids: list[str]) -> dict[str, float]:
    # The models load once per process; not part of the per-declaration cost. The HS classifier (asked about each
    # goods item's code) is the one `make run` prepares, built here first if it is not yet.
    assessment.active_model(db.settings)
    os.environ.setdefault("CLEARWAY_CLASSIFICATION_MODELS", str(CLASSIFIER_MODELS))
    classification.get_model().rank(["warm-up"], limit=1)
    decide_ms, cpu_ms, total_ms = [], [], []
    original = assessment.decide_channel

    def timed(**kwargs):  # type: ignore[no-untyped-def]
        start, cpu = time.perf_counter(), time.thread_time()
        try:
            return original(**kwargs)
        finally:
            decide_ms.append((time.perf_counter() - start) * 1000)
            cpu_ms.append((time.thread_time() - cpu) * 1000)  # this process's CPU: independent of machine load

    release.risk.decide_channel = timed  # type: ignore[assignment]
    try:
        for decl_id in ids:
            start = time.perf_counter()
            with db.session() as session:
                release.assess(session=session, declaration_id=decl_id)
                session.commit()
            total_ms.append((time.perf_counter() - start) * 1000)
    finally:
        release.risk.decide_channel = original  # type: ignore[assignment]
    q = lambda xs, p: round(statistics.quantiles(xs, n=100)[p - 1], 2)  # noqa: E731
    return {
        "declarations": len(ids),
        "decide_channel_ms_median": round(statistics.median(decide_ms), 2),
        "decide_channel_ms_p95": q(decide_ms, 95),
        "decide_channel_cpu_ms_median": round(statistics.median(cpu_ms), 2),
        "assess_and_commit_ms_median": round(statistics.median(total_ms), 2),
        "assess_and_commit_ms_p95": q(total_ms, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db, ids = setup(f"sqlite:///{tmp}/bench.db", Path(tmp) / "var", args.count)
        results["sqlite"] = measure(db, ids)
        db.dispose()
        with ExitStack() as stack:
            try:
                url = stack.enter_context(scratch_postgres_database("clearway_riskbench"))
            except psycopg.Error as exc:
                print(f"PostgreSQL not reachable ({exc}); SQLite only")
            else:
                db, ids = setup(url, Path(tmp) / "var", args.count)
                results["postgresql"] = measure(db, ids)
                db.dispose()
    for backend, f in results.items():
        print(
            f"{backend}: decide_channel median {f['decide_channel_ms_median']} ms "
            f"(p95 {f['decide_channel_ms_p95']} ms; "
            f"CPU {f['decide_channel_cpu_ms_median']} ms); assessment job with commit median "
            f"{f['assess_and_commit_ms_median']} ms (p95 {f['assess_and_commit_ms_p95']} ms), "
            f"{f['declarations']} declarations of 3 goods items"
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
