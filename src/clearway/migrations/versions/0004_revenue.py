"""Revenue: assessments, tax lines, payments, guarantee accounts.

Revision ID: 0004_revenue
Revises: 0003_risk
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_revenue"
down_revision: str | None = "0003_risk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "guarantee_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("number", sa.String(length=35), nullable=False),
        sa.Column("holder_eori", sa.String(length=17), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("limit", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("used", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guarantee_accounts")),
        sa.UniqueConstraint("number", name=op.f("uq_guarantee_accounts_number")),
    )
    op.create_index(op.f("ix_guarantee_accounts_holder_eori"), "guarantee_accounts", ["holder_eori"], unique=False)
    op.create_table(
        "guarantee_movements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("available_after", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["guarantee_accounts.id"], name=op.f("fk_guarantee_movements_account_id_guarantee_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_guarantee_movements_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_guarantee_movements")),
    )
    op.create_index(op.f("ix_guarantee_movements_account_id"), "guarantee_movements", ["account_id"], unique=False)
    op.create_index(
        op.f("ix_guarantee_movements_declaration_id"), "guarantee_movements", ["declaration_id"], unique=False
    )
    op.create_table(
        "revenue_assessments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("declaration_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("acceptance_date", sa.Date(), nullable=False),
        sa.Column("national_currency", sa.String(length=3), nullable=False),
        sa.Column("invoice_currency", sa.String(length=3), nullable=False),
        sa.Column("exchange_rate", sa.Numeric(precision=24, scale=10), nullable=True),
        sa.Column("customs_value", sa.Numeric(precision=18, scale=3), nullable=True),
        sa.Column("duty", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("excise", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("vat", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("total_due", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("difference", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_revenue_assessments_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_assessments")),
        sa.UniqueConstraint("declaration_id", "sequence", name=op.f("uq_revenue_assessments_declaration_id_sequence")),
    )
    op.create_index(
        op.f("ix_revenue_assessments_declaration_id"), "revenue_assessments", ["declaration_id"], unique=False
    )
    op.create_table(
        "revenue_payments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_revenue_payments_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_payments")),
        sa.UniqueConstraint("reference", name=op.f("uq_revenue_payments_reference")),
    )
    op.create_index(op.f("ix_revenue_payments_declaration_id"), "revenue_payments", ["declaration_id"], unique=False)
    op.create_table(
        "revenue_tax_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("goods_item", sa.Integer(), nullable=True),
        sa.Column("commodity_code", sa.String(length=10), nullable=True),
        sa.Column("origin_country", sa.String(length=2), nullable=True),
        sa.Column("tax_type", sa.String(length=8), nullable=False),
        sa.Column("base", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("rate_text", sa.Text(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("measure_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=6), nullable=True),
        sa.Column("quantity_unit", sa.String(length=20), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("preference", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["revenue_assessments.id"],
            name=op.f("fk_revenue_tax_lines_assessment_id_revenue_assessments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revenue_tax_lines")),
    )
    op.create_index(op.f("ix_revenue_tax_lines_assessment_id"), "revenue_tax_lines", ["assessment_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_revenue_tax_lines_assessment_id"), table_name="revenue_tax_lines")
    op.drop_table("revenue_tax_lines")
    op.drop_index(op.f("ix_revenue_payments_declaration_id"), table_name="revenue_payments")
    op.drop_table("revenue_payments")
    op.drop_index(op.f("ix_revenue_assessments_declaration_id"), table_name="revenue_assessments")
    op.drop_table("revenue_assessments")
    op.drop_index(op.f("ix_guarantee_movements_declaration_id"), table_name="guarantee_movements")
    op.drop_index(op.f("ix_guarantee_movements_account_id"), table_name="guarantee_movements")
    op.drop_table("guarantee_movements")
    op.drop_index(op.f("ix_guarantee_accounts_holder_eori"), table_name="guarantee_accounts")
    op.drop_table("guarantee_accounts")
