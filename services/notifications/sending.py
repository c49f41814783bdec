"""Sending deliveries (webhooks, e-mail): the sender wakes as soon as the fan-out commits."""

from __future__ import annotations

import asyncio
import weakref

from sqlalchemy.ext.asyncio import AsyncEngine

# One wake-up per process and database: the fan-out sets it after its batch committed, so a
# new delivery leaves at once instead of at the next poll.
_wakeups: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Event] = weakref.WeakKeyDictionary()


def wakeup(engine: AsyncEngine) -> asyncio.Event:
    """The event the sender of `engine`'s database waits on between polls."""
    return _wakeups.setdefault(engine, asyncio.Event())


def wake(engine: AsyncEngine) -> None:
    """New deliveries are stored (called after the fan-out's batch committed)."""
    event = _wakeups.get(engine)
    if event is not None:
        event.set()
