"""The web app under load: `kraft serve`'s scorecard and team pages with concurrent signed-in
clients, from DuckDB and from PostgreSQL; latency p50/p95/p99 and throughput per page kind.

    .venv/bin/python bench/web_bench.py [--rms 2000] [--months 24] [--seconds 30] [--clients 20]
        [--think 0] [--workspace DIR] [--engines duckdb,postgres] [--postgres-workspace DIR] [--keep]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1/postgres]

DuckDB: a copy of --workspace (a `kraft demo` workspace, copied because another process may be
using it) or a fresh `kraft demo --rms --months`. PostgreSQL: a fresh database on the server of
--postgres-url, filled by `kraft demo` against it (not timed; minutes at 2,000 RMs) and dropped at
the end unless --keep; --postgres-workspace reuses a kept one. Each is served by a `kraft serve`
subprocess on a free loopback port; once it has read ahead (GET /api/v1/health), each client
(asyncio + httpx, its own connection) signs in through the login form as an admin (who sees every
RM and team), then, for --seconds after a --warmup, asks for `/rms/{rm_id}?period=P` (a random scored RM of one of the last --periods
quarters) or `/teams/{team_id}?period=P` (a random team), half and half; with --think, a client
reads each page 0.5–1.5 × --think seconds before asking for the next (a person's pace), without it
the clients ask back to back (the server's capacity). The target (issue 7): p95 under 200 ms for
both pages on both databases with 20 clients.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import sqlalchemy as sa

BENCH_USER = "web-bench@kraft.bench"
BENCH_PASSWORD = "web-bench-password"
TARGET_P95_MS = 200.0
KINDS = ("scorecard", "team")


def kraft(*args: str, stdin: str | None = None) -> str:
    """Run a kraft command; its output, or exit with what it said."""
    done = subprocess.run(
        [sys.executable, "-m", "kraft", *args], input=stdin, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"kraft {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def add_bench_user(root: Path) -> None:
    """An admin to sign in as (the workspace may predate the demo's sign-ins)."""
    kraft("--workspace", str(root), "db", "upgrade")
    listed = kraft("--workspace", str(root), "users", "list")
    if BENCH_USER not in listed:
        kraft(
            "--workspace", str(root), "users", "add", BENCH_USER, "--role", "admin",
            "--password-stdin", stdin=BENCH_PASSWORD + "\n",
        )  # fmt: skip


def demo(root: Path, rms: int, months: int, start: str) -> None:
    print(f"  kraft demo --rms {rms} --months {months} --start {start} (not timed)…", flush=True)
    began = time.perf_counter()
    kraft("demo", str(root), "--rms", str(rms), "--months", str(months), "--start", start,
          "--no-reports")  # fmt: skip
    print(f"  built in {time.perf_counter() - began:.0f} s", flush=True)


def copy_duckdb_workspace(source: Path, target: Path) -> None:
    """kraft.toml and the database file (a reader may hold it; nobody writes while we copy)."""
    target.mkdir(parents=True)
    shutil.copy2(source / "kraft.toml", target / "kraft.toml")
    for path in source.glob("*.duckdb"):
        shutil.copy2(path, target / path.name)


@dataclass(frozen=True)
class Book:
    """What the clients ask for: scored RMs per quarter, and the teams."""

    rms_by_period: dict[str, list[str]]
    team_ids: list[str]


def read_book(root: Path, periods: int) -> Book:
    """Read before the server starts (on DuckDB the server then holds the file)."""
    from kraft.periods import Calendar, Grain
    from kraft.reports.scorecard import scored_rms
    from kraft.store.database import workspace_database
    from kraft.workspace import load_workspace

    workspace = load_workspace(root)
    calendar = Calendar(workspace.settings.fiscal_year_start_month)
    db = workspace_database(workspace.root, workspace.settings.database_url)
    try:
        with db.connect() as conn:
            labels = conn.execute(
                sa.text("SELECT DISTINCT period FROM scores WHERE grain = :g"),
                {"g": Grain.quarter.value},
            ).scalars()
            quarters = sorted((calendar.parse(label) for label in labels), key=lambda p: p.start)
            chosen = quarters[-periods:]
            rms = {str(p.label): scored_rms(conn, p) for p in chosen}
            teams = list(conn.execute(sa.text("SELECT team_id FROM teams")).scalars())
    finally:
        db.dispose()
    rms = {label: ids for label, ids in rms.items() if ids}
    if not rms or not teams:
        raise SystemExit(f"{root} has no scored quarters or no teams: run kraft compute first")
    return Book(rms, sorted(teams))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def served(root: Path) -> Iterator[str]:
    """`kraft serve` on a free loopback port in its own process group; killed at the end."""
    port = free_port()
    log = root.parent / f"serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "kraft", "--workspace", str(root), "serve", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise SystemExit(f"kraft serve exited:\n{log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("kraft serve did not listen within 120 s") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
        said = log.read_text(errors="replace").splitlines()[1:]  # after "kraft serves …"
        if process.poll() is not None or said:
            state = "exited" if process.poll() is not None else "logged"
            print(f"  kraft serve {state}:\n    " + "\n    ".join(said[-20:]))
    finally:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=15)
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    first_error: dict[str, str] = field(default_factory=dict)


async def sign_in(client: httpx.AsyncClient) -> None:
    answer = await client.post("/login", data={"username": BENCH_USER, "password": BENCH_PASSWORD})
    if answer.status_code != 303:
        raise SystemExit(f"sign-in failed ({answer.status_code}): {answer.text[:300]}")


def next_request(book: Book, rng: random.Random) -> tuple[str, str]:
    period = rng.choice(sorted(book.rms_by_period))
    if rng.random() < 0.5:
        return "scorecard", f"/rms/{rng.choice(book.rms_by_period[period])}?period={period}"
    return "team", f"/teams/{rng.choice(book.team_ids)}?period={period}"


async def one_client(
    url: str,
    book: Book,
    seed: int,
    warm_until: float,
    stop_at: float,
    tally: Tally,
    think: float,
) -> None:
    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        await sign_in(client)
        while (now := time.perf_counter()) < stop_at:
            kind, path = next_request(book, rng)
            try:
                answer = await client.get(path)
                status = str(answer.status_code)
            except httpx.HTTPError as exc:  # a timeout or a dropped connection is an error too
                status = type(exc).__name__
            elapsed = (time.perf_counter() - now) * 1000
            if think:  # a person reads the page before the next: 0.5 to 1.5 times --think
                await asyncio.sleep(rng.uniform(0.5, 1.5) * think)
            if now < warm_until:
                continue
            if status == "200":
                tally.latencies[kind].append(elapsed)
            else:
                tally.errors[kind] += 1
                tally.first_error.setdefault(kind, f"{path} → {status} after {elapsed:.0f} ms")


async def read_ahead_done(url: str, limit: float = 600.0) -> float:
    """Wait until the server has read ahead what the first pages need (GET /api/v1/health);
    the seconds it took."""
    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        while time.perf_counter() - began < limit:
            answer = await client.get("/api/v1/health")
            if answer.status_code == 200 and answer.json()["read_ahead"] != "running":
                return time.perf_counter() - began
            await asyncio.sleep(0.5)
    raise SystemExit(f"the server was still reading ahead after {limit:.0f} s")


async def load(
    url: str, book: Book, clients: int, seconds: float, warmup: float, think: float
) -> Tally:
    print(f"  read ahead in {await read_ahead_done(url):.0f} s", flush=True)
    tally = Tally()
    start = time.perf_counter()
    warm_until = start + warmup
    stop_at = warm_until + seconds
    await asyncio.gather(
        *(one_client(url, book, n, warm_until, stop_at, tally, think) for n in range(clients))
    )
    return tally


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    index = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


def report(engine: str, tally: Tally, seconds: float, clients: int, think: float) -> bool:
    """Print the table; whether every page kind met the p95 target with no errors."""
    pace = f"each reading a page {think:g} s on average" if think else "no pause between pages"
    print(f"\n{engine}: {clients} clients, {pace}, {seconds:.0f} s")
    print(f"  {'page':<10} {'requests':>9} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'p99 ms':>8} {'mean ms':>8} {'errors':>7}")  # fmt: skip
    met = True
    for kind in KINDS:
        ordered = sorted(tally.latencies[kind])
        errors = tally.errors[kind]
        if not ordered:
            print(f"  {kind:<10} no successful request; {tally.first_error.get(kind, '')}")
            met = False
            continue
        p95 = percentile(ordered, 0.95)
        print(
            f"  {kind:<10} {len(ordered):>9,} {len(ordered) / seconds:>7.1f} "
            f"{percentile(ordered, 0.50):>8.1f} {p95:>8.1f} {percentile(ordered, 0.99):>8.1f} "
            f"{statistics.fmean(ordered):>8.1f} {errors:>7}"
        )
        if errors:
            print(f"  {'':<10} first error: {tally.first_error[kind]}")
        met = met and errors == 0 and p95 < TARGET_P95_MS
    print(f"  p95 under {TARGET_P95_MS:.0f} ms for every page: {'yes' if met else 'NO'}")
    return met


def bench(engine: str, root: Path, args: argparse.Namespace) -> bool:
    add_bench_user(root)
    book = read_book(root, args.periods)
    rms = len({rm for ids in book.rms_by_period.values() for rm in ids})
    print(
        f"  {rms:,} scored RMs in {', '.join(book.rms_by_period)}; {len(book.team_ids)} teams",
        flush=True,
    )
    with served(root) as url:
        tally = asyncio.run(load(url, book, args.clients, args.seconds, args.warmup, args.think))
    return report(engine, tally, args.seconds, args.clients, args.think)


def bench_duckdb(args: argparse.Namespace, tmp: Path) -> bool:
    print("DuckDB:", flush=True)
    root = tmp / "duckdb"
    if args.workspace:
        print(f"  copying {args.workspace}…", flush=True)
        copy_duckdb_workspace(args.workspace, root)
    else:
        demo(root, args.rms, args.months, args.start)
    return bench("DuckDB", root, args)


def bench_postgres(args: argparse.Namespace, tmp: Path) -> bool:
    print("PostgreSQL:", flush=True)
    if args.postgres_workspace:
        return bench("PostgreSQL", args.postgres_workspace, args)
    admin = sa.create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    name = f"kraft_webbench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    root = Path(tempfile.mkdtemp(prefix="web-bench-pg-")) if args.keep else tmp / "postgres"
    try:
        kraft("init", str(root), "--database-url", url)
        demo(root, args.rms, args.months, args.start)
        return bench("PostgreSQL", root, args)
    finally:
        if args.keep:
            print(f"  kept {name}; reuse it with --postgres-workspace {root}")
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rms", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--start", default="2024-01", help="first month of a fresh demo book")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument(
        "--think",
        type=float,
        default=0.0,
        help="seconds a client reads a page before the next, on average (0: no pause)",
    )
    parser.add_argument("--periods", type=int, default=4, help="last N quarters asked for")
    parser.add_argument("--workspace", type=Path, help="a DuckDB demo workspace to copy")
    parser.add_argument("--engines", default="duckdb,postgres")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "KRAFT_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"
        ),
    )
    parser.add_argument("--postgres-workspace", type=Path, help="a kept PostgreSQL workspace")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - {"duckdb", "postgres"}
    if unknown:
        raise SystemExit(f"--engines: {', '.join(sorted(unknown))} is not duckdb or postgres")
    print(f"book: --rms {args.rms} --months {args.months}; {args.clients} clients")
    met = True
    with tempfile.TemporaryDirectory(prefix="web-bench-") as tmp:
        if "duckdb" in engines:
            met = bench_duckdb(args, Path(tmp)) and met
        if "postgres" in engines:
            met = bench_postgres(args, Path(tmp)) and met
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
