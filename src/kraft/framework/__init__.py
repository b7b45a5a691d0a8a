"""Frameworks: KRAs × KPIs as typed data, loaded from YAML and checked against SMART rules."""
