"""Outgoing mail: a transactional outbox, delivered over SMTP.

A message is written to outbox_emails in the transaction of the change it reports (`queue_message` for
text composed already, `queue` for a kind composed later from the rows it names; the booking procedure
InsertBooking writes its confirmation itself), so it exists if and only if the change was committed.
`deliver_due` composes what is not composed yet and, when an SMTP server is configured, sends what is due:
claimed in one short transaction, sent with no transaction open, each outcome recorded in a short
transaction of its own. A message the server does not take is tried again later with a growing delay and
given up ('failed') after MAIL_MAX_TRIES tries; the admin can queue it again from the outbox page.
Without an SMTP server (development), mail is composed and stays queued, readable on the outbox page.

Every message carries a Message-ID made from its email_id: sent twice (a crash between the server
taking it and its outcome being recorded), it is recognisably the same message.
"""
from __future__ import annotations

import datetime as dt
import json
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import DBAPIError

from ..clock import utcnow
from ..config import SmtpSettings
from ..errors import BoxOfficeError
from ..extensions import db
from ..models import Booking, OutboxEmail
from ..pagination import Page, paginate
from . import orders, ticket_files
from .unit_of_work import unit_of_work

INSERT_EMAIL = sa.insert(OutboxEmail.__table__)  # built once: most changes a customer sees write one
# The wait before the next try after the n-th failed one: 30 s, 1, 2, 4, 8 … minutes, at most an hour.
FIRST_RETRY = dt.timedelta(seconds=30)
LONGEST_RETRY = dt.timedelta(hours=1)
# A claimed message is not due again for this long: the time one pass has to send it and record the
# outcome. A pass that dies meanwhile leaves it to be tried again afterwards (its try already counted).
CLAIM = dt.timedelta(minutes=15)


# ---------------------------------------------------------------- writing to the outbox

def queue_message(recipient: str, subject: str, body_text: str, booking_id: int | None = None) -> None:
    """Put an already composed message in the outbox, in the caller's transaction (not committed here):
    it is sent if and only if the change it reports is committed."""
    db.session.execute(INSERT_EMAIL, {"kind": "message", "recipient": recipient, "subject": subject,
                                      "body_text": body_text, "booking_id": booking_id, "created_at": utcnow()})


def queue(kind: str, recipient: str, *, booking_id: int | None = None, refund_id: int | None = None,
          attempt_id: int | None = None) -> None:
    """Put a message of `kind` in the outbox, in the caller's transaction (not committed here), to be
    composed from the rows it names when it is delivered: 'booking_confirmation' (booking_id),
    'tickets_refunded' (booking_id and refund_id), 'payment_returned' (attempt_id). Raises ValueError for
    an unknown kind or a missing row id (a programming error, not the customer's)."""
    needed = {"booking_confirmation": (booking_id,), "tickets_refunded": (booking_id, refund_id),
              "payment_returned": (attempt_id,)}
    if kind not in needed or None in needed[kind]:
        raise ValueError(f"an outbox message of kind {kind!r} needs its rows: booking_id={booking_id}, "
                         f"refund_id={refund_id}, attempt_id={attempt_id}")
    db.session.execute(INSERT_EMAIL, {"kind": kind, "recipient": recipient, "booking_id": booking_id,
                                      "refund_id": refund_id, "attempt_id": attempt_id, "created_at": utcnow()})


# ---------------------------------------------------------------- composing

def compose(email: OutboxEmail) -> tuple[str, str]:
    """The subject and body of an outbox message: its own for kind 'message' (or once composed), else
    written now from the rows it names, as they are now. Reads only; stores nothing."""
    if email.subject is not None and email.body_text is not None:
        return email.subject, email.body_text
    if email.kind == "booking_confirmation":
        return _booking_confirmation(email.booking_id)
    if email.kind == "tickets_refunded":
        return _tickets_refunded(email.booking_id, email.refund_id)
    if email.kind == "payment_returned":
        return _payment_returned(email.attempt_id)
    raise ValueError(f"outbox message {email.email_id} of kind {email.kind!r} has no text")


