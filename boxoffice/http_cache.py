"""Who may keep a page, and for how long; and seat maps answered "304 Not Modified" when nothing changed.

Pages anyone may be shown (the catalogue, an event page, the seat map's poll) are kept for a second by any
cache, nginx's micro-cache and the browser's, when they were asked for by someone who only looks: a request
without a cookie, for which the view started no session. Anyone else (signed in, holding seats) gets
them private to their browser, which asks again every time, with the page's ETag. A shared copy is gzipped
here, once, for the client that takes gzip: caches keep and serve the compressed bytes.

An event page and a poll answer carry a weak ETag naming what they show: the seat version and time of the map
(`version.milliseconds`, as the poll's `v` and `t` do) and a digest of everything else the answer depends on
(the address asked for, page or fragment, the event's details, prices and sale state, who is asking, and the
release drawing it). A request whose If-None-Match names a copy with the same digest, and whose map has not
changed since (one round trip: seatmap.map_state, the poll's own check), is answered 304 without drawing
anything. Any app server can check any other's tag: nothing in it is kept by a process.
"""
from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import re
from functools import cache, wraps
from typing import Callable

from flask import Response, current_app, make_response, request, session

from .config import PROJECT_ROOT
from .services import seatmap

# How long a shared cache may keep a page for people who only look: a change on the seat map is never
# hidden from them for longer (docs/deployment.md, "The micro-cache").
SHARED_SECONDS = 1
SHARED = f"public, max-age={SHARED_SECONDS}"
# Someone's own copy: kept by their browser only, and asked about again (If-None-Match) before each use.
PRIVATE = "private, no-cache"
# Shared copies are compressed once by the app (nginx's own gzip, for everything else, is level 5 too).
GZIP_LEVEL = 5
# What draws a page: a new release is a new tag, even when no seat moved.
RELEASE_SOURCES = ("templates", "boxoffice", "storefront", "static/css", "static/js")
_TAG = re.compile(r"(\d{1,20})\.(\d{1,15})\.([0-9a-f]{16})")
_EPOCH = dt.datetime(1970, 1, 1)
_MILLISECOND = dt.timedelta(milliseconds=1)


@cache
def release() -> str:
    """A digest of the templates, code and styles this process draws pages with (read once)."""
    digest = hashlib.sha256()
    for folder in RELEASE_SOURCES:
        for path in sorted((PROJECT_ROOT / folder).rglob("*")):
            if path.is_file() and path.suffix in (".html", ".py", ".css", ".js"):
                digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()


def only_looking() -> bool:
    """Whether the request comes from someone who only looks: it carries no cookie at all (no session, no
    remember-me, no waiting-room admission: nginx's micro-cache asks the same), and nothing was put in a
    session while answering it."""
    return not request.cookies and not session


def _gzipped(response: Response) -> None:
    """The body compressed here, once, for a copy that caches will share: nginx keeps it compressed and
    serves it to every visitor (unpacking it for the rare client without gzip), instead of compressing the
    same page again for each of them. (mtime=0: the same page, the same bytes.)"""
    response.set_data(gzip.compress(response.get_data(), compresslevel=GZIP_LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"


def shared_briefly(view: Callable) -> Callable:
    """For a page anyone may be shown: `Cache-Control: public, max-age=1` for people who only look (and the
    body gzipped, if the client takes it), private for anyone else. Either way `Vary: Cookie`: a cache keeps
    the cookieless copy apart."""

    @wraps(view)
    def wrapped(*args, **kwargs) -> Response:
        response = make_response(view(*args, **kwargs))
        if response.status_code in (200, 204, 304):
            shared = only_looking()
            response.headers["Cache-Control"] = SHARED if shared else PRIVATE
            response.vary.add("Cookie")
            if response.status_code == 200:
                response.vary.add("Accept-Encoding")
                if shared and request.accept_encodings["gzip"] and not response.direct_passthrough:
                    _gzipped(response)
        return response

    return wrapped


def digest(*parts) -> str:
    """What else an answer depends on besides the seat map, in 16 hex digits: `parts`, the address asked for,
    page or fragment, the messages waiting to be shown (flashes) and the release."""
    return hashlib.sha256(repr((release(), request.full_path, request.headers.get("HX-Request"),
                                session.get("_flashes"), *parts)).encode()).hexdigest()[:16]


def _milliseconds(as_of: dt.datetime) -> int:
    return (as_of - _EPOCH) // _MILLISECOND


def tagged(response: Response, version: int, as_of: dt.datetime, context: str) -> Response:
    """`response` with the weak ETag of a map at `version` and `as_of`, drawn in `context` (digest())."""
    response.set_etag(f"{version}.{_milliseconds(as_of)}.{context}", weak=True)
    return response


def not_modified(event_id: int, context: str) -> Response | None:
    """304 Not Modified when the request's If-None-Match names a copy drawn in `context` whose map has not
    changed since (seatmap.map_state); None otherwise (draw the answer). A page with a message waiting to be
    shown (a flash) is always drawn, and its tag is its own (digest). So is every page of a debug server,
    whose templates change under a release() read once."""
    if not request.if_none_match or session.get("_flashes") or current_app.debug:
        return None
    for tag in request.if_none_match.as_set(include_weak=True):
        found = _TAG.fullmatch(tag)
        if found is None or found.group(3) != context:
            continue
        version, as_of = int(found.group(1)), _EPOCH + int(found.group(2)) * _MILLISECOND
        state = seatmap.map_state(event_id, version, as_of)
        if state is not None and not state.changed:
            return tagged(Response(status=304), version, as_of, context)
    return None
