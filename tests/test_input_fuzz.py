"""Hostile input at every route: no 5xx, output escaped, nothing changed by a refused request.

The walk is built from the app itself, so a new route or a new form field is fuzzed without touching this
file: every GET route of the URL map is opened (its URL parameters filled with real rows) as nobody, as a
customer and as an admin; every form the pages draw is read as a browser reads it (its fields with the
values the page gave them, the CSRF token included), and so is every POST route no page shows a form for.
The names a view reads from the query string or the form are recorded as it runs (a recording
`parameter_storage_class`), which finds what views read beside their WTForms classes (`?venue=`,
`seat`, `v`, `t`, ...). Then each field in turn gets each payload while the others keep the page's values,
as a person pasting into one box would; URL parameters get huge, negative and non-numeric values.

A response of 400 or more is a refusal: the database must be exactly as it was before it (a fingerprint of
every table, read only when the connection's Handler_write/update/delete counters moved; the sign-in
counters are left out, as a refused sign-in counts by design). The app runs with TESTING, so a 500 arrives
here as the exception itself and is listed with the request that raised it. Each failure is listed once,
with the field and payload that caused it; the run takes about a minute.
"""
from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import Request, g
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import IntegerConverter, Rule

from tests.admin_support import HX, paid_booking
from tests.builders import make_customer, make_discount, make_event, make_venue
from tests.conftest import SAME_ORIGIN

HTML_PROBE = '"><svg onload=alert(1)>'
PAYLOADS = {
    "Unicode punctuation": "WELCOME–10’“”…",
    "emoji": "🎟️👩‍👩‍👧 ok",
    "null byte": "a\x00b",
    "10k characters": "x" * 10_000,
    "SQL and HTML": "' OR 1=1; DROP TABLE events; -- \\" + HTML_PROBE,
    "2^64": "18446744073709551616",
    "negative": "-1",
    "sNaN": "sNaN",
    "Infinity": "-Infinity",
    "huge exponent": "9E+999999",
    "year 9999": "9999-12-31",
    "year 1": "0001-01-01",
    "superscript two": "²",
}
# What an integer in a URL gets (Werkzeug's int converter refuses a minus sign or letters by itself).
HUGE_IDS = ["4294967296", "18446744073709551616", "1" + "0" * 40]
PATH_TEXTS = ["WELCOME–10", "a\x00b", "x" * 2000, "²", HTML_PROBE]

# Posts that end the session they are sent in: they take nothing but the CSRF token, and are walked last.
ENDS_SESSION = {"storefront.logout", "storefront.sign_out_everywhere", "admin.logout"}
# Fuzzed as every role that reaches them, as they answer each differently (the hold caps count accounts).
BY_ROLE = {"storefront.choose_seats"}
# Tables whose rows a refused request may change by design: a refused sign-in is counted.
COUNTED_WHEN_REFUSED = {"sign_in_throttles", "sign_in_budgets"}


# ---------------------------------------------------------------- what the views read

_read: set[str] = set()


class RecordingMultiDict(ImmutableMultiDict):
    """The request's args and form, noting every name a view or a form asks for."""

    def __contains__(self, key):
        _read.add(key)
        return super().__contains__(key)

    def __getitem__(self, key):
        _read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None, type=None):  # noqa: A002 (werkzeug's signature)
        _read.add(key)
        return super().get(key, default, type)

    def getlist(self, key, type=None):  # noqa: A002
        _read.add(key)
        return super().getlist(key, type)


class RecordingRequest(Request):
    parameter_storage_class = RecordingMultiDict


# ---------------------------------------------------------------- reading pages as a browser does

