"""Cross-site request forgery refused without a session for people who only look.

A request that changes something (POST, PUT, PATCH, DELETE) is accepted only from a page of this site. Every
current browser says where a request comes from, in headers a page cannot forge:

* `Sec-Fetch-Site` (Chrome 76, Firefox 90, Safari 16.4 and later): `same-origin`, or `none` (the person
  typed it), is accepted; `cross-site` and `same-site` (a sibling subdomain is another site) are refused;
* without it, `Origin` (sent with every POST by browsers for longer still) must name this host;
* with neither (a browser older than both, or a program that is not a browser) the request must carry
  Flask-WTF's token, tied to the session: the classic defence, kept as the fallback.

So the storefront needs no session, and no cookie, for anyone who only looks: pages show the token only to
people who already have a session (signed in, or holding seats). Drawing it for everyone would start a
session on every page, and no shared cache (nginx's micro-cache, a CDN) could keep a page that sets a
cookie. The session and remember-me cookies are SameSite=Lax besides, so a forged cross-site POST never
carries them. This is the rule of Go's `net/http.CrossOriginProtection` (Go 1.25) and of Rails'
`protect_from_forgery` since it reads Sec-Fetch-Site; docs/deployment.md says why it was chosen over a token
fetched on the first interaction.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, g, request, session
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect, _FlaskFormCSRF, generate_csrf

# Sec-Fetch-Site values of a request made by this site's own pages, or typed by the person.
OWN_SITE = frozenset({"same-origin", "none"})


def verdict() -> bool | None:
    """Whether the browser says the request comes from this site (True), from another (False), or does not
    say (None: neither Sec-Fetch-Site nor Origin)."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in OWN_SITE
    origin = request.headers.get("Origin")
    if origin is not None:
        # "null" (a sandboxed frame, a redirect from elsewhere) has no host, so it never matches. The host is
        # compared with the port: nginx passes the client's Host header on as it came ($http_host).
        return urlsplit(origin).netloc == request.host
    return None


class CrossOriginProtect(CSRFProtect):
    """Flask-WTF's CSRFProtect (its exemptions, WTF_CSRF_ENABLED, CSRFError) with the browser's word first:
    the token is asked for only when the browser says nothing."""

    def init_app(self, app) -> None:
        super().init_app(app)
        # Templates' csrf_token() draws form_token: Flask-WTF's context processor hands out its generate_csrf,
        # this one, registered after it, wins.
        app.context_processor(lambda: {"csrf_token": form_token})
        app.jinja_env.globals["csrf_token"] = form_token
        # So does every FlaskForm's hidden token field. Set on FlaskForm itself rather than on a base class of
        # ours, so that no form, present or future, can start a session by being drawn for someone who looks.
        FlaskForm.Meta.csrf_class = SessionOnlyFormCSRF

    def protect(self) -> None:
        if request.method not in current_app.config["WTF_CSRF_METHODS"]:
            return
        said = verdict()
        if said is False:
            raise CSRFError("The request came from another site.")
        if said is None:
            super().protect()
        # Every FlaskForm of this request skips its own token check (Flask-WTF's flag for "already checked").
        g.csrf_valid = True


def form_token() -> str:
    """The form token for the page being drawn: for people who already have a session; "" for anyone else,
    whose forms the browser's headers vouch for (drawing a token would start a session)."""
    return generate_csrf() if session else ""


class SessionOnlyFormCSRF(_FlaskFormCSRF):
    """A FlaskForm's hidden token field, drawn only for people who already have a session (form_token)."""

    def generate_csrf_token(self, csrf_token_field) -> str:
        return form_token()
