"""The mail outbox: every message the box office has written (or those about one booking), newest first,
with how its delivery stands; a message whose delivery failed can be queued again."""
from __future__ import annotations

import re

from flask import abort, current_app, flash, redirect, request, url_for

from boxoffice.auth import admin_required
from boxoffice.errors import BoxOfficeError
from boxoffice.forms import record_id
from boxoffice.services import mail
from boxoffice.templating import render_page

from .blueprint import bp, page_number

# What a booking code can be (they are ten letters and digits); anything else finds no booking, and is
# refused before it meets the ASCII column.
BOOKING_CODE = re.compile(r"[A-Z0-9]{1,16}")


@bp.get("/outbox", endpoint="outbox")
@admin_required
def outbox():
    booking_code = request.args.get("booking", "").strip().upper() or None
    if booking_code and not BOOKING_CODE.fullmatch(booking_code):
        abort(400, description="A booking code has ten letters and digits, like 7K2M9QX4TB.")
    return render_page("admin/outbox.html", messages=mail.outbox(page_number(), booking_code=booking_code),
                       booking_code=booking_code, delivering=current_app.config["SMTP"] is not None)


@bp.post("/outbox/send-again", endpoint="outbox_send_again")
@admin_required
def send_again():
    """Queue a failed message again (the form names it: email_id), back to the outbox page it came from."""
    email_id = request.form.get("email_id", type=record_id)
    if email_id is None:
        abort(400)
    try:
        mail.send_again(email_id)
    except BoxOfficeError as refusal:
        flash(refusal.message, "error")
    else:
        flash("The message is queued again: it goes out with the next delivery.", "ok")
    back = {name: value for name in ("booking", "page") if (value := request.form.get(name))}
    return redirect(url_for("admin.outbox", **back))
