"""kraft: KRA/KPI performance management that computes itself from an insurer's data."""

__version__ = "0.1.0"