def _order(booking_id: int) -> tuple[orders.OrderDetail, list[orders.TicketView]]:
    """The booking as its order page shows it (orders.order_detail_by_id: one way to read a booking)."""
    return orders.order_detail_by_id(booking_id)


def _order_link(order: orders.OrderDetail) -> str:
    """The booking's signed link (orders.order_token): it opens the booking without signing in, for a
    guest and an account's owner alike, and that booking only."""
    return _link("storefront.linked_order", token=orders.order_token(order.booking_id, order.booking_code))


def _link(endpoint: str, **values) -> str:
    """An absolute link into the site (BASE_URL), built from the app's routes, for a mail."""
    return current_app.config["BASE_URL"] + current_app.url_map.bind("").build(endpoint, values)


def _seat_lines(tickets: list[orders.TicketView]) -> str:
    return "\n".join(f"  - {t.seat_label} (ticket {t.ticket_code})" for t in tickets)


def _paid_with(card_brand: str | None, last_four: str | None, method_name: str | None) -> str:
    """Where money goes back to, as the customer knows it: their card ending ####, or the method."""
    if last_four:
        brand = f"{card_brand.title()} " if card_brand and card_brand != "card" else ""
        return f"your {brand}card ending {last_four}"
    return f"your original payment method ({method_name})" if method_name else "your original payment method"


def _booking_confirmation(booking_id: int) -> tuple[str, str]:
    order, tickets = _order(booking_id)
    paid_with = f" ({order.paid_with})" if order.paid_with else ""
    body = (
        f"{order.greeting}\n\n"
        f"Thank you for your booking {order.booking_code}.\n\n"
        f"{order.event_title}\n{order.starts_at:%A %d %B %Y, %H:%M}\n\n"
        f"Your seats:\n{_seat_lines(tickets)}\n\n"
        f"Total paid: €{order.total:,.2f}{paid_with}\n\n"
        "Your e-tickets are attached as a PDF, with a QR code each to show at the door, and the event as a "
        "calendar file. They are also here, where you can cancel within the event's policy:\n"
        f"{_order_link(order)}\n\n"
        f"The venue:\n{order.venue.text_lines()}\n"
    )
    return f"Your tickets for {order.event_title} ({order.booking_code})", body


REFUND = sa.text("""
    SELECT r.amount, r.state, p.card_brand, p.last_four, pm.name AS method_name
      FROM booking_refunds r
      LEFT JOIN payments p ON p.payment_id = r.charge_id
      LEFT JOIN payment_methods pm ON pm.method_id = p.method_id
     WHERE r.refund_id = :refund_id""")
REFUNDED_TICKETS = sa.text("SELECT ticket_id FROM tickets WHERE refund_id = :refund_id")


def _tickets_refunded(booking_id: int, refund_id: int) -> tuple[str, str]:
    order, tickets = _order(booking_id)
    refund = db.session.execute(REFUND, {"refund_id": refund_id}).one()
    refunded_ids = set(db.session.scalars(REFUNDED_TICKETS, {"refund_id": refund_id}))
    refunded = [t for t in tickets if t.ticket_id in refunded_ids]
    left = [t for t in tickets if t.ticket_id not in refunded_ids and t.status == "valid"]
    cancelled = (f"We are sorry: {order.event_title} on {order.starts_at:%A %d %B %Y} has been cancelled.\n\n"
                 if order.event_status == "cancelled" else "")
    if refund.amount == 0:
        money = "Nothing was paid for these tickets, so no money goes back."
    else:
        where = _paid_with(refund.card_brand, refund.last_four, refund.method_name)
        money = (f"€{refund.amount:,.2f} has been refunded to {where}." if refund.state == "refunded" else
                 f"€{refund.amount:,.2f} is on its way back to {where}.")
    rest = (f"Your other tickets stay valid:\n{_order_link(order)}\n"
            if left else f"No tickets of this booking are valid any more. Your booking and its refunds:\n"
                         f"{_order_link(order)}\n")
    body = (
        f"{order.greeting}\n\n{cancelled}"
        f"We have refunded {len(refunded)} ticket{'s' if len(refunded) != 1 else ''} of your booking "
        f"{order.booking_code}:\n\n"
        f"{order.event_title}\n{order.venue.place}\n"
        f"{order.starts_at:%A %d %B %Y, %H:%M}\n\n"
        f"Refunded seats (these tickets are no longer valid):\n{_seat_lines(refunded)}\n\n"
        f"{money}\n\n{rest}"
    )
    return f"Refund for {order.event_title} ({order.booking_code})", body


