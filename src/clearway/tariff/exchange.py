"""Exchange rates in force by date: the rate whose validity starts last on or before the date applies.

Pure code. A rate is the national-currency value of one unit of the foreign currency (e.g. EUR 1.0850 USD).
A missing rate is a `MissingExchangeRate`, never a guess.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from clearway.errors import InvalidInput, field_error

ONE = Decimal(1)


class MissingExchangeRate(InvalidInput):
    """No exchange rate is known for a currency on or before the date."""


@dataclass(frozen=True, slots=True)
class RateRecord:
    currency: str
    valid_from: date
    rate: Decimal
    source: str = ""


class RateTable:
    """Rates per currency sorted by date, for quick `rate_on` look-ups."""

    def __init__(self, national_currency: str, records: Iterable[RateRecord] = ()) -> None:
        self.national_currency = national_currency.upper()
        by_currency: dict[str, list[tuple[date, Decimal]]] = {}
        for rec in records:
            if rec.rate <= 0:
                raise InvalidInput(
                    f"Exchange rate for {rec.currency} on {rec.valid_from} is not positive",
                    errors=[field_error("rate", "must be > 0")],
                )
            by_currency.setdefault(rec.currency.upper(), []).append((rec.valid_from, rec.rate))
        self._dates: dict[str, list[date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        for currency, pairs in by_currency.items():
            pairs.sort()
            self._dates[currency] = [d for d, _ in pairs]
            self._rates[currency] = [r for _, r in pairs]

    def currencies(self) -> list[str]:
        return sorted(self._dates)

    def rate_on(self, currency: str, on: date) -> Decimal:
        """Returns national-currency units per unit of `currency` in force on `on`."""
        code = currency.upper()
        if code == self.national_currency:
            return ONE
        dates = self._dates.get(code)
        if dates:
            index = bisect.bisect_right(dates, on) - 1
            if index >= 0:
                return self._rates[code][index]
        first = f" (the first rate starts {dates[0].isoformat()})" if dates else ""
        raise MissingExchangeRate(
            f"No exchange rate for {code} to {self.national_currency} in force on {on.isoformat()}{first}; "
            f"load one with `clearway rates load`",
            errors=[field_error("currency", f"no {code} rate on {on.isoformat()}")],
        )


RATE_COLUMNS = ("currency", "valid_from", "rate_per_unit")


def read_rates_csv(text: str, *, source: str = "") -> list[RateRecord]:
    """Reads `currency,valid_from,rate_per_unit[,source]` rows; any bad row is an error naming row and column."""
    import csv
    import io
    from decimal import InvalidOperation

    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in RATE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput(
            "Exchange-rate CSV is missing columns " + ", ".join(missing),
            errors=[field_error("path", f"expected columns {', '.join(RATE_COLUMNS)}[,source]")],
        )
    records: list[RateRecord] = []
    errors: list[dict[str, str]] = []
    seen: set[tuple[str, date]] = set()
    for number, row in enumerate(reader, start=2):
        currency = (row.get("currency") or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            errors.append(field_error(f"row {number}.currency", f"{currency!r} is not an ISO 4217 code"))
            continue
        try:
            valid_from = date.fromisoformat((row.get("valid_from") or "").strip())
        except ValueError:
            errors.append(field_error(f"row {number}.valid_from", "expected YYYY-MM-DD"))
            continue
        try:
            rate = Decimal((row.get("rate_per_unit") or "").strip())
        except InvalidOperation:
            errors.append(field_error(f"row {number}.rate_per_unit", "not a number"))
            continue
        if not rate.is_finite() or rate <= 0:
            errors.append(field_error(f"row {number}.rate_per_unit", "must be a positive number"))
            continue
        if (currency, valid_from) in seen:
            errors.append(field_error(f"row {number}", f"{currency} on {valid_from} appears twice"))
            continue
        seen.add((currency, valid_from))
        records.append(RateRecord(currency, valid_from, rate, (row.get("source") or "").strip() or source))
    if errors:
        shown = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        raise InvalidInput(f"{len(errors)} invalid exchange-rate row(s): {shown}", errors=errors)
    return records
