"""Revenue on a declaration: its assessment (tax lines), payments and guarantees, and whether release may go ahead.

Called by the lifecycle at acceptance, after amendments and inspections, and before release. Nothing commits here.

- The taxes come from the tariff calculation (clearway.tariff) for the declaration's current document, at the
  exchange rates and measures in force on the date of acceptance (UTC). Each computation that differs from the
  previous one is stored as a new, immutable assessment with the difference to pay (or refund).
- An assessment that cannot be computed (no exchange rate, a code without a duty in force, a rate text only an
  officer can apply) is stored as `impossible` with the reason, and release waits: nothing is ever guessed.
- A database without any tariff loaded does not administer revenue: nothing is due (the foundation's tests and a bare
  install run that way); `clearway tariff load` and `clearway rates load` switch assessment on.
- Only import declarations (type IM) bear import duties and VAT here.
- What remains to pay = total of the latest assessment - payments - the amount reserved on a deferment account.
  A deferment account covers the declarations whose importer or declarant EORI holds it; a reservation is made only
  when the available balance covers the whole outstanding amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clearway.auth.models import User
from clearway.auth.service import audit
from clearway.db import utcnow
from clearway.declarations.corrections import item_code_corrections
from clearway.declarations.domain import FINAL, Role, Status
from clearway.declarations.models import ControlResult, Declaration
from clearway.errors import ClearwayError, Conflict, Forbidden, InvalidInput, NotFound, field_error
from clearway.revenue.models import Assessment, GuaranteeAccount, GuaranteeMovement, Payment, TaxLine
from clearway.tariff import service as tariff
from clearway.tariff.calculation import DeclarationInput, GoodsItemInput
from clearway.tariff.calculation import TaxLine as CalculatedLine
from clearway.tariff.models import TariffVersion
from clearway.tariff.money import quantum

RELEASE_JOB = "declaration.release"  # clearway.declarations.service.RELEASE_JOB (that module imports this one)
ZERO = Decimal(0)
SYSTEM_ACTOR = ("system", Role.SYSTEM.value)
PAYMENT_ROLES = {Role.CUSTOMS_OFFICER, Role.ADMINISTRATOR}
STAFF_ROLES = {Role.CUSTOMS_OFFICER, Role.RISK_ANALYST, Role.CHECKPOINT_OPERATOR, Role.ADMINISTRATOR}
NOT_IMPORT = "no import duties or VAT are assessed on an export or transit declaration"
NOT_ADMINISTERED = "no tariff is loaded in this database, so no taxes are assessed (revenue is not administered here)"


# ----------------------------------------------------------------------------------------------- settings, money
def _settings(session: Session) -> Any:
    settings = session.info.get("settings")
    if settings is None:
        from clearway.config import get_settings

        settings = get_settings()
    return settings


def national_currency(session: Session) -> str:
    """The currency taxes are assessed and paid in (CLEARWAY_NATIONAL_CURRENCY)."""
    return str(_settings(session).national_currency).upper()


def _money(amount: Decimal | None, currency: str) -> Decimal:
    return Decimal(amount or 0).quantize(quantum(currency), rounding=ROUND_HALF_UP)


def _fmt(amount: Decimal, currency: str) -> str:
    return f"{currency} {_money(amount, currency):,}"


# ----------------------------------------------------------------------------------------------- computation
@dataclass(frozen=True)
class _Computed:
    status: str  # assessed | impossible
    problem: str | None
    exchange_rate: Decimal | None
    customs_value: Decimal | None
    invoice_currency: str
    lines: list[dict[str, Any]]
    notes: list[str]

    def totals(self, currency: str) -> dict[str, Decimal]:
        totals = {"duty": ZERO, "excise": ZERO, "vat": ZERO}
        for line in self.lines:
            totals[line["tax_type"]] += line["amount"]
        return {k: _money(v, currency) for k, v in totals.items()}

    def signature(self, currency: str) -> tuple[Any, ...]:
        return (
            self.status,
            self.problem,
            tuple(
                (
                    line["goods_item"],
                    line["commodity_code"],
                    line["tax_type"],
                    _money(line["amount"], currency),
                    line["rate_text"],
                    _money(line["base"], currency),
                )
                for line in self.lines
            ),
        )


def _acceptance_date(decl: Declaration) -> date:
    return (decl.accepted_at or decl.submitted_at).date()


def _corrections(session: Session, decl: Declaration) -> tuple[dict[int, str], list[ControlResult]]:
    """HS codes corrected by control results (latest wins) and the results that assessed extra revenue."""
    results = list(
        session.scalars(select(ControlResult).where(ControlResult.declaration_id == decl.id).order_by(ControlResult.id))
    )
    return item_code_corrections(session, decl.id), [result for result in results if result.additional_revenue]


def _compute(session: Session, decl: Declaration, currency: str) -> _Computed:
    """The declaration's taxes now, or why they cannot be computed (never raises a domain error)."""
    document = decl.document
    invoice_currency = str(document["invoice"]["currency"]).upper()
    on = _acceptance_date(decl)

    def impossible(problem: str) -> _Computed:
        return _Computed("impossible", problem, None, None, invoice_currency, [], [])

    try:
        calculator = tariff.calculator(db_session=session, settings=_settings(session))
    except ClearwayError as exc:
        return impossible(exc.detail)
    corrected, extra = _corrections(session, decl)
    rates = calculator.rates
    problems = []
    items = []
    for position, item in enumerate(document["goods_items"], start=1):
        sequence = int(item.get("sequence") or position)
        code = corrected.get(sequence, item["hs_code"])
        try:
            calculator.tariff.resolve(code, on)
        except ClearwayError as exc:
            problems.append(f"goods item {sequence}: {exc.detail}")
        supplementary = item.get("supplementary_quantity") or {}
        preference_code = str(item.get("preference_code") or "")
        items.append(
            GoodsItemInput(
                commodity_code=code,
                origin_country=item["country_of_origin"],
                item_price=Decimal(item["item_price"]),
                net_mass_kg=Decimal(item["net_mass_kg"]) if item.get("net_mass_kg") else None,
                supplementary_quantity=Decimal(supplementary["quantity"]) if supplementary else None,
                supplementary_unit=supplementary.get("unit") if supplementary else None,
                # Union preference codes: 2xx GSP, 3xx other tariff preferences; 1xx is the third-country duty.
                preference_claimed=preference_code[:1] in ("2", "3"),
                sequence=sequence,
            )
        )
    if problems:
        return impossible("; ".join(problems))
    try:
        invoice_rate = rates.rate_on(invoice_currency, on)

        def in_invoice_currency(part: dict[str, Any] | None) -> Decimal:
            if not part:
                return ZERO
            amount = Decimal(part["amount"])
            other = str(part["currency"]).upper()
            return amount if other == invoice_currency else amount * rates.rate_on(other, on) / invoice_rate

        calculation = calculator.assess(
            DeclarationInput(
                currency=invoice_currency,
                incoterm=document["incoterm"],
                acceptance_date=on,
                goods_items=tuple(items),
                freight=in_invoice_currency(document.get("freight")),
                insurance=in_invoice_currency(document.get("insurance")),
            )
        )
        lines = [
            _line_row(item.sequence, item.commodity_code, item.origin_country, line, item.preference)
            for item in calculation.items
            for line in item.tax_lines
        ]
        for result in extra:
            assert result.additional_revenue is not None
            source_currency = (result.revenue_currency or currency).upper()
            amount = _money(result.additional_revenue * rates.rate_on(source_currency, on), currency)
            lines.append(
                {
                    "goods_item": None,
                    "commodity_code": None,
                    "origin_country": None,
                    "tax_type": "duty",
                    "base": amount,
                    "rate_text": f"additional revenue {source_currency} {result.additional_revenue}",
                    "amount": amount,
                    "measure_id": None,
                    "source": f"{result.kind} control result {result.id} by {result.officer}",
                    "quantity": None,
                    "quantity_unit": None,
                    "note": result.findings,
                    "preference": None,
                }
            )
    except ClearwayError as exc:
        return impossible(exc.detail)
    return _Computed(
        "assessed",
        None,
        calculation.exchange_rate,
        calculation.customs_value,
        invoice_currency,
        lines,
        list(calculation.notes),
    )


