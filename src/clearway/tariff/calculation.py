"""Customs value and taxes of a declaration: pure arithmetic over plain dataclasses, all money `Decimal`.

Order per goods item (docs/tariff.md explains each rule):
1. customs value: the item price plus its share of the adjustments the incoterm implies, converted to the national
   currency at the rate in force on the acceptance date and rounded to its minor unit. Invoice-level freight and
   insurance are apportioned to items by item price.
2. duty: the third-country measure, or an origin-specific one (US column 2), or a preference when the declaration
   claims it and the origin qualifies (the lowest such duty). Consignments at or below the duty de minimis pay none.
3. excise: the tariff's excise measures on the item, if any.
4. VAT on customs value + duty (+ excise when `vat_base_includes_excise`), at the tariff's VAT measure for the code
   or the configured national rate. Consignments at or below the VAT de minimis pay none.
Each tax is rounded half up to the national currency's minor unit per line; totals are sums of lines.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, NamedTuple

from clearway.errors import InvalidInput, field_error
from clearway.tariff.duty import DutyExpression, DutyNotComputable, parse_duty
from clearway.tariff.exchange import RateTable
from clearway.tariff.index import CompiledMeasure, ResolvedLine, TariffIndex, format_code
from clearway.tariff.money import quantum
from clearway.tariff.units import MissingQuantity, Unit, find_unit, parse_unit, quantity_in

ZERO = Decimal(0)
HUNDRED = Decimal(100)
TaxType = Literal["duty", "excise", "vat"]
TAX_TYPES: tuple[TaxType, ...] = ("duty", "excise", "vat")

INCOTERMS = ("EXW", "FCA", "FAS", "FOB", "CFR", "CPT", "CIF", "CIP", "DAP", "DPU", "DDP")
# What the invoice price already includes, up to the border of importation: (freight, insurance).
_PRICE_INCLUDES: dict[str, tuple[bool, bool]] = {
    "EXW": (False, False),
    "FCA": (False, False),
    "FAS": (False, False),
    "FOB": (False, False),
    "CFR": (True, False),
    "CPT": (True, False),
    "CIF": (True, True),
    "CIP": (True, True),
    "DAP": (True, True),
    "DPU": (True, True),
    "DDP": (True, True),
}


@dataclass(frozen=True, slots=True)
class GoodsItemInput:
    """A goods item as the calculation sees it. Prices are in the declaration's invoice currency."""

    commodity_code: str
    origin_country: str
    item_price: Decimal
    net_mass_kg: Decimal | None = None
    supplementary_quantity: Decimal | None = None
    supplementary_unit: str | None = None
    preference_claimed: bool = False
    preference_programme: str | None = None  # e.g. "KR"; None = any programme covering the origin
    sequence: int | None = None


@dataclass(frozen=True, slots=True)
class DeclarationInput:
    """The parts of a declaration that decide its taxes."""

    currency: str
    incoterm: str
    acceptance_date: date
    goods_items: tuple[GoodsItemInput, ...]
    freight: Decimal = ZERO  # international transport to the border of importation
    insurance: Decimal = ZERO  # insurance of that transport
    invoice_amount: Decimal | None = None  # when given, must equal the sum of item prices
    freight_currency: str | None = None  # None: the invoice currency
    insurance_currency: str | None = None  # None: the invoice currency


@dataclass(frozen=True, slots=True)
class CalculationPolicy:
    """The administration's choices (from settings)."""

    national_currency: str = "USD"
    valuation_basis: Literal["CIF", "FOB"] = "CIF"
    de_minimis_duty: Decimal = ZERO
    de_minimis_vat: Decimal = ZERO
    vat_rate: Decimal = ZERO  # percent; the national standard rate unless the tariff has a VAT measure
    vat_base_includes_excise: bool = False


class TaxLine(NamedTuple):
    """One tax on one goods item: its base (national currency), the rate applied, the amount, where it came from.

    Named tuples (not frozen dataclasses) because batch assessment creates millions of them.
    """

    tax_type: TaxType
    base: Decimal
    rate_text: str
    amount: Decimal
    measure_id: int | None
    source: str
    quantity: Decimal | None = None
    quantity_unit: str | None = None
    note: str | None = None


