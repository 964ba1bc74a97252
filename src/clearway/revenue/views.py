"""Revenue endpoints: a declaration's assessment and payments, deferment (guarantee) accounts."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from clearway.auth.deps import CurrentUser, DbSession, ReadSession
from clearway.revenue import service
from clearway.revenue.models import Assessment, GuaranteeAccount, Payment
from clearway.revenue.schemas import (
    AccountIn,
    AccountOut,
    AssessmentOut,
    ManualAssessmentIn,
    MovementOut,
    PaymentIn,
    PaymentOut,
    RefundIn,
    RevenueOut,
    TaxLineOut,
    TopUpIn,
)
from clearway.tariff.money import round_money as money

router = APIRouter(prefix="/api/v1", tags=["revenue"])


def _assessment(row: Assessment, *, with_lines: bool) -> AssessmentOut:
    currency = row.national_currency
    return AssessmentOut(
        sequence=row.sequence,
        declaration_version=row.declaration_version,
        status=row.status,  # type: ignore[arg-type]
        reason=row.reason,
        problem=row.problem,
        acceptance_date=row.acceptance_date,
        national_currency=currency,
        invoice_currency=row.invoice_currency,
        exchange_rate=row.exchange_rate.normalize() if row.exchange_rate is not None else None,
        customs_value=money(row.customs_value, currency) if row.customs_value is not None else None,
        totals={k: money(getattr(row, k), currency) for k in ("duty", "excise", "vat")},
        total_due=money(row.total_due, currency),
        difference=money(row.difference, currency),
        notes=list(row.notes or []),
        created_at=row.created_at,
        tax_lines=[
            TaxLineOut(
                goods_item=line.goods_item,
                commodity_code=line.commodity_code,
                origin_country=line.origin_country,
                tax_type=line.tax_type,
                base=money(line.base, currency),
                rate_text=line.rate_text,
                amount=money(line.amount, currency),
                measure_id=line.measure_id,
                source=line.source,
                quantity=line.quantity.normalize() if line.quantity is not None else None,
                quantity_unit=line.quantity_unit,
                note=line.note,
                preference=line.preference,
            )
            for line in row.tax_lines
        ]
        if with_lines
        else None,
    )


def _payment(row: Payment) -> PaymentOut:
    return PaymentOut(
        id=row.id,
        declaration_id=row.declaration_id,
        amount=money(row.amount, row.currency),
        currency=row.currency,
        method=row.method,
        reference=row.reference,
        received_at=row.received_at,
        recorded_by=row.recorded_by,
    )


def _revenue(session: ReadSession, user: CurrentUser, declaration_id: str) -> RevenueOut:
    decl, position = service.revenue_of(session=session, user=user, declaration_id=declaration_id)
    assessment = position.assessment
    if position.administered is not None:
        message = position.administered
    elif assessment is None:
        message = "no assessment: the declaration was accepted before taxes were assessed here"
    elif position.settled:
        message = "duties settled" if position.total_due else "nothing is due"
    else:
        message = service.payment_reason(session, decl)
    return RevenueOut(
        declaration_id=decl.id,
        mrn=decl.mrn,
        administered=position.administered is None,
        message=message,
        currency=position.currency,
        assessment=_assessment(assessment, with_lines=True) if assessment is not None else None,
        total_due=position.total_due,
        paid=position.paid,
        guaranteed=position.guaranteed,
        outstanding=position.outstanding,
        refund_due=position.refund_due,
        settled=position.settled,
        payments=[_payment(p) for p in service.payments(session=session, declaration_id=decl.id)],
        history=[_assessment(a, with_lines=False) for a in service.history(session=session, declaration_id=decl.id)],
    )


def _mark_replay(response: Response, created: bool) -> None:
    if not created:
        response.status_code = status.HTTP_200_OK
        response.headers["Idempotent-Replayed"] = "true"


@router.get("/declarations/{declaration_id}/assessment", response_model=RevenueOut)
def read_assessment(declaration_id: str, user: CurrentUser, session: ReadSession) -> RevenueOut:
    """The latest assessment with its tax lines, what is paid, guaranteed and still due, and earlier assessments."""
    return _revenue(session, user, declaration_id)


@router.post("/declarations/{declaration_id}/assessment", response_model=RevenueOut)
def assess_manually(
    declaration_id: str, body: ManualAssessmentIn, user: CurrentUser, session: DbSession, reader: ReadSession
) -> RevenueOut:
    """A customs officer's assessment, where the tariff cannot compute the taxes (the lines replace the latest)."""
    service.manual_assess(
        session=session,
        user=user,
        declaration_id=declaration_id,
        reason=body.reason,
        lines=[line.model_dump() for line in body.tax_lines],
    )
    session.commit()
    return _revenue(reader, user, declaration_id)


