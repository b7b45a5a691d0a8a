"""The colours of the team report's tables and what each means, in one place.

A colour that is not explained is read as anything the reader likes, and on paper there is no
tooltip to ask: each coloured table carries a legend, and the legend and the cells take their
colour (a CSS class of the template) from the same definitions here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from kraft.analysis.alerts import Alert, AlertKind


@dataclass(frozen=True)
class Swatch:
    """One colour of a legend: the template's CSS class ('' for no colour) and its meaning."""

    css: str
    label: str


@dataclass(frozen=True)
class ScoreBand:
    """The KRA scores from `floor` up to the next band's floor (None: every lower score)."""

    floor: Decimal | None
    swatch: Swatch


KRA_SCORE_BANDS = (
    ScoreBand(Decimal(95), Swatch("above", "95 and over")),
    ScoreBand(Decimal(80), Swatch("", "80 to under 95")),
    ScoreBand(Decimal(60), Swatch("warn", "60 to under 80")),
    ScoreBand(None, Swatch("bad", "under 60")),
)
BELOW_SWATCHES = (Swatch("bad", "below threshold"),)
MOVER_SWATCHES = (Swatch("above", "rise"), Swatch("bad", "fall"))
VARIANCE_SWATCHES = (Swatch("warn", "one RM or more unfavourable"),)


def kra_score_class(score: Decimal | None) -> str:
    """The CSS class of a KRA score's cell ('' for no score or the uncoloured band)."""
    if score is None:
        return ""
    for band in KRA_SCORE_BANDS:
        if band.floor is None or score >= band.floor:
            return band.swatch.css
    return ""  # pragma: no cover - the last band has no floor


def kra_score_legend() -> list[Swatch]:
    return [band.swatch for band in KRA_SCORE_BANDS]


class RatingBandShown(Protocol):
    """A rating band as a report lists it (the team report's RatingCount)."""

    @property
    def rating(self) -> int | None: ...
    @property
    def label(self) -> str: ...


def rating_legend(bands: Iterable[RatingBandShown]) -> list[Swatch]:
    """A row's colour by its rating (class r5 … r1), labelled with the framework's bands."""
    return [Swatch(f"r{b.rating}", f"{b.rating} {b.label}") for b in bands if b.rating]


def alert_class(kind: AlertKind) -> str:
    """Amber for a KPI at risk of missing its target, red for one already below threshold."""
    return "warn" if kind is AlertKind.at_risk else "bad"


def alert_legend(shown: Sequence[Alert]) -> list[Swatch]:
    """A swatch for each kind of alert the list shows, in the order they first appear."""
    kinds = dict.fromkeys(alert.kind for alert in shown)
    return [Swatch(alert_class(kind), kind.value) for kind in kinds]
