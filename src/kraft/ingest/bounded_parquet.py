"""Read a Parquet file only when what it unpacks to is bounded, measured before it is decoded.

Parquet's dictionary and run-length encodings let a 59 kB file hold a billion bytes of text (a
long value repeated a million times). The file's metadata gives its rows and the unpacked size
of its pages; fixed-width columns are sized from the schema; text columns are read still
dictionary-encoded and measured value by value; only then is anything decoded.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kraft.errors import KraftError

MAX_PARQUET_ROWS = 20_000_000  # per file: seven times the demo's 2.8 M policies
OFFSET_BYTES = 8  # per text value, besides its characters


def read_bounded(path: Path, source: str, cap: int) -> pa.Table:
    """The file's table, or a KraftError naming the file and the cap it would pass."""
    try:
        return _read(path, source, cap)
    except (pa.ArrowInvalid, OSError) as exc:
        raise KraftError(f"{source} is not a readable Parquet file ({exc}).") from None
    except MemoryError:
        raise KraftError(_over(source, "more than this machine's memory", cap)) from None


def _read(path: Path, source: str, cap: int) -> pa.Table:
    schema = pq.read_schema(path)
    texts = [f.name for f in schema if _is_text(f.type)]
    parquet = pq.ParquetFile(path, read_dictionary=texts)
    meta = parquet.metadata
    if meta.num_rows > MAX_PARQUET_ROWS:
        raise KraftError(
            f"{source} has {meta.num_rows:,} rows, over the cap of {MAX_PARQUET_ROWS:,} rows "
            "per Parquet file; split it into smaller files."
        )
    pages = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    fixed = meta.num_rows * sum(_width(f.type) for f in schema if f.name not in texts)
    if max(pages, fixed) > cap:
        raise KraftError(_over(source, f"{max(pages, fixed) / 1e6:,.0f} MB", cap))
    table = parquet.read()
    text = sum(
        _text_bytes(column)
        for column in table.columns
        if pa.types.is_dictionary(column.type) or _is_text(column.type)
    )
    if fixed + text > cap:
        raise KraftError(_over(source, f"{(fixed + text) / 1e6:,.0f} MB", cap))
    return _decoded(table)


def _over(source: str, size: str, cap: int) -> str:
    return (
        f"{source} unpacks to {size}, over the cap of {cap / 1e6:,.0f} MB per file (the import "
        "size cap); split it into smaller files."
    )


def _is_text(typ: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(typ)
        or pa.types.is_large_string(typ)
        or pa.types.is_binary(typ)
        or pa.types.is_large_binary(typ)
    )


def _width(typ: pa.DataType) -> int:
    """Bytes per row of a column once decoded (nested columns counted as one offset)."""
    try:
        return max(int(typ.bit_width) // 8, 1)
    except ValueError:
        return OFFSET_BYTES


def _text_bytes(column: pa.ChunkedArray) -> int:
    """The bytes a dictionary-encoded text column takes once decoded."""
    total = 0
    for chunk in column.chunks:
        if isinstance(chunk, pa.DictionaryArray):
            lengths = pc.take(pc.binary_length(chunk.dictionary), chunk.indices)
        else:
            lengths = pc.binary_length(chunk)
        total += int(pc.sum(lengths).as_py() or 0) + OFFSET_BYTES * len(chunk)
    return total


def _decoded(table: pa.Table) -> pa.Table:
    """Dictionary columns back to plain text, as the rest of the import reads them."""
    columns = [
        column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column
        for column in table.columns
    ]
    return pa.table(columns, names=table.column_names)
