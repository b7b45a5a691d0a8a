"""`kraft import --mapping pull.yaml` pulls a policy system's reporting tables from PostgreSQL:
a schema in the system's own layout (its column names, status words, day-first dates as text,
float money), read through query sources, gives the KPI values of the same book imported from
the contract's CSVs; the queries run read-only and the URL comes only from the environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kpi_books import values
from kraft.cli import app
from kraft.workspace import Workspace
from mapping_books import (
    BOOK,
    CLAIM_WORDS,
    LEAD_WORDS,
    SOURCE_WORDS,
    STATUS_WORDS,
    duckdb_workspace,
    write_contract_book,
)

from conftest import postgres_schema

AS_OF = "2025-01-31"

SCHEMA = """
CREATE TABLE branch (br_code text, br_name text, head_agent text, parent_br text);
CREATE TABLE agent (agent_code text, agent_name text, joined text, br_code text,
                    designation text, active_yn char(1));
CREATE TABLE customer (cust_no text, cust_name text, seg text);
CREATE TABLE pol_register (pol_no text, cust_no text, agent_code text, lob text, issue_dt text,
                           expiry_dt text, pol_status text, cancel_dt text, premium float8);
CREATE TABLE claim_register (clm_no text, pol_no text, intimated text, settled text,
                             clm_status text, clm_amount float8);
CREATE TABLE lead_pipeline (lead_no text, agent_code text, cust_no text, lead_date date,
                            channel text, lead_status text, closed_on date);
CREATE SEQUENCE audit_seq;
"""

PULL = """\
defaults:
  date_format: "%d/%m/%Y"
tables:
  teams:
    query: SELECT br_code, br_name, head_agent, parent_br FROM branch
    database: POLSYS_URL
    columns: {team_id: br_code, name: br_name, leader_rm_id: head_agent, parent_team_id: parent_br}
  relationship_managers:
    query: SELECT * FROM agent
    database: POLSYS_URL
    true_words: [Y]
    false_words: [N]
    columns:
      rm_id: agent_code
      name: agent_name
      hire_date: joined
      team_id: br_code
      role: {from: designation, values: {Manager: manager, RM: rm}}
      active: active_yn
  clients:
    query: SELECT cust_no, cust_name, lower(seg) AS seg FROM customer WHERE cust_no LIKE 'C%'
    database: POLSYS_URL
    columns: {client_id: cust_no, name: cust_name, segment: seg}
  policies:
    query: SELECT *, 'New' AS biz FROM pol_register
    database: POLSYS_URL
    columns:
      policy_id: pol_no
      client_id: cust_no
      rm_id: agent_code
      product_line: lob
      business_type: {from: biz, values: {New: new}}
      issue_date: issue_dt
      start_date: issue_dt
      end_date: expiry_dt
      status: {from: pol_status, values: {In Force: in_force, Cancelled: cancelled, Lapsed: lapsed}}
      cancel_date: cancel_dt
      annual_premium: premium
  claims:
    query: SELECT * FROM claim_register
    database: POLSYS_URL
    columns:
      claim_id: clm_no
      policy_id: pol_no
      intimation_date: intimated
      settled_date: settled
      status: {from: clm_status, values: {Settled: settled, Repudiated: rejected, Pending: open}}
      amount_claimed: clm_amount
  leads:
    query: SELECT * FROM lead_pipeline
    database: POLSYS_URL
    columns:
      lead_id: lead_no
      rm_id: agent_code
      client_id: cust_no
      created_date: lead_date
      source: {from: channel, values: {Referral: referral, Walk-in: walk_in}}
      status: {from: lead_status, values: {Converted: won, Dropped: lost, Open: open}}
      closed_date: closed_on
