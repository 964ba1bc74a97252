"""Declaration tables: the current document, its goods items, every version and every transition."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clearway.db import Base, UTCDateTime


class Declaration(Base):
    __tablename__ = "declarations"
    __table_args__ = (
        UniqueConstraint("declarant_eori", "lrn"),
        UniqueConstraint("submitted_by", "idempotency_key"),
        Index("ix_declarations_status_updated", "status", "updated_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    lrn: Mapped[str] = mapped_column(String(22))
    mrn: Mapped[str | None] = mapped_column(String(18), unique=True)
    declarant_eori: Mapped[str] = mapped_column(String(17), index=True)
    importer_eori: Mapped[str | None] = mapped_column(String(17), index=True)
    exporter_eori: Mapped[str | None] = mapped_column(String(17))
    declaration_type: Mapped[str] = mapped_column(String(2))
    procedure_code: Mapped[str] = mapped_column(String(4))
    office_of_lodgement: Mapped[str] = mapped_column(String(8), index=True)
    status: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str | None] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer, default=1)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    goods_item_count: Mapped[int] = mapped_column(Integer)
    invoice_currency: Mapped[str] = mapped_column(String(3))
    invoice_amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    content_hash: Mapped[str] = mapped_column(String(64))  # of the document as first lodged: retries match it
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    submitted_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    goods_items: Mapped[list[GoodsItem]] = relationship(
        back_populates="declaration", cascade="all, delete-orphan", order_by="GoodsItem.sequence"
    )


class GoodsItem(Base):
    """The current version's goods items, kept as columns for selection and statistics."""

    __tablename__ = "goods_items"

    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    hs_code: Mapped[str] = mapped_column(String(10), index=True)
    description: Mapped[str] = mapped_column(String(512))
    country_of_origin: Mapped[str] = mapped_column(String(2))
    preference_code: Mapped[str | None] = mapped_column(String(4))
    net_mass_kg: Mapped[Decimal] = mapped_column(Numeric(16, 3))
    gross_mass_kg: Mapped[Decimal] = mapped_column(Numeric(16, 3))
    item_price: Mapped[Decimal] = mapped_column(Numeric(18, 2))

    declaration: Mapped[Declaration] = relationship(back_populates="goods_items")


class DeclarationVersion(Base):
    """Every version of the document as lodged or amended; never changed afterwards."""

    __tablename__ = "declaration_versions"

    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeclarationEvent(Base):
    """One transition or decision in the declaration's history: who, when, why."""

    __tablename__ = "declaration_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class ControlResult(Base):
    """A documentary check's or inspection's result: the label the risk models learn from."""

    __tablename__ = "control_results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # documentary | physical
    outcome: Mapped[str] = mapped_column(String(16))  # no_finding | discrepancy | fraud
    findings: Mapped[str | None] = mapped_column(Text)
    additional_revenue: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    revenue_currency: Mapped[str | None] = mapped_column(String(3))
    officer: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

    code_corrections: Mapped[list[HSCodeCorrection]] = relationship(
        back_populates="control_result", cascade="all, delete-orphan", order_by="HSCodeCorrection.sequence"
    )


class HSCodeCorrection(Base):
    """An HS code an officer recorded for one goods item with a control result: revenue re-assesses with it and
    the classification assistant learns from it. Where several results recorded a code for an item, the latest
    (highest id) stands."""

    __tablename__ = "hs_code_corrections"
    __table_args__ = (Index("ix_hs_code_corrections_item", "declaration_id", "sequence", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    control_result_id: Mapped[int] = mapped_column(ForeignKey("control_results.id"), index=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"))
    sequence: Mapped[int] = mapped_column(Integer)  # the goods item's
    hs_code: Mapped[str] = mapped_column(String(10))
    officer: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    control_result: Mapped[ControlResult] = relationship(back_populates="code_corrections")
