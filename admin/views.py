"""Box-office administration: sign-in and the admin landing page. The admin package's other modules add
their areas to the same blueprint, `bp`."""
from flask import redirect, url_for
from flask_login import current_user, logout_user

from boxoffice.auth import admin_required, forgot_password_page, password_reset_page, sign_in
from boxoffice.forms import SignInForm
from boxoffice.services import accounts, overview
from boxoffice.templating import render_page

from .blueprint import bp


@bp.route("/login", methods=["GET", "POST"])
def login():
    if getattr(current_user, "is_admin", False):
        return redirect(url_for("admin.index"))
    form = SignInForm()
    outcome = sign_in(form, accounts.authenticate_staff, url_for("admin.index"))
    if not isinstance(outcome, tuple):
        return outcome
    error, status, headers = outcome
    return render_page("admin/login.html", form=form, error=error), status, headers


@bp.post("/logout")
@admin_required
def logout():
    # Every session of this staff user ends, so a copy of this session's cookie is worth nothing either.
    accounts.end_sessions("staff", current_user.staff_id)
    logout_user()
    return redirect(url_for("admin.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    return forgot_password_page("staff", "admin/forgot.html", "admin.login")


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return password_reset_page("staff", token, "admin/reset.html", "admin.login", "admin.forgot_password")


@bp.get("/")
@admin_required
def index():
    return render_page("admin/index.html", summary=overview.box_office_summary())
