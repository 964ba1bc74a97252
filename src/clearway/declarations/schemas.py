"""The declaration as exchanged over the API, aligned with the WCO Data Model / EU single administrative document.

Validation collects every error at once. Checks that need reference data (the HS nomenclature) read it from the
pydantic validation context: `DeclarationIn.model_validate(data, context={"hs_subheadings": ...})`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from clearway.declarations.domain import container_number_problem, eori_problem
from clearway.errors import field_error

COUNTRIES = frozenset(c.alpha_2 for c in pycountry.countries)
CURRENCIES = frozenset(c.alpha_3 for c in pycountry.currencies)
INCOTERMS = ("EXW", "FCA", "FAS", "FOB", "CFR", "CIF", "CPT", "CIP", "DAP", "DPU", "DDP")
MAX_GOODS_ITEMS = 999


class _Subheadings:
    """The HS subheadings declared codes are checked against; the app sets them at start-up from the database."""

    codes: frozenset[str] | None = None


KNOWN_SUBHEADINGS = _Subheadings()


def _country(value: str) -> str:
    if value not in COUNTRIES:
        raise ValueError(f"'{value}' is not an ISO 3166-1 alpha-2 country code")
    return value


def _currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError(f"'{value}' is not an ISO 4217 currency code")
    return value


def _eori(value: str) -> str:
    problem = eori_problem(value, COUNTRIES)
    if problem:
        raise ValueError(f"malformed EORI '{value}': {problem}")
    return value


def _container(value: str) -> str:
    problem = container_number_problem(value)
    if problem:
        raise ValueError(f"container {value}: {problem}")
    return value


Upper = StringConstraints(strip_whitespace=True, to_upper=True)
CountryCode = Annotated[str, Upper, AfterValidator(_country)]
CurrencyCode = Annotated[str, Upper, AfterValidator(_currency)]
Eori = Annotated[str, Upper, AfterValidator(_eori)]
ContainerNumber = Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True), AfterValidator(_container)]
PositiveAmount = Annotated[Decimal, Field(gt=0, max_digits=18, decimal_places=2)]
PositiveMass = Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=3)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Address(Strict):
    street: Annotated[Text, Field(max_length=70)] | None = None
    city: Annotated[Text, Field(max_length=35)]
    postcode: Annotated[str, Field(max_length=9)] | None = None
    country: CountryCode


class Party(Strict):
    """A trader identified by EORI (declarant, importer, exporter)."""

    eori: Eori
    name: Annotated[Text, Field(max_length=70)]
    address: Address | None = None


class Money(Strict):
    currency: CurrencyCode
    amount: PositiveAmount


class BorderTransport(Strict):
    """Mode of transport at the border (UN/ECE Rec. 19 code) and the active means of transport."""

    mode: Literal["1", "2", "3", "4", "5", "7", "8", "9"]
    identity: Annotated[str, Field(max_length=35)] | None = None
    nationality: CountryCode | None = None


class SupplementaryQuantity(Strict):
    quantity: Annotated[Decimal, Field(gt=0, max_digits=16, decimal_places=3)]
    unit: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9.]{1,8}$")]


class Packages(Strict):
    count: Annotated[int, Field(ge=1, le=99_999_999)]
    kind: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z0-9]{2}$")] = "PK"
    marks: Annotated[str, Field(max_length=512)] | None = None


class DocumentReference(Strict):
    """A supporting document (certificate, licence, invoice) by its code and reference."""

    code: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z0-9]{4}$")]
    reference: Annotated[Text, Field(max_length=70)]


class GoodsItem(Strict):
    sequence: Annotated[int, Field(ge=1, le=MAX_GOODS_ITEMS)] | None = None
    hs_code: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\d{6}(\d{2}){0,2}$")] = Field(
        description="HS subheading (6 digits) or national tariff line (8 or 10 digits)"
    )
    description: Annotated[Text, Field(max_length=512)]
    country_of_origin: CountryCode
    preference_code: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, max_length=4)] | None = None
    net_mass_kg: PositiveMass
    gross_mass_kg: PositiveMass
    supplementary_quantity: SupplementaryQuantity | None = None
    item_price: PositiveAmount = Field(description="Price of the item in the invoice currency")
    packages: Packages | None = None
    documents: Annotated[list[DocumentReference], Field(max_length=99)] = Field(default_factory=list)

    @field_validator("hs_code")
    @classmethod
    def _known_subheading(cls, value: str, info: ValidationInfo) -> str:
        subheadings = (info.context or {}).get("hs_subheadings", KNOWN_SUBHEADINGS.codes)
        if subheadings is not None and value[:6] not in subheadings:
            raise ValueError(f"unknown HS code {value}: {value[:6]} is not a subheading of the HS 2022 nomenclature")
        return value

    @model_validator(mode="after")
    def _masses(self) -> GoodsItem:
        if self.gross_mass_kg < self.net_mass_kg:
            raise ValueError(f"gross mass {self.gross_mass_kg} kg is below net mass {self.net_mass_kg} kg")
        return self


class DeclarationIn(Strict):
    """A customs declaration as lodged by the declarant."""

    lrn: Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9._/-]{1,22}$")] = Field(
        description="Local reference number: the declarant's own reference, unique per declarant"
    )
    declaration_type: Literal["IM", "EX", "TR"] = Field(description="IM import, EX export, TR transit")
    additional_declaration_type: Literal["A", "B", "C", "D", "E", "F", "X", "Y", "Z"] = "A"
    procedure_code: Annotated[str, StringConstraints(pattern=r"^\d{4}$")] = Field(
        description="Requested and previous procedure, e.g. 4000 release for free circulation"
    )
    additional_procedure_code: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{3}$")] | None = None
    office_of_lodgement: Annotated[str, StringConstraints(to_upper=True, pattern=r"^[A-Z]{2}[A-Z0-9]{6}$")]
    declarant: Party
    importer: Party | None = None
    exporter: Party | None = None
    border_transport: BorderTransport
    containers: Annotated[list[ContainerNumber], Field(max_length=999)] = Field(default_factory=list)
    invoice: Money
    freight: Money | None = Field(None, description="Transport cost to the place of introduction, if not in the price")
    insurance: Money | None = None
    incoterm: Literal[INCOTERMS]  # type: ignore[valid-type]
    incoterm_place: Annotated[str, Field(max_length=35)] | None = None
    country_of_dispatch: CountryCode
    country_of_destination: CountryCode
    goods_items: Annotated[list[GoodsItem], Field(min_length=1, max_length=MAX_GOODS_ITEMS)]

    @field_validator("incoterm", mode="before")
    @classmethod
    def _incoterm_upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _consistency(self) -> DeclarationIn:
        if self.declaration_type == "IM" and self.importer is None:
            raise ValueError("an import declaration names the importer")
        if self.declaration_type == "EX" and self.exporter is None:
            raise ValueError("an export declaration names the exporter")
        for index, item in enumerate(self.goods_items, start=1):
            if item.sequence is None:
                item.sequence = index
            elif item.sequence != index:
                raise ValueError(f"goods item {index} carries sequence number {item.sequence}; items are numbered 1..n")
        return self


def field_path(loc: tuple[Any, ...]) -> str:
    """('goods_items', 0, 'hs_code') -> 'goods_items[0].hs_code'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.startswith("function-after") or part.startswith("literal["):
            continue
        else:
            path += f".{part}" if path else str(part)
    return path or "(body)"


