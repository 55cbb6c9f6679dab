"""Dashboard and business-question timings (issue 5 "Scale"), through the read-only reporting user.

    BOXOFFICE_DB=boxoffice_bench_large .venv/bin/python -m bench.reports --runs 20
    BOXOFFICE_DB=boxoffice_bench_large .venv/bin/python -m bench.reports --runs 20 --explain

Every dashboard statement is timed as the dashboards page runs it: boxoffice.services.reporting.dashboard()
is called for five filters (the last twelve months, all time, the busiest venue, the busiest event, and a
range that starts and ends mid-month, so that the summaries' day rows are read too), and each statement is
timed at the database driver (from sending it to having every row). The filter form's own queries and each
business question of sql/questions/ are timed as well. The table gives the median and the 95th percentile
over --runs runs, in milliseconds; --explain prints each statement's plan (EXPLAIN) once.

The whole dashboards page is timed too, as an admin's browser gets it: GET /admin/reports/ with the filter's
query, through the Flask app (signing in, the filter form, every statement, the template), time passed
from the request to the last byte of the answer.

--cpu measures CPU time instead of time passed, which a busy machine inflates far less: each statement's
MariaDB CPU (the session's profiling, SHOW PROFILE CPU, read after every statement, which is why the times
passed are not shown then) and the page's own Python CPU (time.process_time), added up per page.

The database is the one BOXOFFICE_DB names, reached with the app's own configuration; nothing is written.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
import traceback
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from boxoffice import create_app  # noqa: E402
from boxoffice.models import StaffUser  # noqa: E402
from boxoffice.clock import utcnow  # noqa: E402
from boxoffice.extensions import db  # noqa: E402
from boxoffice.services import reporting, reports_questions  # noqa: E402

REPORTING = str(Path(reporting.__file__).resolve())
LIMIT_MS = 100.0
# The reads a dashboard shares between its tables (reporting._Reads), each one statement.
READS = ("bounds", "sales", "tickets", "payments")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


class StatementClock:
    """Times every statement run on the reporting engine, labelled by the reporting function that ran it
    (its n-th statement when it runs several)."""

    def __init__(self, engine: sa.Engine, cpu: bool = False):
        self.times: dict[str, list[float]] = defaultdict(list)
        self.sql: dict[str, str] = {}
        self._seen: dict[str, int] = defaultdict(int)
        # With `cpu`: each statement's MariaDB CPU in ms, not the time passed (the connections profile).
        self.cpu = cpu
        self.page_server_cpu = 0.0
        sa.event.listen(engine, "before_cursor_execute", self._before)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def new_run(self) -> None:
        self._seen.clear()

    @staticmethod
    def _caller() -> str:
        """The table (or the key figures, or the filter form) a statement is for."""
        for frame in reversed(traceback.extract_stack()):
            if frame.filename == REPORTING and (frame.name in READS or frame.name.endswith(
                    ("_table", "_kpis", "_occupancy", "filter_choices"))):
                return frame.name.lstrip("_")
        return "?"

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        elapsed = (time.perf_counter() - conn.info.pop("bench_started")) * 1000
        if self.cpu:
            # The statement's own CPU in the server (the session profiles every statement: see main()).
            profile = cursor.connection.cursor()
            profile.execute("SHOW PROFILE CPU")
            elapsed = sum(float(row[2] or 0) + float(row[3] or 0) for row in profile.fetchall()) * 1000
            profile.close()
            self.page_server_cpu += elapsed
        caller = self._caller()
        self._seen[caller] += 1
        label = f"{caller} #{self._seen[caller]}"
        self.times[label].append(elapsed)
        self.sql.setdefault(label, getattr(cursor, "_executed", statement))


def filters(connection: sa.Connection) -> dict[str, reporting.ReportFilter]:
    """The five filters the dashboards are timed for, from the data in the database."""
    today = utcnow().date()
    first = connection.scalar(sa.text("SELECT MIN(period) FROM sales_by_period WHERE grain = 'day'")) or today
    venue = connection.scalar(sa.text("SELECT venue_id FROM sales_by_period WHERE grain = 'month' "
                                      "GROUP BY venue_id ORDER BY SUM(bookings) DESC LIMIT 1"))
    event = connection.scalar(sa.text("SELECT event_id FROM sales_by_period WHERE grain = 'month' "
                                      "GROUP BY event_id ORDER BY SUM(bookings) DESC LIMIT 1"))
    month_ago = today.replace(day=1) - dt.timedelta(days=1)
    return {
        "12 months": reporting.default_filter(today),
        "all time": reporting.ReportFilter(first, today),
        "venue": reporting.ReportFilter(first, today, venue_id=venue),
        "event": reporting.ReportFilter(first, today, event_id=event),
        "ragged": reporting.ReportFilter((today - dt.timedelta(days=160)).replace(day=10), month_ago.replace(day=20)),
    }


def page_times(app, scopes: dict[str, reporting.ReportFilter], runs: int) -> dict[str, list[float]]:
    """Milliseconds to GET the dashboards page for each filter, signed in as the first admin (the session
    cookie is made directly: signing in would write a sign-in record)."""
    admin = db.session.scalar(sa.select(StaffUser).where(StaffUser.role == "admin").order_by(StaffUser.staff_id))
    client = app.test_client()
    # The browser's identifier, as signing in records it (strong session protection checks it).
    with app.test_request_context(environ_base=client.environ_base):
        identifier = app.login_manager._session_identifier_generator()
    with client.session_transaction() as session:
        session.update({"_user_id": f"staff:{admin.staff_id}:{admin.session_epoch}", "_fresh": True,
                        "_id": identifier})
    times: dict[str, list[float]] = {}
    for name, scope in scopes.items():
        url = "/admin/reports/?" + "&".join(f"{key}={value}" for key, value in scope.as_query().items())
        assert client.get(url).status_code == 200, url   # and warms what the first request warms
        times[name] = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url)
            response.get_data()
            times[name].append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
    return times


def cell(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} / {percentile(values, 0.95):7.1f}" if values else "–"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="runs of each dashboard and question (default 20)")
    parser.add_argument("--explain", action="store_true", help="print the plan of every statement once")
    parser.add_argument("--cpu", action="store_true", help="CPU time (MariaDB's and Python's), not time passed")
    args = parser.parse_args()

    app = create_app()
    with app.app_context():
        engine = db.engines["reports"]
        if args.cpu:
            sa.event.listen(engine, "connect", lambda dbapi, _: dbapi.cursor().execute("SET profiling = 1"))
            engine.dispose()
        with engine.connect() as connection:
            scopes = filters(connection)
            tickets = connection.scalar(sa.text("SELECT COUNT(*) FROM tickets"))
            version = connection.scalar(sa.text("SELECT VERSION()"))
        print(f"{app.config['DATABASE'].name}: {tickets:,} tickets, {version}, {args.runs} runs, "
              f"as {engine.url.username}")
        for name, scope in scopes.items():
            print(f"  {name:9}  {reporting.describe(scope)}")

        clocks = {}
        whole: dict[str, list[float]] = defaultdict(list)
        for name, scope in scopes.items():
            clocks[name] = clock = StatementClock(engine, args.cpu)
            reporting.dashboard(scope)      # warm the buffer pool and the statement caches
            clock.times.clear()
            for _ in range(args.runs):
                clock.new_run()
                clock.page_server_cpu = 0.0
                started, started_cpu = time.perf_counter(), time.process_time()
                reporting.filter_choices(scope)
                reporting.dashboard(scope)
                if args.cpu:
                    whole[name].append((time.process_time() - started_cpu) * 1000 + clock.page_server_cpu)
                else:
                    whole[name].append((time.perf_counter() - started) * 1000)
            sa.event.remove(engine, "before_cursor_execute", clock._before)
            sa.event.remove(engine, "after_cursor_execute", clock._after)

        labels = list(dict.fromkeys(label for clock in clocks.values() for label in clock.times))
        slowest = 0.0
        what = "CPU milliseconds (MariaDB's; the whole page: MariaDB's and Python's)" if args.cpu else "milliseconds"
        print(f"\nDashboard statements, {what}, median / p95 over {args.runs} runs:\n")
        print(f"| {'statement':32} | " + " | ".join(f"{name:^17}" for name in scopes) + " |")
        print(f"|{'-' * 34}|" + "|".join("-" * 19 for _ in scopes) + "|")
        for label in labels:
            cells = [cell(clocks[name].times.get(label, [])) for name in scopes]
            slowest = max([slowest] + [percentile(clocks[name].times[label], 0.95)
                                       for name in scopes if clocks[name].times.get(label)])
            print(f"| {label:32} | " + " | ".join(f"{c:>17}" for c in cells) + " |")
        print(f"| {'whole page (all of the above)':32} | " + " | ".join(f"{cell(whole[n]):>17}" for n in scopes) + " |")
        if not args.cpu:
            pages = page_times(app, scopes, args.runs)
            slowest = max([slowest] + [percentile(times, 0.95) for times in pages.values()])
            print(f"| {'the page (GET, template included)':32} | " + " | ".join(f"{cell(pages[n]):>17}" for n in scopes)
                  + " |")

        print(f"\nBusiness questions, milliseconds, median / p95 over {args.runs} runs:\n")
        print(f"| {'question':40} | {'median / p95':>17} | rows |")
        print(f"|{'-' * 42}|{'-' * 19}|------|")
        for question in reports_questions.questions():
            times = []
            for _ in range(args.runs + 1):
                started = time.perf_counter()
                answer = reports_questions.answer(question)
                times.append((time.perf_counter() - started) * 1000)
            times = times[1:]
            slowest = max(slowest, percentile(times, 0.95))
            print(f"| {question.name:40} | {cell(times):>17} | {len(answer.rows):4} |")

        if args.explain:
            with engine.connect() as connection:
                for label in labels:
                    sql = next(clock.sql[label] for clock in clocks.values() if label in clock.sql)
                    print(f"\n-- {label}\n{sql}")
                    if sql.lstrip().upper().startswith("CALL"):
                        print("(a procedure call: see GetEventRevenueByMonth's statement in the docs)")
                        continue
                    for row in connection.exec_driver_sql("EXPLAIN " + sql.replace("%", "%%")):
                        print("   ", " | ".join("" if v is None else str(v) for v in row))

    print(f"\nSlowest p95: {slowest:.1f} ms ({'within' if slowest <= LIMIT_MS else 'OVER'} the {LIMIT_MS:.0f} ms limit)")
    return 0 if slowest <= LIMIT_MS else 1


if __name__ == "__main__":
    sys.exit(main())