def _line_row(sequence: int, code: str, origin: str, line: CalculatedLine, preference: str | None) -> dict[str, Any]:
    return {
        "goods_item": sequence,
        "commodity_code": code,
        "origin_country": origin,
        "tax_type": line.tax_type,
        "base": line.base,
        "rate_text": line.rate_text,
        "amount": line.amount,
        "measure_id": line.measure_id,
        "source": line.source[:200],
        "quantity": line.quantity,
        "quantity_unit": line.quantity_unit,
        "note": line.note,
        "preference": preference if line.tax_type == "duty" else None,
    }


def _administered(session: Session, decl: Declaration) -> str | None:
    """None when this instance assesses taxes on the declaration; otherwise why not."""
    if decl.declaration_type != "IM":
        return NOT_IMPORT
    if session.scalar(select(TariffVersion.id).limit(1)) is None:
        return NOT_ADMINISTERED
    return None


# ----------------------------------------------------------------------------------------------- lifecycle hooks
def assess(*, session: Session, declaration: Declaration, reason: str) -> None:
    """Computes (or recomputes) the declaration's tax lines and the amount due, in the caller's transaction."""
    decl = declaration
    if decl.accepted_at is None or _administered(session, decl) is not None:
        return
    computed = _compute(session, decl, national_currency(session))
    _record_assessment(session, decl, computed, reason, SYSTEM_ACTOR)


