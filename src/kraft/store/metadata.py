"""SQLAlchemy tables: the operational tables derived from the schema module, and kraft's own.

This is the model the migrations must produce (a test compares them). On DuckDB, keys and
references are enforced by the import validation, not by constraints (DuckDB cannot alter a table
that has them); the migrations add primary keys and deferrable foreign keys on PostgreSQL only.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kraft.schema.tables import TABLES, Column, ColumnType

DECIMAL = sa.Numeric(24, 6)  # up to 10^18 with 6 decimal places; exact on both databases
DECIMAL_PLACES = 6

SQL_TYPES: dict[ColumnType, sa.types.TypeEngine[Any]] = {
    ColumnType.id: sa.String(),
    ColumnType.text: sa.String(),
    ColumnType.enum: sa.String(),
    ColumnType.period: sa.String(),
    ColumnType.date: sa.Date(),
    ColumnType.month: sa.Date(),
    ColumnType.bool: sa.Boolean(),
    ColumnType.decimal: DECIMAL,
    ColumnType.int: sa.Integer(),
}

metadata = sa.MetaData()


def _column(column: Column) -> sa.Column[Any]:
    return sa.Column(column.name, SQL_TYPES[column.type], nullable=not column.required)


operational: dict[str, sa.Table] = {
    t.name: sa.Table(t.name, metadata, *(_column(c) for c in t.columns)) for t in TABLES
}

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=False), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("action", sa.String(), nullable=False),
    sa.Column("object_type", sa.String(), nullable=False),
    sa.Column("object_id", sa.String(), nullable=True),
    sa.Column("old_value", sa.Text(), nullable=True),
    sa.Column("new_value", sa.Text(), nullable=True),
    sa.Column("prev_hash", sa.String(), nullable=False),
    sa.Column("hash", sa.String(), nullable=False),
)

# The chain's head, written with every entry, so that deleting the newest entries is detected.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("hash", sa.String(), nullable=False),
)

import_runs = sa.Table(
    "import_runs",
    metadata,
    sa.Column("import_id", sa.Integer(), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=False), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=False), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("mode", sa.String(), nullable=False),
    sa.Column("as_of", sa.Date(), nullable=True),
    sa.Column("as_of_source", sa.String(), nullable=False),
    sa.Column("files", sa.Text(), nullable=False),
    sa.Column("summary", sa.Text(), nullable=False),
)

kpi_values = sa.Table(
    "kpi_values",
    metadata,
    sa.Column("entity_type", sa.String(), nullable=False),
    sa.Column("entity_id", sa.String(), nullable=False),
    sa.Column("period", sa.String(), nullable=False),
    sa.Column("grain", sa.String(), nullable=False),
    sa.Column("kpi_id", sa.String(), nullable=False),
    sa.Column("value", sa.Double(), nullable=True),
    sa.Column("numerator", sa.Double(), nullable=True),
    sa.Column("denominator", sa.Double(), nullable=True),
    sa.Column("row_count", sa.BigInteger(), nullable=False),
    sa.Column("provisional", sa.Boolean(), nullable=False),
    sa.Column("extra", sa.Text(), nullable=True),
    sa.Column("definition_hash", sa.String(), nullable=False),
    sa.Column("run_id", sa.Integer(), nullable=False),
    sa.Column("computed_at", sa.DateTime(), nullable=False),
)

compute_runs = sa.Table(
    "compute_runs",
    metadata,
    sa.Column("run_id", sa.Integer(), nullable=False),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("finished_at", sa.DateTime(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("engine", sa.String(), nullable=False),
    sa.Column("as_of", sa.Date(), nullable=False),
    sa.Column("first_period", sa.String(), nullable=False),
    sa.Column("last_period", sa.String(), nullable=False),
    sa.Column("grains", sa.String(), nullable=False),
    sa.Column("kpis", sa.Integer(), nullable=False),
    sa.Column("rows", sa.BigInteger(), nullable=False),
)

TARGET = sa.Numeric(24, 6)
SCORE = sa.Numeric(12, 4)

targets = sa.Table(
    "targets",
    metadata,
    sa.Column("target_id", sa.Integer(), nullable=False),
    sa.Column("scope_type", sa.String(), nullable=False),
    sa.Column("scope_id", sa.String(), nullable=False),
    sa.Column("kpi_id", sa.String(), nullable=False),
    sa.Column("from_period", sa.String(), nullable=True),
    sa.Column("to_period", sa.String(), nullable=True),
    sa.Column("from_date", sa.Date(), nullable=True),
    sa.Column("to_date", sa.Date(), nullable=True),
    sa.Column("target", TARGET, nullable=False),
    sa.Column("threshold", TARGET, nullable=True),
    sa.Column("recorded_at", sa.DateTime(), nullable=False),
    sa.Column("recorded_by", sa.String(), nullable=False),
    sa.Column("source", sa.String(), nullable=False),
)

scores = sa.Table(
    "scores",
    metadata,
    sa.Column("run_id", sa.Integer(), nullable=False),
    sa.Column("rm_id", sa.String(), nullable=False),
    sa.Column("period", sa.String(), nullable=False),
    sa.Column("grain", sa.String(), nullable=False),
    sa.Column("level", sa.String(), nullable=False),  # kpi, kra or overall
    sa.Column("item_id", sa.String(), nullable=False),  # the KPI's id, the KRA's id, or overall
    sa.Column("kra_id", sa.String(), nullable=True),
    sa.Column("actual", sa.Double(), nullable=True),
    sa.Column("volume", sa.Double(), nullable=True),
    sa.Column("target", TARGET, nullable=True),
    sa.Column("threshold", TARGET, nullable=True),
    sa.Column("target_source", sa.String(), nullable=True),
    sa.Column("target_id", sa.Integer(), nullable=True),
    sa.Column("weight", TARGET, nullable=True),
    sa.Column("score", SCORE, nullable=True),
    sa.Column("status", sa.String(), nullable=True),
    sa.Column("provisional", sa.Boolean(), nullable=False),
    sa.Column("coverage", SCORE, nullable=True),
    sa.Column("rating", sa.Integer(), nullable=True),
    sa.Column("rating_label", sa.String(), nullable=True),
    sa.Column("capped_at", SCORE, nullable=True),
    sa.Column("values_run_id", sa.Integer(), nullable=True),
)

# Sign-in for `kraft serve`: one row per person; role admin, manager or rm; rm_id links a manager
# or an RM to their relationship_managers row (the data their permissions are derived from).
users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", sa.Integer(), nullable=False),
    sa.Column("email", sa.String(), nullable=False),
    sa.Column("password_hash", sa.String(), nullable=False),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("rm_id", sa.String(), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    # Sessions and tokens carry the version they were issued under (kraft.web.security); signing
    # out, a password change and disabling raise it, so every older one stops working.
    sa.Column("token_version", sa.Integer(), nullable=False, server_default="0"),
)

# The review cycle (kraft.scoring.review): one review per RM and period, its state and each
# step's who and when; `version` goes up with every step (optimistic concurrency). A sign-off
# freezes the scorecard in review_snapshots as canonical JSON with its SHA-256, never changed.
reviews = sa.Table(
    "reviews",
    metadata,
    sa.Column("review_id", sa.Integer(), nullable=False),
    sa.Column("rm_id", sa.String(), nullable=False),
    sa.Column("period", sa.String(), nullable=False),
    sa.Column("grain", sa.String(), nullable=False),
    sa.Column("state", sa.String(), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("computed_score", SCORE, nullable=True),
    sa.Column("computed_rating", sa.Integer(), nullable=True),
    sa.Column("adjusted_rating", sa.Integer(), nullable=True),
    sa.Column("final_rating", sa.Integer(), nullable=True),
    sa.Column("adjustment_reason", sa.Text(), nullable=True),
    sa.Column("adjusted_by", sa.String(), nullable=True),
    sa.Column("adjusted_at", sa.DateTime(), nullable=True),
    sa.Column("manager_comments", sa.Text(), nullable=True),
    sa.Column("reviewed_by", sa.String(), nullable=True),
    sa.Column("reviewed_at", sa.DateTime(), nullable=True),
    sa.Column("self_assessment", sa.Text(), nullable=True),
    sa.Column("self_assessed_by", sa.String(), nullable=True),
    sa.Column("self_assessed_at", sa.DateTime(), nullable=True),
    sa.Column("acknowledged_by", sa.String(), nullable=True),
    sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
    sa.Column("signed_off_by", sa.String(), nullable=True),
    sa.Column("signed_off_at", sa.DateTime(), nullable=True),
    sa.Column("snapshot_id", sa.Integer(), nullable=True),
    sa.Column("reopen_reason", sa.Text(), nullable=True),
    sa.Column("reopened_by", sa.String(), nullable=True),
    sa.Column("reopened_at", sa.DateTime(), nullable=True),
    sa.Column("started_by", sa.String(), nullable=False),
    sa.Column("started_at", sa.DateTime(), nullable=False),
    sa.Column("updated_at", sa.DateTime(), nullable=False),
    # The sentence the starter or signer confirmed: the period's values could still change.
    sa.Column("start_confirmation", sa.Text(), nullable=True),
    sa.Column("sign_off_confirmation", sa.Text(), nullable=True),
)

review_snapshots = sa.Table(
    "review_snapshots",
    metadata,
    sa.Column("snapshot_id", sa.Integer(), nullable=False),
    sa.Column("review_id", sa.Integer(), nullable=False),
    sa.Column("rm_id", sa.String(), nullable=False),
    sa.Column("period", sa.String(), nullable=False),
    sa.Column("taken_at", sa.DateTime(), nullable=False),
    sa.Column("taken_by", sa.String(), nullable=False),
    sa.Column("framework_id", sa.String(), nullable=False),
    sa.Column("framework_version", sa.String(), nullable=False),
    sa.Column("run_id", sa.Integer(), nullable=True),
    sa.Column("values_run_id", sa.Integer(), nullable=True),
    sa.Column("content", sa.Text(), nullable=False),
    sa.Column("content_hash", sa.String(), nullable=False),
)
