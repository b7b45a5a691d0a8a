"""SMART lint of a framework: each KPI against named rules, plus the framework's structure.

The data-driven half of "Achievable" (a target outside the spread of recent actuals) needs values
from the engine; the caller passes them in, so this module stays below the metrics layer.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from kraft.formatting import plain, rounded
from kraft.framework.model import KPI, KRA, Direction, Framework, KpiKind, ScoringMethod, Unit


class Severity(StrEnum):
    error = "error"
    warning = "warning"


class Rule(StrEnum):
    specific = "Specific"
    measurable = "Measurable"
    achievable = "Achievable"
    relevant = "Relevant"
    time_bound = "Time-bound"
    unique_ids = "Unique ids"
    kra_weights = "KRA weights"
    kpi_weights = "KPI weights"
    metric_reference = "Metric reference"
    rating_bands = "Rating bands"


@dataclass(frozen=True)
class Finding:
    rule: Rule
    where: str  # a KPI id, a KRA id or "framework"
    problem: str
    fix: str
    severity: Severity = Severity.error


MIN_DEFINITION_WORDS = 8
HUNDRED = Decimal(100)

# Nouns that name something a KPI can count, sum or average: the operational rows and their
# measures. A definition that names none of them does not say what is counted.
COUNTED_NOUNS = frozenset(
    """
    policy policies client clients customer customers lead leads claim claims premium premiums
    meeting meetings interaction interactions session sessions call calls visit visits survey
    surveys response responses score scores rating ratings activity activities training
    trainings report reports audit audits incident incidents violation violations check checks
    document documents tool tools usage goal goals measurement measurements project projects
    item items certification certifications workshop workshops seminar seminars initiative
    initiatives segment segments renewal renewals days amount amounts revenue members member
    employees settlement settlements assessment assessments packages package referrals referral
    minutes hours task tasks cases case applications application complaints complaint kpi kpis
    metric metrics
    """.split()
)
PLACEHOLDER = re.compile(r"\bTODO\b|\bTBD\b|\bFIXME\b|<[A-Za-z][^<>]*>|\?\?\?", re.IGNORECASE)


def is_placeholder(text: str | None) -> bool:
    return text is None or not text.strip() or bool(PLACEHOLDER.search(text))


def validate(
    framework: Framework,
    *,
    known_metrics: Collection[str] | None = None,
    recent_actuals: Mapping[str, Sequence[Decimal]] | None = None,
) -> list[Finding]:
    """Every finding for the framework, errors and warnings, in document order.

    `known_metrics`: ids of the metric catalogue; when None, metric references are only checked
    for presence. `recent_actuals`: per KPI id, recent actual values of comparable RMs.
    """
    findings: list[Finding] = []
    findings += _structure(framework, known_metrics)
    for kra in framework.kras:
        findings += _relevant(kra)
        for kpi in kra.kpis:
            findings += _specific(kpi)
            findings += _measurable(kpi)
            findings += _achievable(kpi, (recent_actuals or {}).get(kpi.id))
            findings += _time_bound(kpi)
    return findings


def errors(findings: Sequence[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity is Severity.error]


def _structure(framework: Framework, known_metrics: Collection[str] | None) -> list[Finding]:
    out: list[Finding] = []
    kra_ids = Counter(kra.id for kra in framework.kras)
    kpi_ids = Counter(kpi.id for _, kpi in framework.kpis())
    if framework.example:
        kpi_ids.update(kpi.id for kpi in framework.example.kpis)
    for kind, counter in (("KRA", kra_ids), ("KPI", kpi_ids)):
        for dup, n in counter.items():
            if n > 1:
                out.append(
                    Finding(
                        Rule.unique_ids,
                        dup,
                        f"the {kind} id {dup!r} is used {n} times",
                        f"give each {kind} its own id",
                    )
                )
    numbers = Counter(kra.number for kra in framework.kras)
    for number, n in numbers.items():
        if n > 1:
            out.append(
                Finding(
                    Rule.unique_ids,
                    "framework",
                    f"KRA number {number} is used {n} times",
                    "number the KRAs 1, 2, 3, ... in document order",
                )
            )

    total = sum((kra.weight for kra in framework.kras), Decimal(0))
    if total != HUNDRED:
        out.append(
            Finding(
                Rule.kra_weights,
                "framework",
                f"KRA weights sum to {total}, not 100",
                f"change the weights by {HUNDRED - total:+} in total so that they sum to 100",
            )
        )
    for kra in framework.kras:
        out += _kpi_weights(kra)
        for kpi in kra.kpis:
            out += _metric_reference(kpi, known_metrics)

    bands = framework.rating_bands
    ratings = [band.rating for band in bands]
    floors = [band.min_score for band in bands]
    if len(set(ratings)) != len(ratings) or ratings != sorted(ratings, reverse=True):
        out.append(
            Finding(
                Rule.rating_bands,
                "framework",
                "rating bands must list distinct ratings from highest to lowest",
                "order rating_bands by rating, highest first",
            )
        )
    elif floors != sorted(floors, reverse=True) or len(set(floors)) != len(floors):
        out.append(
            Finding(
                Rule.rating_bands,
                "framework",
                "each rating band's min_score must be below the one above it",
                "make min_score fall strictly from the highest rating to the lowest",
            )
        )
    return out


def _kpi_weights(kra: KRA) -> list[Finding]:
    given = [kpi.weight for kpi in kra.kpis if kpi.weight is not None]
    if not given:
        return []
    if len(given) != len(kra.kpis):
        return [
            Finding(
                Rule.kpi_weights,
                kra.id,
                f"{len(given)} of the KRA's {len(kra.kpis)} KPIs have a weight",
                "give every KPI of the KRA a weight, or none (then they weigh equally)",
            )
        ]
    total = sum(given, Decimal(0))
    if total != HUNDRED:
        return [
            Finding(
                Rule.kpi_weights,
                kra.id,
                f"KPI weights in the KRA sum to {total}, not 100",
                f"change them by {HUNDRED - total:+} in total so that they sum to 100",
            )
        ]
    return []


def _metric_reference(kpi: KPI, known_metrics: Collection[str] | None) -> list[Finding]:
    if kpi.kind is not KpiKind.computed:
        if kpi.metric is not None:
            return [
                Finding(
                    Rule.metric_reference,
                    kpi.id,
                    f"a {kpi.kind.value} KPI names metric {kpi.metric!r}, which it never uses",
                    "remove `metric`, or make the KPI kind: computed",
                )
            ]
        return []
    if is_placeholder(kpi.metric):
        return []  # reported once, under Measurable
    if known_metrics is not None and kpi.metric not in known_metrics:
        return [
            Finding(
                Rule.metric_reference,
                kpi.id,
                f"metric {kpi.metric!r} is not in the metric catalogue",
                "use the id of a catalogue metric (`kraft metrics list`) or add the metric",
            )
        ]
    return []


def _specific(kpi: KPI) -> list[Finding]:
    text = kpi.definition
    if is_placeholder(text) or is_placeholder(kpi.name):
        return [
            Finding(
                Rule.specific,
                kpi.id,
                "the name or definition is missing or still a placeholder",
                "write what is counted, over what, and by which date",
            )
        ]
    assert text is not None
    words = re.findall(r"[A-Za-z0-9%]+", text)
    if len(words) < MIN_DEFINITION_WORDS:
        return [
            Finding(
                Rule.specific,
                kpi.id,
                f"the definition has {len(words)} words; at least {MIN_DEFINITION_WORDS} are needed",
                "say what is counted, over what, and by which date",
            )
        ]
    if not any(word.lower() in COUNTED_NOUNS for word in words):
        return [
            Finding(
                Rule.specific,
                kpi.id,
                "the definition does not name what is counted",
                "name the rows or amounts it counts (policies, clients, claims, surveys, ...)",
            )
        ]
    return []


def _measurable(kpi: KPI) -> list[Finding]:
    out: list[Finding] = []
    if kpi.unit is None:
        out.append(
            Finding(
                Rule.measurable,
                kpi.id,
                "no unit",
                f"set unit to one of: {', '.join(u.value for u in Unit)}",
            )
        )
    if kpi.direction is None:
        out.append(
            Finding(
                Rule.measurable,
                kpi.id,
                "no direction",
                "set direction to higher_is_better or lower_is_better",
            )
        )
    if kpi.kind is KpiKind.computed and is_placeholder(kpi.metric):
        out.append(
            Finding(
                Rule.measurable,
                kpi.id,
                "a computed KPI without a metric has no source of values",
                "set `metric` to a catalogue metric id, or make the KPI kind: manual",
            )
        )
    if kpi.kind is KpiKind.manual and not kpi.entered_by:
        out.append(
            Finding(
                Rule.measurable,
                kpi.id,
                "nobody may enter this manual KPI's measurements",
                "set entered_by to the roles that enter it (admin, manager, rm)",
            )
        )
    if kpi.scoring is ScoringMethod.bands and not kpi.bands:
        out.append(
            Finding(
                Rule.measurable,
                kpi.id,
                "scoring is bands but no bands are given",
                "list bands (min, points), or choose another scoring method",
            )
        )
    return out


# Units whose values cannot go below 0 or above an upper bound, whatever the KPI.
_UNIT_BOUNDS: dict[Unit, tuple[Decimal | None, Decimal | None]] = {
    Unit.count: (Decimal(0), None),
    Unit.count_per_month: (Decimal(0), None),
    Unit.currency: (Decimal(0), None),
    Unit.days: (Decimal(0), None),
    Unit.score_0_100: (Decimal(0), HUNDRED),
}


def unit_bounds(unit: Unit | None) -> tuple[Decimal | None, Decimal | None]:
    """The least and the most any value of the unit can be (None: unbounded)."""
    return _UNIT_BOUNDS.get(unit, (None, None)) if unit is not None else (None, None)


def _achievable(kpi: KPI, actuals: Sequence[Decimal] | None) -> list[Finding]:
    out: list[Finding] = []
    if kpi.target is None:
        return [
            Finding(
                Rule.achievable,
                kpi.id,
                "no target",
                "set a target for one grain period",
            )
        ]
    target, threshold = kpi.target, kpi.threshold
    if threshold is None:
        out.append(
            Finding(
                Rule.achievable,
                kpi.id,
                "no threshold",
                "set the least acceptable actual as threshold",
            )
        )
    elif kpi.direction is Direction.higher_is_better and target < threshold:
        out.append(
            Finding(
                Rule.achievable,
                kpi.id,
                f"target {target} is below threshold {threshold} for a higher-is-better KPI",
                "make the target at least the threshold",
            )
        )
    elif kpi.direction is Direction.lower_is_better and target > threshold:
        out.append(
            Finding(
                Rule.achievable,
                kpi.id,
                f"target {target} is above threshold {threshold} for a lower-is-better KPI",
                "make the target at most the threshold",
            )
        )
    if kpi.cap < HUNDRED:
        out.append(
            Finding(
                Rule.achievable,
                kpi.id,
                f"the score cap {kpi.cap} is below 100, so meeting the target cannot score 100",
                "set cap to 100 or more (default 120)",
            )
        )
    if kpi.unit is not None:
        low, high = _UNIT_BOUNDS.get(kpi.unit, (None, None))
        for name, value in (("target", target), ("threshold", threshold)):
            if value is None:
                continue
            if (low is not None and value < low) or (high is not None and value > high):
                bounds = f"{low}–{high}" if high is not None else f"at least {low}"
                out.append(
                    Finding(
                        Rule.achievable,
                        kpi.id,
                        f"{name} {value} is outside what a {kpi.unit.value} can be ({bounds})",
                        f"choose a {name} within {bounds}",
                    )
                )
        if kpi.unit is Unit.percent and target > HUNDRED:
            out.append(
                Finding(
                    Rule.achievable,
                    kpi.id,
                    f"target {target} % is above 100 %, which no share can reach",
                    "lower the target, unless the KPI is a growth rate",
                    Severity.warning,
                )
            )
    if actuals:
        out += _against_history(kpi, target, actuals)
    return out


def outside_spread(target: Decimal, actuals: Sequence[Decimal]) -> str | None:
    """How a target lies outside the 5th to 95th percentile of actuals, or None if inside."""
    if not actuals:
        return None
    low, high = percentile(actuals, Decimal(5)), percentile(actuals, Decimal(95))
    if target > high:
        return (
            f"above the 95th percentile ({plain(rounded(high))}) of {len(actuals)} recent actuals"
        )
    if target < low:
        return f"below the 5th percentile ({plain(rounded(low))}) of {len(actuals)} recent actuals"
    return None


def _against_history(kpi: KPI, target: Decimal, actuals: Sequence[Decimal]) -> list[Finding]:
    why = outside_spread(target, actuals)
    if why is None:
        return []
    return [
        Finding(
            Rule.achievable,
            kpi.id,
            f"target {target} is {why}",
            "check the target against what comparable RMs achieve (kraft targets derive)",
            Severity.warning,
        )
    ]


def percentile(values: Sequence[Decimal], pct: Decimal) -> Decimal:
    """Linear-interpolation percentile (the 'linear' method of numpy and Excel's PERCENTILE.INC)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("percentile of no values")
    rank = (Decimal(len(ordered) - 1) * pct) / HUNDRED
    lower = int(rank)
    fraction = rank - lower
    if lower + 1 >= len(ordered):
        return ordered[-1]
    return ordered[lower] + (ordered[lower + 1] - ordered[lower]) * fraction


def _relevant(kra: KRA) -> list[Finding]:
    """A KPI is relevant through its KRA: without the KRA's statement there is nothing to judge."""
    if is_placeholder(kra.statement):
        kpi_ids = ", ".join(kpi.id for kpi in kra.kpis)
        return [
            Finding(
                Rule.relevant,
                kra.id,
                f"the KRA has no 'KRA:' statement, so its KPIs ({kpi_ids}) have nothing to be "
                "relevant to",
                "write the KRA statement: what the role is responsible for, and why",
            )
        ]
    return []


def _time_bound(kpi: KPI) -> list[Finding]:
    if kpi.grain is None:
        return [
            Finding(
                Rule.time_bound,
                kpi.id,
                "no grain (review period)",
                "set grain to month, quarter or year",
            )
        ]
    return []
