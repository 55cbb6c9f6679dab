"""boxoffice.pricing agrees with the real PriceHold and InsertBooking procedures.

The random cases build a venue, events, customers, promo codes and holds with plain SQL inside the
rolled-back `db_session` transaction, then price each hold both ways and book it with InsertBooking,
passing the Python total as the expected total (the procedure refuses the booking if they differ).
"""
from __future__ import annotations

import random
from decimal import Decimal

import pytest
import sqlalchemy as sa

from boxoffice.pricing import PromoRule, price_order, vip_price
from boxoffice.services.inventory import open_inventory

D = Decimal
CASES = 160
SEATS_PER_ROW = 12


# ---------------------------------------------------------------- the rules, by hand

def test_vip_rate_comes_off_first_rounded_half_up_to_the_cent():
    priced = price_order([D("10.50")], D("0.0500"))
    assert (priced.subtotal, priced.vip_discount, priced.total) == (D("10.50"), D("0.53"), D("9.97"))


def test_percent_promo_is_taken_from_what_the_vip_discount_left():
    priced = price_order([D("60.00"), D("40.00")], D("0.1000"), PromoRule("percent", D("15")))
    assert priced.vip_discount == D("10.00")
    assert priced.promo_discount == D("13.50")
    assert priced.total == D("76.50")


def test_percent_promo_rounds_half_up():
    # 3 * 10.05 = 30.15; 5% of it is 1.5075, which rounds to 1.51.
    priced = price_order([D("10.05")] * 3, D("0"), PromoRule("percent", D("5")))
    assert priced.promo_discount == D("1.51")
    assert priced.total == D("28.64")


def test_fixed_promo_never_takes_the_total_below_zero():
    priced = price_order([D("12.00")], D("0"), PromoRule("fixed", D("20.00")))
    assert priced.promo_discount == D("12.00")
    assert priced.total == D("0.00")
    assert priced.paid_shares == [D("0.00")]


def test_fixed_promo_smaller_than_the_order_is_taken_whole():
    priced = price_order([D("25.00"), D("25.00")], D("0.1500"), PromoRule("fixed", D("5.00")))
    assert (priced.vip_discount, priced.promo_discount, priced.total) == (D("7.50"), D("5.00"), D("37.50"))


def test_rounding_remainder_goes_to_the_last_ticket():
    # 20.00 over three 10.00 seats: shares round down to 6.66, and the last ticket takes the 2 cents left.
    priced = price_order([D("10.00")] * 3, D("0"), PromoRule("fixed", D("10.00")))
    assert priced.total == D("20.00")
    assert priced.paid_shares == [D("6.66"), D("6.66"), D("6.68")]


def test_shares_follow_the_face_prices_and_add_up_to_the_total():
    priced = price_order([D("80.00"), D("45.50"), D("19.99")], D("0.0500"), PromoRule("percent", D("12.5")))
    assert sum(priced.paid_shares) == priced.total
    assert priced.paid_shares[0] > priced.paid_shares[1] > priced.paid_shares[2]


def test_a_vip_price_is_what_one_seat_alone_costs_a_vip():
    for face, rate in ((D("80.00"), D("0.05")), (D("10.50"), D("0.05")), (D("33.33"), D("0.1250")), (D("0"), D("0.1"))):
        assert vip_price(face, rate) == price_order([face], rate).total
    assert vip_price(D("10.50"), D("0.05")) == D("9.97")


def test_an_order_without_discounts_pays_face_value():
    priced = price_order([D("30.00"), D("30.00")])
    assert priced.total == priced.subtotal == D("60.00")
    assert priced.paid_shares == [D("30.00"), D("30.00")]


def test_free_seats_cost_nothing():
    priced = price_order([D("0.00"), D("0.00")], D("0.1000"))
    assert priced.total == D("0.00")
    assert priced.paid_shares == [D("0.00"), D("0.00")]


def test_negative_prices_are_refused():
    with pytest.raises(ValueError):
        price_order([D("-1.00")])


# ---------------------------------------------------------------- against the procedures