def _record_assessment(
    session: Session, decl: Declaration, computed: _Computed, reason: str, actor: tuple[str, str]
) -> None:
    """Stores `computed` when it differs from the latest assessment, re-balances the guarantee, tells the trader."""
    currency = national_currency(session)
    previous = latest(session=session, declaration_id=decl.id)
    if previous is None or _signature(previous, currency) != computed.signature(currency):
        totals = computed.totals(currency)
        total_due = _money(sum(totals.values(), ZERO), currency) if computed.status == "assessed" else ZERO
        # The difference is against the last computed assessment; an impossible one changes nothing yet.
        last_assessed = session.scalars(
            select(Assessment.total_due)
            .where(Assessment.declaration_id == decl.id, Assessment.status == "assessed")
            .order_by(Assessment.sequence.desc())
            .limit(1)
        ).first()
        before = total_due if computed.status != "assessed" else Decimal(last_assessed or 0)
        assessment = Assessment(
            declaration_id=decl.id,
            sequence=(previous.sequence + 1) if previous is not None else 1,
            declaration_version=decl.version,
            status=computed.status,
            reason=reason,
            problem=computed.problem,
            acceptance_date=_acceptance_date(decl),
            national_currency=currency,
            invoice_currency=computed.invoice_currency,
            exchange_rate=computed.exchange_rate,
            customs_value=computed.customs_value,
            duty=totals["duty"],
            excise=totals["excise"],
            vat=totals["vat"],
            total_due=total_due,
            difference=_money(total_due - before, currency),
            notes=computed.notes,
            created_at=utcnow(),
            tax_lines=[
                TaxLine(**{**line, "base": _money(line["base"], currency), "amount": _money(line["amount"], currency)})
                for line in computed.lines
            ],
        )
        session.add(assessment)
        session.flush()
        audit(
            session=session,
            actor=actor[0],
            role=actor[1],
            action="revenue.assess",
            entity_type="declaration",
            entity_id=decl.id,
            details={
                "sequence": assessment.sequence,
                "status": computed.status,
                "reason": reason,
                "problem": computed.problem,
                "total_due": str(total_due),
                "difference": str(assessment.difference),
            },
        )
        stored = True
    else:
        stored = False
    _cover(session, decl, actor)
    if decl.status == Status.AWAITING_PAYMENT:
        if duties_settled(session=session, declaration=decl):
            _enqueue_release(session, decl)
        elif stored:  # the trader waiting for release hears the new amount at once
            _notify(session, decl, "payment_required", None, f"re-assessed after {reason}")


