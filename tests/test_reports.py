"""The reports pages through the Flask test client, on the tiny demo data: every chart's figures, the key
figures and the CSV exports equal the raw bookings, tickets and payments added up here in Python; the
business questions answer; the reporting user cannot write; shared links open signed out and stop when
revoked or expired; the HTML download carries everything inside it.

The pages read through the reporting user, which sees committed rows only: the figures are the demo data's.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pytest
import sqlalchemy as sa

from boxoffice.clock import utcnow
from boxoffice.extensions import db
from boxoffice.services import reports_questions
from boxoffice.services.reporting import ReportFilter

DAY = dt.timedelta(days=1)
ZERO = Decimal("0.00")
TABLE_ACCESS_DENIED = 1142


# ---------------------------------------------------------------- the raw rows, added up in Python

# What a dashboard shows (dates, venue, event): the app's own filter, which also spells the URL query.
Scope = ReportFilter


def pct(part, whole) -> Decimal | None:
    return (Decimal(100) * part / whole).quantize(Decimal("0.1"), ROUND_HALF_UP) if whole else None


def as_number(value):
    return float(value) if isinstance(value, Decimal) else value


class Raw:
    """Every row the figures are made of, read as the schema owner."""

    def __init__(self, connection):
        def read(sql):
            return [dict(row) for row in connection.execute(sa.text(sql)).mappings()]
        self.events = {e["event_id"]: e for e in read(
            "SELECT event_id, title, venue_id, status, starts_at, sales_start, sales_end, seats_total, "
            "seats_available FROM events")}
        self.venues = {v["venue_id"]: v["name"] for v in read("SELECT venue_id, name FROM venues")}
        # A customer's segment: a guest (no account) is counted apart from Regular customers.
        self.types = {c["customer_id"]: "guest" if c["is_guest"] else c["customer_type"]
                      for c in read("SELECT customer_id, customer_type, is_guest FROM customers")}
        self.categories = read("SELECT category_id, name, `rank` FROM seat_categories ORDER BY `rank`")
        self.methods = read("SELECT method_id, name FROM payment_methods ORDER BY method_id")
        self.bookings = read("SELECT booking_id, event_id, customer_id, total, status, booked_at FROM bookings")
        self.tickets = read("SELECT booking_id, category_id, status FROM tickets")
        self.payments = read("SELECT booking_id, customer_id, method_id, kind, status, amount, created_at FROM payments")
        self.refunded = defaultdict(Decimal)
        for p in self.payments:
            if p["kind"] == "refund":
                self.refunded[p["booking_id"]] += p["amount"]
        self.event_of = {b["booking_id"]: b["event_id"] for b in self.bookings}

    def in_scope(self, s: Scope, event_id: int, day: dt.date) -> bool:
        return (s.date_from <= day <= s.date_to and (s.venue_id is None or self.events[event_id]["venue_id"] == s.venue_id)
                and (s.event_id is None or event_id == s.event_id))

    def bookings_in(self, s: Scope, *, by_type: bool = True) -> list[dict]:
        """The bookings of the scope; of its customer type too, unless `by_type` is False (for the figures the
        customer type does not narrow)."""
        return [b for b in self.bookings if self.in_scope(s, b["event_id"], b["booked_at"].date())
                and (not by_type or s.customer_type in (None, self.types[b["customer_id"]]))]

    def event_label(self, event_id: int) -> str:
        """An event as the charts name it: its title and date."""
        return f"{self.events[event_id]['starts_at']:%d %b %Y} · {self.events[event_id]['title']}"

    def net_by(self, s: Scope, key) -> dict:
        net = defaultdict(Decimal)
        for b in self.bookings_in(s):
            net[key(b)] += b["total"] - self.refunded[b["booking_id"]]
        return net

    def top(self, s: Scope, key, name) -> tuple[list, list]:
        ranked = sorted(self.net_by(s, key).items(), key=lambda item: (-item[1], item[0]))[:10]
        return [name(k) for k, _ in ranked], [float(net) for _, net in ranked]

    def monthly(self, s: Scope) -> dict:
        """Every month of the scope's period (from the first sale ever at the earliest), for every customer
        type and payment method."""
        net, bookings = defaultdict(Decimal), defaultdict(int)
        for b in self.bookings_in(s, by_type=False):
            month = b["booked_at"].date().replace(day=1)
            net[month] += b["total"] - self.refunded[b["booking_id"]]
            bookings[month] += 1
        first_sale = min(b["booked_at"].date() for b in self.bookings)
        months, month = [], max(s.date_from, first_sale).replace(day=1)
        while month <= max(s.date_to, first_sale):
            months.append(month)
            month = (month + 32 * DAY).replace(day=1)
        values = [net.get(m, ZERO) for m in months]
        growth = [None] + [pct(now - before, before) if before > 0 else None for before, now in zip(values, values[1:])]
        return {"labels": [f"{m:%b %Y}" for m in months], "net": values, "growth": growth}

    def sold_tickets(self, s: Scope) -> dict[int, int]:
        """Tickets still sold per category (not kept per customer type or payment method)."""
        booked = {b["booking_id"] for b in self.bookings_in(s, by_type=False)}
        sold = defaultdict(int)
        for t in self.tickets:
            if t["booking_id"] in booked and t["status"] != "refunded":
                sold[t["category_id"]] += 1
        return sold

    def occupancy(self, s: Scope, now: dt.datetime) -> dict[str, dict[str, list[int]]]:
        by_venue: dict[str, dict[str, list[int]]] = {}
        for e in self.events.values():
            if e["status"] != "on_sale" or (s.venue_id and e["venue_id"] != s.venue_id) or (
                    s.event_id and e["event_id"] != s.event_id):
                continue
            held = s.date_from <= e["starts_at"].date() <= s.date_to and e["starts_at"] < now
            on_sale = e["starts_at"] > now and e["sales_start"] <= now < e["sales_end"]
            for side, counts in (("held", held), ("on_sale", on_sale)):
                if counts:
                    venue = by_venue.setdefault(self.venues[e["venue_id"]], {"held": [0, 0], "on_sale": [0, 0]})
                    venue[side][0] += e["seats_total"] - e["seats_available"]
                    venue[side][1] += e["seats_total"]
        return dict(sorted(by_venue.items()))

    def payments_in(self, s: Scope) -> list[dict]:
        found = []
        for p in self.payments:
            venue = self.events[self.event_of[p["booking_id"]]]["venue_id"] if p["booking_id"] else None
            if (s.date_from <= p["created_at"].date() <= s.date_to and (s.venue_id is None or venue == s.venue_id)
                    and s.customer_type in (None, self.types[p["customer_id"]]) and s.method_id in (None, p["method_id"])):
                found.append(p)
        return found


@pytest.fixture(scope="module")
def raw(owner_engine, demo_summary) -> Raw:
    with owner_engine.connect() as connection:
        return Raw(connection)


@pytest.fixture(scope="module")
def scopes(raw) -> dict[str, Scope]:
    """A dashboard's default, all time, the busiest venue, the busiest event, and a range starting and
    ending mid-month (read partly from the summaries' day rows)."""
    today = utcnow().date()
    busiest_event = max(raw.events, key=lambda e: sum(b["event_id"] == e for b in raw.bookings))
    busiest_venue = raw.events[busiest_event]["venue_id"]
    days = sorted(b["booked_at"].date() for b in raw.bookings)
    ragged_from, ragged_to = days[len(days) // 5], days[len(days) * 4 // 5]
    ragged_from = ragged_from.replace(day=min(ragged_from.day, 27)) + DAY
    paid_with = defaultdict(int)
    for p in raw.payments:
        paid_with[p["method_id"]] += 1
    busiest_method = max(paid_with, key=paid_with.get)
    return {
        "default": Scope(today - 364 * DAY, today),
        "all_time": Scope(dt.date(2000, 1, 1), today),
        "venue": Scope(dt.date(2000, 1, 1), today, venue_id=busiest_venue),
        "event": Scope(dt.date(2000, 1, 1), today, event_id=busiest_event),
        "ragged": Scope(ragged_from, ragged_to),
        "vip": Scope(dt.date(2000, 1, 1), today, customer_type="vip"),
        "regular_venue": Scope(dt.date(2000, 1, 1), today, venue_id=busiest_venue, customer_type="regular"),
        "method": Scope(today - 364 * DAY, today, method_id=busiest_method),
        "vip_method": Scope(ragged_from, ragged_to, customer_type="vip", method_id=busiest_method),
        "guest": Scope(dt.date(2000, 1, 1), today, customer_type="guest"),
    }


def charts(html: str) -> dict[str, dict]:
    """Every chart's JSON figures on a page, by chart id."""
    return {match.group(1): json.loads(match.group(2)) for match in re.finditer(
        r'<script type="application/json" id="(chart-[\w-]+)-data">(.*?)</script>', html, re.S)}


def kpis(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-kpi="(\w+)">([^<]*)<', html))


SCOPES = ["default", "all_time", "venue", "event", "ragged", "vip", "regular_venue", "method", "vip_method", "guest"]


@pytest.fixture
def page(admin_client, scopes):
    """The dashboards page for a scope: its HTML."""
    def fetch(name: str) -> str:
        response = admin_client.get("/admin/reports/", query_string=scopes[name].as_query())
        assert response.status_code == 200
        return response.get_data(as_text=True)
    return fetch


# ---------------------------------------------------------------- the charts

@pytest.mark.parametrize("scope", SCOPES)
def test_the_top_events_and_venues_charts_equal_the_raw_bookings_less_their_refunds(page, raw, scopes, scope):
    s = scopes[scope]
    drawn = charts(page(scope))

    events = raw.top(s, lambda b: b["event_id"], raw.event_label)
    venues = raw.top(s, lambda b: raw.events[b["event_id"]]["venue_id"], lambda v: raw.venues[v])

    assert (drawn["chart-top-events"]["labels"], drawn["chart-top-events"]["datasets"][0]["data"]) == events
    assert (drawn["chart-top-venues"]["labels"], drawn["chart-top-venues"]["datasets"][0]["data"]) == venues
    assert events[0], "the demo data should have sales in every scope tested"


@pytest.mark.parametrize("scope", SCOPES)
def test_the_monthly_chart_equals_the_raw_net_revenue_per_month_and_its_growth(page, raw, scopes, scope):
    drawn = charts(page(scope))["chart-monthly"]

    expected = raw.monthly(scopes[scope])

    assert drawn["labels"] == expected["labels"]
    assert drawn["datasets"][0]["data"] == [float(v) for v in expected["net"]]
    assert drawn["datasets"][1]["data"] == [as_number(v) for v in expected["growth"]]


@pytest.mark.parametrize("scope", SCOPES)
def test_the_seat_category_chart_counts_the_tickets_still_sold(page, raw, scopes, scope):
    drawn = charts(page(scope))["chart-categories"]

    sold = raw.sold_tickets(scopes[scope])

    expected = [(c["name"], sold[c["category_id"]]) for c in raw.categories if sold[c["category_id"]]]
    assert list(zip(drawn["labels"], drawn["datasets"][0]["data"])) == expected


@pytest.mark.parametrize("scope", SCOPES)
def test_the_occupancy_chart_divides_tickets_sold_by_seats_offered(page, raw, scopes, scope):
    drawn = charts(page(scope)).get("chart-occupancy")

    expected = raw.occupancy(scopes[scope], utcnow())

    if not expected:
        assert drawn is None
        return
    assert drawn["labels"] == list(expected)
    assert drawn["datasets"][0]["data"] == [as_number(pct(*v["held"])) for v in expected.values()]
    assert drawn["datasets"][1]["data"] == [as_number(pct(*v["on_sale"])) for v in expected.values()]


@pytest.mark.parametrize("scope", ["default", "all_time", "venue"])
def test_the_event_occupancy_lists_show_the_fullest_held_and_soonest_on_sale_and_export_them_all(
        admin_client, page, raw, scopes, scope):
    s, now = scopes[scope], utcnow()
    events = [e for e in raw.events.values() if e["status"] == "on_sale" and s.venue_id in (None, e["venue_id"])]
    held = sorted((e for e in events if s.date_from <= e["starts_at"].date() <= s.date_to and e["starts_at"] < now),
                  key=lambda e: (-Fraction(e["seats_total"] - e["seats_available"], e["seats_total"] or 1),
                                 e["starts_at"], e["event_id"]))
    on_sale = sorted((e for e in events if e["starts_at"] > now and e["sales_start"] <= now < e["sales_end"]),
                     key=lambda e: (e["starts_at"], e["event_id"]))
    html = page(scope)

    for table, expected in (("occupancy-held", held), ("occupancy-on-sale", on_sale)):
        header, *rows = export(admin_client, table, s)
        assert [(row[0], int(row[header.index("Sold")])) for row in rows] == [
            (e["title"], e["seats_total"] - e["seats_available"]) for e in expected]
        shown = re.search(rf'id="table-{table}">.*?<tbody>(.*?)</tbody>.*?</div>\s*(<p class="report-table__note">'
                          rf'[^<]*</p>)?', html, re.S)
        assert len(re.findall(r"<tr>", shown.group(1))) == max(1, min(15, len(expected)))
        if len(expected) > 15:
            assert f"15 of {len(expected)} shown" in shown.group(2)


@pytest.mark.parametrize("customer_type", [None, "vip", "guest"])
def test_the_repeat_buyers_equal_every_customers_raw_bookings_over_all_time(admin_client, raw, scopes,
                                                                           customer_type):
    bookings, net = defaultdict(int), defaultdict(Decimal)
    for b in raw.bookings:
        bookings[b["customer_id"]] += 1
        net[b["customer_id"]] += b["total"] - raw.refunded[b["booking_id"]]
    names = {"regular": "Regular", "vip": "VIP", "guest": "Guest"}
    expected = []
    for segment in ("regular", "vip", "guest"):
        buyers = [c for c in bookings if raw.types[c] == segment]
        if buyers and customer_type in (None, segment):
            expected.append([names[segment], str(len(buyers)), str(sum(bookings[c] >= 2 for c in buyers)),
                             str((Decimal(sum(bookings[c] for c in buyers)) / len(buyers)).quantize(Decimal("0.01"),
                                                                                                  ROUND_HALF_UP)),
                             str((sum(net[c] for c in buyers) / len(buyers)).quantize(Decimal("0.01"), ROUND_HALF_UP))])

    # The period does not narrow them (all time, every venue); the customer type does.
    header, *rows = export(admin_client, "repeat-buyers", Scope(utcnow().date() - 9 * DAY, utcnow().date(),
                                                                 customer_type=customer_type))

    assert header == ["Customers", "Buyers", "Bought twice or more", "Repeat buyers", "Bookings per buyer",
                      "Net spend per buyer"]
    assert [[row[0], row[1], row[2], row[4], row[5]] for row in rows] == expected


def test_the_event_filter_offers_the_events_of_the_chosen_venue_only(admin_client, raw, scopes):
    venue = scopes["venue"].venue_id
    other = next(e for e in raw.events.values() if e["venue_id"] != venue and e["status"] != "draft")

    def offered(query: dict) -> list[str]:
        html = admin_client.get("/admin/reports/", query_string=query).get_data(as_text=True)
        field = re.search(r'<select[^>]*id="event"[^>]*>(.*?)</select>', html, re.S).group(1)
        return re.findall(r'<option[^>]*value="(\d*)"', field)

    assert offered({}) == [""], "no venue chosen: no list of every event"
    assert offered({"venue": venue}) == [""] + [str(e["event_id"]) for e in sorted(
        (e for e in raw.events.values() if e["venue_id"] == venue and e["status"] != "draft"),
        key=lambda e: (e["starts_at"], e["event_id"]))]
    assert str(scopes["event"].event_id) in offered({"event": scopes["event"].event_id}), "its venue's events"

    # An event of another venue (the venue was changed since): the dashboard is the venue's, the event dropped.
    html = admin_client.get("/admin/reports/", query_string={"venue": venue, "event": other["event_id"]}
                            ).get_data(as_text=True)
    assert raw.venues[venue] in re.search(r'id="table-top-venues">(.*?)</table>', html, re.S).group(1)
    assert f'value="{other["event_id"]}" selected' not in html


@pytest.mark.parametrize("scope", SCOPES)
def test_the_customer_charts_split_revenue_and_payments_by_customer_type(page, raw, scopes, scope):
    s = scopes[scope]
    drawn = charts(page(scope))

    net = raw.net_by(s, lambda b: raw.types[b["customer_id"]])
    paid = defaultdict(Decimal)
    methods = set()
    for p in raw.payments_in(s):
        methods.add(p["method_id"])
        if p["kind"] == "charge" and p["status"] == "captured":
            paid[p["method_id"], raw.types[p["customer_id"]]] += p["amount"]

    types = [t for t in ("regular", "vip", "guest") if t in net]
    mixed = [t for t in ("regular", "vip", "guest") if s.customer_type in (None, t)]
    assert drawn["chart-customer-types"]["labels"] == [{"regular": "Regular", "vip": "VIP", "guest": "Guest"}[t]
                                                       for t in types]
    assert drawn["chart-customer-types"]["datasets"][0]["data"] == [float(net[t]) for t in types]
    mix = drawn["chart-payment-mix"]
    shown = [m for m in raw.methods if m["method_id"] in methods]
    assert mix["labels"] == [m["name"] for m in shown]
    assert [d["data"] for d in mix["datasets"]] == [[float(paid[m["method_id"], t]) for m in shown] for t in mixed]


@pytest.mark.parametrize("scope", SCOPES)
def test_the_key_figures_equal_the_raw_rows(page, raw, scopes, scope):
    s = scopes[scope]
    shown = kpis(page(scope))

    bookings = raw.bookings_in(s)
    total = sum((b["total"] for b in bookings), ZERO)
    net = total - sum((raw.refunded[b["booking_id"]] for b in bookings), ZERO)
    # The average order value leaves out the bookings refunded in full.
    kept = [b for b in bookings if b["status"] != "refunded"]
    kept_total = sum((b["total"] for b in kept), ZERO)
    held = [v["held"] for v in raw.occupancy(s, utcnow()).values()]
    occupancy = pct(sum(sold for sold, _ in held), sum(seats for _, seats in held))

    assert shown["net_revenue"] == f"€{net:,.2f}"
    assert shown["tickets_sold"] == f"{sum(raw.sold_tickets(s).values()):,}"
    assert shown["average_order"] == (f"€{(kept_total / len(kept)).quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"
                                      if kept else "–")
    assert shown["occupancy"] == (f"{occupancy:,.1f} %" if occupancy is not None else "–")


def test_every_chart_of_the_dashboards_is_on_the_page_with_data(page):
    drawn = charts(page("all_time"))

    assert set(drawn) == {"chart-top-events", "chart-top-venues", "chart-monthly", "chart-categories",
                          "chart-occupancy", "chart-customer-types", "chart-payment-mix"}
    assert all(any(value for d in chart["datasets"] for value in d["data"]) for chart in drawn.values())


def test_a_filter_from_htmx_returns_only_the_dashboard(admin_client, scopes):
    response = admin_client.get("/admin/reports/", query_string=scopes["venue"].as_query(), headers={"HX-Request": "true"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html and 'class="report-filters"' not in html
    assert "chart-top-events-data" in html and "HX-Request" in response.headers["Vary"]


def test_an_end_date_before_the_start_date_is_explained(admin_client):
    html = admin_client.get("/admin/reports/", query_string={"date_from": "2026-05-02", "date_to": "2026-05-01"}
                            ).get_data(as_text=True)

    assert "The end date is before the start date." in html


# ---------------------------------------------------------------- CSV exports

def export(admin_client, table: str, scope: Scope | None = None) -> list[list[str]]:
    response = admin_client.get("/admin/reports/export.csv", query_string={"table": table, **(scope.as_query() if scope else {})})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == f'attachment; filename="{table}.csv"'
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_every_dashboard_table_links_to_its_csv_with_a_header_row(admin_client, page):
    html = page("default")
    tables = re.findall(r'href="/admin/reports/export\.csv\?table=([\w-]+)&amp;', html)

    assert len(tables) == 10
    for table in tables:
        header, *_ = export(admin_client, table)
        heading = re.search(rf'<table class="table" id="table-{table}">\s*<thead>\s*<tr>(.*?)</tr>', html, re.S)
        assert header == re.findall(r"<th[^>]*>([^<]*)</th>", heading.group(1))


@pytest.mark.parametrize("scope", ["all_time", "ragged", "venue", "regular_venue", "vip_method"])
def test_the_csv_exports_parse_back_to_the_raw_figures(admin_client, raw, scopes, scope):
    s = scopes[scope]

    header, *events = export(admin_client, "top-events", s)
    assert header[0] == "Event" and header[-1] == "Net revenue"
    assert ([row[0] for row in events], [float(row[-1]) for row in events]) == raw.top(
        s, lambda b: b["event_id"], lambda e: raw.events[e]["title"])

    header, *months = export(admin_client, "monthly", s)
    expected = raw.monthly(s)
    assert [Decimal(row[header.index("Net revenue")]) for row in months] == expected["net"]
    assert [row[header.index("Growth")] or None for row in months] == [
        str(g) if g is not None else None for g in expected["growth"]]

    header, *categories = export(admin_client, "categories", s)
    sold = raw.sold_tickets(s)
    assert [(row[0], int(row[1])) for row in categories] == [
        (c["name"], sold[c["category_id"]]) for c in raw.categories if sold[c["category_id"]]]

    header, *payments = export(admin_client, "payments", s)
    attempts = defaultdict(int)
    for p in raw.payments_in(s):
        attempts[p["method_id"], raw.types[p["customer_id"]]] += p["kind"] == "charge"
    names = {m["method_id"]: m["name"] for m in raw.methods}
    assert sorted((row[0], row[1], int(row[2])) for row in payments) == sorted(
        (names[m], {"regular": "Regular", "vip": "VIP", "guest": "Guest"}[t], n) for (m, t), n in attempts.items())


def test_an_unknown_table_is_not_found(admin_client):
    assert admin_client.get("/admin/reports/export.csv", query_string={"table": "salaries"}).status_code == 404


# ---------------------------------------------------------------- business questions

def test_every_business_question_answers_with_the_columns_its_header_names(app, demo_summary):
    with app.app_context():
        answered = reports_questions.answers()

    assert len(answered) >= 10
    for question, table in answered:
        assert table.rows, f"{question.name} has no answer on the demo data"
        assert list(table.rows[0]) == [column.key for column in question.columns]
        assert question.question.endswith("?") and question.about


def test_the_questions_page_shows_every_question_and_its_answer(admin_client, app):
    html = admin_client.get("/admin/reports/questions").get_data(as_text=True)

    with app.app_context():
        questions = reports_questions.questions()
    for question in questions:
        assert f'id="table-question-{question.name}"' in html
        rows = export(admin_client, f"question-{question.name}")
        assert rows[0] == [column.label for column in question.columns] and len(rows) > 1


def test_a_question_whose_query_does_not_match_its_header_is_refused(tmp_path, app, demo_summary):
    path = tmp_path / "99_broken.sql"
    path.write_text("-- Question: How many venues?\n-- About: Counted.\n-- Columns: venues:count, cities:count\n"
                    "SELECT COUNT(*) AS venues FROM venues;\n")

    with app.app_context(), pytest.raises(reports_questions.MalformedQuestion):
        reports_questions.answer(reports_questions.parse(path))


# ---------------------------------------------------------------- the reporting user

@pytest.mark.parametrize("statement", [
    "INSERT INTO sales_by_period (grain, period, event_id, customer_type, venue_id) VALUES ('day', '2026-01-01', 1, 'vip', 1)",
    "UPDATE customer_sales SET bookings = 0",
    "DELETE FROM report_shares",
    "INSERT INTO bookings (booking_code, customer_id, event_id, subtotal, total, booked_at) "
    "VALUES ('X', 1, 1, 1, 1, NOW())",
], ids=["insert_summary", "update_summary", "delete_share", "insert_booking"])
def test_the_reports_bind_cannot_write(app, test_database, statement):
    with app.app_context(), db.engines["reports"].connect() as connection:
        with pytest.raises(sa.exc.DBAPIError) as refusal:
            connection.exec_driver_sql(statement)

    assert refusal.value.orig.args[0] == TABLE_ACCESS_DENIED


# ---------------------------------------------------------------- shared links and the HTML download

def share(admin_client, forms, scope: Scope, label: str = "For the board") -> str:
    """Make a link through the page; returns its path, from the message shown once."""
    response = forms.post("/admin/reports/shares", {"label": label, "expires_in": "7", **scope.as_query()},
                          action="/admin/reports/shares", follow_redirects=True)
    match = re.search(r"<code>http://localhost(/shared/reports/[\w-]+)</code>", response.get_data(as_text=True))
    assert match, "the new link is shown"
    return match.group(1)


def test_a_shared_link_opens_signed_out_read_only(app, admin_client, forms, scopes, raw):
    link = share(admin_client, forms, scopes["venue"])

    response = app.test_client().get(link)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<form" not in html and "Sign out" not in html and "/admin/" not in html
    assert charts(html)["chart-top-venues"]["labels"] == [raw.venues[scopes["venue"].venue_id]]
    assert response.headers["Cache-Control"] == "private, no-store"


def test_a_revoked_link_is_gone(app, admin_client, forms, scopes, db_session):
    link = share(admin_client, forms, scopes["default"], label="Revoke me")
    share_id = db_session.scalar(sa.text("SELECT share_id FROM report_shares WHERE label = 'Revoke me'"))

    revoked = forms.post("/admin/reports/shares", {"share_id": share_id}, action="/admin/reports/shares/revoke")

    assert revoked.status_code == 302
    assert app.test_client().get(link).status_code == 410
    assert "Revoked" in admin_client.get("/admin/reports/shares").get_data(as_text=True)


def test_an_expired_link_is_gone(app, admin_client, forms, scopes, db_session):
    link = share(admin_client, forms, scopes["default"], label="Expire me")
    db_session.execute(sa.text("""UPDATE report_shares SET created_at = created_at - INTERVAL 8 DAY,
                                         expires_at = expires_at - INTERVAL 8 DAY WHERE label = 'Expire me'"""))

    assert app.test_client().get(link).status_code == 410


def test_a_tampered_or_made_up_token_opens_nothing(app, admin_client, forms, scopes):
    link = share(admin_client, forms, scopes["default"])
    token = link.rsplit("/", 1)[1]
    tampered = link[:-len(token)] + ("A" if token[0] != "A" else "B") + token[1:]

    for path in (tampered, link + "x", "/shared/reports/not-a-token"):
        assert app.test_client().get(path).status_code == 404


def test_the_html_download_carries_the_charts_styles_and_data_and_nothing_from_outside(admin_client, scopes, raw):
    response = admin_client.get("/admin/reports/download.html", query_string=scopes["all_time"].as_query())

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="encore-dashboard-')
    assert charts(html)["chart-top-events"]["labels"] == raw.top(
        scopes["all_time"], lambda b: b["event_id"], raw.event_label)[0]
    script, = re.findall(r"<script>(.*?)</script>", html, re.S)
    assert len(script) > 100_000 and "chartjs" in script  # Chart.js itself, and the script that draws
    assert re.search(r"<style>.*\.report-group\b.*</style>", html, re.S)
    assert not re.search(r"<script[^>]*\ssrc=|<link\b|<img\b|@import", html)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "/static/" not in html and "/admin/" not in html


# ---------------------------------------------------------------- what the page says

def test_the_page_defines_its_figures_and_says_what_a_filter_does_not_narrow(page):
    html = page("vip_method")
    assert re.search(r"<dt>Sales</dt><dd>What the bookings made in the period cost their buyers", html)
    assert re.search(r"<dt>Average order value</dt><dd>Sales of the bookings not fully refunded", html)
    assert "Tickets sold, the seat categories, occupancy and the monthly revenue are for every customer type" in html
    assert "The payment method narrows the payments table and the payment method mix only" in html
    assert "for every customer type" not in page("default")


@pytest.mark.parametrize("scope", ["default", "venue", "vip_method"])
def test_no_database_words_reach_the_page(page, scope):
    text = re.sub(r"<script.*?</script>|<[^>]+>", " ", page(scope), flags=re.S)
    for word in ("CALL ", "SELECT ", "GetEventRevenueByMonth", "PaymentSummary", "TopRevenueEvents", "NULL"):
        assert word not in text


def test_every_chart_with_axes_names_them_with_their_units(page):
    for chart_id, chart in charts(page("all_time")).items():
        if chart["kind"] == "doughnut":
            continue
        assert chart["categoryTitle"], chart_id
        assert re.search(r"\((€|%)\)$", chart["valueTitle"]), chart_id
        assert not any(d["lineFormat"] for d in chart["datasets"]) or chart["lineTitle"].endswith("(%)")


def test_the_monthly_chart_spans_the_chosen_period(page, scopes):
    s = scopes["default"]
    labels = charts(page("default"))["chart-monthly"]["labels"]
    assert labels[0] == f"{s.date_from:%b %Y}" and labels[-1] == f"{s.date_to:%b %Y}"


def test_a_csv_export_reads_only_its_own_table(app, admin_client, scopes):
    statements: list[str] = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engines["reports"]
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        export(admin_client, "categories", scopes["default"])
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    reads = [s for s in statements if "sales_by_period" in s or "payments_by_period" in s or "CALL" in s]
    assert len(statements) <= 3, statements
    assert not any("FROM sales_by_period" in s and "GROUP BY" in s for s in reads), "the sales are not read"


def test_a_venue_scoped_share_shows_only_venue_scoped_tables_and_keeps_every_filter(app, admin_client, forms, scopes,
                                                                                   raw):
    s = scopes["regular_venue"]
    html = app.test_client().get(share(admin_client, forms, s, label="Venue, regular")).get_data(as_text=True)
    assert "Repeat buyers (all time)" not in html, "buyers over all venues are not shown for one venue"
    assert charts(html)["chart-top-venues"]["labels"] == [raw.venues[s.venue_id]]
    assert charts(html)["chart-customer-types"]["labels"] == ["Regular"]
    assert "Regular customers" in html


def test_a_customer_type_with_nothing_in_the_period_is_left_out_not_shown_as_zeros():
    """After every VIP of the period was demoted, the summaries keep a VIP row of zeros: the table and the
    chart leave it out."""
    from types import SimpleNamespace

    from boxoffice.services import reporting

    zero = {"customer_type": "vip", "bookings": 0, "booked_total": Decimal("0.00"), "refunded": Decimal("0.00")}
    sold = {"customer_type": "regular", "bookings": 2, "booked_total": Decimal("90.00"), "refunded": Decimal("10.00")}
    reads = SimpleNamespace(f=ReportFilter(dt.date(2026, 1, 1), dt.date(2026, 12, 31)),
                            sales_part={"type": [zero, sold]}.get, fully_refunded={})

    table = reporting.customer_types_table(reads)

    assert [(row["key"], row["net_revenue"], row["average_order"]) for row in table.rows] == [
        ("regular", Decimal("80.00"), Decimal("45.00"))]


def test_guests_are_a_customer_type_of_their_own_not_regular_customers(page, raw):
    guest_bookings = [b for b in raw.bookings if raw.types[b["customer_id"]] == "guest"]
    assert guest_bookings, "the demo data has bookings by guests"
    html = page("all_time")
    assert "Guest" in charts(html)["chart-customer-types"]["labels"]
    assert "Guest: buyers who paid without an account." in html
    drawn = charts(html)["chart-customer-types"]
    guests = sum((b["total"] - raw.refunded[b["booking_id"]] for b in guest_bookings), ZERO)
    assert drawn["datasets"][0]["data"][drawn["labels"].index("Guest")] == float(guests)
    assert '<option selected value="guest">Guests (no account)</option>' in page("guest").replace(
        'value="guest" selected', 'selected value="guest"')
