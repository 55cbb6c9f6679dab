"""SQLAlchemy models of the box office. The schema itself is made by the SQL in sql/migrations (applied
by Alembic); these classes mirror it, and tests/test_schema.py proves the two agree."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .venue_info import VenueInfo

UINT = mysql.INTEGER(unsigned=True)
UTINY = mysql.TINYINT(unsigned=True)
USMALL = mysql.SMALLINT(unsigned=True)
UBIG = mysql.BIGINT(unsigned=True)
MONEY = sa.Numeric(10, 2)
# Whom the reports count a customer as (customers.segment; the summaries' customer_type columns, 0015).
SEGMENT = sa.Enum("regular", "vip", "guest")


def ascii_char(length: int) -> mysql.CHAR:
    return mysql.CHAR(length, charset="ascii")


def ascii_varchar(length: int) -> mysql.VARCHAR:
    return mysql.VARCHAR(length, charset="ascii")


class StaffUser(UserMixin, db.Model):
    """Someone who runs the box office: the admin role of the web app."""

    __tablename__ = "staff_users"

    staff_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(120))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    session_epoch: Mapped[int] = mapped_column(UINT, server_default="0")
    role: Mapped[str] = mapped_column(sa.Enum("admin"), server_default="admin")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, server_default=sa.func.now())

    __table_args__ = (sa.UniqueConstraint("email", name="uq_staff_users_email"),)

    is_admin = True

    def get_id(self) -> str:
        # The session epoch is part of the id, so raising it ends every session (boxoffice/auth.py).
        return f"staff:{self.staff_id}:{self.session_epoch}"


class CustomerLogin(UserMixin):
    """What Flask-Login and the pages ask of a signed-in customer, whether the ORM entity or the value the
    user loader reads (boxoffice.auth.SignedInCustomer)."""

    customer_id: int
    customer_type: str
    session_epoch: int
    is_admin = False

    def get_id(self) -> str:
        # The session epoch is part of the id, so raising it ends every session (boxoffice/auth.py).
        return f"customer:{self.customer_id}:{self.session_epoch}"

    @property
    def is_vip(self) -> bool:
        return self.customer_type == "vip"


class Customer(CustomerLogin, db.Model):
    """The customer supertype; exactly one of `regular` and `vip` exists, as customer_type says."""

    __tablename__ = "customers"

    customer_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    customer_type: Mapped[str] = mapped_column(sa.Enum("regular", "vip"), server_default="regular")
    # A guest: a buyer without an account, made for one checkout; no password, never signed in (0009).
    is_guest: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    # Whom the reports count the customer as: 'guest' for a guest, else the type (0015; the summaries). Never
    # NULL, though the server calls a generated column nullable.
    segment: Mapped[str | None] = mapped_column(
        SEGMENT, sa.Computed("if(`is_guest`,'guest',`customer_type`)", persisted=False))
    email: Mapped[str] = mapped_column(sa.String(254))
    # The e-mail of an account (NULL for a guest): unique, so an e-mail has at most one account.
    account_email: Mapped[str | None] = mapped_column(
        sa.String(254), sa.Computed("if(`is_guest`,NULL,`email`)", persisted=True))
    full_name: Mapped[str] = mapped_column(sa.String(120))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    city: Mapped[str | None] = mapped_column(sa.String(80))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    session_epoch: Mapped[int] = mapped_column(UINT, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, server_default=sa.func.now())

    regular: Mapped[RegularCustomer | None] = relationship(back_populates="customer", cascade="all, delete-orphan")
    vip: Mapped[VipCustomer | None] = relationship(back_populates="customer", cascade="all, delete-orphan")

    __table_args__ = (
        sa.UniqueConstraint("account_email", name="uq_customers_email"),
        sa.UniqueConstraint("customer_id", "customer_type", name="uq_customers_id_type"),
        sa.Index("ix_customers_email", "email"),
        sa.Index("ix_customers_type", "customer_type"),
        sa.Index("ix_customers_created", "created_at"),
    )


class RegularCustomer(db.Model):
    __tablename__ = "regular_customers"

    customer_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    customer_type: Mapped[str] = mapped_column(sa.Enum("regular", "vip"), server_default="regular")
    newsletter_opt_in: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())

    customer: Mapped[Customer] = relationship(back_populates="regular")

    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["customer_id", "customer_type"], ["customers.customer_id", "customers.customer_type"],
            name="fk_regular_customers_customer", ondelete="CASCADE"),
    )


class VipCustomer(db.Model):
    __tablename__ = "vip_customers"

    customer_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    customer_type: Mapped[str] = mapped_column(sa.Enum("regular", "vip"), server_default="vip")
    tier: Mapped[str] = mapped_column(sa.Enum("silver", "gold", "platinum"), server_default="silver")
    discount_rate: Mapped[Decimal] = mapped_column(sa.Numeric(5, 4))
    member_since: Mapped[dt.date] = mapped_column(sa.Date)

    customer: Mapped[Customer] = relationship(back_populates="vip")

    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["customer_id", "customer_type"], ["customers.customer_id", "customers.customer_type"],
            name="fk_vip_customers_customer", ondelete="CASCADE"),
        sa.Index("ix_vip_customers_tier", "tier"),
    )


class Venue(db.Model):
    __tablename__ = "venues"

    venue_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    city: Mapped[str] = mapped_column(sa.String(80))
    address: Mapped[str] = mapped_column(sa.String(200))
    # What a visitor needs (0009): a map link (empty: the pages search the address), directions, access
    # and facilities, as the admin wrote them.
    map_url: Mapped[str] = mapped_column(sa.String(500), server_default="")
    directions: Mapped[str] = mapped_column(sa.String(2000), server_default="")
    access_info: Mapped[str] = mapped_column(sa.String(2000), server_default="")
    facilities: Mapped[str] = mapped_column(sa.String(2000), server_default="")
    capacity: Mapped[int] = mapped_column(UINT, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, server_default=sa.func.now())
    # The map's size and the stage (zeros for a venue saved before revision 0007: see boxoffice/seat_geometry.py).
    map_width: Mapped[int] = mapped_column(USMALL, server_default="0")
    map_height: Mapped[int] = mapped_column(USMALL, server_default="0")
    stage_x: Mapped[int] = mapped_column(USMALL, server_default="0")
    stage_y: Mapped[int] = mapped_column(USMALL, server_default="0")
    stage_width: Mapped[int] = mapped_column(USMALL, server_default="0")
    stage_height: Mapped[int] = mapped_column(USMALL, server_default="0")

    sections: Mapped[list[Section]] = relationship(back_populates="venue", order_by="Section.sort_order")

    @property
    def info(self) -> VenueInfo:
        """What a visitor needs to know of the venue (address, map link, directions, access, facilities)."""
        return VenueInfo.of(self)

    __table_args__ = (
        sa.UniqueConstraint("name", "city", name="uq_venues_name_city"),
        sa.Index("ix_venues_city", "city"),
    )


class SeatCategory(db.Model):
    __tablename__ = "seat_categories"

    category_id: Mapped[int] = mapped_column(UTINY, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40))
    rank: Mapped[int] = mapped_column(UTINY)
    colour: Mapped[str] = mapped_column(sa.CHAR(7))

    __table_args__ = (
        sa.UniqueConstraint("name", name="uq_seat_categories_name"),
        sa.UniqueConstraint("rank", name="uq_seat_categories_rank"),
    )


class Section(db.Model):
    __tablename__ = "sections"

    section_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    venue_id: Mapped[int] = mapped_column(UINT, sa.ForeignKey("venues.venue_id", name="fk_sections_venue", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(60))
    sort_order: Mapped[int] = mapped_column(USMALL)
    map_x: Mapped[int] = mapped_column(USMALL, server_default="0")
    map_y: Mapped[int] = mapped_column(USMALL, server_default="0")
    map_width: Mapped[int] = mapped_column(USMALL, server_default="0")
    map_height: Mapped[int] = mapped_column(USMALL, server_default="0")
    outline: Mapped[str] = mapped_column(sa.String(2000), server_default="")
    label_x: Mapped[int] = mapped_column(USMALL, server_default="0")
    label_y: Mapped[int] = mapped_column(USMALL, server_default="0")

    venue: Mapped[Venue] = relationship(back_populates="sections")

    __table_args__ = (
        sa.UniqueConstraint("venue_id", "name", name="uq_sections_venue_name"),
        sa.UniqueConstraint("section_id", "venue_id", name="uq_sections_id_venue"),
    )


class SeatRow(db.Model):
    __tablename__ = "seat_rows"

    row_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    section_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("sections.section_id", name="fk_seat_rows_section", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(sa.String(8))
    sort_order: Mapped[int] = mapped_column(USMALL)
    label_x: Mapped[int] = mapped_column(USMALL, server_default="0")
    label_y: Mapped[int] = mapped_column(USMALL, server_default="0")

    __table_args__ = (
        sa.UniqueConstraint("section_id", "label", name="uq_seat_rows_section_label"),
        sa.UniqueConstraint("row_id", "section_id", name="uq_seat_rows_id_section"),
    )


class Seat(db.Model):
    __tablename__ = "seats"

    seat_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    venue_id: Mapped[int] = mapped_column(UINT)
    section_id: Mapped[int] = mapped_column(UINT)
    row_id: Mapped[int] = mapped_column(UINT)
    seat_number: Mapped[int] = mapped_column(USMALL)
    category_id: Mapped[int] = mapped_column(
        UTINY, sa.ForeignKey("seat_categories.category_id", name="fk_seats_category"))
    is_wheelchair: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    is_companion: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    map_x: Mapped[int] = mapped_column(USMALL)
    map_y: Mapped[int] = mapped_column(USMALL)

    __table_args__ = (
        sa.UniqueConstraint("row_id", "seat_number", name="uq_seats_row_number"),
        sa.UniqueConstraint("seat_id", "venue_id", name="uq_seats_id_venue"),
        sa.Index("ix_seats_venue_section", "venue_id", "section_id"),
        sa.Index("ix_seats_category", "category_id"),
        sa.ForeignKeyConstraint(["row_id", "section_id"], ["seat_rows.row_id", "seat_rows.section_id"],
                                name="fk_seats_row", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["section_id", "venue_id"], ["sections.section_id", "sections.venue_id"],
                                name="fk_seats_section", ondelete="CASCADE"),
    )


EVENT_GENRES = ("concert", "theatre", "comedy", "sport", "family", "classical")


class Event(db.Model):
    __tablename__ = "events"

    event_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    venue_id: Mapped[int] = mapped_column(UINT, sa.ForeignKey("venues.venue_id", name="fk_events_venue"))
    title: Mapped[str] = mapped_column(sa.String(160))
    performer: Mapped[str] = mapped_column(sa.String(120))
    genre: Mapped[str] = mapped_column(sa.Enum(*EVENT_GENRES))
    description: Mapped[str] = mapped_column(sa.Text)
    starts_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    sales_start: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    sales_end: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    status: Mapped[str] = mapped_column(sa.Enum("draft", "on_sale", "cancelled"), server_default="draft")
    max_seats_per_order: Mapped[int] = mapped_column(UTINY, server_default="10")
    refundable_until_hours: Mapped[int] = mapped_column(USMALL, server_default="48")
    seats_total: Mapped[int] = mapped_column(UINT, server_default="0")
    seats_available: Mapped[int] = mapped_column(UINT, server_default="0")
    seat_version: Mapped[int] = mapped_column(UBIG, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, server_default=sa.func.now())

    venue: Mapped[Venue] = relationship()
    prices: Mapped[list[EventPrice]] = relationship(back_populates="event", order_by="EventPrice.category_id")

    __table_args__ = (
        sa.UniqueConstraint("event_id", "venue_id", name="uq_events_id_venue"),
        sa.Index("ix_events_status_start", "status", "starts_at"),
        sa.Index("ix_events_venue_start", "venue_id", "starts_at"),
        sa.Index("ix_events_start", "starts_at"),
        sa.Index("ft_events_title_performer", "title", "performer", mysql_prefix="FULLTEXT"),
    )


class EventLock(db.Model):
    """The event as a whole (migration 0017): holds and bookings lock it shared, whatever changes the event as
    a whole (unit_of_work(lock_event=...)) exclusive. One row an event, made by the trigger make_event_lock."""

    __tablename__ = "event_locks"

    event_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("events.event_id", name="fk_event_locks_event", ondelete="CASCADE"), primary_key=True,
        autoincrement=False)


class BuyerLock(db.Model):
    """A buyer's lock row (migration 0017): the rows 0-1023 a hold locks for its owner, customer and address."""

    __tablename__ = "buyer_locks"

    lock_no: Mapped[int] = mapped_column(USMALL, primary_key=True, autoincrement=False)


