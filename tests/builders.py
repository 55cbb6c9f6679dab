"""Small data builders for tests: a venue, an event, a customer, a promo code, a hold, a booking.

Each takes a SQLAlchemy Session or Connection and writes plain SQL in the caller's transaction, so the
same builders serve the rolled-back `db_session` tests and the tests that commit for real (through an
autocommit connection, cleaned up by `committed`). They return small frozen records with the ids and the
facts a test asserts on; load the ORM object with `db.session.get(Model, id)` where a test needs one.
"""
from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, scoped_session

from boxoffice.clock import utcnow
from boxoffice.passwords import hash_password
from boxoffice.services.inventory import open_inventory

# The seat categories every database starts with (sql/migrations/0001_schema.sql).
PREMIUM, STANDARD, ECONOMY, RESTRICTED = 1, 2, 3, 4
DEFAULT_PRICES = {PREMIUM: Decimal("80.00"), STANDARD: Decimal("50.00"), ECONOMY: Decimal("30.00"),
                  RESTRICTED: Decimal("15.00")}
SECTION_NAMES = ("Stalls", "Circle", "Balcony", "Gallery")

# Every customer gets this one hash unless a test asks for a password of its own: Argon2 is slow on purpose.
DEFAULT_PASSWORD = "correct horse battery staple"
_DEFAULT_PASSWORD_HASH = hash_password(DEFAULT_PASSWORD)

# Passed as `provider_reference` / `expected_total` to `book` to let it work them out.
AUTO: Any = object()

# A Session, db.session (a scoped session) or a Connection.
Executor = Session | scoped_session | Connection


def _connection(s: Executor) -> Connection:
    return s if isinstance(s, Connection) else s.connection()


def _run(s: Executor, sql: str, params: dict | list | None = None) -> sa.CursorResult:
    """Run SQL with bound parameters; a list or tuple parameter fills an `IN :name` list."""
    statement = sa.text(sql)
    if isinstance(params, dict):
        statement = statement.bindparams(*(sa.bindparam(name, expanding=True)
                                           for name, value in params.items() if isinstance(value, (list, tuple))))
    return _connection(s).execute(statement, params or {})


def rows(s: Executor, sql: str, /, **params: Any) -> list[tuple]:
    """The rows a query returns, as plain tuples (a list parameter fills an `IN :name` list)."""
    return [tuple(row) for row in _run(s, sql, params)]


def _unique() -> str:
    return secrets.token_hex(4)


def now() -> dt.datetime:
    """The app's current UTC time (boxoffice.clock) to the second, as the DATETIME columns keep it."""
    return utcnow().replace(microsecond=0)


# ---------------------------------------------------------------- venues

@dataclass(frozen=True)
class Seat:
    seat_id: int
    label: str  # row label and seat number, e.g. "B3"; row labels are unique across the venue
    section_id: int
    category_id: int


@dataclass(frozen=True)
class Venue:
    venue_id: int
    name: str
    seats: tuple[Seat, ...]

    def seat(self, label: str) -> Seat:
        return next(seat for seat in self.seats if seat.label == label)

    def seat_ids(self, *labels: str, category: int | None = None) -> list[int]:
        """Seat ids by label, or every seat (of one category), in seat-id order."""
        if labels:
            return [self.seat(label).seat_id for label in labels]
        return [seat.seat_id for seat in self.seats if category in (None, seat.category_id)]

    @property
    def categories(self) -> set[int]:
        return {seat.category_id for seat in self.seats}


def _row_label(index: int) -> str:
    return chr(ord("A") + index) if index < 26 else f"A{chr(ord('A') + index - 26)}"


def _categories_by_row(categories: dict[str, int], labels: list[str]) -> dict[str, int]:
    """{"A-B": PREMIUM, "C": ECONOMY} -> the category of each row label; other rows are STANDARD."""
    by_row = dict.fromkeys(labels, STANDARD)
    for span, category in categories.items():
        first, _, last = span.partition("-")
        inside = labels[labels.index(first):labels.index(last or first) + 1]
        by_row.update(dict.fromkeys(inside, category))
    return by_row


