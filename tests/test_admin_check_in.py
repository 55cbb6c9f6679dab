"""Check-in at the doors: the answers (valid, already checked in with the time, refunded, wrong event, not
today's show, unknown), given in place with HTMX, big, colour-coded and in words."""
from __future__ import annotations

import datetime as dt
import re

import pytest

from boxoffice.services import checkin, refunds
from tests.admin_support import HX, paid_booking
from tests.builders import make_customer, make_event, make_venue, now, rows


@pytest.fixture
def booking(db_session):
    # Tonight's show: the window without a door admits it.
    event = make_event(db_session, make_venue(db_session, rows=1, seats_per_row=4), title="Opening Night",
                       starts_in=dt.timedelta(hours=2))
    buyer = make_customer(db_session, full_name="Grace Holloway")
    db_session.commit()
    return paid_booking(event, buyer, "A1", "A2", "A3")


def verdict(html: str) -> str:
    match = re.search(r'<div class="verdict verdict--(\w+)" role="alert">', html)
    assert match, "no answer on the page"
    return match.group(1)


def test_a_valid_ticket_is_checked_in_once_and_then_is_already_checked_in_with_the_time(db_session, booking):
    code = booking.tickets[0].ticket_code
    first = checkin.check_in(code)
    assert (first.outcome, first.seat_label, first.holder) == ("valid", "Stalls, row A, seat 1", "Grace Holloway")
    [(status, at)] = rows(db_session, "SELECT status, checked_in_at FROM tickets WHERE ticket_code = :c", c=code)
    assert status == "checked_in" and at is not None
    again = checkin.check_in(code)
    assert (again.outcome, again.checked_in_at) == ("already_checked_in", at)


def test_a_refunded_ticket_and_an_unknown_code_are_refused(db_session, booking):
    refunded = booking.tickets[1]
    refunds.refund_tickets(booking.booking_id, [refunded.ticket_id])
    assert checkin.check_in(refunded.ticket_code).outcome == "refunded"
    assert rows(db_session, "SELECT status FROM tickets WHERE ticket_id = :t", t=refunded.ticket_id) == [("refunded",)]
    for nonsense in ("ZZZZZZZZZZZZ", "é€", "", "A" * 40):
        assert checkin.check_in(nonsense).outcome == "unknown"


def test_a_scanned_qr_code_and_a_code_typed_in_lower_case_are_the_ticket(booking):
    code = booking.tickets[2].ticket_code
    assert checkin.check_in(f"BOXOFFICE-TICKET:{code}").outcome == "valid"
    assert checkin.check_in(f"  {code.lower()} ").outcome == "already_checked_in"


