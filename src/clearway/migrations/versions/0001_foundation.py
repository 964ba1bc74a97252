"""Foundation: users, audit log, nomenclature, declarations, notifications, jobs.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-24 23:34:06.900947
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=32), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_log_entity_id"), ["entity_id"], unique=False)

    op.create_table(
        "hs_nomenclature",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("parent", sa.String(length=6), nullable=True),
        sa.Column("section", sa.String(length=8), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("edition", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_hs_nomenclature")),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_claim", ["status", "run_after"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("full_name", sa.String(length=128), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_api_keys_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "declarations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("lrn", sa.String(length=22), nullable=False),
        sa.Column("mrn", sa.String(length=18), nullable=True),
        sa.Column("declarant_eori", sa.String(length=17), nullable=False),
        sa.Column("importer_eori", sa.String(length=17), nullable=True),
        sa.Column("exporter_eori", sa.String(length=17), nullable=True),
        sa.Column("declaration_type", sa.String(length=2), nullable=False),
        sa.Column("procedure_code", sa.String(length=4), nullable=False),
        sa.Column("office_of_lodgement", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("goods_item_count", sa.Integer(), nullable=False),
        sa.Column("invoice_currency", sa.String(length=3), nullable=False),
        sa.Column("invoice_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("submitted_by", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["submitted_by"], ["users.id"], name=op.f("fk_declarations_submitted_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declarations")),
        sa.UniqueConstraint("declarant_eori", "lrn", name=op.f("uq_declarations_declarant_eori_lrn")),
        sa.UniqueConstraint("mrn", name=op.f("uq_declarations_mrn")),
        sa.UniqueConstraint(
            "submitted_by", "idempotency_key", name=op.f("uq_declarations_submitted_by_idempotency_key")
        ),
    )
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_declarations_declarant_eori"), ["declarant_eori"], unique=False)
        batch_op.create_index(batch_op.f("ix_declarations_importer_eori"), ["importer_eori"], unique=False)
        batch_op.create_index(batch_op.f("ix_declarations_office_of_lodgement"), ["office_of_lodgement"], unique=False)
        batch_op.create_index("ix_declarations_status_updated", ["status", "updated_at"], unique=False)

    op.create_table(
        "user_eoris",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("eori", sa.String(length=17), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_user_eoris_user_id_users")),
        sa.PrimaryKeyConstraint("user_id", "eori", name=op.f("pk_user_eoris")),
    )
    with op.batch_alter_table("user_eoris", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_eoris_eori"), ["eori"], unique=False)

    op.create_table(
        "control_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("findings", sa.Text(), nullable=True),
        sa.Column("corrections", sa.JSON(), nullable=True),
        sa.Column("additional_revenue", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("revenue_currency", sa.String(length=3), nullable=True),
        sa.Column("officer", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_control_results_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_control_results")),
    )
    with op.batch_alter_table("control_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_control_results_declaration_id"), ["declaration_id"], unique=False)

    op.create_table(
        "declaration_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_declaration_events_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declaration_events")),
    )
    with op.batch_alter_table("declaration_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_declaration_events_declaration_id"), ["declaration_id"], unique=False)

    op.create_table(
        "declaration_versions",
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_declaration_versions_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("declaration_id", "version", name=op.f("pk_declaration_versions")),
    )
    op.create_table(
        "goods_items",
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("hs_code", sa.String(length=10), nullable=False),
        sa.Column("description", sa.String(length=512), nullable=False),
        sa.Column("country_of_origin", sa.String(length=2), nullable=False),
        sa.Column("preference_code", sa.String(length=4), nullable=True),
        sa.Column("net_mass_kg", sa.Numeric(precision=16, scale=3), nullable=False),
        sa.Column("gross_mass_kg", sa.Numeric(precision=16, scale=3), nullable=False),
        sa.Column("item_price", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_goods_items_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("declaration_id", "sequence", name=op.f("pk_goods_items")),
    )
    with op.batch_alter_table("goods_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_goods_items_hs_code"), ["hs_code"], unique=False)

    op.create_table(
        "notifications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("recipient_eori", sa.String(length=17), nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("lrn", sa.String(length=22), nullable=False),
        sa.Column("mrn", sa.String(length=18), nullable=True),
        sa.Column("type", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["declaration_id"], ["declarations.id"], name=op.f("fk_notifications_declaration_id_declarations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_recipient_id", ["recipient_eori", "id"], unique=False)
    _audit_log_append_only()


def _audit_log_append_only() -> None:
    """The audit log refuses UPDATE and DELETE at the database level, on both backends."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_change ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_recipient_id")

    op.drop_table("notifications")
    with op.batch_alter_table("goods_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_goods_items_hs_code"))

    op.drop_table("goods_items")
    op.drop_table("declaration_versions")
    with op.batch_alter_table("declaration_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_declaration_events_declaration_id"))

    op.drop_table("declaration_events")
    with op.batch_alter_table("control_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_control_results_declaration_id"))

    op.drop_table("control_results")
    with op.batch_alter_table("user_eoris", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_eoris_eori"))

    op.drop_table("user_eoris")
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.drop_index("ix_declarations_status_updated")
        batch_op.drop_index(batch_op.f("ix_declarations_office_of_lodgement"))
        batch_op.drop_index(batch_op.f("ix_declarations_importer_eori"))
        batch_op.drop_index(batch_op.f("ix_declarations_declarant_eori"))

    op.drop_table("declarations")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_user_id"))

    op.drop_table("api_keys")
    op.drop_table("users")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_claim")

    op.drop_table("jobs")
    op.drop_table("hs_nomenclature")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_log_entity_id"))
        batch_op.drop_index(batch_op.f("ix_audit_log_at"))

    op.drop_table("audit_log")