class EventPrice(db.Model):
    __tablename__ = "event_prices"

    event_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("events.event_id", name="fk_event_prices_event", ondelete="CASCADE"), primary_key=True)
    category_id: Mapped[int] = mapped_column(
        UTINY, sa.ForeignKey("seat_categories.category_id", name="fk_event_prices_category"), primary_key=True)
    price: Mapped[Decimal] = mapped_column(MONEY)
    seats_total: Mapped[int] = mapped_column(UINT, server_default="0")
    seats_available: Mapped[int] = mapped_column(UINT, server_default="0")

    event: Mapped[Event] = relationship(back_populates="prices")
    category: Mapped[SeatCategory] = relationship()

    __table_args__ = (sa.Index("ix_event_prices_category", "category_id"),)


class EventSeat(db.Model):
    """One seat of one event: available, held (by a hold owner until an expiry) or sold."""

    __tablename__ = "event_seats"

    event_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    seat_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    venue_id: Mapped[int] = mapped_column(UINT)
    section_id: Mapped[int] = mapped_column(UINT)
    category_id: Mapped[int] = mapped_column(UTINY)
    state: Mapped[str] = mapped_column(sa.Enum("available", "held", "sold"), server_default="available")
    hold_owner: Mapped[str | None] = mapped_column(ascii_char(32))
    hold_expires_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))
    hold_extended: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    # Who took a held seat, for the per-buyer cap (migration 0008): the customer, the network address.
    hold_customer_id: Mapped[int | None] = mapped_column(UINT)
    hold_address: Mapped[str | None] = mapped_column(ascii_varchar(45))
    version: Mapped[int] = mapped_column(UBIG, server_default="0")

    __table_args__ = (
        sa.Index("ix_event_seats_version", "event_id", "version"),
        sa.Index("ix_event_seats_section_state", "event_id", "section_id", "state"),
        sa.Index("ix_event_seats_owner", "hold_owner", "event_id"),
        sa.Index("ix_event_seats_hold_customer", "hold_customer_id", "event_id", "state", "hold_expires_at"),
        sa.Index("ix_event_seats_hold_address", "hold_address", "event_id", "state", "hold_expires_at"),
        sa.Index("ix_event_seats_expiry", "event_id", "hold_expires_at"),
        sa.ForeignKeyConstraint(["event_id", "venue_id"], ["events.event_id", "events.venue_id"],
                                name="fk_event_seats_event", ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["seat_id", "venue_id"], ["seats.seat_id", "seats.venue_id"],
                                name="fk_event_seats_seat"),
        sa.ForeignKeyConstraint(["event_id", "category_id"], ["event_prices.event_id", "event_prices.category_id"],
                                name="fk_event_seats_price"),
    )


