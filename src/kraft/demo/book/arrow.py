"""Arrow columns and tables in the contract's exact types and column order."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kraft.demo.book.constants import COMPANY_WORDS, FIRST_NAMES, LAST_NAMES
from kraft.demo.book.draws import Arr, Rng
from kraft.schema.tables import ColumnType, table

ARROW_TYPES: dict[ColumnType, Any] = {
    ColumnType.id: pa.string(),
    ColumnType.text: pa.string(),
    ColumnType.enum: pa.string(),
    ColumnType.period: pa.string(),
    ColumnType.month: pa.string(),
    ColumnType.date: pa.date32(),
    ColumnType.bool: pa.bool_(),
    ColumnType.decimal: pa.float64(),
    ColumnType.int: pa.int64(),
}


def id_column(prefix: str, n: int, width: int) -> Any:
    width = max(width, len(str(n)))
    numbers = pc.cast(pa.array(np.arange(1, n + 1, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(numbers, width, "0"), "")


def take_or_null(values: Any, index: Arr) -> Any:
    """values[index], null where index < 0."""
    return values.take(pa.array(index, type=pa.int64(), mask=index < 0))


def enum_column(table_name: str, column: str, codes: Arr) -> Any:
    return take_or_null(pa.array(table(table_name).column(column).enum), codes)


def date_column(days: Arr, null: Arr | None = None) -> Any:
    return pa.array(days.astype(np.int32), type=pa.date32(), mask=null)


def money_column(values: Arr, null: Arr | None = None) -> Any:
    return pa.array(np.round(values, 2), type=pa.float64(), mask=null)


def build_table(name: str, columns: dict[str, Any]) -> Any:
    spec = table(name)
    missing = set(spec.column_names) - set(columns)
    extra = set(columns) - set(spec.column_names)
    if missing or extra:
        raise ValueError(f"{name}: missing {sorted(missing)}, extra {sorted(extra)}")
    fields, arrays = [], []
    for col in spec.columns:
        arrow_type = ARROW_TYPES[col.type]
        value = columns[col.name]
        arr = value if isinstance(value, pa.Array) else pa.array(value, type=arrow_type)
        if arr.type != arrow_type:
            arr = arr.cast(arrow_type)
        arrays.append(arr)
        fields.append(pa.field(col.name, arrow_type, nullable=not col.required))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def person_names(rng: Rng, n: int) -> Any:
    first = pa.array(FIRST_NAMES).take(pa.array(rng.integers(0, len(FIRST_NAMES), n)))
    last = pa.array(LAST_NAMES).take(pa.array(rng.integers(0, len(LAST_NAMES), n)))
    return pc.binary_join_element_wise(first, last, " ")


def company_names(rng: Rng, n: int) -> Any:
    last = pa.array(LAST_NAMES).take(pa.array(rng.integers(0, len(LAST_NAMES), n)))
    word = pa.array(COMPANY_WORDS).take(pa.array(rng.integers(0, len(COMPANY_WORDS), n)))
    return pc.binary_join_element_wise(last, word, "Pvt Ltd", " ")
