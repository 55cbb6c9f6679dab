"""Rate limits: taking seats no faster than a person clicks (per browser session and per network address), and
looking orders up by e-mail and booking code no faster than a person types (per e-mail and address, and per
address, as sign-in counts tries).

The `limits` library keeps the counts in storage every worker process and every app server shares: Redis
(BOXOFFICE_REDIS_URL, default redis://127.0.0.1:6379/0; `make run` and `make test` start a local one,
.ci/ensure-redis.sh), in sliding windows. The limits are checked by `check_hold_rate` from the seat map's
view and `check_order_lookup_rate` from the order look-up's, not by a route decorator, so that a refusal is
a message where the person is looking (the seat map's status, the look-up form's field), not a bare 429
page; and no other request pays for them (an extension for decorated routes runs hooks on every request
of the site).

The limits are a brake, not the rule: the most seats a buyer may hold is enforced by the database
(HoldSeats), and a booking code cannot be guessed in any number of tries. So when Redis cannot be reached
the limits are skipped for RETRY_STORAGE_AFTER seconds, with a warning in the log, rather than stopping
every sale.

Settings (app.config; create_app's test_config may override them):
  HOLD_RATE_LIMITS_ENABLED    False turns the limits off (the test suite's default; tests that are about
                              them turn them on)
  HOLD_RATE_LIMIT_SESSION     per hold owner (a browser session), in the `limits` notation
  HOLD_RATE_LIMIT_ADDRESS     per network address (an IPv6 address by its /64), looser: several people
                              may share one address
  ORDER_LOOKUP_LIMITS_ENABLED False turns the order look-up's limits off (the test suite's default)
  ORDER_LOOKUP_LIMIT          per e-mail looked up from one address
  ORDER_LOOKUP_LIMIT_ADDRESS  per network address, at any e-mails (looser, for people sharing an address)
  RATE_LIMIT_STORAGE          the storage's URI (BOXOFFICE_REDIS_URL)
  RATE_LIMIT_PREFIX           the prefix of the counts' keys (each database, the test suites' too, counts
                              on its own)
"""
from __future__ import annotations

import functools
import hashlib
import logging
import os
import time

from flask import Flask, current_app
from limits import parse_many, storage, strategies

from .errors import HoldTooFast, LookupTooFast
from .services.accounts import address_key

log = logging.getLogger(__name__)

SESSION_LIMITS = "4 per second; 60 per minute"
ADDRESS_LIMITS = "20 per second; 400 per minute"
LOOKUP_LIMITS = "5 per minute; 20 per hour"
LOOKUP_ADDRESS_LIMITS = "20 per minute; 100 per hour"
# After Redis failed to answer, this many seconds go by before it is asked again.
RETRY_STORAGE_AFTER = 10.0

_storage_down_until = 0.0


def init_app(app: Flask) -> None:
    app.config.setdefault("RATE_LIMIT_STORAGE", os.environ.get("BOXOFFICE_REDIS_URL", "redis://127.0.0.1:6379/0"))
    app.config.setdefault("RATE_LIMIT_PREFIX", f"boxoffice:{app.config['DATABASE'].name}")
    app.config.setdefault("HOLD_RATE_LIMITS_ENABLED", True)
    app.config.setdefault("HOLD_RATE_LIMIT_SESSION", SESSION_LIMITS)
    app.config.setdefault("HOLD_RATE_LIMIT_ADDRESS", ADDRESS_LIMITS)
    app.config.setdefault("ORDER_LOOKUP_LIMITS_ENABLED", True)
    app.config.setdefault("ORDER_LOOKUP_LIMIT", LOOKUP_LIMITS)
    app.config.setdefault("ORDER_LOOKUP_LIMIT_ADDRESS", LOOKUP_ADDRESS_LIMITS)
    # Short waits: a click must not hang on a Redis that has gone away. (Nothing connects until the first
    # count.)
    counts = storage.storage_from_string(app.config["RATE_LIMIT_STORAGE"], socket_connect_timeout=0.3,
                                         socket_timeout=0.3)
    app.extensions["rate_limiter"] = strategies.SlidingWindowCounterRateLimiter(counts)


def rate_limiter() -> strategies.RateLimiter:
    """The counts' sliding windows in the shared storage, for this app."""
    return current_app.extensions["rate_limiter"]


def check_hold_rate(owner: str, address: str | None) -> None:
    """Count one more hold by this hold owner and from this address. Raises HoldTooFast (and counts
    nothing more) when either has been taking seats faster than a person clicks."""
    config = current_app.config
    if not config["HOLD_RATE_LIMITS_ENABLED"]:
        return
    checks = [(config["HOLD_RATE_LIMIT_SESSION"], ("hold", "session", owner))]
    if address:
        checks.append((config["HOLD_RATE_LIMIT_ADDRESS"], ("hold", "address", address_key(address))))
    if _refused_after(checks) is not None:
        raise HoldTooFast()


def check_order_lookup_rate(email: str, address: str | None) -> None:
    """Count one look-up of an order by the e-mail it was bought with, from this address: per e-mail and
    address, and per address at any e-mails (so one person mistyping a code is not held back by a crowd
    behind the same address, and nobody can try a thousand e-mails). Raises LookupTooFast, saying how long
    to wait, when either has run out."""
    config = current_app.config
    if not config["ORDER_LOOKUP_LIMITS_ENABLED"]:
        return
    where = address_key(address) if address else "?"
    # The e-mail is counted under a digest: the shared storage holds no one's address.
    email_key = hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]
    wait = _refused_after([(config["ORDER_LOOKUP_LIMIT"], ("lookup", "email", email_key, where)),
                           (config["ORDER_LOOKUP_LIMIT_ADDRESS"], ("lookup", "address", where))])
    if wait is not None:
        raise LookupTooFast(wait)


def _refused_after(checks: list[tuple[str, tuple[str, ...]]]) -> int | None:
    """Count one hit against each (limits, key) in order, stopping at the first that is used up: None if
    every one allowed it, else the seconds until that one allows a hit again. Nothing is refused while the
    storage is away (see above)."""
    global _storage_down_until
    if time.monotonic() < _storage_down_until:
        return None
    prefix, counter = current_app.config["RATE_LIMIT_PREFIX"], rate_limiter()
    try:
        for limits, key in checks:
            for item in _parsed(limits):
                if not counter.hit(item, prefix, *key):
                    reset_at = counter.get_window_stats(item, prefix, *key).reset_time
                    return max(1, int(reset_at - time.time() + 0.999))
    except Exception as failure:  # noqa: BLE001 (redis-py's errors, whatever the storage raises)
        _storage_down_until = time.monotonic() + RETRY_STORAGE_AFTER
        log.warning("Rate-limit storage unreachable, limits skipped for %.0f s: %s", RETRY_STORAGE_AFTER, failure)
    return None


@functools.lru_cache(maxsize=16)
def _parsed(limits: str) -> list:
    return parse_many(limits)
