"""The command line (boxoffice/cli.py), run through Flask's test runner against the test database."""
from __future__ import annotations

from importlib.util import find_spec

import pytest

from boxoffice import database
from boxoffice.errors import InvalidCredentials
from boxoffice.services.accounts import authenticate_staff
from tests.builders import committed, make_event, make_venue, rows


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_db_setup_is_safe_to_run_twice_and_keeps_the_data(runner, owner_engine):
    with committed(owner_engine) as owner:
        venue = make_venue(owner)

        runs = [runner.invoke(args=["db", "setup"]) for _ in range(2)]

        assert [run.exit_code for run in runs] == [0, 0], [run.output for run in runs]
        for run in runs:
            assert f"is at schema revision {database.head_revision()}." in run.output
        assert rows(owner, "SELECT name FROM venues WHERE venue_id = :v", v=venue.venue_id) == [(venue.name,)]


def test_db_upgrade_reports_the_head_revision(runner):
    result = runner.invoke(args=["db", "upgrade"])

    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"is at schema revision {database.head_revision()}.")


def test_staff_create_makes_an_admin_who_can_sign_in(runner, db_session):
    result = runner.invoke(args=["staff", "create", "--email", "boss@example.test", "--name", "The Boss",
                                 "--password", "a long box office secret"])

    assert result.exit_code == 0, result.output
    assert "Admin boss@example.test is ready." in result.output
    staff = authenticate_staff("boss@example.test", "a long box office secret", "192.0.2.1")
    assert (staff.full_name, staff.is_admin) == ("The Boss", True)


def test_staff_create_for_an_existing_admin_replaces_the_password(runner, db_session):
    for password in ("the first secret", "the second secret"):
        runner.invoke(args=["staff", "create", "--email", "boss@example.test", "--name", "The Boss",
                            "--password", password])

    assert authenticate_staff("boss@example.test", "the second secret", "192.0.2.1").email == "boss@example.test"
    with pytest.raises(InvalidCredentials):
        authenticate_staff("boss@example.test", "the first secret", "192.0.2.1")


@pytest.mark.skipif(find_spec("boxoffice.demo_data") is None, reason="boxoffice/demo_data.py is not written yet")
def test_demo_load_if_empty_does_nothing_when_the_database_has_events(runner, owner_engine):
    with committed(owner_engine) as owner:
        make_event(owner, make_venue(owner))
        tables = ("venues", "events", "customers", "bookings", "payments")
        before = {table: rows(owner, f"SELECT COUNT(*) FROM {table}") for table in tables}

        result = runner.invoke(args=["demo", "load", "--scale", "tiny", "--if-empty"])

        assert result.exit_code == 0, result.output
        assert "already has events; demo data not loaded" in result.output
        assert {table: rows(owner, f"SELECT COUNT(*) FROM {table}") for table in tables} == before
