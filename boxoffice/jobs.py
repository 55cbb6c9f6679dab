"""The once-only jobs (waiting-list offers, the reconciler, the mail sender, forgetting old sign-in counts),
on a schedule that needs no extra daemon.

Every worker process of every app server starts one background thread (on its first request, so that
gunicorn forks before it exists) that wakes every JOBS_INTERVAL seconds and tries to take the database
advisory lock `<db>.jobs` without waiting: whoever gets it runs one pass of each job, the others skip that
round. So the jobs run on exactly one node at a time however many servers there are, and keep running as
long as any one of them is up. The same pass is `flask jobs run` (for a cron job or a systemd timer where
the in-process schedule is turned off with BOXOFFICE_JOBS_INTERVAL=0).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import sqlalchemy as sa
from flask import Flask

from .extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pass:
    """What one pass did (None: another node held the lock, so this one did nothing)."""

    reconciliation: object | None
    delivery: object | None
    pruned: int | None = None


def run_pass() -> Pass:
    """One pass of every once-only job, if no other node is running one; in the app context."""
    from .services import accounts, mail, reconciler, waiting_list

    name = f"{db.engine.url.database}.jobs"
    # The lock lives on a connection of its own, held for the whole pass: the jobs use db.session.
    with db.engine.connect() as lock:
        if not lock.scalar(sa.text("SELECT GET_LOCK(:name, 0)"), {"name": name}):
            return Pass(None, None)
        try:
            # Offers not claimed in time end and free seats go down the waiting lists before the mail is sent,
            # so an offer's mail leaves in the same pass.
            waiting_list.pass_down_the_line()
            return Pass(reconciler.reconcile(), mail.deliver_due(), accounts.forget_old_counts())
        finally:
            lock.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
            db.session.remove()


def _loop(app: Flask, interval: float, stop: threading.Event) -> None:
    while not stop.wait(interval):
        with app.app_context():
            try:
                run_pass()
            except Exception:  # the next round tries again; a job must never take the worker down
                log.exception("The scheduled jobs failed; they run again in %s s.", interval)


def init_app(app: Flask) -> None:
    """Start the schedule on the first request of each process (unless turned off, or testing)."""
    interval = app.config["JOBS_INTERVAL"]
    if not interval or app.testing:
        return
    started = threading.Lock()
    stop = threading.Event()

    @app.before_request
    def _start_jobs() -> None:
        if not started.locked() and started.acquire(blocking=False):
            threading.Thread(target=_loop, args=(app, interval, stop), name="boxoffice-jobs", daemon=True).start()

    app.extensions["boxoffice_jobs_stop"] = stop
