"""Revenue: assessments, tax lines, payments, guarantee accounts.

Revision ID: 0004_revenue
Revises: 0003_risk
"""

from collections.abc import Sequence

revision: str = "0004_revenue"
down_revision: str | None = "0003_risk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
