"""Read an export through a mapping: each source becomes the contract's raw columns.

The mapping is applied before validation, as one DuckDB SELECT per source (vectorised), so a
mapped import is validated, reported and written exactly like one in the contract's layout. A
value the mapping cannot convert (a date not in its format) is passed on as written, and the
validation names its row.
"""

from __future__ import annotations

import codecs
import csv
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

import duckdb
import pyarrow as pa

from kraft.errors import KraftError
from kraft.ingest.bounded_parquet import read_bounded
from kraft.ingest.mapping import (
    DATED,
    NUMERIC,
    ColumnMap,
    Formats,
    Mapping,
    MappingError,
    TableMap,
    closest,
)
from kraft.ingest.sources import (
    DEFAULT_MAX_BYTES,
    RawTable,
    _cell_text,
    _checked_header,
    _csv_error,
    _display_names,
    _finish,
    _refuse_zip_bomb,
    _sql_text,
    csv_row_numbers,
    discover_named,
    not_regular,
    read_found,
)
from kraft.ingest.validate import lit, q
from kraft.schema.tables import TABLES_BY_NAME, Column, ColumnType

UTF8 = {"utf-8", "utf_8", "utf8", "utf-8-sig", "utf_8_sig"}


@dataclass
class MappedRead:
    """The tables read, and sentences about what the mapping matched or left out."""

    tables: list[RawTable]
    notes: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # unmapped files and sheets naming no table


@dataclass(frozen=True)
class _Source:
    """One table's source as read: its columns as the export names them."""

    name: str
    key: str
    entry: TableMap
    data: pa.Table
    rows: pa.Array | int
    path: Path | None
    display: str


def read_mapped(
    paths: list[Path], mapping: Mapping, max_bytes: int | None = None, *, queries: bool = False
) -> MappedRead:
    """Files the mapping names are read through it; the others as the contract's layout. Its
    query sources run only when `queries` allows (the command line, kraft.toml's mapping)."""
    result = MappedRead([_apply(s, mapping.defaults) for s in _query_sources(mapping, queries)])
    found = discover_named(paths)
    names = _display_names([path for path, _ in found])
    cap = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    unmatched: list[tuple[Path, bool]] = []
    used: set[str] = set()
    for path, named in found:
        entries = _entries_for(path, mapping)
        if not entries or not_regular(path) is not None:  # read_found skips and names it
            unmatched.append((path, named))
            continue
        _check_size(path, names[path], cap)
        used.update(entries)
        if path.suffix.lower() == ".xlsx":
            sources, note = _read_workbook(path, entries, mapping)
            result.notes.extend(note)
        else:
            sources = [_read_file(path, names[path], *next(iter(entries.items())), mapping, cap)]
        for source in sources:
            result.tables.append(_apply(source, mapping.defaults))
    for name, entry in mapping.tables.items():
        if name not in used and entry.file is not None:
            result.notes.append(f"the mapping's tables.{name} (file {entry.file}) matched no file")
    if unmatched:
        unmapped = read_found(unmatched, max_bytes=max_bytes)
        result.tables.extend(unmapped.tables)
        result.skipped.extend(unmapped.skipped)
    return result


def _entries_for(path: Path, mapping: Mapping) -> dict[str, TableMap]:
    found = {
        name: entry
        for name, entry in mapping.tables.items()
        if entry.file is not None and fnmatch(path.name.lower(), entry.file.lower())
    }
    if len(found) > 1 and path.suffix.lower() != ".xlsx":
        keys = " and ".join(f"tables.{n}.file" for n in found)
        raise MappingError(f"{keys} all match {path.name}; make the file patterns narrower.")
    return found


def _query_sources(mapping: Mapping, allowed: bool) -> list[_Source]:
    sources = []
    for name, entry in mapping.tables.items():
        if entry.query is None or entry.database is None:
            continue
        key = f"tables.{name}"
        if not allowed:
            raise MappingError(
                f"{key}.query: a database query runs only from the command line or kraft.toml's "
                "mapping; upload the export's files instead."
            )
        from kraft.ingest.mapped_query import read_query

        data = read_query(key, entry.query, entry.database)
        sources.append(_Source(name, key, entry, data, 1, None, f"the query of {key}"))
    return sources


def _check_size(path: Path, display: str, cap: int) -> None:
    size = path.stat().st_size
    if size > cap:
        raise MappingError(
            f"{display} is {size / 1e6:.0f} MB, over the import size cap of {cap / 1e6:.0f} MB; "
            "split it into smaller files."
        )


def _read_file(
    path: Path, display: str, name: str, entry: TableMap, mapping: Mapping, cap: int
) -> _Source:
    key = f"tables.{name}"
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            data = read_bounded(path, display, cap)
        except KraftError as exc:
            raise MappingError(exc.message) from None
        return _Source(name, key, entry, data, 1, path, display)
    encoding = entry.option(mapping.defaults, "encoding") or "utf-8"
    data, rows = _read_csv(path, display, encoding, entry.skip_rows, key)
    return _Source(name, key, entry, data, rows, path, display)