# Why a paid attempt is returned, when the attempt does not say (its failure_reason is the buyer's message).
LOST_SEATS = "Your hold ran out before the payment completed and the seats were taken."
ATTEMPT = sa.text("""
    SELECT a.amount, a.state, a.card_brand, a.last_four, a.seat_ids, a.event_id, a.failure_reason,
           pm.name AS method_name,
           c.full_name, e.title, e.status AS event_status, e.starts_at, v.name AS venue_name, v.city AS venue_city
      FROM payment_attempts a
      JOIN customers c ON c.customer_id = a.customer_id
      JOIN events e ON e.event_id = a.event_id
      JOIN venues v ON v.venue_id = e.venue_id
      LEFT JOIN payment_methods pm ON pm.code = a.method_code
     WHERE a.attempt_id = :attempt_id""")
SEAT_LABELS = sa.text("""
    SELECT sec.name AS section, r.label AS row_label, s.seat_number
      FROM seats s
      JOIN seat_rows r ON r.row_id = s.row_id
      JOIN sections sec ON sec.section_id = s.section_id
     WHERE s.seat_id IN :seat_ids
     ORDER BY sec.sort_order, r.sort_order, s.seat_number""").bindparams(sa.bindparam("seat_ids", expanding=True))


def _payment_returned(attempt_id: int) -> tuple[str, str]:
    attempt = db.session.execute(ATTEMPT, {"attempt_id": attempt_id}).one()
    seat_ids = [int(seat_id) for seat_id in json.loads(attempt.seat_ids or "[]")]
    seats = db.session.execute(SEAT_LABELS, {"seat_ids": seat_ids}).all() if seat_ids else []
    chosen = "".join(f"  - {s.section}, row {s.row_label}, seat {s.seat_number}\n" for s in seats)
    where = _paid_with(attempt.card_brand, attempt.last_four, attempt.method_name)
    money = (f"The full amount, €{attempt.amount:,.2f}, has been refunded to {where}."
             if attempt.state == "refunded" else
             f"The full amount, €{attempt.amount:,.2f}, is being refunded to {where}.")
    body = (
        f"Dear {attempt.full_name},\n\n"
        f"Your payment for {attempt.title} ({attempt.venue_name}, {attempt.venue_city}, "
        f"{attempt.starts_at:%A %d %B %Y, %H:%M}) could not become a booking, so nothing has been booked. "
        f"{attempt.failure_reason or LOST_SEATS}\n\n"
        + (f"The seats you had chosen:\n{chosen}\n" if chosen else "")
        + f"{money}\n"
        + (f"\nYou are welcome to choose seats again:\n{_link('storefront.event', event_id=attempt.event_id)}\n"
           if attempt.event_status == "on_sale" else "")
    )
    refunded = "has been refunded" if attempt.state == "refunded" else "is being refunded"
    return f"Your payment for {attempt.title} {refunded}", body


# ---------------------------------------------------------------- delivering

