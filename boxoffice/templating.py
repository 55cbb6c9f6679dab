"""Template helpers: one way to render a page or, for an HTMX request, one named block of it."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from flask import Flask, Response, current_app, make_response, render_template
from jinja2_fragments.flask import render_block

from .extensions import htmx


def wants_fragment() -> bool:
    """HTMX asking for a part of the page (not boosting a navigation, not restoring history)."""
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def render_page(template: str, fragment: str | None = None, **context) -> Response:
    """The whole page, or only its block `fragment` when HTMX asks for a part of the page. One view, one
    template, so the fragment and the page can never disagree."""
    if fragment and wants_fragment():
        response = make_response(render_block(template, fragment, **context))
    else:
        response = make_response(render_template(template, **context))
    # The same URL answers with a page or a fragment: caches must tell them apart.
    response.vary.add("HX-Request")
    return response


def money(value: Decimal | float | int | None) -> str:
    if value is None:
        return "–"
    return f"€{Decimal(value):,.2f}"


def event_date(value: dt.datetime) -> str:
    return value.strftime("%a %d %b %Y, %H:%M")


def short_date(value: dt.datetime | dt.date) -> str:
    return value.strftime("%d %b %Y")


def endpoint_exists(endpoint: str) -> bool:
    return endpoint in current_app.view_functions


def init_app(app: Flask) -> None:
    app.jinja_env.globals["endpoint_exists"] = endpoint_exists
    app.jinja_env.globals["wants_fragment"] = wants_fragment
    app.jinja_env.filters["money"] = money
    app.jinja_env.filters["event_date"] = event_date
    app.jinja_env.filters["short_date"] = short_date
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