@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class FormReader(HTMLParser):
    """Every <form> of a page with the values a browser would send untouched (the first of each name:
    the first seat button of a seat map stands for all of them)."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        form = self._form
        if tag == "form":
            self._form = Form(a.get("action") or self.page_url, (a.get("method") or "get").upper())
            self.forms.append(self._form)
        elif form is None:
            return
        elif tag == "option" and self._select:
            if self._select not in form.fields or "selected" in a:
                form.fields[self._select] = a.get("value", "")
        elif not (name := a.get("name")):
            return
        elif tag == "input" and (a.get("type") or "").lower() in ("checkbox", "radio"):
            if "checked" in a:  # sent only when ticked, as a browser does
                form.fields[name] = a.get("value", "on")
        elif tag in ("input", "button"):
            form.fields.setdefault(name, a.get("value", ""))
        elif tag == "select":
            self._select = name
        elif tag == "textarea":
            self._textarea = name
            form.fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form.fields[self._textarea] += data


# ---------------------------------------------------------------- the database's fingerprint

def fingerprint_query(session) -> sa.TextClause:
    """One statement that sums up every table: its row count and an XOR of a checksum of each row."""
    columns = defaultdict(list)
    for table, column in session.execute(sa.text("""
            SELECT c.table_name, c.column_name FROM information_schema.columns c
              JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
             WHERE c.table_schema = DATABASE() AND t.table_type = 'BASE TABLE'
             ORDER BY c.table_name, c.ordinal_position""")):
        if table not in COUNTED_WHEN_REFUSED and table != "alembic_version":
            columns[table].append(column)
    parts = [f"SELECT '{table}', COUNT(*), BIT_XOR(CRC32(CONCAT_WS('|', {', '.join(f'`{c}`' for c in cols)})))"
             f" FROM `{table}`" for table, cols in columns.items()]
    return sa.text(" UNION ALL ".join(parts))


# ---------------------------------------------------------------- the walk

@dataclass
class Target:
    """A request to fuzz: its URL and method, and the fields it is sent with untouched."""

    endpoint: str
    method: str
    url: str
    fields: dict[str, str]
    names: set[str] = field(default_factory=set)


class Walk:
    def __init__(self, app, session, values: dict):
        self.app = app
        self.session = session
        self.values = values
        self.adapter = app.url_map.bind("localhost")
        self.fingerprint_sql = fingerprint_query(session)
        self.fingerprint = self._fingerprint()
        self.writes = self._writes()
        self.failures: list[str] = []
        self.requests = 0
        self.done: set[tuple] = set()
        self.fuzzed: set[tuple[str, str]] = set()

    def _writes(self) -> int:
        """Rows this connection has written to tables (MariaDB counts internal temporary tables apart, in
        Handler_tmp_*): when it has not moved, nothing changed, and the fingerprint need not be read."""
        return sum(int(value) for _, value in self.session.execute(sa.text(
            "SHOW SESSION STATUS WHERE Variable_name IN ('Handler_write', 'Handler_update', 'Handler_delete')")))

    def _fingerprint(self):
        return self.session.execute(self.fingerprint_sql).all()

    def url(self, rule: Rule, **override) -> str:
        return self.adapter.build(rule.endpoint, {name: override.get(name, self.values[name])
                                                  for name in rule.arguments})

    def endpoint_of(self, url: str, method: str) -> str | None:
        try:
            return self.adapter.match(urlsplit(url).path, method)[0]
        except (NotFound, MethodNotAllowed):
            return None

    def send(self, client, what: str, method: str, url: str, data: dict | None = None, headers=None):
        """One request; a 5xx, an exception, unescaped HTML, or a change made by a refusal is a failure."""
        self.requests += 1
        _read.clear()
        _forget_request_state()
        try:
            if method == "GET":
                response = client.get(url, query_string=data, headers=headers)
            else:
                response = client.post(url, data=data, headers={**SAME_ORIGIN, **(headers or {})})
        except Exception as error:  # noqa: BLE001 (any exception is a 500 to a buyer)
            self.failures.append(f"{what}: {method} {url} {_short(data)} raised {type(error).__name__}: "
                                 f"{str(error)[:200]}")
            self.session.rollback()
            self.fingerprint = self._fingerprint()
            self.writes = self._writes()
            return None
        status = response.status_code
        if status >= 500:
            self.failures.append(f"{what}: {method} {url} {_short(data)} answered {status}")
        if response.mimetype == "text/html" and "<svg onload=alert(1)>" in response.get_data(as_text=True):
            self.failures.append(f"{what}: {method} {url} {_short(data)} wrote the HTML payload unescaped")
        writes = self._writes()
        if writes != self.writes:
            # Something was written (or written and rolled back): compare the tables themselves.
            now = self._fingerprint()
            if status >= 400 and now != self.fingerprint:
                changed = sorted({row[0] for row in set(now) ^ set(self.fingerprint)})
                self.failures.append(f"{what}: {method} {url} {_short(data)} refused ({status}) but changed {changed}")
            self.fingerprint = now
            self.writes = self._writes()
        return response

    def targets(self, client, rules: list[Rule]) -> list[Target]:
        """Open every GET route; the forms its page draws and the names its view reads become targets."""
        found: dict[tuple, Target] = {}
        for rule in rules:
            if "GET" not in rule.methods:
                continue
            url = self.url(rule)
            response = self.send(client, "page", "GET", url)
            target = found.setdefault((rule.endpoint, "GET", ()), Target(rule.endpoint, "GET", url, {}))
            target.names |= _read
            if response is None or response.mimetype != "text/html":
                continue
            reader = FormReader(url)
            reader.feed(response.get_data(as_text=True))
            for form in reader.forms:
                action = html.unescape(form.action)
                endpoint = self.endpoint_of(action, form.method)
                if endpoint is not None:
                    found.setdefault((endpoint, form.method, tuple(sorted(form.fields))),
                                     Target(endpoint, form.method, urlsplit(action).path, dict(form.fields)))
        for rule in rules:
            if "POST" in rule.methods and not any(key[:2] == (rule.endpoint, "POST") for key in found):
                found[(rule.endpoint, "POST", ())] = Target(rule.endpoint, "POST", self.url(rule), {})
        return list(found.values())

    def fuzz(self, client, role: str, rules: list[Rule], csrf_token: str) -> None:
        targets = self.targets(client, rules)
        # Checkout first, while the customer's hold lives; then the rest; the seat map after them (it gives
        # seats back), then what changes most (cancel, refund); those that end the session are not walked.
        targets.sort(key=lambda t: (t.endpoint not in ("storefront.pay", "storefront.apply_promo"),
                                    t.endpoint == "storefront.choose_seats",
                                    t.endpoint.endswith(("cancel", "refund"))))
        for target in targets:
            if target.endpoint in ENDS_SESSION:
                continue
            base = dict(target.fields)
            if target.method == "POST":
                base.setdefault("csrf_token", csrf_token)
                # What the view reads beside the page's form (a baseline post records it).
                self.send(client, role, "POST", target.url, base)
                target.names |= _read
            names = (set(base) | target.names) - {"csrf_token"}
            key = (target.endpoint, target.method, tuple(sorted(names)))
            if key in self.done and target.endpoint not in BY_ROLE:
                continue  # the same form was fuzzed as another role already
            self.done.add(key)
            self.fuzzed |= {(target.endpoint, name) for name in names}
            for name in sorted(names):
                for index, (kind, payload) in enumerate(PAYLOADS.items()):
                    headers = HX if index % 2 else None  # page and HTMX fragment, in turn
                    self.send(client, f"{role}, {name}={kind}", target.method, target.url,
                              {**base, name: payload}, headers)

    def fuzz_paths(self, client, role: str, rules: list[Rule], csrf_token: str) -> None:
        for rule in rules:
            for name in sorted(rule.arguments):
                probes = HUGE_IDS if isinstance(rule._converters[name], IntegerConverter) else PATH_TEXTS
                for probe in probes:
                    for method in sorted(rule.methods & {"GET", "POST"}):
                        if method == "POST" and rule.endpoint in ENDS_SESSION:
                            continue
                        data = {"csrf_token": csrf_token} if method == "POST" else None
                        self.send(client, f"{role}, <{name}>", method, self.url(rule, **{name: probe}), data)


def _forget_request_state() -> None:
    """The tests' app context outlives each request, and with it `g`, where Flask-Login keeps the signed-in
    user and Flask-WTF the CSRF token: cleared, so that each client is served as itself."""
    for name in list(g):
        g.pop(name)


def _short(data) -> str:
    if not data:
        return ""
    return "{" + ", ".join(f"{k}={v[:40]!r}" for k, v in data.items() if k != "csrf_token") + "}"


CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]*)"|name="csrf_token" value="([^"]*)"')


def _csrf(client, page: str) -> str:
    """The page's CSRF token ("" until the client has a session); its POSTs say they come from the site."""
    _forget_request_state()
    match = CSRF.search(client.get(page).get_data(as_text=True))
    assert match, f"no CSRF token field on {page}"
    return match.group(1) or match.group(2) or ""


