"""Apply kraft's Alembic migrations to the workspace database, on DuckDB and PostgreSQL."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from kraft.store.database import Database


class DuckDBImpl(DefaultImpl):
    """Alembic has no DuckDB dialect of its own; the default implementation works for it."""

    __dialect__ = "duckdb"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("kraft.store") / "migrations"))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(db: Database) -> str | None:
    with db.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(db: Database, revision: str = "head") -> None:
    with db.begin() as conn:
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def downgrade(db: Database, revision: str) -> None:
    with db.begin() as conn:
        config = _config()
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
