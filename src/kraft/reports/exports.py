"""KPI values and scores out of kraft: CSV, JSON, Parquet and Excel with stable columns.

Text cells that a spreadsheet would run as a formula are neutralised in CSV and Excel; numbers
stay numbers.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kraft.errors import KraftError
from kraft.formatting import neutralise

KPI_VALUE_COLUMNS = (
    "entity_type",
    "entity_id",
    "period",
    "kpi_id",
    "value",
    "numerator",
    "denominator",
    "provisional",
)
TEXT_COLUMNS = frozenset({"entity_type", "entity_id", "period", "kpi_id"})


SCORE_COLUMNS = ("rm_id", "period", "overall_score", "rating", "rating_label", "coverage")


def _csv_cell(value: Any, text: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return neutralise(str(value)) if text else str(value)


def csv_text(
    records: Sequence[dict[str, Any]], columns: Sequence[str], text_columns: frozenset[str]
) -> str:
    """Records as CSV text, cells as `write_records` writes them (for a download)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_csv_cell(record[c], c in text_columns) for c in columns])
    return buffer.getvalue()


def write_kpi_values(rows: Sequence[Any], fmt: str, output: Path | None) -> None:
    records = [{c: getattr(r, c) for c in KPI_VALUE_COLUMNS} for r in rows]
    write_records(records, KPI_VALUE_COLUMNS, fmt, output, TEXT_COLUMNS, "kpi_values")


def write_records(
    records: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    output: Path | None,
    text_columns: frozenset[str],
    sheet_name: str,
) -> None:
    """Records as CSV (stdout without a file), JSON, Parquet or an Excel sheet."""
    try:
        if fmt == "csv":
            handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
            try:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(columns)
                for record in records:
                    writer.writerow([_csv_cell(record[c], c in text_columns) for c in columns])
            finally:
                if output:
                    handle.close()
        elif fmt == "json":
            text = json.dumps(list(records), indent=1, default=str)
            if output:
                output.write_text(text + "\n", encoding="utf-8")
            else:
                sys.stdout.write(text + "\n")
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            assert output is not None
            pq.write_table(pa.Table.from_pylist(list(records)), output)
        else:
            assert output is not None
            _write_xlsx(records, columns, output, text_columns, sheet_name)
    except BrokenPipeError:  # standard output's reader stopped: not a file kraft could not write
        raise
    except OSError as exc:
        raise KraftError(f"Cannot write {output}: {exc.strerror}.") from None


def _write_xlsx(
    records: Sequence[dict[str, Any]],
    columns: Sequence[str],
    output: Path,
    text_columns: frozenset[str],
    sheet_name: str,
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = sheet_name
    sheet.append(list(columns))
    for record in records:
        sheet.append(
            [
                neutralise(record[c]) if c in text_columns and record[c] is not None else record[c]
                for c in columns
            ]
        )
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    book.save(output)