class Discount(db.Model):
    """A promo code and its rules."""

    __tablename__ = "discounts"

    discount_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    code: Mapped[str] = mapped_column(ascii_varchar(32))
    description: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.Enum("percent", "fixed"))
    value: Mapped[Decimal] = mapped_column(MONEY)
    valid_from: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    valid_until: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    usage_limit: Mapped[int | None] = mapped_column(UINT)
    times_used: Mapped[int] = mapped_column(UINT, server_default="0")
    vip_only: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    event_id: Mapped[int | None] = mapped_column(
        UINT, sa.ForeignKey("events.event_id", name="fk_discounts_event", ondelete="CASCADE"))
    is_active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, server_default=sa.func.now())

    __table_args__ = (
        sa.UniqueConstraint("code", name="uq_discounts_code"),
        sa.Index("ix_discounts_event", "event_id"),
    )


class PaymentMethod(db.Model):
    __tablename__ = "payment_methods"

    method_id: Mapped[int] = mapped_column(UTINY, primary_key=True)
    code: Mapped[str] = mapped_column(ascii_varchar(20))
    name: Mapped[str] = mapped_column(sa.String(60))
    takes_card: Mapped[bool] = mapped_column(sa.Boolean)

    __table_args__ = (sa.UniqueConstraint("code", name="uq_payment_methods_code"),)


