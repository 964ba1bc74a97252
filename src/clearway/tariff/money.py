"""Money rounding to a currency's minor unit (precision from babel's CLDR data, not a hand table)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from babel.numbers import get_currency_precision

from clearway.errors import InvalidInput, field_error


@lru_cache(maxsize=512)
def quantum(currency: str) -> Decimal:
    """Returns the smallest amount of `currency` (0.01 for USD, 1 for JPY, 0.001 for BHD)."""
    code = currency.upper()
    if len(code) != 3 or not code.isalpha():
        raise InvalidInput(
            f"Currency {currency!r} is not an ISO 4217 code",
            errors=[field_error("currency", "expected a 3-letter ISO 4217 code")],
        )
    return Decimal(1).scaleb(-get_currency_precision(code))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """Rounds half up to the currency's minor unit (customs practice: 0.005 -> 0.01)."""
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)
