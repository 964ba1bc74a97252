"""HTTP API of the HS classification assistant."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from clearway.auth.deps import CurrentUser
from clearway.classification import service

router = APIRouter(prefix="/api/v1/classification", tags=["classification"])


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