def make_venue(s: Executor, *, sections: int = 1, rows: int = 3, seats_per_row: int = 4,
               categories: dict[str, int] | None = None, wheelchair: Sequence[str] = (),
               companion: Sequence[str] = (), name: str | None = None, city: str = "Testville") -> Venue:
    """A venue of `sections` sections of `rows` rows of `seats_per_row` seats. Rows are labelled A, B, C...
    across the whole venue (section 2 goes on from where section 1 stopped); `categories` gives row ranges
    their category ({"A-B": PREMIUM}), every other row is STANDARD; `wheelchair` and `companion` list seat
    labels ("A1")."""
    name = name or f"Test Hall {_unique()}"
    venue_id = _run(s, "INSERT INTO venues (name, city, address, capacity) VALUES (:name, :city, '1 Test Street', :n)",
                    {"name": name, "city": city, "n": sections * rows * seats_per_row}).lastrowid
    labels = [_row_label(i) for i in range(sections * rows)]
    category_of = _categories_by_row(categories or {}, labels)
    for s_index in range(sections):
        section_name = SECTION_NAMES[s_index] if s_index < len(SECTION_NAMES) else f"Section {s_index + 1}"
        section_id = _run(s, """INSERT INTO sections (venue_id, name, sort_order, map_x, map_y, map_width, map_height)
                                VALUES (:venue_id, :name, :sort, 0, :y, :w, :h)""",
                          {"venue_id": venue_id, "name": section_name, "sort": s_index + 1,
                           "y": s_index * (rows + 1) * 20, "w": seats_per_row * 20, "h": rows * 20}).lastrowid
        for r_index in range(rows):
            label = labels[s_index * rows + r_index]
            row_id = _run(s, "INSERT INTO seat_rows (section_id, label, sort_order) VALUES (:section_id, :label, :sort)",
                          {"section_id": section_id, "label": label, "sort": r_index + 1}).lastrowid
            _run(s, """INSERT INTO seats (venue_id, section_id, row_id, seat_number, category_id, is_wheelchair,
                                          is_companion, map_x, map_y)
                       VALUES (:venue_id, :section_id, :row_id, :number, :category, :wheelchair, :companion, :x, :y)""",
                 [{"venue_id": venue_id, "section_id": section_id, "row_id": row_id, "number": number,
                   "category": category_of[label], "wheelchair": f"{label}{number}" in wheelchair,
                   "companion": f"{label}{number}" in companion, "x": number * 20,
                   "y": (s_index * (rows + 1) + r_index) * 20}
                  for number in range(1, seats_per_row + 1)])
    seats = _run(s, """SELECT s.seat_id, CONCAT(r.label, s.seat_number) AS label, s.section_id, s.category_id
                         FROM seats s JOIN seat_rows r ON r.row_id = s.row_id
                        WHERE s.venue_id = :venue_id ORDER BY s.seat_id""", {"venue_id": venue_id})
    return Venue(venue_id, name, tuple(Seat(*row) for row in seats))


# ---------------------------------------------------------------- events

@dataclass(frozen=True)
class Event:
    event_id: int
    venue: Venue
    prices: dict[int, Decimal]
    starts_at: dt.datetime
    sales_start: dt.datetime
    sales_end: dt.datetime
    title: str

    def seat_ids(self, *labels: str, category: int | None = None) -> list[int]:
        return self.venue.seat_ids(*labels, category=category)

    def price_of(self, seat_ids: Sequence[int]) -> Decimal:
        """The face value of these seats, added up."""
        by_id = {seat.seat_id: seat for seat in self.venue.seats}
        return sum((self.prices[by_id[seat_id].category_id] for seat_id in seat_ids), Decimal("0.00"))


