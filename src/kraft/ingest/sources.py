"""Find the files of an import and read each into raw text columns with their row numbers.

Every value is read as text (or null for an empty cell) so that validation sees exactly what the
file says; the row number is the one a spreadsheet shows (the header is row 1).
"""

from __future__ import annotations

import csv
import hashlib
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from kraft.errors import InvalidInputError, KraftError
from kraft.ingest.bounded_parquet import read_bounded
from kraft.ingest.fixes import renamed_column_fix
from kraft.ingest.tolerance import enum_value, float_text
from kraft.ingest.validate import FILE, ROW, Problem
from kraft.schema.tables import TABLES_BY_NAME, ColumnType

SUFFIXES = (".csv", ".parquet", ".xlsx")
DEFAULT_MAX_BYTES = 1024 * 1024 * 1024  # 1 GiB per file
MAX_XLSX_UNCOMPRESSED = 512 * 1024 * 1024  # refuse zip bombs before opening a workbook
# A sheet's XML packs about 5 to 30 times; far more is a bomb that would take minutes and GBs to
# parse under the size cap. Parts smaller than RATIO_FROM are too small to matter.
MAX_XLSX_RATIO = 200
RATIO_FROM = 8 * 1024 * 1024
MAX_CSV_LINE = 2_000_000  # DuckDB's max_line_size: a longer line is refused, named by its row


@dataclass
class RawTable:
    """One table's rows from one file (or sheet): text columns plus __row and __file."""

    table: str
    source: str  # how messages name it: policies.csv, or book.xlsx sheet policies
    data: pa.Table
    unknown_columns: list[str] = field(default_factory=list)
    checksum: str = ""
    path: str = ""

    rows: int = 0

    def __post_init__(self) -> None:
        self.rows = int(self.data.num_rows)

    def release(self) -> None:
        """Drop the rows once they are staged, so a large batch is not held twice."""
        self.data = self.data.schema.empty_table()


class MissingColumnsError(InvalidInputError):
    """A file (or sheet) whose header lacks required columns of its table; a header column that
    looks like one (Claim No for claim_id) is named with the mapping entry that reads it."""

    def __init__(
        self, source: str, columns: list[str], table: str = "", header: Sequence[str] = ()
    ) -> None:
        spec = TABLES_BY_NAME.get(table)
        self.fixes = {c: renamed_column_fix(spec, c, header) if spec else None for c in columns}
        alike = [f"{source} has no {c}; {fix}" for c, fix in self.fixes.items() if fix]
        fix = (
            "; ".join(alike)
            if alike
            else "add them (the data contract lists every table's columns)"
        )
        super().__init__(
            f"{source}: the required column(s) {', '.join(columns)} are missing from the "
            f"header; {fix}."
        )
        self.source = source
        self.columns = columns


class UnreadableFilesError(InvalidInputError):
    """Files that cannot be read as tables of the contract (a header without its required
    columns, a name that is no table, text that is not UTF-8, …), every file of the batch tried,
    so that one check names each file's problem; each problem names its file."""

    def __init__(self, problems: list[Problem], sentences: list[str]) -> None:
        files = len({p.source for p in problems})
        message = (
            sentences[0]
            if len(sentences) == 1
            else f"{files} file(s) cannot be read as tables of the import contract:"
        )
        super().__init__(message, details=sentences if len(sentences) > 1 else [])
        self.problems = problems


def _file_problems(source: str, error: KraftError) -> list[Problem]:
    """The problems of one file that could not be read: one per missing column, else one for
    the file, its sentence without the file's name in front (the problem names the file)."""
    if isinstance(error, MissingColumnsError):
        return [
            Problem(
                error.source,
                1,
                column,
                None,
                "a required column missing from the header",
                error.fixes.get(column),
            )
            for column in error.columns
        ]
    prefix = f"{source}: "
    text = error.message.removeprefix(prefix) if error.message.startswith(prefix) else error.message
    return [Problem(source, None, None, None, text)]


@dataclass
class Sources:
    """The tables read from an import's files, and a sentence per file or sheet that names no
    table of the contract (skipped, and said so: DATA.md never skips one silently)."""

    tables: list[RawTable]
    skipped: list[str] = field(default_factory=list)


def discover(paths: Iterable[Path]) -> list[Path]:
    """The files to import: named files, and the regular importable files inside named folders."""
    return [path for path, _ in discover_named(paths) if not_regular(path) is None]


def discover_named(paths: Iterable[Path]) -> list[tuple[Path, bool]]:
    """The files to import, each with whether it was named itself (not found in a folder)."""
    found: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
            if not inside:
                raise KraftError(
                    f"{path} holds no .csv, .parquet or .xlsx file; name the files to import."
                )
            found.extend((p, False) for p in inside)
        elif (kind := not_regular(path)) is None:
            found.append((path, True))
        elif kind == MISSING:
            raise KraftError(f"{path}: no such file or folder; check the path.")
        else:
            raise KraftError(
                f"{path} is not a regular file ({kind}); name a .csv, .parquet or .xlsx file."
            )
    return found


