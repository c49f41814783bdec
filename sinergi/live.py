"""Live lists over SSE (a key's timeline, a recipient's inbox): a stream wakes when
entries under its key (key id, recipient) are stored.

Fan-out without polling the database per client:

* The consumer that stores entries announces, once each batch has committed, the keys it
  touched (`announce`, called through `sinergi.consumer.after_commit`). The streams of those
  keys in this process then read what is new, once per batch.
* A replica that did not store the batch learns of it from one shared poll per process and
  database every `POLL_SECONDS`: one query counts the entries of every key someone is
  watching, and only the streams whose count changed read.

A stream always sends stored entries, so every replica sends the same entries. Replicas share
the durable consumer and can commit two batches out of order, so a stream re-reads the last
`REORDER_WINDOW` positions of its key and sends only what it has not sent yet (an entry that
lands even later is in the list for every new reader).
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
from dataclasses import dataclass
from typing import Final, Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

E = TypeVar("E")

log = logging.getLogger(__name__)

POLL_SECONDS: Final = 2.0
HEARTBEAT_SECONDS: Final = 15.0
REORDER_WINDOW: Final = 5_000
PAGE: Final = 500
RETRY_MILLISECONDS: Final = 1_000

# (engine, keys) -> entries per key.
Counter = Callable[[AsyncEngine, Sequence[str]], Awaitable[Mapping[str, int]]]


@dataclass(frozen=True)
class Feed(Generic[E]):
    """How a stream reads and shows its entries."""

    read: Callable[[str, int, int], Awaitable[Sequence[E]]]  # (key, after, limit), in order
    position: Callable[[E], int]  # increasing, the client's Last-Event-ID
    name: Callable[[E], str]  # the SSE event name
    data: Callable[[E], str]  # one line of JSON


class Hub:
    """The live streams of one process and database, by key."""

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

    def announce(self, keys: Iterable[str]) -> None:
        """New entries of these keys are stored: wake their streams."""
        for key in keys:
            for wake in self._listeners.get(key, ()):
                wake.set()

    @contextlib.contextmanager
    def listen(self, key: str) -> Iterator[asyncio.Event]:
        """An event set whenever `key` may have new entries. Leaving stops the shared
        poll when nobody listens any more (synchronous, so a cancelled stream leaves too)."""
        wake = asyncio.Event()
        self._listeners.setdefault(key, set()).add(wake)
        if self._poller is None:
            self._poller = asyncio.create_task(self._poll(), name="live-poll")
        try:
            yield wake
        finally:
            listeners = self._listeners.get(key, set())
            listeners.discard(wake)
            if not listeners:
                self._listeners.pop(key, None)
                self._counts.pop(key, None)
            if not self._listeners and self._poller is not None:
                self._poller.cancel()
                self._poller = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            keys = list(self._listeners)
            engine = self._engine()
            if engine is None:
                return
            try:
                counts = await self._count(engine, keys)
            except Exception as error:
                log.warning(
                    "siaran langsung: database tak terbaca (live stream: database unreadable)",
                    extra={"error": repr(error)},
                )
                continue
            changed = []
            for key in keys:
                count = counts.get(key, 0)
                if key in self._listeners and self._counts.get(key) != count:
                    self._counts[key] = count
                    changed.append(key)
            self.announce(changed)


_hubs: weakref.WeakKeyDictionary[AsyncEngine, dict[str, Hub]] = weakref.WeakKeyDictionary()


def hub_for(engine: AsyncEngine, name: str, count: Counter) -> Hub:
    """The hub `name` (e.g. "timeline") of `engine`'s database in this process."""
    hubs = _hubs.setdefault(engine, {})
    hub = hubs.get(name)
    if hub is None:
        hub = hubs[name] = Hub(engine, count)
    return hub


def announce(engine: AsyncEngine, name: str, keys: Iterable[str]) -> None:
    """Called after a batch committed; nothing to do when nobody streams."""
    hub = _hubs.get(engine, {}).get(name)
    if hub is not None:
        hub.announce(keys)


class Position(Generic[E]):
    """What one stream has sent: everything after `floor` up to `cursor`, and which
    positions of the last `REORDER_WINDOW` (to send a late commit once, and only once)."""

    def __init__(self, feed: Feed[E], after: int) -> None:
        self.feed = feed
        self.floor = after
        self.cursor = after
        self.sent: set[int] = set()

    async def fresh(self, key: str) -> list[E]:
        position = self.feed.position
        low = max(self.floor, self.cursor - REORDER_WINDOW)
        new: list[E] = []
        while True:
            page = await self.feed.read(key, low, PAGE)
            new.extend(entry for entry in page if position(entry) not in self.sent)
            if len(page) < PAGE:
                break
            low = position(page[-1])
        if new:
            new.sort(key=position)
            self.sent.update(position(entry) for entry in new)
            self.cursor = max(self.cursor, position(new[-1]))
            horizon = self.cursor - REORDER_WINDOW
            self.sent = {seq for seq in self.sent if seq > horizon}
        return new

    def frame(self, entry: E) -> str:
        """One SSE event: the position as its id (the client's Last-Event-ID), a name, the
        entry as one line of JSON."""
        feed = self.feed
        return (
            f"id: {feed.position(entry)}\nevent: {feed.name(entry)}\ndata: {feed.data(entry)}\n\n"
        )


async def stream(
    hub: Hub,
    feed: Feed[E],
    key: str,
    *,
    after: int,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[str]:
    """The entries after `after` from the database, then each new one as it is stored; a
    comment line every `heartbeat` seconds of silence keeps proxies from closing the line.

    Runs until the client goes away (Starlette then cancels it: `listen` cleans up).
    """
    position = Position(feed, after)
    with hub.listen(key) as wake:  # before the first read: no batch falls between
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        while True:
            wake.clear()
            entries = await position.fresh(key)
            if entries:
                yield "".join(position.frame(entry) for entry in entries)
            while not wake.is_set():
                try:
                    async with asyncio.timeout(heartbeat):
                        await wake.wait()
                except TimeoutError:
                    yield ": ping\n\n"


async def changes(
    hub: Hub,
    key: str,
    latest: Callable[[], Awaitable[int]],
    *,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> AsyncIterator[str]:
    """A stream that says only *that* something under `key` changed: an event `berubah`
    (changed) with the latest position whenever it grew, as soon as a batch committed here or
    the shared poll saw another replica's. For views that re-read their own figures (the
    coordinators' dashboard); it sends no entries, so it costs one small query a wake."""
    sent = -1
    with hub.listen(key) as wake:
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        while True:
            wake.clear()
            position = await latest()
            if position != sent:
                sent = position
                yield f'id: {position}\nevent: berubah\ndata: {{"position":{position}}}\n\n'
            while not wake.is_set():
                try:
                    async with asyncio.timeout(heartbeat):
                        await wake.wait()
                except TimeoutError:
                    yield ": ping\n\n"
