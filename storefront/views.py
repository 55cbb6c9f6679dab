"""The public storefront: the event catalogue."""
from flask import Blueprint, current_app, request

from boxoffice.services import catalogue
from boxoffice.templating import render_page

bp = Blueprint("storefront", __name__)


@bp.get("/")
def index():
    page = request.args.get("page", 1, type=int)
    events = catalogue.upcoming_events(page=page, per_page=current_app.config["CATALOGUE_PAGE_SIZE"])
    return render_page("storefront/index.html", fragment="results", events=events)
