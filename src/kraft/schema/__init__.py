"""The import contract (DATA.md) as data."""
