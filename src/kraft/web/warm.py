"""Reading ahead what the first pages of a period need, in the background: the company's
leaderboard and stored scorecards of the latest quarters, and each quarter's values and scores
of every RM with the periods its trends draw. Done when the server starts and after a write
that re-scores (an import, a compute, an edit), so that the first person to open a team page or
a scorecard after it does not wait seconds for them.

One warming runs at a time; a write during it asks for one more run after it. When a run ends,
what it read is moved out of the garbage collector's way (`gc.freeze`): a server keeps millions
of such objects, and a full collection over them would pause every request.
"""

from __future__ import annotations

import gc
import logging
import threading

from kraft.errors import KraftError
from kraft.periods import Grain, Period
from kraft.reports.scorecard import build_scorecard
from kraft.scoring.stored import scored_periods
from kraft.web.boards import company_board, stored_cards
from kraft.web.period_choice import choose_period
from kraft.web.site import Site

log = logging.getLogger(__name__)
WARM_QUARTERS = 4  # the quarters read ahead: the latest with scores


class Warmer:
    def __init__(self, site: Site) -> None:
        self.site = site
        self._lock = threading.Lock()
        self._running = False
        self._again = False
        self._stopping = False

    @property
    def running(self) -> bool:
        with self._lock:
            return self._running

    def stop(self) -> None:
        """No new run, and the one in progress ends after the quarter it is reading."""
        with self._lock:
            self._stopping = True
            self._again = False

    def start(self) -> None:
        """Warm in a background thread, or once more after the run in progress."""
        with self._lock:
            if self._stopping:
                return
            if self._running:
                self._again = True
                return
            self._running = True
        threading.Thread(target=self._run, name="kraft-warm", daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                self.warm()
            except Exception:  # a page makes what it needs itself, and says why if it cannot
                log.exception("kraft: reading ahead failed")
            with self._lock:
                if not self._again:
                    self._running = False
                    return
                self._again = False

    def warm(self) -> None:
        site = self.site
        calendar, framework = site.calendar, site.framework
        with site.read() as conn:
            quarters = sorted(
                (p for label in scored_periods(conn) if (p := _parsed(site, label)) is not None
                 and p.grain is Grain.quarter),
                key=lambda p: p.start,
                reverse=True,
            )[:WARM_QUARTERS]  # fmt: skip
        for quarter in quarters:
            if self._stopping:
                return
            with site.read() as conn:
                try:
                    choice = choose_period(conn, calendar, framework, quarter.label)
                except KraftError:
                    continue
                company_board(site, conn, choice)
                cards = stored_cards(site, conn, choice)
                if cards:  # one scorecard reads what every scorecard of the quarter reads
                    build_scorecard(conn, framework, calendar, min(cards), quarter, charts=False)
        gc.freeze()


def _parsed(site: Site, label: str) -> Period | None:
    try:
        return site.calendar.parse(label)
    except ValueError:
        return None
