"""Configuration from the environment, with safe defaults for a developer's machine.

Every database URL can be given whole (DATABASE_URL, DATABASE_OWNER_URL, DATABASE_REPORTS_URL,
DATABASE_SUPERUSER_URL); otherwise they are built from BOXOFFICE_DB (the database name, which also
prefixes the three user names), BOXOFFICE_DB_HOST/PORT and the three *_PASSWORD variables.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from flask.helpers import get_debug_flag
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class DatabaseSettings:
    """The three database users of the box office and the server account that creates them."""

    owner_url: URL
    app_url: URL
    reports_url: URL
    superuser_url: URL | None

    @property
    def name(self) -> str:
        return self.app_url.database

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "DatabaseSettings":
        env = dict(os.environ if env is None else env)
        name = env.get("BOXOFFICE_DB", "boxoffice")
        host = env.get("BOXOFFICE_DB_HOST", "127.0.0.1")
        port = int(env.get("BOXOFFICE_DB_PORT", "3306"))

        def built(role: str, default_password: str) -> URL:
            return URL.create(
                "mysql+pymysql",
                username=f"{name}_{role}",
                password=env.get(f"BOXOFFICE_DB_{role.upper()}_PASSWORD", default_password),
                host=host,
                port=port,
                database=name,
            )

        def url(var: str, role: str, default_password: str) -> URL:
            return make_url(env[var]) if env.get(var) else built(role, default_password)

        superuser = env.get("DATABASE_SUPERUSER_URL", f"mysql+pymysql://root@{host}:{port}/")
        return cls(
            owner_url=url("DATABASE_OWNER_URL", "owner", "owner-dev-password"),
            app_url=url("DATABASE_URL", "app", "app-dev-password"),
            reports_url=url("DATABASE_REPORTS_URL", "reports", "reports-dev-password"),
            superuser_url=make_url(superuser) if superuser else None,
        )


SMTP_TLS_MODES = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP server the outbox is delivered through (boxoffice/services/mail.py)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: str = "none"  # one of SMTP_TLS_MODES
    timeout: float = 20.0  # seconds for connecting and for each reply

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "SmtpSettings | None":
        """The settings from BOXOFFICE_SMTP_*; None when BOXOFFICE_SMTP_HOST is unset (mail is not delivered:
        it stays queued in the outbox)."""
        env = dict(os.environ if env is None else env)
        host = env.get("BOXOFFICE_SMTP_HOST", "").strip()
        if not host:
            return None
        tls = env.get("BOXOFFICE_SMTP_TLS", "none").strip().lower() or "none"
        if tls not in SMTP_TLS_MODES:
            raise RuntimeError(f"BOXOFFICE_SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, not {tls!r}.")
        return cls(host=host, port=int(env.get("BOXOFFICE_SMTP_PORT") or (465 if tls == "ssl" else 25)),
                   username=env.get("BOXOFFICE_SMTP_USERNAME") or None,
                   password=env.get("BOXOFFICE_SMTP_PASSWORD") or None, tls=tls)


PAYMENT_PROVIDERS = ("simulated", "stripe")
STRIPE_JS_URL = "https://js.stripe.com/v3/"


@dataclass(frozen=True)
class StripeSettings:
    """The Stripe account the card payments go to (boxoffice/services/stripe_gateway.py)."""

    secret_key: str
    publishable_key: str
    webhook_secret: str
    api_base: str | None = None  # a local server (localstripe) instead of https://api.stripe.com
    js_url: str = STRIPE_JS_URL  # Stripe.js, or a local server's mock of it
    timeout: float = 10.0  # seconds for connecting and for each answer


def _payment_provider(production: bool) -> tuple[str, StripeSettings | None]:
    """BOXOFFICE_PAYMENT_PROVIDER and, for stripe, its BOXOFFICE_STRIPE_* settings."""
    provider = os.environ.get("BOXOFFICE_PAYMENT_PROVIDER", "").strip().lower() or "simulated"
    if provider not in PAYMENT_PROVIDERS:
        raise ConfigurationError(f"BOXOFFICE_PAYMENT_PROVIDER is who takes card payments: one of "
                                 f"{', '.join(PAYMENT_PROVIDERS)}; not {provider!r}.")
    if provider == "simulated":
        return provider, None
    values = {name: os.environ.get(f"BOXOFFICE_STRIPE_{name.upper()}", "").strip()
              for name in ("secret_key", "publishable_key", "webhook_secret", "api_base", "js_url")}
    rules = {"secret_key": ("sk_", "rk_"), "publishable_key": ("pk_",), "webhook_secret": ("whsec_",)}
    for name, prefixes in rules.items():
        if not values[name].startswith(prefixes):
            raise ConfigurationError(f"BOXOFFICE_STRIPE_{name.upper()} is needed with BOXOFFICE_PAYMENT_PROVIDER=stripe: "
                                     f"the key from Stripe's dashboard, starting with {' or '.join(prefixes)}.")
    live = values["secret_key"].startswith(("sk_live_", "rk_live_"))
    if live != values["publishable_key"].startswith("pk_live_"):
        raise ConfigurationError("BOXOFFICE_STRIPE_SECRET_KEY and BOXOFFICE_STRIPE_PUBLISHABLE_KEY must both be "
                                 "test keys or both live keys.")
    for name in ("api_base", "js_url"):
        url = values[name]
        if url and (not url.startswith(("https://", "http://")) or (production and not url.startswith("https://"))):
            raise ConfigurationError(f"BOXOFFICE_STRIPE_{name.upper()} is an address starting with "
                                     f"{'https://' if production else 'https:// or http://'}; not {url!r}.")
    return provider, StripeSettings(values["secret_key"], values["publishable_key"], values["webhook_secret"],
                                    values["api_base"].rstrip("/") or None, values["js_url"] or STRIPE_JS_URL)


# How long a database may keep the storefront waiting, in seconds. A stalled or unreachable server must
# become an error (and a 503 page, boxoffice/error_pages.py) well within 5 s, never a hang until gunicorn
# kills the worker. Connecting: the TCP connect (the handshake's reads count as reads). Reading and writing:
# every packet; every storefront statement answers in milliseconds. A lock not granted within
# LOCK_WAIT_SECONDS is error 1205, the domain error Busy: row locks (innodb_lock_wait_timeout) and
# metadata locks such as a FLUSH TABLES WITH READ LOCK (lock_wait_timeout). It is shorter than the read
# timeout, so that the server's refusal arrives before the client gives up on the connection.
CONNECT_TIMEOUT = 2
READ_WRITE_TIMEOUT = 4
LOCK_WAIT_SECONDS = 3
# The reports bind (the dashboards, the business questions, their CSV exports) reads summary tables: under
# 100 ms a statement at the 95th percentile on a million tickets (docs/benchmarks.md), but a cold buffer
# pool on a large database can take seconds, and only staff wait for them. So it may take 10 s, still far
# inside gunicorn's 30 s worker timeout: a stalled database is a 503 there too, never a killed worker.
REPORTS_READ_WRITE_TIMEOUT = 10


def _engine_options(read_write_timeout: int = READ_WRITE_TIMEOUT) -> dict:
    init_command = (f"SET time_zone = '+00:00', innodb_lock_wait_timeout = {LOCK_WAIT_SECONDS}, "
                    f"lock_wait_timeout = {LOCK_WAIT_SECONDS}")
    connect_args: dict = {"init_command": init_command, "charset": "utf8mb4", "connect_timeout": CONNECT_TIMEOUT,
                          "read_timeout": read_write_timeout, "write_timeout": read_write_timeout}
    ca = os.environ.get("BOXOFFICE_DB_SSL_CA")
    if ca:
        # Managed MySQL (e.g. Amazon RDS): verify the server and its host name against its CA bundle. The
        # CA goes in ssl_ca: PyMySQL builds its own ssl settings from the ssl_* arguments and drops an
        # `ssl` dict given beside them (tests/faults/test_tls_connections.py).
        connect_args["ssl_ca"] = ca
        connect_args["ssl_verify_cert"] = True
        connect_args["ssl_verify_identity"] = True
    # No pool_pre_ping: it costs a round trip every time a connection leaves the pool, which is every
    # commit of a request. Instead boxoffice/dbapi.py looks at the socket when a connection leaves the
    # pool (a system call, no round trip): one the server closed (a restart, a kill, wait_timeout) is
    # replaced before the request uses it. pool_recycle replaces connections before the server's idle
    # timeout (wait_timeout, 8 hours by default) would close them anyway.
    return {"pool_recycle": 1800, "connect_args": connect_args}


def _development_secret_key() -> str:
    """A random key made once per checkout and kept in instance/ (ignored by git): no well-known key
    ever signs a cookie, and every worker process of one server shares the key."""
    path = PROJECT_ROOT / "instance" / "secret_key"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


class ConfigurationError(RuntimeError):
    """A setting in the environment the box office cannot run with; the message names it and says what it
    may be. Raised when the app is made, so a bad value stops the start instead of breaking pages later."""


def _number(name: str, default: str, low: float, high: float, meaning: str, *, whole: bool = True) -> int | float:
    """The setting `name` as a number from `low` to `high` (`default` when unset or empty)."""
    text = os.environ.get(name, "").strip() or default
    try:
        value = int(text) if whole else float(text)
    except ValueError:
        value = None
    # NaN is never within the range.
    if value is None or not low <= value <= high:
        kind = "a whole number" if whole else "a number"
        raise ConfigurationError(f"{name} is {meaning}: {kind} from {low:g} to {high:g}, not {text!r}.")
    return value


def _environment() -> str:
    env = os.environ.get("BOXOFFICE_ENV", "").strip() or "development"
    if env not in ("development", "production"):
        raise ConfigurationError(f"BOXOFFICE_ENV must be development or production, not {env!r}.")
    return env


def _base_url(production: bool) -> str:
    url = os.environ.get("BOXOFFICE_BASE_URL", "").strip() or "http://127.0.0.1:5000"
    if not url.startswith(("https://", "http://")) or (production and not url.startswith("https://")):
        schemes = "https://" if production else "https:// or http://"
        raise ConfigurationError(f"BOXOFFICE_BASE_URL is the site's address for the links in mail, starting "
                                 f"with {schemes}; not {url!r}.")
    return url.rstrip("/")


def _replica_binds() -> dict:
    """DATABASE_REPLICA_URL: the reporting user on a read replica of the database (GTID replication, or a
    managed read replica). When set, the reports read there, unless it lags more than REPLICA_MAX_LAG
    seconds (boxoffice/services/replica.py); seat maps, checkout and everything else read the primary."""
    text = os.environ.get("DATABASE_REPLICA_URL", "").strip()
    if not text:
        return {}
    try:
        url = make_url(text)
    except ArgumentError:
        url = None
    if url is None or not url.drivername.startswith("mysql") or not url.database:
        raise ConfigurationError("DATABASE_REPLICA_URL is the reporting user's URL on the replica, e.g. "
                                 "mysql+pymysql://boxoffice_reports:...@replica:3306/boxoffice; not a URL like that.")
    return {"reports_replica": {"url": url, **_engine_options(REPORTS_READ_WRITE_TIMEOUT)}}


def load_config() -> dict:
    """Flask settings read from the environment. Raises ConfigurationError for a value out of range."""
    database = DatabaseSettings.from_env()
    secret = os.environ.get("SECRET_KEY")
    env = _environment()
    production = env == "production"
    if production and not secret:
        raise ConfigurationError("SECRET_KEY must be set when BOXOFFICE_ENV=production.")
    payment_provider, stripe_settings = _payment_provider(production)
    return {
        "DATABASE": database,
        "SQLALCHEMY_DATABASE_URI": database.app_url,
        "SQLALCHEMY_BINDS": {"reports": {"url": database.reports_url, **_engine_options(REPORTS_READ_WRITE_TIMEOUT)},
                             **_replica_binds()},
        # Past this lag the reports leave the replica for the primary; below it they say "figures as of".
        "REPLICA_MAX_LAG": _number("BOXOFFICE_REPLICA_MAX_LAG", "60", 1, 86400,
                                   "the seconds a replica may lag before the reports read the primary"),
        # Proxies in front of the app (nginx: 1) whose X-Forwarded-For and -Proto are believed, so that rate
        # limits and the sign-in throttle count the buyer's address, not the proxy's (boxoffice/proxy.py).
        "TRUSTED_PROXIES": _number("BOXOFFICE_TRUSTED_PROXIES", "0", 0, 5,
                                   "how many proxies in front of the app pass the client's address on (0: none)"),
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(),
        "SECRET_KEY": secret or _development_secret_key(),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": production,
        "REMEMBER_COOKIE_SECURE": production,
        # Never sent with a request another site makes (a second line behind boxoffice/csrf.py).
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "BOXOFFICE_ENV": env,
        "HOLD_MINUTES": _number("BOXOFFICE_HOLD_MINUTES", "10", 1, 60, "how long a seat hold lasts, in minutes"),
        # The most seats held at once from one network address, for one event, by everyone behind it: several
        # buyers may share an address (a household, an office, a mobile carrier's NAT), each up to the
        # event's seats per order (boxoffice/services/holds.py).
        "HOLD_SEATS_PER_ADDRESS": _number("BOXOFFICE_HOLD_SEATS_PER_ADDRESS", "40", 1, 100000,
                                          "how many seats one network address may hold at once for one event"),
        # How long seats offered to the first in a waiting line are kept for them (boxoffice/services/holds.py).
        "WAITING_LIST_OFFER_MINUTES": _number("BOXOFFICE_WAITING_LIST_OFFER_MINUTES", "30", 5, 1440,
                                              "how long a waiting-list offer lasts, in minutes"),
        # How long an admission through an event's on-sale waiting room lasts: choosing seats, holding them
        # and paying (boxoffice/services/waiting_room.py).
        "WAITING_ROOM_ADMISSION_MINUTES": _number("BOXOFFICE_WAITING_ROOM_ADMISSION_MINUTES", "30", 5, 240,
                                                  "how long an admission through a waiting room lasts, in minutes"),
        # The box office's window (a check-in without a door) admits a ticket from this many hours before its
        # show starts to the end of the show's day (boxoffice/services/checkin.py).
        "CHECK_IN_HOURS_BEFORE": _number("BOXOFFICE_CHECK_IN_HOURS_BEFORE", "4", 0, 23,
                                         "how many hours before the start the window admits a ticket"),
        # Seconds between runs of the once-only jobs (reconciler, mail sender) in each process; 0: not run
        # in-process (run `flask jobs run` from cron or a timer instead). See boxoffice/jobs.py.
        # Who may read /metrics besides this machine: a bearer token (unset: this machine only).
        "METRICS_TOKEN": os.environ.get("BOXOFFICE_METRICS_TOKEN") or None,
        "JOBS_INTERVAL": _number("BOXOFFICE_JOBS_INTERVAL", "30", 0, 86400,
                                 "the seconds between runs of the jobs (0: not run in-process)", whole=False),
        "CATALOGUE_PAGE_SIZE": _number("BOXOFFICE_PAGE_SIZE", "12", 1, 100, "how many events a catalogue page shows"),
        # Mail: the outbox's SMTP server (None: composed and kept queued), the sender, how often a message is
        # tried before it is given up, and the site's address for the links in the mail.
        "SMTP": SmtpSettings.from_env(),
        "MAIL_FROM": os.environ.get("BOXOFFICE_MAIL_FROM", "Encore Box Office <boxoffice@localhost>"),
        "MAIL_MAX_TRIES": _number("BOXOFFICE_MAIL_MAX_TRIES", "8", 1, 100, "how often a message is tried"),
        "BASE_URL": _base_url(production),
        # Who takes card payments: the built-in simulated provider or Stripe (with its settings).
        "PAYMENT_PROVIDER": payment_provider,
        "STRIPE": stripe_settings,
        "ASSETS_DEBUG": False,
        # Rebuilding bundles whose sources changed is checked on every rendered page (about 1 ms): only for
        # `flask --debug run`. Everything else serves the bundles `flask assets build` made (make run and
        # make test build them first).
        "ASSETS_AUTO_BUILD": get_debug_flag(),
    }
