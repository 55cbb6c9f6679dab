"""The demo-data generator: deterministic, and its data keeps every rule live data keeps.

The invariant tests read the tiny demo data the `demo_summary` fixture loads into the test database.
The determinism test loads into databases of its own (named after the test database) and drops them.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from decimal import Decimal

import pytest
import sqlalchemy as sa

from boxoffice import database, demo_data
from boxoffice.config import DatabaseSettings
from boxoffice.passwords import verify_password
from boxoffice.pricing import PromoRule, price_order

ANCHOR = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def demo(owner_engine, demo_summary):
    """A connection to the test database holding the tiny demo data."""
    with owner_engine.connect() as connection:
        yield connection


def rows(connection, sql: str, **params):
    return connection.execute(sa.text(sql), params).all()


def value(connection, sql: str, **params):
    return connection.execute(sa.text(sql), params).scalar()


# ---------------------------------------------------------------- determinism

def _fingerprint(settings: DatabaseSettings) -> dict[str, str]:
    """A hash of every table's rows (in primary-key order), password hashes left out: the demo password's
    one hash has a random salt."""
    engine = sa.create_engine(settings.owner_url, poolclass=sa.pool.NullPool)
    fingerprint = {}
    try:
        with engine.connect() as connection:
            tables = connection.execute(sa.text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() "
                "AND table_type = 'BASE TABLE' ORDER BY table_name")).scalars().all()
            for table in tables:
                columns = connection.execute(sa.text(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() "
                    "AND table_name = :t AND column_name <> 'password_hash' ORDER BY ordinal_position"),
                    {"t": table}).scalars().all()
                digest = hashlib.sha256()
                select = ", ".join(f"`{column}`" for column in columns)
                for row in connection.exec_driver_sql(
                        f"SELECT {select} FROM `{table}` ORDER BY {', '.join(str(i + 1) for i in range(len(columns)))}"):
                    digest.update(repr(tuple(row)).encode())
                fingerprint[table] = digest.hexdigest()
    finally:
        engine.dispose()
    return fingerprint


def test_same_seed_and_anchor_give_the_same_data_and_another_seed_does_not(test_database):
    first = DatabaseSettings.from_env({"BOXOFFICE_DB": f"{test_database.name}_a"})
    second = DatabaseSettings.from_env({"BOXOFFICE_DB": f"{test_database.name}_b"})
    try:
        for settings in (first, second):
            database.drop_database(settings)
            database.set_up(settings)
            demo_data.load(settings, scale="tiny", seed=7, progress=False, anchor=ANCHOR)
        same = _fingerprint(first)
        assert same == _fingerprint(second)
        assert len(same) >= 15

        database.drop_database(second)
        database.set_up(second)
        demo_data.load(second, scale="tiny", seed=8, progress=False, anchor=ANCHOR)
        other = _fingerprint(second)
        assert other["bookings"] != same["bookings"]
        assert other["customers"] != same["customers"]
        assert other["tickets"] != same["tickets"]
    finally:
        database.drop_database(first)
        database.drop_database(second)


def test_a_future_anchor_is_refused(test_database):
    with pytest.raises(ValueError, match="after today"):
        demo_data.load(test_database, scale="tiny", seed=1, progress=False,
                       anchor=dt.date.today() + dt.timedelta(days=3))


def test_a_box_office_with_events_is_not_loaded_again(test_database, demo_summary):
    assert demo_data.has_events(test_database)
    with pytest.raises(demo_data.DemoDataError, match="already has"):
        demo_data.load(test_database, scale="tiny", seed=1, progress=False)


# ---------------------------------------------------------------- what the tiny data holds

def test_summary_counts_what_is_in_the_database(demo, demo_summary):
    assert demo_summary.venues == value(demo, "SELECT COUNT(*) FROM venues") == 3
    assert demo_summary.events == value(demo, "SELECT COUNT(*) FROM events") == 12
    assert demo_summary.customers == value(demo, "SELECT COUNT(*) FROM customers") == 80
    assert demo_summary.tickets == value(demo, "SELECT COUNT(*) FROM tickets")
    assert 200 <= demo_summary.tickets <= 1500
    assert demo_summary.bookings == value(demo, "SELECT COUNT(*) FROM bookings")
    assert demo_summary.payments == value(demo, "SELECT COUNT(*) FROM payments")
    assert value(demo, "SELECT MIN(capacity) FROM venues") == 200
    text = demo_summary.describe()
    for login in (demo_data.ADMIN_EMAIL, demo_data.VIP_EMAIL, demo_data.CUSTOMER_EMAIL, demo_data.DEMO_PASSWORD):
        assert login in text


def test_there_is_something_of_everything(demo):
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert value(demo, "SELECT COUNT(*) FROM vip_customers") >= 1
    assert value(demo, "SELECT COUNT(*) FROM payments WHERE status = 'declined'") >= 1
    assert value(demo, "SELECT COUNT(*) FROM payments WHERE kind = 'refund'") >= 1
    assert value(demo, "SELECT COUNT(*) FROM bookings WHERE promo_discount > 0") >= 1
    assert value(demo, "SELECT COUNT(*) FROM bookings WHERE vip_discount > 0") >= 1
    assert value(demo, "SELECT COUNT(*) FROM tickets WHERE status = 'checked_in'") >= 1
    assert value(demo, "SELECT COUNT(*) FROM saved_payment_methods") >= 1
    assert value(demo, "SELECT COUNT(*) FROM events WHERE status = 'draft'") >= 1
    assert value(demo, "SELECT COUNT(*) FROM events WHERE status = 'cancelled'") >= 1
    assert value(demo, "SELECT COUNT(*) FROM seats WHERE is_wheelchair") >= 1
    sold_out_past = value(demo, """
        SELECT COUNT(*) FROM events WHERE starts_at < :now AND status = 'on_sale' AND seats_available = 0
           AND seats_total > 0""", now=now)
    assert sold_out_past >= 1
    assert {genre for (genre,) in rows(demo, "SELECT DISTINCT genre FROM events")} >= {"concert", "theatre"}


def test_demo_logins_sign_in_with_the_demo_password(demo):
    admin = rows(demo, "SELECT password_hash FROM staff_users WHERE email = :e", e=demo_data.ADMIN_EMAIL)
    assert admin and verify_password(admin[0][0], demo_data.DEMO_PASSWORD)
    for email, kind in ((demo_data.VIP_EMAIL, "vip"), (demo_data.CUSTOMER_EMAIL, "regular")):
        customer_type, password_hash = rows(
            demo, "SELECT customer_type, password_hash FROM customers WHERE email = :e", e=email)[0]
        assert customer_type == kind
        assert verify_password(password_hash, demo_data.DEMO_PASSWORD)
    # One hash, made once, for every generated account.
    assert value(demo, "SELECT COUNT(DISTINCT password_hash) FROM customers") == 1


def test_every_customer_has_exactly_the_subtype_its_type_says(demo):
    assert value(demo, """
        SELECT COUNT(*) FROM customers c
          LEFT JOIN regular_customers r ON r.customer_id = c.customer_id
          LEFT JOIN vip_customers v ON v.customer_id = c.customer_id
         WHERE (r.customer_id IS NOT NULL) + (v.customer_id IS NOT NULL) <> 1
            OR (c.customer_type = 'vip') <> (v.customer_id IS NOT NULL)""") == 0
    tiers = {tier: rate for tier, rate in rows(demo, "SELECT DISTINCT tier, discount_rate FROM vip_customers")}
    assert set(tiers) <= {"silver", "gold", "platinum"}
    assert all(Decimal("0.05") <= rate <= Decimal("0.15") for rate in tiers.values())


def test_seat_counts_equal_the_inventory(demo):
    assert value(demo, """
        SELECT COUNT(*) FROM events e
         WHERE e.seats_total <> (SELECT COUNT(*) FROM event_seats s WHERE s.event_id = e.event_id)
            OR e.seats_available <> (SELECT COUNT(*) FROM event_seats s WHERE s.event_id = e.event_id
                                                                       AND s.state <> 'sold')""") == 0
    assert value(demo, """
        SELECT COUNT(*) FROM event_prices p
         WHERE p.seats_total <> (SELECT COUNT(*) FROM event_seats s
                                  WHERE s.event_id = p.event_id AND s.category_id = p.category_id)
            OR p.seats_available <> (SELECT COUNT(*) FROM event_seats s
                                      WHERE s.event_id = p.event_id AND s.category_id = p.category_id
                                        AND s.state <> 'sold')""") == 0
    assert value(demo, "SELECT COUNT(*) FROM event_seats WHERE state = 'held'") == 0
    # Every event has its whole venue as inventory.
    assert value(demo, "SELECT COUNT(*) FROM events e JOIN venues v USING (venue_id) WHERE e.seats_total <> v.capacity") == 0


def test_sold_seats_are_exactly_the_seats_of_live_tickets(demo):
    assert value(demo, """
        SELECT COUNT(*) FROM event_seats s
          LEFT JOIN tickets t ON t.event_id = s.event_id AND t.seat_id = s.seat_id AND t.status <> 'refunded'
         WHERE (s.state = 'sold') <> (t.ticket_id IS NOT NULL)""") == 0


def test_prices_fall_from_premium_to_restricted_view(demo):
    prices = defaultdict(list)
    for event_id, price in rows(demo, """
            SELECT p.event_id, p.price FROM event_prices p JOIN seat_categories c USING (category_id)
             ORDER BY p.event_id, c.`rank`"""):
        prices[event_id].append(price)
    assert all(ps == sorted(ps, reverse=True) and len(set(ps)) == len(ps) for ps in prices.values())


def test_bookings_were_made_while_their_event_was_on_sale(demo):
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert value(demo, """
        SELECT COUNT(*) FROM bookings b JOIN events e USING (event_id)
         WHERE b.booked_at < e.sales_start OR b.booked_at > e.sales_end OR b.booked_at >= e.starts_at
            OR b.booked_at > :now OR e.status = 'draft'""", now=now) == 0
    # Nobody booked before signing up, or more seats than one order may hold.
    assert value(demo, "SELECT COUNT(*) FROM bookings b JOIN customers c USING (customer_id) WHERE b.booked_at < c.created_at") == 0
    assert value(demo, """
        SELECT COUNT(*) FROM (SELECT b.booking_id, COUNT(*) AS seats, MAX(e.max_seats_per_order) AS most
                                FROM bookings b JOIN tickets t USING (booking_id) JOIN events e ON e.event_id = b.event_id
                               GROUP BY b.booking_id) x WHERE x.seats > x.most""") == 0


def test_cancelled_events_were_refunded_in_full_after_their_last_booking(demo):
    cancelled = rows(demo, "SELECT event_id FROM events WHERE status = 'cancelled'")
    assert cancelled
    for (event_id,) in cancelled:
        assert value(demo, "SELECT COUNT(*) FROM bookings WHERE event_id = :e", e=event_id) >= 1
        assert value(demo, "SELECT COUNT(*) FROM bookings WHERE event_id = :e AND status <> 'refunded'", e=event_id) == 0
        assert value(demo, "SELECT COUNT(*) FROM tickets WHERE event_id = :e AND status <> 'refunded'", e=event_id) == 0
        assert value(demo, """
            SELECT COUNT(*) FROM bookings b JOIN tickets t USING (booking_id)
             WHERE b.event_id = :e AND t.refunded_at < (SELECT MAX(booked_at) FROM bookings WHERE event_id = :e)""",
            e=event_id) == 0
    assert value(demo, "SELECT COUNT(*) FROM events WHERE status = 'draft' AND event_id IN (SELECT event_id FROM bookings)") == 0


def test_booking_money_adds_up(demo):
    assert value(demo, "SELECT COUNT(*) FROM bookings WHERE total <> subtotal - vip_discount - promo_discount") == 0
    assert value(demo, """
        SELECT COUNT(*) FROM bookings b
         WHERE b.total <> (SELECT SUM(paid_amount) FROM tickets t WHERE t.booking_id = b.booking_id)
            OR b.subtotal <> (SELECT SUM(face_price) FROM tickets t WHERE t.booking_id = b.booking_id)""") == 0
    # Exactly one captured charge of the total (none for a free booking).
    assert value(demo, """
        SELECT COUNT(*) FROM bookings b
         WHERE (SELECT COUNT(*) FROM payments p WHERE p.booking_id = b.booking_id AND p.kind = 'charge'
                   AND p.status = 'captured' AND p.amount = b.total) <> IF(b.total > 0, 1, 0)
            OR (SELECT COUNT(*) FROM payments p WHERE p.booking_id = b.booking_id AND p.kind = 'charge') <> IF(b.total > 0, 1, 0)
    """) == 0
    assert value(demo, "SELECT COUNT(*) FROM tickets t JOIN event_prices p USING (event_id, category_id) WHERE t.face_price <> p.price") == 0


def test_every_booking_is_priced_by_the_price_hold_rules(demo):
    promos = {discount_id: (PromoRule(kind, value_), valid_from, valid_until, vip_only, event_id, active)
              for discount_id, kind, value_, valid_from, valid_until, vip_only, event_id, active in rows(
                  demo, "SELECT discount_id, kind, value, valid_from, valid_until, vip_only, event_id, is_active FROM discounts")}
    members = {customer_id: (rate, since) for customer_id, rate, since in rows(
        demo, "SELECT customer_id, discount_rate, member_since FROM vip_customers")}
    tickets = defaultdict(list)
    for booking_id, face, paid in rows(demo, "SELECT booking_id, face_price, paid_amount FROM tickets ORDER BY booking_id, seat_id"):
        tickets[booking_id].append((face, paid))
    bookings = rows(demo, """
        SELECT booking_id, customer_id, event_id, booked_at, subtotal, vip_discount, promo_discount, total, discount_id
          FROM bookings""")
    assert bookings
    for booking_id, customer_id, event_id, booked_at, subtotal, vip, promo, total, discount_id in bookings:
        rate, since = members.get(customer_id, (Decimal("0"), None))
        if since is None or booked_at.date() < since:
            rate = Decimal("0")
        rule = None
        if discount_id is not None:
            rule, valid_from, valid_until, vip_only, only_event, active = promos[discount_id]
            assert active and valid_from <= booked_at <= valid_until
            assert only_event in (None, event_id)
            assert rate > 0 or not vip_only
        priced = price_order([face for face, _ in tickets[booking_id]], rate, rule)
        assert (priced.subtotal, priced.vip_discount, priced.promo_discount, priced.total) == (subtotal, vip, promo, total)
        assert priced.paid_shares == [paid for _, paid in tickets[booking_id]]


def test_promo_code_use_is_counted(demo):
    assert value(demo, """
        SELECT COUNT(*) FROM discounts d
         WHERE d.times_used <> (SELECT COUNT(*) FROM bookings b WHERE b.discount_id = d.discount_id)
            OR d.times_used > COALESCE(d.usage_limit, d.times_used)""") == 0


def test_refunds_give_back_exactly_the_refunded_tickets(demo):
    assert value(demo, """
        SELECT COUNT(*) FROM bookings b
         WHERE COALESCE((SELECT SUM(amount) FROM payments p WHERE p.booking_id = b.booking_id AND p.kind = 'refund'), 0)
            <> COALESCE((SELECT SUM(paid_amount) FROM tickets t WHERE t.booking_id = b.booking_id AND t.status = 'refunded'), 0)
    """) == 0
    # Each refund points at its booking's captured charge and goes back the way the money came.
    assert value(demo, """
        SELECT COUNT(*) FROM payments r JOIN payments c ON c.payment_id = r.refund_of
         WHERE r.kind = 'refund' AND (c.kind <> 'charge' OR c.status <> 'captured' OR c.booking_id <> r.booking_id
            OR c.method_id <> r.method_id OR NOT (c.last_four <=> r.last_four) OR r.created_at < c.created_at)""") == 0
    assert value(demo, """
        SELECT COUNT(*) FROM payments r WHERE r.kind = 'refund'
           AND r.created_at NOT IN (SELECT refunded_at FROM tickets t WHERE t.booking_id = r.booking_id)""") == 0
    # The booking's status follows its tickets.
    assert value(demo, """
        SELECT COUNT(*) FROM bookings b
          JOIN (SELECT booking_id, COUNT(*) AS n, SUM(status = 'refunded') AS refunded FROM tickets GROUP BY booking_id) t
            USING (booking_id)
         WHERE b.status <> CASE WHEN t.refunded = 0 THEN 'confirmed' WHEN t.refunded = t.n THEN 'refunded'
                                ELSE 'partially_refunded' END""") == 0
    # Customers' own refunds keep to the event's refund policy (cancelled events are refunded whenever).
    assert value(demo, """
        SELECT COUNT(*) FROM tickets t JOIN events e USING (event_id)
         WHERE t.status = 'refunded' AND e.status <> 'cancelled'
           AND t.refunded_at > e.starts_at - INTERVAL e.refundable_until_hours HOUR""") == 0


def test_the_gateway_ledger_has_every_charge(demo):
    assert value(demo, """
        SELECT COUNT(*) FROM payments p
          LEFT JOIN gateway_charges g ON g.reference = p.provider_reference
         WHERE p.kind = 'charge' AND (g.charge_id IS NULL OR g.amount <> p.amount OR g.status <> p.status
            OR g.refunded_amount <> COALESCE((SELECT SUM(amount) FROM payments r WHERE r.refund_of = p.payment_id), 0))
    """) == 0


def test_declines_and_failures_have_no_booking_and_say_why(demo):
    assert value(demo, """
        SELECT COUNT(*) FROM payments WHERE status IN ('declined', 'failed')
           AND (booking_id IS NOT NULL OR kind <> 'charge' OR failure_reason IS NULL)""") == 0


def test_only_card_brands_and_last_four_digits_are_kept(demo):
    assert value(demo, """
        SELECT COUNT(*) FROM payments p JOIN payment_methods m USING (method_id)
         WHERE IF(m.takes_card, p.card_brand IS NULL OR p.last_four IS NULL
                                OR CAST(p.last_four AS BINARY) NOT REGEXP '^[0-9]{4}$',
                  p.card_brand IS NOT NULL OR p.last_four IS NOT NULL)""") == 0
    assert value(demo, "SELECT COUNT(*) FROM saved_payment_methods WHERE CAST(last_four AS BINARY) NOT REGEXP '^[0-9]{4}$'") == 0
    # Everything else the payment tables keep has a shape that leaves no room for a card number.
    assert value(demo, "SELECT COUNT(*) FROM payments WHERE card_brand NOT IN ('visa', 'mastercard', 'amex')") == 0
    assert value(demo, """
        SELECT COUNT(*) FROM payments
         WHERE CAST(provider_reference AS BINARY) NOT REGEXP '^sim_[0-9a-f]{24}(_r[0-9a-f]{8})?$'
            OR failure_reason REGEXP '[0-9]'""") == 0
    assert value(demo, "SELECT COUNT(*) FROM saved_payment_methods WHERE CAST(gateway_token AS BINARY) NOT REGEXP '^tok_[0-9a-f]{24}$'") == 0
    # (The provider's own ledger keeps no card number either: its charges, whoever made them.)
    assert value(demo, "SELECT COUNT(*) FROM gateway_charges WHERE last_four IS NOT NULL AND CAST(last_four AS BINARY) NOT REGEXP '^[0-9]{4}$'") == 0


def test_check_ins_are_for_past_events_around_the_doors_opening(demo):
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    assert value(demo, """
        SELECT COUNT(*) FROM tickets t JOIN events e USING (event_id)
         WHERE t.status = 'checked_in' AND (e.starts_at > :now OR e.status = 'cancelled'
            OR t.checked_in_at NOT BETWEEN e.starts_at - INTERVAL 2 HOUR AND e.starts_at + INTERVAL 1 HOUR)""",
        now=now) == 0


def test_codes_are_upper_case_letters_and_digits(demo):
    assert value(demo, "SELECT COUNT(*) FROM bookings WHERE CAST(booking_code AS BINARY) NOT REGEXP '^[0-9A-Z]{10}$'") == 0
    assert value(demo, "SELECT COUNT(*) FROM tickets WHERE CAST(ticket_code AS BINARY) NOT REGEXP '^[0-9A-Z]{12}$'") == 0


def test_seats_have_map_positions_inside_their_section(demo):
    assert value(demo, """
        SELECT COUNT(*) FROM seats s JOIN sections x USING (section_id)
         WHERE s.map_x NOT BETWEEN x.map_x AND x.map_x + x.map_width
            OR s.map_y NOT BETWEEN x.map_y AND x.map_y + x.map_height""") == 0
    # A companion seat sits right next to every wheelchair space.
    assert value(demo, """
        SELECT COUNT(*) FROM seats w WHERE w.is_wheelchair AND NOT EXISTS (
            SELECT 1 FROM seats c WHERE c.row_id = w.row_id AND c.is_companion
               AND c.seat_number IN (w.seat_number - 1, w.seat_number + 1))""") == 0
    assert value(demo, "SELECT COUNT(DISTINCT category_id) FROM seats") == 4
