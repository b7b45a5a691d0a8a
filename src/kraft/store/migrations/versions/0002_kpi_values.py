"""KPI values with their lineage, and the compute runs that wrote them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kpi_values",
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
    op.create_table(
        "compute_runs",
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
    if op.get_bind().dialect.name == "postgresql":
        op.create_primary_key(
            "pk_kpi_values", "kpi_values", ["entity_type", "entity_id", "period", "kpi_id"]
        )
        op.create_primary_key("pk_compute_runs", "compute_runs", ["run_id"])


def downgrade() -> None:
    op.drop_table("compute_runs")
    op.drop_table("kpi_values")
