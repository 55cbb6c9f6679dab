"""The cost of each checkout step, in process: SQL statements, Python CPU and MariaDB CPU per request.

    BOXOFFICE_DB=boxoffice_bench_small .venv/bin/python -m bench.checkout_steps --event 73 --bookings 60
    BOXOFFICE_DB=boxoffice_bench_small .venv/bin/python -m bench.checkout_steps --event 73 --profile pay

One signed-in bench customer (made by `bench.storefront setup`) books `--bookings` times through Flask's
test client, one request at a time, one seat each, as `bench.storefront checkout` does over HTTP: a seat
click on the map (HTMX), the checkout page, and the payment POST from the boosted form, which answers
with the confirmation. For each step it prints the statements the app sent (a SQLAlchemy hook), the statements MariaDB ran for them (its session
counter `Queries`, which includes the statements inside procedures and triggers), the Python CPU of the
request and the MariaDB server's CPU (from /proc, so it includes anyone else's queries meanwhile: run it
on a quiet machine). `--profile STEP` prints the cProfile of that step instead.
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.storefront import CUSTOMER_EMAIL, MAP_STATE, TEST_CARD  # noqa: E402  (the HTTP bench's browser)
from tests.builders import DEFAULT_PASSWORD  # noqa: E402

STEPS = ("seat click", "checkout page", "pay")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]*)"')


def _field(body: str, name: str) -> str:
    found = re.search(rf'name="{name}"[^>]*?value="([^"]*)"', body)
    return found.group(1) if found else ""


def _mariadb_cpu() -> float:
    """CPU seconds the MariaDB server has used (utime + stime), 0 if it is not visible here."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "comm").read_text().strip() in ("mariadbd", "mysqld"):
                    fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                    return (int(fields[11]) + int(fields[12])) / 100
            except OSError:
                continue
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--event", type=int, required=True, help="an on-sale arena event of the bench data")
    parser.add_argument("--bookings", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--client", type=int, default=1, help="which bench customer books")
    parser.add_argument("--profile", choices=STEPS + ("booking",), help="cProfile (CPU time) of one step, or of every step")
    parser.add_argument("--sort", default="cumulative", help="cProfile sort order (--profile)")
    parser.add_argument("--lines", type=int, default=45, help="cProfile lines (--profile)")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of the last booking")
    args = parser.parse_args()

    import sqlalchemy as sa

    from boxoffice import create_app
    from boxoffice.extensions import db

    # One pooled connection, so the session counters below are the requests' own. (One session booking
    # nonstop is far above a person's clicking rate: the hold rate limits are off.)
    app = create_app({"HOLD_RATE_LIMITS_ENABLED": False, "SQLALCHEMY_ENGINE_OPTIONS": {**create_app().config["SQLALCHEMY_ENGINE_OPTIONS"],
                                                    "pool_size": 1, "max_overflow": 0}})
    client = app.test_client()
    sent: list[str] = []
    recording = [False]

    def record(statement: str) -> None:
        if recording[0]:
            sent.append(statement)

    # COMMIT, ROLLBACK and pings go to PyMySQL directly, not through the SQLAlchemy hook.
    import pymysql.connections
    for name in ("commit", "rollback", "ping"):
        def traced(self, *a, _name=name, _original=getattr(pymysql.connections.Connection, name), **kw):
            record(_name.upper())
            return _original(self, *a, **kw)
        setattr(pymysql.connections.Connection, name, traced)
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", lambda conn, cursor, statement, *rest: record(statement))
        seats = [r for r in db.session.execute(sa.text("""
            SELECT s.section_id, s.row_id, s.seat_id FROM event_seats es JOIN seats s ON s.seat_id = es.seat_id
             WHERE es.event_id = :e AND es.state = 'available'
             ORDER BY s.section_id, s.row_id, s.seat_number"""), {"e": args.event})]
        db.session.remove()

    counters = ("Questions", "Queries", "Com_admin_commands")

    def queries() -> tuple[int, ...]:
        """The session's statements from the client (COMMIT and ROLLBACK too), statements run in all
        (inside procedures and triggers too) and pings."""
        with app.app_context():
            with db.engine.connect() as connection:
                found = dict(connection.exec_driver_sql(
                    "SHOW SESSION STATUS WHERE Variable_name IN ('Questions', 'Queries', 'Com_admin_commands')").all())
        return tuple(int(found[name]) for name in counters)

    def minus(a, b):
        return tuple(x - y for x, y in zip(a, b))

    first = queries()
    overhead = minus(queries(), first)  # what reading the counters costs

    # Every post says it comes from the site's own page, as a browser's does (boxoffice/csrf.py).
    client.environ_base["HTTP_SEC_FETCH_SITE"] = "same-origin"
    answer = client.post("/account/login", data={"email": CUSTOMER_EMAIL.format(args.client), "password": DEFAULT_PASSWORD})
    assert answer.status_code == 302, answer.status_code
    event_page = client.get(f"/events/{args.event}?section={seats[0][0]}").get_data(as_text=True)
    token = CSRF.search(event_page).group(1)
    # What HTMX sends with a seat click from the open map (the poller's inputs), kept up to date by each answer.
    map_state = dict(MAP_STATE.findall(event_page))

    figures = {step: {"sent": [], "questions": [], "server": [], "pings": [], "cpu": [], "db_cpu": [], "wall": []}
               for step in STEPS}
    # CPU time, so that waiting on MariaDB does not show as Python's cost.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    last_sql: dict[str, list[str]] = {}
    at = 0
    for n in range(args.warmup + args.bookings):
        section_id, row_id, seat_id = seats[at]
        at += 1
        page = None
        for step in STEPS:
            del sent[:]
            before = queries()
            db_cpu, cpu, wall = _mariadb_cpu(), time.process_time(), time.perf_counter()
            recording[0] = True
            if profiler and args.profile in (step, "booking") and n >= args.warmup:
                profiler.enable()
            if step == "seat click":
                held = client.post(f"/events/{args.event}/seats", headers={"HX-Request": "true"},
                                   data={"csrf_token": token, "section": section_id, "seat": seat_id, **map_state})
                map_state.update(MAP_STATE.findall(held.get_data(as_text=True)))
                alert = re.search(r'role="alert"[^>]*>([^<]*)', held.get_data(as_text=True))
                assert held.status_code == 200 and not alert, (held.status_code, alert and alert.group(1))
            elif step == "checkout page":
                page = client.get(f"/checkout/{args.event}")
                assert page.status_code == 200, page.status_code
            elif step == "pay":
                body = page.get_data(as_text=True)
                paid = client.post(f"/checkout/{args.event}", data={
                    "csrf_token": _field(body, "csrf_token"), "method": "card", "card_number": TEST_CARD,
                    "exp_month": "12", "exp_year": "2030", "cvv": "123", "holder": "Bench Client",
                    "promo_code": _field(body, "promo_code"), "expected_total": _field(body, "expected_total"),
                    "idempotency_key": _field(body, "idempotency_key")}, headers={"HX-Request": "true", "HX-Boosted": "true"})
                assert paid.status_code == 200 and "HX-Push-Url" in paid.headers, (
                    paid.status_code, paid.get_data(as_text=True)[:2000])
            if profiler:
                profiler.disable()
            recording[0] = False
            wall, cpu, db_cpu = time.perf_counter() - wall, time.process_time() - cpu, _mariadb_cpu() - db_cpu
            server = minus(minus(queries(), before), overhead)
            last_sql[step] = list(sent)
            if n >= args.warmup:
                f = figures[step]
                f["sent"].append(sum(1 for s in sent if s not in ("COMMIT", "ROLLBACK", "PING")))
                f["questions"].append(server[0])
                f["server"].append(server[1])
                f["pings"].append(server[2])
                f["cpu"].append(cpu * 1000)
                f["db_cpu"].append(db_cpu * 1000)
                f["wall"].append(wall * 1000)

    if profiler:
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.lines)
        return
    print(f"{args.bookings} bookings on event {args.event}, one request at a time (medians; MariaDB CPU: mean)")
    print("sent: statements through SQLAlchemy; client: statements the server got from the client (with COMMIT,")
    print("ROLLBACK); all: the server's statements, inside procedures and triggers too; pings")
    print(f"{'step':17s} {'sent':>5s} {'client':>7s} {'all':>5s} {'pings':>6s} {'py CPU ms':>10s} {'db CPU ms':>10s} "
          f"{'wall ms':>8s}")
    rows = {}
    for step, f in figures.items():
        rows[step] = [statistics.median(f["sent"]), statistics.median(f["questions"]),
                      statistics.median(f["server"]), statistics.median(f["pings"]), statistics.median(f["cpu"]),
                      statistics.fmean(f["db_cpu"]), statistics.median(f["wall"])]
    rows["checkout (last 2)"] = [sum(column) for column in zip(*(rows[step] for step in STEPS[1:]))]
    rows["a booking"] = [sum(column) for column in zip(*(rows[step] for step in STEPS))]
    for step, row in rows.items():
        print(f"{step:17s} {row[0]:5.0f} {row[1]:7.0f} {row[2]:5.0f} {row[3]:6.0f} {row[4]:10.2f} {row[5]:10.2f} "
              f"{row[6]:8.2f}")
    if args.show_sql:
        for step, statements in last_sql.items():
            print(f"\n--- {step}: {len(statements)} statements")
            for statement in statements:
                print("   ", " ".join(statement.split())[:160])


if __name__ == "__main__":
    main()
