"""The declarant's notification pull queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from clearway.auth.deps import CurrentUser, ReadSession
from clearway.declarations.schemas import NotificationOut, NotificationPage
from clearway.notifications import service

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.get("", response_model=NotificationPage)
def pull(
    user: CurrentUser,
    session: ReadSession,
    after: Annotated[int, Query(ge=0, description="The cursor of the previous page; 0 for the start")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> NotificationPage:
    """Notifications on your declarations after `after`, oldest first (accepted, channel, documents, released...)."""
    rows = service.pull(session=session, user=user, after=after, limit=limit)
    return NotificationPage(
        items=[NotificationOut.model_validate(r, from_attributes=True) for r in rows],
        cursor=rows[-1].id if rows else after,
    )
