"""docs/framework-format.md, generated from the model so that the doc cannot drift from the code.

Run `python -m kraft.framework.format_doc > docs/framework-format.md` (or `make docs`); a test
fails when the committed file differs from what this prints.
"""

from __future__ import annotations

import types
import typing
from enum import Enum

from pydantic import BaseModel

from kraft.framework.model import (
    KPI,
    KRA,
    Band,
    Example,
    ExampleKPI,
    Framework,
    Gate,
    RatingBand,
)

INTRO = """\
# The framework YAML format

A framework is a role's KRAs (what the role is responsible for, weighted) and, under each, its KPIs
(how well, SMART). kraft ships one, `insurance_rm` (the seed document "Relationship Manager In
Insurance KRA/KPI"): see it with `kraft framework show`, and its file at
`src/kraft/framework/builtin/insurance_rm.yaml`. Start a new one with
`kraft framework new --role "Claims Manager" -o claims.yaml`, fill in every TODO, and check it with
`kraft framework validate claims.yaml` until it passes; then point `framework` in `kraft.toml` at it.

A YAML error names the file, line and field path, and says how to fix it, e.g.
`claims.yaml is not a valid framework (1 problem): line 14, field kras.sales.kpis.conversion.target:
Input should be a valid decimal; write a plain number such as 85 or 1500000.`

## SMART and structure rules (`kraft framework validate`)

| rule | checks |
|---|---|
| Specific | a definition of at least 8 words that names what is counted (policies, clients, claims, ...); no TODO |
| Measurable | unit and direction set; a computed KPI names its metric; a manual KPI says who enters it (`entered_by`); `bands` scoring lists its bands |
| Achievable | target and threshold set, the target on the right side of the threshold, within what the unit allows, score cap ≥ 100; once values exist, a target above the 95th or below the 5th percentile of recent actuals is a warning |
| Relevant | the KPI's KRA has its "KRA:" statement |
| Time-bound | grain (month, quarter or year) set |
| Unique ids | KRA ids, KPI ids (the example's included) and KRA numbers are unique |
| KRA weights | sum to exactly 100 (decimal arithmetic: 33.33 + 33.33 + 33.34 passes) |
| KPI weights | inside a KRA, all or none given; when given, they sum to exactly 100 |
| Metric reference | a computed KPI's metric exists in the metric catalogue; other kinds name none |
| Rating bands | ratings from highest to lowest, min scores strictly falling |

Errors make the command exit 1; warnings are printed but do not fail it.
"""

SECTIONS: list[tuple[str, type[BaseModel]]] = [
    ("Framework (the top level)", Framework),
    ("KRA (each entry of `kras`)", KRA),
    ("KPI (each entry of a KRA's `kpis`)", KPI),
    ("Gate (a KPI's `gate`)", Gate),
    ("Band (each entry of a KPI's `bands`)", Band),
    ("Example (the worked example, `example`)", Example),
    ("Example KPI (each entry of the example's `kpis`)", ExampleKPI),
    ("Rating band (each entry of `rating_bands`)", RatingBand),
]


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names)
    if origin is tuple:
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is typing.Literal:
        return "one of: " + ", ".join(str(a) for a in args)
    if isinstance(annotation, type):
        if issubclass(annotation, Enum):
            return "one of: " + ", ".join(str(m.value) for m in annotation)
        if issubclass(annotation, BaseModel):
            return annotation.__name__
        return {"str": "text", "int": "whole number", "Decimal": "number"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation)


def _default(field: typing.Any) -> str:
    if field.is_required():
        return "**required**"
    default = field.default
    if default is None or default == ():
        return ""
    if isinstance(default, tuple):
        return "see below" if default and isinstance(default[0], BaseModel) else str(list(default))
    if isinstance(default, Enum):
        return str(default.value)
    return str(default)


def render() -> str:
    parts = [INTRO]
    for title, model in SECTIONS:
        parts.append(f"\n## {title}\n")
        if model.__doc__:
            parts.append(" ".join(model.__doc__.split()) + "\n")
        parts.append("\n| field | type | default | meaning |\n|---|---|---|---|\n")
        for name, field in model.model_fields.items():
            meaning = (field.description or "").replace("|", "\\|")
            parts.append(
                f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | {meaning} |\n"
            )
    parts.append("\n## Default rating bands\n\n| rating | label | from overall score |\n")
    parts.append("|---|---|---|\n")
    for band in Framework.model_fields["rating_bands"].default:
        parts.append(f"| {band.rating} | {band.label} | {band.min_score} |\n")
    return "".join(parts)


if __name__ == "__main__":
    print(render(), end="")