def manual_assess(
    *, session: Session, user: User, declaration_id: str, reason: str, lines: list[dict[str, Any]]
) -> Declaration:
    """An officer's assessment, for what the tariff cannot compute (a rate on part of the goods, a reference to
    another provision): the lines given replace the latest assessment until the next re-assessment."""
    if user.role != Role.CUSTOMS_OFFICER:
        raise Forbidden(f"taxes are assessed by customs officers; you are {user.role}")
    decl = _lock(session, declaration_id, user)
    if decl.status in FINAL:
        raise Conflict(f"declaration {decl.mrn or decl.lrn} is {decl.status}; it can no longer be assessed")
    if decl.accepted_at is None:
        raise Conflict("the declaration is not accepted yet")
    by_item = {int(item.get("sequence") or n): item for n, item in enumerate(decl.document["goods_items"], start=1)}
    errors = [
        field_error(f"tax_lines[{n}].goods_item", f"no goods item {line['goods_item']} on this declaration")
        for n, line in enumerate(lines)
        if line.get("goods_item") is not None and line["goods_item"] not in by_item
    ]
    if errors:
        raise InvalidInput("the assessment names goods items the declaration does not have", errors=errors)
    rows = [
        {
            "goods_item": line.get("goods_item"),
            "commodity_code": None,
            "origin_country": None,
            "tax_type": line["tax_type"],
            "base": line["base"],
            "rate_text": line["rate_text"],
            "amount": line["amount"],
            "measure_id": None,
            "source": f"officer {user.username}",
            "quantity": None,
            "quantity_unit": None,
            "note": None,
            "preference": None,
        }
        for line in lines
    ]
    for row in rows:
        item = by_item.get(row["goods_item"]) if row["goods_item"] is not None else None
        if item is not None:
            row["commodity_code"], row["origin_country"] = item["hs_code"], item["country_of_origin"]
    computed = _Computed("assessed", None, None, None, str(decl.document["invoice"]["currency"]).upper(), rows, [])
    _record_assessment(session, decl, computed, f"officer's assessment: {reason}", (user.username, user.role))
    return decl


def _signature(assessment: Assessment, currency: str) -> tuple[Any, ...]:
    return (
        assessment.status,
        assessment.problem,
        tuple(
            (
                line.goods_item,
                line.commodity_code,
                line.tax_type,
                _money(line.amount, currency),
                line.rate_text,
                _money(line.base, currency),
            )
            for line in assessment.tax_lines
        ),
    )


def _enqueue_release(session: Session, decl: Declaration) -> None:
    from clearway.workers.jobs import enqueue

    enqueue(session, RELEASE_JOB, {"declaration_id": decl.id})


def latest(*, session: Session, declaration_id: str) -> Assessment | None:
    return session.scalars(
        select(Assessment).where(Assessment.declaration_id == declaration_id).order_by(Assessment.sequence.desc())
    ).first()


@dataclass(frozen=True)
class Position:
    """Where the declaration's revenue stands, in the national currency."""

    currency: str
    administered: str | None  # None: taxes are assessed here; else why not
    assessment: Assessment | None
    total_due: Decimal
    paid: Decimal
    guaranteed: Decimal
    outstanding: Decimal
    refund_due: Decimal

    @property
    def settled(self) -> bool:
        if self.administered is not None or self.assessment is None:
            return True
        return self.assessment.status == "assessed" and self.outstanding == 0


def _reservations(session: Session, decl_id: str) -> dict[int, Decimal]:
    """Open reservations per account for the declaration."""
    open_: dict[int, Decimal] = {}
    rows = session.scalars(select(GuaranteeMovement).where(GuaranteeMovement.declaration_id == decl_id))
    for movement in rows:
        sign = 1 if movement.kind == "reservation" else -1 if movement.kind == "release" else 0
        open_[movement.account_id] = open_.get(movement.account_id, ZERO) + sign * Decimal(movement.amount)
    return {account: amount for account, amount in open_.items() if amount > 0}


def position(*, session: Session, declaration: Declaration) -> Position:
    currency = national_currency(session)
    administered = _administered(session, declaration)
    assessment = latest(session=session, declaration_id=declaration.id)
    payments = session.scalars(select(Payment.amount).where(Payment.declaration_id == declaration.id))
    paid = _money(sum((Decimal(p) for p in payments), ZERO), currency)
    guaranteed = _money(sum(_reservations(session, declaration.id).values(), ZERO), currency)
    total_due = _money(assessment.total_due, currency) if assessment is not None else ZERO
    outstanding = max(ZERO, total_due - paid - guaranteed)
    refund_due = max(ZERO, paid - total_due) if assessment is not None and assessment.status == "assessed" else ZERO
    return Position(currency, administered, assessment, total_due, paid, guaranteed, outstanding, refund_due)


def duties_settled(*, session: Session, declaration: Declaration) -> bool:
    """Whether what is due on the declaration is paid or covered by a guarantee, so the goods may be released."""
    return position(session=session, declaration=declaration).settled


