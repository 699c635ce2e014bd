"""A live server and a real Chromium (Debian's), driven through Playwright.

The app is the test app from tests/conftest.py with CSRF protection switched
on, so the browser goes through the real tokens, and a dashboard that polls
every second. It is served by werkzeug in a background thread; whatever a test
creates must be committed before the browser can read it.
"""

import os

import pytest

from tests.conftest import unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# How long an expectation may wait for the page (the dashboard polls every 1 s).
WAIT_MS = 5000


@pytest.fixture
def app_config():
    return {"DASHBOARD_REFRESH_SECONDS": 1, "WTF_CSRF_ENABLED": True}


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        unavailable(f"no Chromium at {CHROMIUM}: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (requirements-dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open a page in a fresh browser context: each context is another person
    (own cookies, own session). All are closed before the server stops."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    contexts = []

    def open_page(**options):
        context = browser.new_context(base_url=live_server, **options)
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
