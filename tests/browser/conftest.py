"""Fixtures of the browser tests: the live server, data committed for real, and more browsers.

The browser tests build their own venues, events and customers (tests/browser/scenario.py) instead of
reading the demo data, so `live_server` here serves the app without loading it: each test sees exactly
what it made, and everything it made (with whatever the app wrote meanwhile) is deleted afterwards.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Connection

from tests.builders import committed

# Long enough for a slow machine, short enough that a broken page fails in seconds, not minutes.
TIMEOUT_MS = 5_000


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The app served over HTTP on a free port of this machine, for the browser."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def committed_db(owner_engine) -> Iterator[Connection]:
    """An autocommit connection for building a test's data; every row made during the test is deleted
    at its end, the app's own bookings, payments and accounts included."""
    with committed(owner_engine) as connection:
        yield connection


def _context(browser, **options):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def page(browser):
    context = _context(browser)
    yield context.new_page()
    context.close()


@pytest.fixture
def second_page(browser):
    """Another buyer: a browser context of its own, with its own cookies and so its own hold."""
    context = _context(browser)
    yield context.new_page()
    context.close()


@pytest.fixture
def no_js_page(browser):
    context = _context(browser, java_script_enabled=False)
    yield context.new_page()
    context.close()
