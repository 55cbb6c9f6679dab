"""The development mail outbox: every message the box office has sent (or those about one booking), newest
first."""
from __future__ import annotations

from flask import request

from boxoffice.auth import admin_required
from boxoffice.services import mail
from boxoffice.templating import render_page

from .blueprint import bp, page_number


@bp.get("/outbox", endpoint="outbox")
@admin_required
def outbox():
    booking_code = request.args.get("booking", "").strip().upper() or None
    return render_page("admin/outbox.html", messages=mail.outbox(page_number(), booking_code=booking_code),
                       booking_code=booking_code)
