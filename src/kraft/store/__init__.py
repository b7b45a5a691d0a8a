"""The database: one URL (DuckDB file by default, PostgreSQL for teams), migrations, audit log."""
