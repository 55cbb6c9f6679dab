"""The database alone, one event, many connections: how many bookings a second the app's own procedures
make for one event when eight buyers book at once (issue 14, "a higher ceiling for one event").

    BOXOFFICE_DB=boxoffice_bench_small .venv/bin/python -m bench.one_event                    # 8 connections
    BOXOFFICE_DB=boxoffice_bench_small .venv/bin/python -m bench.one_event --path full --seconds 20
    BOXOFFICE_DB=boxoffice_bench_small .venv/bin/python -m bench.one_event --layout one-section

Method: `--connections` processes (not threads: the client's Python must not queue on one GIL), each with
one PyMySQL connection as the app's database user (not in autocommit mode, as the app's), book one seat
(`--seats 2`: two presses) after another on one fresh on-sale arena event (`bench.storefront`'s
`new_arena_event`, 20,000 seats in 40 sections, or `--event`) until `--seconds` have passed or their seats
run out. A booking sends the app's statements, in the app's transactions (`bench.sql_costs` holds them):

    --path book (default)  CALL HoldSeats (a seat pressed on the map; it commits), the payment attempt's
                           INSERT and COMMIT, CALL InsertBooking (it commits): what every booking writes
    --path full            as bench.sql_costs: the above plus ExtendHold, the price and the payment quote
                           (the checkout page's reads) and the simulated gateway's INSERT and COMMIT

Each connection is a signed-in bench customer of its own from an address of its own (the fair-hold cap
counts per customer and address), and takes its seats left to right along its own rows, so no booking can
strand a seat and none loses a seat to another: what the connections share is the event alone.
`--layout spread` (default) gives connection i every 8th section; `one-section` gives them the rows of one
section (the busiest section of an on-sale, and the worst case of a lock per section).

Printed: bookings, bookings a second, latency of a booking (p50/p99), refusals by error number, InnoDB's
row-lock waits and deadlocks over the run (server-wide counters), CPU a booking of MariaDB (machine-wide,
from /proc: anyone else's queries count too) and of the clients, the load average before and after, and
`bench.storefront`'s verification of the event (no seat sold twice, counts equal to the inventory).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.sql_costs import ATTEMPT, ATTEMPT_COLUMNS, CHARGE, INSERT_BOOKING, PAYMENT_QUOTE, QUOTE  # noqa: E402
from bench.storefront import (CUSTOMER_EMAIL, _seat_rows, load_average, new_arena_event, percentile,  # noqa: E402
                             row_lock_waits, verify)


def _plan(connection, event_id: int, connections: int, layout: str) -> list[list[list[int]]]:
    """For each connection, its rows of free seats (each left to right)."""
    seat_rows = _seat_rows(connection, event_id)
    sections = sorted({section for section, _ in seat_rows})
    plan: list[list[list[int]]] = [[] for _ in range(connections)]
    if layout == "spread":
        for section_id, seats in seat_rows:
            plan[sections.index(section_id) % connections].append(seats)
    else:
        busiest = max(sections, key=lambda s: sum(len(seats) for sec, seats in seat_rows if sec == s))
        in_section = [seats for section_id, seats in seat_rows if section_id == busiest]
        for n, seats in enumerate(in_section):
            plan[n % connections].append(seats)
    return plan


def _worker(n: int, settings: dict, results: multiprocessing.Queue) -> None:
    """One buyer's connection: books its seats in order until the deadline or its last seat."""
    import pymysql
    conn = pymysql.connect(**settings["connect"], autocommit=False, init_command="SET time_zone = '+00:00'",
                           charset="utf8mb4")
    cur = conn.cursor()
    event_id, customer_id, seats = settings["event"], settings["customers"][n], settings["plan"][n]
    address = f"127.0.1.{n + 1}"
    blocks = [row[i:i + settings["seats"]] for row in seats for i in range(0, len(row), settings["seats"])]
    latencies: list[float] = []
    refused: dict[str, int] = {}
    cpu = time.process_time()
    settings["start"].wait()
    deadline = time.perf_counter() + settings["seconds"]

    def call(sql: str, params=None) -> list:
        cur.execute(sql, params)
        found = cur.fetchall()
        while cur.nextset():
            pass
        return found

    for block in blocks:
        if time.perf_counter() >= deadline:
            break
        started = time.perf_counter()
        owner, key, reference = secrets.token_hex(16), secrets.token_hex(16), f"sim_{secrets.token_hex(12)}"
        try:
            for seat in block:
                call("CALL HoldSeats(%s, %s, %s, 10, TRUE, %s, %s, 40, TRUE)",
                     (event_id, owner, json.dumps([seat]), customer_id, address))
            priced = {"event_id": event_id, "owner": owner, "customer_id": customer_id, "promo": None}
            if settings["path"] == "full":
                call("CALL ExtendHold(%s, %s, 600, TRUE)", (event_id, owner))
                call(QUOTE, priced)
                conn.commit()
                total = json.loads(call(PAYMENT_QUOTE, {**priced, "method": "card"})[0][0])["total"]
            else:
                total = call("SELECT JSON_VALUE(HoldPrice(%s, %s, %s, NULL), '$.total')",
                             (event_id, owner, customer_id))[0][0]
            now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
            call(ATTEMPT, dict(zip(ATTEMPT_COLUMNS, (key, customer_id, event_id, owner, total, None, "card",
                                                     json.dumps(block), "created", now, now))))
            conn.commit()
            if settings["path"] == "full":
                call(CHARGE, (reference, key, total))
                conn.commit()
            booked = call(INSERT_BOOKING.format(""), (customer_id, event_id, owner, reference, total, key,
                                                       secrets.token_hex(32)))
            assert booked and booked[0][9] == 0, booked
            latencies.append(time.perf_counter() - started)
        except pymysql.MySQLError as error:
            conn.rollback()
            code = str(error.args[0])
            refused[code] = refused.get(code, 0) + 1
    results.put((latencies, refused, time.process_time() - cpu))
    conn.close()


