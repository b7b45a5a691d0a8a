"""The framework document in the seed's own structure, for any framework (Markdown or HTML).

`kraft framework render` and `kraft report framework` both call `render_framework_document`.
"""

from __future__ import annotations

from enum import StrEnum

from jinja2 import Environment, PackageLoader, StrictUndefined

from kraft.framework.model import Framework
from kraft.reports.values import direction_label, format_value, grain_label, unit_label

KRA_HEADING = "Key Responsibility Areas (KRA) & Key Performance Indicators (KPI)"
EXAMPLE_HEADING = "Real-Time Example of KRA & KPI"
TAKEAWAYS_HEADING = "Key Takeaways"


class DocumentFormat(StrEnum):
    md = "md"
    html = "html"


def _escape_md_cell(text: object) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def template_environment(autoescape: bool) -> Environment:
    """The Jinja2 environment of every report's templates (HTML escaped, Markdown cells safe)."""
    env = Environment(
        loader=PackageLoader("kraft.reports", "templates"),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["cell"] = _escape_md_cell
    env.globals.update(
        format_value=format_value,
        unit_label=unit_label,
        direction_label=direction_label,
        grain_label=grain_label,
        KRA_HEADING=KRA_HEADING,
        EXAMPLE_HEADING=EXAMPLE_HEADING,
        TAKEAWAYS_HEADING=TAKEAWAYS_HEADING,
    )
    return env


def render_framework_document(
    framework: Framework, fmt: DocumentFormat, *, detailed: bool = False
) -> str:
    """The document; `detailed` appends a SMART table per KRA (formula, unit, grain, targets)."""
    template = f"framework.{fmt.value}.j2"
    env = template_environment(autoescape=fmt is DocumentFormat.html)
    return env.get_template(template).render(framework=framework, detailed=detailed)
