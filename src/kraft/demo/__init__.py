"""A synthetic, deterministic insurance book in the shape of the import contract (DATA.md)."""
