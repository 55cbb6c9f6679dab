"""Storefront load benchmarks (issue 4 "Speed"): the event page, the no-change poll, a 20,000-seat arena
and checkout at eight buyers, against a running gunicorn on loopback.

    BOXOFFICE_DB=boxoffice_bench_small .venv/bin/python -m bench.storefront setup
    .venv/bin/python -m bench.storefront page --event 72 --clients 8
    .venv/bin/python -m bench.storefront checkout --clients 8 --mode distinct

Every load loop stops by itself: after --requests (or --bookings) in all, or after --seconds, whichever
comes first. The load comes from threads of this process over HTTP/1.1 keep-alive (http.client, no extra
dependency); each thread is one browser with its own cookies. `setup`, `checkout` (which makes a fresh
arena event per run and checks it afterwards), `verify` and `poll-server` also open the database named
by BOXOFFICE_DB through the app's own configuration.
"""
from __future__ import annotations

import argparse
import datetime as dt
import html
import os
import random
import re
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCH_HALL = "Bench Hall 1000"
BENCH_HALL_EVENT = "Bench: 1,000-seat night"
BENCH_ARENA_EVENT = "Bench: arena night"
CUSTOMER_EMAIL = "bench-client-{:02d}@bench.test"
CUSTOMERS = 32
TEST_CARD = "4242424242424242"
USER_AGENT = "boxoffice-bench/1"
POLL_URL = re.compile(r'hx-get="([^"]*seats/changes[^"]*)"')
# The poller's inputs: the seat version and time of the map the page shows, sent with every seat click.
MAP_STATE = re.compile(r'<input type="hidden" name="([vt])" value="([^"]*)"')


# ---------------------------------------------------------------- HTTP: one browser per thread

class Headers:
    """A response's headers, looked up without regard to case."""

    def __init__(self, pairs: list[tuple[str, str]]):
        self.pairs = pairs

    def get_all(self, name: str) -> list[str]:
        name = name.lower()
        return [value for key, value in self.pairs if key.lower() == name]

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self.get_all(name)
        return found[0] if found else default

    def __contains__(self, name: str) -> bool:
        return bool(self.get_all(name))


@dataclass
class Response:
    status: int
    headers: Headers
    body: str
    seconds: float

    def field(self, name: str) -> str | None:
        """The value of the form input called `name` in the page."""
        found = re.search(rf'name="{re.escape(name)}"[^>]*?value="([^"]*)"', self.body) or \
            re.search(rf'value="([^"]*)"[^>]*?name="{re.escape(name)}"', self.body)
        return html.unescape(found.group(1)) if found else None


