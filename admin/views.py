"""Box-office administration: sign-in and the admin landing page."""
from urllib.parse import urlsplit

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user, login_user, logout_user

from boxoffice.auth import admin_required
from boxoffice.errors import InvalidCredentials, TooManyAttempts
from boxoffice.services import accounts, overview
from boxoffice.templating import render_page

from .forms import SignInForm

bp = Blueprint("admin", __name__)


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never send someone signing in off to another host."""
    if target and target.startswith("/") and not target.startswith("//") and not urlsplit(target).netloc:
        return target
    return url_for("admin.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if getattr(current_user, "is_admin", False):
        return redirect(url_for("admin.index"))
    form = SignInForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            staff = accounts.authenticate_staff(form.email.data, form.password.data, request.remote_addr or "?")
        except TooManyAttempts as refusal:
            error, status = refusal.message, 429
        except InvalidCredentials as refusal:
            error, status = refusal.message, 401
        else:
            login_user(staff)
            return redirect(_safe_next(request.args.get("next")))
    return render_page("admin/login.html", form=form, error=error), status


@bp.post("/logout")
@admin_required
def logout():
    logout_user()
    return redirect(url_for("admin.login"))


@bp.get("/")
@admin_required
def index():
    return render_page("admin/index.html", summary=overview.box_office_summary())