def make_event(s: Executor, venue: Venue, *, prices: dict[int, Decimal] | None = None, status: str = "on_sale",
               starts_in: dt.timedelta = dt.timedelta(days=30), sales_start: dt.datetime | None = None,
               sales_end: dt.datetime | None = None, max_seats_per_order: int = 10, title: str | None = None,
               performer: str = "The Test Ensemble", genre: str = "concert") -> Event:
    """An event at `venue` starting `starts_in` from now, with its prices and an open seat inventory.
    Sales run by default from sixty days before now until the start; `prices` defaults to DEFAULT_PRICES
    for the categories the venue uses."""
    starts_at = now() + starts_in
    sales_start = sales_start or now() - dt.timedelta(days=60)
    sales_end = sales_end or starts_at
    prices = prices or {category: DEFAULT_PRICES[category] for category in venue.categories}
    title = title or f"Test Night {_unique()}"
    event_id = _run(s, """INSERT INTO events (venue_id, title, performer, genre, description, starts_at, sales_start,
                                              sales_end, status, max_seats_per_order)
                          VALUES (:venue_id, :title, :performer, :genre, 'An evening built by a test.', :starts_at,
                                  :sales_start, :sales_end, :status, :max_seats)""",
                    {"venue_id": venue.venue_id, "title": title, "performer": performer, "genre": genre,
                     "starts_at": starts_at, "sales_start": sales_start, "sales_end": sales_end, "status": status,
                     "max_seats": max_seats_per_order}).lastrowid
    _run(s, "INSERT INTO event_prices (event_id, category_id, price) VALUES (:event_id, :category, :price)",
         [{"event_id": event_id, "category": category, "price": price} for category, price in prices.items()])
    open_inventory(_connection(s), event_id)
    return Event(event_id, venue, dict(prices), starts_at, sales_start, sales_end, title)


# ---------------------------------------------------------------- customers and promo codes

@dataclass(frozen=True)
class Customer:
    customer_id: int
    email: str
    password: str
    customer_type: str
    discount_rate: Decimal = Decimal("0")


def make_customer(s: Executor, *, vip: bool = False, tier: str = "gold", rate: Decimal = Decimal("0.1000"),
                  email: str | None = None, password: str | None = None, full_name: str = "Test Customer",
                  city: str | None = "Testville", guest: bool = False) -> Customer:
    """A customer with its subtype row: regular, or VIP with `tier` and discount `rate` (a fraction).
    Signs in with `password`, or DEFAULT_PASSWORD; with `guest`, a guest as guest checkout makes one (a
    regular customer without a password, who cannot sign in)."""
    email = email or f"customer-{_unique()}@example.test"
    customer_type = "vip" if vip else "regular"
    password_hash = hash_password(password) if password else _DEFAULT_PASSWORD_HASH
    if guest:
        customer_id = _run(s, """INSERT INTO customers (customer_type, is_guest, email, full_name, city, password_hash)
                                 VALUES ('regular', TRUE, :email, :name, :city, NULL)""",
                           {"email": email, "name": full_name, "city": city}).lastrowid
    else:
        customer_id = _run(s, """INSERT INTO customers (customer_type, email, full_name, city, password_hash)
                                 VALUES (:type, :email, :name, :city, :hash)""",
                           {"type": customer_type, "email": email, "name": full_name, "city": city,
                            "hash": password_hash}).lastrowid
    if vip:
        _run(s, """INSERT INTO vip_customers (customer_id, customer_type, tier, discount_rate, member_since)
                   VALUES (:id, 'vip', :tier, :rate, UTC_DATE())""", {"id": customer_id, "tier": tier, "rate": rate})
    else:
        _run(s, "INSERT INTO regular_customers (customer_id, customer_type) VALUES (:id, 'regular')",
             {"id": customer_id})
    return Customer(customer_id, email, password or DEFAULT_PASSWORD, customer_type,
                    rate if vip else Decimal("0"))


@dataclass(frozen=True)
class Discount:
    discount_id: int
    code: str