class ItemAssessment(NamedTuple):
    sequence: int
    commodity_code: str
    origin_country: str
    customs_value: Decimal
    tax_lines: tuple[TaxLine, ...]
    preference: str | None = None  # "granted: KR (US-Korea FTA)" / "refused: ..." / None (not claimed)

    def total(self, tax_type: TaxType | None = None) -> Decimal:
        return sum((t.amount for t in self.tax_lines if tax_type is None or t.tax_type == tax_type), ZERO)


@dataclass(frozen=True, slots=True)
class Assessment:
    national_currency: str
    invoice_currency: str
    exchange_rate: Decimal
    acceptance_date: date
    customs_value: Decimal
    items: tuple[ItemAssessment, ...]
    totals: Mapping[str, Decimal] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def total_taxes(self) -> Decimal:
        return sum(self.totals.values(), ZERO)


def _invalid(field_name: str, reason: str, detail: str | None = None) -> InvalidInput:
    return InvalidInput(detail or f"{field_name}: {reason}", errors=[field_error(field_name, reason)])


def _adjustment(incoterm: str, freight: Decimal, insurance: Decimal, basis: str) -> Decimal:
    """Returns the amount to add to the invoice price to reach the valuation basis (negative: to deduct)."""
    includes = _PRICE_INCLUDES.get(incoterm.upper())
    if includes is None:
        raise _invalid("incoterm", f"unknown incoterm {incoterm!r}; expected one of {', '.join(INCOTERMS)}")
    has_freight, has_insurance = includes
    if freight < 0 or insurance < 0:
        raise _invalid("freight", "freight and insurance must not be negative")
    if basis == "CIF":
        return (ZERO if has_freight else freight) + (ZERO if has_insurance else insurance)
    # FOB basis: transport and insurance beyond the place of export are not part of the value.
    return -((freight if has_freight else ZERO) + (insurance if has_insurance else ZERO))


@dataclass(frozen=True, slots=True)
class _DutyPlan:
    base: CompiledMeasure  # third-country or origin-specific measure
    eligible: tuple[tuple[CompiledMeasure, str], ...]  # preferences the origin qualifies for, with programme names
    refusal: str  # why no preference applies (when `eligible` is empty)


