"""Tickets people can carry: a calendar file (.ics) and a PDF of a booking's e-tickets with their QR codes.

Both are made from the order as the order page reads it (orders.OrderDetail and its tickets), on request
and when the confirmation mail is sent; nothing is stored. The QR codes are segno's, the same as on the
e-ticket page (orders.TicketView.qr_payload), drawn into the PDF as vector squares so they scan at any
print size. The PDF's text uses the Bitstream Vera fonts that ship inside reportlab (no system fonts), so
any Latin name, and the euro sign, prints.
"""
from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import icalendar
import reportlab
import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from .orders import OrderDetail, TicketView

# Events have a start but no end in the schema: a calendar entry lasts this long.
CALENDAR_DURATION = dt.timedelta(hours=3)
PRODID = "-//Encore Box Office//Tickets//EN"


def calendar_ics(order: OrderDetail, tickets: list[TicketView], order_link: str) -> bytes:
    """The booking's event as an iCalendar file (RFC 5545): one VEVENT at the venue's address, its start
    in UTC (the times the box office keeps), the valid seats, the order's link and the map in its
    description. Its UID is the booking's, so adding it again updates the same entry; a cancelled event
    or a fully refunded booking is STATUS:CANCELLED."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", "PUBLISH")
    event = icalendar.Event()
    event.add("uid", f"booking-{order.booking_code}@encore-box-office")
    event.add("dtstamp", dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
    start = order.starts_at.replace(tzinfo=dt.timezone.utc)
    event.add("dtstart", start)
    event.add("dtend", start + CALENDAR_DURATION)
    event.add("summary", order.event_title)
    event.add("location", order.venue.place)
    seats = [f"{t.seat_label} ({t.category})" for t in tickets if t.status != "refunded"]
    event.add("description", "\n".join([f"Booking {order.booking_code}", *seats, f"Your tickets: {order_link}",
                                        f"Map: {order.venue.map_link}"]))
    event.add("url", order_link)
    cancelled = order.event_status == "cancelled" or order.status == "refunded"
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical()


# ---------------------------------------------------------------- the PDF

_FONTS = Path(reportlab.__file__).parent / "fonts"
REGULAR, BOLD = "EncoreVera", "EncoreVeraBold"


def _register_fonts() -> None:
    if REGULAR not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(REGULAR, str(_FONTS / "Vera.ttf")))
        pdfmetrics.registerFont(TTFont(BOLD, str(_FONTS / "VeraBd.ttf")))


def _draw_qr(pdf: canvas.Canvas, payload: str, x: float, y: float, size: float) -> None:
    """The QR code of `payload` (segno, error correction M, the quiet zone of 4 modules) as black squares,
    its lower left corner at (x, y)."""
    qr = segno.make(payload, error="m")
    matrix = [list(row) for row in qr.matrix]
    border = 4
    modules = len(matrix) + 2 * border
    module = size / modules
    pdf.setFillColorRGB(1, 1, 1)
    pdf.rect(x, y, size, size, stroke=0, fill=1)
    pdf.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                pdf.rect(x + (c + border) * module, y + size - (r + border + 1) * module, module, module,
                         stroke=0, fill=1)


def _wrapped(pdf: canvas.Canvas, text: str, x: float, y: float, width: float, font: str, size: float,
             leading: float) -> float:
    """Write `text` in lines no wider than `width` from (x, y) down; the y below the last line."""
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if pdfmetrics.stringWidth(candidate, font, size) > width and line:
                pdf.setFont(font, size)
                pdf.drawString(x, y, line)
                y -= leading
                line = word
            else:
                line = candidate
        pdf.setFont(font, size)
        pdf.drawString(x, y, line)
        y -= leading
    return y


def tickets_pdf(order: OrderDetail, tickets: list[TicketView]) -> bytes:
    """The booking's e-tickets as a PDF, one A4 page per valid ticket: the event, date, venue with its
    address and access notes, the seat, the booking code and the ticket's QR code (the one the door
    scans). Refunded tickets are left out; a booking with none valid gives one page that says so."""
    _register_fonts()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, invariant=1)
    pdf.setTitle(f"E-tickets {order.booking_code} · {order.event_title}")
    pdf.setAuthor("Encore Box Office")
    width, height = A4
    margin = 20 * mm
    valid = [t for t in tickets if t.status != "refunded"]
    if not valid:
        pdf.setFont(BOLD, 18)
        pdf.drawString(margin, height - margin - 10, f"Booking {order.booking_code}")
        _wrapped(pdf, "No ticket of this booking is valid: every ticket has been refunded.", margin,
                 height - margin - 40, width - 2 * margin, REGULAR, 12, 16)
        pdf.showPage()
    for number, ticket in enumerate(valid, start=1):
        top = height - margin
        pdf.setFillColorRGB(0.36, 0.2, 0.65)
        pdf.setFont(BOLD, 11)
        pdf.drawString(margin, top, "Encore Box Office · E-ticket")
        pdf.setFillColorRGB(0, 0, 0)
        pdf.setFont(REGULAR, 10)
        pdf.drawRightString(width - margin, top, f"Ticket {number} of {len(valid)}")
        y = _wrapped(pdf, order.event_title, margin, top - 32, width - 2 * margin, BOLD, 22, 26)
        pdf.setFont(REGULAR, 13)
        pdf.drawString(margin, y - 4, order.starts_at.strftime("%A %d %B %Y, %H:%M"))
        y = _wrapped(pdf, order.venue.place, margin, y - 24, width - 2 * margin, REGULAR, 12, 16)
        qr_size = 70 * mm
        qr_top = y - 10
        _draw_qr(pdf, ticket.qr_payload, margin, qr_top - qr_size, qr_size)
        right = margin + qr_size + 10 * mm
        column = width - margin - right
        ty = _wrapped(pdf, ticket.seat_label, right, qr_top - 20, column, BOLD, 15, 19)
        ty = _wrapped(pdf, ticket.category, right, ty - 2, column, REGULAR, 12, 16)
        ty = _wrapped(pdf, f"Ticket {ticket.ticket_code}", right, ty - 10, column, REGULAR, 11, 15)
        ty = _wrapped(pdf, f"Booking {order.booking_code}", right, ty, column, REGULAR, 11, 15)
        _wrapped(pdf, "Show this code at the door, on paper or on your phone. It lets in one person, once.",
                 right, ty - 10, column, REGULAR, 10, 13)
        y = qr_top - qr_size - 14
        for title, text in (("Getting there", order.venue.directions), ("Access", order.venue.access_info),
                            ("Facilities", order.venue.facilities)):
            if text.strip():
                pdf.setFont(BOLD, 11)
                pdf.drawString(margin, y, title)
                y = _wrapped(pdf, text.strip(), margin, y - 15, width - 2 * margin, REGULAR, 10, 13) - 8
        _wrapped(pdf, f"Map: {order.venue.map_link}", margin, max(y, margin + 12), width - 2 * margin,
                 REGULAR, 8, 10)
        pdf.showPage()
    pdf.save()
    return out.getvalue()
