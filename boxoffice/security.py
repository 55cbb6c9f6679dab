"""Security headers on every response."""
from __future__ import annotations

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
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
    response.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
