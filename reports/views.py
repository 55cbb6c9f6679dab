"""Reports: the dashboards, the business questions, CSV and HTML downloads, and shared read-only links.

Every figure is read through the read-only reporting database user (boxoffice.services.reporting). Every
view is for admins, except the shared link, which opens without signing in and shows the dashboard only.
"""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from boxoffice.auth import admin_required
from boxoffice.clock import utcnow
from boxoffice.extensions import assets
from boxoffice.forms import record_id
from boxoffice.services import reporting, reports_questions, sharing
from boxoffice.services.reports_figures import csv_text
from boxoffice.templating import money, render_page

from .forms import ReportFilterForm, ShareForm

bp = Blueprint("reports", __name__)


def _filter(formdata) -> tuple[ReportFilterForm, reporting.ReportFilter]:
    """The filter a request asks for; the default one (the last twelve months, everywhere) for anything
    left out or invalid, with the form's errors to show."""
    form = ReportFilterForm(formdata)
    default = reporting.default_filter()
    if not form.validate():
        return form, default
    chosen = reporting.ReportFilter(
        form.date_from.data or default.date_from, form.date_to.data or default.date_to,
        int(form.venue.data) if (form.venue.data or "").isdigit() else None,
        int(form.event.data) if (form.event.data or "").isdigit() else None,
        form.customers.data if form.customers.data in reporting.CUSTOMER_TYPES else None,
        int(form.method.data) if (form.method.data or "").isdigit() else None)
    if chosen.date_from > chosen.date_to:
        form.date_to.errors = ["The end date is before the start date."]
        return form, default
    return form, chosen


@bp.get("/")
@admin_required
def index():
    form, report_filter = _filter(request.args)
    choices = reporting.filter_choices(report_filter)
    report_filter = reporting.within_choices(report_filter, choices)
    form.venue.choices = [("", "All venues")] + [(str(venue_id), name) for venue_id, name in choices.venues]
    form.date_from.data, form.date_to.data = report_filter.date_from, report_filter.date_to
    form.event.choices = [("", "All events")] + [(str(event_id), label) for event_id, label in choices.events]
    form.method.choices = [("", "Every method")] + [(str(method_id), name) for method_id, name in choices.methods]
    return render_page("reports/index.html", fragment="dashboard", form=form,
                       presets=reporting.presets(report_filter, choices.first_sale),
                       dashboard=reporting.dashboard(report_filter), share_form=ShareForm(formdata=None))


@bp.get("/questions")
@admin_required
def questions():
    return render_page("reports/questions.html", answers=reports_questions.answers())


@bp.get("/export.csv")
@admin_required
def export():
    """A table as CSV: ?table= names one of the dashboards (shown with the request's filters) or a business
    question (question-<its name>)."""
    name = request.args.get("table", "")
    _, report_filter = _filter(request.args)
    try:
        if name.startswith("question-"):
            found = reports_questions.answer_named(name.removeprefix("question-"))
        else:
            found = reporting.table(name, report_filter)
    except (reporting.UnknownTable, reports_questions.UnknownQuestion):
        abort(404)
    return Response(csv_text(found), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{found.name}.csv"'})


def _inline_bundle(name: str) -> Markup:
    """A Flask-Assets bundle's built file, to be written inside a page (closing tags made harmless)."""
    bundle = assets[name]
    bundle.urls()  # builds it if it is out of date
    text = Path(bundle.resolve_output()).read_text(encoding="utf-8")
    return Markup(text.replace("</", "<\\/"))


@bp.get("/download.html")
@admin_required
def download():
    """The dashboard as one HTML file that opens offline: Chart.js, the styles and the data inside it."""
    _, report_filter = _filter(request.args)
    html = render_template("reports/download.html", dashboard=reporting.dashboard(report_filter),
                           description=reporting.describe(report_filter), now=utcnow(),
                           styles=_inline_bundle("css_all"), script=_inline_bundle("js_charts"))
    filename = f"encore-dashboard-{report_filter.date_from}-{report_filter.date_to}.html"
    return Response(html, mimetype="text/html", headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/shares")
@admin_required
def shares():
    form, report_filter = _filter(request.args)
    return render_page("reports/shares.html", shares=sharing.shares(), share_form=ShareForm(formdata=None),
                       report_filter=report_filter, description=reporting.describe(report_filter),
                       is_open=sharing.is_open)


@bp.post("/shares")
@admin_required
def create_share():
    share_form = ShareForm()
    _, report_filter = _filter(request.form)
    if not share_form.validate():
        flash("Give the link a name and choose when it expires.", "error")
        return redirect(url_for("reports.shares", **report_filter.as_query()))
    _, token = sharing.create_share(report_filter, share_form.label.data, share_form.expires_in.data,
                                    current_user.staff_id)
    flash(Markup("Link made. Copy it now, it is only shown this once: <code>{}</code>").format(
        url_for("reports.shared", token=token, _external=True)), "ok")
    return redirect(url_for("reports.shares"))


@bp.post("/shares/revoke")
@admin_required
def revoke_share():
    try:
        share = sharing.revoke_share(request.form.get("share_id", type=record_id))
    except sharing.ShareLinkNotFound:
        abort(404)
    flash(f"The link “{share.label}” no longer opens.", "ok")
    return redirect(url_for("reports.shares"))


def shared(token: str):
    """A shared dashboard, read-only, for anyone holding an open link: no sign-in, no admin menu, no forms."""
    try:
        share, report_filter = sharing.open_share(token)
    except sharing.ShareLinkNotFound:
        abort(404)
    except sharing.ShareLinkGone:
        return render_template("reports/shared_gone.html"), 410
    response = render_page("reports/shared.html", share=share, description=reporting.describe(report_filter),
                           dashboard=reporting.dashboard(report_filter))
    # The figures are for the link's holder only: no shared cache keeps them, no page links on with the token.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


# A shared link lives outside /admin (where the blueprint's other pages are), so that it never looks like,
# or is filtered as, an admin page.
bp.record_once(lambda state: state.app.add_url_rule("/shared/reports/<token>", endpoint="reports.shared",
                                                    view_func=shared))


@bp.app_template_filter("figure")
def figure(value, kind: str = "text") -> str:
    """A table value as a person reads it, by its column's kind."""
    if value is None:
        return "–"
    if kind == "money":
        return money(value)
    if kind == "count":
        return f"{int(value):,}"
    if kind == "percent":
        return f"{value:,.1f} %"
    if kind == "days":
        return f"{value:,} days" if value != 1 else "1 day"
    if kind == "number":
        return f"{value:,.2f}"
    if kind == "month":
        return f"{value:%b %Y}"
    if kind == "date":
        return f"{value:%d %b %Y}"
    if kind == "datetime":
        return f"{value:%d %b %Y, %H:%M}"
    return str(value)
