"""Revenue for the demo: the shipped US HTS tariff and demo exchange rates, national tariff lines for the demo goods,
and a deferment account for one of the demo broker's EORIs (so some demo declarations are released at once and
others wait for payment)."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clearway.db import utcnow
from clearway.revenue.models import GuaranteeAccount
from clearway.revenue.service import national_currency
from clearway.tariff import service as tariff
from clearway.tariff.exchange import read_rates_csv
from clearway.tariff.models import ExchangeRate, TariffVersion
from clearway.tariff.sources import read_hts

HTS_VALID_FROM = date(2026, 1, 1)
DEMO_ACCOUNT = ("DAN-DEMO-0001", "GB123456789000", Decimal("250000"))
# HS subheading of the demo goods -> the US HTS line that carries its rate (HTS rates sit on 8- or 10-digit lines).
HTS_LINES = {
    "847130": "8471300100",
    "610910": "61091000",
    "080810": "08081000",
    "640411": "64041120",
    "950300": "95030000",
    "851713": "8517130000",
    "871200": "87120015",
    "220421": "22042150",
    "731815": "73181520",
    "940161": "94016160",
    "420221": "4202219000",
    "300490": "30049092",
    "392690": "39269099",
}
LITRES_PER_KG = {"220421": Decimal(1)}  # wine pays per litre: declare the litres (about 1 l per kg)


def national_lines(data: dict[str, Any]) -> dict[str, Any]:
    """A copy of a sample declaration whose goods carry US HTS lines (and litres where the duty is per litre)."""
    data = copy.deepcopy(data)
    for item in data["goods_items"]:
        code = item["hs_code"]
        item["hs_code"] = HTS_LINES.get(code, code)
        if code in LITRES_PER_KG and "supplementary_quantity" not in item:
            litres = (Decimal(item["net_mass_kg"]) * LITRES_PER_KG[code]).quantize(Decimal("0.001"))
            item["supplementary_quantity"] = {"quantity": str(litres), "unit": "liter"}
    return data


def load_demo_revenue(session: Session) -> str:
    """Loads the shipped tariff and demo rates when none are loaded, and the demo deferment account; says what."""
    done = []
    if not session.scalar(select(func.count()).select_from(TariffVersion)):
        with tariff.shipped_hts_path().open(encoding="utf-8-sig", newline="") as handle:
            data = read_hts(handle, valid_from=HTS_VALID_FROM)
        tariff.load_tariff(
            db_session=session,
            data=data,
            name="US HTS 2026 Revision 4 (shipped demo)",
            source_format="hts",
            source=str(tariff.shipped_hts_path()),
            valid_from=HTS_VALID_FROM,
        )
        done.append(f"US HTS tariff ({data.report.measures:,} measures)")
    if not session.scalar(select(func.count()).select_from(ExchangeRate)):
        path = tariff.shipped_rates_path()
        result = tariff.load_rates(db_session=session, records=read_rates_csv(path.read_text(), source=path.name))
        done.append(f"{result.inserted} demo exchange rates")
    number, holder, limit = DEMO_ACCOUNT
    if session.scalar(select(GuaranteeAccount).where(GuaranteeAccount.number == number)) is None:
        session.add(
            GuaranteeAccount(
                number=number,
                holder_eori=holder,
                currency=national_currency(session),
                limit=limit,
                used=Decimal(0),
                created_at=utcnow(),
                created_by="demo",
            )
        )
        done.append(f"deferment account {number} for {holder} (USD {limit:,})")
    session.flush()
    return ("Revenue: loaded " + ", ".join(done) + ".") if done else "Revenue: tariff, rates and account present."
