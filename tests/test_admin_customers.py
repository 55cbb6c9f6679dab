"""Customers in the back office: found by name or e-mail, their bookings and payments, and the move between
regular and VIP, which always leaves exactly one subtype row."""
from __future__ import annotations

from decimal import Decimal

import pytest

from boxoffice.errors import BoxOfficeError
from boxoffice.services import customers_admin, refunds
from tests.admin_support import HX, paid_booking
from tests.builders import make_customer, make_event, make_venue, rows


def subtype_rows(session, customer_id: int) -> list[tuple]:
    """(customer_type, regular rows, vip rows) of the customer."""
    return rows(session, """SELECT c.customer_type,
                                   (SELECT COUNT(*) FROM regular_customers WHERE customer_id = c.customer_id),
                                   (SELECT COUNT(*) FROM vip_customers WHERE customer_id = c.customer_id)
                              FROM customers c WHERE c.customer_id = :c""", c=customer_id)


def test_customers_are_found_by_part_of_their_name_or_e_mail(admin_client, db_session):
    make_customer(db_session, full_name="Imogen Fairweather", email="imogen@example.test")
    make_customer(db_session, full_name="Bertrand Oakes", email="b.oakes@stormy.example")
    db_session.commit()
    for term in ("fairweather", "IMOGEN@"):
        html = admin_client.get("/admin/customers", query_string={"q": term}).get_data(as_text=True)
        assert "Imogen Fairweather" in html and "Bertrand Oakes" not in html
    html = admin_client.get("/admin/customers", query_string={"q": "stormy"}, headers=HX).get_data(as_text=True)
    assert "Bertrand Oakes" in html and "<form" not in html


def test_the_customer_list_is_paginated(db_session):
    for number in range(7):
        make_customer(db_session, full_name=f"Pagination Person {number}")
    db_session.commit()
    first = customers_admin.search_customers("Pagination Person", 1, 5)
    second = customers_admin.search_customers("Pagination Person", 2, 5)
    assert (first.total, len(first.items), len(second.items)) == (7, 5, 2)


def test_a_customers_page_shows_their_bookings_and_their_payments(admin_client, db_session):
    buyer = make_customer(db_session, full_name="Imogen Fairweather")
    event = make_event(db_session, make_venue(db_session), title="Harbour Lights")
    db_session.commit()
    booking = paid_booking(event, buyer, "A1", "A2")
    refunds.refund_tickets(booking.booking_id, [booking.tickets[0].ticket_id])
    page = f"/admin/customers/{buyer.customer_id}"
    html = admin_client.get(page).get_data(as_text=True)
    assert booking.booking_code in html and "Harbour Lights" in html and "Partially refunded" in html
    html = admin_client.get(page, query_string={"list": "payments"}, headers=HX).get_data(as_text=True)
    assert "<html" not in html and "Refund" in html and "Captured" in html
    assert "−€50.00" in html and "€100.00" in html


def test_making_a_customer_vip_swaps_the_regular_row_for_a_vip_row(admin_client, forms, db_session):
    customer = make_customer(db_session)
    db_session.commit()
    page = f"/admin/customers/{customer.customer_id}"
    assert subtype_rows(db_session, customer.customer_id) == [("regular", 1, 0)]
    assert forms.post(page, {"tier": "gold", "discount_percent": "12.5"}, action=f"{page}/vip").status_code == 302
    assert subtype_rows(db_session, customer.customer_id) == [("vip", 0, 1)]
    assert rows(db_session, "SELECT tier, discount_rate FROM vip_customers WHERE customer_id = :c",
                c=customer.customer_id) == [("gold", Decimal("0.1250"))]
    assert "Gold VIP" in admin_client.get(page).get_data(as_text=True)


def test_a_vips_tier_and_rate_can_change_and_they_stay_one_vip(admin_client, forms, db_session):
    customer = make_customer(db_session, vip=True, tier="silver", rate=Decimal("0.0500"))
    db_session.commit()
    page = f"/admin/customers/{customer.customer_id}"
    forms.post(page, {"tier": "platinum", "discount_percent": "15"}, action=f"{page}/vip")
    assert subtype_rows(db_session, customer.customer_id) == [("vip", 0, 1)]
    assert rows(db_session, "SELECT tier, discount_rate FROM vip_customers WHERE customer_id = :c",
                c=customer.customer_id) == [("platinum", Decimal("0.1500"))]


def test_a_vip_made_regular_again_has_only_a_regular_row(admin_client, forms, db_session):
    customer = make_customer(db_session, vip=True)
    db_session.commit()
    page = f"/admin/customers/{customer.customer_id}"
    assert forms.post(page, {}, action=f"{page}/regular").status_code == 302
    assert subtype_rows(db_session, customer.customer_id) == [("regular", 1, 0)]
    assert "regular customer again" in admin_client.get(page).get_data(as_text=True)
    forms.post(page, {}, action=f"{page}/regular")
    assert "is not a VIP" in admin_client.get(page).get_data(as_text=True)
    assert subtype_rows(db_session, customer.customer_id) == [("regular", 1, 0)]


def test_a_vip_rate_above_the_limit_is_a_form_error_and_changes_nothing(admin_client, forms, db_session):
    customer = make_customer(db_session)
    db_session.commit()
    page = f"/admin/customers/{customer.customer_id}"
    response = forms.post(page, {"tier": "gold", "discount_percent": "60"}, action=f"{page}/vip")
    assert response.status_code == 422 and "From 0.01 to 50 per cent." in response.get_data(as_text=True)
    assert subtype_rows(db_session, customer.customer_id) == [("regular", 1, 0)]


def test_the_database_refuses_a_vip_rate_the_form_let_through_and_the_swap_is_undone(db_session):
    customer = make_customer(db_session)
    db_session.commit()
    with pytest.raises(BoxOfficeError, match="A VIP discount is more than 0 % and at most 50 %."):
        customers_admin.make_vip(customer.customer_id, "gold", Decimal("0.7500"))
    assert subtype_rows(db_session, customer.customer_id) == [("regular", 1, 0)]
