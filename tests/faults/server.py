"""A private MariaDB server for fault tests: killed, restarted, stalled and resumed at will.

The fault tests never touch the machine's shared server (port 3306). They start their own `mariadbd` on a
data directory made by `mariadb-install-db` in a temporary folder, listening on 127.0.0.1 at a free port
and on a socket of its own, and stop it at the end of the run.

How to use it (tests/faults/conftest.py builds all of this; ask for the fixtures there):

    server = PrivateMariaDB(tmp_path)       # a data directory under tmp_path (install() makes it: ~0.5 s)
    server.install()
    server.start()                          # ~0.2 s until it answers
    settings = server.settings()            # DatabaseSettings of the box office's three users on it
    boxoffice.database.set_up(settings)     # the database, its users and the schema at head

    server.kill9()        # SIGKILL: connections die mid-statement, nothing is flushed, as in a crash
    server.restart()      # start again on the same data directory and port (InnoDB recovers); waits
    server.stall()        # SIGSTOP: the server keeps its sockets but answers nothing, as a hung server
    server.resume()       # SIGCONT
    server.stop()         # a clean shutdown (resumes a stalled server first)

    server.sql("FLUSH TABLES WITH READ LOCK")   # run SQL as root (a new connection unless one is given)

Everything it needs is in the temporary folder: datadir/, mariadb.sock, mariadbd.pid, error.log (read it
with `server.log_tail()` when a test fails).

The server runs with innodb_flush_log_at_trx_commit=2: each commit's log is written to the operating system
at the commit and synced once a second. Killing the server process (kill -9) loses nothing written that
way, since the OS still has the data; only an OS crash would, and these tests never crash the OS. It spares
an fsync per commit on a machine whose disk is shared with the rest of the test suite.
"""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pymysql
from sqlalchemy.engine import URL

from boxoffice.config import DatabaseSettings

MARIADBD = "/usr/sbin/mariadbd"
INSTALL_DB = "mariadb-install-db"
DATABASE = "boxoffice_faults"
PASSWORDS = {"OWNER": "owner-faults-password", "APP": "app-faults-password", "REPORTS": "reports-faults-password"}