@contextmanager
def _as_utf8(path: Path, encoding: str, display: str, key: str) -> Iterator[Path]:
    """The file itself when it is UTF-8; else a UTF-8 copy of it, decoded as the mapping says."""
    if codecs.lookup(encoding).name in {codecs.lookup(e).name for e in UTF8}:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="kraft-mapped-") as folder:
        copy = Path(folder) / path.name
        try:
            with (
                path.open(encoding=encoding, newline="") as source,
                copy.open("w", encoding="utf-8", newline="") as target,
            ):
                shutil.copyfileobj(source, target, 1 << 20)
        except UnicodeError:
            raise MappingError(
                f"{display} is not {encoding} text; correct {key}.encoding (utf-8, utf-16, "
                "cp1252 or latin-1)."
            ) from None
        yield copy


def _read_csv(
    path: Path, display: str, encoding: str, skip: int, key: str
) -> tuple[pa.Table, pa.Array | int]:
    with _as_utf8(path, encoding, display, key) as text:
        header = _checked_header(_csv_header(text, display, skip, key), display)
        columns = "{" + ", ".join(f"'{_sql_text(n)}': 'VARCHAR'" for n in header) + "}"
        query = (
            f"SELECT * FROM read_csv('{_sql_text(str(text))}', columns={columns}, header=true, "
            f"skip={skip}, auto_detect=false, delim=',', quote='\"', escape='\"', "
            "strict_mode=true, encoding='utf-8', all_varchar=true)"
        )
        try:
            data = duckdb.connect().sql(query).to_arrow_table()
        except duckdb.Error as exc:
            raise MappingError(_csv_error(display, str(exc))) from None
        return data, csv_row_numbers(text, data.num_rows, skip)


def _csv_header(path: Path, display: str, skip: int, key: str) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            for _ in range(skip):
                next(reader, None)
            first = next(reader, None)
    except UnicodeDecodeError:
        raise MappingError(
            f"{display} is not UTF-8 text; declare its encoding in {key}.encoding (e.g. cp1252)."
        ) from None
    except csv.Error as exc:
        raise MappingError(
            f"{display} row {skip + 1}: the header cannot be read ({exc})."
        ) from None
    if first is None or not any(cell.strip() for cell in first):
        raise MappingError(
            f"{display} has no header on row {skip + 1}; correct {key}.skip_rows (the rows "
            "above the header)."
        )
    return [cell.strip() for cell in first]


