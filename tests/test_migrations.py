"""Every migration runs up and down on both databases, and head matches the table model."""

from __future__ import annotations

import sqlalchemy as sa

from kraft.store import migrate
from kraft.store.database import Database
from kraft.store.metadata import metadata


def _tables(db: Database) -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_up_down_up(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert migrate.current_revision(db) is None
        migrate.upgrade(db)
        assert migrate.current_revision(db) == migrate.head_revision()
        assert _tables(db) == set(metadata.tables)
        migrate.downgrade(db, "base")
        assert migrate.current_revision(db) is None
        assert _tables(db) == set()
        migrate.upgrade(db)
        assert _tables(db) == set(metadata.tables)
    finally:
        db.dispose()


def test_head_columns_match_the_model(database_url: str) -> None:
    db = Database(database_url)
    try:
        migrate.upgrade(db)
        query = sa.text(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_name = :t AND table_schema = current_schema() ORDER BY ordinal_position"
        )
        with db.connect() as conn:
            for name, table in metadata.tables.items():
                found = [(r[0], r[1] == "YES") for r in conn.execute(query, {"t": name})]
                assert found == [(c.name, bool(c.nullable)) for c in table.columns], name
        if db.dialect == "postgresql":
            inspector = sa.inspect(db.engine)
            pk = inspector.get_pk_constraint("policies")
            assert pk["constrained_columns"] == ["policy_id"]
            fks = {fk["name"] for fk in inspector.get_foreign_keys("policies")}
            assert "fk_policies_rm_id" in fks
    finally:
        db.dispose()