# ----------------------------------------------------------------------------------------------- deferment
def _accounts_for(session: Session, decl: Declaration) -> list[GuaranteeAccount]:
    """Deferment accounts that may cover the declaration: the importer's first, then the declarant's."""
    eoris = [e for e in (decl.importer_eori, decl.declarant_eori) if e]
    rows = list(
        session.scalars(
            select(GuaranteeAccount).where(GuaranteeAccount.holder_eori.in_(eoris)).order_by(GuaranteeAccount.id)
        )
    )
    return sorted(rows, key=lambda a: eoris.index(a.holder_eori))


def available(account: GuaranteeAccount, currency: str) -> Decimal:
    """What the account can still cover."""
    return _money(Decimal(account.limit) - Decimal(account.used), currency)


def _move(
    session: Session,
    account: GuaranteeAccount,
    kind: str,
    amount: Decimal,
    actor: tuple[str, str],
    currency: str,
    *,
    declaration_id: str | None = None,
    note: str | None = None,
) -> None:
    if kind == "reservation":
        account.used = _money(Decimal(account.used) + amount, currency)
    elif kind == "release":
        account.used = _money(Decimal(account.used) - amount, currency)
    else:  # top_up
        account.limit = _money(Decimal(account.limit) + amount, currency)
    session.add(
        GuaranteeMovement(
            account_id=account.id,
            declaration_id=declaration_id,
            kind=kind,
            amount=_money(amount, currency),
            available_after=available(account, currency),
            note=note,
            actor=actor[0],
            at=utcnow(),
        )
    )
    audit(
        session=session,
        actor=actor[0],
        role=actor[1],
        action=f"guarantee.{kind}",
        entity_type="guarantee_account",
        entity_id=account.number,
        details={"amount": str(_money(amount, currency)), "declaration_id": declaration_id, "note": note},
    )


def _cover(session: Session, decl: Declaration, actor: tuple[str, str]) -> None:
    """Keeps the declaration's reservation equal to what it still owes (all or nothing per account)."""
    currency = national_currency(session)
    current = position(session=session, declaration=decl)
    assessment = current.assessment
    target = ZERO
    if assessment is not None and assessment.status == "assessed" and decl.status not in FINAL - {Status.RELEASED}:
        target = max(ZERO, current.total_due - current.paid)
    open_ = _reservations(session, decl.id)
    if sum(open_.values(), ZERO) == target:
        return
    if open_:
        accounts = {
            a.id: a
            for a in session.scalars(
                select(GuaranteeAccount).where(GuaranteeAccount.id.in_(list(open_))).with_for_update()
            )
        }
        for account_id, amount in open_.items():
            _move(
                session,
                accounts[account_id],
                "release",
                amount,
                actor,
                currency,
                declaration_id=decl.id,
                note="re-assessed or paid",
            )
    if target <= 0 or decl.status == Status.RELEASED:
        return
    for account in _accounts_for(session, decl):
        session.refresh(account, with_for_update=True)
        _release_stale(session, account, actor)
        if available(account, currency) >= target:
            _move(
                session,
                account,
                "reservation",
                target,
                actor,
                currency,
                declaration_id=decl.id,
                note=f"duties on {decl.mrn or decl.lrn}",
            )
            return


def _release_stale(session: Session, account: GuaranteeAccount, actor: tuple[str, str]) -> None:
    """Frees what the account still reserves for declarations that ended without release (cancelled, refused...)."""
    ended = [status.value for status in FINAL - {Status.RELEASED}]
    rows = session.execute(
        select(GuaranteeMovement.declaration_id, GuaranteeMovement.kind, GuaranteeMovement.amount)
        .join(Declaration, Declaration.id == GuaranteeMovement.declaration_id)
        .where(GuaranteeMovement.account_id == account.id, Declaration.status.in_(ended))
    )
    open_: dict[str, Decimal] = {}
    for declaration_id, kind, amount in rows:
        sign = 1 if kind == "reservation" else -1
        open_[declaration_id] = open_.get(declaration_id, ZERO) + sign * Decimal(amount)
    currency = national_currency(session)
    for declaration_id, amount in open_.items():
        if amount > 0:
            _move(
                session,
                account,
                "release",
                amount,
                actor,
                currency,
                declaration_id=declaration_id,
                note="declaration ended without release",
            )


