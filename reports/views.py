"""Reports: dashboards read through the read-only reporting database user."""
from flask import Blueprint

from boxoffice.auth import admin_required
from boxoffice.services import reporting
from boxoffice.templating import render_page

bp = Blueprint("reports", __name__)


@bp.get("/")
@admin_required
def index():
    return render_page("reports/index.html", top_events=reporting.top_revenue_events(limit=10))