def _server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the database server with this process id has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _server_counters(connection) -> dict[str, int]:
    from tests.builders import rows
    waits, wait_seconds = row_lock_waits(connection)
    deadlocks = int(rows(connection, "SHOW GLOBAL STATUS LIKE 'Innodb_deadlocks'")[0][1])
    return {"waits": waits, "wait_ms": wait_seconds * 1000, "deadlocks": deadlocks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--seats", type=int, default=1, choices=(1, 2), help="seats a booking (one press each)")
    parser.add_argument("--path", choices=("book", "full"), default="book")
    parser.add_argument("--layout", choices=("spread", "one-section"), default="spread")
    parser.add_argument("--event", type=int, help="an on-sale arena event (default: a fresh one)")
    args = parser.parse_args()

    import sqlalchemy as sa

    from boxoffice import create_app
    from boxoffice.config import DatabaseSettings
    from boxoffice.extensions import db

    app = create_app()
    with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        event_id = args.event or new_arena_event(connection, "Bench: one event, many connections")
        customers = [connection.execute(sa.text("SELECT customer_id FROM customers WHERE email = :e"),
                                        {"e": CUSTOMER_EMAIL.format(n + 1)}).scalar_one()
                     for n in range(args.connections)]
        plan = _plan(connection, event_id, args.connections, args.layout)
        before = _server_counters(connection)
        # The server this database is on (tests and rehearsals run mariadbd processes of their own).
        server_pid = int(Path(connection.execute(sa.text("SELECT @@pid_file")).scalar_one()).read_text())
    with app.app_context():
        db.engine.dispose()  # nothing of the parent's pool crosses the fork

    url = DatabaseSettings.from_env().app_url
    start = multiprocessing.Event()
    settings = {"connect": {"host": url.host, "port": url.port or 3306, "user": url.username,
                            "password": url.password, "database": url.database},
                "event": event_id, "customers": customers, "plan": plan, "seats": args.seats,
                "path": args.path, "seconds": args.seconds, "start": start}
    results: multiprocessing.Queue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_worker, args=(n, settings, results))
               for n in range(args.connections)]
    for worker in workers:
        worker.start()
    time.sleep(1)  # every connection open before the clock starts
    load_before, db_cpu = load_average(), _server_cpu(server_pid)
    wall = time.perf_counter()
    start.set()
    finished = [results.get() for _ in workers]
    wall, db_cpu = time.perf_counter() - wall, _server_cpu(server_pid) - db_cpu
    for worker in workers:
        worker.join()

    latencies = sorted(x * 1000 for done in finished for x in done[0])
    refused: dict[str, int] = {}
    for _, codes, _ in finished:
        for code, count in codes.items():
            refused[code] = refused.get(code, 0) + count
    client_cpu = sum(done[2] for done in finished)
    with app.app_context(), db.engine.connect() as connection:
        after = _server_counters(connection)
        booked = len(latencies)
        print(f"event {event_id}, {args.connections} connections, layout {args.layout}, path {args.path}, "
              f"{args.seats} seat(s) a booking; load average {load_before} before, {load_average()} after")
        print(f"bookings: {booked} in {wall:.1f} s = {booked / wall:.1f} bookings/s | a booking p50 "
              f"{percentile(latencies, 50):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, mean "
              f"{statistics.fmean(latencies) if latencies else float('nan'):.1f} ms")
        print(f"refused: {refused or 'none'} | row-lock waits {after['waits'] - before['waits']} "
              f"({after['wait_ms'] - before['wait_ms']:.0f} ms), deadlocks {after['deadlocks'] - before['deadlocks']}"
              " (server-wide)")
        if booked:
            print(f"CPU a booking: MariaDB {db_cpu / booked * 1000:.2f} ms (machine-wide), clients "
                  f"{client_cpu / booked * 1000:.2f} ms")
        good = verify(connection, event_id, booked)
    raise SystemExit(0 if good and not set(refused) - {"30009"} else 1)


if __name__ == "__main__":
    main()