@router.post(
    "/declarations/{declaration_id}/payments",
    response_model=RevenueOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A retry with a known reference: nothing new is recorded"}},
)
def record_payment(
    declaration_id: str, body: PaymentIn, user: CurrentUser, session: DbSession, reader: ReadSession, response: Response
) -> RevenueOut:
    """Records money received (customs officer or a payment system's API key); release follows once settled."""
    _, created = service.record_payment(
        session=session,
        user=user,
        declaration_id=declaration_id,
        amount=body.amount,
        currency=body.currency,
        method=body.method,
        reference=body.reference,
        received_at=body.received_at,
    )
    session.commit()
    _mark_replay(response, created)
    return _revenue(reader, user, declaration_id)


@router.post(
    "/declarations/{declaration_id}/refunds",
    response_model=RevenueOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "A retry with a known reference: nothing new is recorded"}},
)
def record_refund(
    declaration_id: str, body: RefundIn, user: CurrentUser, session: DbSession, reader: ReadSession, response: Response
) -> RevenueOut:
    """Records a refund of what was paid beyond the latest assessment (customs officer or a payment system)."""
    _, created = service.record_refund(
        session=session, user=user, declaration_id=declaration_id, amount=body.amount, reference=body.reference
    )
    session.commit()
    _mark_replay(response, created)
    return _revenue(reader, user, declaration_id)


def _account(row: GuaranteeAccount, *, with_movements: bool) -> AccountOut:
    return AccountOut(
        number=row.number,
        holder_eori=row.holder_eori,
        currency=row.currency,
        limit=money(row.limit, row.currency),
        used=money(row.used, row.currency),
        available=service.available(row, row.currency),
        created_at=row.created_at,
        movements=[
            MovementOut(
                at=m.at,
                kind=m.kind,
                amount=money(m.amount, row.currency),
                available_after=money(m.available_after, row.currency),
                declaration_id=m.declaration_id,
                note=m.note,
                actor=m.actor,
            )
            for m in row.movements
        ]
        if with_movements
        else None,
    )


@router.get("/guarantees", response_model=list[AccountOut])
def list_accounts(user: CurrentUser, session: ReadSession) -> list[AccountOut]:
    """Deferment accounts: a declarant sees those of their EORIs, customs staff see all."""
    return [_account(a, with_movements=True) for a in service.list_accounts(session=session, user=user)]


@router.post("/guarantees", response_model=AccountOut, status_code=status.HTTP_201_CREATED)
def create_account(body: AccountIn, user: CurrentUser, session: DbSession, reader: ReadSession) -> AccountOut:
    """Opens a deferment account covering the declarations of an EORI (as importer or declarant). Administrators."""
    account = service.create_account(
        session=session,
        user=user,
        number=body.number,
        holder_eori=body.holder_eori,
        limit=body.limit,
        currency=body.currency,
    )
    session.commit()
    return _account(service.get_account(session=reader, user=user, number=account.number), with_movements=True)


@router.get("/guarantees/{number}", response_model=AccountOut)
def read_account(number: str, user: CurrentUser, session: ReadSession) -> AccountOut:
    return _account(service.get_account(session=session, user=user, number=number), with_movements=True)


@router.post("/guarantees/{number}/top-ups", response_model=AccountOut)
def top_up(number: str, body: TopUpIn, user: CurrentUser, session: DbSession, reader: ReadSession) -> AccountOut:
    """Raises the account's limit; waiting declarations it now covers are released."""
    account = service.top_up(session=session, user=user, number=number, amount=body.amount, note=body.note)
    session.commit()
    return _account(service.get_account(session=reader, user=user, number=account.number), with_movements=True)