@pytest.fixture
def walk(app, db_session, monkeypatch):
    """Real rows for every URL parameter, a customer holding a seat (so checkout draws its form), an admin."""
    from boxoffice.services.accounts import create_staff

    monkeypatch.setattr(app, "request_class", RecordingRequest)
    venue = make_venue(db_session, rows=3, seats_per_row=6)
    event = make_event(db_session, venue)
    buyer = make_customer(db_session)
    discount = make_discount(db_session)
    db_session.commit()
    booking = paid_booking(event, buyer, "A1", "A2")
    create_staff("fuzz-admin@example.test", "Fuzz Admin", "correct horse battery")
    db_session.commit()
    values = {"event_id": event.event_id, "venue_id": venue.venue_id, "customer_id": buyer.customer_id,
              "discount_id": discount.discount_id, "booking_code": booking.booking_code, "saved_method_id": 1,
              "token": "not-a-real-token"}
    return Walk(app, db_session, values), event, buyer


def _sign_in(client, page: str, email: str, password: str) -> None:
    token = _csrf(client, page)
    _forget_request_state()
    response = client.post(page, data={"email": email, "password": password, "csrf_token": token}, headers=SAME_ORIGIN)
    assert response.status_code in (302, 303), response.get_data(as_text=True)[-3000:]


