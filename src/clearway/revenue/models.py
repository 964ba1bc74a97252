"""Revenue tables: assessments and their tax lines (immutable), payments, deferment accounts and their movements."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clearway.db import Base, UTCDateTime

# Money columns carry 3 decimals (the largest minor unit in use, e.g. BHD); amounts are rounded to the national
# currency's minor unit before they are stored and again when read.
Money = Numeric(18, 3)


class Assessment(Base):
    """The taxes of one version of a declaration, as computed once; a re-assessment adds a new row."""

    __tablename__ = "revenue_assessments"
    __table_args__ = (UniqueConstraint("declaration_id", "sequence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per declaration
    declaration_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # assessed | impossible
    reason: Mapped[str] = mapped_column(Text)  # why it was (re-)assessed: acceptance, amendment, control result
    problem: Mapped[str | None] = mapped_column(Text)  # why it could not be computed (status impossible)
    acceptance_date: Mapped[date] = mapped_column(Date)
    national_currency: Mapped[str] = mapped_column(String(3))
    invoice_currency: Mapped[str] = mapped_column(String(3))
    exchange_rate: Mapped[Decimal | None] = mapped_column(Numeric(24, 10))
    customs_value: Mapped[Decimal | None] = mapped_column(Money)
    duty: Mapped[Decimal] = mapped_column(Money)
    excise: Mapped[Decimal] = mapped_column(Money)
    vat: Mapped[Decimal] = mapped_column(Money)
    total_due: Mapped[Decimal] = mapped_column(Money)
    difference: Mapped[Decimal] = mapped_column(Money)  # total_due minus the previous assessment's total_due
    notes: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    tax_lines: Mapped[list[TaxLine]] = relationship(
        cascade="all, delete-orphan", order_by="TaxLine.id", lazy="selectin"
    )


class TaxLine(Base):
    """One tax on one goods item of an assessment (goods_item None: a charge on the whole declaration)."""

    __tablename__ = "revenue_tax_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("revenue_assessments.id"), index=True)
    goods_item: Mapped[int | None] = mapped_column(Integer)
    commodity_code: Mapped[str | None] = mapped_column(String(10))
    origin_country: Mapped[str | None] = mapped_column(String(2))
    tax_type: Mapped[str] = mapped_column(String(8))  # duty | excise | vat
    base: Mapped[Decimal] = mapped_column(Money)
    rate_text: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Money)
    measure_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(18, 6))
    quantity_unit: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    preference: Mapped[str | None] = mapped_column(Text)


class Payment(Base):
    """Money received for a declaration; the reference (bank or till reference) makes a retry harmless."""

    __tablename__ = "revenue_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(16))  # cash | card | bank_transfer | deferment
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))


class GuaranteeAccount(Base):
    """A deferment (guarantee) account: up to `limit` of duties on the holder's declarations may wait for payment."""

    __tablename__ = "guarantee_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    number: Mapped[str] = mapped_column(String(35), unique=True)
    holder_eori: Mapped[str] = mapped_column(String(17), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    limit: Mapped[Decimal] = mapped_column(Money)
    used: Mapped[Decimal] = mapped_column(Money)  # sum of open reservations (kept under the account's row lock)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(64))

    movements: Mapped[list[GuaranteeMovement]] = relationship(order_by="GuaranteeMovement.id", lazy="selectin")


class GuaranteeMovement(Base):
    """A reservation for a declaration, its release, or a top-up of the account's limit."""

    __tablename__ = "guarantee_movements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("guarantee_accounts.id"), index=True)
    declaration_id: Mapped[str | None] = mapped_column(ForeignKey("declarations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # reservation | release | top_up
    amount: Mapped[Decimal] = mapped_column(Money)
    available_after: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
