"""Resources an attacker or an accident can exhaust (#20): YAML bombs in every YAML kraft reads,
Parquet files that unpack to gigabytes, special files in an import folder, a 3 MB CSV line.
Each is refused (or skipped) in one sentence, quickly, without a traceback; a regression that
hangs fails on the timeout guard instead of hanging the suite."""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from kraft.cli import app
from kraft.errors import KraftError
from kraft.framework.loader import parse_framework
from kraft.ingest.mapping import parse_mapping
from kraft.ingest.sources import read_batch, read_sources
from kraft.workspace import Workspace

from books import write_book

ALIASES = "YAML anchors and aliases are not allowed; write the value out."


@contextlib.contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail (TimeoutError) instead of hanging: a blocked open() of a FIFO is interrupted too."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def refused(load: Callable[[str], object], text: str) -> str:
    with within(5), pytest.raises(KraftError) as caught:
        load(text)
    return caught.value.message


# --- YAML bombs: a generated set, in frameworks, catalogue-like files and mappings ----------------


def laughs(depth: int, width: int = 9) -> str:
    """The billion laughs: each level an anchored list of `width` aliases of the level below."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * width)}]"]
    for level in range(1, depth + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def merge_bomb(depth: int) -> str:
    """Merge keys (`<<:`) each pulling in the level below twice, under new keys."""
    lines = ["m0: &m0 {a: lol, b: lol}"]
    for level in range(1, depth + 1):
        lines.append(
            f"m{level}: &m{level} {{<<: *m{level - 1}, x: [*m{level - 1}, *m{level - 1}]}}"
        )
    return "\n".join(lines) + "\n"


BOMBS = {
    **{f"laughs-{depth}": laughs(depth) for depth in (2, 5, 9, 12)},
    "recursive-alias": "x: &x [*x]\n",
    "recursive-mapping": "x: &x {again: *x}\n",
    **{f"merge-{depth}": merge_bomb(depth) for depth in (3, 10, 20)},
    "alias-only": "tables: *nothing\n",
}
DEEP = "x: " + "[" * 500 + "]" * 500 + "\n"


def _catalogue(text: str) -> object:
    from kraft.metrics.spec import parse_catalogue  # added with the safe loader

    return parse_catalogue(text, "catalogue.yaml")


READERS: dict[str, Callable[[str], object]] = {
    "framework": lambda text: parse_framework(text, source="framework.yaml"),
    "catalogue": _catalogue,
    "mapping": lambda text: parse_mapping(text, "mapping.yaml"),
}


@pytest.mark.parametrize("bomb", BOMBS)
@pytest.mark.parametrize("reader", READERS)
def test_yaml_bombs_are_refused_where_written(reader: str, bomb: str) -> None:
    started = time.monotonic()
    message = refused(READERS[reader], BOMBS[bomb])
    assert message == f"{reader}.yaml line 1: {ALIASES}"
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("reader", READERS)
def test_deep_nesting_is_refused_not_a_recursion_error(reader: str) -> None:
    message = refused(READERS[reader], DEEP)
    assert message.startswith(f"{reader}.yaml line 1: nested more than 64 levels deep")


def test_framework_validate_refuses_a_recursive_alias(tmp_path: Path) -> None:
    bomb = tmp_path / "framework.yaml"
    bomb.write_text("id: rm\nkras: &k [*k]\n", encoding="utf-8")
    with within(10):
        result = CliRunner().invoke(app, ["framework", "validate", str(bomb)])
    assert result.exit_code != 0
    assert f"{bomb} line 2: {ALIASES}" in result.output
    assert "Traceback" not in result.output and "Internal error" not in result.output


def test_the_builtin_catalogue_still_loads() -> None:
    from kraft.metrics.spec import load_catalogue

    assert load_catalogue().kpi_ids()


# --- Parquet bombs: a small file, a huge table -----------------------------------------------------


def parquet_bomb(folder: Path, rows: int, value_bytes: int) -> Path:
    """policies.parquet: one long value repeated `rows` times, dictionary- and run-length-encoded
    (a few kB on disk), its schema plain text so that a reader decodes every copy."""
    folder.mkdir(exist_ok=True)
    value = pa.array(["P" + "x" * (value_bytes - 1)])
    column = pa.DictionaryArray.from_arrays(pa.array([0] * rows, pa.int32()), value)
    path = folder / "policies.parquet"
    pq.write_table(pa.table({"policy_id": column}), path, store_schema=False)
    return path


def test_a_parquet_bomb_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    path = parquet_bomb(tmp_path / "in", 1_400_000, 1000)  # 1.4 GB of text in ~150 kB
    assert path.stat().st_size < 400_000
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    with within(5), pytest.raises(KraftError) as caught:
        read_sources([tmp_path / "in"])
    assert time.monotonic() - started < 2
    assert re.match(r"policies.parquet unpacks to 1,4\d\d MB, over the cap", caught.value.message)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 300_000


@pytest.mark.parametrize("value_bytes", [200, 2000])
def test_parquet_unpacking_past_the_import_size_cap_is_refused(
    tmp_path: Path, value_bytes: int
) -> None:
    parquet_bomb(tmp_path / "in", 20_000, value_bytes)
    with within(5), pytest.raises(KraftError) as caught:
        read_sources([tmp_path / "in"], max_bytes=1_000_000)
    assert "policies.parquet unpacks to" in caught.value.message
    assert "over the cap of 1 MB per file" in caught.value.message


def test_parquet_rows_past_the_cap_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kraft.ingest.bounded_parquet.MAX_PARQUET_ROWS", 1000)
    parquet_bomb(tmp_path / "in", 1001, 4)
    with within(5), pytest.raises(KraftError) as caught:
        read_sources([tmp_path / "in"])
    assert caught.value.message.startswith("policies.parquet has 1,001 rows, over the cap of 1,000")


def test_a_parquet_file_under_the_caps_reads_as_before(tmp_path: Path) -> None:
    parquet_bomb(tmp_path / "in", 100, 10)
    with pytest.raises(KraftError) as caught:  # read in full: only the header is short
        read_sources([tmp_path / "in"])
    assert "the required column(s) client_id" in caught.value.message


# --- Special files in an import folder, and a 3 MB line -------------------------------------------


def special_files(folder: Path) -> dict[str, str]:
    """A FIFO, a dangling link and a folder, each named like a table file; their kinds."""
    os.mkfifo(folder / "claims.csv")
    (folder / "leads.csv").symlink_to(folder / "gone.csv")
    (folder / "surveys.parquet").mkdir()
    return {"claims.csv": "a FIFO", "leads.csv": "a link to nothing", "surveys.parquet": "a folder"}


def test_special_files_in_a_folder_are_skipped_and_named(tmp_path: Path) -> None:
    folder = write_book(tmp_path / "book")
    kinds = special_files(folder)
    with within(5):
        batch = read_batch([folder])
    assert {t.table for t in batch.tables} >= {"policies", "clients"}
    for name, kind in kinds.items():
        assert f"{name} in {folder} is not a regular file ({kind}); skipped" in batch.skipped


@pytest.mark.parametrize("name", ["claims.csv", "leads.csv"])
def test_a_special_file_named_on_its_own_is_refused(tmp_path: Path, name: str) -> None:
    special_files(tmp_path)
    with within(5), pytest.raises(KraftError) as caught:
        read_batch([tmp_path / name])
    assert caught.value.message.startswith(f"{tmp_path / name} is not a regular file (")


def _import(ws: Workspace, *args: str) -> tuple[int, str]:
    with within(20):
        result = CliRunner().invoke(app, ["--workspace", str(ws.root), "import", *args])
    assert "Traceback" not in result.output and "Internal error" not in result.output
    return result.exit_code, result.output


def _tables(ws: Workspace) -> object:
    result = CliRunner().invoke(app, ["--workspace", str(ws.root), "status", "--format", "json"])
    return json.loads(result.output)["tables"]


def test_an_import_folder_with_special_files_imports_the_rest(
    workspace: Workspace, tmp_path: Path
) -> None:
    folder = write_book(tmp_path / "book")
    special_files(folder)
    code, output = _import(workspace, str(folder))
    assert code == 0, output
    assert "claims.csv" in output and "a FIFO" in output
    assert _tables(workspace)["policies"] == 3  # type: ignore[index]


def test_a_named_fifo_is_refused_and_the_database_unchanged(
    workspace: Workspace, tmp_path: Path
) -> None:
    before = _tables(workspace)
    special_files(tmp_path)
    code, output = _import(workspace, str(tmp_path / "claims.csv"))
    assert code != 0
    assert "is not a regular file (a FIFO)" in output
    assert _tables(workspace) == before


def test_a_3_mb_csv_line_is_refused_naming_its_row(workspace: Workspace, tmp_path: Path) -> None:
    folder = write_book(tmp_path / "book")
    teams = folder / "teams.csv"
    teams.write_text(teams.read_text() + "T9," + "x" * 3_000_000 + "\n", encoding="utf-8")
    before = _tables(workspace)
    code, output = _import(workspace, str(folder))
    assert code != 0
    assert "teams.csv row" in output and "the line is over 2 MB" in output
    assert _tables(workspace) == before


def test_a_3_mb_header_is_refused_in_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "teams.csv").write_text("team_id," + "x" * 3_000_000 + "\nT1,a\n")
    with within(5), pytest.raises(KraftError) as caught:
        read_batch([tmp_path])
    assert "teams.csv row 1: a header cell is over 128 kB" in caught.value.message