def payment_details(session: Session, declaration: Declaration) -> dict[str, Any]:
    """What the trader needs to settle the declaration: amount, currency, how to pay (notification details)."""
    current = position(session=session, declaration=declaration)
    assessment = current.assessment
    details: dict[str, Any] = {
        "amount_due": str(current.outstanding),
        "currency": current.currency,
        "notification_code": "13 DMSTAX",
        "pay_at": f"/api/v1/declarations/{declaration.id}/payments",
    }
    if assessment is not None:
        details["assessment"] = assessment.sequence
        details["totals"] = {"duty": str(assessment.duty), "excise": str(assessment.excise), "vat": str(assessment.vat)}
        if assessment.status == "impossible":
            details["problem"] = assessment.problem
    accounts = _accounts_for(session, declaration)
    if accounts and current.outstanding > 0:
        details["notification_code"] = "14 DMSCPI"
        details["deferment_accounts"] = [
            {"number": a.number, "available": str(available(a, current.currency))} for a in accounts
        ]
    return details


def payment_reason(session: Session, declaration: Declaration) -> str:
    """Why release waits, with how much, in which currency and how to pay (CDS DMSTAX / DMSCPI)."""
    current = position(session=session, declaration=declaration)
    assessment = current.assessment
    reference = declaration.mrn or declaration.lrn
    if assessment is not None and assessment.status == "impossible":
        return (
            f"the duties cannot be assessed automatically: {assessment.problem}. "
            "Amend the declaration or ask the office to assess it; "
            "release waits until the duties are assessed and settled"
        )
    currency = current.currency
    parts = [
        f"{name} {_fmt(getattr(assessment, key), currency)}"
        for key, name in (("duty", "duty"), ("excise", "excise"), ("vat", "VAT"))
        if assessment is not None and getattr(assessment, key)
    ]
    due = f"{_fmt(current.outstanding, currency)} is due" + (f" ({', '.join(parts)})" if parts else "")
    how = (
        f"pay it by cash, card or bank transfer quoting MRN {reference} "
        f"(recorded at POST /api/v1/declarations/{declaration.id}/payments)"
    )
    accounts = _accounts_for(session, declaration)
    if accounts:
        balances = ", ".join(
            f"{a.number} of {a.holder_eori} has {_fmt(available(a, currency), currency)} available" for a in accounts
        )
        return f"insufficient deferment balance: {due}, but deferment account {balances}; top up the account or {how}"
    return f"duties not yet paid or guaranteed: {due}; {how}, or cover it with a deferment account"


# ----------------------------------------------------------------------------------------------- use cases
def _lock(session: Session, declaration_id: str, user: User) -> Declaration:
    from clearway.declarations import service as declarations

    return declarations.get(session=session, user=user, declaration_id=declaration_id, for_update=True)


def revenue_of(*, session: Session, user: User, declaration_id: str) -> tuple[Declaration, Position]:
    """The declaration (if the user may see it) and where its revenue stands."""
    from clearway.declarations import service as declarations

    decl = declarations.get(session=session, user=user, declaration_id=declaration_id)
    return decl, position(session=session, declaration=decl)


def history(*, session: Session, declaration_id: str) -> list[Assessment]:
    return list(
        session.scalars(
            select(Assessment).where(Assessment.declaration_id == declaration_id).order_by(Assessment.sequence)
        )
    )


def payments(*, session: Session, declaration_id: str) -> list[Payment]:
    return list(session.scalars(select(Payment).where(Payment.declaration_id == declaration_id).order_by(Payment.id)))


def record_payment(
    *,
    session: Session,
    user: User,
    declaration_id: str,
    amount: Decimal,
    currency: str,
    method: str,
    reference: str,
    received_at: datetime | None = None,
) -> tuple[Payment, bool]:
    """Records money received for a declaration and queues its release check. Returns (payment, created).

    The same reference again for the same declaration and amount is the same payment (a retry); with other
    content it is a conflict.
    """
    if user.role not in PAYMENT_ROLES:
        raise Forbidden(f"payments are recorded by customs officers or a payment system; you are {user.role}")
    decl = _lock(session, declaration_id, user)
    national = national_currency(session)
    existing = session.scalars(select(Payment).where(Payment.reference == reference)).first()
    if existing is not None:
        return _replayed(existing, decl.id, amount, currency), False
    if currency.upper() != national:
        raise InvalidInput(
            f"payments are in the national currency {national}, not {currency}",
            errors=[field_error("currency", f"expected {national}")],
        )
    if amount != _money(amount, national):
        raise InvalidInput(
            f"{amount} has more decimals than {national} allows",
            errors=[field_error("amount", f"round to {quantum(national)}")],
        )
    return _record_money(
        session,
        user,
        decl,
        amount=amount,
        method=method,
        reference=reference,
        received_at=received_at,
        action="revenue.payment",
    )


