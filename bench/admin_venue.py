"""The admin venue page of the biggest venue (the 20,000-seat arena of the large demo data), timed in process.

    BOXOFFICE_DB=boxoffice_bench_large .venv/bin/python -m bench.admin_venue --runs 20

Signs in as the demo admin (admin@example.com, `demo load` makes it) through the Flask test client, opens the
page once to warm the caches, then --runs times, and prints the median and 95th percentile of the whole
request in milliseconds, the size of the page and the number of SQL statements one request runs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa  # noqa: E402

from boxoffice import create_app  # noqa: E402
from boxoffice.extensions import db  # noqa: E402


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--email", default="admin@example.com")
    parser.add_argument("--password", default="boxoffice-demo")
    args = parser.parse_args()

    app = create_app({"WTF_CSRF_ENABLED": False})
    with app.app_context():
        venue_id, name, seats = db.session.execute(sa.text(
            "SELECT v.venue_id, v.name, COUNT(*) FROM venues v JOIN seats s ON s.venue_id = v.venue_id "
            "GROUP BY v.venue_id, v.name ORDER BY COUNT(*) DESC LIMIT 1")).one()
        statements = []
        sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(1))
    client = app.test_client()
    signed_in = client.post("/admin/login", data={"email": args.email, "password": args.password})
    if signed_in.status_code != 302:
        print(f"Could not sign in as {args.email}: {signed_in.status_code}")
        return 1
    url = f"/admin/venues/{venue_id}"
    client.get(url)
    times = []
    for _ in range(args.runs):
        statements.clear()
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_data(as_text=True)[-2000:]
    print(f"{app.config['DATABASE'].name}: {name} ({seats:,} seats), {url}, {args.runs} runs")
    print(f"  median {statistics.median(times):.1f} ms, p95 {percentile(times, 0.95):.1f} ms, "
          f"{len(response.data) / 1024:,.0f} KiB, {len(statements)} statements a request")
    return 0


if __name__ == "__main__":
    sys.exit(main())
