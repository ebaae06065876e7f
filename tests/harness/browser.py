"""Headless Chromium for browser tests: Debian's ``/usr/bin/chromium`` driven by Playwright.

Playwright's own browser download cannot be used here (no network), so the system Chromium
is launched through ``executable_path``. The flags keep it from phoning home: on a closed
network Chromium's background connections are refused and slow everything down.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM_PATH = "/usr/bin/chromium"

CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",  # tests run as root in CI; Chromium's sandbox refuses root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def launch_chromium(playwright: Playwright) -> Browser:
    """Launch headless system Chromium; close the returned browser when done."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM_PATH,
        headless=True,
        args=list(CHROMIUM_ARGS),
    )
