"""The mapping file (docs/mapping.md): each problem is one sentence naming the key and a fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kraft.ingest.mapping import MappingError, load_mapping, parse_mapping

POLICIES = """
tables:
  policies:
    file: policies*.csv
{extra}
"""


def _fails(text: str) -> str:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, "m.yaml")
    message = str(caught.value)
    assert message.startswith("m.yaml")
    assert "\n" not in message
    return message


def test_a_complete_mapping_reads_with_every_scalar_as_written() -> None:
    mapping = parse_mapping(
        """
defaults:
  date_format: "%d/%m/%Y"
  decimal_separator: ","
  thousands_separator: "."
  true_words: [Y, Yes]
  false_words: [N, No]
  encoding: cp1252
tables:
  policies:
    file: Policy Register*.csv
    skip_rows: 2
    columns:
      policy_id: Policy No
      status:
        from: Policy Status
        values: {In Force: in_force, Void: null, Todo: lapsed}
      personalised: {value: "false"}
      start_date: {from: Start, date_format: "%m/%d/%Y"}
    ignore: [Branch, 01]
""",
        "m.yaml",
    )
    assert mapping.defaults.true_words == ("Y", "Yes")  # not YAML's booleans
    entry = mapping.tables["policies"]
    assert entry.skip_rows == 2
    assert entry.ignore == ("Branch", "01")  # not the number 1
    assert entry.columns["policy_id"].source == "Policy No"
    assert entry.columns["status"].values == {  # a source word Todo is not a TODO
        "In Force": "in_force",
        "Void": None,
        "Todo": "lapsed",
    }
    assert entry.columns["personalised"].value == "false"
    assert entry.option(mapping.defaults, "date_format") == "%d/%m/%Y"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "    columns: {policy_no: Policy No}",
            "tables.policies.columns.policy_no: policies has no column 'policy_no'; did you mean "
            "policy_id?",
        ),
        ("    colums: {}", "tables.policies.colums is not a mapping key"),
        ("    query: SELECT 1", "tables.policies: say where its rows come from: `file:`"),
        ("    encoding: klingon", "tables.policies.encoding: 'klingon' is not an encoding"),
        ("    date_format: '%d/%m'", "tables.policies.date_format: '%d/%m' has no year"),
        ("    date_format: '%Y-%q-%d'", "%q in '%Y-%q-%d' is not a date directive"),
        ("    date_format: '%Y-%d'", "has no month"),
        ("    skip_rows: -1", "tables.policies.skip_rows: Input should be greater than"),
        ("    decimal_separator: ';'", "tables.policies.decimal_separator: input should be"),
        (
            "    decimal_separator: ','\n    thousands_separator: ','",
            "tables.policies.thousands_separator: it is also the decimal separator",
        ),
        ("    true_words: [Y]\n    false_words: [y]", "y is also a true word"),
        (
            "    columns: {status: {from: S, values: {Live: inforce}}}",
            "tables.policies.columns.status.values.Live: 'inforce' is not a status of the "
            "contract; did you mean in_force?",
        ),
        (
            "    columns: {status: {from: S, values: {Live: in_force, LIVE: lapsed}}}",
            "tables.policies.columns.status.values: 'LIVE' appears twice",
        ),
        (
            "    columns: {status: {value: alive}}",
            "tables.policies.columns.status.value: 'alive' is not a status",
        ),
        (
            "    columns: {status: {from: S, value: in_force}}",
            "tables.policies.columns.status: say",
        ),
        ("    columns: {status: {values: {A: in_force}}}", "tables.policies.columns.status: say"),
        (
            "    columns: {policy_id: {from: P, date_format: '%d/%m/%Y'}}",
            "tables.policies.columns.policy_id.date_format: policy_id is not a date column",
        ),
        (
            "    columns: {issue_date: {from: D, date_format: 'TODO: %d/%m/%Y or %m/%d/%Y'}}",
            "tables.policies.columns.issue_date.date_format is still a TODO (TODO: %d/%m/%Y or "
            "%m/%d/%Y); decide it and write the value there.",
        ),
        ("    columns: {policy_id: 'TODO: which column?'}", "columns.policy_id is still a TODO"),
        ("    true_words: [Y, 'TODO: is Maybe true?']", "tables.policies.true_words.1 is still"),
    ],
)
def test_a_mistake_names_its_key_and_the_fix(extra: str, expected: str) -> None:
    assert expected in _fails(POLICIES.format(extra=extra))


def test_an_unknown_table_or_a_missing_file_names_the_key() -> None:
    assert "tables.policy: 'policy' is not a table of the import contract; did you mean " in (
        _fails("tables:\n  policy:\n    file: p.csv\n")
    )
    assert "tables.claims: say where its rows come from" in _fails(
        "tables:\n  claims: {sheet: C}\n"
    )
    assert "tables: Dictionary should have at least 1 item" in _fails("tables: {}\n")
    assert "still has the key 'TODO: which table" in _fails(
        "tables:\n  'TODO: which table does x.csv feed?': {file: x.csv}\n"
    )


def test_yaml_anchors_syntax_and_shape_are_refused_in_one_sentence() -> None:
    anchored = "defaults: &d {date_format: '%d/%m/%Y'}\ntables:\n  claims: {file: c.csv}\n"
    assert "line 1: YAML anchors and aliases are not allowed; write the value out" in _fails(
        anchored
    )
    assert "YAML syntax error" in _fails("tables:\n  claims: [unclosed\n")
    assert "a mapping is a YAML mapping with a `tables:` key" in _fails("- claims\n")


def test_a_mapping_file_that_is_missing_or_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="no such mapping file"):
        load_mapping(tmp_path / "nope.yaml")
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("tables:\n  clients: {file: Clientes_é.csv}\n".encode("cp1252"))
    with pytest.raises(MappingError, match="save it as UTF-8"):
        load_mapping(latin)


def test_the_examples_of_docs_mapping_md_are_valid_mappings() -> None:
    from conftest import REPO

    doc = (REPO / "docs" / "mapping.md").read_text(encoding="utf-8")
    examples = re.findall(r"```yaml\n(.*?)```", doc, flags=re.DOTALL)
    assert len(examples) == 4  # an export, a renamed file, a query, the database pull
    for example in examples:
        parse_mapping(example, "docs/mapping.md")
