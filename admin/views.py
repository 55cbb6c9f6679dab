"""Box-office administration: sign-in and the admin landing page. The admin package's other modules add
their areas to the same blueprint, `bp`."""
from flask import redirect, url_for
from flask_login import current_user, logout_user

from boxoffice.auth import admin_required, sign_in
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
    error, status = outcome
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
