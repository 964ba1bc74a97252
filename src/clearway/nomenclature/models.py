"""The HS nomenclature: chapters, headings and subheadings with their texts."""

from __future__ import annotations

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from clearway.db import Base


class HsCode(Base):
    __tablename__ = "hs_nomenclature"

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    level: Mapped[int] = mapped_column(Integer)  # 2 chapter, 4 heading, 6 subheading
    parent: Mapped[str | None] = mapped_column(String(6))
    section: Mapped[str] = mapped_column(String(8))
    description: Mapped[str] = mapped_column(Text)
    edition: Mapped[str] = mapped_column(String(8), default="HS2022")