def _record_money(
    session: Session,
    user: User,
    decl: Declaration,
    *,
    amount: Decimal,
    method: str,
    reference: str,
    received_at: datetime | None,
    action: str,
) -> tuple[Payment, bool]:
    """Stores a payment (or, negative, a refund) once per reference, audits it and re-balances the guarantee."""
    national = national_currency(session)
    payment = Payment(
        declaration_id=decl.id,
        amount=amount,
        currency=national,
        method=method,
        reference=reference,
        received_at=received_at or utcnow(),
        recorded_by=user.username,
    )
    try:
        with session.begin_nested():
            session.add(payment)
            session.flush()
    except IntegrityError:
        # A concurrent request with the same reference (for another declaration) committed first.
        existing = session.scalars(select(Payment).where(Payment.reference == reference)).first()
        if existing is None:
            raise
        return _replayed(existing, decl.id, amount, national), False
    audit(
        session=session,
        actor=user.username,
        role=user.role,
        action=action,
        entity_type="declaration",
        entity_id=decl.id,
        details={"amount": str(amount), "currency": national, "method": method, "reference": reference},
    )
    _cover(session, decl, (user.username, user.role))
    if amount > 0:
        _enqueue_release(session, decl)
    return payment, True


def record_refund(
    *, session: Session, user: User, declaration_id: str, amount: Decimal, reference: str
) -> tuple[Payment, bool]:
    """Records money paid back to the trader after a re-assessment lowered what is due (at most the refund due)."""
    if user.role not in PAYMENT_ROLES:
        raise Forbidden(f"refunds are recorded by customs officers or a payment system; you are {user.role}")
    decl = _lock(session, declaration_id, user)
    national = national_currency(session)
    existing = session.scalars(select(Payment).where(Payment.reference == reference)).first()
    if existing is not None:
        return _replayed(existing, decl.id, -amount, national), False
    due = position(session=session, declaration=decl).refund_due
    if amount > due:
        raise InvalidInput(
            f"the refund due on this declaration is {_fmt(due, national)}; {_fmt(amount, national)} is more",
            errors=[field_error("amount", f"at most {due}")],
        )
    return _record_money(
        session,
        user,
        decl,
        amount=-_money(amount, national),
        method="refund",
        reference=reference,
        received_at=None,
        action="revenue.refund",
    )


def _replayed(existing: Payment, declaration_id: str, amount: Decimal, currency: str) -> Payment:
    if (
        existing.declaration_id == declaration_id
        and Decimal(existing.amount) == amount
        and existing.currency == currency.upper()
    ):
        return existing
    raise Conflict(
        f"payment reference '{existing.reference}' is already recorded for {existing.currency} {existing.amount} "
        f"on declaration {existing.declaration_id}; a new payment needs a new reference",
        reference=existing.reference,
    )


def _account_visible(user: User, account: GuaranteeAccount) -> bool:
    if user.role == Role.DECLARANT:
        return account.holder_eori in user.eoris
    return user.role in STAFF_ROLES


def list_accounts(*, session: Session, user: User) -> list[GuaranteeAccount]:
    query = select(GuaranteeAccount).order_by(GuaranteeAccount.number)
    if user.role == Role.DECLARANT:
        query = query.where(GuaranteeAccount.holder_eori.in_(sorted(user.eoris)))
    elif user.role not in STAFF_ROLES:
        return []
    return list(session.scalars(query))


def get_account(*, session: Session, user: User, number: str, for_update: bool = False) -> GuaranteeAccount:
    query = select(GuaranteeAccount).where(GuaranteeAccount.number == number.upper())
    if for_update:
        query = query.with_for_update()
    account = session.scalars(query).first()
    if account is None or not _account_visible(user, account):
        raise NotFound(f"no deferment account {number}")
    return account