def _random_price(rng: random.Random) -> Decimal:
    style = rng.random()
    if style < 0.15:
        return D(rng.randint(1, 99)) / 100                    # a few cents: rounding at its worst
    if style < 0.5:
        return D(rng.randint(100, 30000)) / 100               # any amount in cents
    return D(rng.randint(2, 400)) / 2 - D(rng.choice(["0", "0.01", "0.05"]))   # shop-like prices


def _random_rate(rng: random.Random) -> Decimal:
    if rng.random() < 0.35:
        return D("0")
    return D(rng.choice([500, 1000, 1500, 3333, rng.randint(1, 5000)])) / 10000


def _random_promo(rng: random.Random) -> PromoRule | None:
    roll = rng.random()
    if roll < 0.3:
        return None
    if roll < 0.7:
        return PromoRule("percent", D(rng.choice([5, 10, 12.5, 15, 33.33, 50, 100, rng.randint(1, 10000) / 100])))
    return PromoRule("fixed", D(rng.choice([1, 5, 7.5, 20, 250, rng.randint(1, 50000) / 100])).quantize(D("0.01")))


@pytest.fixture
def pricing_venue(db_session):
    """A venue of four rows, one per seat category (Premium first), SEATS_PER_ROW seats each."""
    connection = db_session.connection()
    categories = [row[0] for row in connection.execute(
        sa.text("SELECT category_id FROM seat_categories ORDER BY `rank`"))]
    venue_id = connection.execute(sa.text(
        "INSERT INTO venues (name, city, address) VALUES ('Pricing Hall', 'Testville', '1 Test Street')"
    )).lastrowid
    section_id = connection.execute(sa.text(
        "INSERT INTO sections (venue_id, name, sort_order) VALUES (:v, 'Stalls', 1)"), {"v": venue_id}).lastrowid
    for index, category_id in enumerate(categories):
        row_id = connection.execute(sa.text(
            "INSERT INTO seat_rows (section_id, label, sort_order) VALUES (:s, :label, :n)"),
            {"s": section_id, "label": "ABCD"[index], "n": index + 1}).lastrowid
        connection.execute(sa.text("""
            INSERT INTO seats (venue_id, section_id, row_id, seat_number, category_id, map_x, map_y)
            VALUES (:v, :s, :r, :n, :c, :x, :y)"""),
            [{"v": venue_id, "s": section_id, "r": row_id, "n": n, "c": category_id, "x": n * 10, "y": index * 10}
             for n in range(1, SEATS_PER_ROW + 1)])
    connection.execute(sa.text("UPDATE venues SET capacity = :n WHERE venue_id = :v"),
                       {"n": SEATS_PER_ROW * len(categories), "v": venue_id})
    return venue_id, categories


def _customer(connection, case: int, rate: Decimal) -> int:
    kind = "vip" if rate > 0 else "regular"
    customer_id = connection.execute(sa.text("""
        INSERT INTO customers (customer_type, email, full_name, password_hash)
        VALUES (:kind, :email, 'Pricing Tester', 'not-a-real-hash')"""),
        {"kind": kind, "email": f"pricing-{case}@example.test"}).lastrowid
    if kind == "vip":
        connection.execute(sa.text("""
            INSERT INTO vip_customers (customer_id, tier, discount_rate, member_since)
            VALUES (:c, 'gold', :rate, UTC_DATE())"""), {"c": customer_id, "rate": rate})
    else:
        connection.execute(sa.text("INSERT INTO regular_customers (customer_id) VALUES (:c)"), {"c": customer_id})
    return customer_id


def _event(connection, venue_id: int, categories: list[int], prices: list[Decimal]) -> int:
    event_id = connection.execute(sa.text("""
        INSERT INTO events (venue_id, title, performer, genre, description, starts_at, sales_start, sales_end, status)
        VALUES (:v, 'Pricing Night', 'The Roundings', 'concert', 'A test.', UTC_TIMESTAMP() + INTERVAL 10 DAY,
                UTC_TIMESTAMP() - INTERVAL 1 DAY, UTC_TIMESTAMP() + INTERVAL 9 DAY, 'on_sale')"""),
        {"v": venue_id}).lastrowid
    connection.execute(sa.text("INSERT INTO event_prices (event_id, category_id, price) VALUES (:e, :c, :p)"),
                       [{"e": event_id, "c": c, "p": p} for c, p in zip(categories, prices)])
    open_inventory(connection, event_id)
    return event_id


