"""InsertBooking and PriceHold (sql/objects/30_procedures.sql): the database's own checkout.

Most tests run twice: inside the caller's transaction, as the app calls it (the procedure works under a
savepoint of its own), and with autocommit on, where the procedure runs and commits its own transaction
(that needs committed data: `committed` deletes it again afterwards).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

import pytest
import sqlalchemy as sa

from boxoffice import errors
from tests.builders import (
    ECONOMY, PREMIUM, STANDARD, Customer, Event, book, committed, hold_seats, make_customer, make_discount,
    make_event, make_venue, new_hold_owner, now, price_hold, rows,
)


@pytest.fixture(params=["in_the_callers_transaction", "with_autocommit_on"])
def conn(request, owner_engine):
    """Where InsertBooking is called from: the app's rolled-back test transaction, or an autocommit
    connection whose committed rows are deleted afterwards."""
    if request.param == "in_the_callers_transaction":
        yield request.getfixturevalue("db_session").connection()
    else:
        with committed(owner_engine) as connection:
            yield connection


@pytest.fixture
def tx(db_session):
    """A connection inside the app's rolled-back test transaction, for the tests that need one mode only."""
    return db_session.connection()


def everything_a_booking_touches(conn, event: Event) -> dict[str, list[tuple]]:
    return {
        "bookings": rows(conn, "SELECT booking_id FROM bookings ORDER BY booking_id"),
        "tickets": rows(conn, "SELECT ticket_id FROM tickets ORDER BY ticket_id"),
        "payments": rows(conn, "SELECT payment_id FROM payments ORDER BY payment_id"),
        "seats": rows(conn, """SELECT seat_id, state, hold_owner, hold_expires_at, version FROM event_seats
                                WHERE event_id = :e ORDER BY seat_id""", e=event.event_id),
        "event counts": rows(conn, "SELECT seats_available, seat_version FROM events WHERE event_id = :e",
                             e=event.event_id),
        "category counts": rows(conn, """SELECT category_id, seats_available FROM event_prices WHERE event_id = :e
                                         ORDER BY category_id""", e=event.event_id),
        "promo uses": rows(conn, "SELECT discount_id, times_used FROM discounts ORDER BY discount_id"),
    }


def held_by(conn, event: Event, owner: str) -> list[int]:
    return [seat_id for (seat_id,) in rows(conn, """SELECT seat_id FROM event_seats
                                                     WHERE event_id = :e AND hold_owner = :o AND state = 'held'
                                                     ORDER BY seat_id""", e=event.event_id, o=owner)]


# ---------------------------------------------------------------- a booking that goes through