MISSING = "missing"
_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
)


def not_regular(path: Path) -> str | None:
    """What a path is when it is no regular file, else None: only regular files are opened, as
    reading a FIFO blocks until something writes to it, and a device may never end."""
    try:
        mode = path.stat().st_mode  # follows a link: a link to a regular file is read
    except FileNotFoundError:
        return "a link to nothing" if path.is_symlink() else MISSING
    except OSError as exc:
        return f"unreadable: {exc.strerror}"
    if stat.S_ISREG(mode):
        return None
    return next((kind for test, kind in _KINDS if test(mode)), "a special file")


def _display_names(files: list[Path]) -> dict[Path, str]:
    """A file's name in messages: its base name, with its folder when two files share it."""
    counts: dict[str, int] = {}
    for path in files:
        counts[path.name] = counts.get(path.name, 0) + 1
    return {p: p.name if counts[p.name] == 1 else f"{p.parent.name}/{p.name}" for p in files}


def read_sources(paths: Iterable[Path], max_bytes: int | None = None) -> list[RawTable]:
    """The tables of the files or folders (what names no table is left out)."""
    return read_batch(paths, max_bytes).tables


def read_batch(paths: Iterable[Path], max_bytes: int | None = None) -> Sources:
    """Read every file of the files and folders named."""
    return read_found(discover_named(paths), max_bytes)


def read_found(files: list[tuple[Path, bool]], max_bytes: int | None = None) -> Sources:
    """Read files, each with whether it was named itself. One named on its own must name a
    table (it was meant to be imported); one found in a folder, or a sheet, that names none is
    skipped and reported."""
    cap = DEFAULT_MAX_BYTES if max_bytes is None else max_bytes
    names = _display_names([path for path, _ in files])
    read = Sources([])
    problems: list[Problem] = []
    sentences: list[str] = []
    for path, named in files:
        try:
            read.tables.extend(_read_file(path, names[path], cap, named, read.skipped))
        except KraftError as error:
            problems += _file_problems(names[path], error)
            sentences.append(error.message)
    if problems:
        raise UnreadableFilesError(problems, sentences)
    return read


def _read_file(path: Path, name: str, cap: int, named: bool, skipped: list[str]) -> list[RawTable]:
    """The tables of one file: a workbook's sheets, or the one table a file is named after."""
    kind = not_regular(path)
    if kind is not None:
        skipped.append(f"{path.name} in {path.parent} is not a regular file ({kind}); skipped")
        return []
    size = path.stat().st_size
    if size > cap:
        raise KraftError(
            f"{name} is {size / 1e6:.0f} MB, over the import size cap of "
            f"{cap / 1e6:.0f} MB; split it into smaller files."
        )
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return read_xlsx(path, skipped, required=named)
    table = table_named(path.stem)
    if table is None:
        if named:
            raise KraftError(_no_table(path.name, path.stem))
        skipped.append(f"{name} names no table of the import contract; skipped")
        return []
    if suffix == ".csv":
        return [read_csv(path, table, name)]
    if suffix == ".parquet":
        return [read_parquet(path, table, name, cap)]
    raise KraftError(
        f"{path.name}: kraft imports .csv, .parquet and .xlsx files; convert it to one of those."
    )


def table_named(name: str) -> str | None:
    """The contract's table a file or sheet names, whatever its case (Policies.csv)."""
    lowered = name.strip().lower()
    return lowered if lowered in TABLES_BY_NAME else None


def _no_table(source: str, name: str) -> str:
    known = ", ".join(TABLES_BY_NAME)
    return (
        f"{source}: {name!r} is not a table of the import contract; name the file after "
        f"one of: {known}."
    )


def _checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _finish(
    table: str, source: str, data: pa.Table, path: Path | None, rows: pa.Array | int
) -> RawTable:
    """Keep the contract's columns (as text, empty → null), add row numbers, note the rest."""
    spec = TABLES_BY_NAME[table]
    names = [str(n) for n in data.column_names]
    seen = set(names)
    missing = [c.name for c in spec.columns if c.required and c.name not in seen]
    if missing:
        raise MissingColumnsError(source, missing, table, names)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        col.name: data.column(col.name) for col in spec.columns if col.name in seen
    }
    if isinstance(rows, int):
        rows = pa.array(range(rows, rows + data.num_rows), pa.int64())
    columns[ROW] = rows
    unknown = [n for n in names if n not in {c.name for c in spec.columns}]
    return RawTable(
        table,
        source,
        pa.table(columns),
        unknown,
        _checksum(path) if path else "",
        str(path) if path else "",
    )


