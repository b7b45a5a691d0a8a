"""A demo book above the region size is drawn region by region: one book, ids never shared,
every reference inside the book, and `kraft demo` imports it whole through the usual validation."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from kraft.cli import app
from kraft.demo import regions
from kraft.demo.book.constants import INITIATIVE_ID
from kraft.demo.book.generate import generate_book
from kraft.demo.regions import generate_regions, region_sizes
from kraft.schema.tables import TABLES, table

START = date(2024, 1, 1)
Book = dict[str, Any]


@pytest.fixture(scope="module")
def parts() -> list[Book]:
    return list(generate_regions(rms=25, months=4, seed=5, start=START, region_rms=10))


@pytest.fixture(scope="module")
def whole(parts: list[Book]) -> Book:
    return {spec.name: pa.concat_tables([p[spec.name] for p in parts]) for spec in TABLES}


def test_region_sizes() -> None:
    assert region_sizes(20_000) == [2_000] * 10
    assert region_sizes(2_000) == [2_000]
    assert region_sizes(2_001) == [1_001, 1_000]
    assert region_sizes(25, 10) == [9, 8, 8]
    assert region_sizes(1) == [1]


def test_one_region_is_the_plain_book() -> None:
    (only,) = generate_regions(rms=12, months=3, seed=3, start=START)
    plain = generate_book(rms=12, months=3, seed=3, start=START)
    assert {n: t.equals(plain[n]) for n, t in only.items()} == dict.fromkeys(plain, True)


def test_region_one_keeps_its_ids_the_others_are_tagged(parts: list[Book]) -> None:
    assert len(parts) == 3
    first = generate_book(rms=9, months=4, seed=5, start=START)
    assert parts[0]["policies"].equals(first["policies"])
    rm_ids = [p["relationship_managers"].column("rm_id").to_pylist() for p in parts]
    assert rm_ids[0][0] == "RM0001"
    assert all(i.startswith("R02-RM") for i in rm_ids[1])
    assert all(i.startswith("R03-RM") for i in rm_ids[2])
    emails = parts[2]["relationship_managers"].column("email").to_pylist()
    assert all(e.endswith(".r03@demo-insurer.example") for e in emails)
    names = parts[1]["teams"].column("name").to_pylist()
    assert all(n.endswith(" (region 2)") for n in names)
    # each region is its own draw, not a copy of region 1 under other ids
    assert parts[1]["policies"].num_rows != parts[0]["policies"].num_rows


def test_keys_and_unique_columns_never_repeat(whole: Book) -> None:
    for spec in TABLES:
        data = whole[spec.name]
        keys = data.select(list(spec.key)).to_pylist()
        assert len({tuple(k.values()) for k in keys}) == data.num_rows, spec.name
        for column in spec.columns:
            if column.unique or (spec.name == "teams" and column.name == "name"):
                values = pc.drop_null(data.column(column.name)).to_pylist()
                assert len(set(values)) == len(values), (spec.name, column.name)


def test_references_resolve_inside_the_book(whole: Book) -> None:
    for spec in TABLES:
        for column in spec.columns:
            if column.ref is None:
                continue
            keys = whole[column.ref].column(table(column.ref).key[0])
            values = pc.drop_null(whole[spec.name].column(column.name))
            assert pc.all(pc.is_in(values, value_set=keys)).as_py() is not False, (
                spec.name,
                column.name,
            )


def test_one_company_initiative_with_participants_from_every_region(whole: Book) -> None:
    assert whole["initiatives"].column("initiative_id").to_pylist() == [INITIATIVE_ID]
    participants = whole["initiative_participants"]
    assert set(participants.column("initiative_id").to_pylist()) == {INITIATIVE_ID}
    tags = {
        rm[:4] if rm.startswith("R0") else "R01-" for rm in participants.column("rm_id").to_pylist()
    }
    assert tags == {"R01-", "R02-", "R03-"}


def test_kraft_demo_imports_the_regions(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole: Book
) -> None:
    monkeypatch.setattr(regions, "REGION_RMS", 10)
    folder = tmp_path / "big"
    args = ["--rms", "25", "--months", "4", "--seed", "5", "--start", "2024-01", "--no-reports"]
    result = runner.invoke(app, ["demo", str(folder), *args])
    assert result.exit_code == 0, result.output
    assert "Region 3 of 3:" in result.output
    status = runner.invoke(app, ["--workspace", str(folder), "status", "--format", "json"])
    found = json.loads(status.output)
    assert found["tables"] == {spec.name: whole[spec.name].num_rows for spec in TABLES}
    assert found["last_import"]["import_id"] == 3  # one import a region, each validated
    assert found["as_of"] == "2024-04-30"
