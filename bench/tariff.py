"""Tariff benchmark: goods items assessed per second in batch against the shipped US HTS.

Reads the shipped HTS (src/clearway/reference/us_hts), compiles the tariff index once, builds random declarations
(1-8 goods items on real 10-digit lines with machine-readable rates: ad valorem, specific and compound; origins
with and without preference claims; USD, EUR and JPY invoices; every incoterm) and assesses them in batch, as the
lead's acceptance path will. The last line is one JSON object.

Usage: .venv/bin/python bench/tariff.py [--items 200000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import date
from decimal import Decimal

from clearway.tariff.calculation import INCOTERMS, CalculationPolicy, Calculator, DeclarationInput, GoodsItemInput
from clearway.tariff.exchange import RateRecord, RateTable
from clearway.tariff.index import TariffIndex
from clearway.tariff.service import shipped_hts_path
from clearway.tariff.sources import read_hts

ON = date(2026, 6, 1)
ORIGINS = ["CN", "DE", "KR", "MX", "CA", "VN", "JP", "IN", "AU", "CL", "BR", "RU", "IT", "GB", "TW"]
UNIT_FOR_DIMENSION = {
    "volume": "l",
    "count": "No.",
    "pairs": "prs.",
    "area": "m2",
    "length": "m",
    "head": "head",
    "proof_volume": "pf. liter",
    "mass": "kg",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    started = time.perf_counter()
    with shipped_hts_path().open(encoding="utf-8", newline="") as handle:
        data = read_hts(handle, valid_from=date(2026, 1, 1))
    index = TariffIndex(data.measures)
    build_s = time.perf_counter() - started
    report = data.report
    print(f"HTS read and compiled in {build_s:.2f} s: {report.lines:,} lines, {report.measures:,} measures")
    print(
        f"rate texts: {report.texts_total:,}, parsed {report.texts_parsed:,} ({report.parsed_share:.2%}), "
        f"not parsed {sum(report.unparsed.values()):,} ({len(report.unparsed)} distinct)"
    )

    # Real 10-digit lines whose rates (third-country, column 2, preferences) are machine-readable, each with the
    # supplementary quantity those rates need (net mass covers the per-kg ones).
    candidates: list[tuple[str, str | None]] = []
    for line in data.lines:
        if len(line.code) != 10 or line.code.startswith(("98", "99")):
            continue
        resolved = index.resolve(line.code, ON)
        expressions = [m.expression for m in (resolved.third_country, *resolved.origin_rates, *resolved.preferences)]
        applied = [m.expression for m in (resolved.third_country, *resolved.origin_rates)]
        if any(e is None or not e.computable for e in applied):
            continue
        dimensions = {u.dimension for e in expressions if e is not None and e.computable for u in e.units} - {"mass"}
        if len(dimensions) > 1:
            continue
        unit = UNIT_FOR_DIMENSION.get(next(iter(dimensions))) if dimensions else None
        if dimensions and unit is None:
            continue
        candidates.append((line.code, unit))
    forms = {"ad valorem/free": 0, "specific/compound": 0}
    for _, unit in candidates:
        forms["specific/compound" if unit else "ad valorem/free"] += 1
    print(f"lines used: {len(candidates):,} ({forms})")

    rates = RateTable(
        "USD",
        [
            RateRecord("EUR", date(2026, 1, 1), Decimal("1.1650")),
            RateRecord("JPY", date(2026, 1, 1), Decimal("0.006420")),
        ],
    )
    calculator = Calculator(tariff=index, rates=rates, policy=CalculationPolicy(vat_rate=Decimal("0")))
    declarations: list[DeclarationInput] = []
    total_items = 0
    while total_items < args.items:
        count = min(rng.randint(1, 8), args.items - total_items)
        items = []
        for _ in range(count):
            code, unit = rng.choice(candidates)
            quantity = Decimal(rng.randint(1, 5000))
            items.append(
                GoodsItemInput(
                    commodity_code=code,
                    origin_country=rng.choice(ORIGINS),
                    item_price=Decimal(rng.randint(100, 10_000_000)) / 100,
                    net_mass_kg=Decimal(rng.randint(1, 100_000)) / 10,
                    supplementary_quantity=quantity if unit else None,
                    supplementary_unit=unit,
                    preference_claimed=rng.random() < 0.4,
                )
            )
        declarations.append(
            DeclarationInput(
                currency=rng.choice(["USD", "USD", "EUR", "JPY"]),
                incoterm=rng.choice(INCOTERMS),
                acceptance_date=ON,
                goods_items=tuple(items),
                freight=Decimal(rng.randint(0, 500_000)) / 100,
                insurance=Decimal(rng.randint(0, 50_000)) / 100,
            )
        )
        total_items += count

    calculator.assess_many(declarations[:200])  # warm the per-code cache like a running server
    started = time.perf_counter()
    cpu_started = time.process_time()
    assessments = calculator.assess_many(declarations)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    items_per_s = total_items / elapsed
    duty = sum((a.totals["duty"] for a in assessments), Decimal(0))
    granted = sum(1 for a in assessments for i in a.items if i.preference and i.preference.startswith("granted"))
    print(
        f"assessed {total_items:,} goods items in {len(declarations):,} declarations in {elapsed:.2f} s: "
        f"{items_per_s:,.0f} items/s (goal 50,000; {total_items / cpu:,.0f} per CPU-second)"
    )
    print(f"duty total USD {duty:,}; preferences granted {granted:,}")
    print(
        json.dumps(
            {
                "items_per_s": round(items_per_s),
                "rate_texts_parsed_share": round(report.parsed_share, 4),
                "items": total_items,
                "declarations": len(declarations),
                "elapsed_s": round(elapsed, 3),
                "items_per_cpu_s": round(total_items / cpu),
                "rate_texts": report.texts_total,
                "rate_texts_unparsed": sum(report.unparsed.values()),
            }
        )
    )


if __name__ == "__main__":
    main()
