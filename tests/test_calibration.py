"""Calibration (kraft.scoring.calibration) on the hand-built book of tests/review_support.py.

Line managers: T1's leader R1 is an RM, so T1 (R1, R2, R4, R5, R7) answers to B1's M1; T2 (R3,
R6) to M2. Adjustments through the review cycle:
  M1: R2 3 → 4 (score 81.00, band 4 starts at 95: gap +14.00), R4 2 → 3 (79.00, band 3 starts at
      80: gap +1.00); R1 (4) and R5 (5) unchanged. Mean gap (0 + 14 + 1 + 0) / 4 = +3.75, mean
      shift (0 + 1 + 1 + 0) / 4 = +0.5: not flagged at 5 points, flagged at 3.
  M2: R6 3 → 1 (85.00, band 1 ends at 59.99: gap −25.01); R3 (1) unchanged. Mean gap −12.505,
      mean shift −1: flagged.
  R7 has no rating: not rated, in no distribution.
Computed over the 6 rated: 5:1 4:1 3:2 2:1 1:1; final: 5:1 4:2 3:1 2:0 1:2.
Target 10,20,40,20,10 of 6 RMs: 0.6 1.2 2.4 1.2 0.6 RMs; final − target: +0.4 +0.8 −1.4 −1.2 +1.4
RMs, in points 16.67−10 = +6.67, 33.33−20 = +13.33, 16.67−40 = −23.33, 0−20 = −20, +23.33.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from kraft.core import reviews as core_reviews
from kraft.errors import KraftError
from kraft.periods import Calendar
from kraft.scoring import calibration as cal
from review_support import PERIOD, SETTLING, Book, build_book, write_scores


@pytest.fixture
def book(database_url: str) -> Iterator[Book]:
    made = build_book(database_url)
    try:
        with made.db.begin() as conn:
            for email, rm_id, rating, reason in (
                ("m1@test.in", "R2", 4, "Took over a lapsed book."),
                ("m1@test.in", "R4", 3, "Joined mid-quarter."),
                ("m2@test.in", "R6", 1, "Two substantiated complaints."),
            ):
                user = made.user(email)
                core_reviews.start(
                    conn, made.framework, user, rm_id, PERIOD, actor="test", settling=SETTLING
                )
                given = core_reviews.StepInput(reason, rating)
                core_reviews.adjust(conn, made.framework, user, rm_id, PERIOD, given, actor="test")
        yield made
    finally:
        made.db.dispose()


def calibrate(book: Book, **kwargs: object) -> cal.Calibration:
    with book.db.connect() as conn:
        return cal.calibrate(conn, book.framework, PERIOD, **kwargs)  # type: ignore[arg-type]


def test_distributions_by_manager_and_team_computed_and_final(book: Book) -> None:
    result = calibrate(book)
    assert result.bands[0] == (5, "Outstanding") and len(result.bands) == 5
    assert (result.total.rms, result.not_rated, result.total.adjusted) == (6, 1, 3)
    assert result.total.computed == {5: 1, 4: 1, 3: 2, 2: 1, 1: 1}
    assert result.total.final == {5: 1, 4: 2, 3: 1, 1: 2}
    managers = {g.group_id: g for g in result.by_manager}
    assert set(managers) == {"M1", "M2"}
    m1, m2 = managers["M1"], managers["M2"]
    assert (m1.name, m1.rms, m1.adjusted) == ("Maya", 4, 2)
    assert m1.computed == {4: 1, 3: 1, 2: 1, 5: 1} and m1.final == {4: 2, 3: 1, 5: 1}
    assert m1.mean_gap == Decimal("3.75") and m1.mean_shift == Decimal("0.5")
    assert not m1.flagged
    assert m2.rms == 2 and m2.computed == {1: 1, 3: 1} and m2.final == {1: 2}
    assert m2.mean_gap == Decimal("-12.505") and m2.mean_shift == Decimal(-1)
    assert m2.flagged
    teams = {g.group_id: g for g in result.by_team}
    assert set(teams) == {"T1", "T2"} and teams["T1"].name == "Team One"
    assert teams["T1"].final == m1.final and teams["T2"].final == m2.final
    assert not any(g.flagged for g in result.by_team)  # flags are for managers
    gaps = {m.rm_id: m.gap for m in result.rated}
    assert gaps == {
        "R1": 0, "R2": Decimal("14.00"), "R3": 0, "R4": Decimal("1.00"), "R5": 0,
        "R6": Decimal("-25.01"),
    }  # fmt: skip
    assert result.target is None  # never a target distribution unless one is asked for


def test_the_threshold_decides_the_flag(book: Book) -> None:
    flagged = {g.group_id: g.flagged for g in calibrate(book, gap_threshold=Decimal(3)).by_manager}
    assert flagged == {"M1": True, "M2": True}
    flagged = {g.group_id: g.flagged for g in calibrate(book, gap_threshold=Decimal(13)).by_manager}
    assert flagged == {"M1": False, "M2": False}


def test_a_target_distribution_shows_the_gap_per_band(book: Book) -> None:
    target = cal.parse_target_distribution("10,20,40,20,10", book.framework)
    result = calibrate(book, target=target)
    assert result.target is not None
    rows = [(g.rating, g.target_rms, g.final_rms, g.gap_rms) for g in result.target]
    assert rows == [
        (5, Decimal("0.6"), 1, Decimal("0.4")),
        (4, Decimal("1.2"), 2, Decimal("0.8")),
        (3, Decimal("2.4"), 1, Decimal("-1.4")),
        (2, Decimal("1.2"), 0, Decimal("-1.2")),
        (1, Decimal("0.6"), 2, Decimal("1.4")),
    ]
    points = [round(g.gap_percent, 2) for g in result.target]
    assert points == [Decimal("6.67"), Decimal("13.33"), Decimal("-23.33"), Decimal(-20),
                      Decimal("23.33")]  # fmt: skip
    assert [g.computed_rms for g in result.target] == [1, 1, 2, 1, 1]
    public = result.public()
    assert public["target"][0]["gap_rms"] == pytest.approx(0.4)
    assert public["by_manager"][1]["flagged"] is True


def test_bad_target_distributions_are_refused(book: Book) -> None:
    with pytest.raises(KraftError, match="has 3 numbers and framework insurance_rm has 5"):
        cal.parse_target_distribution("50,30,20", book.framework)
    with pytest.raises(KraftError, match="sums to 90, not 100"):
        cal.parse_target_distribution("10,20,40,10,10", book.framework)
    with pytest.raises(KraftError, match="is not a list of percents"):
        cal.parse_target_distribution("10,x,40,20,10", book.framework)
    with pytest.raises(KraftError, match="is not a list of percents"):
        cal.parse_target_distribution("-10,30,40,20,20", book.framework)


def test_a_signed_review_counts_with_its_frozen_rating_and_scope_narrows(book: Book) -> None:
    with book.db.begin() as conn:
        m1, r1 = book.user("m1@test.in"), book.user("r1@test.in")
        core_reviews.start(conn, book.framework, m1, "R1", PERIOD, actor="test", settling=SETTLING)
        core_reviews.comment(conn, m1, "R1", PERIOD, "On target.", actor="test")
        core_reviews.submit(conn, m1, "R1", PERIOD, actor="test")
        core_reviews.self_assess(conn, r1, "R1", PERIOD, "Agreed.", actor="test")
        core_reviews.acknowledge(conn, r1, "R1", PERIOD, actor="test")
        core_reviews.sign_off(
            conn, book.framework, m1, "R1", PERIOD, actor="test", settling=SETTLING
        )
        write_scores(conn, "R1", "80.00", run_id=2)  # a later compute: R1 would be a 3 now
    result = calibrate(book)
    r1_rated = next(m for m in result.rated if m.rm_id == "R1")
    assert (r1_rated.computed, r1_rated.final, r1_rated.score) == (4, 4, Decimal("96.5"))
    assert result.total.signed_off == 1
    mine = calibrate(book, rm_ids={"R3", "R6"})  # M2's scope
    assert [g.group_id for g in mine.by_manager] == ["M2"] and mine.total.rms == 2
    with book.db.connect() as conn, pytest.raises(KraftError, match="2025-Q4 has no scores"):
        cal.calibrate(conn, book.framework, "2025-Q4")
    with book.db.connect() as conn:
        assert cal.latest_scored_period(conn, Calendar()) == PERIOD


def test_score_gap_at_the_edges_of_a_band(book: Book) -> None:
    bands = book.framework.rating_bands
    assert cal.score_gap(Decimal("94.99"), 4, 3, bands) == Decimal("0.01")
    assert cal.score_gap(Decimal("95.00"), 3, 4, bands) == Decimal("-0.01")
    assert cal.score_gap(Decimal("85.00"), 3, 2, bands) == 0  # a gate's cap undone: in band
    assert cal.score_gap(Decimal("130.00"), 1, 5, bands) == Decimal("-70.01")
    assert cal.score_gap(Decimal("10.00"), 5, 1, bands) == Decimal("100.00")
    assert cal.score_gap(Decimal("81.00"), 3, 3, bands) == 0
