"""The storefront blueprint and what its views share: the buyer's hold owner and who is buying."""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import Blueprint, redirect, request, session, url_for
from flask_login import current_user

from boxoffice.auth import session_customer_id
from boxoffice.services import holds
from boxoffice.services.accounts import address_key

bp = Blueprint("storefront", __name__)


def hold_owner(create: bool = False) -> str | None:
    """This browser's hold owner token (kept in the session, so it survives signing in)."""
    if create and "hold_owner" not in session:
        session["hold_owner"] = holds.new_hold_owner()
    return session.get("hold_owner")


def signed_in_customer():
    return current_user if current_user.is_authenticated and not current_user.is_admin else None


def current_buyer() -> holds.Buyer:
    """Who is taking seats, for the per-buyer cap: the signed-in customer, if any, and the network address.
    (A seat click reads the customer from the session, not the database: the cap only limits.)"""
    return holds.Buyer(session_customer_id(), address_key(request.remote_addr) if request.remote_addr else None)


def customer_required(view: Callable) -> Callable:
    """Customers only: anyone else goes to the customer sign-in and comes back afterwards."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if signed_in_customer() is None:
            return redirect(url_for("storefront.login", next=request.full_path))
        return view(*args, **kwargs)

    return wrapped
