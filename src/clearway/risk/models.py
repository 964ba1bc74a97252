"""Risk tables: selectivity profile versions, named lists, office policies and their budget state, channel decisions."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Float, ForeignKey, Index, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clearway.db import Base, UTCDateTime, utcnow


class RiskProfile(Base):
    """One version of a selectivity profile. The content never changes; only the status moves on."""

    __tablename__ = "risk_profiles"
    __table_args__ = (Index("ix_risk_profiles_status", "status"),)

    profile_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # draft | active | retired
    name: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(String(500))
    channel: Mapped[str] = mapped_column(String(8))
    priority: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON)
    mandatory: Mapped[bool] = mapped_column(Boolean, default=False)
    kind: Mapped[str] = mapped_column(String(16), default="selection")
    description: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status_changed_by: Mapped[str | None] = mapped_column(String(64))
    status_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RiskList(Base):
    """A named list (watched importers, sensitive HS codes, high-risk countries, AEO holders) used by profiles."""

    __tablename__ = "risk_lists"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str | None] = mapped_column(Text)
    entries: Mapped[list[str]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OfficePolicy(Base):
    """An office's channel policy parameters (overrides of the defaults) and its running budget state.

    The assessment locks this row (FOR UPDATE) so concurrent assessments of one office update the budget in turn.
    """

    __tablename__ = "risk_office_policies"

    office: Mapped[str] = mapped_column(String(8), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChannelDecisionRecord(Base):
    """A channel decision as issued: everything needed to explain and audit it."""

    __tablename__ = "channel_decisions"
    __table_args__ = (Index("ix_channel_decisions_decided_at", "decided_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), index=True)
    declaration_version: Mapped[int] = mapped_column(Integer)
    office: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(8))
    cause: Mapped[str] = mapped_column(String(16))
    model_version: Mapped[str | None] = mapped_column(String(32))
    score: Mapped[float | None] = mapped_column(Float)
    value_at_risk: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    rule_hits: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    factors: Mapped[list[str]] = mapped_column(JSON)
    context: Mapped[dict[str, Any]] = mapped_column(JSON)  # facts the profiles saw (reused by backtests)
    random_selection: Mapped[bool] = mapped_column(Boolean, default=False)
    random_channel: Mapped[str | None] = mapped_column(String(8))
    random_inclusion_probability: Mapped[float] = mapped_column(Float, default=0.0)
    trusted_trader: Mapped[bool] = mapped_column(Boolean, default=False)
    budget_overrun: Mapped[bool] = mapped_column(Boolean, default=False)
    budget_limited: Mapped[bool] = mapped_column(Boolean, default=False)
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON)
    policy_version: Mapped[str | None] = mapped_column(String(32))
    policy_params: Mapped[dict[str, Any]] = mapped_column(JSON)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RuleHitRecord(Base):
    """One profile version that hit a declaration: the rows hit statistics and the report count."""

    __tablename__ = "risk_rule_hits"
    __table_args__ = (Index("ix_risk_rule_hits_profile", "profile_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    decision_id: Mapped[int] = mapped_column(ForeignKey("channel_decisions.id"), index=True)
    declaration_id: Mapped[str] = mapped_column(String(36), index=True)
    profile_id: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(8))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RerouteRecordRow(Base):
    """An officer's re-routing, validated against the channel policy (mandatory profiles, random sample)."""

    __tablename__ = "risk_reroutes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), index=True)
    from_channel: Mapped[str] = mapped_column(String(8))
    to_channel: Mapped[str] = mapped_column(String(8))
    direction: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(Text)
    officer: Mapped[str] = mapped_column(String(64))
    original_cause: Mapped[str] = mapped_column(String(16))
    breaks_random_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
