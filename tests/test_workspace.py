"""kraft.toml: created by init, found from --workspace, $KRAFT_WORKSPACE or the folders above."""

from __future__ import annotations

from pathlib import Path

import pytest

from kraft.errors import KraftError
from kraft.workspace import (
    CONFIG_NAME,
    NoWorkspaceError,
    Settings,
    find_workspace,
    init_workspace,
    load_workspace,
)


def test_init_writes_the_defaults(tmp_path: Path) -> None:
    workspace, created = init_workspace(tmp_path / "ws", Settings())
    assert created
    settings = load_workspace(tmp_path / "ws").settings
    assert settings == Settings()
    assert settings.database_url == "duckdb:///kraft.duckdb"
    assert settings.framework == "insurance_rm"
    assert settings.currency == "INR"
    assert settings.fiscal_year_start_month == 1
    assert settings.renewal_grace_days == 30
    assert settings.free_look_days == 30
    assert workspace.config_path == (tmp_path / "ws" / CONFIG_NAME).resolve()


def test_init_twice_changes_nothing(tmp_path: Path) -> None:
    init_workspace(tmp_path, Settings(fiscal_year_start_month=4))
    before = (tmp_path / CONFIG_NAME).read_text()
    workspace, created = init_workspace(tmp_path, Settings())
    assert not created
    assert workspace.settings.fiscal_year_start_month == 4
    assert (tmp_path / CONFIG_NAME).read_text() == before


def test_found_from_a_subfolder(tmp_path: Path) -> None:
    init_workspace(tmp_path, Settings())
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_workspace(start=deep).root == tmp_path.resolve()


def test_explicit_beats_environment_beats_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, month in (("here", 1), ("env", 4), ("explicit", 7)):
        init_workspace(tmp_path / name, Settings(fiscal_year_start_month=month))
    here = tmp_path / "here"
    assert find_workspace(start=here).settings.fiscal_year_start_month == 1
    monkeypatch.setenv("KRAFT_WORKSPACE", str(tmp_path / "env"))
    assert find_workspace(start=here).settings.fiscal_year_start_month == 4
    explicit = find_workspace(tmp_path / "explicit", start=here)
    assert explicit.settings.fiscal_year_start_month == 7


def test_no_workspace_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(NoWorkspaceError, match=r"run `kraft init`.*--workspace DIR"):
        find_workspace(start=tmp_path)


def test_a_folder_without_config_is_not_a_workspace(tmp_path: Path) -> None:
    with pytest.raises(KraftError, match=r"is not a kraft workspace .*run `kraft init"):
        find_workspace(tmp_path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "fiscal_year_start_month = 13\n",
            r"setting fiscal_year_start_month: .*less than or equal",
        ),
        ("framwork = 'x'\n", r"setting framwork: .*remove it"),
        ("currency = = 'INR'\n", r"fix the TOML syntax"),
        ("currency = 'rupees'\n", r"setting currency"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / CONFIG_NAME).write_text(content)
    with pytest.raises(KraftError, match=message):
        load_workspace(tmp_path)


def test_init_refuses_a_file_as_folder(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(KraftError, match="is a file, not a folder"):
        init_workspace(target, Settings())
