"""`kraft demo`: a workspace with a synthetic book, imported, computed and scored, with reports."""

from __future__ import annotations

import shlex
import shutil
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from kraft.commands.common import (
    actor,
    err,
    open_database,
    out,
)
from kraft.commands.compute import run_compute
from kraft.commands.imports import print_import
from kraft.core.context import Kraft
from kraft.core.demo import (
    DemoBook,
    add_demo_sign_ins,
    fit_demo_targets,
    import_demo_book,
)
from kraft.demo.logins import DemoLogin
from kraft.errors import KraftError
from kraft.formatting import plain
from kraft.metrics.runner import ComputeRequest
from kraft.periods import Calendar, add_months, month_start
from kraft.workspace import Settings, init_workspace, with_setting


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    directory: Annotated[Path, typer.Argument(help="Folder of the demo workspace.")] = Path(
        "kraft-demo"
    ),
    rms: Annotated[int, typer.Option(min=1, max=100_000, help="RMs with a book.")] = 50,
    months: Annotated[int, typer.Option(min=1, max=120, help="Months of data.")] = 24,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same book.")] = 7,
    start: Annotated[
        str | None,
        typer.Option(help="First month, YYYY-MM (default: 24 months before the current month)."),
    ] = None,
    reports: Annotated[
        bool,
        typer.Option(
            "--reports/--no-reports",
            help="Write reports/: the framework, company, a team, three scorecards, the initiative.",
        ),
    ] = True,
) -> None:
    """Create a workspace with a synthetic insurance book, imported through the usual validation,
    computed and scored, with a folder of reports to open."""
    first = _parse_month(start) if start else month_start(add_months(date.today(), -months))
    window = demo_first_scored(first, months)
    workspace, created = init_workspace(directory, Settings(first_scored_period=window))
    if not created and workspace.settings.first_scored_period != window:  # a demo made again
        workspace = with_setting(workspace, "first_scored_period", window)
    kraft = Kraft(workspace=workspace, db=open_database(workspace, migrate_to_head=True))
    _import_book(kraft, rms=rms, months=months, seed=seed, first=first)
    computed = run_compute(kraft, ComputeRequest(), score=False).computed
    with err.status("Fitting the demo's targets to its book and scoring…"):
        fitted, scored = fit_demo_targets(kraft, actor())
    for target in fitted:
        out.print(
            f"The demo's {target.kpi_id} target is {plain(target.target)} (threshold "
            f"{plain(target.threshold) if target.threshold is not None else '—'}): the book's "
            "median RM; the framework's default stays for real workspaces."
        )
    out.print(
        f"Computed {len(computed.kpis)} KPIs for {computed.first_period} to "
        f"{computed.last_period}: {computed.rows:,} values; "
        f"{scored.scorecards if scored else 0:,} scorecards."
    )
    if reports:
        from kraft.reports.demo_reports import write_demo_reports

        with err.status("Writing the reports…"):
            paths = write_demo_reports(
                kraft.db,
                kraft.framework,
                kraft.calendar,
                kraft.compute_parameters,
                workspace.root / "reports",
            )
        out.print("Reports (open them in a browser):")
        for path in paths:
            out.print(f"  {path}")
    logins = _print_sign_ins(kraft, directory)
    out.print(f"Demo workspace: {workspace.root}")
    _print_next_steps(kraft, directory, next((x.rm_id for x in logins if x.role == "rm"), None))


def _import_book(kraft: Kraft, *, rms: int, months: int, seed: int, first: date) -> None:
    """Generate and import the book (kraft.core.demo), then say what each import did."""
    last_day = add_months(first, months) - timedelta(days=1)
    with err.status("Generating the book…") as status:
        spec = DemoBook(rms, months, seed, first, last_day)
        results = import_demo_book(kraft, spec, actor=actor(), on_phase=status.update)
    if len(results) == 1:
        print_import(results[0])
        return
    for region, result in enumerate(results, 1):
        rows = sum(change.inserted + change.updated for change in result.changes.values())
        out.print(f"Region {region} of {len(results)}: {rows:,} rows, import {result.import_id}.")


def _print_sign_ins(kraft: Kraft, directory: Path) -> list[DemoLogin]:
    """The demo logins, added to the workspace, with their (public) passwords."""
    logins = add_demo_sign_ins(kraft, actor())
    out.print(f"Sign-ins for `kraft -w {directory} serve` (demo passwords; never for real data):")
    for login in logins:
        linked = f", {login.rm_id}" if login.rm_id else ""
        out.print(f"  {login.email} / {login.password} ({login.role}{linked})")
    return logins


def _print_next_steps(kraft: Kraft, directory: Path, rm_id: str | None) -> None:
    """Commands to try next, each as it runs from here (the kraft just run, the folder given),
    what it shows after its `#`."""
    from kraft.reports.demo_reports import last_closed_quarter

    with kraft.db.connect() as conn:
        quarter = last_closed_quarter(conn, kraft.calendar)
    command = f"{invoked_as()} -w {shlex.quote(str(directory))}"
    steps = [
        f"{command} serve   # the web app at http://127.0.0.1:8000: sign in as above",
        f"{command} scores   # the leaderboard of the latest quarter",
        f"{command} alerts   # the RMs at risk in the open quarter",
    ]
    if quarter is not None and rm_id is not None:
        steps.append(
            f"{command} explain --rm {rm_id} --kpi client_retention_rate --period {quarter}"
            "   # a KPI value and the rows behind it"
        )
    out.print("Next:")
    for step in steps:
        out.print(f"  {step}")


def invoked_as() -> str:
    """kraft as it was run, for commands that work as printed: `kraft` when that is the one
    on PATH, else the path typed (`.venv/bin/kraft` after `make demo`), else `python -m kraft`."""
    script = Path(sys.argv[0])
    if script.name == "kraft":
        on_path = shutil.which("kraft")
        if on_path is not None and Path(on_path).resolve() == script.resolve():
            return "kraft"
        return shlex.quote(str(script))
    if script.name == "__main__.py" and script.parent.name == "kraft":
        return f"{shlex.quote(sys.executable)} -m kraft"
    return "kraft"


def _parse_month(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise KraftError(f"--start {text!r} is not a month; write it as YYYY-MM.") from None


def demo_first_scored(first: date, months: int) -> str:
    """The demo's first scored period: its first year is a lead-in when it has a year to spare
    (retention, loss ratio and growth compare with a year behind them); a demo of a year or
    less is scored from its first month, else a short book would show nothing, and one between
    gives up what it can (18 months: 6)."""
    lead = min(12, max(0, months - 12))
    return Calendar(1).month(add_months(first, lead)).label
