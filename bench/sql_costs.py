"""What each SQL step of a booking costs MariaDB, with the procedures called directly: microseconds a call.

    BOXOFFICE_DB=boxoffice_bench_small .venv/bin/python -m bench.sql_costs --bookings 300
    BOXOFFICE_DB=boxoffice_bench_small .venv/bin/python -m bench.sql_costs --bookings 300 --seats 2 --vip

Method: one PyMySQL connection as the app's database user, not in autocommit mode (as the app's), books
`--bookings` times on a fresh arena event (`bench.storefront.new_arena_event`, or `--event`), one booking
after another, sending the statements the checkout sends for a booking in the same transactions (the
app's statements outside procedures are copies of them as they were written):

    hold      CALL HoldSeats, which commits (one seat pressed on the map; `--seats 2`: two presses)
    extend    CALL ExtendHold, which commits                            (the checkout page)
    price     the SELECT of HoldPrice (PriceHold as JSON), COMMIT        (the checkout page's price)
    quote     the payment quote SELECT (held seats, method id)
    attempt   INSERT payment_attempts, COMMIT                           (the payment attempt, before the provider)
    charge    INSERT gateway_charges, COMMIT                            (the simulated gateway)
    book      CALL InsertBooking, which commits (its triggers fire)

Each round trip is timed on the client (perf_counter around execute, fetch and the end of the results):
the server's time plus loopback and PyMySQL's share. Beside it, "cpu" is the CPU time the MariaDB thread
serving the connection used meanwhile, from its /proc/<pid>/task/<tid>/schedstat (nanoseconds): only this
connection's work counts, however busy the machine is. (The thread is the one PROCESSLIST names for the
connection; reading its schedstat needs root or MariaDB's user.) The COMMITs are timed apart ("commit" lines). `--count` also counts the statements each step
ran: the session's Com_* counters, which count the statements inside procedures and triggers too (not
their SET and IF steps; the reads of the counters are taken off). MariaDB's `Queries` counter would not
do: it is the server's, whatever the scope asked for. The last line is the MariaDB server's CPU time over
the run divided by the bookings (from /proc: machine-wide, so anyone else's queries count too).

`--compare SUFFIX` is an A/B test that other work on the machine disturbs far less: the bookings alternate
between the procedures as they are and candidates created beside them under the same names with SUFFIX
appended (HoldSeats_b, ...; a candidate that does not exist is the procedure as it is), and each is
reported on its own (several suffixes, comma-separated: each in turn). Run it twice or more: medians move
by a few per cent between runs on two shared cores.
"""
from __future__ import annotations

import argparse
import json
import re
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.checkout_steps import _mariadb_cpu  # noqa: E402
from bench.storefront import CUSTOMER_EMAIL, new_arena_event  # noqa: E402
from sqlalchemy.dialects import mysql  # noqa: E402

from boxoffice.services import checkout as checkout_service  # noqa: E402
from boxoffice.services import payment_attempts  # noqa: E402

STEPS = ("hold", "extend", "price", "quote", "attempt", "charge", "book", "commit")



def _pymysql(statement) -> str:
    """One of the app's statements (SQLAlchemy text, :name parameters) as PyMySQL takes it (%(name)s)."""
    return re.sub(r"(?<!:):(\w+)", r"%(\1)s", statement.text.replace("%", "%%"))


# The app's own statements, not copies of them.
QUOTE = _pymysql(checkout_service.QUOTE)
PAYMENT_QUOTE = _pymysql(checkout_service.PAYMENT_QUOTE)
ATTEMPT_COLUMNS = ["idempotency_key", "customer_id", "event_id", "hold_owner", "amount", "promo_code", "method_code",
                   "seat_ids", "state", "created_at", "updated_at"]
ATTEMPT = str(payment_attempts.INSERT_ATTEMPT.compile(dialect=mysql.dialect(paramstyle="pyformat"),
                                                      column_keys=ATTEMPT_COLUMNS))
CHARGE = """INSERT INTO gateway_charges (reference, idempotency_key, method_code, amount, status, decline_reason,
                                         card_brand, last_four, created_at)
            VALUES (%s, %s, 'card', %s, 'captured', NULL, 'visa', '4242', UTC_TIMESTAMP())"""
INSERT_BOOKING = "CALL InsertBooking{}(%s, %s, %s, NULL, 'card', 'visa', '4242', %s, %s, %s, %s, TRUE)"


def _thread_cpu(task: Path | None) -> int:
    """Nanoseconds the server thread has run on a CPU (the first field of its schedstat), 0 if unknown."""
    return int(task.read_text().split()[0]) if task else 0