class Browser:
    """A keep-alive connection to the server with a cookie jar: what one person's browser does.

    It speaks just the HTTP/1.1 that gunicorn answers (Content-Length or chunked bodies) over a plain
    socket: the load generator shares the machine's two cores with the server, and http.client with
    http.cookies cost it about twice the CPU a request."""

    def __init__(self, base_url: str, source: str | None = None):
        parts = urlsplit(base_url)
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit("The benchmarks only load a server on loopback (127.0.0.1).")
        self.host, self.port = parts.hostname, parts.port or 80
        # The buyer's own address on the loopback range (127.0.0.0/8), as every real buyer has one: the
        # box office caps the seats held from one address.
        self.source = (source, 0) if source else None
        self.cookies: dict[str, str] = {}
        self.sock: socket.socket | None = None
        self.buffer = b""
        # What HTMX sends with a seat click (hx-include of the poller): the version of the open map.
        self.map_state: dict[str, str] = {}

    def remember_map_state(self, body: str) -> None:
        self.map_state.update(MAP_STATE.findall(body))

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        found, _, self.buffer = self.buffer.partition(marker)
        return found

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        found, self.buffer = self.buffer[:size], self.buffer[size:]
        return found

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        self.buffer += chunk

    def _exchange(self, request: bytes) -> tuple[int, Headers, bytes]:
        if self.sock is None:
            self.sock = socket.create_connection((self.host, self.port), timeout=30, source_address=self.source)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.buffer = b""
        self.sock.sendall(request)
        head = self._read_until(b"\r\n\r\n").decode("latin-1").split("\r\n")
        status = int(head[0].split(" ", 2)[1])
        headers = Headers([tuple(part.strip() for part in line.split(":", 1)) for line in head[1:]])
        length = headers.get("Content-Length")
        if length is not None:
            body = self._read_exactly(int(length))
        elif headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self._read_until(b"\r\n").split(b";")[0], 16):
                parts.append(self._read_exactly(size))
                self._read_exactly(2)
            self._read_until(b"\r\n")
            body = b"".join(parts)
        else:
            body = b""
        if headers.get("Connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def request(self, method: str, path: str, form: dict | None = None, headers: dict | None = None) -> Response:
        body = urlencode(form).encode() if form is not None else b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"User-Agent: {USER_AGENT}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if form is not None:
            lines += ["Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(body)}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        started = time.perf_counter()
        try:
            status, answer_headers, text = self._exchange(request)
        except (ConnectionResetError, BrokenPipeError):
            # The server closed an idle keep-alive connection: one new connection, as a browser would.
            self.close()
            started = time.perf_counter()
            status, answer_headers, text = self._exchange(request)
        seconds = time.perf_counter() - started
        for cookie in answer_headers.get_all("Set-Cookie"):
            name, _, rest = cookie.partition("=")
            value, _, attributes = rest.partition(";")
            attributes = attributes.lower()
            if "max-age=0" in attributes.replace(" ", "") or "1970" in attributes:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return Response(status, answer_headers, text.decode(), seconds)

    def get(self, path: str, headers: dict | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, form: dict, headers: dict | None = None) -> Response:
        """A form posted from one of the site's pages: the browser says so (Sec-Fetch-Site), which is what
        the app checks first (boxoffice/csrf.py)."""
        return self.request("POST", path, form=form, headers={"Sec-Fetch-Site": "same-origin", **(headers or {})})

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            self.buffer = b""


# ---------------------------------------------------------------- figures

def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def load_average() -> str:
    """The machine's 1-minute load average: on a shared 2-core machine it says how far to trust a run."""
    return Path("/proc/loadavg").read_text().split()[0] if Path("/proc/loadavg").exists() else "?"


def summary(name: str, latencies: list[float], wall: float, extra: str = "") -> None:
    ms = sorted(x * 1000 for x in latencies)
    if not ms:
        print(f"{name}: no requests completed")
        return
    print(f"{name}: n={len(ms)} in {wall:.1f} s = {len(ms) / wall:.1f} req/s | "
          f"p50 {percentile(ms, 50):.2f} ms  p95 {percentile(ms, 95):.2f} ms  p99 {percentile(ms, 99):.2f} ms  "
          f"max {ms[-1]:.2f} ms  mean {statistics.fmean(ms):.2f} ms{extra}")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _processes(port: int) -> dict[str, list[int]]:
    """The gunicorn processes serving `port`, the database server, and this load generator."""
    found: dict[str, list[int]] = {"gunicorn": [], "mariadbd": [], "load generator": [os.getpid()]}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "gunicorn" in command and f":{port}" in command:
            found["gunicorn"].append(int(entry.name))
        elif command.split(" ")[0].endswith(("mariadbd", "mysqld")):
            found["mariadbd"].append(int(entry.name))
    return found


class CpuMeter:
    """CPU seconds the server, the database and this process spend during a run (from /proc), so a
    figure taken on a busy shared machine still says what one request costs. The database server is
    shared, so its share includes anyone else's queries during the run."""

    def __init__(self, base_url: str):
        self.processes = _processes(urlsplit(base_url).port or 80) if Path("/proc").exists() else {}
        self.load_before = load_average()
        self.start = self._read()

    def _read(self) -> dict[str, float]:
        totals = {}
        for name, pids in self.processes.items():
            total = 0.0
            for pid in pids:
                try:
                    total += _cpu_seconds(pid)
                except OSError:
                    pass
            totals[name] = total
        return totals

    def report(self, requests: int) -> str:
        if not requests or not self.processes:
            return ""
        end = self._read()
        parts = [f"{name} {(end[name] - self.start[name]) * 1000 / requests:.1f}" for name in end]
        return f"CPU ms per request: {', '.join(parts)} (load average before {self.load_before})"


class Budget:
    """A shared count of requests still to make."""

    def __init__(self, total: int):
        self.left = total
        self.lock = threading.Lock()

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def run_clients(clients: int, seconds: float, work) -> float:
    """Start `clients` threads running work(index, deadline) and wait for all; returns the wall time."""
    started = time.perf_counter()
    deadline = started + seconds
    threads = [threading.Thread(target=work, args=(i, deadline), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    return time.perf_counter() - started


# ---------------------------------------------------------------- read-only loads

def cmd_page(args) -> None:
    """GET the event page (optionally one section of it) from --clients browsers at once."""
    path = f"/events/{args.event}" + (f"?section={args.section}" if args.section else "")
    budget = Budget(args.requests)
    latencies: list[float] = []
    statuses: Counter = Counter()
    sizes: list[int] = []
    lock = threading.Lock()

    def work(index: int, deadline: float) -> None:
        browser = Browser(args.url)
        for _ in range(args.warmup):
            browser.get(path)
        while time.perf_counter() < deadline and budget.take():
            response = browser.get(path)
            with lock:
                latencies.append(response.seconds)
                statuses[response.status] += 1
                sizes.append(len(response.body))
        browser.close()

    meter = CpuMeter(args.url)
    wall = run_clients(args.clients, args.seconds, work)
    summary(f"GET {path} x{args.clients} clients", latencies, wall,
            f" | statuses {dict(statuses)} | body {statistics.fmean(sizes) / 1024:.0f} KiB" if sizes else "")
    print("  " + meter.report(len(latencies)))


def _poll_path(browser: Browser, event: int, section: int | None) -> str:
    page = browser.get(f"/events/{event}" + (f"?section={section}" if section else ""))
    found = POLL_URL.search(page.body)
    if page.status != 200 or not found:
        raise SystemExit(f"No poll URL on the event page (status {page.status}).")
    return html.unescape(found.group(1))


def cmd_poll(args) -> None:
    """The live map's no-change poll over HTTP, from --clients browsers that each loaded the page once."""
    budget = Budget(args.requests)
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()

    def work(index: int, deadline: float) -> None:
        browser = Browser(args.url)
        path = _poll_path(browser, args.event, args.section)
        while time.perf_counter() < deadline and budget.take():
            response = browser.get(path, headers={"HX-Request": "true"})
            with lock:
                latencies.append(response.seconds)
                statuses[response.status] += 1
        browser.close()

    meter = CpuMeter(args.url)
    wall = run_clients(args.clients, args.seconds, work)
    summary(f"poll event {args.event} x{args.clients} clients", latencies, wall, f" | statuses {dict(statuses)}")
    print("  " + meter.report(len(latencies)))


# ---------------------------------------------------------------- server-side time of the poll

def _timed(call, count: int, deadline: float) -> tuple[list[float], list[float], float]:
    """Wall and CPU (this thread's) seconds of each of up to `count` calls; and the wall time of all."""
    walls: list[float] = []
    cpus: list[float] = []
    started = time.perf_counter()
    while len(walls) < count and time.perf_counter() < deadline:
        wall, cpu = time.perf_counter(), time.thread_time()
        call()
        cpus.append(time.thread_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return walls, cpus, time.perf_counter() - started


def cmd_poll_server(args) -> None:
    """Server time of the no-change poll, in process and against the real database: the whole Flask
    request through the test client (routing, session, view, response), then the view's one service call
    alone. Wall time and the CPU time of the serving thread (the part a busy machine does not inflate)."""
    from boxoffice import create_app
    from boxoffice.extensions import db
    from boxoffice.services import seatmap

    app = create_app()
    client = app.test_client()
    page = client.get(f"/events/{args.event}" + (f"?section={args.section}" if args.section else ""))
    found = POLL_URL.search(page.get_data(as_text=True))
    if page.status_code != 200 or not found:
        raise SystemExit(f"No poll URL on the event page (status {page.status_code}).")
    path = html.unescape(found.group(1))
    statuses: Counter = Counter()

    def request() -> None:
        statuses[client.get(path, headers={"HX-Request": "true"}).status_code] += 1

    deadline = time.perf_counter() + args.seconds
    _timed(request, args.warmup, deadline)
    statuses.clear()
    walls, cpus, wall = _timed(request, args.calls, deadline)
    summary(f"in-process request {path}", walls, wall, f" | statuses {dict(statuses)}")
    summary("  the same, CPU time of the serving thread", cpus, wall)

    query = parse_qs(urlsplit(path).query)
    version, as_of = int(query["v"][0]), dt.datetime.fromisoformat(query["t"][0])

    def service() -> None:
        if seatmap.changes_since(args.event, None, version, as_of, args.section) is not None:
            raise SystemExit("The seats changed during the run: the no-change figures would be wrong.")
        db.session.remove()

    with app.app_context():
        walls, cpus, wall = _timed(service, args.calls, time.perf_counter() + args.seconds)
    summary("seatmap.changes_since + session.remove (pooled connection)", walls, wall)
    summary("  the same, CPU time", cpus, wall)


def cmd_logstats(args) -> None:
    """Request time as gunicorn logged it: the access log must end each line with %(D)s (microseconds)."""
    times: dict[str, list[float]] = {}
    for line in Path(args.logfile).read_text().splitlines():
        found = re.search(r'"(GET|POST) (\S+) HTTP/[\d.]+" (\d{3}) .* (\d+)$', line)
        if not found or (args.path and args.path not in found.group(2)):
            continue
        route, _, query = found.group(2).partition("?")
        if not route.startswith(("/events/", "/checkout/")):
            route = re.sub(r"/[A-Z0-9]{6,}(?=/|$)", "/<code>", route)
        section = re.search(r"(?:^|&)section=(\d+)", query)
        key = f"{found.group(1)} {route}{'?section=' + section.group(1) if section else ''} {found.group(3)}"
        times.setdefault(key, []).append(int(found.group(4)) / 1e6)
    for key, values in sorted(times.items()):
        ms = sorted(v * 1000 for v in values)
        print(f"{key}: n={len(ms)} server time p50 {percentile(ms, 50):.2f} ms  p95 {percentile(ms, 95):.2f} ms  "
              f"p99 {percentile(ms, 99):.2f} ms  max {ms[-1]:.2f} ms")


# ---------------------------------------------------------------- data for the benchmarks

def _app():
    from boxoffice import create_app
    return create_app()


def _venue_record(connection, venue_id: int):
    from tests.builders import Seat, Venue, rows
    name = rows(connection, "SELECT name FROM venues WHERE venue_id = :v", v=venue_id)[0][0]
    seats = rows(connection, """SELECT s.seat_id, CONCAT(r.label, s.seat_number), s.section_id, s.category_id
                                  FROM seats s JOIN seat_rows r ON r.row_id = s.row_id
                                 WHERE s.venue_id = :v ORDER BY s.seat_id""", v=venue_id)
    return Venue(venue_id, name, tuple(Seat(*row) for row in seats))


def new_arena_event(connection, title: str = BENCH_ARENA_EVENT) -> int:
    """A fresh on-sale event at the largest venue: every one of its seats free."""
    from tests.builders import rows, make_event
    venue_id = rows(connection, "SELECT venue_id FROM venues ORDER BY capacity DESC, venue_id LIMIT 1")[0][0]
    return make_event(connection, _venue_record(connection, venue_id), title=title, max_seats_per_order=10).event_id


def cmd_setup(args) -> None:
    """Idempotent: a 1,000-seat hall with an on-sale event, an on-sale event at the arena, and
    CUSTOMERS customers who sign in with the builders' DEFAULT_PASSWORD."""
    from tests.builders import DEFAULT_PASSWORD, PREMIUM, ECONOMY, make_customer, make_event, make_venue, rows

    from boxoffice.extensions import db
    app = _app()
    with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        hall = rows(connection, "SELECT venue_id FROM venues WHERE name = :n", n=BENCH_HALL)
        if hall:
            venue = _venue_record(connection, hall[0][0])
        else:
            venue = make_venue(connection, sections=2, rows=20, seats_per_row=25, name=BENCH_HALL, city="Benchton",
                               categories={"A-E": PREMIUM, "AF-AN": ECONOMY}, wheelchair=("T1", "T2"),
                               companion=("T3",))
        event = rows(connection, "SELECT event_id FROM events WHERE title = :t", t=BENCH_HALL_EVENT)
        hall_event = event[0][0] if event else make_event(connection, venue, title=BENCH_HALL_EVENT).event_id
        arena = rows(connection, "SELECT event_id FROM events WHERE title = :t ORDER BY event_id LIMIT 1",
                     t=BENCH_ARENA_EVENT + " (pages)")
        arena_event = arena[0][0] if arena else new_arena_event(connection, BENCH_ARENA_EVENT + " (pages)")
        made = 0
        for i in range(1, CUSTOMERS + 1):
            if not rows(connection, "SELECT 1 FROM customers WHERE email = :e", e=CUSTOMER_EMAIL.format(i)):
                make_customer(connection, email=CUSTOMER_EMAIL.format(i), full_name=f"Bench Client {i}")
                made += 1
        seats = dict(rows(connection, "SELECT event_id, seats_total FROM events WHERE event_id IN :ids",
                          ids=[hall_event, arena_event]))
    print(f"1,000-seat event: {hall_event} ({seats[hall_event]} seats)")
    print(f"arena event:      {arena_event} ({seats[arena_event]} seats)")
    print(f"customers:        {CUSTOMER_EMAIL.format(1)} .. {CUSTOMER_EMAIL.format(CUSTOMERS)} "
          f"({made} new), password {DEFAULT_PASSWORD!r}")


# ---------------------------------------------------------------- checkout

@dataclass
class Tally:
    bookings: int = 0
    lost_holds: int = 0
    failures: Counter = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    steps: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def step(self, name: str, seconds: float) -> None:
        with self.lock:
            self.steps.setdefault(name, []).append(seconds)


class SlotBoard:
    """Blocks of 1-2 seats, left to right along each row, in the order every buyer tries them when they
    contend: a buyer that loses a block moves on to the first block nobody has settled yet."""

    def __init__(self, blocks: list[tuple[int, list[int]]]):
        self.blocks = blocks
        self.settled = [False] * len(blocks)
        self.first_open = 0
        self.lock = threading.Lock()

    def settle(self, index: int) -> None:
        with self.lock:
            self.settled[index] = True
            while self.first_open < len(self.blocks) and self.settled[self.first_open]:
                self.first_open += 1


def _blocks(seat_rows: list[tuple[int, list[int]]], rng: random.Random) -> list[tuple[int, list[int]]]:
    """Cut rows into blocks of 1 or 2 seats from the left, so sold seats always stay contiguous from the
    row's start and no choice can strand a single seat."""
    blocks = []
    for section_id, seats in seat_rows:
        at = 0
        while at < len(seats):
            size = min(rng.choice((1, 2)), len(seats) - at)
            blocks.append((section_id, seats[at:at + size]))
            at += size
    return blocks


def _seat_rows(connection, event_id: int) -> list[tuple[int, list[int]]]:
    from tests.builders import rows
    grouped: dict[int, tuple[int, list[int]]] = {}
    for row_id, section_id, seat_id in rows(connection, """
            SELECT s.row_id, s.section_id, s.seat_id FROM event_seats es JOIN seats s ON s.seat_id = es.seat_id
             WHERE es.event_id = :e AND es.state = 'available'
             ORDER BY s.section_id, s.row_id, s.seat_number""", e=event_id):
        grouped.setdefault(row_id, (section_id, []))[1].append(seat_id)
    return list(grouped.values())


def sign_in(browser: Browser, email: str, password: str) -> str:
    """Sign in once (Argon2, outside the timed run); returns the CSRF token the session's pages draw."""
    browser.get("/account/login")
    answer = browser.post("/account/login", {"email": email, "password": password})
    if answer.status != 302:
        raise SystemExit(f"Sign-in of {email} answered {answer.status}.")
    return browser.get("/account/login").field("csrf_token") or ""


def buy(browser: Browser, token: str, event_id: int, section_id: int, seats: list[int], tally: Tally,
        javascript: bool) -> bool:
    """Hold the seats (one click each, as on the map), open the checkout, pay and get the confirmation, as a
    browser with JavaScript does (HTMX seat clicks, a boosted payment form answered with the confirmation)
    or without (form posts and redirects, the confirmation a GET of its own). True if a booking was made."""
    started = time.perf_counter()
    held = 0
    for seat in seats:
        t0 = time.perf_counter()
        form = {"csrf_token": token, "section": section_id, "seat": seat}
        if javascript:
            answer = browser.post(f"/events/{event_id}/seats", {**form, **browser.map_state},
                                  headers={"HX-Request": "true"})
            browser.remember_map_state(answer.body)
            ok = answer.status == 200 and 'role="alert"' not in answer.body
        else:
            answer = browser.post(f"/events/{event_id}/seats", form)
            # A redirect either way: a lost seat shows up as an empty hold at the checkout below.
            ok = answer.status == 302
        tally.step("hold", time.perf_counter() - t0)
        if not ok:
            break
        held += 1
    if held == 0:
        with tally.lock:
            tally.lost_holds += 1
        return False
    t0 = time.perf_counter()
    page = browser.get(f"/checkout/{event_id}")
    tally.step("checkout page", time.perf_counter() - t0)
    if page.status != 200:
        with tally.lock:
            if page.status == 302:
                tally.lost_holds += 1
            else:
                tally.failures[f"checkout page {page.status}"] += 1
        return False
    t0 = time.perf_counter()
    paid = browser.post(f"/checkout/{event_id}", {
        "csrf_token": page.field("csrf_token"), "method": "card", "card_number": TEST_CARD, "exp_month": "12",
        "exp_year": "2030", "cvv": "123", "holder": "Bench Client", "promo_code": page.field("promo_code") or "",
        "expected_total": page.field("expected_total"), "idempotency_key": page.field("idempotency_key")},
        headers={"HX-Request": "true", "HX-Boosted": "true"} if javascript else None)
    tally.step("pay", time.perf_counter() - t0)
    if javascript:
        confirmed = (paid.status == 200 and "/account/orders/" in paid.headers.get("HX-Push-Url", "")
                     and "is confirmed" in paid.body)
        if not confirmed:
            with tally.lock:
                tally.failures[f"pay {paid.status}"] += 1
            return False
    else:
        location = paid.headers.get("Location", "")
        if paid.status != 303 or "/account/orders/" not in location:
            with tally.lock:
                tally.failures[f"pay {paid.status}"] += 1
            return False
        t0 = time.perf_counter()
        confirmation = browser.get(urlsplit(location).path + "?" + urlsplit(location).query)
        tally.step("confirmation", time.perf_counter() - t0)
        if confirmation.status != 200:
            with tally.lock:
                tally.failures[f"confirmation {confirmation.status}"] += 1
            return False
    with tally.lock:
        tally.bookings += 1
        tally.latencies.append(time.perf_counter() - started)
    return True


def verify(connection, event_id: int, expected_bookings: int | None = None,
           since: dt.datetime | None = None) -> bool:
    """No seat with two live tickets; sold seats, live tickets and the cached counts agree; every
    captured payment belongs to one booking; bookings equal the successful checkouts seen; and no
    gateway charge since `since` kept money without a booking."""
    from tests.builders import rows
    one = lambda sql: rows(connection, sql, e=event_id)[0]  # noqa: E731
    checks = {
        "seats with two live tickets": (one("""SELECT COUNT(*) FROM (SELECT seat_id FROM tickets
             WHERE event_id = :e AND status <> 'refunded' GROUP BY seat_id HAVING COUNT(*) > 1) d""")[0], 0),
        "live tickets vs sold seats": one("""SELECT (SELECT COUNT(*) FROM tickets WHERE event_id = :e AND status <> 'refunded'),
             (SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state = 'sold')"""),
        "sold seats without a live ticket": (one("""SELECT COUNT(*) FROM event_seats es WHERE es.event_id = :e
             AND es.state = 'sold' AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.event_id = es.event_id
             AND t.seat_id = es.seat_id AND t.status <> 'refunded')""")[0], 0),
        "events.seats_available vs inventory": one("""SELECT e.seats_available,
             (SELECT COUNT(*) FROM event_seats es WHERE es.event_id = e.event_id AND es.state <> 'sold')
             FROM events e WHERE e.event_id = :e"""),
        "event_prices.seats_available vs inventory (categories off)": (one("""SELECT COUNT(*) FROM event_prices ep
             WHERE ep.event_id = :e AND ep.seats_available <> (SELECT COUNT(*) FROM event_seats es
             WHERE es.event_id = ep.event_id AND es.category_id = ep.category_id AND es.state <> 'sold')""")[0], 0),
        "tickets vs inventory total": one("""SELECT e.seats_total - e.seats_available,
             (SELECT COUNT(*) FROM tickets t WHERE t.event_id = e.event_id AND t.status <> 'refunded')
             FROM events e WHERE e.event_id = :e"""),
        "captured payments vs bookings": one("""SELECT
             (SELECT COUNT(*) FROM payments p JOIN bookings b ON b.booking_id = p.booking_id
               WHERE b.event_id = :e AND p.kind = 'charge' AND p.status = 'captured'),
             (SELECT COUNT(*) FROM bookings WHERE event_id = :e)"""),
    }
    if since is not None:
        # Money taken with nothing booked and nothing given back, anywhere since the run began.
        checks["gateway charges kept without a booking"] = (rows(connection, """SELECT COUNT(*)
             FROM gateway_charges g LEFT JOIN bookings b ON b.idempotency_key = g.idempotency_key
            WHERE g.created_at >= :since AND g.status = 'captured' AND g.refunded_amount < g.amount
              AND b.booking_id IS NULL""", since=since)[0][0], 0)
    bookings = one("SELECT COUNT(*) FROM bookings WHERE event_id = :e")[0]
    if expected_bookings is not None:
        checks["bookings vs successful checkouts"] = (bookings, expected_bookings)
    good = True
    for name, (got, want) in checks.items():
        good &= got == want
        print(f"  {'ok  ' if got == want else 'FAIL'} {name}: {got} / {want}")
    return good


def cmd_verify(args) -> None:
    from boxoffice.extensions import db
    with _app().app_context(), db.engine.connect() as connection:
        raise SystemExit(0 if verify(connection, args.event) else 1)


def row_lock_waits(connection) -> tuple[int, float]:
    """InnoDB's row-lock waits so far and their total time in seconds (server-wide counters)."""
    from tests.builders import rows
    status = dict(rows(connection, "SHOW GLOBAL STATUS WHERE Variable_name IN "
                                   "('Innodb_row_lock_waits', 'Innodb_row_lock_time')"))
    return int(status["Innodb_row_lock_waits"]), int(status["Innodb_row_lock_time"]) / 1000


def cmd_checkout(args) -> None:
    """Hold → pay → book from --clients signed-in customers on a fresh arena event; then verify it."""
    from tests.builders import DEFAULT_PASSWORD, rows

    from boxoffice.extensions import db
    app = _app()
    with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        event_id = args.event or new_arena_event(connection)
        seat_rows = _seat_rows(connection, event_id)
    rng = random.Random(args.seed)
    print(f"event {event_id}: {sum(len(s) for _, s in seat_rows)} free seats in {len(seat_rows)} rows; "
          f"mode {args.mode}, browser {args.browser}")

    browsers = [Browser(args.url, source=f"127.0.0.{i + 2}") for i in range(args.clients)]
    tokens = [sign_in(b, CUSTOMER_EMAIL.format(i + 1), DEFAULT_PASSWORD) for i, b in enumerate(browsers)]
    for browser in browsers:
        # Each buyer opens the map once; from then on every click answers with the map's changes.
        browser.remember_map_state(browser.get(f"/events/{event_id}?section={seat_rows[0][0]}").body)
    tally = Tally()
    budget = Budget(args.bookings)
    if args.mode == "contend":
        board = SlotBoard(_blocks(seat_rows, rng))
    else:
        mine = [_blocks(seat_rows[i::args.clients], random.Random(args.seed + i)) for i in range(args.clients)]

    def work(index: int, deadline: float) -> None:
        browser, token = browsers[index], tokens[index]
        at = 0
        while time.perf_counter() < deadline and budget.take():
            if args.mode == "contend":
                with board.lock:
                    at = max(at, board.first_open)
                if at >= len(board.blocks):
                    return
                section_id, seats = board.blocks[at]
                buy(browser, token, event_id, section_id, seats, tally, args.browser == "htmx")
                board.settle(at)
                at += 1
            else:
                if at >= len(mine[index]):
                    return
                section_id, seats = mine[index][at]
                buy(browser, token, event_id, section_id, seats, tally, args.browser == "htmx")
                at += 1

    with app.app_context(), db.engine.connect() as connection:
        locks_before = row_lock_waits(connection)
        started_at = rows(connection, "SELECT UTC_TIMESTAMP(3)")[0][0]
    meter = CpuMeter(args.url)
    wall = run_clients(args.clients, args.seconds, work)
    for browser in browsers:
        browser.close()
    with app.app_context(), db.engine.connect() as connection:
        locks_after = row_lock_waits(connection)
    summary(f"checkout x{args.clients} ({args.mode}, {args.browser}) hold→checkout→pay→confirmation",
            tally.latencies, wall,
            f" | bookings {tally.bookings} = {tally.bookings / wall:.1f}/s, blocks lost to another buyer "
            f"{tally.lost_holds}, other failures {dict(tally.failures)}")
    print("  " + meter.report(tally.bookings).replace("per request", "per booking"))
    waits, waited = locks_after[0] - locks_before[0], locks_after[1] - locks_before[1]
    print(f"  InnoDB row-lock waits during the run (whole server): {waits}, {waited:.1f} s in all, "
          f"{waited * 1000 / max(tally.bookings, 1):.0f} ms per booking")
    for name, values in tally.steps.items():
        ms = sorted(v * 1000 for v in values)
        print(f"  step {name:13s} n={len(ms):5d} p50 {percentile(ms, 50):7.2f} ms  p95 {percentile(ms, 95):7.2f} ms  "
              f"p99 {percentile(ms, 99):7.2f} ms")
    with app.app_context(), db.engine.connect() as connection:
        print(f"verify event {event_id}:")
        if not verify(connection, event_id, tally.bookings, started_at):
            raise SystemExit(1)


# ---------------------------------------------------------------- command line

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, handler, help_text: str, *, load: bool = True,
                seconds: float = 30) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text)
        sub.set_defaults(handler=handler)
        if load:
            sub.add_argument("--url", default="http://127.0.0.1:8000")
            sub.add_argument("--clients", type=int, default=8)
            sub.add_argument("--seconds", type=float, default=seconds, help="stop after this long at most")
        return sub

    command("setup", cmd_setup, "make the bench events and customers (idempotent)", load=False)
    for name, handler, text in (("page", cmd_page, "event page latency"), ("poll", cmd_poll, "no-change poll over HTTP")):
        sub = command(name, handler, text)
        sub.add_argument("--event", type=int, required=True)
        sub.add_argument("--section", type=int)
        sub.add_argument("--requests", type=int, default=4000, help="stop after this many requests in all")
        sub.add_argument("--warmup", type=int, default=3, help="untimed requests per client first (page)")
    sub = command("poll-server", cmd_poll_server, "server time of the no-change poll, in process", load=False)
    sub.add_argument("--event", type=int, required=True)
    sub.add_argument("--section", type=int)
    sub.add_argument("--calls", type=int, default=5000)
    sub.add_argument("--warmup", type=int, default=200)
    sub.add_argument("--seconds", type=float, default=60)
    sub = command("logstats", cmd_logstats, "server time from a gunicorn access log ending in %%(D)s", load=False)
    sub.add_argument("logfile")
    sub.add_argument("--path", help="only requests whose path contains this")
    sub = command("checkout", cmd_checkout, "hold → pay → book at --clients buyers, then verify", seconds=60)
    sub.add_argument("--event", type=int, help="an on-sale arena event (default: a fresh one)")
    sub.add_argument("--mode", choices=("distinct", "contend"), default="distinct")
    sub.add_argument("--browser", choices=("htmx", "plain"), default="htmx",
                     help="with JavaScript: seat clicks through HTMX (answer: what changed on the map since the last "
                          "answer), the payment form boosted (answer: the confirmation); plain: form posts, redirects "
                          "and the confirmation page")
    sub.add_argument("--bookings", type=int, default=3000,
                     help="stop after this many attempts (blocks tried) in all")
    sub.add_argument("--seed", type=int, default=2026)
    sub = command("verify", cmd_verify, "check an event's inventory, tickets and bookings agree", load=False)
    sub.add_argument("--event", type=int, required=True)
    args = parser.parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main()
