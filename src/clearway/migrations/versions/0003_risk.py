"""Risk management: selectivity profiles, channel decisions, model registry entries.

Revision ID: 0003_risk
Revises: 0002_tariff
"""

from collections.abc import Sequence

revision: str = "0003_risk"
down_revision: str | None = "0002_tariff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
