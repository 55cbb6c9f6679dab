"""Who is signed in: Flask-Login for customers and staff, and the admin role check for every admin view."""
from __future__ import annotations

from functools import wraps
from typing import Callable

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

from .extensions import db, login_manager
from .models import Customer, StaffUser


@login_manager.user_loader
def load_user(user_id: str):
    kind, _, key = user_id.partition(":")
    if not key.isdigit():
        return None
    model = {"staff": StaffUser, "customer": Customer}.get(kind)
    return db.session.get(model, int(key)) if model else None


def admin_required(view: Callable) -> Callable:
    """Only staff with the admin role; others are sent to the admin sign-in (or refused if signed in)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("admin.login", next=request.full_path))
        if not getattr(current_user, "is_admin", False):
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.session_protection = "strong"