def make_discount(s: Executor, *, code: str | None = None, kind: str = "percent", value: Decimal = Decimal("10"),
                  valid_from: dt.datetime | None = None, valid_until: dt.datetime | None = None,
                  usage_limit: int | None = None, times_used: int = 0, vip_only: bool = False,
                  event: Event | None = None, is_active: bool = True) -> Discount:
    """A promo code, valid from yesterday for thirty days unless told otherwise; for every event, or one."""
    code = code or f"TEST{_unique().upper()}"
    discount_id = _run(s, """INSERT INTO discounts (code, description, kind, value, valid_from, valid_until, usage_limit,
                                                    times_used, vip_only, event_id, is_active)
                             VALUES (:code, 'A promo code built by a test', :kind, :value, :valid_from, :valid_until,
                                     :usage_limit, :times_used, :vip_only, :event_id, :is_active)""",
                       {"code": code, "kind": kind, "value": value,
                        "valid_from": valid_from or now() - dt.timedelta(days=1),
                        "valid_until": valid_until or now() + dt.timedelta(days=30),
                        "usage_limit": usage_limit, "times_used": times_used, "vip_only": vip_only,
                        "event_id": event.event_id if event else None, "is_active": is_active}).lastrowid
    return Discount(discount_id, code)


# ---------------------------------------------------------------- holds and bookings

def new_hold_owner() -> str:
    return secrets.token_hex(16)


def hold_seats(s: Executor, event: Event, seat_ids: Sequence[int], owner: str | None = None,
               minutes: float = 10) -> str:
    """Hold the seats for `owner` (a new one if None) for `minutes` (negative: a hold already expired), the
    way a hold does: one conditional UPDATE of free seats. Returns the owner; fails if a seat was not free."""
    owner = owner or new_hold_owner()
    held = _run(s, """UPDATE event_seats
                         SET state = 'held', hold_owner = :owner,
                             hold_expires_at = UTC_TIMESTAMP(3) + INTERVAL :ms * 1000 MICROSECOND
                       WHERE event_id = :event_id AND seat_id IN :seat_ids
                         AND (state = 'available' OR (state = 'held' AND hold_expires_at <= UTC_TIMESTAMP(3)))""",
                {"owner": owner, "ms": int(minutes * 60_000), "event_id": event.event_id,
                 "seat_ids": list(seat_ids)}).rowcount
    assert held == len(seat_ids), f"only {held} of {len(seat_ids)} seats were free to hold"
    return owner


def price_hold(s: Executor, event: Event, owner: str, customer: Customer | None = None,
               promo: str | None = None) -> dict[str, Any]:
    """What PriceHold says the owner's held seats cost: seat_count, subtotal, vip_discount, promo_discount,
    total, discount_id."""
    _run(s, """CALL PriceHold(:event_id, :owner, :customer_id, :promo,
                              @seat_count, @subtotal, @vip_discount, @promo_discount, @total, @discount_id)""",
         {"event_id": event.event_id, "owner": owner, "customer_id": customer.customer_id if customer else None,
          "promo": promo})
    return dict(_run(s, """SELECT @seat_count AS seat_count, @subtotal AS subtotal, @vip_discount AS vip_discount,
                                  @promo_discount AS promo_discount, @total AS total, @discount_id AS discount_id""")
                .mappings().one())