class Calculator:
    """Computes assessments against one tariff index and rate table; reusable across many declarations."""

    def __init__(self, *, tariff: TariffIndex, rates: RateTable, policy: CalculationPolicy) -> None:
        if policy.valuation_basis not in ("CIF", "FOB"):
            raise _invalid("valuation_basis", "expected CIF or FOB")
        for name in ("vat_rate", "de_minimis_duty", "de_minimis_vat"):
            if getattr(policy, name) < 0:
                raise _invalid(name, "must not be negative")
        self.tariff = tariff
        self.rates = rates
        self.policy = policy
        self.currency = policy.national_currency.upper()
        self._quantum = quantum(self.currency)
        self._zero = ZERO.quantize(self._quantum)
        self._vat_expression = parse_duty(f"{policy.vat_rate}%")
        self._units: dict[str, Unit] = {}
        self._plans: dict[tuple[object, ...], _DutyPlan] = {}
        self._vat_fraction = policy.vat_rate / HUNDRED

    # ------------------------------------------------------------------------------------------------ public
    def assess(self, declaration: DeclarationInput) -> Assessment:
        """Returns the customs value and tax lines of every goods item, and totals per tax type."""
        if not declaration.goods_items:
            raise _invalid("goods_items", "at least one goods item is required")
        on = declaration.acceptance_date
        fx = self.rates.rate_on(declaration.currency, on)
        prices = [item.item_price for item in declaration.goods_items]
        for position, price in enumerate(prices, start=1):
            if price < 0:
                raise _invalid(f"goods_items[{position}].item_price", "must not be negative")
        price_sum = sum(prices, ZERO)
        if declaration.invoice_amount is not None and declaration.invoice_amount != price_sum:
            raise _invalid(
                "invoice_amount", f"{declaration.invoice_amount} is not the sum of the item prices ({price_sum})"
            )
        freight, insurance = declaration.freight, declaration.insurance
        if freight:
            freight *= self._fx_of(declaration.freight_currency, declaration.currency, fx, on)
        if insurance:
            insurance *= self._fx_of(declaration.insurance_currency, declaration.currency, fx, on)
        # In the national currency; apportioned to items by their invoice price.
        adjustment = _adjustment(declaration.incoterm, freight, insurance, self.policy.valuation_basis)
        if price_sum * fx + adjustment < 0:
            raise _invalid("freight", "freight and insurance exceed the invoice price")
        count = len(prices)
        values: list[Decimal] = []
        for price in prices:
            # Apportion by price; equal shares when every price is zero.
            share = (adjustment * price / price_sum) if price_sum else adjustment / count
            values.append((price * fx + share).quantize(self._quantum, rounding=ROUND_HALF_UP))
        consignment_value = sum(values, ZERO)
        duty_exempt = self.policy.de_minimis_duty > 0 and consignment_value <= self.policy.de_minimis_duty
        vat_exempt = self.policy.de_minimis_vat > 0 and consignment_value <= self.policy.de_minimis_vat
        money = self._money_converter(on)
        items = tuple(
            self._assess_item(item, position, value, on, money, duty_exempt, vat_exempt)
            for position, (item, value) in enumerate(zip(declaration.goods_items, values, strict=True), start=1)
        )
        totals: dict[str, Decimal] = {tax_type: self._zero for tax_type in TAX_TYPES}
        for item in items:
            for line in item.tax_lines:
                totals[line.tax_type] += line.amount
        notes = []
        if duty_exempt:
            notes.append(f"duty de minimis: consignment value {consignment_value} <= {self.policy.de_minimis_duty}")
        if vat_exempt:
            notes.append(f"VAT de minimis: consignment value {consignment_value} <= {self.policy.de_minimis_vat}")
        return Assessment(
            national_currency=self.currency,
            invoice_currency=declaration.currency.upper(),
            exchange_rate=fx,
            acceptance_date=on,
            customs_value=consignment_value,
            items=items,
            totals=totals,
            notes=tuple(notes),
        )

    def assess_many(self, declarations: Iterable[DeclarationInput]) -> list[Assessment]:
        """The batch path: one calculator, cached tariff resolutions and parsed expressions, no database.

        The cyclic garbage collector is paused meanwhile: a batch allocates many objects that all stay alive
        (no cycles are created), and repeated collections would only rescan them.
        """
        paused = gc.isenabled()
        gc.disable()
        try:
            return [self.assess(declaration) for declaration in declarations]
        finally:
            if paused:
                gc.enable()

    # ------------------------------------------------------------------------------------------------ internals
    def _fx_of(self, currency: str | None, invoice_currency: str, invoice_fx: Decimal, on: date) -> Decimal:
        if currency is None or currency.upper() == invoice_currency.upper():
            return invoice_fx
        return self.rates.rate_on(currency, on)

    def _money_converter(self, on: date):  # type: ignore[no-untyped-def]
        rates = self.rates

        def money(currency: str) -> Decimal:
            return rates.rate_on(currency, on)

        return money

    def _unit(self, text: str, field_name: str) -> Unit:
        unit = self._units.get(text)
        if unit is None:
            unit = find_unit(text) or parse_unit(text, field=field_name)
            self._units[text] = unit
        return unit

    def _assess_item(
        self,
        item: GoodsItemInput,
        position: int,
        value: Decimal,
        on: date,
        money,  # type: ignore[no-untyped-def]
        duty_exempt: bool,
        vat_exempt: bool,
    ) -> ItemAssessment:
        sequence = item.sequence if item.sequence is not None else position
        line = self.tariff.resolve(item.commodity_code, on)
        origin = item.origin_country.upper()
        unit_text = item.supplementary_unit
        supplementary_unit = None
        if unit_text:
            supplementary_unit = self._units.get(unit_text) or self._unit(
                unit_text, f"goods_items[{sequence}].supplementary_unit"
            )

        def quantity(unit: Unit) -> Decimal:
            return quantity_in(
                unit,
                net_mass_kg=item.net_mass_kg,
                quantity=item.supplementary_quantity,
                quantity_unit=supplementary_unit,
                field=f"goods_items[{sequence}]",
            )

        if item.preference_claimed:
            measure, preference_note = self._duty_measure(line, item, origin, on, value, quantity, money, sequence)
        elif line.origin_rates:
            measure, preference_note = self._base_measure(line, origin, on), None
        else:
            measure, preference_note = line.third_country, None  # type: ignore[assignment]
        if duty_exempt:
            duty_amount = self._zero
            lines = [self._tax_line("duty", value, measure, duty_amount, quantity, "de minimis: no duty")]
        else:
            duty_amount = self._evaluate(measure, value, quantity, money, sequence)
            if measure.expression is not None and not measure.expression._units:  # no quantity to report
                record = measure.record
                lines = [
                    TaxLine(
                        "duty", value, record.duty_text, duty_amount, record.measure_id, measure.label, None, None, None
                    )
                ]
            else:
                lines = [self._tax_line("duty", value, measure, duty_amount, quantity, None)]
        vat_base = value + duty_amount
        if line.excise:
            excise_total = ZERO
            for excise in line.excise:
                amount = self._evaluate(excise, value, quantity, money, sequence)
                excise_total += amount
                lines.append(self._tax_line("excise", value, excise, amount, quantity, None))
            if self.policy.vat_base_includes_excise:
                vat_base += excise_total
        vat_measure = line.vat if line.vat is not None and line.vat.expression is not None else None
        if vat_exempt:
            vat_amount = self._zero
        elif vat_measure is None:
            vat_amount = (vat_base * self._vat_fraction).quantize(self._quantum, rounding=ROUND_HALF_UP)
        else:
            vat_amount = vat_measure.expression.evaluate(value=vat_base).quantize(  # type: ignore[union-attr]
                self._quantum, rounding=ROUND_HALF_UP
            )
        if vat_measure is None:
            lines.append(
                TaxLine(
                    "vat",
                    vat_base,
                    self._vat_expression.text,
                    vat_amount,
                    None,
                    "national VAT rate (settings)",
                    None,
                    None,
                    "de minimis: no VAT" if vat_exempt else None,
                )
            )
        else:
            lines.append(
                TaxLine(
                    "vat",
                    vat_base,
                    vat_measure.record.duty_text,
                    vat_amount,
                    vat_measure.record.measure_id,
                    vat_measure.label,
                    None,
                    None,
                    "de minimis: no VAT" if vat_exempt else None,
                )
            )
        return ItemAssessment(sequence, line.code, origin, value, tuple(lines), preference_note)

    def _evaluate(self, measure: CompiledMeasure, value: Decimal, quantity, money, sequence: int) -> Decimal:  # type: ignore[no-untyped-def]
        expression = measure.expression
        if expression is None:
            raise DutyNotComputable(
                f"The rate {measure.record.duty_text!r} of {measure.label} could not be read; "
                f"it needs an officer's assessment",
                errors=[field_error(f"goods_items[{sequence}].commodity_code", "rate text not machine-readable")],
            )
        fraction = expression.simple_fraction
        if fraction is not None:
            amount = value * fraction
        else:
            amount = expression.evaluate(value=value, quantity=quantity, money=money)
        return amount.quantize(self._quantum, rounding=ROUND_HALF_UP) if amount >= 0 else self._zero

    def _base_measure(self, line: ResolvedLine, origin: str, on: date) -> CompiledMeasure:
        """The third-country measure, or the origin-specific one (US column 2) covering `origin`."""
        third = line.third_country
        assert third is not None
        for origin_rate in line.origin_rates:
            if origin_rate.applies_to(origin, on):
                return origin_rate
        return third

    def _duty_plan(self, line: ResolvedLine, origin: str, on: date, wanted: str | None) -> _DutyPlan:
        """The preferences a claim can use for this code and origin (cached: it does not depend on value)."""
        key = (line.code, on, origin, wanted)
        plan = self._plans.get(key)
        if plan is not None:
            return plan
        base = self._base_measure(line, origin, on)
        eligible: list[tuple[CompiledMeasure, str]] = []
        reasons: list[str] = []
        for preference in line.preferences:
            claimed_symbol = None
            if wanted:
                if wanted in preference.programmes:
                    claimed_symbol = wanted
                elif wanted != (preference.record.programme or "").upper():
                    continue
            covered, reason, programme = preference.covers(origin, on, programme=claimed_symbol)
            if not covered:
                if reason:
                    reasons.append(reason)
                continue
            expression = preference.expression
            if expression is None or not expression.computable:
                reasons.append(f"{preference.label}: rate {preference.record.duty_text!r} is not machine-readable")
                continue
            name = f"{programme.code} ({programme.name})" if programme else (preference.record.programme or "")
            eligible.append((preference, name))
        if not line.preferences:
            refusal = f"no preference exists for {format_code(line.code)}"
        elif reasons:
            refusal = "; ".join(dict.fromkeys(reasons))
        elif wanted:
            refusal = f"programme {wanted} gives no preference to origin {origin} for {format_code(line.code)}"
        else:
            refusal = f"origin {origin} is not covered by any preference for {format_code(line.code)}"
        plan = _DutyPlan(base, tuple(eligible), refusal)
        if len(self._plans) > 500_000:
            self._plans.clear()
        self._plans[key] = plan
        return plan

    def _duty_measure(
        self,
        line: ResolvedLine,
        item: GoodsItemInput,
        origin: str,
        on: date,
        value: Decimal,
        quantity,
        money,
        sequence: int,
    ) -> tuple[CompiledMeasure, str | None]:  # type: ignore[no-untyped-def]
        wanted = item.preference_programme.upper() if item.preference_programme else None
        plan = self._duty_plan(line, origin, on, wanted)
        if not plan.eligible:
            return plan.base, f"refused: {plan.refusal}"
        best: tuple[Decimal, CompiledMeasure, str] | None = None
        for preference, name in plan.eligible:
            amount = self._evaluate(preference, value, quantity, money, sequence)
            if best is None or amount < best[0]:
                best = (amount, preference, name)
        assert best is not None
        if best[0] <= self._evaluate(plan.base, value, quantity, money, sequence):
            return best[1], f"granted: {best[2]}".strip()
        return plan.base, (
            f"refused: the preferential rate ({best[2]}) is higher than the {plan.base.record.measure_type} rate"
        )

    def _tax_line(
        self, tax_type: TaxType, value: Decimal, measure: CompiledMeasure, amount: Decimal, quantity, note: str | None
    ) -> TaxLine:  # type: ignore[no-untyped-def]
        expression: DutyExpression | None = measure.expression
        qty = unit_code = None
        if expression is not None and expression._units:
            unit = expression.units[0]
            try:
                qty, unit_code = quantity(unit), unit.code
            except MissingQuantity:
                if note is None:
                    raise
                qty = None  # de minimis: the duty is not charged, so its quantity need not be declared
        record = measure.record
        return TaxLine(
            tax_type, value, record.duty_text, amount, record.measure_id, measure.label, qty, unit_code, note
        )


