"""The declarant's pull queue of notifications (like CDS's), read with a cursor."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clearway.db import Base, UTCDateTime


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_recipient_id", "recipient_eori", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    recipient_eori: Mapped[str] = mapped_column(String(17))
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"))
    lrn: Mapped[str] = mapped_column(String(22))
    mrn: Mapped[str | None] = mapped_column(String(18))
    type: Mapped[str] = mapped_column(String(40))
    code: Mapped[str | None] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