def _read_workbook(
    path: Path, entries: dict[str, TableMap], mapping: Mapping
) -> tuple[list[_Source], list[str]]:
    from openpyxl import load_workbook

    _refuse_zip_bomb(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise MappingError(f"{path.name} is not a readable .xlsx workbook ({exc}).") from None
    try:
        by_lower = {s.lower(): s for s in book.sheetnames}
        sources, read = [], set()
        for name, entry in entries.items():
            key = f"tables.{name}"
            sheet = by_lower.get((entry.sheet or book.sheetnames[0]).lower())
            if sheet is None:
                raise MappingError(
                    f"{key}.sheet: {path.name} has no sheet {entry.sheet!r} (sheets: "
                    f"{', '.join(book.sheetnames)}); write one of them."
                )
            read.add(sheet)
            comma = entry.option(mapping.defaults, "decimal_separator") == ","
            display = f"{path.name} sheet {sheet}"
            data, rows = _sheet_text(book[sheet].iter_rows(values_only=True), display, entry, comma)
            sources.append(_Source(name, key, entry, data, rows, path, display))
        rest = [s for s in book.sheetnames if s not in read]
        notes = [f"{path.name}: sheet(s) {', '.join(rest)} not in the mapping, not read"]
        return sources, notes if rest else []
    finally:
        book.close()


def _sheet_text(
    rows: Iterator[tuple[object, ...]], display: str, entry: TableMap, comma: bool
) -> tuple[pa.Table, pa.Array]:
    """A sheet's cells as text below its header (after skip_rows); numbers in the source's
    decimal separator, so that the mapping reads typed and typed-in cells alike."""
    for _ in range(entry.skip_rows):
        next(rows, None)
    header_row = next(rows, None)
    if header_row is None or all(v is None for v in header_row):
        raise MappingError(
            f"{display} has no header on row {entry.skip_rows + 1}; correct its skip_rows "
            "(the rows above the header)."
        )
    header = _checked_header([str(v).strip() if v is not None else "" for v in header_row], display)
    cells: list[list[str | None]] = [[] for _ in header]
    numbers: list[int] = []
    for number, row in enumerate(rows, start=entry.skip_rows + 2):
        if row is None or all(v is None for v in row):
            continue
        numbers.append(number)
        for i in range(len(header)):
            value = row[i] if i < len(row) else None
            text = _cell_text(value)
            if comma and isinstance(value, float) and text is not None:
                text = text.replace(".", ",")
            cells[i].append(text)
    data = pa.table({h: pa.array(cells[i], pa.string()) for i, h in enumerate(header)})
    return data, pa.array(numbers, pa.int64())


def _apply(source: _Source, defaults: Formats) -> RawTable:
    """The source as the contract's columns: one SELECT turning its words into the contract's."""
    spec = TABLES_BY_NAME[source.name]
    header = [str(n) for n in source.data.column_names]
    entry = source.entry
    selects: list[str] = []
    used: set[str] = set()
    for column in spec.columns:
        mapped = entry.columns.get(column.name)
        origin = _origin(source, header, column, mapped)
        if origin is None and (mapped is None or mapped.value is None):
            continue
        if origin is not None:
            used.add(origin)
        expr = _expression(column, mapped, origin, entry, defaults)
        selects.append(f"{expr} AS {q(column.name)}")
    _require(source, spec.columns, {c.name for c in spec.columns if _has(source, header, c)})
    with duckdb.connect() as con:
        con.register("source", source.data)
        data = con.sql(f"SELECT {', '.join(selects) or '1 AS x'} FROM source").to_arrow_table()
    if not selects:
        data = data.drop_columns(["x"])
    raw = _finish(source.name, source.display, data, source.path, source.rows)
    ignored = {i.lower() for i in entry.ignore}
    raw.unknown_columns = [h for h in header if h not in used and h.lower() not in ignored]
    return raw


def _origin(
    source: _Source, header: list[str], column: Column, mapped: ColumnMap | None
) -> str | None:
    """The source column feeding `column`: the one the mapping names, else one of its name."""
    if mapped is not None:
        if mapped.source is None:
            return None
        found = _find(header, mapped.source)
        if found is None:
            raise MappingError(
                f"{source.key}.columns.{column.name}: {source.display} has no column "
                f"{mapped.source!r}; {closest(mapped.source, header)}"
            )
        return found
    return _find(header, column.name)


def _find(header: list[str], name: str) -> str | None:
    if name in header:
        return name
    folded = [h for h in header if h.strip().lower() == name.strip().lower()]
    return folded[0] if len(folded) == 1 else None


def _has(source: _Source, header: list[str], column: Column) -> bool:
    mapped = source.entry.columns.get(column.name)
    if mapped is not None:
        return True
    return _find(header, column.name) is not None


def _require(source: _Source, columns: tuple[Column, ...], present: set[str]) -> None:
    missing = [c.name for c in columns if c.required and c.name not in present]
    if missing:
        shown = ", ".join(str(n) for n in source.data.column_names)
        raise MappingError(
            f"{source.key}.columns: {source.display} gives no {', '.join(missing)}, which "
            f"{source.name} requires; map each to a source column (e.g. `{missing[0]}: <source "
            f"column>`; its columns are: {shown})."
        )


def _expression(
    column: Column, mapped: ColumnMap | None, origin: str | None, entry: TableMap, defaults: Formats
) -> str:
    """SQL for one contract column: a constant, or the source column through the conversions."""
    if mapped is not None and mapped.value is not None:
        return lit(mapped.value)
    assert origin is not None
    date_format = (mapped.date_format if mapped else None) or (
        entry.option(defaults, "date_format") if column.type is ColumnType.date else None
    )
    words = _bool_words(entry, defaults) if column.type is ColumnType.bool else {}
    values = dict(mapped.values) if mapped else {}
    thousands = entry.option(defaults, "thousands_separator") if column.type in NUMERIC else None
    comma = column.type in NUMERIC and entry.option(defaults, "decimal_separator") == ","
    if not (date_format or words or values or thousands or comma):
        return q(origin)
    text = f"NULLIF(trim(CAST({q(origin)} AS VARCHAR)), '')"
    if values:
        text = _case(text, values)
    if words:
        text = _case(text, words)
    if date_format and column.type in DATED:
        out = "%Y-%m" if column.type is ColumnType.month else "%Y-%m-%d"
        parsed = f"strftime(try_strptime({text}, {lit(date_format)}), {lit(out)})"
        text = f"coalesce({parsed}, {text})"
    if thousands:
        text = f"replace({text}, {lit(thousands)}, '')"
    if comma:
        text = f"replace({text}, ',', '.')"
    return text


def _bool_words(entry: TableMap, defaults: Formats) -> dict[str, str | None]:
    words: dict[str, str | None] = {}
    for word in entry.option(defaults, "true_words") or ():
        words[word] = "true"
    for word in entry.option(defaults, "false_words") or ():
        words[word] = "false"
    return words


def _case(text: str, words: dict[str, str | None]) -> str:
    """The source's words (any case, trimmed) as the contract's; other values unchanged."""
    branches = " ".join(
        f"WHEN {lit(word.strip().lower())} THEN {lit(target) if target is not None else 'NULL'}"
        for word, target in words.items()
    )
    return f"(CASE lower({text}) {branches} ELSE {text} END)"
