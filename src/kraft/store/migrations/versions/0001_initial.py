"""The operational tables of the import contract, kraft's audit log and import history.

On PostgreSQL the tables also get their primary keys, deferrable foreign keys (checked at commit,
so an import may write tables in any order) and the unique RM email; on DuckDB those rules are
enforced by the import validation (DuckDB cannot alter tables that carry constraints).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

DECIMAL = sa.Numeric(24, 6)

KEYS = {
    "teams": ("team_id",),
    "relationship_managers": ("rm_id",),
    "clients": ("client_id",),
    "policies": ("policy_id",),
    "leads": ("lead_id",),
    "interactions": ("interaction_id",),
    "claims": ("claim_id",),
    "surveys": ("response_id",),
    "activities": ("activity_id",),
    "compliance_audits": ("audit_id",),
    "compliance_incidents": ("incident_id",),
    "document_checks": ("check_id",),
    "tool_usage": ("rm_id", "tool", "month"),
    "team_goals": ("goal_id",),
    "measurements": ("rm_id", "kpi_id", "period"),
    "initiatives": ("initiative_id",),
    "initiative_participants": ("initiative_id", "rm_id"),
}

APP_KEYS = {"audit_log": ("seq",), "audit_head": ("id",), "import_runs": ("import_id",)}

REFERENCES = [
    ("teams", "leader_rm_id", "relationship_managers", "rm_id"),
    ("teams", "parent_team_id", "teams", "team_id"),
    ("relationship_managers", "team_id", "teams", "team_id"),
    ("clients", "referred_by_client_id", "clients", "client_id"),
    ("policies", "client_id", "clients", "client_id"),
    ("policies", "rm_id", "relationship_managers", "rm_id"),
    ("policies", "renewal_of_policy_id", "policies", "policy_id"),
    ("leads", "rm_id", "relationship_managers", "rm_id"),
    ("leads", "client_id", "clients", "client_id"),
    ("leads", "referred_by_client_id", "clients", "client_id"),
    ("interactions", "rm_id", "relationship_managers", "rm_id"),
    ("interactions", "client_id", "clients", "client_id"),
    ("claims", "policy_id", "policies", "policy_id"),
    ("surveys", "rm_id", "relationship_managers", "rm_id"),
    ("surveys", "client_id", "clients", "client_id"),
    ("activities", "rm_id", "relationship_managers", "rm_id"),
    ("compliance_audits", "rm_id", "relationship_managers", "rm_id"),
    ("compliance_incidents", "rm_id", "relationship_managers", "rm_id"),
    ("document_checks", "rm_id", "relationship_managers", "rm_id"),
    ("document_checks", "policy_id", "policies", "policy_id"),
    ("tool_usage", "rm_id", "relationship_managers", "rm_id"),
    ("team_goals", "team_id", "teams", "team_id"),
    ("measurements", "rm_id", "relationship_managers", "rm_id"),
    ("initiative_participants", "initiative_id", "initiatives", "initiative_id"),
    ("initiative_participants", "rm_id", "relationship_managers", "rm_id"),
]


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("team_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("leader_rm_id", sa.String(), nullable=True),
        sa.Column("parent_team_id", sa.String(), nullable=True),
    )
    op.create_table(
        "relationship_managers",
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("team_id", sa.String(), nullable=True),
        sa.Column("hire_date", sa.Date(), nullable=True),
        sa.Column("region", sa.String(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("exit_date", sa.Date(), nullable=True),
        sa.Column("role", sa.String(), nullable=True),
    )
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("segment", sa.String(), nullable=True),
        sa.Column("territory", sa.String(), nullable=True),
        sa.Column("acquired_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(), nullable=True),
        sa.Column("referred_by_client_id", sa.String(), nullable=True),
    )
    op.create_table(
        "policies",
        sa.Column("policy_id", sa.String(), nullable=False),
        sa.Column("client_id", sa.String(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("product_line", sa.String(), nullable=False),
        sa.Column("business_type", sa.String(), nullable=False),
        sa.Column("renewal_of_policy_id", sa.String(), nullable=True),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("cancel_date", sa.Date(), nullable=True),
        sa.Column("annual_premium", DECIMAL, nullable=False),
        sa.Column("sum_insured", DECIMAL, nullable=True),
        sa.Column("assessed_need", DECIMAL, nullable=True),
        sa.Column("risk_assessment_date", sa.Date(), nullable=True),
        sa.Column("personalised", sa.Boolean(), nullable=True),
    )
    op.create_table(
        "leads",
        sa.Column("lead_id", sa.String(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("client_id", sa.String(), nullable=True),
        sa.Column("created_date", sa.Date(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("referred_by_client_id", sa.String(), nullable=True),
        sa.Column("product_line", sa.String(), nullable=True),
        sa.Column("cross_sell", sa.Boolean(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("closed_date", sa.Date(), nullable=True),
        sa.Column("expected_premium", DECIMAL, nullable=True),
    )
    op.create_table(
        "interactions",
        sa.Column("interaction_id", sa.String(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("client_id", sa.String(), nullable=True),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("session_id", sa.String(), nullable=True),
    )
    op.create_table(
        "claims",
        sa.Column("claim_id", sa.String(), nullable=False),
        sa.Column("policy_id", sa.String(), nullable=False),
        sa.Column("loss_date", sa.Date(), nullable=True),
        sa.Column("intimation_date", sa.Date(), nullable=False),
        sa.Column("last_document_date", sa.Date(), nullable=True),
        sa.Column("settled_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("amount_claimed", DECIMAL, nullable=True),
        sa.Column("amount_paid", DECIMAL, nullable=True),
        sa.Column("outstanding_reserve", DECIMAL, nullable=True),
    )
    op.create_table(
        "surveys",
        sa.Column("response_id", sa.String(), nullable=False),
        sa.Column("survey_type", sa.String(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("client_id", sa.String(), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("score", DECIMAL, nullable=False),
        sa.Column("scale_min", DECIMAL, nullable=True),
        sa.Column("scale_max", DECIMAL, nullable=True),
    )
    op.create_table(
        "activities",
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("completed_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("corrections", sa.Integer(), nullable=True),
        sa.Column("hours", DECIMAL, nullable=True),
    )
    op.create_table(
        "compliance_audits",
        sa.Column("audit_id", sa.String(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("rating", DECIMAL, nullable=False),
    )
    op.create_table(
        "compliance_incidents",
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("category", sa.String(), nullable=True),
        sa.Column("severity", sa.String(), nullable=True),
        sa.Column("substantiated", sa.Boolean(), nullable=False),
        sa.Column("reported_by", sa.String(), nullable=True),
    )
    op.create_table(
        "document_checks",
        sa.Column("check_id", sa.String(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("policy_id", sa.String(), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("in_good_order", sa.Boolean(), nullable=False),
        sa.Column("defects", sa.Integer(), nullable=True),
    )
    op.create_table(
        "tool_usage",
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("tool", sa.String(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
    )
    op.create_table(
        "team_goals",
        sa.Column("goal_id", sa.String(), nullable=False),
        sa.Column("team_id", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=True),
        sa.Column("met", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "measurements",
        sa.Column("rm_id", sa.String(), nullable=False),
        sa.Column("kpi_id", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("value", DECIMAL, nullable=False),
        sa.Column("note", sa.String(), nullable=True),
    )
    op.create_table(
        "initiatives",
        sa.Column("initiative_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("description", sa.String(), nullable=True),
    )
    op.create_table(
        "initiative_participants",
        sa.Column("initiative_id", sa.String(), nullable=False),
        sa.Column("rm_id", sa.String(), nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("object_type", sa.String(), nullable=False),
        sa.Column("object_id", sa.String(), nullable=True),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
    )
    op.create_table(
        "import_runs",
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=True),
        sa.Column("as_of_source", sa.String(), nullable=False),
        sa.Column("files", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, key in {**KEYS, **APP_KEYS}.items():
        op.create_primary_key(f"pk_{table}", table, list(key))
    op.create_unique_constraint(
        "uq_relationship_managers_email", "relationship_managers", ["email"]
    )
    for table, column, referent, remote in REFERENCES:
        op.create_foreign_key(
            f"fk_{table}_{column}",
            table,
            referent,
            [column],
            [remote],
            deferrable=True,
            initially="DEFERRED",
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column, _, _ in REFERENCES:
            op.drop_constraint(f"fk_{table}_{column}", table, type_="foreignkey")
    for table in ["import_runs", "audit_head", "audit_log", *reversed(list(KEYS))]:
        op.drop_table(table)
