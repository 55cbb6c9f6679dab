"""Connections over TLS, as to a managed MySQL (BOXOFFICE_DB_SSL_CA), with the app's own connection settings:
the server is verified against the given CA and host name, and the pool's look at an idle connection's
socket still tells a closed connection from a healthy one (the bytes a TLS 1.3 server sends unasked after
the handshake, its session tickets, do not make a healthy connection look closed)."""
from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path

import pymysql
import pytest

from boxoffice.config import _engine_options
from boxoffice.dbapi import Connection
from tests.faults.server import PrivateMariaDB


def _certificate(folder: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and no other name), and its key."""
    cert, key = folder / f"{name}.pem", folder / f"{name}-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A private server of its own that accepts TLS connections only."""
    root = tmp_path_factory.mktemp("mariadb-tls")
    cert, key = _certificate(root, "server")
    server = PrivateMariaDB(root, options=(f"--ssl-cert={cert}", f"--ssl-key={key}", "--require-secure-transport"))
    server.install()
    server.start()
    yield server, cert
    server.stop()


def _connect(server: PrivateMariaDB, monkeypatch, ca: Path, host: str = "127.0.0.1") -> Connection:
    """A connection as the app makes it (boxoffice/config.py), with BOXOFFICE_DB_SSL_CA=ca."""
    monkeypatch.setenv("BOXOFFICE_DB_SSL_CA", str(ca))
    return Connection(host=host, port=server.port, user="root", **_engine_options()["connect_args"])


def test_the_app_verifies_the_server_against_the_given_ca_and_host_name(tls_server, monkeypatch, tmp_path):
    server, cert = tls_server
    connection = _connect(server, monkeypatch, cert)
    with connection.cursor() as cursor:
        cursor.execute("SHOW SESSION STATUS LIKE 'Ssl_version'")
        assert cursor.fetchone()[1].startswith("TLS")
    connection.close()

    other_ca, _ = _certificate(tmp_path, "other")
    with pytest.raises(pymysql.err.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
        _connect(server, monkeypatch, other_ca)
    with pytest.raises(pymysql.err.OperationalError, match="CERTIFICATE_VERIFY_FAILED"):
        _connect(server, monkeypatch, cert, host="localhost")  # the certificate names 127.0.0.1 only


def test_a_healthy_tls_connection_is_not_taken_for_a_closed_one(tls_server, monkeypatch):
    server, cert = tls_server
    connection = _connect(server, monkeypatch, cert)
    assert isinstance(connection._sock, ssl.SSLSocket)
    time.sleep(0.2)  # whatever the server sends after the handshake has arrived
    assert [connection.closed_by_server() for _ in range(3)] == [False] * 3
    connection.close()


def test_a_tls_connection_the_server_killed_is_seen_closed(tls_server, monkeypatch):
    server, cert = tls_server
    connection = _connect(server, monkeypatch, cert)
    with connection.cursor() as cursor:
        cursor.execute("SELECT CONNECTION_ID()")
        (connection_id,) = cursor.fetchone()
    server.sql(f"KILL CONNECTION {connection_id}")
    time.sleep(0.1)
    assert connection.closed_by_server()