def errors_from(exc: ValidationError) -> list[dict[str, str]]:
    """Each pydantic error as {field, reason}, in plain words."""
    return error_entries(exc.errors(include_url=False))


def error_entries(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Pydantic error dicts as {field, reason} entries, in plain words."""
    out = []
    for err in errors:
        reason = err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown field"
        elif err["type"] == "missing":
            reason = "required field is missing"
        elif err["type"] == "too_long" and err["loc"] and err["loc"][-1] == "goods_items":
            reason = f"at most {MAX_GOODS_ITEMS} goods items per declaration"
        out.append(field_error(field_path(err["loc"]), reason))
    return out


# -- responses ---------------------------------------------------------------------------------------------------


class EventOut(BaseModel):
    at: datetime
    action: str
    from_status: str | None
    to_status: str
    actor: str
    role: str
    reason: str | None = None
    details: dict[str, Any] | None = None


class DeclarationOut(BaseModel):
    id: str
    lrn: str
    mrn: str | None
    status: str
    channel: str | None
    version: int
    declarant_eori: str
    declaration_type: str
    office_of_lodgement: str
    submitted_at: datetime
    accepted_at: datetime | None
    released_at: datetime | None
    updated_at: datetime
    action_required: str | None = Field(None, description="What the declarant must do now, in words")
    document: dict[str, Any]
    history: list[EventOut] | None = None


class DeclarationSummary(BaseModel):
    id: str
    lrn: str
    mrn: str | None
    status: str
    channel: str | None
    declarant_eori: str
    declaration_type: str
    office_of_lodgement: str
    goods_item_count: int
    submitted_at: datetime
    updated_at: datetime


class DeclarationPage(BaseModel):
    items: list[DeclarationSummary]
    next_cursor: str | None


class AmendmentIn(Strict):
    reason: Annotated[Text, Field(max_length=512)]
    declaration: DeclarationIn


class CancellationIn(Strict):
    reason: Annotated[Text, Field(max_length=512)]


class RequestedDocument(Strict):
    code: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z0-9]{4}$")]
    description: Annotated[Text, Field(max_length=256)]
    goods_item: Annotated[int, Field(ge=1, le=MAX_GOODS_ITEMS)] | None = None


class ControlResult(Strict):
    outcome: Literal["no_finding", "discrepancy", "fraud"]
    findings: Annotated[str, Field(max_length=4000)] | None = None
    corrected_hs_codes: dict[int, Annotated[str, StringConstraints(pattern=r"^\d{6}(\d{2}){0,2}$")]] = Field(
        default_factory=dict, description="Goods item sequence -> HS code found on inspection"
    )
    additional_revenue: Money | None = None


class DecisionIn(Strict):
    """An officer's decision on a declaration under control."""

    decision: Literal[
        "request_documents", "record_control_result", "release", "refuse", "seize", "invalidate", "reroute"
    ]
    reason: Annotated[Text, Field(max_length=2000)] | None = None
    documents: Annotated[list[RequestedDocument], Field(max_length=50)] | None = None
    result: ControlResult | None = None
    channel: Literal["green", "yellow", "red"] | None = None

    @model_validator(mode="after")
    def _fields_for_decision(self) -> DecisionIn:
        if self.decision == "request_documents" and not self.documents:
            raise ValueError("a document request lists the documents needed (field 'documents')")
        if self.decision == "record_control_result" and self.result is None:
            raise ValueError("a control result needs the field 'result'")
        if self.decision in {"refuse", "seize", "invalidate", "reroute"} and not self.reason:
            raise ValueError(f"a decision to {self.decision} needs a reason")
        if self.decision == "reroute" and self.channel is None:
            raise ValueError("a re-routing names the new channel")
        return self


class NotificationOut(BaseModel):
    id: int
    created_at: datetime
    declaration_id: str
    lrn: str
    mrn: str | None
    type: str
    code: str | None = Field(None, description="CDS-style status code where one applies, e.g. 01 DMSACC")
    message: str
    details: dict[str, Any] | None = None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    cursor: int = Field(description="Pass as `after` to fetch the next notifications")