def test_a_booking_sells_the_held_seats_with_one_ticket_each_and_a_captured_card_payment(conn):
    venue = make_venue(conn, rows=3, seats_per_row=4, categories={"A": PREMIUM})
    event = make_event(conn, venue, prices={PREMIUM: Decimal("80.00"), STANDARD: Decimal("50.00")})
    customer = make_customer(conn)
    promo = make_discount(conn, kind="percent", value=Decimal("10"), usage_limit=100, times_used=3)
    seats = event.seat_ids("A1", "B1", "B2")

    result = book(conn, event, customer, seats=seats, promo=promo.code.lower(), card_brand="mastercard",
                  last_four="4444", provider_reference="sim_ch_happy_path", idempotency_key="checkout-happy")

    assert (result["subtotal"], result["vip_discount"], result["promo_discount"], result["total"]) == (
        Decimal("180.00"), Decimal("0.00"), Decimal("18.00"), Decimal("162.00"))
    assert (result["tickets"], result["replayed"]) == (3, 0)
    booking = conn.execute(sa.text("SELECT * FROM bookings WHERE booking_id = :id"),
                           {"id": result["booking_id"]}).mappings().one()
    assert (booking["customer_id"], booking["event_id"], booking["status"], booking["discount_id"],
            booking["idempotency_key"], booking["booking_code"]) == (
        customer.customer_id, event.event_id, "confirmed", promo.discount_id, "checkout-happy", result["booking_code"])
    assert abs(booking["booked_at"] - now()) < dt.timedelta(minutes=1)

    tickets = conn.execute(sa.text("""SELECT seat_id, ticket_code, face_price, paid_amount, status FROM tickets
                                       WHERE booking_id = :id ORDER BY seat_id"""),
                           {"id": result["booking_id"]}).mappings().all()
    assert [t["seat_id"] for t in tickets] == seats
    assert len({t["ticket_code"] for t in tickets}) == 3
    assert all(len(t["ticket_code"]) == 12 and t["status"] == "valid" for t in tickets)
    assert [t["face_price"] for t in tickets] == [Decimal("80.00"), Decimal("50.00"), Decimal("50.00")]
    assert sum(t["paid_amount"] for t in tickets) == Decimal("162.00")

    payments = conn.execute(sa.text("SELECT * FROM payments WHERE booking_id = :id"),
                            {"id": result["booking_id"]}).mappings().all()
    assert len(payments) == 1
    payment = payments[0]
    assert (payment["kind"], payment["status"], payment["amount"], payment["customer_id"]) == (
        "charge", "captured", Decimal("162.00"), customer.customer_id)
    assert (payment["card_brand"], payment["last_four"], payment["provider_reference"]) == (
        "mastercard", "4444", "sim_ch_happy_path")

    assert rows(conn, "SELECT DISTINCT state, hold_owner FROM event_seats WHERE event_id = :e AND seat_id IN :s",
                e=event.event_id, s=seats) == [("sold", None)]
    assert rows(conn, "SELECT seats_available FROM events WHERE event_id = :e", e=event.event_id) == [(12 - 3,)]
    assert rows(conn, "SELECT category_id, seats_available FROM event_prices WHERE event_id = :e ORDER BY 1",
                e=event.event_id) == [(PREMIUM, 4 - 1), (STANDARD, 8 - 2)]
    assert rows(conn, "SELECT times_used FROM discounts WHERE discount_id = :d", d=promo.discount_id) == [(4,)]


def test_a_payment_without_a_card_keeps_no_card_details_even_when_sent(conn):
    event = make_event(conn, make_venue(conn))
    result = book(conn, event, make_customer(conn), seats=event.seat_ids("A1"), method="paypal",
                  card_brand="visa", last_four="4242")

    assert rows(conn, "SELECT method_id, card_brand, last_four FROM payments WHERE booking_id = :b",
                b=result["booking_id"]) == [(4, None, None)]


def test_a_retry_with_the_same_idempotency_key_returns_the_first_booking_and_writes_nothing(conn):
    event = make_event(conn, make_venue(conn))
    customer = make_customer(conn)
    first = book(conn, event, customer, seats=event.seat_ids("A1", "A2"), idempotency_key="checkout-retry")
    before = everything_a_booking_touches(conn, event)

    retry = book(conn, event, customer, owner=new_hold_owner(), expected_total=first["total"],
                 idempotency_key="checkout-retry")

    assert retry == {**first, "replayed": 1}
    assert everything_a_booking_touches(conn, event) == before


def test_a_booking_made_free_by_a_promo_needs_no_payment(conn):
    event = make_event(conn, make_venue(conn))
    promo = make_discount(conn, kind="fixed", value=Decimal("500.00"))

    result = book(conn, event, make_customer(conn), seats=event.seat_ids("A1", "A2"), promo=promo.code,
                  provider_reference=None)

    assert result["total"] == Decimal("0.00")
    assert rows(conn, "SELECT paid_amount FROM tickets WHERE booking_id = :b", b=result["booking_id"]) == [
        (Decimal("0.00"),), (Decimal("0.00"),)]
    assert rows(conn, "SELECT payment_id FROM payments WHERE booking_id = :b", b=result["booking_id"]) == []


