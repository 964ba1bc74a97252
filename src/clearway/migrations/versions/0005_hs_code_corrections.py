"""HS codes recorded by officers get a table of their own: a row per goods item corrected, so the analysts' list
pages and counts in SQL instead of reading every control result's JSON.

Revision ID: 0005_hs_code_corrections
Revises: 0004_revenue
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_hs_code_corrections"
down_revision: str | None = "0004_revenue"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The timestamps are copied as stored (untyped columns pass values through unchanged on both backends).
_results = sa.table(
    "control_results",
    sa.column("id", sa.Integer),
    sa.column("declaration_id", sa.String),
    sa.column("corrections", sa.JSON),
    sa.column("officer", sa.String),
    sa.column("recorded_at"),
)
_corrections = sa.table(
    "hs_code_corrections",
    sa.column("control_result_id", sa.Integer),
    sa.column("declaration_id", sa.String),
    sa.column("sequence", sa.Integer),
    sa.column("hs_code", sa.String),
    sa.column("officer", sa.String),
    sa.column("recorded_at"),
)


def upgrade() -> None:
    bind = op.get_bind()
    # Read first: on SQLite dropping the column rebuilds control_results, which a table referring to it would stop.
    # In the order the results were recorded, so the latest correction of an item gets the highest id.
    rows = bind.execute(
        sa.select(_results).where(sa.cast(_results.c.corrections, sa.String) != "null").order_by(_results.c.id)
    )
    copied = [
        {
            "control_result_id": result.id,
            "declaration_id": result.declaration_id,
            "sequence": int(sequence),
            "hs_code": code,
            "officer": result.officer,
            "recorded_at": result.recorded_at,
        }
        for result in rows
        for sequence, code in sorted(
            ((result.corrections or {}).get("hs_codes") or {}).items(), key=lambda entry: int(entry[0])
        )
    ]
    with op.batch_alter_table("control_results", schema=None) as batch_op:
        batch_op.drop_column("corrections")
    op.create_table(
        "hs_code_corrections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("control_result_id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("hs_code", sa.String(length=10), nullable=False),
        sa.Column("officer", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["control_result_id"],
            ["control_results.id"],
            name=op.f("fk_hs_code_corrections_control_result_id_control_results"),
        ),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_hs_code_corrections_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hs_code_corrections")),
    )
    op.create_index(
        op.f("ix_hs_code_corrections_control_result_id"), "hs_code_corrections", ["control_result_id"], unique=False
    )
    op.create_index(op.f("ix_hs_code_corrections_recorded_at"), "hs_code_corrections", ["recorded_at"], unique=False)
    op.create_index("ix_hs_code_corrections_item", "hs_code_corrections", ["declaration_id", "sequence", "id"])
    if copied:
        bind.execute(_corrections.insert(), copied)


def downgrade() -> None:
    bind = op.get_bind()
    codes: dict[int, dict[str, str]] = {}
    for row in bind.execute(sa.select(_corrections).order_by(_corrections.c.control_result_id)):
        codes.setdefault(row.control_result_id, {})[str(row.sequence)] = row.hs_code
    op.drop_index("ix_hs_code_corrections_item", table_name="hs_code_corrections")
    op.drop_index(op.f("ix_hs_code_corrections_recorded_at"), table_name="hs_code_corrections")
    op.drop_index(op.f("ix_hs_code_corrections_control_result_id"), table_name="hs_code_corrections")
    op.drop_table("hs_code_corrections")
    with op.batch_alter_table("control_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("corrections", sa.JSON(), nullable=True))
    for result_id, hs_codes in codes.items():
        bind.execute(_results.update().where(_results.c.id == result_id).values(corrections={"hs_codes": hs_codes}))