class SavedPaymentMethod(db.Model):
    __tablename__ = "saved_payment_methods"

    saved_method_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("customers.customer_id", name="fk_saved_payment_methods_customer", ondelete="CASCADE"))
    method_id: Mapped[int] = mapped_column(
        UTINY, sa.ForeignKey("payment_methods.method_id", name="fk_saved_payment_methods_method"))
    card_brand: Mapped[str] = mapped_column(ascii_varchar(20))
    last_four: Mapped[str] = mapped_column(ascii_char(4))
    exp_month: Mapped[int] = mapped_column(UTINY)
    exp_year: Mapped[int] = mapped_column(USMALL)
    gateway_token: Mapped[str] = mapped_column(ascii_varchar(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime, server_default=sa.func.now())

    __table_args__ = (
        sa.UniqueConstraint("gateway_token", name="uq_saved_payment_methods_token"),
        sa.Index("ix_saved_payment_methods_customer", "customer_id"),
    )


class Booking(db.Model):
    __tablename__ = "bookings"

    booking_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    booking_code: Mapped[str] = mapped_column(ascii_char(10))
    customer_id: Mapped[int] = mapped_column(UINT, sa.ForeignKey("customers.customer_id", name="fk_bookings_customer"))
    event_id: Mapped[int] = mapped_column(UINT, sa.ForeignKey("event_locks.event_id", name="fk_bookings_event"))
    status: Mapped[str] = mapped_column(
        sa.Enum("confirmed", "partially_refunded", "refunded"), server_default="confirmed")
    subtotal: Mapped[Decimal] = mapped_column(MONEY)
    vip_discount: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    promo_discount: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    total: Mapped[Decimal] = mapped_column(MONEY)
    discount_id: Mapped[int | None] = mapped_column(
        UINT, sa.ForeignKey("discounts.discount_id", name="fk_bookings_discount"))
    idempotency_key: Mapped[str | None] = mapped_column(ascii_varchar(64))
    booked_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    # A chargeback the payment provider reported (sql/migrations/0011_stripe.sql): flagged for staff.
    disputed_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))
    dispute_reference: Mapped[str | None] = mapped_column(ascii_varchar(255))

    # (Its foreign key names the event's lock row: migration 0017.)
    event: Mapped[Event] = relationship(primaryjoin="Booking.event_id == Event.event_id", foreign_keys=event_id)
    customer: Mapped[Customer] = relationship()
    tickets: Mapped[list[Ticket]] = relationship(back_populates="booking", order_by="Ticket.ticket_id")

    __table_args__ = (
        sa.UniqueConstraint("booking_code", name="uq_bookings_code"),
        sa.UniqueConstraint("idempotency_key", name="uq_bookings_idempotency"),
        sa.Index("ix_bookings_customer", "customer_id", "booked_at"),
        sa.Index("ix_bookings_event", "event_id", "booked_at"),
        sa.Index("ix_bookings_booked_at", "booked_at"),
    )


class Ticket(db.Model):
    __tablename__ = "tickets"

    ticket_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    ticket_code: Mapped[str] = mapped_column(ascii_char(12))
    booking_id: Mapped[int] = mapped_column(UINT, sa.ForeignKey("bookings.booking_id", name="fk_tickets_booking"))
    event_id: Mapped[int] = mapped_column(UINT)
    seat_id: Mapped[int] = mapped_column(UINT)
    category_id: Mapped[int] = mapped_column(
        UTINY, sa.ForeignKey("seat_categories.category_id", name="fk_tickets_category"))
    face_price: Mapped[Decimal] = mapped_column(MONEY)
    paid_amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(sa.Enum("valid", "checked_in", "refunded"), server_default="valid")
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    refunded_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)
    refund_id: Mapped[int | None] = mapped_column(
        UBIG, sa.ForeignKey("booking_refunds.refund_id", name="fk_tickets_refund"))
    holds_seat: Mapped[int | None] = mapped_column(
        mysql.TINYINT, sa.Computed("IF(status = 'refunded', NULL, 1)", persisted=True))

    booking: Mapped[Booking] = relationship(back_populates="tickets")
    seat: Mapped[Seat] = relationship(primaryjoin="Ticket.seat_id == Seat.seat_id", foreign_keys=[seat_id],
                                      viewonly=True)

    __table_args__ = (
        sa.UniqueConstraint("ticket_code", name="uq_tickets_code"),
        sa.UniqueConstraint("event_id", "seat_id", "holds_seat", name="uq_tickets_live_seat"),
        sa.Index("ix_tickets_booking", "booking_id"),
        sa.Index("ix_tickets_event_category", "event_id", "category_id", "status"),
        sa.ForeignKeyConstraint(["event_id", "seat_id"], ["event_seats.event_id", "event_seats.seat_id"],
                                name="fk_tickets_event_seat"),
    )


class Payment(db.Model):
    """A charge (captured, declined or failed) or a refund of a captured charge."""

    __tablename__ = "payments"

    payment_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.Enum("charge", "refund"))
    status: Mapped[str] = mapped_column(sa.Enum("captured", "declined", "failed", "refunded"))
    booking_id: Mapped[int | None] = mapped_column(
        UINT, sa.ForeignKey("bookings.booking_id", name="fk_payments_booking"))
    customer_id: Mapped[int] = mapped_column(UINT, sa.ForeignKey("customers.customer_id", name="fk_payments_customer"))
    method_id: Mapped[int] = mapped_column(
        UTINY, sa.ForeignKey("payment_methods.method_id", name="fk_payments_method"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    card_brand: Mapped[str | None] = mapped_column(ascii_varchar(20))
    last_four: Mapped[str | None] = mapped_column(ascii_char(4))
    provider_reference: Mapped[str | None] = mapped_column(ascii_varchar(64))
    refund_of: Mapped[int | None] = mapped_column(
        UINT, sa.ForeignKey("payments.payment_id", name="fk_payments_refund_of"))
    failure_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)

    method: Mapped[PaymentMethod] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("provider_reference", name="uq_payments_provider_reference"),
        sa.Index("ix_payments_booking", "booking_id"),
        sa.Index("ix_payments_customer", "customer_id", "created_at"),
        sa.Index("ix_payments_method_status", "method_id", "kind", "status"),
        sa.Index("ix_payments_created", "created_at"),
        sa.Index("ix_payments_refund_of", "refund_of"),
    )


