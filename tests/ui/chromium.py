"""How every browser test and the screenshot script start Debian's Chromium (never a downloaded one)."""

from __future__ import annotations

from playwright.sync_api import Browser, Playwright

EXECUTABLE = "/usr/bin/chromium"
# No sandbox (containers run as root), no GPU, and nothing that talks to the network.
ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def launch(pw: Playwright) -> Browser:
    """A headless Chromium with the options above."""
    return pw.chromium.launch(executable_path=EXECUTABLE, args=list(ARGS))
