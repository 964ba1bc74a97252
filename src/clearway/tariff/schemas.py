"""Request and response bodies of the tariff API. Money is a JSON string (Decimal), never a float."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pycountry
from babel.numbers import is_currency
from pydantic import BaseModel, ConfigDict, Field, field_validator

from clearway.tariff.calculation import Assessment, DeclarationInput, GoodsItemInput
from clearway.tariff.index import format_code


class GoodsItemRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    commodity_code: str = Field(min_length=4, max_length=13, examples=["0201.10.50.10"])
    origin_country: str = Field(min_length=2, max_length=2, examples=["KR"])
    item_price: Decimal = Field(ge=0, description="Invoice price of the item, invoice currency")
    net_mass_kg: Decimal | None = Field(default=None, ge=0)
    supplementary_quantity: Decimal | None = Field(default=None, ge=0)
    supplementary_unit: str | None = Field(default=None, max_length=20, examples=["liter", "No.", "doz."])
    preference_claimed: bool = False
    preference_programme: str | None = Field(default=None, max_length=20, examples=["KR"])

    @field_validator("origin_country")
    @classmethod
    def _known_country(cls, value: str) -> str:
        code = value.upper()
        if code != "XK" and pycountry.countries.get(alpha_2=code) is None:  # XK: Kosovo, used by customs
            raise ValueError(f"{value!r} is not an ISO 3166 alpha-2 country code")
        return code


class CalculateRequest(BaseModel):
    """A would-be declaration: what decides its customs value and taxes."""

    model_config = ConfigDict(extra="forbid")

    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    incoterm: str = Field(min_length=3, max_length=3, examples=["FOB"])
    acceptance_date: date | None = Field(default=None, description="Default: today")
    freight: Decimal = Field(default=Decimal(0), ge=0, description="Transport to the border, invoice currency")
    insurance: Decimal = Field(default=Decimal(0), ge=0, description="Insurance of that transport, invoice currency")
    freight_currency: str | None = Field(default=None, min_length=3, max_length=3, description="Default: currency")
    insurance_currency: str | None = Field(default=None, min_length=3, max_length=3, description="Default: currency")
    invoice_amount: Decimal | None = Field(default=None, ge=0)
    goods_items: list[GoodsItemRequest] = Field(min_length=1, max_length=999)

    @field_validator("currency", "freight_currency", "insurance_currency")
    @classmethod
    def _known_currency(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.upper()
        if not is_currency(code):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return code

    def to_input(self) -> DeclarationInput:
        return DeclarationInput(
            currency=self.currency.upper(),
            incoterm=self.incoterm.upper(),
            acceptance_date=self.acceptance_date or date.today(),
            freight=self.freight,
            insurance=self.insurance,
            invoice_amount=self.invoice_amount,
            freight_currency=self.freight_currency.upper() if self.freight_currency else None,
            insurance_currency=self.insurance_currency.upper() if self.insurance_currency else None,
            goods_items=tuple(
                GoodsItemInput(
                    commodity_code=item.commodity_code,
                    origin_country=item.origin_country.upper(),
                    item_price=item.item_price,
                    net_mass_kg=item.net_mass_kg,
                    supplementary_quantity=item.supplementary_quantity,
                    supplementary_unit=item.supplementary_unit,
                    preference_claimed=item.preference_claimed,
                    preference_programme=item.preference_programme,
                    sequence=position,
                )
                for position, item in enumerate(self.goods_items, start=1)
            ),
        )


def assessment_body(assessment: Assessment) -> dict[str, Any]:
    """The JSON body of an assessment: items with tax lines, totals, landed cost (value + taxes)."""

    def money(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    def plain(value: Decimal | None) -> str | None:
        return None if value is None else format(value.normalize(), "f")

    return {
        "national_currency": assessment.national_currency,
        "invoice_currency": assessment.invoice_currency,
        "exchange_rate": plain(assessment.exchange_rate),
        "acceptance_date": assessment.acceptance_date.isoformat(),
        "customs_value": money(assessment.customs_value),
        "totals": {k: money(v) for k, v in assessment.totals.items()},
        "total_taxes": money(assessment.total_taxes),
        "landed_cost": money(assessment.customs_value + assessment.total_taxes),
        "notes": list(assessment.notes),
        "items": [
            {
                "sequence": item.sequence,
                "commodity_code": format_code(item.commodity_code),
                "origin_country": item.origin_country,
                "customs_value": money(item.customs_value),
                "preference": item.preference,
                "tax_lines": [
                    {
                        "tax_type": line.tax_type,
                        "base": money(line.base),
                        "rate_text": line.rate_text,
                        "amount": money(line.amount),
                        "measure_id": line.measure_id,
                        "source": line.source,
                        "quantity": plain(line.quantity),
                        "quantity_unit": line.quantity_unit,
                        "note": line.note,
                    }
                    for line in item.tax_lines
                ],
            }
            for item in assessment.items
        ],
    }