class SignInThrottle(db.Model):
    """Tries at one account from one address, and when the next may be taken (services/accounts.py)."""

    __tablename__ = "sign_in_throttles"

    account_kind: Mapped[str] = mapped_column(sa.Enum("customer", "staff"), primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), primary_key=True)
    address: Mapped[str] = mapped_column(ascii_varchar(45), primary_key=True)
    failures: Mapped[int] = mapped_column(USMALL, server_default="0")
    next_try_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))
    updated_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))

    __table_args__ = (sa.Index("ix_sign_in_throttles_address", "address", "updated_at"),
                      sa.Index("ix_sign_in_throttles_updated", "updated_at"))


class SignInBudget(db.Model):
    """An address's failed sign-ins in the current window (services/accounts.py)."""

    __tablename__ = "sign_in_budgets"

    address: Mapped[str] = mapped_column(ascii_varchar(45), primary_key=True)
    window_started_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))
    tries: Mapped[int] = mapped_column(UINT, server_default="0")

    __table_args__ = (sa.Index("ix_sign_in_budgets_window", "window_started_at"),)


class Registration(db.Model):
    """A registration waiting for its e-mail to be confirmed by the link mailed to it (services/accounts.py):
    the account is made from it, or the guest it names becomes one, when the link is followed."""

    __tablename__ = "registrations"

    registration_id: Mapped[int] = mapped_column(UBIG, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254))
    full_name: Mapped[str] = mapped_column(sa.String(120))
    city: Mapped[str | None] = mapped_column(sa.String(80))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    guest_customer_id: Mapped[int | None] = mapped_column(
        UINT, sa.ForeignKey("customers.customer_id", name="fk_registrations_guest", ondelete="CASCADE"))
    requested_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))

    __table_args__ = (sa.Index("ix_registrations_email", "email"),
                      sa.Index("ix_registrations_requested", "requested_at"))


class GatewayCharge(db.Model):
    """The simulated payment gateway's own ledger (one charge per idempotency key)."""

    __tablename__ = "gateway_charges"

    charge_id: Mapped[int] = mapped_column(UBIG, primary_key=True)
    reference: Mapped[str] = mapped_column(ascii_varchar(64))
    idempotency_key: Mapped[str] = mapped_column(ascii_varchar(64))
    method_code: Mapped[str] = mapped_column(ascii_varchar(20))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(sa.Enum("captured", "declined", "failed"))
    decline_reason: Mapped[str | None] = mapped_column(sa.String(200))
    card_brand: Mapped[str | None] = mapped_column(ascii_varchar(20))
    last_four: Mapped[str | None] = mapped_column(ascii_char(4))
    refunded_amount: Mapped[Decimal] = mapped_column(MONEY, server_default="0")
    created_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))

    __table_args__ = (
        sa.UniqueConstraint("reference", name="uq_gateway_charges_reference"),
        sa.UniqueConstraint("idempotency_key", name="uq_gateway_charges_key"),
    )


class OutboxEmail(db.Model):
    """Outgoing mail: written in the transaction of the change it reports, composed and delivered by the
    mail sender (boxoffice/services/mail.py), which retries with backoff."""

    __tablename__ = "outbox_emails"

    email_id: Mapped[int] = mapped_column(UBIG, primary_key=True)
    kind: Mapped[str] = mapped_column(
        sa.Enum("message", "booking_confirmation", "tickets_refunded", "payment_returned"), server_default="message")
    recipient: Mapped[str] = mapped_column(sa.String(254))
    subject: Mapped[str | None] = mapped_column(sa.String(200))
    body_text: Mapped[str | None] = mapped_column(sa.Text)
    booking_id: Mapped[int | None] = mapped_column(
        UINT, sa.ForeignKey("bookings.booking_id", name="fk_outbox_emails_booking"))
    refund_id: Mapped[int | None] = mapped_column(
        UBIG, sa.ForeignKey("booking_refunds.refund_id", name="fk_outbox_emails_refund"))
    attempt_id: Mapped[int | None] = mapped_column(
        UBIG, sa.ForeignKey("payment_attempts.attempt_id", name="fk_outbox_emails_attempt"))
    created_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))
    status: Mapped[str] = mapped_column(sa.Enum("queued", "sent", "retrying", "failed"), server_default="queued")
    tries: Mapped[int] = mapped_column(USMALL, server_default="0")
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))
    last_error: Mapped[str | None] = mapped_column(sa.String(300))
    sent_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))

    __table_args__ = (
        sa.Index("ix_outbox_emails_recipient", "recipient", "created_at"),
        sa.Index("ix_outbox_emails_created", "created_at"),
        sa.Index("ix_outbox_emails_due", "status", "next_attempt_at"),
        sa.Index("ix_outbox_emails_booking", "booking_id"),
    )


ATTEMPT_STATES = ("created", "captured", "booked", "declined", "abandoned", "refund_pending", "refunded")


class PaymentAttempt(db.Model):
    """One try at paying for a hold (sql/migrations/0005_money_path.sql): a durable row with a state,
    written before the provider is asked and moved on by conditional updates only."""

    __tablename__ = "payment_attempts"

    attempt_id: Mapped[int] = mapped_column(UBIG, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(ascii_varchar(64))
    customer_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("customers.customer_id", name="fk_payment_attempts_customer"))
    event_id: Mapped[int] = mapped_column(UINT)
    hold_owner: Mapped[str] = mapped_column(ascii_char(32))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    promo_code: Mapped[str | None] = mapped_column(ascii_varchar(32))
    method_code: Mapped[str] = mapped_column(ascii_varchar(20))
    seat_ids: Mapped[str] = mapped_column(mysql.TEXT(charset="ascii"))
    state: Mapped[str] = mapped_column(sa.Enum(*ATTEMPT_STATES), server_default="created")
    provider_reference: Mapped[str | None] = mapped_column(ascii_varchar(64))
    card_brand: Mapped[str | None] = mapped_column(ascii_varchar(20))
    last_four: Mapped[str | None] = mapped_column(ascii_char(4))
    failure_reason: Mapped[str | None] = mapped_column(sa.String(200))
    booking_id: Mapped[int | None] = mapped_column(
        UINT, sa.ForeignKey("bookings.booking_id", name="fk_payment_attempts_booking"))
    reconciled_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))
    reconcile_note: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))
    updated_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))
    in_flight: Mapped[int | None] = mapped_column(
        mysql.TINYINT, sa.Computed("IF(state IN ('created','captured'), 1, NULL)", persisted=True))

    __table_args__ = (
        sa.UniqueConstraint("idempotency_key", name="uq_payment_attempts_key"),
        sa.UniqueConstraint("event_id", "hold_owner", "in_flight", name="uq_payment_attempts_in_flight"),
        sa.UniqueConstraint("booking_id", name="uq_payment_attempts_booking"),
        sa.Index("ix_payment_attempts_state", "state", "updated_at"),
        sa.Index("ix_payment_attempts_customer", "customer_id", "created_at"),
        sa.Index("ix_payment_attempts_reconciled", "reconciled_at"),
        sa.Index("ix_payment_attempts_reference", "provider_reference"),
    )