@dataclass(frozen=True)
class Delivery:
    """What one delivery pass did: messages composed, and of those tried, sent, to be retried, given up."""

    composed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def describe(self) -> str:
        return f"Mail: {self.composed} composed, {self.sent} sent, {self.retrying} to retry, {self.failed} failed."

    __str__ = describe


@dataclass(frozen=True)
class _Claimed:
    """A message claimed for sending: plain values, so that nothing reads the database while it is sent."""

    email_id: int
    recipient: str
    subject: str
    body_text: str
    tries: int
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Attachment:
    filename: str
    maintype: str
    subtype: str
    data: bytes


def attachments(kind: str, booking_id: int | None) -> tuple[Attachment, ...]:
    """The files a message of `kind` carries, made now from the rows it names (like its text): a booking
    confirmation carries the e-tickets as a PDF and the event as a calendar file (ticket_files). Reads
    only; stores nothing."""
    if kind != "booking_confirmation" or booking_id is None:
        return ()
    order, tickets = _order(booking_id)
    return (Attachment(f"tickets-{order.booking_code}.pdf", "application", "pdf", ticket_files.tickets_pdf(order, tickets)),
            Attachment(f"{order.booking_code}.ics", "text", "calendar",
                       ticket_files.calendar_ics(order, tickets, _order_link(order))))


class _Unreachable(Exception):
    """The SMTP server could not be reached or would not let us in (the cause says why)."""


class _Rejected(Exception):
    """The server refused this very message for good (a 5xx reply to its recipient or its content, or
    a message that cannot be written at all): trying again would not help."""


