"""Promo codes: the list with their use so far, a new code, changing one, switching one off or on."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from boxoffice.auth import admin_required
from boxoffice.errors import BoxOfficeError
from boxoffice.services import discounts
from boxoffice.templating import render_page

from .blueprint import PAGE_SIZE, bp, page_number
from .forms import SearchForm, promo_code_form


@bp.get("/promo-codes", endpoint="discounts")
@admin_required
def promo_code_list():
    form = SearchForm(request.args)
    form.validate()
    return render_page("admin/discounts.html", fragment="results", form=form,
                       codes=discounts.list_promo_codes(form.q.data, page_number(), PAGE_SIZE), kinds=discounts.KINDS)


@bp.route("/promo-codes/new", methods=["GET", "POST"], endpoint="discounts_new")
@admin_required
def new_promo_code():
    form = promo_code_form(discounts.events_for_codes(), new=True)
    if form.validate_on_submit():
        try:
            discounts.create_promo_code(form.code.data, form.terms())
        except BoxOfficeError as refusal:
            form.form_errors.append(refusal.message)
        else:
            flash(f"Promo code {form.code.data} has been created.", "ok")
            return redirect(url_for("admin.discounts"))
    return render_page("admin/discount_form.html", form=form, discount=None), 422 if form.is_submitted() else 200


@bp.route("/promo-codes/<int:discount_id>", methods=["GET", "POST"], endpoint="discounts_edit")
@admin_required
def edit_promo_code(discount_id: int):
    discount = discounts.promo_code(discount_id) or abort(404)
    form = promo_code_form(discounts.events_for_codes(including=discount.event_id), new=False, obj=discount)
    if form.validate_on_submit():
        try:
            discounts.update_promo_code(discount_id, form.terms())
        except BoxOfficeError as refusal:
            form.form_errors.append(refusal.message)
        else:
            flash(f"Promo code {discount.code} has been saved.", "ok")
            return redirect(url_for("admin.discounts"))
    return render_page("admin/discount_form.html", form=form, discount=discount), 422 if form.is_submitted() else 200


@bp.post("/promo-codes/<int:discount_id>/active", endpoint="discounts_active")
@admin_required
def switch_promo_code(discount_id: int):
    """Switch a code off (`active=0`) or on again (`active=1`)."""
    active = request.form.get("active") == "1"
    try:
        code = discounts.set_promo_code_active(discount_id, active)
    except BoxOfficeError as refusal:
        flash(refusal.message, "error")
    else:
        flash(f"Promo code {code} is {'on again' if active else 'switched off: checkout refuses it now'}.", "ok")
    return redirect(url_for("admin.discounts"))