class ProviderEvent(db.Model):
    """A webhook event of the payment provider, stored once by its id (sql/migrations/0011_stripe.sql)."""

    __tablename__ = "provider_events"

    event_id: Mapped[str] = mapped_column(ascii_varchar(255), primary_key=True)
    event_type: Mapped[str] = mapped_column(ascii_varchar(100))
    object_id: Mapped[str | None] = mapped_column(ascii_varchar(255))
    received_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))
    processed_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))
    outcome: Mapped[str | None] = mapped_column(sa.String(200))

    __table_args__ = (
        sa.Index("ix_provider_events_object", "object_id"),
        sa.Index("ix_provider_events_received", "received_at"),
    )


class ProviderCustomer(db.Model):
    """The buyer as a customer at the payment provider, which keeps their saved cards."""

    __tablename__ = "provider_customers"

    customer_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("customers.customer_id", name="fk_provider_customers_customer", ondelete="CASCADE"),
        primary_key=True)
    provider_customer_id: Mapped[str] = mapped_column(ascii_varchar(255))
    created_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))

    __table_args__ = (
        sa.UniqueConstraint("provider_customer_id", name="uq_provider_customers_provider_id"),
    )


class BookingRefund(db.Model):
    """Money going back for some tickets of a booking: pending until the provider has paid it out."""

    __tablename__ = "booking_refunds"

    refund_id: Mapped[int] = mapped_column(UBIG, primary_key=True)
    booking_id: Mapped[int] = mapped_column(UINT, sa.ForeignKey("bookings.booking_id", name="fk_booking_refunds_booking"))
    charge_id: Mapped[int | None] = mapped_column(
        UINT, sa.ForeignKey("payments.payment_id", name="fk_booking_refunds_charge"))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    requested_by: Mapped[str] = mapped_column(sa.Enum("customer", "staff"))
    state: Mapped[str] = mapped_column(sa.Enum("pending", "refunded"), server_default="pending")
    payment_id: Mapped[int | None] = mapped_column(
        UINT, sa.ForeignKey("payments.payment_id", name="fk_booking_refunds_payment"))
    reconciled_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))
    reconcile_note: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))
    completed_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))

    __table_args__ = (
        sa.Index("ix_booking_refunds_booking", "booking_id"),
        sa.Index("ix_booking_refunds_state", "state", "created_at"),
    )


class GatewayCard(db.Model):
    """The simulated provider's saved cards: a token and what charging it does (never the number)."""

    __tablename__ = "gateway_cards"

    token: Mapped[str] = mapped_column(ascii_varchar(64), primary_key=True)
    card_brand: Mapped[str] = mapped_column(ascii_varchar(20))
    last_four: Mapped[str] = mapped_column(ascii_char(4))
    exp_month: Mapped[int] = mapped_column(UTINY)
    exp_year: Mapped[int] = mapped_column(USMALL)
    outcome: Mapped[str] = mapped_column(sa.Enum("captured", "declined", "insufficient_funds", "failed"))
    created_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))


class GatewayRefund(db.Model):
    """The simulated provider's refunds: one per idempotency key."""

    __tablename__ = "gateway_refunds"

    refund_reference: Mapped[str] = mapped_column(ascii_varchar(64), primary_key=True)
    charge_reference: Mapped[str] = mapped_column(ascii_varchar(64))
    idempotency_key: Mapped[str] = mapped_column(ascii_varchar(80))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    created_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))

    __table_args__ = (
        sa.UniqueConstraint("idempotency_key", name="uq_gateway_refunds_key"),
        sa.Index("ix_gateway_refunds_charge", "charge_reference"),
    )


# ---------------------------------------------------------------- reports (sql/migrations/0004_reporting.sql)

GRAIN = sa.Enum("day", "month")
TOTAL = sa.Numeric(14, 2)


def _counter() -> Mapped[int]:
    return mapped_column(sa.Integer, server_default="0")


def _amount() -> Mapped[Decimal]:
    return mapped_column(TOTAL, server_default="0")


class SalesByPeriod(db.Model):
    """Bookings and their money per event, customer type and day or month of booking (a summary kept by the
    triggers of sql/objects/40_sales_summary.sql)."""

    __tablename__ = "sales_by_period"

    grain: Mapped[str] = mapped_column(GRAIN, primary_key=True)
    period: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("event_locks.event_id", name="fk_sales_by_period_event", ondelete="CASCADE"),
        primary_key=True, autoincrement=False)
    customer_type: Mapped[str] = mapped_column(SEGMENT, primary_key=True)
    venue_id: Mapped[int] = mapped_column(UINT)
    bookings: Mapped[int] = _counter()
    booked_total: Mapped[Decimal] = _amount()
    charged: Mapped[Decimal] = _amount()
    refunded: Mapped[Decimal] = _amount()
    booked_seconds: Mapped[int] = mapped_column(sa.BigInteger, server_default="0")
    # The bookings fully refunded and what they cost (0015): the average order value leaves them out.
    refunded_bookings: Mapped[int] = _counter()
    refunded_bookings_total: Mapped[Decimal] = _amount()

    __table_args__ = (
        sa.Index("ix_sales_by_period_event", "event_id", "grain", "period"),
        sa.Index("ix_sales_by_period_venue", "venue_id", "grain", "period"),
    )