def _due(now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(OutboxEmail.status.in_(("queued", "retrying")),
                   sa.or_(OutboxEmail.next_attempt_at.is_(None), OutboxEmail.next_attempt_at <= now))


def retry_delay(tries: int) -> dt.timedelta:
    """How long to wait after the `tries`-th failed try before the next: 30 s, 1, 2, 4 … min, an hour at most."""
    return min(FIRST_RETRY * 2 ** (max(tries, 1) - 1), LONGEST_RETRY)


def deliver_due(limit: int = 100, *, now: dt.datetime | None = None) -> Delivery:
    """One delivery pass over at most `limit` messages: compose those not composed yet (storing their
    subject and body), then, when an SMTP server is configured (app config SMTP), send those due (queued,
    or retrying whose time has come): 'sent' on success; on failure 'retrying' after retry_delay, or
    'failed' with the error once MAIL_MAX_TRIES tries have failed or the server refused the message for
    good. No database transaction is open while the SMTP server is spoken to. `now` fixes the clock (for
    tests). A mail server that is down is a failed try, not an error; database faults propagate."""
    clock = (lambda: now) if now else utcnow
    started = clock()
    settings: SmtpSettings | None = current_app.config["SMTP"]
    # One short transaction: compose, and claim what is due (its try counted, not due again for CLAIM), so
    # that a concurrent pass does not send it too.
    with unit_of_work():
        composed, not_composed = _compose_pending(limit)
        claimed = _claim_due(limit, started) if settings else []
    counts = {"sent": 0, "retrying": 0, "failed": not_composed}
    if not claimed:
        return Delivery(composed=composed, **counts)
    sender = current_app.config["MAIL_FROM"]
    max_tries = current_app.config["MAIL_MAX_TRIES"]
    unreachable: str | None = None
    with _Connection(settings) as connection:
        for email in claimed:
            if clock() > started + CLAIM / 2:
                break  # the rest stay claimed and are tried again once their claim runs out, never twice at once
            give_up, error = False, unreachable
            if error is None:
                try:
                    connection.send(_message(email, sender))
                except _Rejected as refused:
                    give_up, error = True, str(refused)
                except _Unreachable as failure:
                    # No server to talk to: the rest of the pass would wait for the same timeout each.
                    error = unreachable = _describe(failure.__cause__)
                except (OSError, smtplib.SMTPException) as failure:
                    error = _describe(failure)
            if error is None:
                status = _record_sent(email, clock())
            else:
                status = _record_failure(email, error, give_up=give_up, now=clock(), max_tries=max_tries)
            counts[status] += 1
    return Delivery(composed=composed, **counts)


def _compose_pending(limit: int) -> tuple[int, int]:
    """Compose and store up to `limit` messages still waiting for their text, oldest first: (composed,
    not composable). One that cannot be composed (a bug, or rows that say nothing sensible) is 'failed'
    with the reason, so that it holds up no other mail; "Send again" composes it afresh."""
    pending = db.session.scalars(
        sa.select(OutboxEmail).where(OutboxEmail.subject.is_(None), OutboxEmail.status.in_(("queued", "retrying")))
        .order_by(OutboxEmail.email_id).limit(limit)).all()
    composed = 0
    for email in pending:
        try:
            email.subject, email.body_text = compose(email)
            composed += 1
        except DBAPIError:
            raise
        except Exception as error:  # noqa: BLE001 - whatever it is, it must not stop the other messages
            current_app.logger.exception("outbox message %s cannot be composed", email.email_id)
            email.status, email.last_error, email.next_attempt_at = "failed", f"Not composed: {error!r}"[:300], None
    db.session.flush()
    return composed, len(pending) - composed


def _claim_due(limit: int, now: dt.datetime) -> list[_Claimed]:
    """Claim up to `limit` composed messages that are due, oldest first: each with one conditional UPDATE
    by primary key (its try counted, not due again for CLAIM), whose row count says whether this pass got
    it. A concurrent pass claiming the same message waits for this transaction's row lock and then finds it
    no longer due. (Point updates in id order take no gap locks, so two passes cannot deadlock; a locking
    read of the due range would lock gaps of ix_outbox_emails_due that the claims then write into.)"""
    candidates = db.session.execute(
        sa.select(OutboxEmail.email_id, OutboxEmail.recipient, OutboxEmail.subject, OutboxEmail.body_text,
                  OutboxEmail.tries, OutboxEmail.kind, OutboxEmail.booking_id)
        .where(_due(now), OutboxEmail.subject.is_not(None))
        .order_by(OutboxEmail.email_id).limit(limit)).all()
    claimed = []
    for row in candidates:
        got = db.session.execute(
            sa.update(OutboxEmail).where(OutboxEmail.email_id == row.email_id, _due(now))
            .values(tries=OutboxEmail.tries + 1, next_attempt_at=now + CLAIM)).rowcount
        if got == 1:
            claimed.append(_Claimed(row.email_id, row.recipient, row.subject, row.body_text, row.tries + 1,
                                    _attachments_or_none(row)))
    return claimed


def _attachments_or_none(row) -> tuple[Attachment, ...]:
    """The message's attachments; a file that cannot be made (a bug) costs the attachment, not the mail."""
    try:
        return attachments(row.kind, row.booking_id)
    except DBAPIError:
        raise
    except Exception:  # noqa: BLE001 - the text (with the link to the tickets) still goes out
        current_app.logger.exception("the attachments of outbox message %s cannot be made", row.email_id)
        return ()


def _record_sent(email: _Claimed, now: dt.datetime) -> str:
    with unit_of_work():
        db.session.execute(sa.update(OutboxEmail).where(OutboxEmail.email_id == email.email_id)
                           .values(status="sent", sent_at=now, next_attempt_at=None, last_error=None))
    return "sent"


def _record_failure(email: _Claimed, error: str, *, give_up: bool, now: dt.datetime, max_tries: int) -> str:
    status = "failed" if give_up or email.tries >= max_tries else "retrying"
    with unit_of_work():
        db.session.execute(sa.update(OutboxEmail).where(OutboxEmail.email_id == email.email_id).values(
            status=status, last_error=error[:300],
            next_attempt_at=now + retry_delay(email.tries) if status == "retrying" else None))
    return status


def _describe(error: Exception) -> str:
    if isinstance(error, smtplib.SMTPResponseException):
        reply = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else error.smtp_error
        return f"{error.smtp_code} {reply}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{code} {reply.decode(errors='replace')}" for code, reply in error.recipients.values())
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def message_id(email_id: int, sender: str) -> str:
    """The Message-ID of outbox message `email_id`: the same every time it is sent."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<outbox.{email_id}@{domain}>"


def _message(email: _Claimed, sender: str) -> EmailMessage:
    try:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = email.recipient
        message["Subject"] = email.subject
        message["Date"] = formatdate(usegmt=True)
        message["Message-ID"] = message_id(email.email_id, sender)
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(email.body_text)
        for attachment in email.attachments:
            message.add_attachment(attachment.data, maintype=attachment.maintype, subtype=attachment.subtype,
                                   filename=attachment.filename)
    except (ValueError, TypeError) as error:  # e.g. a line break inside the recipient: never sendable
        raise _Rejected(f"The message cannot be written: {error}") from error
    return message


class _Connection:
    """One SMTP session for a pass, opened when the first message is sent and again after the server
    hangs up; closed at the end of the pass."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def __enter__(self) -> "_Connection":
        return self

    def __exit__(self, *exc) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                self.smtp.close()
            self.smtp = None

    def _open(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if s.tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.tls == "starttls":
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Send one message. Raises _Unreachable when no session with the server can be opened, _Rejected
        when the server refuses the message for good (5xx), OSError or SMTPException for anything else
        that may go better later."""
        if self.smtp is None:
            try:
                self.smtp = self._open()
            except (OSError, smtplib.SMTPException) as error:
                raise _Unreachable() from error
        try:
            self.smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as refused:
            if all(code >= 500 for code, _ in refused.recipients.values()):
                raise _Rejected(_describe(refused)) from refused
            raise
        except smtplib.SMTPDataError as refused:
            if refused.smtp_code >= 500:
                raise _Rejected(_describe(refused)) from refused
            raise
        except smtplib.SMTPNotSupportedError as refused:  # e.g. a non-ASCII address to a server without SMTPUTF8
            raise _Rejected(f"The mail server cannot take this message: {refused}") from refused
        except (OSError, smtplib.SMTPServerDisconnected):
            self.smtp.close()
            self.smtp = None
            raise


# ---------------------------------------------------------------- the outbox page

@dataclass(frozen=True)
class OutboxItem:
    """A message as the outbox page shows it; `subject` and `body_text` composed on the fly (not stored)
    for a message not composed yet."""

    email: OutboxEmail
    subject: str
    body_text: str


def outbox(page: int, per_page: int = 20, booking_code: str | None = None) -> Page[OutboxItem]:
    """The messages, newest first; only those about one booking when `booking_code` is given."""
    query = sa.select(OutboxEmail).order_by(OutboxEmail.email_id.desc())
    if booking_code:
        query = query.join(Booking, Booking.booking_id == OutboxEmail.booking_id).where(Booking.booking_code == booking_code)
    return paginate(query, page, per_page, lambda row: OutboxItem(row[0], *_shown(row[0])))


def _shown(email: OutboxEmail) -> tuple[str, str]:
    try:
        return compose(email)
    except DBAPIError:
        raise
    except Exception as error:  # noqa: BLE001 - the page shows every other message all the same
        return "(cannot be composed)", f"This message cannot be composed: {error!r}"


def send_again(email_id: int) -> None:
    """Queue a failed message again, with a fresh count of tries. Raises BoxOfficeError when there is no
    such message or it has not failed (it is on its way, or sent)."""
    with unit_of_work():
        changed = db.session.execute(
            sa.update(OutboxEmail).where(OutboxEmail.email_id == email_id, OutboxEmail.status == "failed")
            .values(status="queued", tries=0, next_attempt_at=None, last_error=None)).rowcount
        if changed != 1:
            raise BoxOfficeError("Only a message whose delivery failed can be sent again.")
