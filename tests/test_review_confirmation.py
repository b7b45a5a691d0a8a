"""Reviews and targets on periods that can still change (kraft.core.settling): a start or
sign-off of a period that is open, or ended within the longest grace window before the data's
as-of date, needs a confirmation, which is kept on the review and audited; values kept
provisional by open claims alone get a note; a target over a signed-off period warns and names
the review, whose snapshot stays as signed. Dates set by hand on the hand-built book
(tests/review_support.py: 2026-Q1, ended 2026-03-31)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kraft.cli import app
from kraft.core import reviews as core_reviews
from kraft.core.access import Scope
from kraft.core.settling import open_claims_note, settling_of, still_changing
from kraft.core.targets import signed_off_warning
from kraft.errors import ConfirmationRequiredError
from kraft.periods import Calendar
from kraft.scoring import review as rv
from kraft.scoring.review import Step
from kraft.scoring.target_table import TargetInput
from kraft.store import audit
from kraft.store.database import Database
from kraft.store.metadata import compute_runs, review_snapshots, reviews, scores
from kraft.workspace import Settings, init_workspace
from review_support import PERIOD, SETTLING, Book, build_book

OPEN = date(2026, 3, 15)  # inside 2026-Q1
IN_GRACE = date(2026, 4, 15)  # 15 days after it ended: inside the 30 days of grace
SETTLED = date(2026, 5, 1)  # 31 days after


@pytest.fixture
def book(tmp_path: Path) -> Iterator[Book]:
    made = build_book(f"duckdb:///{tmp_path / 'book.duckdb'}")
    try:
        yield made
    finally:
        made.db.dispose()


def computed_as_of(db: Database, as_of: date) -> None:
    """A compute run whose as-of date is `as_of` (what the rule reads the data's as-of from)."""
    with db.begin() as conn:
        run_id = conn.execute(sa.select(sa.func.count()).select_from(compute_runs)).scalar_one()
        conn.execute(
            compute_runs.insert().values(
                run_id=run_id + 1, started_at=datetime(2026, 6, 1), finished_at=datetime(2026, 6, 1),
                actor="test", engine="duckdb", as_of=as_of, first_period=PERIOD,
                last_period=PERIOD, grains="quarter", kpis=1, rows=1,
            )
        )  # fmt: skip


def step(book: Book, email: str, rm_id: str, action: Step, **given: object) -> rv.Review:
    with book.db.begin() as conn:
        scope = Scope(book.user(email), None, None, acting_as=f"test:{email}")
        made = core_reviews.StepInput(**given)  # type: ignore[arg-type]
        return core_reviews.take_step(
            conn, book.framework, scope, rm_id, PERIOD, action, made, settling=SETTLING
        )


def to_acknowledged(book: Book, rm_id: str = "R2", **start: object) -> int:
    """Start (as given) and take the review to acknowledged; its version."""
    step(book, "m1@test.in", rm_id, Step.start, **start)
    step(book, "m1@test.in", rm_id, Step.comment, text="Good.", expected_version=1)
    step(book, "m1@test.in", rm_id, Step.submit, expected_version=2)
    email = f"{rm_id.lower()}@test.in"
    step(book, email, rm_id, Step.self_assess, text="Agreed.", expected_version=3)
    return step(book, email, rm_id, Step.acknowledge, expected_version=4).version


def review_entries(book: Book) -> list[audit.AuditEntry]:
    with book.db.connect() as conn:
        return [e for e in reversed(audit.entries(conn)) if e.object_type == "review"]


def test_the_rule_open_within_the_longest_grace_window_or_settled() -> None:
    quarter = Calendar().parse(PERIOD)
    opened = still_changing(quarter, OPEN, SETTLING)
    assert opened == (
        "2026-Q1 is open on the data's as-of date 2026-03-15 (it runs to 2026-03-31), so its "
        "values are to date and may still change"
    )
    within = still_changing(quarter, IN_GRACE, SETTLING)
    assert within is not None and "ended on 2026-03-31, less than 30 days" in within
    assert "until the data is as of 2026-04-30" in within
    # a period ending on the as-of date is closed, but inside its grace; the last day of the
    # window still counts, the day it ends does not
    assert still_changing(quarter, date(2026, 3, 31), SETTLING) is not None
    assert still_changing(quarter, date(2026, 4, 29), SETTLING) is not None
    assert still_changing(quarter, date(2026, 4, 30), SETTLING) is None
    assert still_changing(quarter, SETTLED, SETTLING) is None
    # the longest configured window counts: free-look days longer than the renewal grace
    longer = settling_of(Settings(renewal_grace_days=10, free_look_days=45))
    said = still_changing(quarter, SETTLED, longer)
    assert said is not None and "45 days (the free-look period, free_look_days" in said
    assert still_changing(quarter, date(2026, 4, 15), settling_of(Settings(renewal_grace_days=0,
        free_look_days=0))) is None  # fmt: skip


@pytest.mark.parametrize("as_of", [OPEN, IN_GRACE])
def test_a_start_on_values_that_may_change_needs_a_confirmation(book: Book, as_of: date) -> None:
    computed_as_of(book.db, as_of)
    with pytest.raises(ConfirmationRequiredError) as refused:
        step(book, "m1@test.in", "R2", Step.start)
    message = refused.value.message
    assert message.startswith("Starting the review of R2 for 2026-Q1 needs your confirmation")
    assert "--confirm-provisional" in message and "nothing was changed" in message
    with book.db.connect() as conn:
        assert rv.get_review(conn, "R2", PERIOD) is None
    assert review_entries(book) == []

    started = step(book, "m1@test.in", "R2", Step.start, confirmed=True)
    assert started.start_confirmation is not None
    assert started.start_confirmation.startswith("Confirmed: 2026-Q1 ")
    entry = review_entries(book)[-1]
    assert (entry.action, entry.actor) == ("review.start", "test:m1@test.in")
    assert json.loads(entry.new_value or "{}")["confirmed"] == started.start_confirmation


def test_a_sign_off_in_the_grace_window_is_confirmed_and_recorded_then_reopen_clears_it(
    book: Book,
) -> None:
    computed_as_of(book.db, SETTLED)
    version = to_acknowledged(book)  # started on settled values: nothing to confirm
    computed_as_of(book.db, IN_GRACE)  # a compute as of an earlier date: Q1 can change again
    with pytest.raises(ConfirmationRequiredError) as refused:
        step(book, "m1@test.in", "R2", Step.sign_off, expected_version=version)
    assert refused.value.message.startswith("Signing off the review of R2 for 2026-Q1")
    with book.db.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(review_snapshots)).scalar() == 0
        assert rv.get_review(conn, "R2", PERIOD).state is rv.State.acknowledged  # type: ignore[union-attr]
    signed = step(book, "m1@test.in", "R2", Step.sign_off, expected_version=version, confirmed=True)
    assert signed.state is rv.State.signed_off and signed.start_confirmation is None
    assert signed.sign_off_confirmation is not None
    assert "less than 30 days" in signed.sign_off_confirmation
    entry = review_entries(book)[-1]
    assert json.loads(entry.new_value or "{}")["confirmed"] == signed.sign_off_confirmation
    reopened = step(
        book, "admin@test.in", "R2", Step.reopen, text="Recheck.", expected_version=signed.version
    )
    assert reopened.sign_off_confirmation is None