"""


def _day_first(iso: str | None) -> str | None:
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}" if iso else None


def _fill(conn: sa.Connection) -> None:
    """The book of mapping_books.BOOK as the policy system keeps it."""
    conn.exec_driver_sql(SCHEMA)
    rows: dict[str, list[tuple[object, ...]]] = {
        "branch": [
            (t["team_id"], t["name"], t["leader_rm_id"], t.get("parent_team_id"))
            for t in BOOK["teams"]
        ],
        "agent": [
            (
                r["rm_id"],
                r["name"],
                _day_first(r["hire_date"]),
                r["team_id"],
                "Manager" if r["role"] == "manager" else "RM",
                "Y" if r["active"] == "true" else "N",
            )
            for r in BOOK["relationship_managers"]
        ],
        "customer": [(c["client_id"], c["name"], c["segment"].upper()) for c in BOOK["clients"]],
        "pol_register": [
            (
                p["policy_id"],
                p["client_id"],
                p["rm_id"],
                p["product_line"].title(),
                _day_first(p["issue_date"]),
                _day_first(p["end_date"]),
                STATUS_WORDS[p["status"]],
                _day_first(p["cancel_date"]),
                float(p["annual_premium"]) + 1e-09,
            )
            for p in BOOK["policies"]
        ],
        "claim_register": [
            (
                c["claim_id"],
                c["policy_id"],
                _day_first(c["intimation_date"]),
                _day_first(c.get("settled_date")),
                CLAIM_WORDS[c["status"]],
                float(c["amount_claimed"]),
            )
            for c in BOOK["claims"]
        ],
        "lead_pipeline": [
            (
                lead["lead_id"],
                lead["rm_id"],
                lead.get("client_id"),
                lead["created_date"],
                SOURCE_WORDS[lead["source"]],
                LEAD_WORDS[lead["status"]],
                lead.get("closed_date"),
            )
            for lead in BOOK["leads"]
        ],
    }
    for table, records in rows.items():
        marks = ", ".join(["%s"] * len(records[0]))
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES ({marks})", records)


@pytest.fixture
def polsys(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The policy system's schema on the test server; its URL (a search_path) in POLSYS_URL."""
    with postgres_schema("polsys") as url:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            _fill(conn)
        engine.dispose()
        monkeypatch.setenv("POLSYS_URL", url)
        yield url


def _import(tmp_path: Path, name: str, *args: str) -> tuple[int, str, Workspace]:
    ws = duckdb_workspace(tmp_path / name)
    result = CliRunner().invoke(
        app, ["--workspace", str(ws.root), "import", *args, "--as-of", AS_OF]
    )
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output, ws


def _pull(tmp_path: Path, mapping: str, name: str = "pulled") -> tuple[int, str, Workspace]:
    path = tmp_path / f"{name}.yaml"
    path.write_text(mapping, encoding="utf-8")
    code, output, ws = _import(tmp_path, name, "--mapping", str(path))
    return code, " ".join(output.split()), ws


def test_a_policy_system_is_pulled_through_query_sources(polsys: str, tmp_path: Path) -> None:
    code, output, contract = _import(tmp_path, "contract", str(write_contract_book(tmp_path / "b")))
    assert code == 0, output
    expected = values(contract)

    code, output, pulled = _pull(tmp_path, PULL)
    assert code == 0, output
    assert "policies: rounded to 6 decimal places (half to even): 7 annual_premium" in output
    got = values(pulled)
    assert got == expected
    assert len(got) > 100


def _counts(url: str) -> tuple[int, int]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        customers = conn.exec_driver_sql("SELECT count(*) FROM customer").scalar_one()
        last = conn.exec_driver_sql("SELECT last_value FROM audit_seq").scalar_one()
    engine.dispose()
    return customers, last


@pytest.mark.parametrize(
    "query",
    [
        "SELECT nextval('audit_seq') AS cust_no",  # a SELECT that writes
        "INSERT INTO customer VALUES ('C9', 'X', 'RETAIL') RETURNING cust_no",
        "WITH d AS (DELETE FROM customer RETURNING cust_no) SELECT cust_no FROM d",
        "COMMIT; DELETE FROM customer; SELECT 'C1' AS cust_no",  # ending the read-only one
    ],
)
def test_a_query_that_writes_is_refused_and_writes_nothing(
    polsys: str, tmp_path: Path, query: str
) -> None:
    before = _counts(polsys)
    mapping = (
        f'tables:\n  clients:\n    query: "{query}"\n    database: POLSYS_URL\n'
        "    columns: {client_id: cust_no}\n"
    )
    code, output, _ = _pull(tmp_path, mapping)
    assert code == 1
    assert "tables.clients.query failed on the database (" in output
    assert "a query source is one SELECT, run read-only" in output
    assert _counts(polsys) == before


def test_the_url_comes_only_from_the_environment(
    polsys: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = PULL.replace("database: POLSYS_URL", f"database: {polsys}", 1)
    code, output, _ = _pull(tmp_path, written, "written")
    assert code == 1
    assert "tables.teams.database: name the environment variable" in output
    assert polsys not in output  # the credentials are not echoed back

    monkeypatch.setenv("POLSYS_URL", polsys.replace("+psycopg", "+pg8000"))
    code, output, _ = _pull(tmp_path, PULL, "pg8000")
    assert code == 1
    assert "kraft reads PostgreSQL through psycopg" in output

    monkeypatch.delenv("POLSYS_URL")
    code, output, _ = _pull(tmp_path, PULL, "unset")
    assert code == 1
    assert "the environment variable POLSYS_URL is not set" in output
    assert output.count(".") <= 3, output  # one sentence, not a traceback
