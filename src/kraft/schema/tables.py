"""The operational tables of the import contract (DATA.md), once, as data.

DDL, import validation, the generated contract doc and the demo generator all read this module;
nothing else spells out a table's columns. Names are the contract's: keep them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class ColumnType(StrEnum):
    id = "id"
    text = "text"
    date = "date"
    month = "month"  # YYYY-MM, stored as the month's first day
    period = "period"  # a month, quarter or year label (see Periods in DATA.md)
    bool = "bool"
    decimal = "decimal"
    int = "int"
    enum = "enum"


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool = False
    meaning: str = ""
    enum: tuple[str, ...] = ()
    ref: str | None = None  # the table whose key this column references
    min: Decimal | None = None
    max: Decimal | None = None
    default: str | None = None  # a raw value used when the cell is empty
    unique: bool = False  # unique when present (email)


@dataclass(frozen=True)
class DateOrder:
    """`later` ≥ `earlier` (or > when strict), checked when both are present."""

    later: str
    earlier: str
    strict: bool = False


@dataclass(frozen=True)
class RequiredWhen:
    """`column` must be present when `when` holds one of `values`."""

    column: str
    when: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class ScoreWithinScale:
    """`score` within [scale_min, scale_max] and scale_max > scale_min (after defaults)."""

    score: str = "score"
    low: str = "scale_min"
    high: str = "scale_max"


@dataclass(frozen=True)
class NoCycle:
    """Following `parent` from any row never comes back to it."""

    parent: str


Check = DateOrder | RequiredWhen | ScoreWithinScale | NoCycle


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    checks: tuple[Check, ...] = ()
    meaning: str = ""
    # The columns that date something that happened (DATA.md "Event dates"); the data as-of date
    # defaults to the latest of them. A month column counts as its first day.
    event_dates: tuple[str, ...] = ()

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(f"{self.name}.{name}")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(col.name for col in self.columns)


SOURCES = ("referral", "walk_in", "digital", "campaign", "cold_call", "other")
PRODUCT_LINES = ("life", "health", "motor", "property", "travel", "other")
ZERO = Decimal(0)


def _id(name: str, required: bool = False, ref: str | None = None, meaning: str = "") -> Column:
    return Column(name, ColumnType.id, required=required, ref=ref, meaning=meaning)


def _date(name: str, required: bool = False, meaning: str = "") -> Column:
    return Column(name, ColumnType.date, required=required, meaning=meaning)


def _enum(
    name: str,
    values: tuple[str, ...],
    required: bool = False,
    default: str | None = None,
    meaning: str = "",
) -> Column:
    return Column(
        name, ColumnType.enum, required=required, enum=values, default=default, meaning=meaning
    )


def _money(name: str, required: bool = False, meaning: str = "") -> Column:
    return Column(name, ColumnType.decimal, required=required, min=ZERO, meaning=meaning)


TABLES: tuple[Table, ...] = (
    Table(
        "teams",
        (
            _id("team_id", True),
            Column("name", ColumnType.text, required=True),
            _id(
                "leader_rm_id",
                ref="relationship_managers",
                meaning="the team leader; an RM (role rm) who leads gets KRA 6; a manager only "
                "gets the team's scope",
            ),
            _id("parent_team_id", ref="teams", meaning="branch/region hierarchy; no cycles"),
        ),
        key=("team_id",),
        checks=(NoCycle("parent_team_id"),),
    ),
    Table(
        "relationship_managers",
        (
            _id("rm_id", True),
            Column("name", ColumnType.text, required=True),
            Column(
                "email",
                ColumnType.text,
                unique=True,
                meaning="unique when present; links a login to an RM",
            ),
            _id("team_id", ref="teams"),
            _date("hire_date", meaning="no KPI values before the month it falls in"),
            Column("region", ColumnType.text),
            Column("active", ColumnType.bool, default="true", meaning="default true"),
            _date(
                "exit_date",
                meaning="last day of employment; no KPI values after the month it falls in",
            ),
            _enum(
                "role",
                ("rm", "manager"),
                default="rm",
                meaning="default rm; a manager leads teams but has no book: never scored or ranked",
            ),
        ),
        key=("rm_id",),
        checks=(DateOrder("exit_date", "hire_date"),),
    ),
    Table(
        "clients",
        (
            _id("client_id", True),
            Column("name", ColumnType.text),
            _enum("segment", ("retail", "hni", "sme", "corporate")),
            Column("territory", ColumnType.text),
            _date("acquired_date", meaning="first became a client"),
            _enum("source", SOURCES),
            _id("referred_by_client_id", ref="clients"),
        ),
        key=("client_id",),
    ),
    Table(
        "policies",
        (
            _id("policy_id", True),
            _id("client_id", True, ref="clients"),
            _id(
                "rm_id",
                True,
                ref="relationship_managers",
                meaning="the servicing RM credited with this policy",
            ),
            _enum("product_line", PRODUCT_LINES, required=True),
            _enum("business_type", ("new", "renewal"), required=True),
            _id(
                "renewal_of_policy_id",
                ref="policies",
                meaning="required when business_type = renewal",
            ),
            _date("issue_date", True, meaning="when the policy was sold/bound"),
            _date("start_date", True, meaning="cover starts (≥ issue_date is usual, not required)"),
            _date("end_date", True, meaning="cover ends; > start_date"),
            _enum(
                "status",
                ("in_force", "expired", "lapsed", "cancelled", "matured", "terminated_death"),
                required=True,
                meaning="state as of the export",
            ),
            _date(
                "cancel_date",
                meaning="required when status = cancelled or lapsed; may precede start_date "
                "(cancelled before cover began: never in force, earns nothing)",
            ),
            _money("annual_premium", True, meaning="written premium per policy year"),
            _money("sum_insured"),
            _money("assessed_need", meaning="cover the client needs, from the needs assessment"),
            _date("risk_assessment_date", meaning="when the needs/risk assessment was completed"),
            Column(
                "personalised",
                ColumnType.bool,
                default="false",
                meaning="sold as a personalised package (default false)",
            ),
        ),
        key=("policy_id",),
        checks=(
            DateOrder("end_date", "start_date", strict=True),
            RequiredWhen("renewal_of_policy_id", "business_type", ("renewal",)),
            RequiredWhen("cancel_date", "status", ("cancelled", "lapsed")),
        ),
        event_dates=("issue_date", "cancel_date"),
    ),
    Table(
        "leads",
        (
            _id("lead_id", True),
            _id("rm_id", True, ref="relationship_managers"),
            _id("client_id", ref="clients", meaning="null for a prospect who is not yet a client"),
            _date("created_date", True),
            _enum("source", SOURCES, required=True),
            _id(
                "referred_by_client_id",
                ref="clients",
                meaning="the existing client who referred it",
            ),
            _enum("product_line", PRODUCT_LINES),
            Column(
                "cross_sell",
                ColumnType.bool,
                meaning="lead offers an existing client a product line they do not hold",
            ),
            _enum("status", ("open", "won", "lost"), required=True),
            _date("closed_date", meaning="required when won or lost; ≥ created_date"),
            _money("expected_premium"),
        ),
        key=("lead_id",),
        checks=(
            RequiredWhen("closed_date", "status", ("won", "lost")),
            DateOrder("closed_date", "created_date"),
        ),
        event_dates=("created_date", "closed_date"),
    ),
    Table(
        "interactions",
        (
            _id("interaction_id", True),
            _id("rm_id", True, ref="relationship_managers"),
            _id("client_id", ref="clients"),
            _enum("type", ("meeting", "call", "education_session", "service_visit"), required=True),
            _date("date", True),
            _enum("status", ("completed", "cancelled", "no_show"), required=True),
            Column("duration_minutes", ColumnType.int, min=ZERO),
            _id(
                "session_id",
                meaning="one session held for several clients: one row per client, the same "
                "session_id; counted once",
            ),
        ),
        key=("interaction_id",),
        event_dates=("date",),
    ),
    Table(
        "claims",
        (
            _id("claim_id", True),
            _id(
                "policy_id",
                True,
                ref="policies",
                meaning="the RM credited is the policy's RM",
            ),
            _date("loss_date"),
            _date("intimation_date", True, meaning="the insurer was told of the claim"),
            _date("last_document_date", meaning="last required document received"),
            _date("settled_date", meaning="required when settled or rejected; ≥ intimation_date"),
            _enum("status", ("open", "settled", "rejected", "withdrawn"), required=True),
            _money("amount_claimed"),
            _money("amount_paid"),
            _money("outstanding_reserve", meaning="still reserved for open claims"),
        ),
        key=("claim_id",),
        checks=(
            RequiredWhen("settled_date", "status", ("settled", "rejected")),
            DateOrder("settled_date", "intimation_date"),
        ),
        event_dates=("intimation_date", "settled_date"),
    ),
    Table(
        "surveys",
        (
            _id("response_id", True),
            _enum(
                "survey_type",
                (
                    "csat",
                    "policy_understanding",
                    "education_material",
                    "digital_service",
                    "employee_satisfaction",
                ),
                required=True,
            ),
            _id(
                "rm_id",
                True,
                ref="relationship_managers",
                meaning="the RM the response is about (for employee_satisfaction: the team "
                "leader rated by a team member)",
            ),
            _id("client_id", ref="clients"),
            _date("date", True),
            Column(
                "score",
                ColumnType.decimal,
                required=True,
                meaning="within [scale_min, scale_max]",
            ),
            Column("scale_min", ColumnType.decimal, default="1", meaning="default 1"),
            Column("scale_max", ColumnType.decimal, default="5", meaning="default 5; > scale_min"),
        ),
        key=("response_id",),
        checks=(ScoreWithinScale(),),
        event_dates=("date",),
    ),
    Table(
        "activities",
        (
            _id("activity_id", True),
            _id("rm_id", True, ref="relationship_managers"),
            _enum(
                "type",
                (
                    "competitor_analysis_report",
                    "market_segment_identified",
                    "market_initiative",
                    "training",
                    "compliance_training",
                    "certification",
                    "workshop",
                    "seminar",
                    "knowledge_sharing",
                    "innovation_project",
                    "action_plan_item",
                    "performance_report",
                ),
                required=True,
            ),
            _date("date", True, meaning="when it happened, was assigned, or was submitted"),
            _date("due_date", meaning="for training, action_plan_item"),
            _date("completed_date"),
            _enum("status", ("planned", "completed", "cancelled"), required=True),
            _enum("outcome", ("success", "failure"), meaning="for innovation_project"),
            Column(
                "corrections",
                ColumnType.int,
                min=ZERO,
                meaning="for performance_report: corrections needed after submission",
            ),
            Column("hours", ColumnType.decimal, min=ZERO),
        ),
        key=("activity_id",),
        meaning="one log for the RM's professional activities that many KPIs count",
        event_dates=("date", "completed_date"),
    ),
    Table(
        "compliance_audits",
        (
            _id("audit_id", True),
            _id("rm_id", True, ref="relationship_managers"),
            _date("date", True),
            Column("rating", ColumnType.decimal, required=True, min=ZERO, max=Decimal(100)),
        ),
        key=("audit_id",),
        event_dates=("date",),
    ),
    Table(
        "compliance_incidents",
        (
            _id("incident_id", True),
            _id("rm_id", True, ref="relationship_managers"),
            _date("date", True),
            Column("category", ColumnType.text),
            _enum("severity", ("low", "medium", "high")),
            Column("substantiated", ColumnType.bool, required=True),
            _enum("reported_by", ("self", "audit", "client", "regulator")),
        ),
        key=("incident_id",),
        event_dates=("date",),
    ),
    Table(
        "document_checks",
        (
            _id("check_id", True),
            _id("rm_id", True, ref="relationship_managers"),
            _id("policy_id", ref="policies"),
            _date("date", True),
            Column(
                "in_good_order",
                ColumnType.bool,
                required=True,
                meaning="passed the first check with no defect",
            ),
            Column("defects", ColumnType.int, min=ZERO),
        ),
        key=("check_id",),
        event_dates=("date",),
    ),
    Table(
        "tool_usage",
        (
            _id("rm_id", True, ref="relationship_managers"),
            Column("tool", ColumnType.text, required=True),
            Column("month", ColumnType.month, required=True),
            Column(
                "active_days",
                ColumnType.int,
                required=True,
                min=ZERO,
                max=Decimal(31),
                meaning="days the RM used it",
            ),
        ),
        key=("rm_id", "tool", "month"),
        meaning="a row means the tool was assigned to the RM in that month",
        event_dates=("month",),
    ),
    Table(
        "team_goals",
        (
            _id("goal_id", True),
            _id("team_id", True, ref="teams"),
            Column("period", ColumnType.period, required=True),
            Column("description", ColumnType.text),
            Column("met", ColumnType.bool, required=True),
        ),
        key=("goal_id",),
    ),
    Table(
        "measurements",
        (
            _id("rm_id", True, ref="relationship_managers"),
            _id("kpi_id", True, meaning="id of a KPI of type manual"),
            Column("period", ColumnType.period, required=True),
            Column("value", ColumnType.decimal, required=True),
            Column("note", ColumnType.text, meaning="evidence or source"),
        ),
        key=("rm_id", "kpi_id", "period"),
        meaning="values that no system records, entered by hand (or imported) per RM, KPI and "
        "period",
    ),
    Table(
        "initiatives",
        (
            _id("initiative_id", True),
            Column("name", ColumnType.text, required=True),
            _date("start_date", True),
            _date("end_date"),
            Column("description", ColumnType.text),
        ),
        key=("initiative_id",),
        checks=(DateOrder("end_date", "start_date"),),
        meaning="a strategy with a start date and the RMs who carry it out",
    ),
    Table(
        "initiative_participants",
        (
            _id("initiative_id", True, ref="initiatives"),
            _id("rm_id", True, ref="relationship_managers"),
        ),
        key=("initiative_id", "rm_id"),
    ),
)

TABLES_BY_NAME: dict[str, Table] = {table.name: table for table in TABLES}


def table(name: str) -> Table:
    return TABLES_BY_NAME[name]
