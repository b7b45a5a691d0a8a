"""A starter framework for a new role: the seed's structure with placeholders to fill in.

The placeholders load (so `kraft framework show` works on a draft) but fail SMART validation until
a person replaces every TODO.
"""

from __future__ import annotations

import re

from kraft.errors import KraftError


def role_id(role: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", role.lower()).strip("_")
    if not slug or not slug[0].isalpha():
        raise KraftError(
            f"The role {role!r} needs at least one letter first, e.g. 'Claims Manager'."
        )
    return slug[:64]


def starter_framework(role: str, kras: int = 3, kpis_per_kra: int = 4) -> str:
    if not 1 <= kras <= 20 or not 1 <= kpis_per_kra <= 10:
        raise KraftError("Choose 1 to 20 KRAs and 1 to 10 KPIs per KRA.")
    framework_id = role_id(role)
    weights = [100 // kras + (1 if i < 100 % kras else 0) for i in range(kras)]
    out = [
        f"# Starter KRA/KPI framework for {role}. Replace every TODO, then run",
        "# `kraft framework validate <this file>` until it passes. Format: docs/framework-format.md",
        f"id: {framework_id}",
        f"role: {_quote(role)}",
        f"title: {_quote(role)}",
        'version: "1"',
        "currency: INR",
        "kras:",
    ]
    for k in range(1, kras + 1):
        out += [
            f"  - id: kra_{k}",
            f"    number: {k}",
            f'    title: "TODO: responsibility area {k}"',
            '    statement: "TODO: the KRA sentence: what the role is responsible for, and why"',
            '    short_description: "TODO: a short description"',
            f"    weight: {weights[k - 1]}  # KRA weights must sum to 100",
            "    kpis:",
        ]
        for n in range(1, kpis_per_kra + 1):
            out += [
                f"      - id: kra_{k}_kpi_{n}",
                f'        name: "TODO: KPI {n} of responsibility area {k}"',
                '        definition: "TODO: what is counted, over what, by which date"',
                "        kind: computed  # computed | manual | score",
                "        metric: null  # computed KPIs: a metric id of the catalogue",
                "        unit: null  # percent | count | count_per_month | currency | days | ...",
                "        direction: higher_is_better  # or lower_is_better",
                "        grain: null  # month | quarter | year",
                "        target: null",
                "        threshold: null",
            ]
    out += [
        "takeaways:",
        '  - "KRA defines what needs to be done, whereas KPI measures how well it is done."',
        '  - "KPIs should always be SMART (Specific, Measurable, Achievable, Relevant, Time-bound)."',
    ]
    return "\n".join(out) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
