"""On-sale rush through nginx: 10,000 simulated buyers for a 1,000-seat event behind the waiting room (issue 14).

    .venv/bin/python -m bench.on_sale_rush                       # the defaults below
    .venv/bin/python -m bench.on_sale_rush --buyers 2000 --early 500 --rate 900

It starts a rehearsal of its own on loopback (deploy/cluster.py, without the replica): a private mariadbd, two
app servers (gunicorn) and nginx in front, each on a free port; builds a 1,000-seat event whose queue opens
--opens-in seconds after the first buyer arrives, letting in --rate people a minute; runs the buyers; checks
the outcome; stops everything.

The buyers. --early of them arrive, at random moments, before the opening (each gets a place drawn at
random at it); the others arrive at random moments over --arrive-over seconds after it. Each goes to the
event's address, is sent to the queue, and from then on asks the queue page again when the page says (its
HTMX poll interval), as a browser would. When let in (the poll answers HX-Redirect and the signed admission
cookie) the buyer opens the event page, clicks one or two seats on the map (HTMX), gives an e-mail to pay as
a guest, opens the checkout and pays (the boosted payment form). Seats are chosen as people choose them: the
best few blocks nobody holds yet, several buyers often wanting the same one at once (whoever loses tries
another). Once the
seats are gone the queue page says so and the buyers still waiting go away.

Bounded: at most --concurrency requests are in flight at once (that many worker threads, each with its own
connection, closed between a waiting buyer's polls), each buyer from its own loopback address (127.x.y.z).

It prints the latency of admitted buyers' pages and clicks (what the 1 s p99 of the issue is about) and of
the queue's own requests, and checks: no seat sold twice and the counts equal the inventory (bench/storefront
`verify`), the places let in form an unbroken run from the front in the order of the places, admissions never
ran ahead of the rate, the late arrivals' places follow their order of arrival, and the early arrivals'
places are a lottery (their rank correlation with arrival order near 0). The machine's load is printed
before and after.
"""
from __future__ import annotations

import argparse
import heapq
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from bench.storefront import Browser, SlotBoard, _blocks, _seat_rows, load_average, percentile, verify  # noqa: E402
from boxoffice import database  # noqa: E402
from deploy.cluster import Cluster, Ports  # noqa: E402
from tests.builders import ECONOMY, PREMIUM, make_event, make_venue, rows  # noqa: E402
from tests.faults.server import free_port  # noqa: E402

