"""What the people who run the box office ask of each app server: is it up (`/healthz`), may it take
requests (`/readyz`: its databases answer), and how is it doing (`/metrics`, Prometheus' text format).

None of them touches the session (no cookie is set), so a load balancer's probes leave nothing behind.

Metrics come in two kinds. Request latency is this process's own (a histogram per endpoint); with several
gunicorn workers, set PROMETHEUS_MULTIPROC_DIR to an empty folder shared by the workers of one server and
the histogram is added up over all of them (prometheus_client's multiprocess mode). The business figures
(bookings, live holds, the reconciler's and the outbox's backlog) are read from the database at each
scrape, so they are the same whichever process or server answers. `/metrics` answers requests from this
machine, or with `Authorization: Bearer <BOXOFFICE_METRICS_TOKEN>` when that is set.
"""
from __future__ import annotations

import hmac
import os
import time

import sqlalchemy as sa
from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

from .clock import utcnow
from .extensions import db
from .services import reconciler, replica

bp = Blueprint("operations", __name__)

# (Registered into each scrape's registry, not a global one.)
REQUEST_SECONDS = Histogram(
    "boxoffice_http_request_duration_seconds", "Time to answer a request, by endpoint, method and status class.",
    ["endpoint", "method", "status"], registry=None,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))

# One round trip for every business figure; each count reads an index.
BUSINESS_FIGURES = sa.select(
    sa.text("(SELECT COUNT(*) FROM bookings) AS bookings"),
    sa.text("(SELECT COUNT(*) FROM event_seats WHERE state = 'held' AND hold_expires_at > UTC_TIMESTAMP(3)) AS holds"),
    reconciler.ATTEMPTS_WAITING.label("attempts_waiting"), reconciler.REFUNDS_WAITING.label("refunds_waiting"),
    sa.text("(SELECT COUNT(*) FROM outbox_emails WHERE status IN ('queued', 'retrying')) AS mail_waiting"),
    sa.text("(SELECT COUNT(*) FROM outbox_emails WHERE status = 'failed') AS mail_failed"))


class BusinessCollector:
    """The business figures, read from the database when Prometheus scrapes."""

    def collect(self):
        row = db.session.execute(BUSINESS_FIGURES, {"before": utcnow() - reconciler.GRACE}).one()
        db.session.rollback()  # (a read: nothing to keep, and the connection goes back to the pool clean)
        yield GaugeMetricFamily("boxoffice_bookings", "Bookings ever made.", value=row.bookings)
        yield GaugeMetricFamily("boxoffice_live_held_seats", "Seats held now (holds not expired).", value=row.holds)
        backlog = GaugeMetricFamily("boxoffice_reconciler_backlog",
                                    "Payments and refunds left between states for longer than a request takes.",
                                    labels=["kind"])
        backlog.add_metric(["payment_attempt"], row.attempts_waiting)
        backlog.add_metric(["booking_refund"], row.refunds_waiting)
        yield backlog
        outbox = GaugeMetricFamily("boxoffice_outbox_messages", "Mail not delivered yet, by state.", labels=["state"])
        outbox.add_metric(["waiting"], row.mail_waiting)
        outbox.add_metric(["failed"], row.mail_failed)
        yield outbox
        if replica.REPLICA_BIND in db.engines:
            lag = replica.replica_lag(db.engines[replica.REPLICA_BIND])
            yield GaugeMetricFamily("boxoffice_replica_lag_seconds", "How far the reports' replica is behind the "
                                    "primary (NaN: not replicating, or away).",
                                    value=float("nan") if lag is None else lag)


def _database_answers(engine: sa.Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return True
    except sa.exc.DBAPIError:
        return False


@bp.get("/healthz")
def healthz():
    """The process is up (nothing else is asked: a probe that restarts a process must not restart a
    healthy one because the database is away)."""
    return Response("ok\n", mimetype="text/plain")


@bp.get("/readyz")
def readyz():
    """This server may take requests: the app's database and the reports' database answer. A replica (when
    configured) is reported with its lag but does not decide: the reports read the primary without it."""
    checks = {"database": _database_answers(db.engine), "reports": _database_answers(db.engines["reports"])}
    body = "".join(f"{name} {'ok' if fine else 'unavailable'}\n" for name, fine in checks.items())
    if replica.REPLICA_BIND in db.engines:
        lag = replica.replica_lag(db.engines[replica.REPLICA_BIND])
        body += "replica unavailable\n" if lag is None else f"replica ok lag {lag:g}s\n"
    return Response(body, status=200 if all(checks.values()) else 503, mimetype="text/plain")


def _may_scrape() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        return hmac.compare_digest(request.headers.get("Authorization", ""), f"Bearer {token}")
    return request.remote_addr in ("127.0.0.1", "::1")


@bp.get("/metrics")
def metrics():
    if not _may_scrape():
        return Response("Forbidden\n", status=403, mimetype="text/plain")
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        registry.register(REQUEST_SECONDS)
    registry.register(BusinessCollector())
    return Response(generate_latest(registry), mimetype="text/plain; version=0.0.4")


def _start_timer() -> None:
    g.request_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("request_started", None)
    if started is not None:
        REQUEST_SECONDS.labels(request.endpoint or "unmatched", request.method,
                               f"{response.status_code // 100}xx").observe(time.perf_counter() - started)
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_start_timer)
    app.after_request(_observe)