def book(s: Executor, event: Event, customer: Customer, *, seats: Sequence[int] | None = None,
         owner: str | None = None, promo: str | None = None, method: str = "card", card_brand: str | None = "visa",
         last_four: str | None = "4242", provider_reference: str | None = AUTO,
         expected_total: Decimal | None = AUTO, idempotency_key: str | None = None) -> dict[str, Any]:
    """Book through InsertBooking: the seats `owner` holds, or `seats` held first for a new owner. The expected
    total is what PriceHold says unless given; the provider reference is a fresh one unless given. Returns
    InsertBooking's row (booking_id, booking_code, ..., total, tickets, replayed)."""
    if seats is not None:
        owner = hold_seats(s, event, seats, owner)
    if expected_total is AUTO:
        expected_total = price_hold(s, event, owner, customer, promo)["total"]
    if provider_reference is AUTO:
        provider_reference = f"test_{secrets.token_hex(12)}"
    idempotency_key = idempotency_key or f"test-{secrets.token_hex(16)}"
    # Every booking settles a payment attempt in flight (nobody books without paying): the one the checkout
    # would have written before asking the provider.
    _run(s, """UPDATE payment_attempts SET state = 'abandoned'
                WHERE event_id = :event_id AND hold_owner = :owner AND in_flight AND idempotency_key <> :key""",
         {"event_id": event.event_id, "owner": owner, "key": idempotency_key})
    _run(s, """INSERT IGNORE INTO payment_attempts (idempotency_key, customer_id, event_id, hold_owner, amount,
                                                    method_code, seat_ids, created_at, updated_at)
               VALUES (:key, :customer_id, :event_id, :owner, :amount, :method, '[]', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))""",
         {"key": idempotency_key, "customer_id": customer.customer_id, "event_id": event.event_id, "owner": owner,
          "amount": expected_total if expected_total is not None else 0, "method": method})
    row = _run(s, """CALL InsertBooking(:customer_id, :event_id, :owner, :promo, :method, :brand, :last_four,
                                        :reference, :expected_total, :idempotency_key, :salt, FALSE)""",
               {"customer_id": customer.customer_id, "event_id": event.event_id, "owner": owner, "promo": promo,
                "method": method, "brand": card_brand, "last_four": last_four, "reference": provider_reference,
                "expected_total": expected_total, "idempotency_key": idempotency_key,
                "salt": secrets.token_hex(32)}).mappings().one()
    return dict(row)


@dataclass(frozen=True)
class PastBooking:
    booking_id: int
    payment_id: int
    total: Decimal
    ticket_ids: list[int] = field(default_factory=list)


def make_past_booking(s: Executor, event: Event, customer: Customer, seat_ids: Sequence[int],
                      booked_at: dt.datetime, *, method: str = "card") -> PastBooking:
    """A booking written straight into the tables as the demo generator does, dated `booked_at` (which must
    lie inside the event's sales window: check_booking_date guards this insert too): the booking at face
    value, one ticket per seat, the captured charge, and the seats sold."""
    total = event.price_of(seat_ids)
    booking_id = _run(s, """INSERT INTO bookings (booking_code, customer_id, event_id, subtotal, total, booked_at)
                            VALUES (:code, :customer_id, :event_id, :total, :total, :booked_at)""",
                      {"code": secrets.token_hex(5).upper(), "customer_id": customer.customer_id,
                       "event_id": event.event_id, "total": total, "booked_at": booked_at}).lastrowid
    by_id = {seat.seat_id: seat for seat in event.venue.seats}
    ticket_ids = []
    for seat_id in seat_ids:
        price = event.prices[by_id[seat_id].category_id]
        ticket_ids.append(_run(s, """INSERT INTO tickets (ticket_code, booking_id, event_id, seat_id, category_id,
                                                          face_price, paid_amount)
                                     VALUES (:code, :booking_id, :event_id, :seat_id, :category, :price, :price)""",
                               {"code": secrets.token_hex(6).upper(), "booking_id": booking_id,
                                "event_id": event.event_id, "seat_id": seat_id,
                                "category": by_id[seat_id].category_id, "price": price}).lastrowid)
    takes_card = method in ("card", "wallet")
    payment_id = _run(s, """INSERT INTO payments (kind, status, booking_id, customer_id, method_id, amount, card_brand,
                                                  last_four, provider_reference, created_at)
                            SELECT 'charge', 'captured', :booking_id, :customer_id, method_id, :total, :brand, :four,
                                   :reference, :booked_at
                              FROM payment_methods WHERE code = :method""",
                      {"booking_id": booking_id, "customer_id": customer.customer_id, "total": total,
                       "brand": "visa" if takes_card else None, "four": "4242" if takes_card else None,
                       "reference": f"test_{secrets.token_hex(12)}", "booked_at": booked_at,
                       "method": method}).lastrowid
    sell_seats(s, event, seat_ids)
    return PastBooking(booking_id, payment_id, total, ticket_ids)