def text_select(raw: RawTable, relation: str) -> str:
    """SQL reading `relation` (the registered rows of `raw`) as the contract's text columns.

    Text is trimmed of spaces and an empty cell becomes null; typed columns (Parquet, the demo
    book) are rendered in the contract's formats, a float as its shortest round-trip digits;
    enum values are spelled as the contract spells them (tolerance.py). The importer materialises this once per table
    inside DuckDB, whose memory limit lets a large batch spill to disk.
    """
    present = {field.name: field.type for field in raw.data.schema}
    parts = []
    for column in TABLES_BY_NAME[raw.table].columns:
        name = '"' + column.name.replace('"', '""') + '"'
        typ = present.get(column.name)
        if typ is None or pa.types.is_null(typ):
            expr = "CAST(NULL AS VARCHAR)"
        elif pa.types.is_string(typ) or pa.types.is_large_string(typ):
            expr = f"NULLIF(trim({name}), '')"
        elif column.type is ColumnType.month and (
            pa.types.is_date(typ) or pa.types.is_timestamp(typ)
        ):
            expr = f"strftime({name}, '%Y-%m')"
        elif pa.types.is_timestamp(typ) and column.type is ColumnType.date:
            expr = f"CAST(CAST({name} AS DATE) AS VARCHAR)"
        elif pa.types.is_floating(typ):
            expr = float_text(name)
        else:
            expr = f"CAST({name} AS VARCHAR)"
        if column.type is ColumnType.enum:
            expr = enum_value(column, expr)
        parts.append(f"{expr} AS {name}")
    source = "'" + raw.source.replace("'", "''") + "'"
    return f'SELECT {", ".join(parts)}, "{ROW}", {source} AS "{FILE}" FROM {relation}'


_CSV_LINE = re.compile(r"CSV Error on Line: (\d+)")


def _checked_header(header: list[str], source: str) -> list[str]:
    """Header names as given; a nameless column becomes 'column N' (ignored, with a warning)."""
    names = [name or f"column {i + 1}" for i, name in enumerate(header)]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise KraftError(f"{source}: the column {name!r} appears twice in the header.")
        seen.add(name)
    return names


def read_csv(path: Path, table: str, source: str | None = None) -> RawTable:
    source = source or path.name
    header = _checked_header(_csv_header(path, source), source)
    columns = "{" + ", ".join(f"'{_sql_text(name)}': 'VARCHAR'" for name in header) + "}"
    query = (
        f"SELECT * FROM read_csv('{_sql_text(str(path))}', columns={columns}, header=true, "
        "auto_detect=false, delim=',', quote='\"', escape='\"', strict_mode=true, "
        f"encoding='utf-8', all_varchar=true, max_line_size={MAX_CSV_LINE})"
    )
    try:
        data = duckdb.connect().sql(query).to_arrow_table()
    except duckdb.Error as exc:
        raise KraftError(_csv_error(source, str(exc))) from None
    return _finish(table, source, data, path, csv_row_numbers(path, data.num_rows))


def csv_row_numbers(path: Path, count: int, skip: int = 0) -> pa.Array | int:
    """Spreadsheet row numbers: the header is row skip + 1 (the rows above it skipped) and blank
    lines keep their numbers.

    DuckDB skips blank lines; when a file has any, its records are counted again with the csv
    module (rare, and slower) so that a message points at the row a person sees.
    """
    with path.open("rb") as handle:
        body = handle.read()
    if b"\n\n" not in body and b"\n\r\n" not in body:
        return skip + 2
    numbers: list[int] = []
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        for _ in range(skip + 1):
            next(reader, None)
        start = reader.line_num + 1
        for record in reader:
            if record:
                numbers.append(start)
            start = reader.line_num + 1
    return pa.array(numbers, pa.int64()) if len(numbers) == count else skip + 2


def _csv_header(path: Path, source: str) -> list[str]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            first = next(csv.reader(handle), None)
    except UnicodeDecodeError:
        raise KraftError(
            f"{source} is not UTF-8 text; save it as CSV UTF-8 and import it again."
        ) from None
    except csv.Error as exc:
        if "field larger" in str(exc):
            raise KraftError(
                f"{source} row 1: a header cell is over {csv.field_size_limit() // 1024} kB, "
                "longer than any column name; check that the file is CSV with a line break "
                "after the header."
            ) from None
        raise KraftError(f"{source} row 1: the header cannot be read ({exc}).") from None
    if first is None or not any(cell.strip() for cell in first):
        raise KraftError(f"{source} is empty; it needs a header row naming its columns.")
    return [cell.strip() for cell in first]