def test_paid_shares_add_up_to_the_total_with_the_rounding_remainder_on_the_last_ticket(tx):
    event = make_event(tx, make_venue(tx), prices={STANDARD: Decimal("10.00")})
    promo = make_discount(tx, kind="fixed", value=Decimal("5.00"))

    result = book(tx, event, make_customer(tx), seats=event.seat_ids("A1", "A2", "A3"), promo=promo.code)

    assert result["total"] == Decimal("25.00")
    assert rows(tx, "SELECT paid_amount FROM tickets WHERE booking_id = :b ORDER BY seat_id",
                b=result["booking_id"]) == [(Decimal("8.33"),), (Decimal("8.33"),), (Decimal("8.34"),)]


def test_a_free_companion_seat_booked_last_with_discounted_seats_does_not_break_the_booking(tx):
    # Two Standard seats and a free companion seat, for a gold VIP (12.5%) with a 10% code: each paid seat's
    # exact share is 39.375, which rounds up, so the shares overshoot the total by a cent.
    venue = make_venue(tx, rows=3, categories={"C": ECONOMY}, companion=("C1",))
    event = make_event(tx, venue, prices={STANDARD: Decimal("50.00"), ECONOMY: Decimal("0.00")})
    vip = make_customer(tx, vip=True, rate=Decimal("0.1250"))
    promo = make_discount(tx, kind="percent", value=Decimal("10"))

    result = book(tx, event, vip, seats=event.seat_ids("A1", "A2", "C1"), promo=promo.code)

    assert result["total"] == Decimal("78.75")
    shares = [paid for (paid,) in rows(tx, "SELECT paid_amount FROM tickets WHERE booking_id = :b",
                                       b=result["booking_id"])]
    assert sum(shares) == Decimal("78.75")
    assert min(shares) >= 0


def test_in_the_callers_transaction_nobody_else_sees_the_booking_before_the_caller_commits(tx, owner_engine):
    event = make_event(tx, make_venue(tx))
    result = book(tx, event, make_customer(tx), seats=event.seat_ids("A1"))

    with owner_engine.connect() as someone_else:
        assert rows(someone_else, "SELECT booking_id FROM bookings WHERE booking_id = :b",
                    b=result["booking_id"]) == []


def test_with_autocommit_on_the_booking_is_committed_by_the_procedure(owner_engine):
    with committed(owner_engine) as conn:
        event = make_event(conn, make_venue(conn))
        result = book(conn, event, make_customer(conn), seats=event.seat_ids("A1"))

        with owner_engine.connect() as someone_else:
            assert rows(someone_else, "SELECT booking_id FROM bookings WHERE booking_id = :b",
                        b=result["booking_id"]) == [(result["booking_id"],)]


def test_a_refusal_inside_an_explicit_transaction_with_autocommit_on_leaves_the_callers_work_uncommitted(
        owner_engine):
    # The mariadb client's way: autocommit on, then START TRANSACTION. The caller's transaction is open, so
    # InsertBooking must not end it: the caller's own writes stay theirs to commit or roll back.
    with committed(owner_engine) as conn:
        event = make_event(conn, make_venue(conn))
        customer = make_customer(conn)
        conn.exec_driver_sql("START TRANSACTION")
        owner = hold_seats(conn, event, event.seat_ids("A1"))
        with pytest.raises(sa.exc.DBAPIError):
            book(conn, event, customer, owner=owner, expected_total=Decimal("0.01"))
        conn.exec_driver_sql("ROLLBACK")

        assert held_by(conn, event, owner) == []


# ---------------------------------------------------------------- refusals

@dataclass
class Attempt:
    """A checkout about to be refused: who books what, and how."""

    event: Event
    customer: Customer
    owner: str
    held: list[int] = field(default_factory=list)
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Refusal:
    setup: Callable[..., Attempt]
    errno: int
    error: type[errors.BoxOfficeError]
    message: str


REFUSALS: dict[str, Refusal] = {}


def refused_with(errno: int, error: type[errors.BoxOfficeError], message: str):
    def register(setup: Callable[..., Attempt]) -> Callable[..., Attempt]:
        REFUSALS[setup.__name__] = Refusal(setup, errno, error, message)
        return setup
    return register