def _client(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def _routes(app) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


def test_every_route_and_field_survives_hostile_input(app, walk):
    walk, event, buyer = walk
    rules = _routes(app)
    unknown = {name for rule in rules for name in rule.arguments} - walk.values.keys()
    assert not unknown, f"add a real row for {sorted(unknown)} to the walk fixture"

    # Three people at three addresses: the seats the anonymous walk holds are not the customer's (fair holds).
    nobody = _client(app, "192.0.2.1")
    walk.fuzz(nobody, "anonymous", [r for r in rules if not r.rule.startswith("/admin/") or "login" in r.rule],
              _csrf(nobody, "/account/login"))

    customer = _client(app, "192.0.2.2")
    _sign_in(customer, "/account/login", buyer.email, buyer.password)
    seat = event.seat_ids("C3")[0]
    token = _csrf(customer, "/")
    _forget_request_state()
    customer.post(f"/events/{event.event_id}/seats", data={"seat": seat, "csrf_token": token}, headers=SAME_ORIGIN)
    _forget_request_state()
    assert customer.get(f"/checkout/{event.event_id}").status_code == 200, "the customer holds a seat to pay for"
    walk.fuzz(customer, "customer", [r for r in rules if not r.rule.startswith("/admin")], _csrf(customer, "/"))

    admin = _client(app, "192.0.2.3")
    _sign_in(admin, "/admin/login", "fuzz-admin@example.test", "correct horse battery")
    admin_rules = [r for r in rules if r.rule.startswith(("/admin", "/shared"))]
    walk.fuzz(admin, "admin", admin_rules, _csrf(admin, "/admin/"))
    walk.fuzz_paths(admin, "admin", admin_rules, _csrf(admin, "/admin/"))
    walk.fuzz_paths(customer, "customer", [r for r in rules if not r.rule.startswith("/admin")], _csrf(customer, "/"))

    assert walk.requests > 1000, f"the walk sent only {walk.requests} requests"
    # The fields issue 11 found 500s in, among everything else: the walk must keep reaching them.
    missed = {("storefront.index", "venue"), ("storefront.index", "max_price"), ("storefront.index", "date_to"),
              ("storefront.choose_seats", "seat"), ("storefront.apply_promo", "promo_code"),
              ("storefront.pay", "promo_code"), ("storefront.pay", "expected_total"),
              ("storefront.pay", "idempotency_key"), ("admin.outbox", "booking"), ("reports.export", "venue"),
              ("reports.download", "date_from"), ("admin.customers_vip", "discount_percent"),
              ("admin.discounts_new", "value")} - walk.fuzzed
    assert not missed, f"the walk no longer reaches {sorted(missed)}"
    assert not walk.failures, f"{len(walk.failures)} of {walk.requests} requests failed:\n" + "\n".join(
        sorted(set(walk.failures)))
