"""Rate limits on taking seats: no faster than a person clicks, per browser session and per network address.

Flask-Limiter keeps the counts in storage every worker process and every app server shares: Redis
(BOXOFFICE_REDIS_URL, default redis://127.0.0.1:6379/0; `make run` and `make test` start a local one,
.ci/ensure-redis.sh), in sliding windows. The limits are checked by `check_hold_rate` from the seat map's
view, not by a route decorator, so that a refusal is a message in the seat map's status like any other
refused hold (HTMX and plain POST alike), not a bare 429 page.

The limits are a brake, not the rule: the most seats a buyer may hold is enforced by the database
(HoldSeats). So when Redis cannot be reached the limits are skipped for RETRY_STORAGE_AFTER seconds, with a
warning in the log, rather than stopping every sale.

Settings (app.config; create_app's test_config may override them):
  HOLD_RATE_LIMITS_ENABLED    False turns the limits off (the test suite's default; tests that are about
                              them turn them on)
  HOLD_RATE_LIMIT_SESSION     per hold owner (a browser session), Flask-Limiter's notation
  HOLD_RATE_LIMIT_ADDRESS     per network address (an IPv6 address by its /64), looser: several people
                              may share one address
"""
from __future__ import annotations

import functools
import logging
import os
import time

from flask import Flask, current_app
from flask_limiter import Limiter
from limits import parse_many

from .errors import HoldTooFast
from .services.accounts import address_key

log = logging.getLogger(__name__)

SESSION_LIMITS = "4 per second; 60 per minute"
ADDRESS_LIMITS = "20 per second; 400 per minute"
# After Redis failed to answer, this many seconds go by before it is asked again.
RETRY_STORAGE_AFTER = 10.0

# No route of the box office is limited by a decorator: check_hold_rate asks the limiter's strategy itself.
limiter = Limiter(key_func=lambda: "", default_limits=[])
_storage_down_until = 0.0


def init_app(app: Flask) -> None:
    redis_url = os.environ.get("BOXOFFICE_REDIS_URL", "redis://127.0.0.1:6379/0")
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url)
    # Short waits: a click must not hang on a Redis that has gone away.
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 0.3, "socket_timeout": 0.3})
    app.config.setdefault("RATELIMIT_STRATEGY", "sliding-window-counter")
    # Each database (the test suites' ones too) counts on its own.
    app.config.setdefault("RATELIMIT_KEY_PREFIX", f"boxoffice:{app.config['DATABASE'].name}")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    app.config.setdefault("HOLD_RATE_LIMITS_ENABLED", True)
    app.config.setdefault("HOLD_RATE_LIMIT_SESSION", SESSION_LIMITS)
    app.config.setdefault("HOLD_RATE_LIMIT_ADDRESS", ADDRESS_LIMITS)
    limiter.init_app(app)


def check_hold_rate(owner: str, address: str | None) -> None:
    """Count one more hold by this hold owner and from this address. Raises HoldTooFast (and counts
    nothing more) when either has been taking seats faster than a person clicks."""
    global _storage_down_until
    config = current_app.config
    if not config["HOLD_RATE_LIMITS_ENABLED"] or time.monotonic() < _storage_down_until:
        return
    prefix = config["RATELIMIT_KEY_PREFIX"]
    checks = [(config["HOLD_RATE_LIMIT_SESSION"], "session", owner)]
    if address:
        checks.append((config["HOLD_RATE_LIMIT_ADDRESS"], "address", address_key(address)))
    try:
        for limits, kind, who in checks:
            for item in _parsed(limits):
                if not limiter.limiter.hit(item, prefix, "hold", kind, who):
                    raise HoldTooFast()
    except HoldTooFast:
        raise
    except Exception as failure:  # noqa: BLE001 (redis-py's errors, whatever the storage raises)
        _storage_down_until = time.monotonic() + RETRY_STORAGE_AFTER
        log.warning("Rate-limit storage unreachable, hold limits skipped for %.0f s: %s", RETRY_STORAGE_AFTER, failure)


@functools.lru_cache(maxsize=16)
def _parsed(limits: str) -> list:
    return parse_many(limits)
