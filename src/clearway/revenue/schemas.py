"""Request and response bodies of the revenue API. Money is a JSON string (Decimal), never a float."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from clearway.declarations.schemas import CurrencyCode, Eori

Amount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=3)]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._/:-]{1,64}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PaymentIn(Strict):
    amount: Amount
    currency: CurrencyCode
    method: Literal["cash", "card", "bank_transfer", "deferment"]
    reference: Reference = Field(description="The payment's own reference (bank, till); a retry with it is harmless")
    received_at: datetime | None = Field(default=None, description="When the money was received; default now")


class RefundIn(Strict):
    amount: Amount
    reference: Reference = Field(description="The refund's own reference; a retry with it is harmless")


class ManualLineIn(Strict):
    goods_item: Annotated[int, Field(ge=1, le=999)] | None = Field(None, description="None: the whole declaration")
    tax_type: Literal["duty", "excise", "vat"]
    base: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=3)]
    rate_text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    amount: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=3)]


class ManualAssessmentIn(Strict):
    """An officer's assessment of what the tariff cannot compute; an empty list means nothing is due."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    tax_lines: Annotated[list[ManualLineIn], Field(max_length=999 * 3)]


class PaymentOut(BaseModel):
    id: int
    declaration_id: str
    amount: Decimal
    currency: str
    method: str
    reference: str
    received_at: datetime
    recorded_by: str


class TaxLineOut(BaseModel):
    goods_item: int | None
    commodity_code: str | None
    origin_country: str | None
    tax_type: str
    base: Decimal
    rate_text: str
    amount: Decimal
    measure_id: int | None
    source: str
    quantity: Decimal | None = None
    quantity_unit: str | None = None
    note: str | None = None
    preference: str | None = None


class AssessmentOut(BaseModel):
    sequence: int
    declaration_version: int
    status: Literal["assessed", "impossible"]
    reason: str
    problem: str | None
    acceptance_date: date
    national_currency: str
    invoice_currency: str
    exchange_rate: Decimal | None
    customs_value: Decimal | None
    totals: dict[str, Decimal]
    total_due: Decimal
    difference: Decimal = Field(description="Change against the previous assessment (negative: less is due)")
    notes: list[str] = Field(default_factory=list)
    created_at: datetime
    tax_lines: list[TaxLineOut] | None = None


class RevenueOut(BaseModel):
    """Where the declaration's revenue stands: the latest assessment, payments, guarantee, what remains."""

    declaration_id: str
    mrn: str | None
    administered: bool = Field(description="False when this instance assesses no taxes on the declaration")
    message: str
    currency: str
    assessment: AssessmentOut | None
    total_due: Decimal
    paid: Decimal
    guaranteed: Decimal = Field(description="Reserved on a deferment account")
    outstanding: Decimal = Field(description="Still to pay or guarantee before release")
    refund_due: Decimal = Field(description="Paid beyond what is due after a re-assessment")
    settled: bool
    payments: list[PaymentOut]
    history: list[AssessmentOut]


class AccountIn(Strict):
    number: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z0-9-]{3,35}$")]
    holder_eori: Eori
    limit: Annotated[Decimal, Field(ge=0, max_digits=18, decimal_places=3)]
    currency: CurrencyCode | None = Field(default=None, description="Default: the national currency")


class TopUpIn(Strict):
    amount: Amount
    note: Annotated[str, Field(max_length=500)] | None = None


class MovementOut(BaseModel):
    at: datetime
    kind: str
    amount: Decimal
    available_after: Decimal
    declaration_id: str | None
    note: str | None
    actor: str


class AccountOut(BaseModel):
    number: str
    holder_eori: str
    currency: str
    limit: Decimal
    used: Decimal
    available: Decimal
    created_at: datetime
    movements: list[MovementOut] | None = None