def _server_thread(cur) -> Path | None:
    """The schedstat file of the MariaDB thread serving this connection (information_schema.PROCESSLIST's
    TID, MariaDB's; one thread a connection is its default). None if it is not visible from here."""
    cur.execute("SELECT TID FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()")
    tid = cur.fetchone()[0]
    pid = next((p.name for p in Path("/proc").iterdir() if p.name.isdigit()
                and _read(p / "comm") in ("mariadbd", "mysqld")), None)
    task = Path(f"/proc/{pid}/task/{tid}/schedstat")
    if pid is None or not _read(task):
        print("(the server thread of this connection cannot be read from here: no CPU figures)")
        return None
    return task


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seats", type=int, default=1, choices=(1, 2), help="seats a booking (one press each)")
    parser.add_argument("--event", type=int, help="an on-sale arena event (default: a fresh one)")
    parser.add_argument("--vip", action="store_true", help="book as a VIP customer (default: bench client 1)")
    parser.add_argument("--count", action="store_true", help="count the server's statements a step")
    parser.add_argument("--compare", metavar="SUFFIX[,SUFFIX]",
                        help="alternate with candidate procedures named NAME+SUFFIX")
    parser.add_argument("--slow-log", action="store_true",
                        help="log this connection's every statement, inside procedures and triggers too, to the slow "
                             "log (session settings; someone must turn the global slow_query_log on meanwhile)")
    args = parser.parse_args()

    import pymysql
    import sqlalchemy as sa

    from boxoffice import create_app
    from boxoffice.config import DatabaseSettings
    from boxoffice.extensions import db

    app = create_app()
    with app.app_context(), db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        event_id = args.event or new_arena_event(connection, "Bench: sql costs")
        if args.vip:
            customer_id = connection.execute(sa.text(
                "SELECT customer_id FROM vip_customers ORDER BY customer_id LIMIT 1")).scalar_one()
        else:
            customer_id = connection.execute(sa.text("SELECT customer_id FROM customers WHERE email = :e"),
                                             {"e": CUSTOMER_EMAIL.format(1)}).scalar_one()
        seats = [r[0] for r in connection.execute(sa.text("""
            SELECT es.seat_id FROM event_seats es JOIN seats s ON s.seat_id = es.seat_id
             WHERE es.event_id = :e AND es.state = 'available'
             ORDER BY s.section_id, s.row_id, s.seat_number"""), {"e": event_id})]
    needed = (args.warmup + args.bookings * (1 + len(args.compare.split(',')) if args.compare else 1)) * args.seats
    if len(seats) < needed:
        sys.exit(f"event {event_id} has {len(seats)} free seats; {needed} needed")

    url = DatabaseSettings.from_env().app_url
    conn = pymysql.connect(host=url.host, port=url.port or 3306, user=url.username, password=url.password,
                           database=url.database, autocommit=False, init_command="SET time_zone = '+00:00'",
                           charset="utf8mb4")
    cur = conn.cursor()
    server_thread = _server_thread(cur)
    if args.slow_log:
        cur.execute("SET SESSION long_query_time = 0, SESSION log_slow_disabled_statements = ''")
    variants, found = [""], set()
    if args.compare:
        cur.execute("SELECT ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE()")
        found = {name for (name,) in cur.fetchall()}
        variants += args.compare.split(",")
    names = {variant: {name: name + variant if name + variant in found else name
                       for name in ("HoldSeats", "ExtendHold", "InsertBooking")}
             for variant in variants}
    times = {variant: {step: [] for step in STEPS} for variant in variants}
    cpu = {variant: {step: [] for step in STEPS} for variant in variants}
    counts = {variant: {step: [] for step in STEPS} for variant in variants}
    recording = [False]
    variant = [""]

    def queries() -> int:
        # The session's Com_* counters count the statements inside procedures and triggers too; MariaDB's
        # `Queries` counter is the server's, whatever the scope asked for.
        cur.execute("SELECT SUM(VARIABLE_VALUE) FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME LIKE 'COM%'")
        return int(cur.fetchone()[0])

    def run(step: str, sql: str, params=None):
        """One round trip, timed; returns the first result's rows."""
        on_cpu, start = _thread_cpu(server_thread), time.perf_counter()
        cur.execute(sql, params)
        found = cur.fetchall()
        while cur.nextset():
            pass
        if recording[0]:
            times[variant[0]][step].append((time.perf_counter() - start) * 1e6)
            cpu[variant[0]][step].append((_thread_cpu(server_thread) - on_cpu) / 1e3)
        return found

    def commit() -> None:
        on_cpu, start = _thread_cpu(server_thread), time.perf_counter()
        conn.commit()
        if recording[0]:
            times[variant[0]]["commit"].append((time.perf_counter() - start) * 1e6)
            cpu[variant[0]]["commit"].append((_thread_cpu(server_thread) - on_cpu) / 1e3)

    def counted(step: str, work) -> None:
        if not args.count:
            work()
            return
        conn.commit()
        before = queries()
        work()
        if recording[0]:
            counts[variant[0]][step].append(queries() - before - 1)

    owner = secrets.token_hex(16)
    at = 0
    db_cpu = wall = 0.0
    for n in range(args.warmup + args.bookings * len(variants)):
        if n == args.warmup:
            recording[0] = True
            db_cpu, wall = _mariadb_cpu(), time.perf_counter()
        variant[0] = variants[n % len(variants)]
        call = names[variant[0]]
        key, reference = secrets.token_hex(16), f"sim_{secrets.token_hex(12)}"
        for _ in range(args.seats):
            # As the seat map calls it: a signed-in buyer, its address (the per-buyer cap's counts).
            counted("hold", lambda: run("hold", f"CALL {call['HoldSeats']}(%s, %s, %s, 10, TRUE, %s, %s, 40, TRUE)",
                                        (event_id, owner, json.dumps([seats[at]]), customer_id, "127.0.0.1")))
            at += 1
        counted("extend", lambda: run("extend", f"CALL {call['ExtendHold']}(%s, %s, 600, TRUE)", (event_id, owner)))
        priced = {"event_id": event_id, "owner": owner, "customer_id": customer_id, "promo": None}
        counted("price", lambda: (run("price", QUOTE, priced), commit()))
        total = []
        counted("quote", lambda: total.append(json.loads(
            run("quote", PAYMENT_QUOTE, {**priced, "method": "card"})[0][0])["total"]))
        counted("attempt", lambda: (run("attempt", ATTEMPT, dict(zip(ATTEMPT_COLUMNS, (
            key, customer_id, event_id, owner, total[0], None, "card", json.dumps([seats[at - 1]]), "created",
            time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()))))), commit()))
        counted("charge", lambda: (run("charge", CHARGE, (reference, key, total[0])), commit()))
        booked = []
        insert_booking = INSERT_BOOKING.format(call["InsertBooking"][len("InsertBooking"):])
        counted("book", lambda: booked.append(run("book", insert_booking, (
            customer_id, event_id, owner, reference, total[0], key, secrets.token_hex(32)))))
        assert booked[0] and booked[0][0][9] == 0, booked
    db_cpu, wall = _mariadb_cpu() - db_cpu, time.perf_counter() - wall
    conn.close()

    print(f"{args.bookings} bookings of {args.seats} seat(s) on event {event_id}, customer {customer_id}: "
          f"microseconds a round trip, client-timed")
    for variant_name in variants:
        if args.compare:
            print(f"-- {', '.join(names[variant_name].values())}")
        print(f"{'step':8s} {'calls':>6s} {'median':>8s} {'mean':>8s} {'p90':>8s} {'cpu med':>8s} {'cpu mean':>8s}"
              + (f" {'stmts':>6s}" if args.count else ""))
        for step in STEPS:
            values = sorted(times[variant_name][step])
            if not values:
                continue
            on_cpu = cpu[variant_name][step]
            line = (f"{step:8s} {len(values):6d} {statistics.median(values):8.0f} {statistics.fmean(values):8.0f} "
                    f"{values[int(len(values) * 0.9)]:8.0f} {statistics.median(on_cpu):8.0f} "
                    f"{statistics.fmean(on_cpu):8.0f}")
            if args.count and counts[variant_name][step]:
                line += f" {sum(counts[variant_name][step]) / args.bookings:6.1f}"
            print(line)
        total_us = sum(sum(v) for v in times[variant_name].values()) / args.bookings
        cpu_us = sum(sum(v) for v in cpu[variant_name].values()) / args.bookings
        print(f"a booking: {total_us / 1000:.2f} ms of round trips, {cpu_us / 1000:.2f} ms CPU of the server thread"
              + (f"; {sum(sum(c) for c in counts[variant_name].values()) / args.bookings:.0f} statements"
                 if args.count else ""))
    bookings = args.bookings * len(variants)
    print(f"{wall / bookings * 1000:.2f} ms wall a booking; MariaDB CPU {db_cpu / bookings * 1000:.2f} ms a booking "
          f"(machine-wide)")

if __name__ == "__main__":
    main()