def holding_two_seats(conn, *, event_options: dict | None = None, customer_options: dict | None = None,
                      **options) -> Attempt:
    event = make_event(conn, make_venue(conn), **(event_options or {}))
    seats = event.seat_ids("A1", "A2")
    owner = hold_seats(conn, event, seats)
    return Attempt(event, make_customer(conn, **(customer_options or {})), owner, seats, options)


def with_promo(conn, **promo_options) -> Attempt:
    """Two held seats and a promo code made by `promo_options`; the expected total is the face value, so
    that the refusal comes from InsertBooking itself and not from pricing first."""
    attempt = holding_two_seats(conn)
    if promo_options.pop("for_another_event", False):
        promo_options["event"] = make_event(conn, attempt.event.venue)
    promo = make_discount(conn, **promo_options)
    attempt.options = {"promo": promo.code, "expected_total": attempt.event.price_of(attempt.held)}
    return attempt


@refused_with(30002, errors.NoSeatsHeld, "You are not holding any seats for this event.")
def nobody_holds_any_seats(conn):
    event = make_event(conn, make_venue(conn))
    return Attempt(event, make_customer(conn), new_hold_owner(), options={"expected_total": Decimal("0.00")})


@refused_with(30002, errors.NoSeatsHeld, "You are not holding any seats for this event.")
def the_seats_are_held_by_someone_else(conn):
    attempt = holding_two_seats(conn)
    attempt.options = {"owner_who_books": new_hold_owner(), "expected_total": Decimal("100.00")}
    return attempt


@refused_with(30003, errors.HoldExpired, "Your seat hold has expired. Please choose your seats again.")
def the_hold_has_expired(conn):
    event = make_event(conn, make_venue(conn))
    seats = event.seat_ids("A1", "A2")
    return Attempt(event, make_customer(conn), hold_seats(conn, event, seats, minutes=-1), seats)


@refused_with(30006, errors.TooManySeats, "That is more seats than one order may hold for this event.")
def more_seats_than_one_order_may_hold(conn):
    event = make_event(conn, make_venue(conn), max_seats_per_order=2)
    seats = event.seat_ids("A1", "A2", "A3")
    return Attempt(event, make_customer(conn), hold_seats(conn, event, seats), seats)


@refused_with(30007, errors.PaymentRejected, "This payment method is not accepted.")
def an_unknown_payment_method(conn):
    return holding_two_seats(conn, method="cheque")


@refused_with(30007, errors.PaymentRejected, "A card payment needs the card brand and last four digits.")
def a_card_without_its_last_four_digits(conn):
    return holding_two_seats(conn, last_four=None)


@refused_with(30007, errors.PaymentRejected, "There is no payment for this booking.")
def no_payment_for_a_total_above_zero(conn):
    return holding_two_seats(conn, provider_reference=None)


@refused_with(30005, errors.PriceChanged, "The price of your seats has changed. Please review your order.")
def a_total_other_than_the_price(conn):
    return holding_two_seats(conn, expected_total=Decimal("99.99"))


@refused_with(30004, errors.PromoCodeRejected, "This promo code does not exist.")
def an_unknown_promo_code(conn):
    return holding_two_seats(conn, promo="NO-SUCH-CODE", expected_total=Decimal("100.00"))


@refused_with(30004, errors.PromoCodeRejected, "This promo code does not exist.")
def a_switched_off_promo_code(conn):
    return with_promo(conn, is_active=False)


@refused_with(30004, errors.PromoCodeRejected, "This promo code is not valid yet.")
def a_promo_code_not_valid_yet(conn):
    return with_promo(conn, valid_from=now() + dt.timedelta(days=1), valid_until=now() + dt.timedelta(days=9))


@refused_with(30004, errors.PromoCodeRejected, "This promo code has expired.")
def an_expired_promo_code(conn):
    return with_promo(conn, valid_from=now() - dt.timedelta(days=9), valid_until=now() - dt.timedelta(days=1))


@refused_with(30004, errors.PromoCodeRejected, "This promo code has been used up.")
def a_used_up_promo_code(conn):
    return with_promo(conn, usage_limit=5, times_used=5)


