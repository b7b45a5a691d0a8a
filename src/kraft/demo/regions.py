"""A large demo book as regions: independent books of at most `REGION_RMS` RMs, one at a time.

`generate_book` draws a whole book in memory and `kraft demo` stages it whole for the import:
about 1.8 GB at 2,000 RMs × 24 months, growing with the book, so tens of thousands of RMs would
not fit on one machine. Above `REGION_RMS` RMs the demo is drawn as regions instead: each an
ordinary book of its own seed, its own branches and teams, its ids and e-mails tagged with the
region (`R02-RM0001`, `….r02@…`) and its team names too; region 1 keeps the plain ids, so a
large book starts as a small one does. Every region runs the same company-wide retention
initiative, so the initiative is one row and its participants come from all regions. A region is
imported before the next is drawn: memory stays that of one region.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from kraft.demo.book.generate import generate_book
from kraft.periods import Calendar
from kraft.schema.tables import TABLES, ColumnType

REGION_RMS = 2000
SEED_STEP = 1_000_003  # region r's seed: seed + (r - 1) × SEED_STEP; never another region's
SHARED_IDS = {"kpi_id", "initiative_id"}  # the catalogue's and the company's, not a region's


def region_sizes(rms: int, region_rms: int | None = None) -> list[int]:
    """RMs per region: as few regions as fit, sizes as even as possible."""
    size = region_rms or REGION_RMS
    count = max(1, math.ceil(rms / size))
    return [rms // count + (1 if r < rms % count else 0) for r in range(count)]


def generate_regions(
    rms: int,
    months: int = 24,
    seed: int = 7,
    start: date = date(2024, 1, 1),
    calendar: Calendar | None = None,
    region_rms: int | None = None,
) -> Iterator[dict[str, Any]]:
    """The book of `rms` RMs, one region's tables at a time (one region: `generate_book`'s book)."""
    for index, size in enumerate(region_sizes(rms, region_rms)):
        # No local keeps the book: once the caller has imported a region, it can be freed.
        yield tag_region(
            generate_book(
                rms=size,
                months=months,
                seed=seed + index * SEED_STEP,
                start=start,
                calendar=calendar,
            ),
            index + 1,
        )


def tag_region(book: dict[str, Any], region: int) -> dict[str, Any]:
    """The book with every id, e-mail and team name marked as region `region`'s; the initiative
    row is left to region 1 (its participants keep referring to it). Region 1 stays as drawn."""
    if region == 1:
        return book
    tag = f"R{region:02d}-"
    tagged: dict[str, Any] = {}
    for spec in TABLES:
        table: pa.Table = book[spec.name]
        if spec.name == "initiatives":
            table = table.slice(0, 0)
        for column in spec.columns:
            if column.name not in table.column_names:
                continue
            values = table.column(column.name)
            if column.type is ColumnType.id and column.name not in SHARED_IDS:
                values = pc.binary_join_element_wise(tag, values, "")
            elif spec.name == "relationship_managers" and column.name == "email":
                values = pc.replace_substring(values, "@", f".r{region:02d}@")
            elif spec.name == "teams" and column.name == "name":
                values = pc.binary_join_element_wise(values, f" (region {region})", "")
            else:
                continue
            position = table.column_names.index(column.name)
            field = table.schema.field(position)  # its type and nullability, as drawn
            table = table.set_column(position, field, values.cast(field.type))
        tagged[spec.name] = table
    return tagged