def free_port() -> int:
    """A TCP port nobody listens on now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: the kernel kills the server if the test run dies without stopping it."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class PrivateMariaDB:
    """One private mariadbd: its folder, port and process. Not thread-safe; one test drives it at a time."""

    def __init__(self, root: Path, port: int | None = None, database: str = DATABASE, options: tuple[str, ...] = ()):
        self.root = Path(root)
        self.options = options  # more mariadbd options, e.g. ("--ssl-cert=...", "--ssl-key=...")
        self.datadir = self.root / "datadir"
        self.socket = self.root / "mariadb.sock"
        self.pid_file = self.root / "mariadbd.pid"
        self.error_log = self.root / "error.log"
        self.port = port or free_port()
        self.database = database
        self.process: subprocess.Popen | None = None
        self.stalled = False
        self._connections: list[pymysql.connections.Connection] = []

    # ------------------------------------------------------------ set-up

    def install(self) -> None:
        """Make the data directory (the system tables; root may sign in without a password from this
        machine). Once per run: it is reused by every start and restart."""
        self.root.mkdir(parents=True, exist_ok=True)
        command = [INSTALL_DB, "--no-defaults", f"--datadir={self.datadir}", "--auth-root-authentication-method=normal",
                   "--skip-test-db"]
        if os.geteuid() == 0:
            command.append("--user=root")
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{result.stdout}\n{result.stderr}")

    def _command(self) -> list[str]:
        command = [
            MARIADBD, "--no-defaults",  # never read /etc/mysql: nothing of the shared server's configuration
            f"--datadir={self.datadir}", f"--socket={self.socket}", f"--pid-file={self.pid_file}",
            f"--log-error={self.error_log}", f"--port={self.port}", "--bind-address=127.0.0.1",
            "--skip-name-resolve", "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
            "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=2",
            "--skip-innodb-buffer-pool-dump-at-shutdown", "--skip-innodb-buffer-pool-load-at-startup",
        ]
        if os.geteuid() == 0:
            command.append("--user=root")
        return command + list(self.options)

    def start(self, timeout: float = 30.0) -> None:
        """Start the server on the data directory and wait until it answers."""
        if self.running:
            raise RuntimeError("the private MariaDB is already running")
        self.process = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        self.stalled = False
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"the private MariaDB exited while starting:\n{self.log_tail()}")
            try:
                self.connect(connect_timeout=1).close()
                return
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the private MariaDB did not answer in {timeout} s:\n{self.log_tail()}")
                time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.running else None

    # ------------------------------------------------------------ faults

    def kill9(self) -> None:
        """SIGKILL, as in a crash: open transactions are lost, clients see their connection drop."""
        if self.running:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.stalled = False

    def restart(self, timeout: float = 30.0) -> None:
        """Start again on the same data directory and port; a running server is shut down cleanly first."""
        if self.running:
            self.stop()
        self.start(timeout)

    def stall(self) -> None:
        """SIGSTOP: the server's sockets stay open and accept connections, but nothing answers. Returns once
        every thread of the server has stopped (a signal is delivered a moment after it is sent, and a thread
        could still answer one more question meanwhile)."""
        if not self.running:
            raise RuntimeError("the private MariaDB is not running")
        self.process.send_signal(signal.SIGSTOP)
        self.stalled = True
        deadline = time.monotonic() + 5
        while not self._all_threads_stopped():
            if time.monotonic() > deadline:
                raise RuntimeError("the private MariaDB did not stop on SIGSTOP")
            time.sleep(0.005)

    def _all_threads_stopped(self) -> bool:
        states = []
        for stat in Path(f"/proc/{self.process.pid}/task").glob("*/stat"):
            try:
                # The state follows the command name in parentheses, which may itself hold spaces.
                states.append(stat.read_text().rsplit(")", 1)[1].split()[0])
            except (FileNotFoundError, IndexError):
                continue  # a thread that ended meanwhile
        return bool(states) and all(state == "T" for state in states)

    def resume(self) -> None:
        """SIGCONT after stall()."""
        if self.running:
            self.process.send_signal(signal.SIGCONT)
        self.stalled = False

    def stop(self, timeout: float = 30.0) -> None:
        """A clean shutdown (SIGTERM), or SIGKILL if it takes longer than `timeout`."""
        if not self.running:
            return
        self.resume()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()

    def ensure_healthy(self) -> None:
        """Running and answering again, whatever a test left it in (stalled, killed)."""
        if self.stalled:
            self.resume()
        if not self.running:
            self.start()

    # ------------------------------------------------------------ access

    def connect(self, **options) -> pymysql.connections.Connection:
        """A root connection over the server's own socket (closed by close_connections() at the latest)."""
        connection = pymysql.connect(unix_socket=str(self.socket), user="root", autocommit=True, **options)
        self._connections = [kept for kept in self._connections if kept.open] + [connection]
        return connection

    def close_connections(self) -> None:
        """Close every connection connect() gave out: a test that failed half-way may have left one holding a
        lock (FOR UPDATE, FLUSH TABLES WITH READ LOCK) that would hold up everything after it."""
        for connection in self._connections:
            if connection.open:
                try:
                    connection.close()
                except pymysql.err.Error:
                    pass
        self._connections = []

    def sql(self, statement: str, connection: pymysql.connections.Connection | None = None) -> list[tuple]:
        """Run one statement as root and return its rows. With `connection`, on it (a lock like FLUSH TABLES
        WITH READ LOCK lasts as long as its connection); else on a new connection, closed afterwards."""
        own = connection is None
        connection = connection or self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return list(cursor.fetchall())
        finally:
            if own:
                connection.close()

    @property
    def superuser_url(self) -> URL:
        return URL.create("mysql+pymysql", username="root", query={"unix_socket": str(self.socket)})

    def settings(self) -> DatabaseSettings:
        """The box office's database and three users on this server (over TCP, as the app connects)."""
        return DatabaseSettings.from_env({
            "BOXOFFICE_DB": self.database, "BOXOFFICE_DB_HOST": "127.0.0.1", "BOXOFFICE_DB_PORT": str(self.port),
            **{f"BOXOFFICE_DB_{role}_PASSWORD": password for role, password in PASSWORDS.items()},
            "DATABASE_SUPERUSER_URL": self.superuser_url.render_as_string(hide_password=False),
        })

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.error_log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no error log)"
