"""The production topology rehearsed on one machine: a primary and a replica mariadbd (GTID replication), two
app servers (gunicorn) and nginx in front, each on a port of its own. Never the machine's shared MariaDB.

    .venv/bin/python -m deploy.cluster up [--scale small]     # make cluster
    .venv/bin/python -m deploy.cluster down                   # make cluster-down

`up` leaves everything running in the background, with its state (datadirs, logs, pids, ports) under
BOXOFFICE_CLUSTER_DIR (default: $TMPDIR/boxoffice-cluster); `down` stops it all and removes that folder.
tests/cluster/ builds a small one the same way (`Cluster(..., detached=False)`: everything dies with the test).

The replica is set up from the primary before anything is written to it: the primary logs every change
(binary log, row format, a GTID each), the replica follows it with `CHANGE MASTER TO ... MASTER_USE_GTID=
slave_pos` from the first transaction on, so the schema, the users and the demo data all reach it through
replication. The reporting user may read the replica's status (`SLAVE MONITOR`) for the lag guard
(boxoffice/services/replica.py).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from sqlalchemy.engine import URL  # noqa: E402

from boxoffice import database  # noqa: E402
from deploy.render_nginx import render  # noqa: E402
from tests.faults.server import PASSWORDS, PrivateMariaDB, _die_with_parent, free_port  # noqa: E402

NGINX = "/usr/sbin/nginx"
GUNICORN = PROJECT_ROOT / ".venv" / "bin" / "gunicorn"
DATABASE = "boxoffice_cluster"
REPLICATION_USER, REPLICATION_PASSWORD = "replication", "replication-rehearsal-password"


@dataclass
class Ports:
    nginx: int
    apps: list[int]
    primary: int
    replica: int

    @classmethod
    def free(cls, apps: int = 2) -> "Ports":
        return cls(free_port(), [free_port() for _ in range(apps)], free_port(), free_port())


class Node(PrivateMariaDB):
    """One mariadbd of the pair: a binary log with GTIDs on both (so the replica could be promoted)."""

    def __init__(self, root: Path, port: int, server_id: int, detached: bool, replica: bool = False):
        options = (f"--server-id={server_id}", "--log-bin=mariadb-bin", "--binlog-format=ROW",
                   "--log-slave-updates", "--gtid-strict-mode=1", "--innodb-buffer-pool-size=64M",
                   # The schema owner (not SUPER) creates triggers and procedures on a server that logs them.
                   "--log-bin-trust-function-creators=1")
        if replica:
            options += ("--read-only=1", "--relay-log=relay-bin")
        super().__init__(root, port=port, database=DATABASE, options=options)
        self.detached = detached

    def start(self, timeout: float = 60.0) -> None:
        if self.running:
            raise RuntimeError("already running")
        log = open(self.root / "mariadbd.out", "ab")
        # detached: its own session, outliving this command (make cluster); else it dies with its parent.
        self.process = subprocess.Popen(self._command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                        start_new_session=self.detached,
                                        preexec_fn=None if self.detached else _die_with_parent)
        self.stalled = False
        self.wait_ready(timeout)


@dataclass
class State:
    """What `down` needs to find again: the processes and where everything is."""

    root: str
    ports: dict
    pids: dict[str, int] = field(default_factory=dict)


class Cluster:
    def __init__(self, root: Path, ports: Ports | None = None, detached: bool = True, app_workers: int = 2,
                 jobs_interval: float = 30, extra_env: dict[str, str] | None = None):
        self.root = Path(root)
        self.ports = ports or Ports.free()
        self.detached = detached
        self.app_workers = app_workers
        self.jobs_interval = jobs_interval
        self.extra_env = extra_env or {}
        self.primary = Node(self.root / "primary", self.ports.primary, 1, detached)
        self.replica = Node(self.root / "replica", self.ports.replica, 2, detached, replica=True)
        self.apps: list[subprocess.Popen | None] = [None] * len(self.ports.apps)
        self.nginx: subprocess.Popen | None = None
        self.secret_key = secrets.token_hex(32)

    # ------------------------------------------------------------ the databases

    def start_databases(self) -> None:
        # One after the other: two mariadb-install-db at once failed now and then, and a thread's failure
        # went unseen (the node then refused root on its half-made system tables).
        for node in (self.primary, self.replica):
            node.install()
            node.start()
        self.primary.sql(f"CREATE USER '{REPLICATION_USER}'@'127.0.0.1' IDENTIFIED BY '{REPLICATION_PASSWORD}'")
        self.primary.sql(f"GRANT REPLICATION SLAVE ON *.* TO '{REPLICATION_USER}'@'127.0.0.1'")
        # From the primary's first transaction on: the replica gets everything through replication.
        self.replica.sql("SET GLOBAL gtid_slave_pos = ''")
        self.replica.sql(f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={self.ports.primary}, "
                         f"MASTER_USER='{REPLICATION_USER}', MASTER_PASSWORD='{REPLICATION_PASSWORD}', "
                         "MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=slave_pos")
        self.replica.sql("START SLAVE")
        settings = self.primary.settings()
        database.set_up(settings)
        # The lag guard reads SHOW REPLICA STATUS as the reporting user (granted on the primary: it replicates).
        self.primary.sql(f"GRANT SLAVE MONITOR ON *.* TO '{settings.reports_url.username}'@'%'")
        self.wait_replicated()

    def wait_replicated(self, timeout: float = 30.0) -> None:
        """Until the replica has applied everything the primary has logged so far."""
        position = self.primary.sql("SELECT @@GLOBAL.gtid_binlog_pos")[0][0]
        reached = self.replica.sql(f"SELECT MASTER_GTID_WAIT('{position}', {timeout})")[0][0]
        if reached != 0:
            status = self.replica.sql("SHOW REPLICA STATUS")
            raise RuntimeError(f"the replica did not reach {position} in {timeout} s: {status}")

    def replica_url(self) -> URL:
        reports = self.primary.settings().reports_url
        return reports.set(port=self.ports.replica)

    # ------------------------------------------------------------ the app servers

    def app_env(self, index: int) -> dict[str, str]:
        metrics = self.root / f"app{index}" / "metrics"
        shutil.rmtree(metrics, ignore_errors=True)
        metrics.mkdir(parents=True)
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("BOXOFFICE_", "DATABASE_", "PROMETHEUS_"))}
        env.update({
            "BOXOFFICE_DB": DATABASE, "BOXOFFICE_DB_HOST": "127.0.0.1", "BOXOFFICE_DB_PORT": str(self.ports.primary),
            **{f"BOXOFFICE_DB_{role}_PASSWORD": password for role, password in PASSWORDS.items()},
            "DATABASE_SUPERUSER_URL": self.primary.superuser_url.render_as_string(hide_password=False),
            "DATABASE_REPLICA_URL": self.replica_url().render_as_string(hide_password=False),
            "BOXOFFICE_TRUSTED_PROXIES": "1",
            "BOXOFFICE_BASE_URL": f"http://127.0.0.1:{self.ports.nginx}",
            "BOXOFFICE_JOBS_INTERVAL": str(self.jobs_interval),
            "SECRET_KEY": self.secret_key,  # one key for every app server: a session works on each
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            **self.extra_env,
        })
        return env

    def start_apps(self, timeout: float = 90.0) -> None:
        """Start every app server, then wait until each answers (they start side by side)."""
        for index in range(len(self.ports.apps)):
            self.start_app(index, wait=False)
        for index, port in enumerate(self.ports.apps):
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout, self.apps[index],
                      self.root / f"app{index}" / "gunicorn.log")

    def start_app(self, index: int, timeout: float = 90.0, wait: bool = True) -> None:
        port = self.ports.apps[index]
        folder = self.root / f"app{index}"
        folder.mkdir(parents=True, exist_ok=True)
        log = open(folder / "gunicorn.log", "ab")
        # --preload: the app is imported once, before the workers fork (its jobs thread starts after).
        command = [str(GUNICORN), "--preload", "--workers", str(self.app_workers), "--bind", f"127.0.0.1:{port}",
                   "--graceful-timeout", "20", "--access-logfile", str(folder / "access.log"), "wsgi:app"]
        self.apps[index] = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.app_env(index), stdout=log, stderr=log,
                                            stdin=subprocess.DEVNULL, start_new_session=self.detached,
                                            preexec_fn=None if self.detached else _die_with_parent)
        if wait:
            wait_http(f"http://127.0.0.1:{port}/healthz", timeout, self.apps[index], folder / "gunicorn.log")

    def kill_app(self, index: int) -> None:
        """SIGKILL the app server's master and workers, as a machine that dies."""
        process = self.apps[index]
        if process and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL) if self.detached else _kill_tree(process.pid)
            process.wait(10)

    # ------------------------------------------------------------ nginx

    def start_nginx(self, timeout: float = 20.0, workers: int = 1, access_log: bool = True) -> None:
        folder = self.root / "nginx"
        conf = render(folder, f"127.0.0.1:{self.ports.nginx}", [f"127.0.0.1:{port}" for port in self.ports.apps],
                      PROJECT_ROOT / "static", standalone=True, workers=workers, access_log=access_log)
        log = open(folder / "nginx.out", "ab")
        self.nginx = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(conf), "-g", "daemon off;"],
                                      stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                      start_new_session=self.detached,
                                      preexec_fn=None if self.detached else _die_with_parent)
        wait_http(f"http://127.0.0.1:{self.ports.nginx}/healthz", timeout, self.nginx, folder / "error.log")

    # ------------------------------------------------------------ all of it

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.nginx}"

    def up(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.start_databases()
        self.start_apps()
        self.start_nginx()
        self.save()

    def save(self) -> None:
        pids = {"nginx": self.nginx.pid if self.nginx else 0, "primary": self.primary.pid or 0,
                "replica": self.replica.pid or 0,
                **{f"app{index}": (process.pid if process else 0) for index, process in enumerate(self.apps)}}
        state = State(str(self.root), asdict(self.ports), pids)
        (self.root / "cluster.json").write_text(json.dumps(asdict(state), indent=2))

    def down(self, fast: bool = False) -> None:
        """Stop everything this object started: nginx, the app servers (SIGTERM: gunicorn finishes the requests
        it has), then the replica and the primary (a clean shutdown). `fast`: SIGKILL all (a test's
        throw-away cluster)."""
        for index, process in enumerate(self.apps):
            if fast:
                self.kill_app(index)
        for process in [self.nginx, *self.apps]:
            if process and process.poll() is None:
                # (nginx always gets SIGTERM, its fast shutdown: a SIGKILLed master leaves its workers behind.)
                process.kill() if fast and process is not self.nginx else process.terminate()
                try:
                    process.wait(25)
                except subprocess.TimeoutExpired:
                    process.kill()
        for node in (self.replica, self.primary):
            node.kill9() if fast else node.stop()


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and its children (a gunicorn master and its workers) without a session of their own."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = children.read_text().split() if children.exists() else []
    os.kill(pid, signal.SIGKILL)
    for kid in kids:
        try:
            os.kill(int(kid), signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_http(url: str, timeout: float, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited while starting; {log}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer in {timeout} s; {log}:\n{_tail(log)}")
        time.sleep(0.1)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def default_root() -> Path:
    return Path(os.environ.get("BOXOFFICE_CLUSTER_DIR") or Path(os.environ.get("TMPDIR", "/tmp")) / "boxoffice-cluster")


def _port(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def up(scale: str) -> None:
    root = default_root()
    if (root / "cluster.json").exists():
        sys.exit(f"A cluster is already running from {root} (make cluster-down stops it).")
    if not Path(NGINX).exists():
        sys.exit("nginx is missing: `make nginx` installs it (apt-get install -y nginx-light).")
    ports = Ports(_port("CLUSTER_PORT", 8800), [_port("CLUSTER_APP1_PORT", 8801), _port("CLUSTER_APP2_PORT", 8802)],
                  _port("CLUSTER_PRIMARY_PORT", 3316), _port("CLUSTER_REPLICA_PORT", 3317))
    if 3306 in (ports.primary, ports.replica):
        sys.exit("Port 3306 is the machine's shared MariaDB: the rehearsal never uses it.")
    cluster = Cluster(root, ports, detached=True)
    try:
        root.mkdir(parents=True, exist_ok=True)
        cluster.start_databases()
        env = cluster.app_env(0)
        print(f"Loading {scale} demo data on the primary...")
        subprocess.run([str(PROJECT_ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi", "demo", "load", "--scale",
                        scale, "--if-empty"], cwd=PROJECT_ROOT, env=env, check=True)
        cluster.wait_replicated(300)
        cluster.start_apps()
        cluster.start_nginx()
        cluster.save()
    except BaseException:
        cluster.down()
        shutil.rmtree(root, ignore_errors=True)
        raise
    print(f"""
  The rehearsal is up (state in {root}):
    nginx            {cluster.url}/
    app servers      {', '.join(f'http://127.0.0.1:{port}/' for port in ports.apps)}
    primary MariaDB  127.0.0.1:{ports.primary}   (root: mariadb -S {cluster.primary.socket})
    replica MariaDB  127.0.0.1:{ports.replica}   (root: mariadb -S {cluster.replica.socket})
  Admin: {cluster.url}/admin/  admin@example.com / boxoffice-demo; reports read the replica.
  make cluster-down stops it all.
""")


def down() -> None:
    root = default_root()
    state_file = root / "cluster.json"
    if not state_file.exists():
        print(f"No cluster is running from {root}.")
        return
    pids = json.loads(state_file.read_text())["pids"]
    # nginx first (no new requests), the app servers (SIGTERM: graceful), then the replica and the primary.
    order = ["nginx", *sorted(name for name in pids if name.startswith("app")), "replica", "primary"]
    for name in order:
        pid = pids.get(name) or 0
        if pid and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
    shutil.rmtree(root, ignore_errors=True)
    print(f"The rehearsal is stopped and {root} removed.")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (its parent gone: it is reaped by init soon) counts as stopped.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description="The box office's production topology on one machine.")
    parser.add_argument("command", choices=("up", "down"))
    parser.add_argument("--scale", default="small", help="demo data scale (tiny, small, medium, large)")
    args = parser.parse_args()
    up(args.scale) if args.command == "up" else down()


if __name__ == "__main__":
    main()
