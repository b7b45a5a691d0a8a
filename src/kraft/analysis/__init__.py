"""Analysis over values and scores: variance, pacing, what-if and initiative impact.

Above scoring in the one-way flow: it reads kpi_values and scores, and may call the scorer; the
scoring and metrics layers never import it.
"""
