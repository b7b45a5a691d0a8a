"""Docs generated from code must match what is committed (`make docs` regenerates them)."""

from __future__ import annotations

from kraft.framework import format_doc
from kraft.schema import contract_doc

from conftest import REPO


def test_framework_format_doc_is_current() -> None:
    committed = (REPO / "docs" / "framework-format.md").read_text(encoding="utf-8")
    assert committed == format_doc.render(), "run `make docs` and commit docs/framework-format.md"


def test_data_contract_doc_is_current() -> None:
    committed = (REPO / "docs" / "data-contract.md").read_text(encoding="utf-8")
    assert committed == contract_doc.render(), "run `make docs` and commit docs/data-contract.md"


def test_readme_links_the_format_doc_and_names_the_two_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "docs/framework-format.md" in readme
    assert "make demo" in readme and "make test" in readme
