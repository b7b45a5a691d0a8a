"""Catalogue → SQLGlot expression trees → SQL for one dialect (duckdb, postgres, spark), by stage.

The plan, in order (kraft.metrics.compiler runs it):
1. stage each fact once (staging): its rows, only the columns its measures read, the RM
   credited, and the keys that meet periods (`kraft_fact_<fact>`);
2. aggregate each fact once per grain with conditional aggregates for all its measures
   (aggregation, distinct, snapshots): per RM, and per team and company through the
   RM → entity bridge, so that distinct counts are taken over the union of rows, never added
   up (`kraft_agg_<fact>`);
3. assemble each metric from its measures for every entity and period that should have a value
   (assembly, `kraft_entity_periods`): numerator, denominator, value, rows, provisional;
4. derive metrics over other metrics, including the previous period (assembly).
Period boundaries come from a spine built in Python (kraft.metrics.spine); no DATE_TRUNC.
"""