def create_account(
    *, session: Session, user: User, number: str, holder_eori: str, limit: Decimal, currency: str | None
) -> GuaranteeAccount:
    """Opens a deferment account covering the declarations of `holder_eori` (as importer or declarant)."""
    if user.role != Role.ADMINISTRATOR:
        raise Forbidden(f"deferment accounts are opened by an administrator; you are {user.role}")
    national = national_currency(session)
    if (currency or national).upper() != national:
        raise InvalidInput(
            f"deferment accounts are kept in the national currency {national}",
            errors=[field_error("currency", f"expected {national}")],
        )
    if session.scalars(select(GuaranteeAccount).where(GuaranteeAccount.number == number)).first() is not None:
        raise Conflict(f"deferment account {number} already exists")
    account = GuaranteeAccount(
        number=number,
        holder_eori=holder_eori,
        currency=national,
        limit=_money(limit, national),
        used=ZERO,
        created_at=utcnow(),
        created_by=user.username,
    )
    session.add(account)
    session.flush()
    audit(
        session=session,
        actor=user.username,
        role=user.role,
        action="guarantee.open",
        entity_type="guarantee_account",
        entity_id=number,
        details={"holder_eori": holder_eori, "limit": str(account.limit), "currency": national},
    )
    _cover_waiting(session, account, (user.username, user.role))
    return account


def top_up(*, session: Session, user: User, number: str, amount: Decimal, note: str | None) -> GuaranteeAccount:
    """Raises the account's limit; declarations of its holder waiting for payment are covered if it now suffices."""
    if user.role not in PAYMENT_ROLES:
        raise Forbidden(f"top-ups are recorded by customs officers or administrators; you are {user.role}")
    account = get_account(session=session, user=user, number=number, for_update=True)
    _release_stale(session, account, (user.username, user.role))
    _move(session, account, "top_up", amount, (user.username, user.role), national_currency(session), note=note)
    _cover_waiting(session, account, (user.username, user.role))
    return account


def _cover_waiting(session: Session, account: GuaranteeAccount, actor: tuple[str, str]) -> None:
    """Tries to cover the holder's declarations waiting for payment, oldest first, and queues their release."""
    waiting = session.scalars(
        select(Declaration)
        .where(Declaration.status == Status.AWAITING_PAYMENT)
        .where((Declaration.importer_eori == account.holder_eori) | (Declaration.declarant_eori == account.holder_eori))
        .order_by(Declaration.submitted_at)
        # A declaration locked by a payment in progress is covered by that payment's own transaction.
        .with_for_update(skip_locked=True)
    )
    for decl in waiting:
        _cover(session, decl, actor)
        if duties_settled(session=session, declaration=decl):
            _enqueue_release(session, decl)


def remind_unpaid(*, session: Session, after: timedelta, now: datetime | None = None) -> int:
    """Sends CDS's `15 DMSCPR` payment reminder for declarations waiting for payment whose last payment notice is
    older than `after`; returns how many were sent. Idempotent within `after` (a rerun sends nothing new)."""
    from clearway.notifications.models import Notification

    now = now or utcnow()
    sent = 0
    waiting = session.scalars(
        select(Declaration).where(Declaration.status == Status.AWAITING_PAYMENT).order_by(Declaration.submitted_at)
    )
    for decl in waiting:
        last = session.scalar(
            select(Notification.created_at)
            .where(
                Notification.declaration_id == decl.id,
                Notification.type.in_(("payment_required", "payment_reminder")),
            )
            .order_by(Notification.id.desc())
            .limit(1)
        )
        if last is not None and now - last < after:
            continue
        if duties_settled(session=session, declaration=decl):
            _enqueue_release(session, decl)  # settled meanwhile (e.g. a rate was loaded): let the chain release it
            continue
        _notify(session, decl, "payment_reminder", "15 DMSCPR", "reminder", at=now)
        sent += 1
    return sent


def _notify(
    session: Session, decl: Declaration, kind: str, code: str | None, lead: str, *, at: datetime | None = None
) -> None:
    """Tells the declarant how much is due and how to pay (code: DMSTAX/DMSCPI from the position unless given)."""
    from clearway.notifications.models import Notification

    details = payment_details(session, decl)
    details["notification_code"] = code = code or details["notification_code"]
    session.add(
        Notification(
            recipient_eori=decl.declarant_eori,
            declaration_id=decl.id,
            lrn=decl.lrn,
            mrn=decl.mrn,
            type=kind,
            code=code,
            message=f"Declaration {decl.mrn or decl.lrn}: {lead}, release waits: {payment_reason(session, decl)}.",
            details={**details, "status": decl.status},
            created_at=at or utcnow(),
        )
    )