@refused_with(30004, errors.PromoCodeRejected, "This promo code is for VIP members only.")
def a_vip_only_promo_code_for_a_regular_customer(conn):
    return with_promo(conn, vip_only=True)


@refused_with(30004, errors.PromoCodeRejected, "This promo code is not valid for this event.")
def another_events_promo_code(conn):
    return with_promo(conn, for_another_event=True)


@refused_with(30001, errors.NotBookable, "This event has been cancelled and can no longer be booked.")
def a_cancelled_event(conn):
    return holding_two_seats(conn, event_options={"status": "cancelled"})


@refused_with(30001, errors.NotBookable, "This event is not on sale yet.")
def a_draft_event(conn):
    return holding_two_seats(conn, event_options={"status": "draft"})


@refused_with(30001, errors.NotBookable, "This event has already started and can no longer be booked.")
def an_event_that_has_started(conn):
    return holding_two_seats(conn, event_options={"starts_in": -dt.timedelta(minutes=10)})


@refused_with(30001, errors.NotBookable, "Ticket sales for this event have closed.")
def an_event_whose_sales_have_closed(conn):
    return holding_two_seats(conn, event_options={"sales_end": now() - dt.timedelta(hours=1)})


@refused_with(30001, errors.NotBookable, "Ticket sales for this event have not opened yet.")
def an_event_whose_sales_have_not_opened(conn):
    return holding_two_seats(conn, event_options={"sales_start": now() + dt.timedelta(days=1)})


@refused_with(30001, errors.NotBookable, "This event does not exist.")
def an_event_that_does_not_exist(conn):
    return holding_two_seats(conn, event_id=2**31)


@refused_with(30008, errors.UnknownCustomer, "There is no such customer.")
def a_customer_that_does_not_exist(conn):
    return holding_two_seats(conn, customer_id=2**31)


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refused_booking_says_why_and_leaves_nothing_behind(conn, case):
    attempt = case.setup(conn)
    options = dict(attempt.options)
    event = replace(attempt.event, event_id=options.pop("event_id", attempt.event.event_id))
    customer = replace(attempt.customer, customer_id=options.pop("customer_id", attempt.customer.customer_id))
    owner = options.pop("owner_who_books", attempt.owner)
    before = everything_a_booking_touches(conn, attempt.event)

    with pytest.raises(sa.exc.DBAPIError) as refusal:
        book(conn, event, customer, owner=owner, idempotency_key=f"refused-{attempt.owner}", **options)

    assert refusal.value.orig.args[:2] == (case.errno, case.message)
    assert isinstance(errors.from_database_error(refusal.value), case.error)
    assert everything_a_booking_touches(conn, attempt.event) == before
    assert held_by(conn, attempt.event, attempt.owner) == attempt.held


# ---------------------------------------------------------------- pricing

def held_for_pricing(tx, prices: dict[int, Decimal], labels: tuple[str, ...]) -> tuple[Event, str]:
    venue = make_venue(tx, rows=3, categories={"A": PREMIUM, "C": ECONOMY})
    event = make_event(tx, venue, prices=prices)
    return event, hold_seats(tx, event, event.seat_ids(*labels))


def test_price_hold_takes_the_vip_rate_first_then_a_percentage_of_what_is_left(tx):
    event, owner = held_for_pricing(tx, {PREMIUM: Decimal("33.33"), STANDARD: Decimal("1"), ECONOMY: Decimal("1")},
                                    ("A1", "A2", "A3"))
    vip = make_customer(tx, vip=True, rate=Decimal("0.1250"))
    promo = make_discount(tx, kind="percent", value=Decimal("15"))

    price = price_hold(tx, event, owner, vip, promo.code)

    # 99.99 - round(12.49875) = 87.49; then 15% of 87.49 = 13.1235, rounded to 13.12.
    assert price == {"seat_count": 3, "subtotal": Decimal("99.99"), "vip_discount": Decimal("12.50"),
                     "promo_discount": Decimal("13.12"), "total": Decimal("74.37"),
                     "discount_id": promo.discount_id}


