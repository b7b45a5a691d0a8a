"""The management report's Excel workbook (openpyxl): the numbers behind the report, as data.

Sheets: leaderboard (the report's ranking), scores (`kraft export scores`, with names and teams; a row
per scorecard of the period), kpi_scores (each KPI's actual, target, threshold, score and status),
kpi_values (the columns of `kraft export kpi-values`: the RMs', their teams' and the company's
values of the period), targets (the framework's defaults and every stored version) and framework
(KRAs and KPIs). Every sheet has a frozen header row and an auto filter; numbers are written as
numbers (the exports' own floats, so a cell equals the export's value), with a number format by
their unit: percent KPIs as their percent value with a " %" format (85.5 stays 85.5, as in the
export), currency with the framework's currency (INR grouped 12,34,567, whole from 1 lakh, as
kraft.formatting shows amounts), scores with 2 decimals, volumes whole. Statuses and ratings
are coloured by conditional formatting. Text cells that start with = + - @ are neutralised.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kraft.formatting import CURRENCY_SYMBOLS, INDIAN_GROUPING, neutralise
from kraft.framework.model import Framework, Unit
from kraft.periods import Period
from kraft.reports.exports import KPI_VALUE_COLUMNS
from kraft.reports.scores import (
    OVERALL_BOARD_COLUMNS,
    OverallRow,
    overall_board_records,
    overall_rows,
    sheet_columns,
    sheet_records,
)
from kraft.store.roster import teams_below

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

    from kraft.reports.team_report import TeamReport

SCORE_FORMAT = "0.00"
COVERAGE_FORMAT = '0.0" %"'
PERCENT_FORMAT = '0.00" %"'
COUNT_FORMAT = "#,##0.##"
VOLUME_FORMAT = "#,##0"  # a KPI's volume: its cases, or earned premium
DAYS_FORMAT = '0.0" days"'
POINTS_FORMAT = '0.00" pp"'
HEADER_FILL = "DDE5F2"
STATUS_FILLS = {
    "above target": "C6EFCE",
    "on track": "E2F0D9",
    "below target": "FFEB9C",
    "below threshold": "FFC7CE",
    "provisional": "DDEBF7",
    "insufficient volume": "EDEDED",
    "no data": "EDEDED",
    "not tracked": "EDEDED",
}
RATING_FILLS = {5: "C6EFCE", 4: "E2F0D9", 3: "F2F2F2", 2: "FFEB9C", 1: "FFC7CE"}


def currency_format(currency: str) -> str:
    """An Excel number format for amounts in the currency, as kraft.formatting.amount shows
    them: to the paisa below 1,00,000, whole from it; INR grouped 12,34,567 (lakh, crore)."""
    symbol = CURRENCY_SYMBOLS.get(currency)
    prefix = f'"{symbol}"' if symbol else ""
    suffix = "" if symbol else f' "{currency}"'
    if currency in INDIAN_GROUPING:
        return (
            f"[>=10000000]{prefix}##\\,##\\,##\\,##0{suffix};"
            f"[>=100000]{prefix}##\\,##\\,##0{suffix};"
            f"{prefix}#,##0.00{suffix}"
        )
    return f"[>=100000]{prefix}#,##0{suffix};{prefix}#,##0.00{suffix}"


def unit_format(unit: Unit | None, currency: str) -> str:
    match unit:
        case Unit.percent:
            return PERCENT_FORMAT
        case Unit.currency:
            return currency_format(currency)
        case Unit.days:
            return DAYS_FORMAT
        case Unit.points:
            return POINTS_FORMAT
        case Unit.count | Unit.count_per_month:
            return COUNT_FORMAT
        case _:
            return "0.00"


def _cell(value: Any) -> Any:
    """A value as a cell: text neutralised, numbers as they are, Decimals as the float they print."""
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool) or value is None:
        return value
    if hasattr(value, "as_tuple"):  # Decimal
        return float(value)
    return value


def _sheet(
    book: Any,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    formats: dict[str, str | Callable[[Sequence[Any]], str | None]] | None = None,
) -> Worksheet:
    """A sheet with a bold, filled, frozen header row, an auto filter and column formats
    (a format may depend on the row: a KPI's unit)."""
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    sheet: Worksheet = book.create_sheet(title)
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
    formats = formats or {}
    index = {c: i for i, c in enumerate(columns)}
    for number, row in enumerate(rows, start=2):  # sheet.max_row scans the sheet: counted
        sheet.append([_cell(v) for v in row])
        if not formats:
            continue
        for column, fmt in formats.items():
            chosen = fmt(row) if callable(fmt) else fmt
            if chosen:
                sheet.cell(row=number, column=index[column] + 1).number_format = chosen
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{len(rows) + 1}"
    for i, column in enumerate(columns, start=1):
        width = max(
            [len(column), *(len(str(r[i - 1])) for r in rows[:200] if r[i - 1] is not None)]
        )
        sheet.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    return sheet


def _status_colours(sheet: Worksheet, column: int) -> None:
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import PatternFill
    from openpyxl.utils import get_column_letter

    letter = get_column_letter(column)
    ref = f"{letter}2:{letter}{max(sheet.max_row, 2)}"
    for status, colour in STATUS_FILLS.items():
        sheet.conditional_formatting.add(
            ref,
            CellIsRule(  # type: ignore[no-untyped-call]
                operator="equal",
                formula=[f'"{status}"'],
                fill=PatternFill("solid", fgColor=colour, bgColor=colour),
            ),
        )


def _rating_colours(sheet: Worksheet, column: int) -> None:
    from openpyxl.formatting.rule import CellIsRule
    from openpyxl.styles import PatternFill
    from openpyxl.utils import get_column_letter

    letter = get_column_letter(column)
    ref = f"{letter}2:{letter}{max(sheet.max_row, 2)}"
    for rating, colour in RATING_FILLS.items():
        sheet.conditional_formatting.add(
            ref,
            CellIsRule(  # type: ignore[no-untyped-call]
                operator="equal",
                formula=[str(rating)],
                fill=PatternFill("solid", fgColor=colour, bgColor=colour),
            ),
        )


def _units(framework: Framework) -> dict[str, Unit | None]:
    return {kpi.id: kpi.unit for _, kpi in framework.kpis()}


def team_workbook(conn: Connection, report: TeamReport) -> bytes:
    """The workbook of a team (or company) report, as bytes."""
    framework, period = report.framework, report.period
    rm_ids = {s.rm_id for s in report.leaderboard}
    return workbook(conn, framework, period, rm_ids, report.team_id, report)


def _subtree_teams(conn: Connection, team_id: str | None) -> set[str] | None:
    return None if team_id is None else set(teams_below(conn, [team_id]))


def workbook(
    conn: Connection,
    framework: Framework,
    period: Period,
    rm_ids: set[str],
    team_id: str | None,
    report: TeamReport | None = None,
) -> bytes:
    """The sheets for the period's scorecards of the RMs named, and the values of the RMs, their
    teams (the team and those below it; every team for the company) and the company."""
    from openpyxl import Workbook

    book = Workbook()
    default = book.active
    if default is not None:
        book.remove(default)
    if report is not None:
        _leaderboard_sheet(book, report)
    _scores_sheet(book, conn, framework, period, rm_ids)
    _kpi_scores_sheet(book, conn, framework, period, rm_ids)
    _kpi_values_sheet(book, conn, framework, period, rm_ids, team_id)
    _targets_sheet(book, conn, framework)
    _framework_sheet(book, framework)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _by_unit(framework: Framework, kpi_column: int) -> Callable[[Sequence[Any]], str]:
    """A row's number format: the unit of the KPI its kpi_column names."""
    units = _units(framework)
    currency = framework.currency

    def chosen(row: Sequence[Any]) -> str:
        return unit_format(units.get(row[kpi_column]), currency)

    return chosen


def _leaderboard_sheet(book: Any, report: TeamReport) -> None:
    records = overall_board_records(report.leaderboard)
    sheet = _sheet(
        book,
        "leaderboard",
        OVERALL_BOARD_COLUMNS,
        [[r[c] for c in OVERALL_BOARD_COLUMNS] for r in records],
        {
            "overall_score": SCORE_FORMAT,
            "adjusted_overall": SCORE_FORMAT,
            "coverage": COVERAGE_FORMAT,
        },
    )
    _rating_colours(sheet, OVERALL_BOARD_COLUMNS.index("rating") + 1)


def _scores_sheet(
    book: Any, conn: Connection, framework: Framework, period: Period, rm_ids: set[str]
) -> None:
    """The columns of `kraft export scores`, with names and teams, one row per scorecard."""
    rows = [r for r in overall_rows(conn, [period.label]) if r.rm_id in rm_ids]
    scores_sheet(book, framework, rows)


def scores_sheet(book: Any, framework: Framework, rows: list[OverallRow]) -> None:
    """A sheet of scorecards: who (rm_id, name, team), the export's columns, scores as numbers
    with 2 decimals and coverage as a percent, ratings coloured."""
    columns = sheet_columns(framework)
    records = sheet_records(rows, framework)
    kra_formats: dict[str, str | Callable[[Sequence[Any]], str | None]] = {
        c: SCORE_FORMAT for c in columns if c.startswith("kra:")
    }
    sheet = _sheet(
        book,
        "scores",
        columns,
        [[r[c] for c in columns] for r in records],
        {"overall_score": SCORE_FORMAT, "coverage": COVERAGE_FORMAT, **kra_formats},
    )
    _rating_colours(sheet, columns.index("rating") + 1)


def scores_workbook(framework: Framework, rows: list[OverallRow]) -> bytes:
    """`kraft export scores --format xlsx`: the scores sheet alone, as bytes."""
    from openpyxl import Workbook

    book = Workbook()
    default = book.active
    if default is not None:
        book.remove(default)
    scores_sheet(book, framework, rows)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _kpi_scores_sheet(
    book: Any, conn: Connection, framework: Framework, period: Period, rm_ids: set[str]
) -> None:
    kpi_columns = (
        "rm_id", "period", "kra_id", "kpi_id", "actual", "volume", "target", "threshold",
        "target_source", "weight", "score", "status", "provisional",
    )  # fmt: skip
    selected = ", ".join("item_id AS kpi_id" if c == "kpi_id" else c for c in kpi_columns)
    kpi_rows = [
        list(r)
        for r in conn.execute(
            sa.text(
                f"SELECT {selected} FROM scores WHERE period = :p AND level = 'kpi' "
                "ORDER BY rm_id, kra_id, item_id"
            ),
            {"p": period.label},
        )
        if r.rm_id in rm_ids
    ]
    by_unit = _by_unit(framework, 3)
    sheet = _sheet(
        book,
        "kpi_scores",
        kpi_columns,
        [[*r[:-1], bool(r[-1])] for r in kpi_rows],
        {"actual": by_unit, "target": by_unit, "threshold": by_unit, "score": SCORE_FORMAT,
         "volume": VOLUME_FORMAT},
    )  # fmt: skip
    _status_colours(sheet, kpi_columns.index("status") + 1)


def _kpi_values_sheet(
    book: Any,
    conn: Connection,
    framework: Framework,
    period: Period,
    rm_ids: set[str],
    team_id: str | None,
) -> None:
    """The columns of `kraft export kpi-values`: the RMs', their teams' and the company's."""
    teams = _subtree_teams(conn, team_id)
    values = [
        r
        for r in conn.execute(
            sa.text(
                f"SELECT {', '.join(KPI_VALUE_COLUMNS)} FROM kpi_values WHERE period = :p "
                "ORDER BY entity_type, entity_id, kpi_id"
            ),
            {"p": period.label},
        )
        if (r.entity_type == "rm" and r.entity_id in rm_ids)
        or (r.entity_type == "team" and (teams is None or r.entity_id in teams))
        or (r.entity_type == "org" and team_id is None)
    ]
    _sheet(
        book,
        "kpi_values",
        KPI_VALUE_COLUMNS,
        [[*(getattr(r, c) for c in KPI_VALUE_COLUMNS[:-1]), bool(r.provisional)] for r in values],
        {"value": _by_unit(framework, 3)},
    )


def _targets_sheet(book: Any, conn: Connection, framework: Framework) -> None:
    """The framework's default targets, then every stored version."""
    target_columns = (
        "scope_type", "scope_id", "kpi_id", "from_period", "to_period", "target", "threshold",
        "recorded_at", "recorded_by", "source",
    )  # fmt: skip
    defaults = [
        ["framework", framework.id, kpi.id, None, None, kpi.target, kpi.threshold, None, None,
         "framework"]
        for _, kpi in framework.kpis()
        if kpi.target is not None
    ]  # fmt: skip
    stored = [
        [r.scope_type, r.scope_id, r.kpi_id, r.from_period, r.to_period, r.target, r.threshold,
         r.recorded_at, r.recorded_by, r.source]
        for r in conn.execute(
            sa.text(
                f"SELECT {', '.join(target_columns)} FROM targets ORDER BY kpi_id, target_id"
            )
        )
    ]  # fmt: skip
    target_unit = _by_unit(framework, 2)
    _sheet(
        book,
        "targets",
        target_columns,
        [*defaults, *stored],
        {"target": target_unit, "threshold": target_unit, "recorded_at": "yyyy-mm-dd hh:mm"},
    )


def _framework_sheet(book: Any, framework: Framework) -> None:
    framework_columns = (
        "kra_id", "kra_number", "kra_title", "kra_weight", "applies_to", "kpi_id", "kpi_name",
        "kind", "unit", "direction", "grain", "target", "threshold", "kpi_weight", "scoring",
        "min_volume", "cap",
    )  # fmt: skip
    framework_rows = [
        [kra.id, kra.number, kra.title, kra.weight, kra.applies_to.value, kpi.id, kpi.name,
         kpi.kind.value, kpi.unit.value if kpi.unit else None,
         kpi.direction.value if kpi.direction else None,
         kpi.grain.value if kpi.grain else None, kpi.target, kpi.threshold, kpi.weight,
         kpi.scoring.value, kpi.min_volume, kpi.cap]
        for kra, kpi in framework.kpis()
    ]  # fmt: skip
    framework_unit = _by_unit(framework, 5)
    _sheet(
        book,
        "framework",
        framework_columns,
        framework_rows,
        {"target": framework_unit, "threshold": framework_unit, "kra_weight": '0" %"'},
    )
