"""The production topology in small, started by the tests themselves (deploy/cluster.py): a primary and a
replica MariaDB of their own (temporary datadirs, free ports, GTID replication), two gunicorn app servers
and nginx in front. Everything dies with the test run; the machine's shared MariaDB is never touched.

    cluster        the running Cluster: .url (nginx), .ports.apps, .primary/.replica (PrivateMariaDB),
                   .kill_app(i), .wait_replicated()
    primary        an autocommit connection to the primary as the schema owner (for the builders)
    smtp_sink      the SMTP server the app servers deliver the outbox to: .messages

Missing programs (nginx, mariadbd) fail the run with the command that installs them: never skipped.
Run them on their own with `.venv/bin/pytest -q -m cluster`.
"""
from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from deploy.cluster import NGINX, Cluster
from tests.faults.server import INSTALL_DB, MARIADBD

CLUSTER_DIR = str(Path(__file__).parent)


def pytest_collection_modifyitems(items) -> None:
    for item in items:
        if str(item.path).startswith(CLUSTER_DIR + "/"):
            item.add_marker(pytest.mark.cluster)


class SmtpSink:
    """An SMTP server (aiosmtpd) on a free port that keeps every message it is given."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.host, self.port = probe.getsockname()
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, recipient: str) -> list:
        return [message for message in self.messages if message["To"] and recipient in message["To"]]


@pytest.fixture(scope="module")
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    controller = Controller(sink, hostname=sink.host, port=sink.port)
    controller.start()
    yield sink
    controller.stop()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, smtp_sink) -> Iterator[Cluster]:
    missing = [program for program in (NGINX, MARIADBD) if not shutil.which(program)]
    missing += [] if shutil.which(INSTALL_DB) else [INSTALL_DB]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: the cluster test runs nginx and two MariaDB servers of its own. "
                    "Install them with `make nginx` (apt-get install -y nginx-light) and "
                    "apt-get install -y mariadb-server (make test does the first).")
    # The jobs' schedule runs every quarter second on each app server, so that a test sees passes quickly.
    cluster = Cluster(tmp_path_factory.mktemp("cluster"), detached=False, app_workers=1, jobs_interval=0.25,
                      extra_env={"BOXOFFICE_SMTP_HOST": smtp_sink.host, "BOXOFFICE_SMTP_PORT": str(smtp_sink.port)})
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.down(fast=True)


@pytest.fixture(scope="module")
def owner_engine(cluster) -> Iterator[sa.Engine]:
    engine = sa.create_engine(cluster.primary.settings().owner_url, pool_pre_ping=True, connect_args={
        "init_command": "SET time_zone = '+00:00', innodb_lock_wait_timeout = 10", "connect_timeout": 5})
    yield engine
    engine.dispose()


@pytest.fixture
def primary(owner_engine) -> Iterator[sa.Connection]:
    with owner_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection
