"""Building the demo workspace's book: a synthetic insurance book generated region by region
(kraft.demo), each region imported through the same all-or-nothing validation as
`kraft import`, and the demo's sign-ins."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from kraft.core.compute import rescore
from kraft.core.context import Kraft
from kraft.core.targets import save_targets
from kraft.framework.model import KpiKind, Unit
from kraft.periods import Calendar, Grain, add_months
from kraft.scoring.runner import ScoreResult
from kraft.scoring.stored import as_of_date
from kraft.scoring.target_table import TargetInput, actuals_by_rm, last_full_year

FITTED_UNITS = (Unit.count, Unit.currency)  # rates and scores do not depend on the book's size
FIT_LOW, FIT_HIGH = Decimal("0.6"), Decimal("1.4")  # a default within 60–140 % of the median fits

if TYPE_CHECKING:  # the generator and the readers load numpy and pyarrow: only when used
    from kraft.demo.logins import DemoLogin
    from kraft.ingest.importer import ImportResult


@dataclass(frozen=True)
class DemoBook:
    """The book to draw: `rms` RMs over the `months` months from `first` (data as of
    `last_day`), the same book for the same seed."""

    rms: int
    months: int
    seed: int
    first: date
    last_day: date


def import_demo_book(
    kraft: Kraft,
    spec: DemoBook,
    *,
    actor: str,
    on_phase: Callable[[str], None] | None = None,
) -> list[ImportResult]:
    """Generate the book region by region (at most 2,000 RMs each, so memory stays one
    region's), each imported as its own batch: the first replaces, the others add. `on_phase`
    hears what is being done ("Generating …", "Validating and importing …")."""
    from kraft.demo.regions import generate_regions, region_sizes
    from kraft.ingest.importer import ImportOptions, Mode, run_import
    from kraft.ingest.sources import from_arrow

    phase = on_phase or (lambda _: None)
    manual = [k.id for _, k in kraft.framework.kpis() if k.kind is KpiKind.manual]
    months = spec.months
    sizes = region_sizes(spec.rms)
    books = generate_regions(
        rms=spec.rms, months=months, seed=spec.seed, start=spec.first, calendar=kraft.calendar
    )
    results = []
    for region, size in enumerate(sizes, 1):
        of = f"region {region} of {len(sizes)}: " if len(sizes) > 1 else ""
        phase(f"Generating {of}{size:,} RMs × {months} months…")
        book = next(books)
        raws = [from_arrow(name, f"demo {name}", data) for name, data in book.items()]
        del book  # the raws hold the rows now; the import releases each table once it is staged
        phase(f"Validating and importing {of}{sum(r.rows for r in raws):,} rows…")
        with kraft.writer():
            results.append(
                run_import(
                    kraft.db,
                    raws,
                    ImportOptions(
                        mode=Mode.replace if region == 1 else Mode.upsert,
                        as_of=spec.last_day,
                        actor=actor,
                        calendar=kraft.calendar,
                        manual_kpis=manual,
                    ),
                )
            )
        del raws
    return results


def add_demo_sign_ins(kraft: Kraft, actor: str) -> list[DemoLogin]:
    """The demo's admin, manager and RM sign-ins (public passwords: never for real data)."""
    from kraft.demo.logins import add_demo_logins

    with kraft.write() as conn:
        return add_demo_logins(conn, actor)


def fit_demo_targets(kraft: Kraft, actor: str) -> tuple[list[TargetInput], ScoreResult | None]:
    """The demo's own company targets for the count and currency KPIs whose framework default
    does not fit its book: where the median RM's value over the last four closed quarters lies outside 60–140 %
    of the default target, the target becomes that median (two significant digits) and the
    threshold the value the lowest fifth of RM-periods falls below (an RM's book size sets much of
    their premium, so a threshold at a fixed share of the median would gate a third of the book). Saved as any target is (audited, `demo` source),
    then every RM is scored (with them, or without when all defaults fit). A real workspace keeps
    the framework's defaults."""
    with kraft.db.connect() as conn:
        as_of = as_of_date(conn)
        if as_of is None:
            return [], None
        fitted = []
        for _, kpi in kraft.framework.kpis():
            if kpi.unit not in FITTED_UNITS or kpi.grain is None or not kpi.target:
                continue
            labels = fitting_periods(kraft.calendar, kpi.grain, as_of)
            values = sorted(
                v for vs in actuals_by_rm(conn, kpi, kpi.grain, labels).values() for v in vs
            )
            if not values:
                continue
            median = values[len(values) // 2]
            if median <= 0 or FIT_LOW <= median / kpi.target <= FIT_HIGH:
                continue
            target = round_figure(median)
            threshold = None if kpi.threshold is None else round_figure(values[len(values) // 5])
            fitted.append(TargetInput("org", "org", kpi.id, None, None, target, threshold))
    if not fitted:
        return [], rescore(kraft)
    saved = save_targets(
        kraft,
        [(f"The demo's {t.kpi_id} target", t) for t in fitted],
        actor=actor,
        source="demo: fitted to its book",
    )
    return fitted, saved.scored


def fitting_periods(calendar: Calendar, grain: Grain, as_of: date) -> list[str]:
    """The periods of a grain inside the four quarters closed by the as-of date (a growing book's
    last calendar year lags its current quarters); a yearly KPI takes the last full year."""
    quarter = calendar.quarter(as_of)
    last = quarter if as_of >= quarter.end else calendar.previous(quarter)
    first = add_months(last.end, -12) + timedelta(days=1)
    inside = [
        p.label
        for p in calendar.periods(grain, first, last.end)
        if p.start >= first and p.end <= last.end
    ]
    return inside or [last_full_year(calendar, as_of).label]


def round_figure(number: Decimal) -> Decimal:
    """A round figure: two significant digits (6,931,798.90 → 6,900,000)."""
    if number == 0:
        return number
    exponent = number.adjusted() - 1
    rounded = number.scaleb(-exponent).quantize(Decimal(1)).scaleb(exponent)
    return Decimal(int(rounded)) if exponent >= 0 else rounded.normalize()
