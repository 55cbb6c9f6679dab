"""Fixtures of the concurrency tests: the app with a connection pool big enough for every client of a race.

These tests commit for real (other connections must see their data), so they need a database of their
own: run them with BOXOFFICE_DB set to a name nobody else uses, e.g.
    BOXOFFICE_DB=boxoffice_test_conc .venv/bin/python -m pytest -q tests/concurrency
Every row a test commits is deleted afterwards by `tests.builders.committed`.
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from boxoffice import create_app
from boxoffice.config import load_config
from boxoffice.extensions import db

from tests.concurrency.harness import MAX_CLIENTS


@pytest.fixture(scope="session")
def app(test_database) -> Iterator[Flask]:
    """The real app, whose pool lets every client of a race have its own connection at the same moment
    (the default pool of 15 would make clients queue for a connection instead of for the database's locks)."""
    options = {**load_config()["SQLALCHEMY_ENGINE_OPTIONS"],
               "pool_size": MAX_CLIENTS + 4, "max_overflow": 0, "pool_timeout": 30}
    app = create_app({"TESTING": True, "SQLALCHEMY_ENGINE_OPTIONS": options, "HOLD_RATE_LIMITS_ENABLED": False})
    yield app
    with app.app_context():
        db.engine.dispose()
