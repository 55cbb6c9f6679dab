"""Error pages in the site's own layout: a page for a browser, a one-line fragment for HTMX; a database that
is out of reach is a 503 with Retry-After, a lock wait that timed out is Busy, any other fault a 500."""
from __future__ import annotations

import pymysql
import pytest
import sqlalchemy as sa
from flask import abort

from boxoffice import create_app
from boxoffice.errors import Busy

HTMX = {"HX-Request": "true"}


def _database_error(errno: int, message: str) -> sa.exc.OperationalError:
    return sa.exc.OperationalError("SELECT 1", {}, pymysql.err.OperationalError(errno, message))


@pytest.fixture(scope="module")
def faulty_app(test_database):
    """The app with a few routes that fail as asked; faults answered as in production (not raised)."""
    app = create_app({"TESTING": True, "PROPAGATE_EXCEPTIONS": False})

    @app.get("/_test/abort/<int:code>")
    def aborts(code: int):
        abort(code)

    @app.get("/_test/database/<int:errno>")
    def database_fails(errno: int):
        raise _database_error(errno, "as the test asked")

    @app.get("/_test/lost")
    def connection_lost():
        raise sa.exc.InterfaceError("SELECT 1", {}, pymysql.err.InterfaceError(0, ""))

    @app.get("/_test/raw/<int:errno>")
    def raw_connection_fails(errno: int):
        raise pymysql.err.OperationalError(errno, "as the test asked")

    @app.get("/_test/busy")
    def busy():
        raise Busy()

    @app.get("/_test/bug")
    def bug():
        raise RuntimeError("a bug")

    return app


@pytest.fixture
def faulty(faulty_app, db_session):
    return faulty_app.test_client()


@pytest.mark.parametrize("code, heading", [
    (400, "That request was not quite right"), (403, "You may not open this page"),
    (404, "We could not find that page"), (410, "This is no longer available"), (429, "Slow down a little"),
    (500, "Something went wrong on our side"), (503, "The box office is not answering right now"),
])
def test_every_error_is_a_page_of_the_site_and_a_fragment_for_htmx(faulty, code, heading):
    page = faulty.get(f"/_test/abort/{code}")
    assert page.status_code == code
    html = page.get_data(as_text=True)
    assert '<header class="site-header">' in html and "<footer" in html
    assert heading in html and f"Error {code}" in html
    assert "Content-Security-Policy" in page.headers

    fragment = faulty.get(f"/_test/abort/{code}", headers=HTMX)
    assert fragment.status_code == code
    text = fragment.get_data(as_text=True)
    assert "<html" not in text and "site-header" not in text
    assert 'role="alert"' in text and heading in text


def test_an_unknown_address_is_the_branded_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "We could not find that page" in response.get_data(as_text=True)


def test_a_missing_csrf_token_says_the_form_expired(client):
    response = client.post("/account/login", data={"email": "a@b.c", "password": "x"})
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/_test/database/2003", "/_test/database/2013", "/_test/database/2006",
                                  "/_test/lost", "/_test/raw/2013"])
def test_a_database_out_of_reach_is_a_503_with_retry_after(faulty, path):
    response = faulty.get(path)
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    html = response.get_data(as_text=True)
    assert "The box office is not answering right now" in html
    # Who is signed in is not asked for: that needs the database.
    assert "Sign in" not in html and "My account" not in html


def test_a_lock_wait_timeout_that_reaches_the_top_is_busy(faulty):
    response = faulty.get("/_test/database/1205")
    assert response.status_code == 503
    assert "very busy" in response.get_data(as_text=True)
    assert faulty.get("/_test/busy").status_code == 503


@pytest.mark.parametrize("path", ["/_test/bug", "/_test/database/1142", "/_test/raw/1146"])
def test_any_other_fault_is_the_branded_500(faulty, path):
    response = faulty.get(path)
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong on our side" in html and '<header class="site-header">' in html
    assert "Retry-After" not in response.headers
