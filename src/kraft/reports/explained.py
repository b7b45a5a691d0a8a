"""A KPI value explained as a person reads it (`kraft explain` and the web's explain page): the
value in its unit, its numerator and denominator, what else was counted, and for a value derived
from two periods (the loss ratio improvement) both inputs with their own parts. Numbers go
through kraft.formatting; a part that is not there is left out, never shown as "None"."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from kraft.formatting import in_unit, number
from kraft.framework.model import KPI

UNDEFINED = "undefined (no data or a zero denominator)"


@dataclass(frozen=True)
class Fact:
    """One line of the explanation: what it is, and its value as shown."""

    label: str
    text: str


@dataclass(frozen=True)
class InputReading:
    """How one input of a derived value reads: its name, unit, and its parts' names and unit."""

    name: str
    unit: str | None
    numerator: str
    denominator: str
    parts_unit: str | None


# The inputs derived values read (catalogue: loss_ratio_improvement = previous(loss_ratio) -
# loss_ratio). An input not listed reads by its metric id, in plain numbers.
INPUT_READINGS = {
    "loss_ratio": InputReading(
        "Loss ratio", "percent", "claims incurred", "earned premium", "currency"
    ),
}
PREVIOUS = "previous_"
# What else a value stores, in words; a name not listed reads as itself ("Median days").
EXTRA_LABELS = {"decided": "Decided cases (renewed, or past their grace)"}


def value_facts(
    stored: Mapping[str, object], kpi: KPI, currency: str, compared_with: str | None, period: str
) -> list[Fact]:
    """The stored value's lines: value, numerator, denominator (when it has them), the inputs
    of a derived value, then what else the compute counted (decided cases, medians)."""
    unit = kpi.unit.value if kpi.unit else None
    value = stored.get("value")
    facts = [Fact("Value", UNDEFINED if value is None else in_unit(_number(value), unit, currency))]
    for part in ("numerator", "denominator"):
        if (found := _number(stored.get(part))) is not None:
            facts.append(Fact(part.capitalize(), number(found, currency)))
    extra = _extra(stored.get("extra"))
    inputs = _inputs(extra)
    for source, previous in sorted(inputs, key=lambda key: not key[1]):
        label = compared_with if previous else period
        facts.append(_input_fact(source, label, inputs[(source, previous)], currency))
    used = {f"{PREVIOUS if p else ''}{s}{part}" for s, p in inputs for part in PARTS}
    for key, found in extra.items():
        if key not in used and found is not None:
            label = EXTRA_LABELS.get(key, key.replace("_", " ").capitalize())
            facts.append(Fact(label, number(found, currency)))
    return facts


PARTS = ("", "_numerator", "_denominator")


def _inputs(extra: Mapping[str, Decimal | None]) -> dict[tuple[str, bool], dict[str, Decimal]]:
    """A derived value's inputs in `extra` ({source}, {source}_numerator, ..., each also as
    previous_{source}...), by (source, previous) → part → number."""
    sources = {
        key.removesuffix("_denominator").removeprefix(PREVIOUS)
        for key in extra
        if key.endswith("_denominator")
    }
    found: dict[tuple[str, bool], dict[str, Decimal]] = {}
    for source in sources:
        for previous in (True, False):
            prefix = PREVIOUS if previous else ""
            parts = {
                part: number
                for part in PARTS
                if (number := extra.get(f"{prefix}{source}{part}")) is not None
            }
            if any(f"{prefix}{source}{part}" in extra for part in PARTS):
                found[(source, previous)] = parts
    return found


def _input_fact(source: str, label: str | None, parts: dict[str, Decimal], currency: str) -> Fact:
    """One input as a line: 'Loss ratio, 2026-Q2: 12.5 % (claims incurred ₹1,200 ÷ earned
    premium ₹9,600)'; what is missing is said in words."""
    reading = INPUT_READINGS.get(
        source, InputReading(source.replace("_", " ").capitalize(), None, "", "", None)
    )
    heading = f"{reading.name}, {label}" if label else reading.name
    shown = in_unit(parts[""], reading.unit, currency) if "" in parts else UNDEFINED
    over = [
        f"{name} {in_unit(parts[part], reading.parts_unit, currency)}".strip()
        for part, name in (("_numerator", reading.numerator), ("_denominator", reading.denominator))
        if part in parts
    ]
    return Fact(heading, f"{shown} ({' ÷ '.join(over)})" if over else shown)


def _extra(text: object) -> dict[str, Decimal | None]:
    """The stored `extra` JSON as numbers by name; what is not a number is left out."""
    if not isinstance(text, str) or not text:
        return {}
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {
        str(key): _number(value)
        for key, value in found.items()
        if value is None or (isinstance(value, int | float) and not isinstance(value, bool))
    }


def _number(value: object) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return None


def cell_text(value: object, currency: str) -> str:
    """A cell of the rows behind a value: numbers to at most 2 decimals and grouped (the API
    keeps them exact), yes/no for flags, nothing for no value."""
    if value is None:
        return ""
    if value is True or value is False:
        return "yes" if value else "no"
    if isinstance(value, float | Decimal):
        return number(value, currency)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)
