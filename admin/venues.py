"""Venues: the list, one venue's map, and a new venue from the layout generator with a live preview."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for

from boxoffice.auth import admin_required
from boxoffice.errors import BoxOfficeError
from boxoffice.services import venue_details, venues
from boxoffice.templating import render_page

from .blueprint import PAGE_SIZE, bp, page_number
from .forms import VenueDetailsForm, VenueForm, layout_form


@bp.get("/venues", endpoint="venues")
@admin_required
def venue_list():
    return render_page("admin/venues.html", venues=venues.list_venues(page_number(), PAGE_SIZE))


@bp.get("/venues/<int:venue_id>", endpoint="venues_show")
@admin_required
def show_venue(venue_id: int):
    venue = venues.venue(venue_id) or abort(404)
    return render_page("admin/venue.html", venue=venue, plan=venues.saved_plan(venue_id),
                       categories=venues.seat_categories(), details_form=VenueDetailsForm(obj=venue))


@bp.post("/venues/<int:venue_id>/details", endpoint="venues_details")
@admin_required
def save_venue_details(venue_id: int):
    """The visitor information: address, map link, directions, access, facilities."""
    venue = venues.venue(venue_id) or abort(404)
    form = VenueDetailsForm()
    if form.validate():
        try:
            venue_details.update_visitor_info(venue_id, address=form.address.data, map_url=form.map_url.data or "",
                                              directions=form.directions.data or "",
                                              access_info=form.access_info.data or "",
                                              facilities=form.facilities.data or "")
        except BoxOfficeError as refusal:
            form.map_url.errors = [refusal.message]
        else:
            flash("The visitor information has been saved.", "ok")
            return redirect(url_for("admin.venues_show", venue_id=venue_id) + "#visitor-info")
    return render_page("admin/venue.html", venue=venue, plan=venues.saved_plan(venue_id),
                       categories=venues.seat_categories(), details_form=form), 422


@bp.route("/venues/new", methods=["GET", "POST"], endpoint="venues_new")
@admin_required
def new_venue():
    """The layout generator. A change in the form (HTMX) or the Preview button (without JavaScript) posts
    it here and gets the map of the layout back; the Save button saves venue and layout."""
    categories = venues.seat_categories()
    form, layout = VenueForm(), layout_form(categories)
    plan, layout_error = None, None
    # Row ranges still as suggested follow a new number of rows (the preview then swaps the fields too).
    rows_followed = request.method == "POST" and layout.follow_rows()
    if request.method == "GET" or layout.validate_on_submit():
        try:
            plan = venues.plan_layout(layout.layout())
        except BoxOfficeError as refusal:
            layout_error = refusal.message
    saving = request.form.get("action") == "save"
    if saving and form.validate_on_submit() and plan is not None:
        try:
            venue_id = venues.create_venue(form.name.data.strip(), form.city.data.strip(), form.address.data.strip(),
                                           plan)
        except BoxOfficeError as refusal:
            form.form_errors.append(refusal.message)
        else:
            flash(f"{form.name.data.strip()} has been saved with {plan.capacity:,} seats.", "ok")
            return redirect(url_for("admin.venues_show", venue_id=venue_id))
    return render_page("admin/venue_new.html", fragment="preview", form=form, layout=layout, plan=plan,
                       layout_error=layout_error, categories=categories, rows_followed=rows_followed), \
        422 if saving else 200
