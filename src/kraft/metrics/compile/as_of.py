"""The source tables as they stood on the data's as-of date (DATA.md "Events after the as-of date").

Every fact reads its tables (its own, its joins, the tables of its EXISTS snippets) through
`as_of_tables`: a row that came into being after the as-of date is left out, and an event after
it is undone, as if the export had been taken on the as-of date. The rules are data, per table,
so that no KPI spells them out:

- `exists`: the event that brings the row into being (a policy's issue_date, a claim's
  intimation_date, a lead's created_date, the date of an interaction, a survey, an activity...);
  a row whose date is after the as-of date does not exist.
- `later`: events that change a row that exists (a policy cancelled, lapsed, matured or ended by
  death; a claim settled, rejected or withdrawn; a lead won or lost; an activity completed): after
  the as-of date, the event's date is emptied and the columns it set are put back (status in
  force, open, planned).

Tables with no rule (teams, relationship_managers, clients, team_goals, measurements) are read as
they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from kraft.metrics.compile.sql import and_, col
from kraft.schema.tables import TABLES_BY_NAME


@dataclass(frozen=True)
class Later:
    """An event on `date` after the as-of date: `date` emptied and `reset` columns set (SQL)."""

    date: str
    reset: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class AsOfRule:
    exists: str | None = None
    later: tuple[Later, ...] = ()
    # status values that are states reached on a scheduled date, back to `to` while it is ahead
    scheduled: tuple[str, str, str] | None = None  # (date column, status, status before it)


AS_OF_RULES: dict[str, AsOfRule] = {
    "policies": AsOfRule(
        exists="issue_date",
        later=(
            Later(
                "cancel_date",
                {
                    "status": "CASE WHEN status IN ('cancelled', 'lapsed', 'matured', "
                    "'terminated_death') THEN 'in_force' ELSE status END"
                },
            ),
        ),
        scheduled=("end_date", "expired", "in_force"),
    ),
    "claims": AsOfRule(
        exists="intimation_date",
        later=(Later("settled_date", {"status": "'open'"}),),
    ),
    "leads": AsOfRule(
        exists="created_date",
        later=(Later("closed_date", {"status": "'open'"}),),
    ),
    "activities": AsOfRule(
        exists="date",
        later=(Later("completed_date", {"status": "'planned'", "outcome": "NULL"}),),
    ),
    "interactions": AsOfRule(exists="date"),
    "surveys": AsOfRule(exists="date"),
    "compliance_audits": AsOfRule(exists="date"),
    "compliance_incidents": AsOfRule(exists="date"),
    "document_checks": AsOfRule(exists="date"),
    "tool_usage": AsOfRule(exists="month"),
}


def as_of_select(table: str, as_of: exp.Expr) -> exp.Select:
    """The table's rows and columns as they stood on the as-of date."""
    rule = AS_OF_RULES[table]
    overrides: dict[str, exp.Expr] = {}
    after: dict[str, exp.Expr] = {}
    for later in rule.later:
        happened_after = exp.GT(this=col(later.date), expression=as_of.copy())
        after[later.date] = happened_after
        overrides[later.date] = exp.Case(
            ifs=[exp.If(this=happened_after.copy(), true=exp.null())], default=col(later.date)
        )
        for name, sql in later.reset.items():
            overrides[name] = exp.Case(
                ifs=[exp.If(this=happened_after.copy(), true=exp.maybe_parse(sql))],
                default=col(name),
            )
    if rule.scheduled is not None:
        day, reached, before = rule.scheduled
        ahead = and_(
            exp.EQ(this=col("status"), expression=exp.Literal.string(reached)),
            exp.GT(this=col(day), expression=as_of.copy()),
        )
        current = overrides.get("status", col("status"))
        overrides["status"] = exp.Case(
            ifs=[exp.If(this=ahead, true=exp.Literal.string(before))], default=current
        )
    columns = [
        exp.alias_(overrides[name], name) if name in overrides else col(name)
        for name in TABLES_BY_NAME[table].column_names
    ]
    query = exp.select(*columns).from_(exp.to_table(table))
    if rule.exists is not None:
        query = query.where(exp.LTE(this=col(rule.exists), expression=as_of.copy()))
    return query


def as_of_tables(tree: exp.Expr, as_of: exp.Expr) -> exp.Expr:
    """Every source table the tree reads, replaced by its rows as of the as-of date (under the
    same alias, or the table's name)."""

    def replace(node: exp.Expr) -> exp.Expr:
        if (
            isinstance(node, exp.Table)
            and not node.args.get("db")
            and node.name in AS_OF_RULES
            and isinstance(node.this, exp.Identifier)
        ):
            return as_of_select(node.name, as_of).subquery(node.alias_or_name)
        return node

    return tree.transform(replace)
