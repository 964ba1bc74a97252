"""Revenue on a declaration: its assessment (tax lines), payments and guarantees, and whether release may go ahead.

Called by the lifecycle at acceptance, after amendments and inspections, and before release.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from clearway.declarations.models import Declaration


def assess(*, session: Session, declaration: Declaration, reason: str) -> None:
    """Computes (or recomputes) the declaration's tax lines and the amount due, in the caller's transaction."""


def duties_settled(*, session: Session, declaration: Declaration) -> bool:
    """Whether what is due on the declaration is paid or covered by a guarantee, so the goods may be released."""
    return True