class CategorySalesByPeriod(db.Model):
    """Tickets per event, seat category and day or month of booking (a trigger-kept summary)."""

    __tablename__ = "category_sales_by_period"

    grain: Mapped[str] = mapped_column(GRAIN, primary_key=True)
    period: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("event_locks.event_id", name="fk_category_sales_by_period_event", ondelete="CASCADE"),
        primary_key=True, autoincrement=False)
    category_id: Mapped[int] = mapped_column(
        UTINY, sa.ForeignKey("seat_categories.category_id", name="fk_category_sales_by_period_category"),
        primary_key=True, autoincrement=False)
    venue_id: Mapped[int] = mapped_column(UINT)
    tickets: Mapped[int] = _counter()
    tickets_refunded: Mapped[int] = _counter()
    revenue: Mapped[Decimal] = _amount()

    __table_args__ = (
        sa.Index("ix_category_sales_by_period_event", "event_id", "grain", "period"),
        sa.Index("ix_category_sales_by_period_venue", "venue_id", "grain", "period"),
        sa.Index("ix_category_sales_by_period_category", "category_id"),
    )


class PaymentsByPeriod(db.Model):
    """Payments per day or month made, method, payer's customer type and venue (0: no booking)."""

    __tablename__ = "payments_by_period"

    grain: Mapped[str] = mapped_column(GRAIN, primary_key=True)
    period: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    method_id: Mapped[int] = mapped_column(
        UTINY, sa.ForeignKey("payment_methods.method_id", name="fk_payments_by_period_method"),
        primary_key=True, autoincrement=False)
    customer_type: Mapped[str] = mapped_column(SEGMENT, primary_key=True)
    venue_id: Mapped[int] = mapped_column(UINT, primary_key=True, autoincrement=False)
    charges: Mapped[int] = _counter()
    captured: Mapped[int] = _counter()
    captured_amount: Mapped[Decimal] = _amount()
    declines: Mapped[int] = _counter()
    failures: Mapped[int] = _counter()
    refunds: Mapped[int] = _counter()
    refunded_amount: Mapped[Decimal] = _amount()

    __table_args__ = (
        sa.Index("ix_payments_by_period_venue", "venue_id", "grain", "period"),
        sa.Index("ix_payments_by_period_method", "method_id"),
    )


class CustomerSales(db.Model):
    """Each buyer's bookings over all time (a trigger-kept summary)."""

    __tablename__ = "customer_sales"

    customer_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("customers.customer_id", name="fk_customer_sales_customer", ondelete="CASCADE"),
        primary_key=True, autoincrement=False)
    customer_type: Mapped[str] = mapped_column(SEGMENT)
    bookings: Mapped[int] = _counter()
    booked_total: Mapped[Decimal] = _amount()
    refunded: Mapped[Decimal] = _amount()
    net_spend: Mapped[Decimal | None] = mapped_column(TOTAL, sa.Computed("booked_total - refunded", persisted=True))
    # 0 no booking, 1 a buyer, 2 a repeat buyer (0020): buyer_counts counts customers by it.
    standing: Mapped[int | None] = mapped_column(mysql.TINYINT(), sa.Computed("least(bookings, 2)", persisted=True))

    __table_args__ = (sa.Index("ix_customer_sales_spend", "customer_type", "net_spend"),)


class VenueSalesByPeriod(db.Model):
    """sales_by_period added up over the events of each venue (a rollup kept by triggers on it)."""

    __tablename__ = "venue_sales_by_period"

    grain: Mapped[str] = mapped_column(GRAIN, primary_key=True)
    period: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    venue_id: Mapped[int] = mapped_column(UINT, primary_key=True, autoincrement=False)
    customer_type: Mapped[str] = mapped_column(SEGMENT, primary_key=True)
    bookings: Mapped[int] = _counter()
    booked_total: Mapped[Decimal] = _amount()
    refunded: Mapped[Decimal] = _amount()
    refunded_bookings: Mapped[int] = _counter()
    refunded_bookings_total: Mapped[Decimal] = _amount()


class VenueCategorySalesByPeriod(db.Model):
    """category_sales_by_period added up over the events of each venue (a rollup kept by triggers on it)."""

    __tablename__ = "venue_category_sales_by_period"

    grain: Mapped[str] = mapped_column(GRAIN, primary_key=True)
    period: Mapped[dt.date] = mapped_column(sa.Date, primary_key=True)
    venue_id: Mapped[int] = mapped_column(UINT, primary_key=True, autoincrement=False)
    category_id: Mapped[int] = mapped_column(UTINY, primary_key=True, autoincrement=False)
    tickets: Mapped[int] = _counter()
    tickets_refunded: Mapped[int] = _counter()
    revenue: Mapped[Decimal] = _amount()


class BuyerCounts(db.Model):
    """Buyers and repeat buyers per customer type, in shards (customer_id % 16): customer_sales counted by
    standing (a rollup kept by triggers on customer_sales)."""

    __tablename__ = "buyer_counts"

    customer_type: Mapped[str] = mapped_column(SEGMENT, primary_key=True)
    shard: Mapped[int] = mapped_column(UTINY, primary_key=True, autoincrement=False)
    buyers: Mapped[int] = _counter()
    repeat_buyers: Mapped[int] = _counter()


