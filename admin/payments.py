"""Payments the reconciler had to finish (and those waiting for it): what was left between states after a
crash or an unreachable provider, and what became of it."""
from __future__ import annotations

from flask import flash, redirect, url_for

from boxoffice.auth import admin_required
from boxoffice.services import reconciler
from boxoffice.templating import render_page

from .blueprint import bp, page_number


@bp.get("/payments", endpoint="payments")
@admin_required
def payments():
    return render_page("admin/payments.html", found=reconciler.needed_reconciling(page_number()))


@bp.post("/payments/reconcile", endpoint="payments_reconcile")
@admin_required
def reconcile():
    """Run the reconciler now (it also runs on its own schedule)."""
    flash(reconciler.reconcile().describe(), "ok")
    return redirect(url_for("admin.payments"))
