"""Mapped import speed: the 1 M-row import of import_bench.py, in the contract's layout and in an
insurer's own layout through a mapping.

    .venv/bin/python bench/mapping_bench.py [--rows 1000000] [--runs 3]

The same book twice: clients.csv + policies.csv (each ROWS rows, plus 100 RMs) as the contract
writes them, and as an export writes them — Customers.csv and Policy_Register.csv with their own
column names, status words (`Expired`) through a value map and day-first dates (`05/01/2024`)
through a date format. Each is imported by `kraft import` into a fresh DuckDB workspace, each run
in a new process, as a user runs it, the two alternated; median wall time of RUNS runs and the
largest peak resident set size of one import.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from import_bench import write_files

MAPPING = """\
defaults:
  date_format: "%d/%m/%Y"
tables:
  clients:
    file: Customers.csv
    columns: {client_id: Customer Code, name: Customer Name, segment: Segment, source: Channel}
  policies:
    file: Policy_Register.csv
    columns:
      policy_id: Policy No
      client_id: Customer Code
      rm_id: Agent Code
      product_line: LOB
      business_type: Biz Type
      renewal_of_policy_id: Renewal Of
      issue_date: Issue Dt
      start_date: Risk Start
      end_date: Risk End
      status:
        from: Policy Status
        values: {In Force: in_force, Expired: expired, Lapsed: lapsed, Cancelled: cancelled}
      cancel_date: Cancelled On
      annual_premium: Premium
      sum_insured: Sum Insured
      assessed_need: Need
      risk_assessment_date: Risk Assessed On
      personalised: Personalised
"""

EXPORT_POLICIES = """
SELECT policy_id AS "Policy No", client_id AS "Customer Code", rm_id AS "Agent Code",
       product_line AS "LOB", business_type AS "Biz Type", renewal_of_policy_id AS "Renewal Of",
       strftime(CAST(issue_date AS DATE), '%d/%m/%Y') AS "Issue Dt",
       strftime(CAST(start_date AS DATE), '%d/%m/%Y') AS "Risk Start",
       strftime(CAST(end_date AS DATE), '%d/%m/%Y') AS "Risk End",
       CASE status WHEN 'expired' THEN 'Expired' ELSE status END AS "Policy Status",
       strftime(CAST(cancel_date AS DATE), '%d/%m/%Y') AS "Cancelled On",
       annual_premium AS "Premium", sum_insured AS "Sum Insured", assessed_need AS "Need",
       strftime(CAST(risk_assessment_date AS DATE), '%d/%m/%Y') AS "Risk Assessed On",
       personalised AS "Personalised"
FROM read_csv('{folder}/policies.csv', all_varchar = false,
              types = {{'annual_premium': 'VARCHAR', 'sum_insured': 'VARCHAR',
                        'assessed_need': 'VARCHAR', 'personalised': 'VARCHAR'}})
"""

EXPORT_CLIENTS = """
SELECT client_id AS "Customer Code", name AS "Customer Name", segment AS "Segment",
       source AS "Channel"
FROM read_csv('{folder}/clients.csv', all_varchar = true)
"""


def write_export(contract: Path, export: Path) -> Path:
    """The contract's files rewritten in the export's layout, and the mapping that reads them."""
    export.mkdir(parents=True)
    for name in ("teams.csv", "relationship_managers.csv"):
        (export / name).write_bytes((contract / name).read_bytes())
    with duckdb.connect() as con:
        for query, name in ((EXPORT_POLICIES, "Policy_Register"), (EXPORT_CLIENTS, "Customers")):
            con.execute(f"COPY ({query.format(folder=contract)}) TO '{export / name}.csv' (HEADER)")
    mapping = export.parent / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return mapping


def kraft_import(folder: Path, workspace: Path, mapping: Path | None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds and peak MB of one `kraft import`, read from that process alone
    (its CPU time barely moves when others load the machine; its wall time does)."""
    kraft = [sys.executable, "-m", "kraft"]
    subprocess.run([*kraft, "init", str(workspace)], check=True, capture_output=True)
    command = [*kraft, "--workspace", str(workspace), "import", str(folder)]
    if mapping is not None:
        command += ["--mapping", str(mapping)]
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        output = out.read()
    if process.returncode != 0 or not output.startswith("Imported"):
        raise SystemExit(output)
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def report(label: str, runs: list[tuple[float, float, float]]) -> tuple[float, float]:
    times = [t for t, _, _ in runs]
    median, cpu = statistics.median(times), statistics.median(c for _, c, _ in runs)
    each = ", ".join(f"{t:.2f}" for t in times)
    peak = max(mb for _, _, mb in runs)
    print(
        f"{label}, median of {len(runs)}: {median:.2f} s ({each}); CPU {cpu:.2f} s; "
        f"peak RSS {peak:.0f} MB"
    )
    return median, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        contract, export = Path(tmp) / "contract", Path(tmp) / "export" / "files"
        write_files(contract, args.rows)
        mapping = write_export(contract, export)
        plain: list[tuple[float, float, float]] = []
        mapped: list[tuple[float, float, float]] = []
        for i in range(args.runs):  # alternated, so a busy minute hurts both alike
            plain.append(kraft_import(contract, Path(tmp) / f"c{i}", None))
            mapped.append(kraft_import(export, Path(tmp) / f"m{i}", mapping))
    print(f"rows per table: {args.rows:,} (clients and policies, plus 100 RMs)")
    plain_times = report("contract's layout", plain)
    mapped_times = report("through the mapping", mapped)
    print(
        f"mapped / contract: wall {mapped_times[0] / plain_times[0]:.2f}, CPU {mapped_times[1] / plain_times[1]:.2f}"
    )


if __name__ == "__main__":
    main()