def test_price_hold_rounds_half_a_cent_up(tx):
    event, owner = held_for_pricing(tx, {PREMIUM: Decimal("10.60"), STANDARD: Decimal("1"), ECONOMY: Decimal("1")},
                                    ("A1",))
    vip = make_customer(tx, vip=True, rate=Decimal("0.1250"))

    price = price_hold(tx, event, owner, vip)

    assert (price["vip_discount"], price["total"]) == (Decimal("1.33"), Decimal("9.27"))


def test_price_hold_takes_a_fixed_promo_off_after_the_vip_rate(tx):
    event, owner = held_for_pricing(tx, {PREMIUM: Decimal("80"), STANDARD: Decimal("50.00"), ECONOMY: Decimal("1")},
                                    ("B1", "B2"))
    vip = make_customer(tx, vip=True, rate=Decimal("0.1000"))
    promo = make_discount(tx, kind="fixed", value=Decimal("15.00"))

    price = price_hold(tx, event, owner, vip, promo.code)

    assert (price["subtotal"], price["vip_discount"], price["promo_discount"], price["total"]) == (
        Decimal("100.00"), Decimal("10.00"), Decimal("15.00"), Decimal("75.00"))


def test_price_hold_never_takes_the_total_below_zero(tx):
    event, owner = held_for_pricing(tx, {PREMIUM: Decimal("80"), STANDARD: Decimal("50.00"), ECONOMY: Decimal("1")},
                                    ("B1", "B2"))
    vip = make_customer(tx, vip=True, rate=Decimal("0.1000"))
    promo = make_discount(tx, kind="fixed", value=Decimal("500.00"))

    price = price_hold(tx, event, owner, vip, promo.code)

    assert (price["vip_discount"], price["promo_discount"], price["total"]) == (
        Decimal("10.00"), Decimal("90.00"), Decimal("0.00"))


def test_price_hold_for_a_visitor_without_a_code_is_the_face_value(tx):
    event, owner = held_for_pricing(tx, {PREMIUM: Decimal("80.00"), STANDARD: Decimal("50.00"),
                                         ECONOMY: Decimal("30.00")}, ("A1", "B1", "C1"))

    price = price_hold(tx, event, owner)

    assert price == {"seat_count": 3, "subtotal": Decimal("160.00"), "vip_discount": Decimal("0.00"),
                     "promo_discount": Decimal("0.00"), "total": Decimal("160.00"), "discount_id": None}


def test_price_hold_counts_only_the_owners_held_seats(tx):
    event, owner = held_for_pricing(tx, {PREMIUM: Decimal("80.00"), STANDARD: Decimal("50.00"),
                                         ECONOMY: Decimal("30.00")}, ("A1",))
    hold_seats(tx, event, event.seat_ids("A2", "A3"))

    assert price_hold(tx, event, owner)["subtotal"] == Decimal("80.00")


def test_price_hold_matches_a_promo_code_whatever_its_case_and_spacing(tx):
    event, owner = held_for_pricing(tx, {PREMIUM: Decimal("80.00"), STANDARD: Decimal("50.00"),
                                         ECONOMY: Decimal("30.00")}, ("B1",))
    promo = make_discount(tx, code="SPRING20", kind="percent", value=Decimal("20"))

    price = price_hold(tx, event, owner, promo=" spring20 ")

    assert (price["promo_discount"], price["discount_id"]) == (Decimal("10.00"), promo.discount_id)


def test_price_hold_gives_a_vip_only_code_to_a_vip(tx):
    event, owner = held_for_pricing(tx, {PREMIUM: Decimal("80.00"), STANDARD: Decimal("50.00"),
                                         ECONOMY: Decimal("30.00")}, ("B1",))
    vip = make_customer(tx, vip=True, rate=Decimal("0.2000"))
    promo = make_discount(tx, kind="fixed", value=Decimal("5.00"), vip_only=True)

    price = price_hold(tx, event, owner, vip, promo.code)

    assert (price["vip_discount"], price["promo_discount"], price["total"]) == (
        Decimal("10.00"), Decimal("5.00"), Decimal("35.00"))
