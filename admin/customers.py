"""Customers: find one by name or e-mail, see their bookings and payments, make them VIP or regular."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from boxoffice.auth import admin_required
from boxoffice.errors import BoxOfficeError
from boxoffice.services import customers_admin, orders
from boxoffice.templating import render_page

from .blueprint import PAGE_SIZE, bp, page_number
from .forms import SearchForm, VipForm


@bp.get("/customers", endpoint="customers")
@admin_required
def customer_list():
    form = SearchForm(request.args)
    form.validate()
    return render_page("admin/customers.html", fragment="results", form=form,
                       customers=customers_admin.search_customers(form.q.data, page_number(), PAGE_SIZE))


def _customer_page(customer_id: int, vip_form: VipForm, status: int = 200):
    """One customer: their details, the VIP form, and one page of their bookings or (?list=payments) of
    their payments."""
    customer = customers_admin.customer(customer_id) or abort(404)
    showing = "payments" if request.args.get("list") == "payments" else "bookings"
    if showing == "payments":
        entries = customers_admin.payments_of(customer_id, page_number(), PAGE_SIZE)
    else:
        entries = orders.orders_of(customer_id, page_number(), PAGE_SIZE)
    return render_page("admin/customer.html", fragment="history", customer=customer, vip_form=vip_form,
                       showing=showing, entries=entries, tiers=customers_admin.TIERS), status


@bp.get("/customers/<int:customer_id>", endpoint="customers_show")
@admin_required
def show_customer(customer_id: int):
    customer = customers_admin.customer(customer_id) or abort(404)
    vip = customer.vip
    form = VipForm(formdata=None, tier=vip.tier if vip else "silver",
                   discount_percent=vip.discount_rate * 100 if vip else None)
    return _customer_page(customer_id, form)


@bp.post("/customers/<int:customer_id>/vip", endpoint="customers_vip")
@admin_required
def make_vip(customer_id: int):
    """Make the customer a VIP, or change their tier and discount."""
    form = VipForm()
    if form.validate():
        try:
            customers_admin.make_vip(customer_id, form.tier.data, form.discount_rate)
        except BoxOfficeError as refusal:
            form.discount_percent.errors.append(refusal.message)
        else:
            flash(f"They are a {customers_admin.TIERS[form.tier.data]} VIP now, with "
                  f"{form.discount_percent.data.normalize():f} % off every ticket.", "ok")
            return redirect(url_for("admin.customers_show", customer_id=customer_id))
    return _customer_page(customer_id, form, 422)


@bp.post("/customers/<int:customer_id>/regular", endpoint="customers_regular")
@admin_required
def make_regular(customer_id: int):
    try:
        customers_admin.make_regular(customer_id)
    except BoxOfficeError as refusal:
        flash(refusal.message, "error")
    else:
        flash("They are a regular customer again: no more VIP discount on new bookings.", "ok")
    return redirect(url_for("admin.customers_show", customer_id=customer_id))