class BookingHour(db.Model):
    """Bookings per venue, weekday (0 Monday) and hour they were made, over all time."""

    __tablename__ = "booking_hours"

    venue_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("venues.venue_id", name="fk_booking_hours_venue", ondelete="CASCADE"),
        primary_key=True, autoincrement=False)
    weekday: Mapped[int] = mapped_column(UTINY, primary_key=True, autoincrement=False)
    hour: Mapped[int] = mapped_column(UTINY, primary_key=True, autoincrement=False)
    bookings: Mapped[int] = _counter()
    booked_total: Mapped[Decimal] = _amount()
    refunded: Mapped[Decimal] = _amount()


class PromoSales(db.Model):
    """The bookings each promo code was used for, over all time."""

    __tablename__ = "promo_sales"

    discount_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("discounts.discount_id", name="fk_promo_sales_discount", ondelete="CASCADE"),
        primary_key=True, autoincrement=False)
    bookings: Mapped[int] = _counter()
    booked_total: Mapped[Decimal] = _amount()
    promo_discount: Mapped[Decimal] = _amount()
    refunded: Mapped[Decimal] = _amount()


class ReportShare(db.Model):
    """A read-only link to a dashboard: the SHA-256 of its token, the frozen filters, expiry and revocation."""

    __tablename__ = "report_shares"

    share_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    token_hash: Mapped[str] = mapped_column(ascii_char(64))
    label: Mapped[str] = mapped_column(sa.String(120))
    date_from: Mapped[dt.date] = mapped_column(sa.Date)
    date_to: Mapped[dt.date] = mapped_column(sa.Date)
    venue_id: Mapped[int | None] = mapped_column(
        UINT, sa.ForeignKey("venues.venue_id", name="fk_report_shares_venue", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(
        UINT, sa.ForeignKey("events.event_id", name="fk_report_shares_event", ondelete="CASCADE"))
    customer_type: Mapped[str | None] = mapped_column(SEGMENT)
    method_id: Mapped[int | None] = mapped_column(
        UTINY, sa.ForeignKey("payment_methods.method_id", name="fk_report_shares_method"))
    created_by: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("staff_users.staff_id", name="fk_report_shares_staff", ondelete="CASCADE"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(sa.DateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime)

    creator: Mapped[StaffUser] = relationship()

    __table_args__ = (
        sa.UniqueConstraint("token_hash", name="uq_report_shares_token"),
        sa.Index("ix_report_shares_created", "created_at"),
    )


WAITING_LIST_STATES = ("waiting", "offered", "claimed", "expired", "left")


class WaitingListEntry(db.Model):
    """A place in a sold-out event's waiting line (sql/migrations/0010_waiting_list.sql,
    boxoffice/services/waiting_list.py)."""

    __tablename__ = "waiting_list_entries"

    entry_id: Mapped[int] = mapped_column(UINT, primary_key=True)
    event_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("events.event_id", name="fk_waiting_list_event", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("customers.customer_id", name="fk_waiting_list_customer"))
    category_id: Mapped[int | None] = mapped_column(
        UTINY, sa.ForeignKey("seat_categories.category_id", name="fk_waiting_list_category"))
    seats_wanted: Mapped[int] = mapped_column(UTINY)
    status: Mapped[str] = mapped_column(sa.Enum(*WAITING_LIST_STATES), server_default="waiting")
    joined_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))
    offer_token: Mapped[str | None] = mapped_column(ascii_char(32))
    offered_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))
    offer_expires_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))
    seats_offered: Mapped[int | None] = mapped_column(UTINY)
    ended_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))
    live_customer_id: Mapped[int | None] = mapped_column(
        UINT, sa.Computed("IF(status IN ('waiting','offered'), customer_id, NULL)", persisted=True))

    __table_args__ = (
        sa.UniqueConstraint("event_id", "live_customer_id", name="uq_waiting_list_live"),
        sa.UniqueConstraint("offer_token", name="uq_waiting_list_offer_token"),
        sa.Index("ix_waiting_list_line", "event_id", "status", "entry_id"),
        sa.Index("ix_waiting_list_customer", "customer_id", "event_id"),
        sa.Index("ix_waiting_list_offer_expiry", "status", "offer_expires_at"),
    )


class WaitingRoom(db.Model):
    """An event's on-sale waiting room: queue on or off, opening, rate, and where its line stands
    (sql/migrations/0012_waiting_room.sql, boxoffice/services/waiting_room.py)."""

    __tablename__ = "waiting_rooms"

    event_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("events.event_id", name="fk_waiting_rooms_event", ondelete="CASCADE"), primary_key=True,
        autoincrement=False)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    paused: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    opens_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))
    admit_per_minute: Mapped[int] = mapped_column(UINT)
    max_active: Mapped[int | None] = mapped_column(UINT)
    drawn: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.false())
    last_position: Mapped[int] = mapped_column(UINT, server_default="0")
    admitted_through: Mapped[int] = mapped_column(UINT, server_default="0")
    credit_from: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))


class WaitingRoomVisitor(db.Model):
    """A visitor in an event's waiting-room line: their random draw (arrived before the opening), place,
    admission and whether they booked."""

    __tablename__ = "waiting_room_visitors"

    event_id: Mapped[int] = mapped_column(
        UINT, sa.ForeignKey("waiting_rooms.event_id", name="fk_waiting_room_visitors_room", ondelete="CASCADE"),
        primary_key=True, autoincrement=False)
    visitor_id: Mapped[str] = mapped_column(ascii_char(32), primary_key=True)
    joined_at: Mapped[dt.datetime] = mapped_column(mysql.DATETIME(fsp=3))
    draw: Mapped[int | None] = mapped_column(UBIG)
    position: Mapped[int | None] = mapped_column(UINT)
    admitted_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))
    finished_at: Mapped[dt.datetime | None] = mapped_column(mysql.DATETIME(fsp=3))

    __table_args__ = (
        sa.UniqueConstraint("event_id", "position", name="uq_waiting_room_position"),
        sa.Index("ix_waiting_room_admitted", "event_id", "admitted_at"),
    )
