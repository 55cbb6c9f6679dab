"""The once-only jobs (waiting-list offers, the reconciler, the mail sender, forgetting old sign-in counts) run
on one node at a time: each pass takes the database's advisory lock `<db>.jobs`, and a node that cannot have
it skips the round."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from boxoffice import jobs
from boxoffice.extensions import db
from boxoffice.services import reconciler


@pytest.fixture
def jobs_app(app):
    """The app outside any test transaction (the passes run as a node's background thread does)."""
    with app.app_context():
        yield app
        db.session.remove()


def test_a_pass_runs_every_job_when_no_other_node_holds_the_lock(jobs_app):
    done = jobs.run_pass()
    assert done.reconciliation is not None and done.delivery is not None and done.pruned is not None


def test_a_node_skips_its_round_while_another_node_runs_the_jobs(jobs_app, owner_engine):
    with owner_engine.connect() as other_node:
        name = f"{other_node.engine.url.database}.jobs"
        assert other_node.scalar(sa.text("SELECT GET_LOCK(:n, 0)"), {"n": name}) == 1
        assert jobs.run_pass() == jobs.Pass(None, None)
        other_node.scalar(sa.text("SELECT RELEASE_LOCK(:n)"), {"n": name})
    assert jobs.run_pass().reconciliation is not None


def test_two_nodes_passing_at_once_run_the_jobs_once(jobs_app, monkeypatch):
    running, overlapped = [], []
    real = reconciler.reconcile

    def slow_reconcile(*args, **kwargs):
        running.append(1)
        overlapped.append(len(running) > 1)
        time.sleep(0.5)
        result = real(*args, **kwargs)
        running.pop()
        return result

    monkeypatch.setattr(reconciler, "reconcile", slow_reconcile)
    passes: list[jobs.Pass] = []

    def node():
        with jobs_app.app_context():
            passes.append(jobs.run_pass())

    nodes = [threading.Thread(target=node) for _ in range(2)]
    for thread in nodes:
        thread.start()
    for thread in nodes:
        thread.join(30)
    assert sorted(p.reconciliation is None for p in passes) == [False, True], "one node ran, the other skipped"
    assert overlapped == [False]
