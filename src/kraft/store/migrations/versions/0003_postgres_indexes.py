"""Indexes PostgreSQL needs for the KPI engine's correlated EXISTS (renewals, education sessions,
a client's first policy) and its joins; DuckDB decorrelates those itself and keeps no indexes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_policies_renewal_of": ("policies", ["renewal_of_policy_id"]),
    "ix_policies_client_issue": ("policies", ["client_id", "issue_date", "policy_id"]),
    "ix_policies_rm": ("policies", ["rm_id"]),
    "ix_interactions_client_rm": ("interactions", ["client_id", "rm_id", "type", "date"]),
    "ix_claims_policy": ("claims", ["policy_id"]),
    "ix_kpi_values_period": ("kpi_values", ["period", "kpi_id"]),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (table, columns) in INDEXES.items():
        op.create_index(name, table, columns)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (table, _) in INDEXES.items():
        op.drop_index(name, table_name=table)