def sell_seats(s: Executor, event: Event, seat_ids: Sequence[int]) -> None:
    """Mark the seats sold, as a booking does (the trigger moves the counts)."""
    _run(s, """UPDATE event_seats SET state = 'sold', hold_owner = NULL, hold_expires_at = NULL
                WHERE event_id = :event_id AND seat_id IN :seat_ids""",
         {"event_id": event.event_id, "seat_ids": list(seat_ids)})


def refund_tickets(s: Executor, booking_id: int, ticket_ids: Sequence[int], at: dt.datetime | None = None) -> Decimal:
    """Refund these tickets of a booking the way the box office does: the tickets marked refunded, their seats
    released, one refund payment of their paid shares against the booking's charge, the booking's status
    brought up to date. Returns the amount refunded."""
    at = at or now()
    ids = list(ticket_ids)
    amount = _run(s, "SELECT SUM(paid_amount) FROM tickets WHERE ticket_id IN :ids", {"ids": ids}).scalar_one()
    _run(s, "UPDATE tickets SET status = 'refunded', refunded_at = :at WHERE ticket_id IN :ids", {"at": at, "ids": ids})
    _run(s, """UPDATE event_seats es JOIN tickets t ON t.event_id = es.event_id AND t.seat_id = es.seat_id
                  SET es.state = 'available'
                WHERE t.ticket_id IN :ids""", {"ids": ids})
    _run(s, """INSERT INTO payments (kind, status, booking_id, customer_id, method_id, amount, refund_of, created_at)
               SELECT 'refund', 'refunded', booking_id, customer_id, method_id, :amount, payment_id, :at
                 FROM payments WHERE booking_id = :booking_id AND kind = 'charge' AND status = 'captured'""",
         {"amount": amount, "at": at, "booking_id": booking_id})
    _run(s, """UPDATE bookings
                  SET status = IF(EXISTS (SELECT 1 FROM tickets WHERE booking_id = :id AND status <> 'refunded'),
                                  'partially_refunded', 'refunded')
                WHERE booking_id = :id""", {"id": booking_id})
    return amount


# ---------------------------------------------------------------- committing for real

# Children before parents, each with its key. Rows above the key's mark (taken before the test) are deleted
# in this order; the subtype and inventory tables, keyed by their parent's id, go by the parent's mark.
_CLEANUP_ORDER = [
    ("registrations", "registration_id"), ("waiting_list_entries", "entry_id"), ("outbox_emails", "email_id"), ("gateway_charges", "charge_id"), ("payment_attempts", "attempt_id"),
    ("tickets", "ticket_id"), ("booking_refunds", "refund_id"), ("payments", "payment_id"), ("bookings", "booking_id"), ("discounts", "discount_id"),
    ("event_seats", "event_id"), ("event_prices", "event_id"), ("events", "event_id"),
    ("seats", "seat_id"), ("seat_rows", "row_id"), ("sections", "section_id"), ("venues", "venue_id"),
    ("saved_payment_methods", "saved_method_id"), ("vip_customers", "customer_id"),
    ("regular_customers", "customer_id"), ("customers", "customer_id"), ("staff_users", "staff_id"),
]
_MARK_OF = {"event_seats": "events", "event_prices": "events", "vip_customers": "customers",
            "regular_customers": "customers"}


def _marks(connection: Connection) -> dict[str, int]:
    return {table: connection.execute(sa.text(f"SELECT COALESCE(MAX({key}), 0) FROM {table}")).scalar_one()
            for table, key in _CLEANUP_ORDER if table not in _MARK_OF}


@contextmanager
def committed(engine: sa.Engine) -> Iterator[Connection]:
    """An autocommit connection whose every statement commits for real, for tests that other connections
    (or InsertBooking's own-transaction mode) must see. Every row made meanwhile is deleted afterwards, so
    a test's database must have no other writer (each engineer's tests run in a database of their own)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        marks = _marks(connection)
        try:
            yield connection
        finally:
            for table, key in _CLEANUP_ORDER:
                # Descending, so that a refund goes before the charge it refers to.
                connection.execute(sa.text(f"DELETE FROM {table} WHERE {key} > :mark ORDER BY {key} DESC"),
                                   {"mark": marks[_MARK_OF.get(table, table)]})
