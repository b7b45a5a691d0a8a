"""Building the demo workspace's book: a synthetic insurance book generated region by region
(kraft.demo), each region imported through the same all-or-nothing validation as
`kraft import`, and the demo's sign-ins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from kraft.core.context import Kraft
from kraft.framework.model import KpiKind

if TYPE_CHECKING:  # the generator and the readers load numpy and pyarrow: only when used
    from kraft.demo.logins import DemoLogin
    from kraft.ingest.importer import ImportResult


def import_demo_book(
    kraft: Kraft,
    *,
    rms: int,
    months: int,
    seed: int,
    first: date,
    last_day: date,
    actor: str,
    on_phase: Callable[[str], None] | None = None,
) -> list[ImportResult]:
    """Generate the book of `months` months from `first` (data as of `last_day`) region by region (at most 2,000 RMs each, so memory stays one
    region's), each imported as its own batch: the first replaces, the others add. `on_phase`
    hears what is being done ("Generating …", "Validating and importing …")."""
    from kraft.demo.regions import generate_regions, region_sizes
    from kraft.ingest.importer import Mode, run_import
    from kraft.ingest.sources import from_arrow

    phase = on_phase or (lambda _: None)
    manual = [k.id for _, k in kraft.framework.kpis() if k.kind is KpiKind.manual]
    sizes = region_sizes(rms)
    books = generate_regions(
        rms=rms, months=months, seed=seed, start=first, calendar=kraft.calendar
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
                    mode=Mode.replace if region == 1 else Mode.upsert,
                    as_of=last_day,
                    actor=actor,
                    calendar=kraft.calendar,
                    manual_kpis=manual,
                )
            )
        del raws
    return results


def add_demo_sign_ins(kraft: Kraft, actor: str) -> list[DemoLogin]:
    """The demo's admin, manager and RM sign-ins (public passwords: never for real data)."""
    from kraft.demo.logins import add_demo_logins

    with kraft.write() as conn:
        return add_demo_logins(conn, actor)