def test_with_htmx_the_desk_answers_in_place_ready_for_the_next_ticket(admin_client, forms, booking):
    code = booking.tickets[0].ticket_code
    response = forms.post("/admin/check-in", {"ticket_code": code}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in html
    assert verdict(html) == "valid" and "Valid: let them in" in html and "Opening Night" in html
    assert re.search(r'<input[^>]*autofocus[^>]*value=""', html), "an empty field, focused, for the next scan"
    html = forms.post("/admin/check-in", {"ticket_code": code}, headers=HX).get_data(as_text=True)
    assert verdict(html) == "already_checked_in" and "Already checked in" in html and "Checked in at" in html


def test_without_javascript_the_whole_page_answers(admin_client, forms):
    response = forms.post("/admin/check-in", {"ticket_code": "NOSUCHTICKET"})
    html = response.get_data(as_text=True)
    assert "<html" in html and verdict(html) == "unknown" and "Unknown ticket" in html
    response = forms.post("/admin/check-in", {"ticket_code": ""})
    assert response.status_code == 422 and "Type or scan a ticket code." in response.get_data(as_text=True)


def test_a_door_for_one_event_turns_away_another_events_ticket_which_stays_valid_for_its_own(db_session, booking):
    other = make_event(db_session, make_venue(db_session, rows=1, seats_per_row=2), title="Closing Night")
    db_session.commit()
    code = booking.tickets[0].ticket_code
    wrong = checkin.check_in(code, event_id=other.event_id)
    assert (wrong.outcome, wrong.event_title) == ("wrong_event", "Opening Night")
    assert rows(db_session, "SELECT status FROM tickets WHERE ticket_code = :c", c=code) == [("valid",)]
    assert checkin.check_in(code, event_id=booking.event_id).outcome == "valid"


def test_the_desk_keeps_its_door_and_says_which_event_a_wrong_ticket_is_for(admin_client, forms, db_session, booking):
    other = make_event(db_session, make_venue(db_session, rows=1, seats_per_row=2), title="Closing Night")
    db_session.commit()
    page = admin_client.get(f"/admin/check-in?event={other.event_id}").get_data(as_text=True)
    assert re.search(rf'<option value="{other.event_id}" selected>Closing Night', page)
    assert "Door for <strong>Closing Night</strong>" in page
    response = forms.post(f"/admin/check-in?event={other.event_id}", {"ticket_code": booking.tickets[0].ticket_code},
                          headers=HX)
    html = response.get_data(as_text=True)
    assert verdict(html) == "wrong_event" and "Wrong event" in html and "Opening Night" in html
    assert f'hx-post="/admin/check-in?event={other.event_id}"' in html, "the next scan is for the same door"


@pytest.fixture
def next_weeks_booking(db_session):
    # At 19:00 a week from today, so that three hours into the show is still its day whenever the suite runs.
    seven_pm = now().replace(hour=19, minute=0, second=0, microsecond=0) + dt.timedelta(days=7)
    event = make_event(db_session, make_venue(db_session, rows=1, seats_per_row=2), title="Next Week's Show",
                       starts_in=seven_pm - now())
    buyer = make_customer(db_session, full_name="Ada Early")
    db_session.commit()
    return event, paid_booking(event, buyer, "A1")


def test_the_window_without_a_door_turns_away_a_ticket_for_another_day_and_leaves_it_valid(db_session,
                                                                                          next_weeks_booking):
    event, booking = next_weeks_booking
    code = booking.tickets[0].ticket_code
    answer = checkin.check_in(code)
    assert (answer.outcome, answer.event_title, answer.starts_at) == ("not_today", "Next Week's Show", event.starts_at)
    assert rows(db_session, "SELECT status, checked_in_at FROM tickets WHERE ticket_code = :c", c=code) == [
        ("valid", None)], "not marked used: the guest gets in on the night"
    # On the night it lets the guest in.
    assert checkin.check_in(code, now=event.starts_at - dt.timedelta(hours=1)).outcome == "valid"


@pytest.mark.parametrize(("offset", "admitted"), [
    (dt.timedelta(hours=-4, seconds=-1), False),   # too early
    (dt.timedelta(hours=-4), True),                # the window opens four hours before the start
    (dt.timedelta(hours=3), True),                 # during the show
])
def test_the_window_opens_hours_before_the_start(db_session, next_weeks_booking, offset, admitted):
    event, booking = next_weeks_booking
    answer = checkin.check_in(booking.tickets[0].ticket_code, now=event.starts_at + offset)
    assert answer.outcome == ("valid" if admitted else "not_today")


def test_the_window_closes_at_the_end_of_the_shows_day(db_session, next_weeks_booking):
    event, booking = next_weeks_booking
    midnight = dt.datetime.combine(event.starts_at.date() + dt.timedelta(days=1), dt.time())
    code = booking.tickets[0].ticket_code
    assert checkin.check_in(code, now=midnight).outcome == "not_today"
    assert checkin.check_in(code, now=midnight - dt.timedelta(seconds=1)).outcome == "valid"


def test_the_window_says_which_show_and_date_a_ticket_is_for(admin_client, forms, next_weeks_booking):
    event, booking = next_weeks_booking
    html = forms.post("/admin/check-in", {"ticket_code": booking.tickets[0].ticket_code}, headers=HX).get_data(as_text=True)
    assert verdict(html) == "not_today"
    assert f"This ticket is for Next Week&#39;s Show on {event.starts_at:%a %d %b %Y, %H:%M}" in html


def test_a_door_for_next_weeks_show_still_admits_its_ticket(db_session, next_weeks_booking):
    event, booking = next_weeks_booking
    assert checkin.check_in(booking.tickets[0].ticket_code, event_id=event.event_id).outcome == "valid"
