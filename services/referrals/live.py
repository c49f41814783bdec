"""The live case timeline (SSE): a stream wakes when entries of its household are projected.

Fan-out without polling the database per client:

* The timeline consumer announces, once each batch has committed, the households it touched
  (`announce`, called through `sinergi.consumer.after_commit`). The streams of those
  households in this process then read what is new, once per batch.
* A replica that did not project the batch learns of it from one shared poll per process and
  database every `POLL_SECONDS`: one query counts the entries of every household someone is
  watching, and only the streams whose count changed read.

A stream always sends stored entries, so every replica sends the same entries. Replicas share
the durable consumer and can commit two batches out of stream order, so a stream re-reads the
last `REORDER_WINDOW` stream positions of its household and sends only what it has not sent
yet (an entry that lands even later is on the timeline for every new reader).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from typing import Final

from sqlalchemy.ext.asyncio import AsyncEngine

from services.referrals.domain import TimelineEntry

log = logging.getLogger(__name__)

POLL_SECONDS: Final = 2.0
HEARTBEAT_SECONDS: Final = 15.0
REORDER_WINDOW: Final = 5_000
PAGE: Final = 500
RETRY_MILLISECONDS: Final = 1_000

# (engine, household ids) -> entries per household; (household id, after, limit) -> entries.
Counter = Callable[[AsyncEngine, Sequence[str]], Awaitable[Mapping[str, int]]]
Reader = Callable[[str, int, int], Awaitable[Sequence[TimelineEntry]]]


class TimelineHub:
    """The live streams of one process and database, by household."""

    def __init__(
        self, engine: AsyncEngine, count: Counter, *, poll_seconds: float = POLL_SECONDS
    ) -> None:
        self._engine = weakref.ref(engine)  # the hub lives as long as its engine, not longer
        self._count = count
        self._poll_seconds = poll_seconds
        self._listeners: dict[str, set[asyncio.Event]] = {}
        self._counts: dict[str, int] = {}
        self._poller: asyncio.Task[None] | None = None

    @property
    def listeners(self) -> int:
        return sum(len(events) for events in self._listeners.values())

    @property
    def polling(self) -> bool:
        return self._poller is not None and not self._poller.done()

    def announce(self, households: Iterable[str]) -> None:
        """New entries of these households are stored: wake their streams."""
        for household in households:
            for wake in self._listeners.get(household, ()):
                wake.set()

    @contextlib.contextmanager
    def listen(self, household_id: str) -> Iterator[asyncio.Event]:
        """An event set whenever `household_id` may have new entries. Leaving stops the shared
        poll when nobody listens any more (synchronous, so a cancelled stream leaves too)."""
        wake = asyncio.Event()
        self._listeners.setdefault(household_id, set()).add(wake)
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name="timeline-live-poll")
        try:
            yield wake
        finally:
            listeners = self._listeners.get(household_id, set())
            listeners.discard(wake)
            if not listeners:
                self._listeners.pop(household_id, None)
                self._counts.pop(household_id, None)
            if not self._listeners and self._poller is not None:
                self._poller.cancel()
                self._poller = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            households = list(self._listeners)
            engine = self._engine()
            if engine is None:
                return
            try:
                counts = await self._count(engine, households)
            except Exception as error:
                log.warning(
                    "linimasa langsung: database tak terbaca (live timeline: database unreadable)",
                    extra={"error": repr(error)},
                )
                continue
            changed = []
            for household in households:
                count = counts.get(household, 0)
                if household in self._listeners and self._counts.get(household) != count:
                    self._counts[household] = count
                    changed.append(household)
            self.announce(changed)


_hubs: weakref.WeakKeyDictionary[AsyncEngine, TimelineHub] = weakref.WeakKeyDictionary()


def hub_for(engine: AsyncEngine, count: Counter) -> TimelineHub:
    """The hub of `engine`'s database in this process (made on first use)."""
    hub = _hubs.get(engine)
    if hub is None:
        hub = _hubs[engine] = TimelineHub(engine, count)
    return hub


def announce(engine: AsyncEngine, households: Iterable[str]) -> None:
    """Called after a projection batch committed; nothing to do when nobody streams."""
    hub = _hubs.get(engine)
    if hub is not None:
        hub.announce(households)


class Position:
    """What one stream has sent: everything after `floor` up to `cursor`, and which stream
    positions of the last `REORDER_WINDOW` (to send a late commit once, and only once)."""

    def __init__(self, after: int) -> None:
        self.floor = after
        self.cursor = after
        self.sent: set[int] = set()

    async def fresh(self, read: Reader, household_id: str) -> list[TimelineEntry]:
        low = max(self.floor, self.cursor - REORDER_WINDOW)
        new: list[TimelineEntry] = []
        while True:
            page = await read(household_id, low, PAGE)
            new.extend(entry for entry in page if entry.stream_seq not in self.sent)
            if len(page) < PAGE:
                break
            low = page[-1].stream_seq
        if new:
            new.sort(key=lambda entry: entry.stream_seq)
            self.sent.update(entry.stream_seq for entry in new)
            self.cursor = max(self.cursor, new[-1].stream_seq)
            horizon = self.cursor - REORDER_WINDOW
            self.sent = {seq for seq in self.sent if seq > horizon}
        return new


def frame(entry: TimelineEntry, data: str) -> str:
    """One SSE event: the stream position as its id (the client's Last-Event-ID), the
    CloudEvents type as its name, the entry as one line of JSON."""
    return f"id: {entry.stream_seq}\nevent: {entry.type}\ndata: {data}\n\n"


async def stream(
    hub: TimelineHub,
    read: Reader,
    render: Callable[[TimelineEntry], str],
    household_id: str,
    *,
    after: int,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[str]:
    """The entries after `after` from the database, then each new one as it is projected; a
    comment line every `heartbeat` seconds of silence keeps proxies from closing the line.

    Runs until the client goes away (Starlette then cancels it: `listen` cleans up).
    """
    position = Position(after)
    with hub.listen(household_id) as wake:  # before the first read: no batch falls between
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        while True:
            wake.clear()
            entries = await position.fresh(read, household_id)
            if entries:
                yield "".join(frame(entry, render(entry)) for entry in entries)
            while not wake.is_set():
                try:
                    async with asyncio.timeout(heartbeat):
                        await wake.wait()
                except TimeoutError:
                    yield ": ping\n\n"
