"""Security headers on every response."""
from __future__ import annotations

from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request

# Scripts and styles only from our own bundles; no inline script, no eval, no third-party origin.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
# Stripe's own origins beside Stripe.js's: its API (card element calls) and its 3-D Secure frames.
STRIPE_ORIGINS = {"https://js.stripe.com": ("https://api.stripe.com", "https://hooks.stripe.com")}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@lru_cache(maxsize=4)
def content_security_policy(stripe_settings=None) -> str:
    """The policy; with Stripe configured, its script, the frames of its card element and 3-D Secure, and
    the API its script calls are allowed too (the origins of BOXOFFICE_STRIPE_JS_URL and _API_BASE, or
    Stripe's own), and nothing else."""
    if stripe_settings is None:
        return CONTENT_SECURITY_POLICY
    script = _origin(stripe_settings.js_url)
    extra = STRIPE_ORIGINS.get(script, ())
    api = _origin(stripe_settings.api_base) if stripe_settings.api_base else None
    connect = " ".join(dict.fromkeys(o for o in (script, api, *extra) if o))
    frames = " ".join(dict.fromkeys((script, *extra)))
    return CONTENT_SECURITY_POLICY.replace("script-src 'self'", f"script-src 'self' {script}").replace(
        "connect-src 'self'", f"connect-src 'self' {connect}") + f"; frame-src {frames}"


# Pages about one person (their account, orders, e-tickets and QR codes, checkout, the back office, a
# shared dashboard's secret link): never kept by the browser's cache or a proxy, so the next person at a
# shared computer cannot bring them back with the Back button.
PERSONAL_PATHS = ("/account/", "/checkout/", "/admin/", "/shared/", "/orders/")
# Browsers that once reached the site over HTTPS refuse plain HTTP to it for a year (production only: a
# developer's http://127.0.0.1 must keep working).
STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"


def add_security_headers(response: Response) -> Response:
    if request.path.startswith(PERSONAL_PATHS) and "no-store" not in response.headers.get("Cache-Control", ""):
        response.headers["Cache-Control"] = "no-store"
    if current_app.config.get("BOXOFFICE_ENV") == "production":
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    response.headers.setdefault("Content-Security-Policy", content_security_policy(current_app.config.get("STRIPE")))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
