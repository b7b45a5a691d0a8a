"""The biggest movers (kraft.analysis.movers) on hand-written overall scores:

RM   before  after   change
R1   70      82.5    +12.5
R2   80      80        0     (no move)
R3   90      81      -9
R4   60      63      +3
R5   —       75            (no score before: no move)
R6   50      —             (no score after: no move)
R7   85      76      -9      (ties R3: rm_id order)
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from kraft.analysis.movers import Mover, biggest_movers


@dataclass(frozen=True)
class Row:
    rm_id: str
    overall: Decimal | None
    name: str | None = None
    team_id: str | None = None


BEFORE = [
    Row("R1", Decimal(70)),
    Row("R2", Decimal(80)),
    Row("R3", Decimal(90)),
    Row("R4", Decimal(60)),
    Row("R6", Decimal(50)),
    Row("R7", Decimal(85)),
]
AFTER = [
    Row("R1", Decimal("82.5"), "Asha", "T1"),
    Row("R2", Decimal(80)),
    Row("R3", Decimal(81)),
    Row("R4", Decimal(63)),
    Row("R5", Decimal(75)),
    Row("R6", None),
    Row("R7", Decimal(76)),
]


def test_rises_and_falls_biggest_first() -> None:
    movers = biggest_movers(BEFORE, AFTER, 10)
    assert movers.up == [
        Mover("R1", "Asha", "T1", Decimal(70), Decimal("82.5")),
        Mover("R4", None, None, Decimal(60), Decimal(63)),
    ]
    assert [(m.rm_id, m.change) for m in movers.down] == [("R3", -9), ("R7", -9)]
    assert movers.up[0].change == Decimal("12.5")


def test_the_limit_applies_each_way() -> None:
    movers = biggest_movers(BEFORE, AFTER, 1)
    assert [m.rm_id for m in movers.up] == ["R1"] and [m.rm_id for m in movers.down] == ["R3"]


def test_no_earlier_scores_no_movers() -> None:
    movers = biggest_movers([], AFTER, 10)
    assert movers.up == [] and movers.down == []
