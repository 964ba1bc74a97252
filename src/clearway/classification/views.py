"""HTTP API of the HS classification assistant."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from clearway.auth.deps import CurrentUser, ReadSession, require_role
from clearway.auth.models import User
from clearway.classification import service
from clearway.declarations.corrections import (
    RecordedCorrection,
    count_code_corrections,
    recorded_code_corrections,
    write_corrections_csv,
)
from clearway.declarations.domain import Role

router = APIRouter(prefix="/api/v1/classification", tags=["classification"])

# Corrections name other traders' goods: customs staff read them (here and in the workbench), declarants never do.
REVIEWER_ROLES = (Role.RISK_ANALYST, Role.ADMINISTRATOR, Role.CUSTOMS_OFFICER)
Reviewer = Annotated[User, Depends(require_role(*REVIEWER_ROLES))]
MAX_CORRECTIONS_PAGE = 1000


class SuggestIn(BaseModel):
    description: str = Field(min_length=1, max_length=service.MAX_DESCRIPTION)
    limit: int = Field(default=5, ge=1, le=service.MAX_LIMIT)


class EntryOut(BaseModel):
    code: str
    description: str


class SuggestionOut(BaseModel):
    hs_code: str
    confidence: float
    chapter: EntryOut
    heading: EntryOut
    subheading: EntryOut
    why: list[str]


class SuggestOut(BaseModel):
    description: str
    model_version: str
    suggestions: list[SuggestionOut]


def _out(result: service.SuggestionResult) -> SuggestOut:
    return SuggestOut(
        description=result.description,
        model_version=result.model_version,
        suggestions=[
            SuggestionOut(
                hs_code=s.hs_code,
                confidence=s.confidence,
                chapter=EntryOut(code=s.chapter.code, description=s.chapter.description),
                heading=EntryOut(code=s.heading.code, description=s.heading.description),
                subheading=EntryOut(code=s.subheading.code, description=s.subheading.description),
                why=list(s.why),
            )
            for s in result.suggestions
        ],
    )


@router.post("/suggest", response_model=SuggestOut)
async def suggest(body: SuggestIn, user: CurrentUser) -> SuggestOut:
    """The most likely HS 2022 subheadings for a goods description, with confidence and reasons."""
    # The first call may load (or build) the model: keep it off the event loop.
    result = await run_in_threadpool(service.suggest, description=body.description, limit=body.limit)
    return _out(result)


class CorrectionOut(BaseModel):
    declaration_id: str
    item: int = Field(description="The goods item's sequence number in the declaration")
    description: str
    declared_code: str
    corrected_code: str = Field(description="The HS code the officer recorded in the control result")
    changes_code: bool = Field(description="False when the officer confirmed the declared code")
    officer: str
    recorded_at: datetime

    @classmethod
    def of(cls, r: RecordedCorrection) -> CorrectionOut:
        c = r.correction
        return cls(
            declaration_id=c.declaration_id,
            item=c.sequence,
            description=r.description,
            declared_code=r.declared_code,
            corrected_code=c.hs_code,
            changes_code=r.changes_code,
            officer=c.officer,
            recorded_at=c.recorded_at,
        )


class CorrectionsOut(BaseModel):
    total: int = Field(description="Goods items with a code recorded by an officer")
    changed: int = Field(description="How many of them differ from the declared code")
    shown: int = Field(description="How many the `changed` filter keeps: what `offset` and `limit` page through")
    offset: int
    limit: int
    items: list[CorrectionOut]


def corrections_csv(recorded: list[RecordedCorrection]) -> Response:
    """The export `clearway classify corrections --out` writes, as a download."""
    out = io.StringIO()
    write_corrections_csv(recorded, out)
    disposition = 'attachment; filename="hs-corrections.csv"'
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={"Content-Disposition": disposition})


@router.get("/corrections", response_model=CorrectionsOut, responses={200: {"content": {"text/csv": {}}}})
def corrections(
    user: Reviewer,
    session: ReadSession,
    format: Annotated[Literal["json", "csv"], Query(description="csv: the columns `classify train` reads")] = "json",
    changed: Annotated[bool, Query(description="true: only the codes that differ from the declared one")] = False,
    offset: Annotated[int, Query(ge=0, description="How many to skip (JSON only: the CSV holds them all)")] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_CORRECTIONS_PAGE, description="How many to return at most")] = 100,
) -> CorrectionsOut | Response:
    """The HS codes officers recorded in control results, oldest first: what `clearway classify train` learns from.

    The latest code of each goods item counts. `total` and `changed` count every one, whichever `items` the
    `changed` filter keeps; `offset` and `limit` page through the kept ones."""
    if format == "csv":
        return corrections_csv(recorded_code_corrections(session, changed_only=changed))
    counts = count_code_corrections(session)
    page = recorded_code_corrections(session, changed_only=changed, limit=limit, offset=offset)
    return CorrectionsOut(
        total=counts.total,
        changed=counts.changed,
        shown=counts.kept(changed_only=changed),
        offset=offset,
        limit=limit,
        items=[CorrectionOut.of(r) for r in page],
    )
