"""Risk management: selectivity profiles, named lists, office policies, channel decisions, rule hits, re-routings.

Revision ID: 0003_risk
Revises: 0002_tariff
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_risk"
down_revision: str | None = "0002_tariff"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "risk_lists",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("entries", sa.JSON(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_risk_lists")),
    )

    op.create_table(
        "risk_office_policies",
        sa.Column("office", sa.String(length=8), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("office", name=op.f("pk_risk_office_policies")),
    )

    op.create_table(
        "risk_profiles",
        sa.Column("profile_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("criteria", sa.JSON(), nullable=False),
        sa.Column("mandatory", sa.Boolean(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_changed_by", sa.String(length=64), nullable=True),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("profile_id", "version", name=op.f("pk_risk_profiles")),
    )
    with op.batch_alter_table("risk_profiles", schema=None) as batch_op:
        batch_op.create_index("ix_risk_profiles_status", ["status"], unique=False)

    op.create_table(
        "channel_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("declaration_version", sa.Integer(), nullable=False),
        sa.Column("office", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("value_at_risk", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("rule_hits", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("random_selection", sa.Boolean(), nullable=False),
        sa.Column("random_channel", sa.String(length=8), nullable=True),
        sa.Column("random_inclusion_probability", sa.Float(), nullable=False),
        sa.Column("trusted_trader", sa.Boolean(), nullable=False),
        sa.Column("budget_overrun", sa.Boolean(), nullable=False),
        sa.Column("budget_limited", sa.Boolean(), nullable=False),
        sa.Column("thresholds", sa.JSON(), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=True),
        sa.Column("policy_params", sa.JSON(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_channel_decisions_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_decisions")),
    )
    with op.batch_alter_table("channel_decisions", schema=None) as batch_op:
        batch_op.create_index("ix_channel_decisions_decided_at", ["decided_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_channel_decisions_declaration_id"), ["declaration_id"], unique=False)

    op.create_table(
        "risk_reroutes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("from_channel", sa.String(length=8), nullable=False),
        sa.Column("to_channel", sa.String(length=8), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("officer", sa.String(length=64), nullable=False),
        sa.Column("original_cause", sa.String(length=16), nullable=False),
        sa.Column("breaks_random_sample", sa.Boolean(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_risk_reroutes_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_reroutes")),
    )
    with op.batch_alter_table("risk_reroutes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_reroutes_declaration_id"), ["declaration_id"], unique=False)

    op.create_table(
        "risk_rule_hits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("profile_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["channel_decisions.id"], name=op.f("fk_risk_rule_hits_decision_id_channel_decisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_rule_hits")),
    )
    with op.batch_alter_table("risk_rule_hits", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_risk_rule_hits_decision_id"), ["decision_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_risk_rule_hits_declaration_id"), ["declaration_id"], unique=False)
        batch_op.create_index("ix_risk_rule_hits_profile", ["profile_id", "version"], unique=False)


def downgrade() -> None:
    op.drop_table("risk_rule_hits")
    op.drop_table("risk_reroutes")
    op.drop_table("channel_decisions")
    op.drop_table("risk_profiles")
    op.drop_table("risk_office_policies")
    op.drop_table("risk_lists")
