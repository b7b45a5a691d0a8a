"""The review cycle (kraft.scoring.review) on a hand-built book (tests/review_support.py), on
DuckDB and PostgreSQL: every step, who may and may not take it, the mandatory reason, the
optimistic version, the snapshot frozen across a recompute and its differences, the audit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from kraft.cli import app
from kraft.core import reviews as core_reviews
from kraft.core.access import Scope
from kraft.reports.scores import export_columns, export_records, overall_rows
from kraft.scoring import review as rv
from kraft.scoring.review import State, Step
from kraft.store import audit
from kraft.store.database import Database
from kraft.store.metadata import review_snapshots
from kraft.workspace import Settings, init_workspace
from review_support import PERIOD, SETTLING, Book, build_book, write_scores


@pytest.fixture
def book(database_url: str) -> Iterator[Book]:
    made = build_book(database_url)
    try:
        yield made
    finally:
        made.db.dispose()


def step(
    book: Book,
    email: str,
    rm_id: str,
    action: Step,
    *,
    text: str | None = None,
    rating: int | None = None,
    version: int | None = None,
) -> rv.Review:
    with book.db.begin() as conn:
        scope = Scope(book.user(email), None, None, acting_as=f"test:{email}")
        given = core_reviews.StepInput(text, rating, version)
        return core_reviews.take_step(
            conn, book.framework, scope, rm_id, PERIOD, action, given, settling=SETTLING
        )


def refused(book: Book, email: str, rm_id: str, action: Step, **kwargs: object) -> rv.ReviewError:
    with pytest.raises(rv.ReviewError) as caught:
        step(book, email, rm_id, action, **kwargs)  # type: ignore[arg-type]
    return caught.value


def review_actions(book: Book) -> list[str]:
    with book.db.connect() as conn:
        return [e.action for e in reversed(audit.entries(conn)) if e.object_type == "review"]


def full_cycle(book: Book, rm_id: str = "R2", *, rating: int | None = 4) -> rv.Review:
    step(book, "m1@test.in", rm_id, Step.start)
    step(book, "m1@test.in", rm_id, Step.comment, text="Strong renewals; documentation lags.")
    if rating is not None:
        step(book, "m1@test.in", rm_id, Step.adjust, rating=rating, text="Took over a hard book.")
    step(book, "m1@test.in", rm_id, Step.submit)
    rm_email = f"{rm_id.lower()}@test.in"
    step(book, rm_email, rm_id, Step.self_assess, text="I rebuilt the renewal pipeline.")
    step(book, rm_email, rm_id, Step.acknowledge)
    return step(book, "m1@test.in", rm_id, Step.sign_off)


def test_every_step_in_order_with_its_audit_entry(book: Book) -> None:
    started = step(book, "m1@test.in", "R2", Step.start)
    assert (started.state, started.version, started.computed_rating) == (State.draft, 1, 3)
    assert started.computed_score == Decimal("81.00") and started.final_rating is None

    commented = step(book, "m1@test.in", "R2", Step.comment, text="  Good quarter.  ")
    assert commented.manager_comments == "Good quarter." and commented.version == 2
    adjusted = step(book, "m1@test.in", "R2", Step.adjust, rating=4, text="Hard territory.")
    assert (adjusted.adjusted_rating, adjusted.final_rating) == (4, 4)
    assert adjusted.adjustment_reason == "Hard territory." and adjusted.adjusted_by == "m1@test.in"
    submitted = step(book, "m1@test.in", "R2", Step.submit)
    assert submitted.state is State.reviewed and submitted.reviewed_by == "m1@test.in"
    assessed = step(book, "r2@test.in", "R2", Step.self_assess, text="First draft.")
    assessed = step(book, "r2@test.in", "R2", Step.self_assess, text="Rewritten.")
    assert assessed.state is State.self_assessed and assessed.self_assessment == "Rewritten."
    acknowledged = step(book, "r2@test.in", "R2", Step.acknowledge)
    assert acknowledged.state is State.acknowledged
    signed = step(book, "m1@test.in", "R2", Step.sign_off)
    assert signed.state is State.signed_off and signed.version == 8
    assert (signed.computed_rating, signed.final_rating) == (3, 4)

    assert review_actions(book) == [
        "review.start", "review.comment", "review.adjust", "review.submit",
        "review.self-assess", "review.self-assess", "review.acknowledge", "review.sign-off",
    ]  # fmt: skip
    with book.db.connect() as conn:
        assert audit.verify(conn) == []
        entry = audit.entries(conn, limit=1)[0]
        assert entry.object_id == f"R2/{PERIOD}" and entry.actor == "test:m1@test.in"
        assert '"final_rating":4' in (entry.new_value or "")
        snapshot = rv.get_snapshot(conn, signed.snapshot_id or 0)
    assert snapshot is not None and rv.snapshot_intact(snapshot)
    assert snapshot.content_hash in (entry.new_value or "")  # the audit log holds its hash


def test_without_an_adjustment_the_final_rating_is_the_computed_one_at_sign_off(
    book: Book,
) -> None:
    step(book, "m1@test.in", "R1", Step.start)
    step(book, "m1@test.in", "R1", Step.comment, text="On target.")
    submitted = step(book, "m1@test.in", "R1", Step.submit)
    assert submitted.final_rating is None
    signed = full_cycle_rest(book, "R1")
    assert (signed.computed_rating, signed.final_rating, signed.adjusted_rating) == (4, 4, None)


def full_cycle_rest(book: Book, rm_id: str) -> rv.Review:
    email = f"{rm_id.lower()}@test.in"
    step(book, email, rm_id, Step.self_assess, text="Fine.")
    step(book, email, rm_id, Step.acknowledge)
    return step(book, "admin@test.in", rm_id, Step.sign_off)  # an admin may sign off too


def test_who_may_take_each_step(book: Book) -> None:
    # R2 is in T1 under B1 (M1's); M2 leads T2 only; R1 leads T1 but is an RM, not a manager
    for email in ("m2@test.in", "r1@test.in", "r2@test.in"):
        error = refused(book, email, "R2", Step.start)
        assert isinstance(error, rv.NotAllowedError)
        assert "Only an admin or a manager of the RM's team may start" in error.message
    step(book, "admin@test.in", "R2", Step.start)  # an admin may
    assert isinstance(refused(book, "m2@test.in", "R2", Step.comment, text="x"), rv.NotAllowedError)
    assert isinstance(refused(book, "r2@test.in", "R2", Step.comment, text="x"), rv.NotAllowedError)
    assert isinstance(
        refused(book, "r2@test.in", "R2", Step.adjust, rating=5, text="I deserve it"),
        rv.NotAllowedError,
    )
    step(book, "m1@test.in", "R2", Step.comment, text="Fine.")
    assert isinstance(refused(book, "r2@test.in", "R2", Step.submit), rv.NotAllowedError)
    step(book, "m1@test.in", "R2", Step.submit)
    for email in ("m1@test.in", "admin@test.in", "r1@test.in", "r3@test.in"):
        error = refused(book, email, "R2", Step.self_assess, text="Not mine.")
        assert isinstance(error, rv.NotAllowedError)
        assert "Only the RM rated may self-assess" in error.message
    step(book, "r2@test.in", "R2", Step.self_assess, text="Mine.")
    assert isinstance(refused(book, "m1@test.in", "R2", Step.acknowledge), rv.NotAllowedError)
    step(book, "r2@test.in", "R2", Step.acknowledge)
    assert isinstance(refused(book, "r2@test.in", "R2", Step.sign_off), rv.NotAllowedError)
    assert isinstance(refused(book, "m2@test.in", "R2", Step.sign_off), rv.NotAllowedError)
    step(book, "m1@test.in", "R2", Step.sign_off)
    # reopening is the admin's alone
    for email in ("m1@test.in", "r2@test.in"):
        error = refused(book, email, "R2", Step.reopen, text="Please.")
        assert "Only an admin may reopen" in error.message
    # M2 manages R3 (T2), not R2; a disabled user may do nothing
    step(book, "m2@test.in", "R3", Step.start)
    with book.db.begin() as conn:
        conn.execute(sa.text("UPDATE users SET active = false WHERE email = 'm2@test.in'"))
    assert isinstance(refused(book, "m2@test.in", "R3", Step.comment, text="x"), rv.NotAllowedError)
    with book.db.connect() as conn:
        user = book.user("m1@test.in")
        review = rv.get_review(conn, "R6", PERIOD)
        assert rv.allowed_steps(conn, user, "R6", review) == []  # not M1's
        assert rv.allowed_steps(conn, user, "R4", None) == [Step.start]


def test_steps_out_of_order_are_refused_in_one_sentence(book: Book) -> None:
    error = refused(book, "m1@test.in", "R2", Step.comment, text="Too early.")
    assert isinstance(error, rv.NoReviewError)
    assert "R2 has no review for 2026-Q1" in error.message
    step(book, "m1@test.in", "R2", Step.start)
    assert "exists already" in refused(book, "m1@test.in", "R2", Step.start).message
    assert "has no comments yet" in refused(book, "m1@test.in", "R2", Step.submit).message
    step(book, "m1@test.in", "R2", Step.comment, text="Fine.")
    error = refused(book, "m1@test.in", "R2", Step.sign_off)
    assert "is draft (the manager is reviewing); sign-off needs it to be acknowledged" in str(error)
    step(book, "m1@test.in", "R2", Step.submit)
    assert "acknowledge needs it to be self_assessed" in str(
        refused(book, "r2@test.in", "R2", Step.acknowledge)
    )
    assert "comment needs it to be draft" in str(
        refused(book, "m1@test.in", "R2", Step.comment, text="Changed my mind.")
    )
    assert "adjust needs it to be draft" in str(
        refused(book, "m1@test.in", "R2", Step.adjust, rating=5, text="Changed my mind.")
    )
    # a manager has no scorecard to review (and nobody reviews themselves)
    assert "M1 has no scorecard for 2026-Q1" in str(
        refused(book, "admin@test.in", "M1", Step.start)
    )
    assert "you are not" in str(refused(book, "m1@test.in", "M1", Step.start))


def test_an_adjustment_needs_a_reason_and_a_rating_of_the_framework(book: Book) -> None:
    step(book, "m1@test.in", "R2", Step.start)
    assert "The reason for the adjustment is empty" in str(
        refused(book, "m1@test.in", "R2", Step.adjust, rating=4, text="   ")
    )
    assert "Rating 7 is not a rating of framework insurance_rm" in str(
        refused(book, "m1@test.in", "R2", Step.adjust, rating=7, text="Why not.")
    )
    assert "The comment is empty" in str(refused(book, "m1@test.in", "R2", Step.comment, text=""))
    assert "keep it within 5,000" in str(
        refused(book, "m1@test.in", "R2", Step.comment, text="x" * 5001)
    )
    with book.db.connect() as conn:
        review = rv.get_review(conn, "R2", PERIOD)
    assert review is not None and review.version == 1 and review.final_rating is None
    assert review_actions(book) == ["review.start"]  # the refusals wrote nothing
    # back to the computed rating: also with a reason
    step(book, "m1@test.in", "R2", Step.adjust, rating=4, text="Hard territory.")
    cleared = step(book, "m1@test.in", "R2", Step.adjust, rating=None, text="Misread the data.")
    assert cleared.adjusted_rating is None and cleared.final_rating is None


def test_a_stale_version_changes_nothing(book: Book) -> None:
    started = step(book, "m1@test.in", "R2", Step.start)
    step(book, "m1@test.in", "R2", Step.comment, text="First.", version=started.version)
    error = refused(book, "m1@test.in", "R2", Step.comment, text="Second.", version=started.version)
    assert isinstance(error, rv.StaleReviewError)
    assert "has changed since you read it (version 1, now 2)" in error.message
    with book.db.connect() as conn:
        review = rv.get_review(conn, "R2", PERIOD)
    assert review is not None and review.manager_comments == "First." and review.version == 2


def test_the_snapshot_is_frozen_across_a_recompute_and_the_differences_are_listed(
    book: Book,
) -> None:
    signed = full_cycle(book)
    with book.db.connect() as conn:
        before = rv.get_snapshot(conn, signed.snapshot_id or 0)
        assert rv.changes_since_sign_off(conn, book.framework, signed) == []
    assert before is not None
    content = before.content
    assert content["framework"] == {
        "id": "insurance_rm", "version": book.framework.version, "title": book.framework.title
    }  # fmt: skip
    assert content["overall"]["score"] == "81" and content["overall"]["rating"] == 3
    assert content["run_id"] == 1 and before.run_id == 1
    kpi = content["kpis"]["client_retention_rate"]
    assert (kpi["value"], kpi["target"], kpi["threshold"], kpi["denominator"]) == (
        "88.0", "85", "75", "40.0"
    )  # fmt: skip

    # a recompute with the same numbers (a new run): nothing changed
    with book.db.begin() as conn:
        write_scores(conn, "R2", "81.00", run_id=2)
    with book.db.connect() as conn:
        assert rv.changes_since_sign_off(conn, book.framework, signed) == []

    # a recompute after late data: R2's retention and overall move up a band
    with book.db.begin() as conn:
        write_scores(conn, "R2", "96.00", run_id=3, retention=91.5)
    with book.db.connect() as conn:
        after = rv.get_snapshot(conn, signed.snapshot_id or 0)
        changes = rv.changes_since_sign_off(conn, book.framework, signed)
        review = rv.get_review(conn, "R2", PERIOD)
        stored = conn.execute(
            sa.select(review_snapshots.c.content).where(
                review_snapshots.c.snapshot_id == signed.snapshot_id
            )
        ).scalar_one()
    assert after == before and after is not None and rv.snapshot_intact(after)
    assert stored == rv.canonical(before.content)
    assert review == signed  # the review itself is not touched by a recompute
    found = {(c.item, c.field): (c.signed, c.now) for c in changes or []}
    assert found[("overall", "score")] == ("81", "96")
    assert found[("overall", "rating")] == (3, 4)
    assert found[("overall", "rating_label")] == ("Meets", "Exceeds")
    assert found[("KPI client_retention_rate", "value")] == ("88.0", "91.5")
    assert found[("KRA relationship_building", "score")] == ("81", "96")
    assert ("overall", "run_id") not in found

    # the scorecard gone altogether
    with book.db.begin() as conn:
        conn.execute(sa.text("DELETE FROM scores WHERE rm_id = 'R2'"))
    with book.db.connect() as conn:
        gone = rv.changes_since_sign_off(conn, book.framework, signed)
    assert gone is not None and gone[0].now.startswith("no longer stored")


def test_reopen_by_an_admin_keeps_the_old_snapshot(book: Book) -> None:
    signed = full_cycle(book, rating=None)
    assert signed.final_rating == 3
    assert "The reason for reopening is empty" in str(
        refused(book, "admin@test.in", "R2", Step.reopen, text=" ")
    )
    reopened = step(book, "admin@test.in", "R2", Step.reopen, text="Late claims data.")
    assert reopened.state is State.draft and reopened.final_rating is None
    assert reopened.snapshot_id is None and reopened.acknowledged_by is None
    assert reopened.reopen_reason == "Late claims data."
    with book.db.begin() as conn:
        write_scores(conn, "R2", "96.00", run_id=2)
    step(book, "m1@test.in", "R2", Step.submit)  # the comments are kept
    again = full_cycle_rest(book, "R2")
    assert (again.computed_rating, again.final_rating) == (4, 4)
    with book.db.connect() as conn:
        history = rv.snapshots_of(conn, again.review_id)
        assert audit.verify(conn) == []
    assert [s.content["overall"]["rating"] for s in history] == [3, 4]
    assert review_actions(book)[-6:] == [
        "review.sign-off", "review.reopen", "review.submit", "review.self-assess",
        "review.acknowledge", "review.sign-off",
    ]  # fmt: skip


def test_the_export_carries_the_final_rating_beside_the_rating(book: Book) -> None:
    full_cycle(book)  # R2: computed 3, adjusted to 4
    step(book, "m1@test.in", "R4", Step.start)
    step(book, "m1@test.in", "R4", Step.adjust, rating=3, text="New joiner's book.")
    step(book, "m1@test.in", "R1", Step.start)  # started, not adjusted: no final rating yet
    with book.db.connect() as conn:
        rows = overall_rows(conn, [PERIOD])
    records = {r["rm_id"]: r for r in export_records(rows, book.framework)}
    columns = export_columns(book.framework)
    assert columns[:6] == ["rm_id", "period", "overall_score", "rating", "rating_label", "coverage"]
    assert columns[-1] == "final_rating" and list(records["R2"]) == columns
    assert (records["R2"]["rating"], records["R2"]["final_rating"]) == (3, 4)
    assert (records["R4"]["rating"], records["R4"]["final_rating"]) == (2, 3)
    assert (records["R1"]["rating"], records["R1"]["final_rating"]) == (4, None)
    assert records["R3"]["final_rating"] is None


def test_the_cli_takes_every_step_as_a_kraft_user(tmp_path: Path) -> None:
    """`kraft review …` and `kraft calibration` in a DuckDB workspace over the same book."""
    workspace, _ = init_workspace(tmp_path / "ws", Settings())
    build_book(f"duckdb:///{workspace.root / 'kraft.duckdb'}").db.dispose()

    def kraft(*args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, ["--workspace", str(workspace.root), *args])
        output = result.output + (result.stderr if result.stderr_bytes is not None else "")
        assert "Traceback" not in output, output
        assert result.exit_code == code, output
        return output

    on = ["--rm", "R2", "--period", PERIOD]
    assert "draft (the manager is reviewing) (version 1)" in kraft(
        "review", "start", *on, "--as", "m1@test.in"
    )
    assert "is not a kraft user" in kraft(
        "review", "comment", *on, "--as", "x@test.in", "--text", "x", code=1
    )
    assert "Only an admin or a manager" in kraft(
        "review", "comment", *on, "--as", "r2@test.in", "--text", "x", code=1
    )
    kraft("review", "comment", *on, "--as", "m1@test.in", "--text", "Good.")
    assert "reason for the adjustment is empty" in kraft(
        "review", "adjust", *on, "--as", "m1@test.in", "--rating", "4", "--reason", "", code=1
    )
    assert "--rating 'four' is not a rating" in kraft(
        "review", "adjust", *on, "--as", "m1@test.in", "--rating", "four", "--reason", "x",
        code=1,
    )  # fmt: skip
    assert "final rating 4 Exceeds" in kraft(
        "review", "adjust", *on, "--as", "m1@test.in", "--rating", "4", "--reason", "Hard book."
    )
    assert "changed since you read it (version 2, now 3)" in kraft(
        "review", "submit", *on, "--as", "m1@test.in", "--version", "2", code=1
    )
    kraft("review", "submit", *on, "--as", "m1@test.in", "--version", "3")
    kraft("review", "self-assess", *on, "--as", "r2@test.in", "--text", "Rebuilt renewals.")
    kraft("review", "acknowledge", *on, "--as", "r2@test.in")
    assert "not signed off" in kraft("review", "diff", *on, code=1)
    assert "signed off (version 7; final rating 4 Exceeds)" in kraft(
        "review", "sign-off", *on, "--as", "m1@test.in"
    )
    assert "No data changed since sign-off." in kraft("review", "diff", *on)
    db = Database(f"duckdb:///{workspace.root / 'kraft.duckdb'}")
    with db.begin() as conn:
        write_scores(conn, "R2", "96.00", run_id=2)
    db.dispose()
    shown = kraft("review", "show", *on)
    assert "Computed rating: 3 Meets" in shown and "Final rating: 4 Exceeds" in shown
    assert "Data changed since sign-off" in shown and "rating_label" in shown
    assert "96.00" in shown  # the score now, as scores are shown (2 decimals)
    listed = kraft("review", "list", "--period", PERIOD)
    assert "R2" in listed and "signed_off" in listed and "1 review(s)." in listed
    exported = kraft("export", "scores", "--period", PERIOD).splitlines()
    assert exported[0].endswith(",final_rating")
    assert next(line for line in exported if line.startswith("R2,")).endswith(",4")
    text = kraft("calibration", "--period", PERIOD, "--target-distribution", "10,20,40,20,10")
    assert "Calibration of 2026-Q1: 6 RM(s) rated, 1 not rated; 1 adjusted, 1 signed off." in text
    data = json.loads(kraft("calibration", "--period", PERIOD, "--format", "json"))
    assert data["total"]["final"] == {"5": 1, "4": 2, "3": 1, "2": 1, "1": 1}
    assert "sums to 90, not 100" in kraft(
        "calibration", "--target-distribution", "10,10,40,20,10", code=1
    )
    db = Database(f"duckdb:///{workspace.root / 'kraft.duckdb'}")
    with db.connect() as conn:
        assert audit.verify(conn) == []
    db.dispose()
