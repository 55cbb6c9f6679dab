"""Promo codes in the back office: created upper-case, changed, switched off and on, their use counted, and
the database's rules on their terms shown as form errors."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from boxoffice.errors import PromoCodeRejected
from boxoffice.services import checkout, holds
from tests.admin_support import paid_booking
from tests.builders import make_customer, make_discount, make_event, make_venue, new_hold_owner, now, rows

FORMAT = "%Y-%m-%dT%H:%M"


def code_form(**changes) -> dict:
    form = {"code": "spring-25", "description": "Spring sale", "kind": "percent", "value": "25",
            "valid_from": (now() - dt.timedelta(days=1)).strftime(FORMAT),
            "valid_until": (now() + dt.timedelta(days=30)).strftime(FORMAT), "usage_limit": "100", "event_id": ""}
    return {**form, **changes}


@pytest.fixture
def event(db_session):
    made = make_event(db_session, make_venue(db_session, rows=1, seats_per_row=6), title="Spring Gala")
    db_session.commit()
    return made


def test_a_new_code_is_stored_upper_case_with_its_terms(admin_client, forms, db_session, event):
    response = forms.post("/admin/promo-codes/new", code_form(vip_only="y", event_id=str(event.event_id)))
    assert response.status_code == 302
    assert rows(db_session, """SELECT code, kind, value, usage_limit, times_used, vip_only, event_id, is_active
                                FROM discounts WHERE description = 'Spring sale'""") == [
        ("SPRING-25", "percent", Decimal("25.00"), 100, 0, 1, event.event_id, 1)]
    html = admin_client.get("/admin/promo-codes").get_data(as_text=True)
    assert "SPRING-25" in html and "Spring Gala" in html and "0 / 100" in html


def test_a_code_that_exists_already_is_a_form_error(admin_client, forms, db_session):
    make_discount(db_session, code="SPRING-25")
    db_session.commit()
    response = forms.post("/admin/promo-codes/new", code_form(code="Spring-25"))
    assert response.status_code == 422
    assert "There is already a promo code with that code." in response.get_data(as_text=True)


@pytest.mark.parametrize("changes, message", [
    ({"value": "120"}, "A percentage must be above 0 and at most 100"),
    ({"valid_until": (now() - dt.timedelta(days=2)).strftime(FORMAT)},
     "A code must start being valid before it stops."),
    ({"code": "€URO"}, "Use 3 to 32 letters A-Z, digits, - or _."),
])
def test_terms_the_rules_refuse_are_form_errors_that_keep_what_was_typed(admin_client, forms, db_session, changes,
                                                                           message):
    response = forms.post("/admin/promo-codes/new", code_form(description="Refused terms", **changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and message in html and 'value="Refused terms"' in html
    assert rows(db_session, "SELECT COUNT(*) FROM discounts WHERE description = 'Refused terms'") == [(0,)]


def test_the_list_shows_how_often_each_code_has_been_used(admin_client, db_session, event):
    make_discount(db_session, code="TWICE", usage_limit=5)
    buyer = make_customer(db_session)
    db_session.commit()
    paid_booking(event, buyer, "A1", promo="twice")
    paid_booking(event, buyer, "A2", promo="TWICE")
    html = admin_client.get("/admin/promo-codes", query_string={"q": "twice"}).get_data(as_text=True)
    assert "2 / 5" in html and 'value="2"' in html and "Live" in html


def test_editing_changes_the_terms_but_not_below_the_uses_so_far(admin_client, forms, db_session):
    code = make_discount(db_session, code="EARLYBIRD", usage_limit=10, times_used=4)
    db_session.commit()
    page = f"/admin/promo-codes/{code.discount_id}"
    assert forms.post(page, code_form(kind="fixed", value="7.50", usage_limit="6")).status_code == 302
    assert rows(db_session, "SELECT code, kind, value, usage_limit FROM discounts WHERE discount_id = :d",
                d=code.discount_id) == [("EARLYBIRD", "fixed", Decimal("7.50"), 6)]
    response = forms.post(page, code_form(usage_limit="3"))
    assert response.status_code == 422
    assert "cannot be lower than the number of times the code has been used" in response.get_data(as_text=True)


def test_a_switched_off_code_is_refused_at_checkout_until_it_is_switched_on(admin_client, forms, db_session, event):
    code = make_discount(db_session, code="PAUSED")
    buyer = make_customer(db_session)
    db_session.commit()
    owner = new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids("A3"), owner, 10)
    forms.post("/admin/promo-codes", {"active": "0"}, action=f"/admin/promo-codes/{code.discount_id}/active")
    assert "Switched off" in admin_client.get("/admin/promo-codes").get_data(as_text=True)
    with pytest.raises(PromoCodeRejected):
        checkout.quote(event.event_id, owner, buyer.customer_id, "paused")
    forms.post("/admin/promo-codes", {"active": "1"}, action=f"/admin/promo-codes/{code.discount_id}/active")
    assert checkout.quote(event.event_id, owner, buyer.customer_id, "paused").promo_discount > 0
