"""The header and first rows of every source of an export, for `kraft mapping suggest`.

Each CSV file, workbook sheet and Parquet file is one source. The header is the first row that
is about as wide as the widest of the first rows, so a title above a table is seen and skipped;
a file that is not UTF-8 is read as cp1252 and flagged for a person to confirm.
"""

from __future__ import annotations

import codecs
import csv
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from kraft.errors import KraftError
from kraft.ingest.sources import _cell_text, _refuse_zip_bomb, discover

SAMPLE_ROWS = 2000
HEADER_SEARCH = 20


@dataclass
class Sample:
    """One source's header and a sample of its values (trimmed text, empty cells left out)."""

    path: Path
    display: str
    header: list[str]
    skip_rows: int = 0
    sheet: str | None = None
    encoding: str | None = None  # None: UTF-8
    encoding_sure: bool = True
    values: dict[str, list[str]] = field(default_factory=dict)


def read_samples(paths: Iterable[Path]) -> list[Sample]:
    samples: list[Sample] = []
    for path in discover(paths):
        suffix = path.suffix.lower()
        if suffix == ".xlsx":
            samples.extend(_workbook(path))
        elif suffix == ".parquet":
            samples.append(_parquet(path))
        elif suffix == ".csv":
            samples.append(_csv(path))
        else:
            raise KraftError(f"{path.name}: kraft reads .csv, .parquet and .xlsx files.")
    return samples


def _framed(path: Path, display: str, rows: Iterator[list[str | None]]) -> Sample:
    """The header row (after any title rows) and the sampled values under it."""
    head = list(itertools.islice(rows, HEADER_SEARCH))
    widths = [sum(1 for v in row if v) for row in head]
    if not widths or max(widths) == 0:
        raise KraftError(f"{display} is empty; it needs a header row naming its columns.")
    least = max(2, round(0.6 * max(widths))) if max(widths) > 1 else 1
    skip = next(i for i, w in enumerate(widths) if w >= least)
    header = [(v or "").strip() or f"column {i + 1}" for i, v in enumerate(head[skip])]
    values: dict[str, list[str]] = {h: [] for h in header}
    for row in itertools.chain(head[skip + 1 :], itertools.islice(rows, SAMPLE_ROWS)):
        for name, cell in zip(header, row, strict=False):
            text = (cell or "").strip()
            if text:
                values[name].append(text)
    return Sample(path, display, header, skip_rows=skip, values=values)


def _csv(path: Path) -> Sample:
    start = path.read_bytes()[:4]
    encoding, sure = "utf-8-sig", True
    if start.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        try:
            with path.open(encoding="utf-8-sig") as handle:
                for _ in itertools.islice(handle, HEADER_SEARCH + SAMPLE_ROWS):
                    pass
        except UnicodeDecodeError:
            encoding, sure = "cp1252", False
    with path.open(encoding=encoding, newline="", errors="replace") as handle:
        rows = (list[str | None](r) for r in csv.reader(handle))
        sample = _framed(path, path.name, rows)
    sample.encoding = None if encoding == "utf-8-sig" else encoding
    sample.encoding_sure = sure
    return sample


def _workbook(path: Path) -> list[Sample]:
    from openpyxl import load_workbook

    _refuse_zip_bomb(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:
        raise KraftError(f"{path.name} is not a readable .xlsx workbook ({exc}).") from None
    try:
        samples = []
        for name in book.sheetnames:
            rows = ([_cell_text(v) for v in r] for r in book[name].iter_rows(values_only=True))
            try:
                sample = _framed(path, f"{path.name} sheet {name}", rows)
            except KraftError:
                continue  # an empty sheet feeds no table
            sample.sheet = name
            samples.append(sample)
        return samples
    finally:
        book.close()


def _parquet(path: Path) -> Sample:
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
        batch = next(handle.iter_batches(batch_size=SAMPLE_ROWS), None)
    except Exception as exc:
        raise KraftError(f"{path.name} is not a readable Parquet file ({exc}).") from None
    header = [str(n) for n in handle.schema_arrow.names]
    values: dict[str, list[str]] = {h: [] for h in header}
    for row in batch.to_pylist() if batch is not None else []:
        for name in header:
            value = row.get(name)
            if value is not None and str(value).strip():
                values[name].append(value.isoformat() if isinstance(value, date) else str(value))
    return Sample(path, path.name, header, values=values)
