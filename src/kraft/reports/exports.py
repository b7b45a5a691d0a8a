"""KPI values out of kraft: CSV, JSON, Parquet and Excel with the integrators' stable columns.

Text cells that a spreadsheet would run as a formula are neutralised in CSV and Excel; numbers
stay numbers.
"""

from __future__ import annotations

import csv
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


def _records(rows: Sequence[Any]) -> list[dict[str, Any]]:
    return [{c: getattr(r, c) for c in KPI_VALUE_COLUMNS} for r in rows]


def _csv_cell(column: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    text = str(value)
    return neutralise(text) if column in TEXT_COLUMNS else text


def write_kpi_values(rows: Sequence[Any], fmt: str, output: Path | None) -> None:
    records = _records(rows)
    try:
        if fmt == "csv":
            handle = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
            try:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(KPI_VALUE_COLUMNS)
                for record in records:
                    writer.writerow([_csv_cell(c, record[c]) for c in KPI_VALUE_COLUMNS])
            finally:
                if output:
                    handle.close()
        elif fmt == "json":
            text = json.dumps(records, indent=1)
            if output:
                output.write_text(text + "\n", encoding="utf-8")
            else:
                sys.stdout.write(text + "\n")
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            assert output is not None
            pq.write_table(pa.Table.from_pylist(records), output)
        else:
            assert output is not None
            _write_xlsx(records, output)
    except OSError as exc:
        raise KraftError(f"Cannot write {output}: {exc.strerror}.") from None


def _write_xlsx(records: list[dict[str, Any]], output: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "kpi_values"
    sheet.append(list(KPI_VALUE_COLUMNS))
    for record in records:
        sheet.append(
            [
                neutralise(record[c]) if c in TEXT_COLUMNS and record[c] is not None else record[c]
                for c in KPI_VALUE_COLUMNS
            ]
        )
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    book.save(output)