def _promo_code(connection, case: int, promo: PromoRule | None) -> str | None:
    if promo is None:
        return None
    code = f"PRICING{case}"
    connection.execute(sa.text("""
        INSERT INTO discounts (code, description, kind, value, valid_from, valid_until)
        VALUES (:code, 'test', :kind, :value, UTC_TIMESTAMP() - INTERVAL 1 DAY, UTC_TIMESTAMP() + INTERVAL 1 DAY)"""),
        {"code": code, "kind": promo.kind, "value": promo.value})
    return code


def test_python_pricing_matches_price_hold_and_insert_booking(db_session, pricing_venue):
    venue_id, categories = pricing_venue
    connection = db_session.connection()
    rng = random.Random(20261125)
    for case in range(CASES):
        prices = sorted((_random_price(rng) for _ in categories), reverse=True)
        rate = _random_rate(rng)
        promo = _random_promo(rng)
        event_id = _event(connection, venue_id, categories, prices)
        customer_id = _customer(connection, case, rate)
        code = _promo_code(connection, case, promo)

        seats = connection.execute(sa.text(
            "SELECT seat_id, category_id FROM event_seats WHERE event_id = :e ORDER BY seat_id"), {"e": event_id}).all()
        chosen = sorted(rng.sample(seats, rng.randint(1, 10)))
        owner = f"pricing-owner-{case:06d}"
        connection.execute(sa.text("""
            UPDATE event_seats SET state = 'held', hold_owner = :owner,
                   hold_expires_at = UTC_TIMESTAMP(3) + INTERVAL 10 MINUTE
             WHERE event_id = :e AND seat_id IN :seats""").bindparams(sa.bindparam("seats", expanding=True)),
            {"owner": owner, "e": event_id, "seats": [seat_id for seat_id, _ in chosen]})
        price_of = dict(zip(categories, prices))
        expected = price_order([price_of[category] for _, category in chosen], rate, promo)

        connection.execute(sa.text(
            "CALL PriceHold(:e, :owner, :c, :code, @seats, @subtotal, @vip, @promo, @total, @discount)"),
            {"e": event_id, "owner": owner, "c": customer_id, "code": code})
        quoted = connection.execute(sa.text("SELECT @seats, @subtotal, @vip, @promo, @total")).one()
        context = f"case {case}: prices {prices}, rate {rate}, promo {promo}, seats {chosen}"
        assert (int(quoted[0]), D(quoted[1]), D(quoted[2]), D(quoted[3]), D(quoted[4])) == (
            len(chosen), expected.subtotal, expected.vip_discount, expected.promo_discount, expected.total), context

        # Booked as the checkout books: settling a payment attempt for the Python total.
        connection.execute(sa.text("""
            INSERT INTO payment_attempts (idempotency_key, customer_id, event_id, hold_owner, amount, method_code,
                                          seat_ids, created_at, updated_at)
            VALUES (:key, :c, :e, :owner, :total, 'paypal', '[]', UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))"""),
            {"key": f"pricing-test-{case}", "c": customer_id, "e": event_id, "owner": owner, "total": expected.total})
        booked = connection.execute(sa.text("""
            CALL InsertBooking(:c, :e, :owner, :code, 'paypal', NULL, NULL, :reference, :total, :key, NULL, FALSE)"""),
            {"c": customer_id, "e": event_id, "owner": owner, "code": code, "key": f"pricing-test-{case}",
             "reference": f"pricing-test-{case}", "total": expected.total}).mappings().one()
        assert (booked["subtotal"], booked["vip_discount"], booked["promo_discount"], booked["total"]) == (
            expected.subtotal, expected.vip_discount, expected.promo_discount, expected.total), context
        shares = connection.execute(sa.text(
            "SELECT paid_amount FROM tickets WHERE booking_id = :b ORDER BY seat_id"),
            {"b": booked["booking_id"]}).scalars().all()
        assert shares == expected.paid_shares, context
