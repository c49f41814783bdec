"""Stopping background tasks without ever hanging the shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


async def cancel_and_wait(task: asyncio.Task[None] | None, *, within: float = 10.0) -> None:
    """Cancel `task` and wait for it, but not forever.

    On Python 3.11 a task inside `asyncio.wait_for` (ours or a library's) can miss its
    cancellation; a bounded wait keeps a stuck task from holding the whole service open.
    """
    if task is None or task.done():
        return
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=within)
    if not done:
        log.error(
            "tugas tidak berhenti (task did not stop)",
            extra={"task": task.get_name(), "waited": within},
        )
        return
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
