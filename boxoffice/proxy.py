"""Behind nginx (deploy/nginx.conf.template): believe the client's address and scheme that exactly the
configured number of proxies pass on (BOXOFFICE_TRUSTED_PROXIES), and no more.

Without this every request behind a proxy comes from the proxy's address, so the hold rate limits, the fair
holds' address count and the sign-in throttle would count every buyer as one. With it, `request.remote_addr`
is the address the nearest trusted proxy saw (the last of X-Forwarded-For's values that many hops from the
end) and `request.scheme` its X-Forwarded-Proto. A client's own X-Forwarded-For is never believed: nginx
appends the address it saw, and only that last value is taken. The Host is never taken from a header (mail
links use BOXOFFICE_BASE_URL).
"""
from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask) -> None:
    hops = app.config.get("TRUSTED_PROXIES", 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)
