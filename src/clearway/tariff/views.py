"""Tariff API for traders: landed cost of a would-be declaration, measures in force for a code."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query

from clearway.auth.deps import AppSettings, CurrentUser, DbSession
from clearway.tariff import service
from clearway.tariff.schemas import CalculateRequest, assessment_body

router = APIRouter(prefix="/api/v1/tariff", tags=["tariff"])


@router.post("/calculate")
def calculate(body: CalculateRequest, session: DbSession, settings: AppSettings, user: CurrentUser) -> dict[str, Any]:
    """Returns customs value, tax lines per goods item and totals, without filing anything."""
    assessment = service.calculate(db_session=session, settings=settings, declaration=body.to_input())
    return assessment_body(assessment)


@router.get("/{code}")
def show(
    code: str,
    session: DbSession,
    user: CurrentUser,
    on: date | None = Query(default=None, description="Date the measures are in force (YYYY-MM-DD); default today"),
) -> dict[str, Any]:
    """Returns the line's description and the measures in force on the date (inherited ones say from where)."""
    return service.show_line(db_session=session, code=code, on=on or date.today())
