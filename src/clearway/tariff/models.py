"""Tariff tables: load batches (versions), nomenclature lines, measures, exchange rates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clearway.db import Base, UTCDateTime, utcnow


class TariffVersion(Base):
    """One load of a tariff file; measures keep their version so a reload never destroys history."""

    __tablename__ = "tariff_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    source_format: Mapped[str] = mapped_column(String(20))  # hts | clearway
    source: Mapped[str] = mapped_column(String(500))
    valid_from: Mapped[date] = mapped_column(Date)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    lines_loaded: Mapped[int] = mapped_column(Integer, default=0)
    measures_loaded: Mapped[int] = mapped_column(Integer, default=0)
    texts_total: Mapped[int] = mapped_column(Integer, default=0)
    texts_parsed: Mapped[int] = mapped_column(Integer, default=0)


class TariffLine(Base):
    """A nomenclature line of a tariff version: code, its own description, units of quantity."""

    __tablename__ = "tariff_lines"
    __table_args__ = (Index("ix_tariff_lines_code_version", "code", "version_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("tariff_versions.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(Text, default="")
    indent: Mapped[int] = mapped_column(Integer, default=0)
    units: Mapped[str] = mapped_column(String(100), default="")


class TariffMeasure(Base):
    """A duty/tax measure on a commodity code for a period, maybe limited to origins (preference, origin rate)."""

    __tablename__ = "tariff_measures"
    __table_args__ = (Index("ix_tariff_measures_code_from", "code", "valid_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("tariff_versions.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(10))
    measure_type: Mapped[str] = mapped_column(String(20))  # third_country | preference | origin_rate | vat | excise
    duty_text: Mapped[str] = mapped_column(Text)
    parsed: Mapped[bool] = mapped_column(default=True)
    programme: Mapped[str | None] = mapped_column(String(200), nullable=True)
    countries: Mapped[str] = mapped_column(Text, default="")  # ISO 3166 alpha-2 codes, comma separated
    source: Mapped[str] = mapped_column(String(20), default="")  # hts | clearway: how programme symbols are read
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date | None] = mapped_column(Date, nullable=True)


class ExchangeRate(Base):
    """National-currency value of one unit of `currency`, in force from `valid_from` until the next rate."""

    __tablename__ = "exchange_rates"
    __table_args__ = (UniqueConstraint("currency", "valid_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    currency: Mapped[str] = mapped_column(String(3))
    valid_from: Mapped[date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(Numeric(24, 10))
    source: Mapped[str] = mapped_column(String(200), default="")
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