POLL = re.compile(r'hx-trigger="every (\d+)s"')
CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"|name="csrf_token"[^>]*value="([^"]+)"')
ADMITTED_STEPS = ("event page", "seat click", "guest e-mail", "checkout page", "pay")
# Buyers choose among the front blocks of this many rows (the best rows still open).
PICK_ROWS = 8


@dataclass
class Buyer:
    index: int
    arrives: float  # seconds after the start
    early: bool
    browser: Browser
    visitor: str | None = None
    joined_at: float | None = None
    admitted_at: float | None = None
    outcome: str = "waiting"


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    outcomes: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def time(self, name: str, seconds: float) -> None:
        with self.lock:
            self.latencies.setdefault(name, []).append(seconds)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors[what] += 1


class Scheduler:
    """Buyers' next steps by the time they are due, handed to a bounded set of worker threads."""

    def __init__(self):
        self.heap: list[tuple[float, int, Buyer, str]] = []
        self.condition = threading.Condition()
        self.sequence = 0
        self.running = 0
        self.closed = False

    def put(self, when: float, buyer: Buyer, step: str) -> None:
        with self.condition:
            self.sequence += 1
            heapq.heappush(self.heap, (when, self.sequence, buyer, step))
            self.condition.notify()

    def take(self, clock) -> tuple[Buyer, str] | None:
        with self.condition:
            while True:
                if self.closed or (not self.heap and self.running == 0):
                    self.condition.notify_all()
                    return None
                if self.heap and self.heap[0][0] <= clock():
                    _, _, buyer, step = heapq.heappop(self.heap)
                    self.running += 1
                    return buyer, step
                wait = self.heap[0][0] - clock() if self.heap else 0.5
                self.condition.wait(max(0.001, min(wait, 0.5)))

    def done(self) -> None:
        with self.condition:
            self.running -= 1
            self.condition.notify_all()


class Rush:
    def __init__(self, args, base_url: str, event_id: int, board: SlotBoard, block_rows: list[int]):
        self.args = args
        self.block_rows = block_rows  # the row of each of the board's blocks
        self.base = base_url
        self.event_id = event_id
        self.board = board
        self.tally = Tally()
        self.scheduler = Scheduler()
        self.started = time.monotonic()
        self.rng = random.Random(args.seed)
        self.rng_lock = threading.Lock()
        self.busy: set[int] = set()  # blocks some buyer holds now

    def clock(self) -> float:
        return time.monotonic() - self.started

    def timed(self, name: str, call):
        t0 = time.perf_counter()
        answer = call()
        self.tally.time(name, time.perf_counter() - t0)
        return answer

    # ------------------------------------------------------------ waiting

    def queue_answer(self, buyer: Buyer, answer, first: bool) -> None:
        """What the queue page said: let in, come back in N seconds, or the seats are gone."""
        admitted = answer.headers.get("HX-Redirect") or (answer.status == 303 and
                                                          answer.headers.get("Location", "").endswith(f"/events/{self.event_id}"))
        buyer.visitor = buyer.browser.cookies.get("visitor", buyer.visitor)
        if first:
            buyer.joined_at = self.clock()
        if admitted:
            buyer.admitted_at = self.clock()
            self.scheduler.put(self.clock(), buyer, "shop")
            return
        if answer.status != 200:
            self.tally.error(f"queue page {answer.status}")
            buyer.outcome = "error"
            return
        found = POLL.search(answer.body)
        if found is None:
            buyer.outcome = "sold out while waiting" if not first else "sold out on arrival"
            return
        buyer.browser.close()  # a waiting browser holds no connection between polls
        self.scheduler.put(self.clock() + int(found.group(1)), buyer, "poll")

    def arrive(self, buyer: Buyer) -> None:
        first = self.timed("arrival: event address", lambda: buyer.browser.get(f"/events/{self.event_id}"))
        if first.status != 303:
            self.tally.error(f"event page before admission {first.status}")
            buyer.outcome = "error"
            return
        answer = self.timed("arrival: queue page", lambda: buyer.browser.get(f"/events/{self.event_id}/queue"))
        self.queue_answer(buyer, answer, first=True)

    def poll(self, buyer: Buyer) -> None:
        answer = self.timed("queue poll", lambda: buyer.browser.get(f"/events/{self.event_id}/queue",
                                                                     headers={"HX-Request": "true"}))
        self.queue_answer(buyer, answer, first=False)

    # ------------------------------------------------------------ buying

    def pick_block(self, tried: set[int]) -> int | None:
        """A block as the map shows them: in each row the leftmost one nobody has bought yet (rows fill from
        the aisle, so no choice strands a single seat) and nobody holds now; one of the best few rows' at
        random. Several buyers often want the same one at once: whoever loses tries another."""
        candidates, rows_seen = [], set()
        with self.board.lock:
            for index in range(self.board.first_open, len(self.board.blocks)):
                row = self.block_rows[index]
                if row in rows_seen or self.board.settled[index]:
                    continue
                rows_seen.add(row)
                if index not in self.busy and index not in tried:
                    candidates.append(index)
                    if len(candidates) == PICK_ROWS:
                        break
        if not candidates:
            return None
        with self.rng_lock:
            return self.rng.choice(candidates)

    def hold_block(self, index: int, busy: bool) -> None:
        """A buyer holds the block (the map shows it taken) or let it go again."""
        with self.board.lock:
            (self.busy.add if busy else self.busy.discard)(index)

    def shop(self, buyer: Buyer) -> None:
        browser = buyer.browser
        post_headers = {"Origin": self.base, "Sec-Fetch-Site": "same-origin"}
        page = self.timed("event page", lambda: browser.get(f"/events/{self.event_id}"))
        if page.status != 200:
            self.tally.error(f"admitted event page {page.status}")
            buyer.outcome = "error"
            return
        browser.remember_map_state(page.body)
        found = CSRF.search(page.body)
        token = (found.group(1) or found.group(2)) if found else ""
        tried: set[int] = set()
        held = None
        for _ in range(4):
            index = self.pick_block(tried)
            if index is None:
                break
            tried.add(index)
            section_id, seats = self.board.blocks[index]
            ok = True
            for seat in seats:
                answer = self.timed("seat click", lambda: browser.post(
                    f"/events/{self.event_id}/seats", {"csrf_token": token, "section": section_id, "seat": seat,
                                                       **browser.map_state},
                    headers={"HX-Request": "true", **post_headers}))
                browser.remember_map_state(answer.body)
                if answer.status != 200 or "alert--error" in answer.body:
                    ok = False
                    break
            if ok:
                held = index
                self.hold_block(index, True)
                break
            # Someone else has it (or part of it): give back what this buyer took of it and try another.
            released = browser.post(f"/events/{self.event_id}/seats", {"csrf_token": token, "action": "release"},
                                    headers=post_headers)
            if released.status != 302:
                self.tally.error(f"release {released.status}")
        if held is None:
            buyer.outcome = "no seats left"
            browser.close()
            return
        guest = self.timed("guest e-mail", lambda: browser.post(
            f"/checkout/{self.event_id}/guest", {"csrf_token": token, "guest-email": f"buyer{buyer.index}@example.com",
                                                 "guest-full_name": f"Buyer {buyer.index}"}, headers=post_headers))
        checkout = self.timed("checkout page", lambda: browser.get(f"/checkout/{self.event_id}"))
        if guest.status != 302 or checkout.status != 200:
            self.tally.error(f"guest {guest.status} / checkout page {checkout.status}")
            buyer.outcome = "error"
            self.hold_block(held, False)
            return
        paid = self.timed("pay", lambda: browser.post(f"/checkout/{self.event_id}", {
            "csrf_token": checkout.field("csrf_token") or token, "method": "card", "card_number": "4242424242424242",
            "exp_month": "12", "exp_year": "2030", "cvv": "123", "holder": "Rush Buyer",
            "promo_code": checkout.field("promo_code") or "", "expected_total": checkout.field("expected_total"),
            "idempotency_key": checkout.field("idempotency_key")},
            headers={"HX-Request": "true", "HX-Boosted": "true", **post_headers}))
        browser.close()
        if paid.status == 200 and "is confirmed" in paid.body:
            buyer.outcome = "booked"
            self.board.settle(held)
        else:
            self.tally.error(f"pay {paid.status}")
            buyer.outcome = "error"
        self.hold_block(held, False)

    # ------------------------------------------------------------ the run

    def work(self) -> None:
        while True:
            taken = self.scheduler.take(self.clock)
            if taken is None:
                return
            buyer, step = taken
            try:
                {"arrive": self.arrive, "poll": self.poll, "shop": self.shop}[step](buyer)
            except OSError as failure:
                self.tally.error(f"{step}: {type(failure).__name__}")
                buyer.outcome = "error"
                buyer.browser.close()
            finally:
                self.scheduler.done()

    def run(self, buyers: list[Buyer]) -> float:
        for buyer in buyers:
            self.scheduler.put(buyer.arrives, buyer, "arrive")
        self.started = time.monotonic()
        threads = [threading.Thread(target=self.work, daemon=True) for _ in range(self.args.concurrency)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + self.args.limit
        while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline:
            time.sleep(0.5)
        with self.scheduler.condition:
            self.scheduler.closed = True
            self.scheduler.condition.notify_all()
        for thread in threads:
            thread.join(30)
        return self.clock()


def spearman(xs: list[float], ys: list[float]) -> float:
    """Rank correlation (no ties in what it is given)."""
    def ranks(values):
        order = sorted(range(len(values)), key=values.__getitem__)
        result = [0] * len(values)
        for rank, i in enumerate(order):
            result[i] = rank
        return result
    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    return 1 - 6 * sum((a - b) ** 2 for a, b in zip(rx, ry)) / (n * (n * n - 1)) if n > 1 else 0.0


def line(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    if not ms:
        return f"  {name:<26} n=0"
    return (f"  {name:<26} n={len(ms):>6}  p50 {percentile(ms, 50):7.1f} ms  p95 {percentile(ms, 95):7.1f} ms  "
            f"p99 {percentile(ms, 99):7.1f} ms  max {ms[-1]:7.1f} ms")


def build_event(owner_url, rate: int) -> tuple[int, list]:
    """The 1,000-seat event with its queue on (opening in an hour: main() sets the real opening when the buyers
    are about to start) and its seats by row."""
    engine = sa.create_engine(owner_url, connect_args={"init_command": "SET time_zone = '+00:00'"})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        venue = make_venue(c, sections=2, rows=20, seats_per_row=25, name="Rush Hall", city="Benchton",
                           categories={"A-E": PREMIUM, "AF-AN": ECONOMY})
        event = make_event(c, venue, title="Bench: the on-sale rush", max_seats_per_order=4)
        c.execute(sa.text("""INSERT INTO waiting_rooms (event_id, enabled, opens_at, admit_per_minute, credit_from)
                             VALUES (:e, TRUE, UTC_TIMESTAMP(3) + INTERVAL 1 HOUR, :rate,
                                     UTC_TIMESTAMP(3) + INTERVAL 1 HOUR)"""), {"e": event.event_id, "rate": rate})
        seat_rows = _seat_rows(c, event.event_id)
    engine.dispose()
    return event.event_id, seat_rows


def check(owner_url, event_id: int, buyers: list[Buyer], rate: int) -> bool:
    engine = sa.create_engine(owner_url, connect_args={"init_command": "SET time_zone = '+00:00'"})
    good = True
    with engine.connect() as c:
        print("Seats (no seat sold twice, counts equal the inventory):")
        good &= verify(c, event_id)
        [(opens_at, through, last)] = rows(c, "SELECT opens_at, admitted_through, last_position FROM waiting_rooms "
                                              "WHERE event_id = :e", e=event_id)
        line_rows = rows(c, """SELECT visitor_id, position, joined_at, admitted_at, draw IS NULL
                                FROM waiting_room_visitors WHERE event_id = :e ORDER BY position""", e=event_id)
        [(booked_seats,)] = rows(c, "SELECT COUNT(*) FROM tickets WHERE event_id = :e AND status <> 'refunded'",
                                 e=event_id)
    engine.dispose()
    admitted = [(position, admitted_at) for _, position, _, admitted_at, _ in line_rows if admitted_at is not None]
    checks = {
        "every visitor has a place of their own": (sorted(p for _, p, *_ in line_rows), list(range(1, len(line_rows) + 1))),
        "the places let in are the first ones, in order": ([p for p, _ in admitted], list(range(1, through + 1))),
        "admitted in the order of their places": (sorted(a for _, a in admitted) == [a for _, a in admitted], True),
    }
    # How far the admitted count ever ran ahead of what the rate had earned since the opening.
    ahead = max((k - (a - opens_at).total_seconds() * rate / 60 for k, (_, a) in enumerate(admitted, start=1)),
                default=0)
    checks[f"never let in faster than the rate (at most {ahead:+.2f} people ahead of it)"] = (ahead <= 1, True)
    # Those who came after the opening (no draw): their places in the order they joined.
    late = [(joined_at, position) for _, position, joined_at, _, came_late in line_rows if came_late]
    checks["late arrivals' places follow their arrival"] = ([p for _, p in sorted(late)], sorted(p for _, p in late))
    for name, (got, want) in checks.items():
        ok = got == want
        good &= ok
        print(f"  {'ok  ' if ok else 'FAIL'} {name}" + ("" if ok else f": {str(got)[:120]} / {str(want)[:120]}"))
    by_visitor = {visitor: position for visitor, position, *_ in line_rows}
    drawn = {visitor for visitor, _, _, _, came_late in line_rows if not came_late}
    # Buyers who reached the queue before the opening (the load generator may be late for some of them).
    early = [(b.arrives, by_visitor[b.visitor]) for b in buyers if b.visitor in drawn]
    if len(early) > 2:
        rho = spearman([a for a, _ in early], [p for _, p in early])
        print(f"  arrived before the opening: {len(early):,} (of {sum(b.early for b in buyers):,} meant to); rank "
              f"correlation of their arrival and place {rho:+.3f} (a lottery: near 0)")
    print(f"  places given {last:,}, let in {through:,}, seats sold {booked_seats:,}")
    return good


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=10_000)
    parser.add_argument("--early", type=int, default=3_000, help="buyers who arrive before the opening")
    parser.add_argument("--opens-in", type=float, default=20, help="seconds from the first arrival to the opening")
    parser.add_argument("--arrive-over", type=float, default=60, help="seconds over which the others arrive")
    parser.add_argument("--rate", type=int, default=900, help="people let in a minute")
    parser.add_argument("--concurrency", type=int, default=48, help="requests in flight at most")
    parser.add_argument("--apps", type=int, default=2, help="app servers")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers per app server")
    parser.add_argument("--limit", type=float, default=600, help="stop after this many seconds")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--keep", action="store_true", help="leave the rehearsal's folder (logs) behind")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="boxoffice-rush-"))
    ports = Ports(free_port(), [free_port() for _ in range(args.apps)], free_port(), free_port())
    cluster = Cluster(root, ports, detached=False, app_workers=args.workers, jobs_interval=0,
                      extra_env={"DATABASE_REPLICA_URL": ""})
    try:
        cluster.primary.install()
        cluster.primary.start()
        settings = cluster.primary.settings()
        database.set_up(settings)
        event_id, seat_rows = build_event(settings.owner_url, args.rate)
        cluster.start_apps()
        cluster.start_nginx(workers=1, access_log=False)
        # The event's queue opens --opens-in seconds after the first arrival: the opening is set now.
        engine = sa.create_engine(settings.owner_url)
        with engine.begin() as c:
            c.execute(sa.text("""UPDATE waiting_rooms SET opens_at = UTC_TIMESTAMP(3) + INTERVAL :us MICROSECOND,
                                        credit_from = UTC_TIMESTAMP(3) + INTERVAL :us MICROSECOND WHERE event_id = :e"""),
                      {"e": event_id, "us": int(args.opens_in * 1_000_000)})
        engine.dispose()
        rng = random.Random(args.seed)
        buyers = []
        for index in range(args.buyers):
            early = index < args.early
            arrives = rng.uniform(0, args.opens_in * 0.95) if early else args.opens_in + rng.uniform(0, args.arrive_over)
            # Each buyer from an address of its own: the box office caps the seats held from one address.
            source = f"127.{1 + index // 62500}.{(index // 250) % 250 + 1}.{index % 250 + 1}"
            buyers.append(Buyer(index, arrives, early, Browser(cluster.url, source=source)))
        cut = random.Random(args.seed)
        blocks, block_rows = [], []
        for row, seats in enumerate(seat_rows):
            for block in _blocks([seats], cut):
                blocks.append(block)
                block_rows.append(row)
        board = SlotBoard(blocks)
        print(f"Event {event_id}: {sum(len(s) for _, s in seat_rows):,} seats; {args.buyers:,} buyers "
              f"({args.early:,} before the opening {args.opens_in:g} s in, the rest over {args.arrive_over:g} s); "
              f"{args.rate:,} let in a minute; at most {args.concurrency} requests at once; {args.apps} app servers "
              f"x {args.workers} workers behind nginx.")
        load_before = Path("/proc/loadavg").read_text().strip()
        rush = Rush(args, cluster.url, event_id, board, block_rows)
        wall = rush.run(buyers)
        load_after = Path("/proc/loadavg").read_text().strip()
        outcomes = Counter(buyer.outcome for buyer in buyers)
        print(f"\nRan {wall:.1f} s. Load average before: {load_before} | after: {load_after} "
              f"({load_average()} now)")
        print("Buyers: " + ", ".join(f"{name} {count:,}" for name, count in outcomes.most_common()))
        if rush.tally.errors:
            print("Errors: " + ", ".join(f"{name} {count}" for name, count in rush.tally.errors.most_common()))
        latencies = rush.tally.latencies
        print("\nAdmitted buyers' pages and clicks:")
        for name in ADMITTED_STEPS:
            print(line(name, latencies.get(name, [])))
        everything = [s for name in ADMITTED_STEPS for s in latencies.get(name, [])]
        print(line("all of them", everything))
        print("The queue's own requests:")
        for name in ("arrival: event address", "arrival: queue page", "queue poll"):
            print(line(name, latencies.get(name, [])))
        waits = [b.admitted_at - b.joined_at for b in buyers if b.admitted_at is not None and b.joined_at is not None]
        if waits:
            print(f"  waited in line: median {statistics.median(waits):.1f} s, longest {max(waits):.1f} s")
        print("\nChecks:")
        good = check(settings.owner_url, event_id, buyers, args.rate)
        p99 = percentile(sorted(everything), 99) if everything else float("inf")
        print(f"\np99 of admitted buyers' pages and clicks: {p99 * 1000:.0f} ms "
              f"({'under' if p99 < 1 else 'NOT under'} 1 s)")
        return 0 if good and p99 < 1 else 1
    finally:
        cluster.down(fast=True)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"Logs in {root}")


if __name__ == "__main__":
    sys.exit(main())
