"""Playwright's sync API runs its own event loop in this thread for the whole module: the
suite's asyncio watchdog (an async autouse fixture) would start a second one beside it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def asyncio_watchdog() -> Iterator[None]:
    yield  # no event loop here; pytest-timeout still stops a hung test


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless, one for each test module (the modules skip without it)."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()
