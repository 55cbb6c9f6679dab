"""Error pages in the site's own layout, and the database's outages answered as 503, never as a 500.

Every HTTP error (404, 403, 429, ...) is drawn by templates/errors/error.html: the whole page for a
browser's request, its named block `error` (a one-line alert) for an HTMX request, as every page of the
box office is (templating.render_page). A database that cannot be reached, that stopped answering (the
read timeout of boxoffice/config.py) or that lost the connection mid-request answers 503 with Retry-After:
the person may simply try again, and a browser's HTMX poll backs off until it can (static/js/boxoffice.js).
A lock wait that timed out (error 1205) and reached a view without being turned into the domain error Busy
is Busy all the same. Any other database error is a bug and stays a 500.
"""
from __future__ import annotations

import pymysql
import sqlalchemy as sa
from flask import Flask, Response, current_app, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .errors import Busy, from_database_error
from .templating import render_page, wants_fragment

# Seconds a client should wait before asking again when the database is away.
RETRY_AFTER_UNAVAILABLE = 5
RETRY_AFTER_BUSY = 2

# The server's and the client's (CR_*) error numbers that mean the database is out of reach, not that the
# request was wrong: too many connections (1040), shutting down (1053), connection killed (1927), no
# socket / no TCP connection / unknown host (2002, 2003, 2005), gone away (2006), lost during a query or a
# read timeout (2013), out of sync after a broken answer (2014), lost at handshake or in a write (2055),
# closed by the server's idle timeout (4031).
UNAVAILABLE = {1040, 1053, 1927, 2002, 2003, 2005, 2006, 2013, 2014, 2055, 4031}

# What each error says to the person: (title, heading, text).
PAGES = {
    400: ("Bad request", "That request was not quite right",
          "Something in the address or the form could not be read. Nothing was changed."),
    403: ("Not allowed", "You may not open this page",
          "Your account does not have access to it. Sign in with another account, or go back to the events."),
    404: ("Not found", "We could not find that page",
          "The address may be mistyped, or the page has moved. Everything on sale is on the events page."),
    405: ("Not allowed", "That is not how this page works",
          "Go back and use the page's own buttons and links."),
    410: ("Gone", "This is no longer available",
          "It has expired or was withdrawn. Whoever sent you here may have a newer link."),
    429: ("Too many requests", "Slow down a little",
          "We received a lot of requests from you in a short time. Please wait a moment and try again."),
    500: ("Something went wrong", "Something went wrong on our side",
          "The error has been logged. Please try again in a moment."),
    503: ("Back soon", "The box office is not answering right now",
          "We could not reach our ticket system just now. Please try again in a moment; "
          "nothing needs to be done on your side."),
}


def _page(code: int, text: str | None = None, headers: dict | None = None) -> Response:
    title, heading, default_text = PAGES.get(code, PAGES[500 if code >= 500 else 400])
    # Trying again makes sense for our faults, and only for a page (a form posted again is the person's call).
    retry_url = request.url if code >= 500 and request.method == "GET" else None
    response = render_page("errors/error.html", fragment="error", code=code, title=title, heading=heading,
                           text=text or default_text, retry_url=retry_url, as_fragment=wants_fragment())
    response.status_code = code
    response.headers.update(headers or {})
    return response


def database_unavailable(error: BaseException) -> bool:
    """Whether a database error (SQLAlchemy's, or PyMySQL's own from a raw connection) means the server is
    out of reach: unreachable, stalled, restarted."""
    if isinstance(error, (sa.exc.InterfaceError, sa.exc.TimeoutError, sa.exc.DisconnectionError)):
        return True
    if isinstance(error, sa.exc.DBAPIError):
        if error.connection_invalidated:
            return True
        error = error.orig
    if isinstance(error, pymysql.err.InterfaceError):
        return True
    args = getattr(error, "args", ())
    return isinstance(error, pymysql.err.Error) and bool(args) and args[0] in UNAVAILABLE


def unavailable_page(error: BaseException | None = None) -> Response:
    if error is not None:
        current_app.logger.warning("Database unavailable for %s %s: %s", request.method, request.path, error)
    return _page(503, headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE)})


def busy_page(error: Busy) -> Response:
    return _page(503, text=error.message, headers={"Retry-After": str(RETRY_AFTER_BUSY)})


def http_error_page(error: HTTPException) -> Response | HTTPException:
    if error.code is None or error.code < 400:
        return error
    # A description a view gave (abort(400, description=...)) is for the person; werkzeug's own are not,
    # nor Flask-WTF's ("The CSRF token has expired.").
    if isinstance(error, CSRFError):
        text = "This form has expired. Go back, reload the page and try again; nothing was changed."
    else:
        text = error.description if error.description != type(error).description else None
    headers = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    try:
        return _page(error.code, text, headers)
    except (sa.exc.DBAPIError, sa.exc.TimeoutError) as failure:
        # Drawing the page asked the database (who is signed in) and it is away.
        if not database_unavailable(failure):
            raise
        return unavailable_page(failure)


def database_error_page(error: sa.exc.SQLAlchemyError | pymysql.err.Error) -> Response:
    refusal = from_database_error(error) if isinstance(error, sa.exc.DBAPIError) else None
    if isinstance(refusal, Busy):
        return busy_page(refusal)
    if database_unavailable(error):
        return unavailable_page(error)
    # A real fault: Flask logs it and answers with the 500 page below (or, in tests, raises it).
    raise error


def internal_error_page(error: InternalServerError) -> Response:
    original = error.original_exception
    if original is not None and database_unavailable(original):
        return unavailable_page(original)
    return _page(500)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error_page)
    app.register_error_handler(InternalServerError, internal_error_page)
    app.register_error_handler(sa.exc.OperationalError, database_error_page)
    app.register_error_handler(sa.exc.InterfaceError, database_error_page)
    app.register_error_handler(sa.exc.TimeoutError, database_error_page)
    app.register_error_handler(pymysql.err.OperationalError, database_error_page)
    app.register_error_handler(pymysql.err.InterfaceError, database_error_page)
    app.register_error_handler(Busy, busy_page)