def _csv_error(source: str, message: str) -> str:
    match = _CSV_LINE.search(message)
    where = f"{source} row {match[1]}" if match else source
    lowered = message.lower()
    if "unterminated quote" in lowered:
        return (
            f"{where}: a quoted value is never closed; check the quotes on that line "
            '(a " inside a value is written "").'
        )
    if "expected number of columns" in lowered:
        found = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", message)
        detail = f" (expected {found[1]} fields, found {found[2]})" if found else ""
        return (
            f"{where}: the line has the wrong number of fields{detail}; quote values that "
            "contain commas."
        )
    if "maximum line size" in lowered:
        return (
            f"{where}: the line is over {MAX_CSV_LINE / 1e6:.0f} MB, longer than any row of the "
            "contract; check that each row ends with a line break and no quote is left open."
        )
    if "unicode" in lowered or "utf-8" in lowered:
        return f"{where}: the file is not UTF-8 text; save it as CSV UTF-8 and import it again."
    first = message.strip().splitlines()[0]
    return f"{where}: the CSV cannot be read ({first})."


def _sql_text(text: str) -> str:
    return text.replace("'", "''")


def read_parquet(
    path: Path, table: str, source: str | None = None, cap: int = DEFAULT_MAX_BYTES
) -> RawTable:
    """A Parquet file's rows, refused before decoding when they would unpack past `cap`."""
    source = source or path.name
    data = read_bounded(path, source, cap)
    return _finish(table, source, data, path, 1)


def read_xlsx(path: Path, skipped: list[str], *, required: bool = True) -> list[RawTable]:
    """The workbook's sheets that name a table; a sentence in `skipped` for each other sheet.
    A workbook named on its own (`required`) must hold at least one table."""
    from openpyxl import load_workbook  # imported here: only xlsx imports need it

    _refuse_zip_bomb(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise KraftError(f"{path.name} is not a readable .xlsx workbook ({exc}).") from None
    try:
        tables_of = {name: table_named(name) for name in book.sheetnames}
        if required and not any(tables_of.values()):
            raise KraftError(
                f"{path.name} has no sheet named after a table of the import contract (sheets: "
                f"{', '.join(book.sheetnames)}); rename the sheets, e.g. policies."
            )
        tables = []
        checksum = _checksum(path)
        for name, table in tables_of.items():
            if table is None:
                skipped.append(
                    f"{name} in {path.name} names no table of the import contract; skipped"
                )
                continue
            raw = _read_sheet(book[name], table, f"{path.name} sheet {name}")
            raw.checksum = checksum
            raw.path = str(path)
            tables.append(raw)
        return tables
    finally:
        book.close()


def _read_sheet(sheet: Any, table: str, source: str) -> RawTable:
    """One sheet's rows as text, blank rows skipped and the others numbered as the sheet shows."""
    rows = sheet.iter_rows(values_only=True)
    header_row = next(rows, None)
    if header_row is None or all(v is None for v in header_row):
        raise KraftError(f"{source} is empty; it needs a header row naming its columns.")
    header = _checked_header([str(v).strip() if v is not None else "" for v in header_row], source)
    width = len(header)
    cells: list[list[str | None]] = [[] for _ in header]
    numbers: list[int] = []
    for number, row in enumerate(rows, start=2):
        if row is None or all(v is None for v in row):
            continue
        numbers.append(number)
        for i in range(width):
            cells[i].append(_cell_text(row[i] if i < len(row) else None))
    data = pa.table({h: pa.array(cells[i], pa.string()) for i, h in enumerate(header)})
    return _finish(table, source, data, None, pa.array(numbers, pa.int64()))


def _refuse_zip_bomb(path: Path) -> None:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except zipfile.BadZipFile:
        raise KraftError(
            f"{path.name} is not a readable .xlsx workbook (not a zip file)."
        ) from None
    total = sum(info.file_size for info in parts)
    for info in parts:
        packed = max(info.compress_size, 1)
        if info.file_size >= RATIO_FROM and info.file_size / packed > MAX_XLSX_RATIO:
            raise KraftError(
                f"{path.name}: its part {info.filename} unpacks {info.file_size / packed:.0f} "
                f"times its size ({info.file_size / 1e6:.0f} MB), which no real sheet does; "
                "export the sheet as CSV and import that instead."
            )
    if total > MAX_XLSX_UNCOMPRESSED:
        raise KraftError(
            f"{path.name} unpacks to {total / 1e6:.0f} MB, over the cap of "
            f"{MAX_XLSX_UNCOMPRESSED / 1e6:.0f} MB; export it as CSV instead."
        )


def _cell_text(value: object) -> str | None:
    """A spreadsheet cell as the contract's text: dates as YYYY-MM-DD, 12.0 as 12."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, int):
        return str(value)
    return str(value)


def from_arrow(table: str, source: str, data: pa.Table) -> RawTable:
    """Rows that did not come from a file (the demo generator), read like a Parquet file."""
    name = table_named(table)
    if name is None:
        raise KraftError(_no_table(source, table))
    return _finish(name, source, data, None, 1)
