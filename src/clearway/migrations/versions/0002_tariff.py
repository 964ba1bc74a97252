"""Tariff: versions, nomenclature lines, measures, exchange rates.

Revision ID: 0002_tariff
Revises: 0001_foundation
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_tariff"
down_revision: str | None = "0001_foundation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tariff_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source_format", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("lines_loaded", sa.Integer(), nullable=False),
        sa.Column("measures_loaded", sa.Integer(), nullable=False),
        sa.Column("texts_total", sa.Integer(), nullable=False),
        sa.Column("texts_parsed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_versions")),
    )
    op.create_table(
        "tariff_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("indent", sa.Integer(), nullable=False),
        sa.Column("units", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["tariff_versions.id"],
            ondelete="CASCADE",
            name=op.f("fk_tariff_lines_version_id_tariff_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_lines")),
    )
    op.create_index("ix_tariff_lines_code_version", "tariff_lines", ["code", "version_id"], unique=False)
    op.create_table(
        "tariff_measures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=10), nullable=False),
        sa.Column("measure_type", sa.String(length=20), nullable=False),
        sa.Column("duty_text", sa.Text(), nullable=False),
        sa.Column("parsed", sa.Boolean(), nullable=False),
        sa.Column("programme", sa.String(length=200), nullable=True),
        sa.Column("countries", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["tariff_versions.id"],
            ondelete="CASCADE",
            name=op.f("fk_tariff_measures_version_id_tariff_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tariff_measures")),
    )
    op.create_index("ix_tariff_measures_code_from", "tariff_measures", ["code", "valid_from"], unique=False)
    op.create_index(op.f("ix_tariff_measures_version_id"), "tariff_measures", ["version_id"], unique=False)
    op.create_table(
        "exchange_rates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("rate", sa.Numeric(precision=24, scale=10), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_rates")),
        sa.UniqueConstraint("currency", "valid_from", name=op.f("uq_exchange_rates_currency_valid_from")),
    )


def downgrade() -> None:
    op.drop_table("exchange_rates")
    op.drop_index(op.f("ix_tariff_measures_version_id"), table_name="tariff_measures")
    op.drop_index("ix_tariff_measures_code_from", table_name="tariff_measures")
    op.drop_table("tariff_measures")
    op.drop_index("ix_tariff_lines_code_version", table_name="tariff_lines")
    op.drop_table("tariff_lines")
    op.drop_table("tariff_versions")
