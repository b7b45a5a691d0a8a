"""Results kept in memory, and stored reads kept per data version.

`Kept` is a small least-recently-used store whose keys hold the data version a result was read
at; each key is made by one thread at a time, so that twenty clients asking for the same cold
result wait for one computation instead of running twenty.

`reads_kept` lets a long-running reader (the web server) keep what the loaders of stored results
read (each period's values and scores of every RM, the roster, the targets) for as long as the data
version it names holds, so that one bulk read per period serves every page of that version; code
outside such a block reads the database as before. The loaders name what they keep with
`read_once`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


class Kept:
    """Results kept per key, least recently used dropped first, none older than `seconds`."""

    def __init__(self, entries: int, seconds: float) -> None:
        self.entries = entries
        self.seconds = seconds
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[Any, threading.Lock] = {}
        self._started: set[Any] = set()

    def get(self, key: Any, make: Callable[[], T]) -> T:
        found = self._fresh(key)
        if found is not None:
            return found[0]  # type: ignore[no-any-return]
        with self._lock:
            maker = self._making.setdefault(key, threading.Lock())
        with maker:
            found = self._fresh(key)
            if found is not None:
                return found[0]  # type: ignore[no-any-return]
            value = make()
            with self._lock:
                self._items[key] = (time.monotonic(), value)
                self._items.move_to_end(key)
                while len(self._items) > self.entries:
                    self._items.popitem(last=False)
                self._making.pop(key, None)
            return value

    def peek(self, key: Any) -> tuple[Any] | None:
        """(value,) if kept, else None; never makes it."""
        return self._fresh(key)

    def start(self, key: Any, make: Callable[[], Any]) -> None:
        """Make the value in a background thread (one per key), unless it is kept already: so
        that a page can go on without it and the next one finds it (`make` opens its own
        connection: the page's is closed by then)."""
        with self._lock:
            if key in self._items or key in self._started:
                return
            self._started.add(key)

        def run() -> None:
            try:
                self.get(key, make)
            except Exception:  # the page that needs it makes it again and says why
                log.exception("kraft: making %r in the background failed", key[0])
            finally:
                with self._lock:
                    self._started.discard(key)

        threading.Thread(target=run, name="kraft-kept", daemon=True).start()

    def _fresh(self, key: Any) -> tuple[Any] | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            if time.monotonic() - item[0] > self.seconds:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return (item[1],)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class _Reads:
    """The store and the data version of one `reads_kept` block; the version is read on first
    use, so that a block that keeps nothing costs no query."""

    def __init__(self, kept: Kept, version: Callable[[], Any], sole_writer: bool) -> None:
        self.kept = kept
        self.sole_writer = sole_writer
        self._version = version
        self._read: tuple[Any] | None = None
        self.checked: dict[Any, Any] = {}  # what this block asked the database itself

    @property
    def version(self) -> Any:
        if self._read is None:
            self._read = (self._version(),)
        return self._read[0]


_reads: ContextVar[_Reads | None] = ContextVar("kraft_reads_kept", default=None)


@contextmanager
def reads_kept(kept: Kept, version: Callable[[], Any], *, sole_writer: bool) -> Iterator[None]:
    """Inside the block, `read_once` keeps what it reads in `kept` under `version()`: a value
    that changes whenever anything a loader reads may have changed. `sole_writer`: no other
    process can write the database (a DuckDB file this process holds), so the version, which
    counts this process's writes, covers every change; otherwise a loader checks what another
    process may have written since (a re-score commits after the change that caused it)."""
    token = _reads.set(_Reads(kept, version, sole_writer))
    try:
        yield
    finally:
        _reads.reset(token)


def keeping() -> bool:
    """Whether stored reads are kept here (a loader may then read in bulk)."""
    return _reads.get() is not None


def current_version() -> Any | None:
    """The data version of the `reads_kept` block, if inside one."""
    reads = _reads.get()
    return None if reads is None else reads.version


def sole_writer() -> bool:
    """Inside `reads_kept` for a database no other process can write."""
    reads = _reads.get()
    return reads is not None and reads.sole_writer


def checked_once(key: tuple[Any, ...], check: Callable[[], T]) -> T:
    """`check()` once per `reads_kept` block (a page), for what must be asked of the database
    itself, e.g. whether another process re-scored; every time outside such a block."""
    reads = _reads.get()
    if reads is None:
        return check()
    if key not in reads.checked:
        reads.checked[key] = check()
    return reads.checked[key]  # type: ignore[no-any-return]


def read_once(key: tuple[Any, ...], make: Callable[[], T]) -> T:
    """`make()`, kept under the block's data version when inside `reads_kept`."""
    reads = _reads.get()
    if reads is None:
        return make()
    return reads.kept.get((*key, reads.version), make)