def test_settled_values_need_no_confirmation_and_open_claims_only_get_a_note(book: Book) -> None:
    computed_as_of(book.db, SETTLED)
    with book.db.begin() as conn:
        conn.execute(
            scores.update()
            .where(scores.c.rm_id == "R2", scores.c.level == "kpi")
            .values(provisional=True)  # kept provisional by a claim not settled yet
        )
        note = open_claims_note(conn, book.framework, SETTLING, "R2", PERIOD)
        assert open_claims_note(conn, book.framework, SETTLING, "R3", PERIOD) is None
    assert note is not None
    assert note.startswith("Client retention rate of 2026-Q1 is still provisional")
    assert "claims not yet settled" in note
    version = to_acknowledged(book)  # no confirmation asked
    signed = step(book, "m1@test.in", "R2", Step.sign_off, expected_version=version)
    assert (signed.start_confirmation, signed.sign_off_confirmation) == (None, None)
    assert "confirmed" not in (review_entries(book)[-1].new_value or "")
    computed_as_of(book.db, IN_GRACE)  # inside the grace window: a confirmation, not a note
    with book.db.connect() as conn:
        assert open_claims_note(conn, book.framework, SETTLING, "R2", PERIOD) is None


def test_a_target_over_a_signed_off_period_warns_and_names_the_review(book: Book) -> None:
    computed_as_of(book.db, SETTLED)
    signed = step(book, "m1@test.in", "R2", Step.sign_off, expected_version=to_acknowledged(book))
    calendar = Calendar()

    def warned(scope_type: str, scope_id: str, first: str | None, last: str | None) -> list[str]:
        item = TargetInput(scope_type, scope_id, "client_retention_rate", first, last,
                           Decimal(90), None)  # fmt: skip
        with book.db.connect() as conn:
            return signed_off_warning(conn, calendar, [item])

    [warning] = warned("rm", "R2", PERIOD, PERIOD)
    assert warning.startswith("Signed off: this change re-rates 1 period(s) with a signed-off ")
    assert "(R2 2026-Q1)" in warning and "snapshots stay as signed" in warning
    assert warned("team", "B1", "2026-01", None)  # a team above R2, open-ended from January
    assert warned("org", "org", None, "2026-Q1")
    assert warned("rm", "R3", PERIOD, PERIOD) == []  # another RM
    assert warned("rm", "R2", "2026-Q2", "2026-Q4") == []  # other periods
    with book.db.connect() as conn:
        found = rv.get_review(conn, "R2", PERIOD)
        count = conn.execute(sa.select(sa.func.count()).select_from(reviews)).scalar()
    assert found == signed and count == 1


def test_the_cli_refuses_without_the_flag_and_records_with_it(tmp_path: Path) -> None:
    workspace, _ = init_workspace(tmp_path / "ws", Settings())
    url = f"duckdb:///{workspace.root / 'kraft.duckdb'}"
    made = build_book(url)
    computed_as_of(made.db, OPEN)
    made.db.dispose()

    def kraft(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, ["--workspace", str(workspace.root), *args])
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert "Traceback" not in output, output
        assert result.exit_code == code, output
        return output

    on = ["--rm", "R2", "--period", PERIOD, "--as", "m1@test.in"]
    refused = kraft("review", "start", *on, code=1)
    assert "needs your confirmation because 2026-Q1 is open" in refused
    assert len([line for line in refused.splitlines() if line.strip()]) <= 3  # one sentence
    assert "has no review for 2026-Q1" in kraft("review", "show", *on[:4], code=1)
    started = kraft("review", "start", *on, "--confirm-provisional")
    assert "draft (the manager is reviewing) (version 1)" in started
    assert "Recorded with the review and in the audit log: Confirmed: 2026-Q1 is open" in started
    shown = kraft("review", "show", *on[:4])
    assert "Started on values that may change: Confirmed: 2026-Q1 is open" in shown
    db = Database(url)
    with db.connect() as conn:
        [entry] = [e for e in audit.entries(conn) if e.action == "review.start"]
        assert audit.verify(conn) == []
    db.dispose()
    assert "2026-Q1 is open" in json.loads(entry.new_value or "{}")["confirmed"]