def _decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def declaration_input(document: Mapping[str, object], *, acceptance_date: date) -> DeclarationInput:
    """Builds the calculation's view of a lodged declaration document (the declarations domain's JSON).

    Reads `invoice` {currency, amount}, optional `freight` / `insurance` {currency, amount} (transport to the border
    and its insurance; the incoterm says whether the price includes them), `incoterm`, and per goods item `sequence`,
    `hs_code`, `country_of_origin`, `preference_code`, `net_mass_kg`, `supplementary_quantity` {quantity, unit},
    `item_price`. A `preference_code` claims a preference: letters name the programme (`KR`, `S`, `A+`); digits
    (EU style, e.g. `300`) claim any programme covering the origin; `100` (no preference) or none claims nothing.
    Item prices are authoritative: the invoice total is not re-checked here.
    """
    invoice = document.get("invoice") or {}
    assert isinstance(invoice, Mapping)
    freight = document.get("freight") or {}
    insurance = document.get("insurance") or {}
    assert isinstance(freight, Mapping) and isinstance(insurance, Mapping)
    items = []
    raw_items = document.get("goods_items") or []
    assert isinstance(raw_items, list)
    for position, raw in enumerate(raw_items, start=1):
        code = str(raw.get("preference_code") or "").strip().upper()
        claimed = bool(code) and code != "100"
        programme = code if claimed and not code.isdigit() else None
        quantity = raw.get("supplementary_quantity") or {}
        items.append(
            GoodsItemInput(
                commodity_code=str(raw["hs_code"]),
                origin_country=str(raw["country_of_origin"]).upper(),
                item_price=_decimal(raw["item_price"]),
                net_mass_kg=_decimal(raw["net_mass_kg"]) if raw.get("net_mass_kg") is not None else None,
                supplementary_quantity=_decimal(quantity["quantity"]) if quantity else None,
                supplementary_unit=str(quantity["unit"]) if quantity else None,
                preference_claimed=claimed,
                preference_programme=programme,
                sequence=int(raw.get("sequence") or position),
            )
        )
    return DeclarationInput(
        currency=str(invoice.get("currency", "")).upper(),
        incoterm=str(document.get("incoterm", "")).upper(),
        acceptance_date=acceptance_date,
        goods_items=tuple(items),
        freight=_decimal(freight["amount"]) if freight else ZERO,
        insurance=_decimal(insurance["amount"]) if insurance else ZERO,
        freight_currency=str(freight["currency"]).upper() if freight else None,
        insurance_currency=str(insurance["currency"]).upper() if insurance else None,
    )
