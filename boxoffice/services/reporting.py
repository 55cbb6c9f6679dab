"""The dashboards: key figures, four groups of charts and tables, and the CSV tables, for a filter (a booking
period, a venue, an event).

Every query runs on the `reports` bind: the read-only database user, which can SELECT and call
GetEventRevenueByMonth and can write nothing. The sales figures come from the summary tables
(sql/migrations/0004_reporting.sql) that triggers keep exact, so a dashboard reads a few thousand rows
whatever the size of the box office; one dashboard is read in one transaction, so its figures agree with
each other.

A period counts bookings by the day they were made; a booking's refunds count with it, whenever they
happened. Payments count on the day they were made. Occupancy is about events held in the period, and
events on sale now.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..clock import utcnow
from ..extensions import db
from ..models import (
    CategorySalesByPeriod, CustomerSales, Event, PaymentMethod, PaymentsByPeriod, SalesByPeriod, SeatCategory, Venue,
)
from .reports_figures import Chart, Column, Dataset, Table, money, percent, ratio

DAY = dt.timedelta(days=1)
CUSTOMER_TYPES = ("regular", "vip")
TYPE_NAMES = {"regular": "Regular", "vip": "VIP"}
TYPE_COLOURS = {"regular": "#4f46e5", "vip": "#db2777"}
# The top events and venues charts and tables show this many; per-event occupancy lists show this many rows
# on the page (their CSV has them all).
TOP = 10
LISTED = 15


class UnknownTable(LookupError):
    """No dashboard table has this name."""


# ---------------------------------------------------------------- the filter and its period

@dataclass(frozen=True)
class ReportFilter:
    """What a dashboard shows: bookings made from `date_from` to `date_to` (both days included), at one venue,
    for one event, or everywhere (None)."""

    date_from: dt.date
    date_to: dt.date
    venue_id: int | None = None
    event_id: int | None = None

    def as_query(self) -> dict[str, str]:
        """The filter as URL query arguments (the dashboard's GET form uses the same names)."""
        query = {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}
        if self.venue_id:
            query["venue"] = str(self.venue_id)
        if self.event_id:
            query["event"] = str(self.event_id)
        return query


def default_filter(today: dt.date | None = None) -> ReportFilter:
    """The last twelve months up to today, everywhere."""
    today = today or utcnow().date()
    return ReportFilter(today - 364 * DAY, today)


def presets(f: ReportFilter, first_sale: dt.date | None, today: dt.date | None = None
            ) -> list[tuple[str, ReportFilter]]:
    """Quick periods for the same venue and event: the last 30 and 90 days, twelve months, and all time
    (from the first booking ever)."""
    today = today or utcnow().date()
    periods = [("Last 30 days", today - 29 * DAY), ("Last 90 days", today - 89 * DAY),
               ("Last 12 months", today - 364 * DAY), ("All time", min(first_sale or today, today))]
    return [(label, replace(f, date_from=start, date_to=today)) for label, start in periods]


@dataclass(frozen=True)
class Period:
    """A range of days split the way the summaries are read: the whole months in it from the month rows, the
    days before the first whole month and after the last one from the day rows. A month at the edge of the
    data (the first or last day anything was sold or paid) counts as whole: it has no rows beyond that
    edge. GetEventRevenueByMonth (sql/objects/30_procedures.sql) splits a range the same way."""

    first: dt.date
    last: dt.date
    # The first and last day of the summary's day rows, with first and last inside them.
    data_first: dt.date
    data_last: dt.date

    @property
    def months_from(self) -> dt.date:
        """The first day of the first month read whole."""
        if self.first.day == 1 or self.first == self.data_first:
            return self.first.replace(day=1)
        return (self.first.replace(day=28) + 4 * DAY).replace(day=1)

    @property
    def months_to(self) -> dt.date:
        """The last day of the last month read whole (before months_from when there is none)."""
        month_end = (self.last.replace(day=28) + 4 * DAY).replace(day=1) - DAY
        return month_end if self.last in (month_end, self.data_last) else self.last.replace(day=1) - DAY

    def rows_of(self, table) -> sa.ColumnElement[bool]:
        """The summary rows (of a table with grain and period columns) that add up to this range."""
        head_to = min(self.last, self.months_from - DAY)
        tail_from = max(head_to, self.months_to) + DAY
        return sa.or_(
            sa.and_(table.grain == "month", table.period.between(self.months_from, self.months_to)),
            sa.and_(table.grain == "day", sa.or_(table.period.between(self.first, head_to),
                                                 table.period.between(tail_from, self.last))))


def _scope(c: Connection, table, f: ReportFilter, by_event: bool = True) -> list[sa.ColumnElement[bool]]:
    """The conditions that pick a summary table's rows for the filter."""
    data_first, data_last = c.execute(sa.select(sa.func.min(table.period), sa.func.max(table.period))
                                      .where(table.grain == "day")).one()
    first, last = max(f.date_from, data_first or f.date_from), min(f.date_to, data_last or f.date_to)
    if data_first is None or first > last:
        return [sa.false()]
    conditions = [Period(first, last, data_first, data_last).rows_of(table)]
    if f.venue_id:
        conditions.append(table.venue_id == f.venue_id)
    if f.event_id and by_event:
        conditions.append(table.event_id == f.event_id)
    return conditions


def _reports() -> Connection:
    """A connection as the read-only reporting user; its first query fixes the snapshot every later one sees."""
    return db.engines["reports"].connect()


# ---------------------------------------------------------------- what the filter form offers

@dataclass(frozen=True)
class Choices:
    venues: list[tuple[int, str]]
    # Per venue name: (event id, label) in start order.
    events: dict[str, list[tuple[int, str]]]
    first_sale: dt.date | None


def filter_choices() -> Choices:
    """The venues and events a dashboard can be narrowed to, and the day of the first booking ever."""
    with _reports() as c:
        venues = c.execute(sa.select(Venue.venue_id, Venue.name, Venue.city).order_by(Venue.name)).all()
        events = c.execute(sa.select(Event.event_id, Event.title, Event.starts_at, Venue.name)
                           .join(Venue, Venue.venue_id == Event.venue_id)
                           .where(Event.status != "draft")
                           .order_by(Venue.name, Event.starts_at, Event.event_id)).all()
        first_sale = c.scalar(sa.select(sa.func.min(SalesByPeriod.period)).where(SalesByPeriod.grain == "day"))
    by_venue: dict[str, list[tuple[int, str]]] = {}
    for event_id, title, starts_at, venue in events:
        by_venue.setdefault(venue, []).append((event_id, f"{starts_at:%d %b %Y} · {title}"))
    return Choices([(v.venue_id, f"{v.name}, {v.city}") for v in venues], by_venue, first_sale)


def describe(f: ReportFilter) -> str:
    """The filter in words, for headings and shared pages."""
    with _reports() as c:
        parts = [f"Bookings {f.date_from:%d %b %Y} – {f.date_to:%d %b %Y}"]
        if f.event_id:
            title = c.scalar(sa.select(Event.title).where(Event.event_id == f.event_id))
            parts.append(title or "an event that no longer exists")
        if f.venue_id:
            name = c.scalar(sa.select(Venue.name).where(Venue.venue_id == f.venue_id))
            parts.append(name or "a venue that no longer exists")
    return " · ".join(parts)


# ---------------------------------------------------------------- key figures

@dataclass(frozen=True)
class Kpis:
    net_revenue: Decimal
    refunded: Decimal
    bookings: int
    tickets_sold: int
    average_order: Decimal | None
    occupancy_pct: Decimal | None
    events_held: int


def _tickets_sold(c: Connection, f: ReportFilter) -> int:
    """Tickets still sold of the bookings in the filter."""
    s = CategorySalesByPeriod
    return int(c.scalar(sa.select(sa.func.sum(s.tickets)).where(*_scope(c, s, f))) or 0)


def _kpis(c: Connection, f: ReportFilter, held: list[dict[str, Any]]) -> Kpis:
    """The key figures; occupancy of the events `held` in the period."""
    s = SalesByPeriod
    bookings, booked, refunded = c.execute(
        sa.select(sa.func.sum(s.bookings), sa.func.sum(s.booked_total), sa.func.sum(s.refunded))
        .where(*_scope(c, s, f))).one()
    seats = sum(row["seats"] for row in held)
    sold = sum(row["sold"] for row in held)
    return Kpis(net_revenue=money(booked) - money(refunded), refunded=money(refunded), bookings=int(bookings or 0),
                tickets_sold=_tickets_sold(c, f), average_order=ratio(booked, bookings),
                occupancy_pct=percent(sold, seats), events_held=len(held))


# ---------------------------------------------------------------- 1. top events and venues

MONEY_COLUMNS = (Column("bookings", "Bookings", "count"), Column("booked_total", "Sales", "money"),
                 Column("refunded", "Refunded", "money"), Column("net_revenue", "Net revenue", "money"))
TICKETS = Column("tickets", "Tickets sold", "count")


def _sales_totals(s=SalesByPeriod) -> list:
    return [sa.func.sum(s.bookings).label("bookings"), sa.func.sum(s.booked_total).label("booked_total"),
            sa.func.sum(s.refunded).label("refunded")]


def _money_row(row: sa.Row) -> dict[str, Any]:
    return {"bookings": int(row.bookings), "booked_total": money(row.booked_total), "refunded": money(row.refunded),
            "net_revenue": money(row.booked_total) - money(row.refunded)}


def _top(c: Connection, f: ReportFilter, key: str, names: Callable[[sa.ColumnElement], tuple[list, Callable]]
         ) -> list[dict[str, Any]]:
    """The TOP best-earning events or venues (`key`: event_id or venue_id) with their tickets sold, and the
    columns `names` gives for their id: (columns, a function joining their tables to a query)."""
    totals = (sa.select(getattr(SalesByPeriod, key).label("id"), *_sales_totals())
              .where(*_scope(c, SalesByPeriod, f)).group_by(getattr(SalesByPeriod, key)).subquery())
    columns, join = names(totals.c.id)
    query = (join(sa.select(totals, *columns)).where(totals.c.bookings > 0)
             .order_by((totals.c.booked_total - totals.c.refunded).desc(), totals.c.id).limit(TOP))
    rows = c.execute(query).all()
    by = getattr(CategorySalesByPeriod, key)
    tickets = dict(c.execute(sa.select(by, sa.func.sum(CategorySalesByPeriod.tickets))
                             .where(*_scope(c, CategorySalesByPeriod, f), by.in_([row.id for row in rows]))
                             .group_by(by)).all())
    return [{"id": row.id, **{column.key: getattr(row, column.key) for column in columns}, **_money_row(row),
             "tickets": int(tickets.get(row.id, 0))} for row in rows]


def top_events_table(c: Connection, f: ReportFilter) -> Table:
    rows = _top(c, f, "event_id", lambda event_id: (
        [Event.title, Event.starts_at, Venue.name.label("venue")],
        lambda q: q.join(Event, Event.event_id == event_id).join(Venue, Venue.venue_id == Event.venue_id)))
    return Table("top-events", "Top events by net revenue",
                 (Column("title", "Event"), Column("venue", "Venue"), Column("starts_at", "Starts", "datetime"),
                  TICKETS, *MONEY_COLUMNS), rows,
                 note="Bookings made in the period and what has been refunded of them since.")


def top_venues_table(c: Connection, f: ReportFilter) -> Table:
    rows = _top(c, f, "venue_id", lambda venue_id: (
        [Venue.name.label("venue"), Venue.city], lambda q: q.join(Venue, Venue.venue_id == venue_id)))
    return Table("top-venues", "Venues by net revenue",
                 (Column("venue", "Venue"), Column("city", "City"), TICKETS, *MONEY_COLUMNS), rows)


def _revenue_group(c: Connection, f: ReportFilter) -> Group:
    events, venues = top_events_table(c, f), top_venues_table(c, f)
    return Group("revenue", "Top events and venues",
                 "Where the money comes from: the events and venues with the highest net revenue.",
                 [Chart("chart-top-events", "Top events by net revenue", "bar", [r["title"] for r in events.rows],
                        [Dataset("Net revenue", [r["net_revenue"] for r in events.rows], "#4f46e5")],
                        horizontal=True,
                        description="Horizontal bars: net revenue of the ten best-earning events."),
                  Chart("chart-top-venues", "Venues by net revenue", "bar", [r["venue"] for r in venues.rows],
                        [Dataset("Net revenue", [r["net_revenue"] for r in venues.rows], "#0d9488")],
                        description="Bars: net revenue per venue.")],
                 [events, venues])


# ---------------------------------------------------------------- 2. monthly revenue and growth

def monthly_table(c: Connection, f: ReportFilter) -> Table:
    """GetEventRevenueByMonth's months, with the months between them that sold nothing, and each month's
    growth of net revenue over the month before (None after a month without revenue)."""
    found = {row.month: row for row in c.execute(
        sa.text("CALL GetEventRevenueByMonth(:event_id, :venue_id, :first, :last)"),
        {"event_id": f.event_id, "venue_id": f.venue_id, "first": f.date_from, "last": f.date_to})}
    rows: list[dict[str, Any]] = []
    if found:
        month, last = dt.date.fromisoformat(min(found)), dt.date.fromisoformat(max(found))
        previous: Decimal | None = None
        while month <= last:
            row = found.get(month.isoformat())
            net = money(row.net_revenue) if row else money(0)
            rows.append({"month": month, "bookings": int(row.bookings) if row else 0,
                         "tickets": int(row.tickets) if row else 0,
                         "booked_total": money(row.gross_revenue) if row else money(0),
                         "refunded": money(row.refunded) if row else money(0), "net_revenue": net,
                         "growth_pct": percent(net - previous, previous) if previous and previous > 0 else None})
            previous = net
            month = (month + 32 * DAY).replace(day=1)
    return Table("monthly", "Revenue per month",
                 (Column("month", "Month", "month"), TICKETS, *MONEY_COLUMNS,
                  Column("growth_pct", "Growth", "percent")),
                 rows, note="Growth: the month's net revenue against the month before.")


def _monthly_group(c: Connection, f: ReportFilter) -> Group:
    months = monthly_table(c, f)
    labels = [f"{row['month']:%b %Y}" for row in months.rows]
    return Group("monthly", "Monthly revenue and growth",
                 "Net revenue of the bookings made each month (CALL GetEventRevenueByMonth), and the change on "
                 "the month before.",
                 [Chart("chart-monthly", "Net revenue per month", "bar", labels,
                        [Dataset("Net revenue", [r["net_revenue"] for r in months.rows], "#4f46e5"),
                         Dataset("Growth on the month before", [r["growth_pct"] for r in months.rows], "#db2777",
                                 line_format="percent")],
                        description="Bars: net revenue per month; line: growth on the month before, in per cent.")],
                 [months])


# ---------------------------------------------------------------- 3. seat categories and occupancy

def categories_table(c: Connection, f: ReportFilter) -> Table:
    s = CategorySalesByPeriod
    totals = (sa.select(s.category_id, sa.func.sum(s.tickets).label("tickets"),
                        sa.func.sum(s.tickets_refunded).label("tickets_refunded"),
                        sa.func.sum(s.revenue).label("revenue"))
              .where(*_scope(c, s, f)).group_by(s.category_id).subquery())
    found = c.execute(sa.select(SeatCategory.name, SeatCategory.colour, totals)
                      .join(totals, totals.c.category_id == SeatCategory.category_id)
                      .where(totals.c.tickets + totals.c.tickets_refunded > 0)
                      .order_by(SeatCategory.rank)).all()
    all_tickets = sum(int(row.tickets) for row in found)
    rows = [{"category": row.name, "colour": row.colour, "tickets": int(row.tickets),
             "share_pct": percent(row.tickets, all_tickets), "revenue": money(row.revenue),
             "average_price": ratio(row.revenue, row.tickets), "tickets_refunded": int(row.tickets_refunded)}
            for row in found]
    return Table("categories", "Sales by seat category",
                 (Column("category", "Seat category"), Column("tickets", "Tickets sold", "count"),
                  Column("share_pct", "Share of tickets", "percent"), Column("revenue", "Revenue", "money"),
                  Column("average_price", "Average paid", "money"), Column("tickets_refunded", "Refunded", "count")),
                 rows, note="Revenue: what the tickets still valid were paid, after discounts.")


@dataclass(frozen=True)
class Occupancy:
    """The events held in the period (started by now, not cancelled) and the events on sale now, whatever
    the period: each with its seats and tickets sold."""

    held: list[dict[str, Any]]
    on_sale: list[dict[str, Any]]


def _occupancy(c: Connection, f: ReportFilter) -> Occupancy:
    now = utcnow()
    held = sa.and_(Event.starts_at >= f.date_from, Event.starts_at < f.date_to + DAY, Event.starts_at < now)
    on_sale = sa.and_(Event.starts_at > now, Event.sales_start <= now, Event.sales_end > now)
    query = (sa.select(Event.event_id, Event.title, Event.starts_at, Venue.venue_id, Venue.name.label("venue"),
                       Event.seats_total, (Event.seats_total - Event.seats_available).label("sold"),
                       held.label("held"))
             .join(Venue, Venue.venue_id == Event.venue_id)
             .where(Event.status == "on_sale", sa.or_(held, on_sale)))
    if f.venue_id:
        query = query.where(Event.venue_id == f.venue_id)
    if f.event_id:
        query = query.where(Event.event_id == f.event_id)
    events = [{"event_id": r.event_id, "title": r.title, "starts_at": r.starts_at, "venue_id": r.venue_id,
               "venue": r.venue, "seats": int(r.seats_total), "sold": int(r.sold),
               "occupancy_pct": percent(r.sold, r.seats_total), "held": bool(r.held)} for r in c.execute(query)]
    return Occupancy([e for e in events if e["held"]], [e for e in events if not e["held"]])


EVENT_OCCUPANCY_COLUMNS = (Column("title", "Event"), Column("venue", "Venue"), Column("starts_at", "Starts", "datetime"),
                           Column("seats", "Seats", "count"), Column("sold", "Sold", "count"),
                           Column("occupancy_pct", "Occupancy", "percent"))


def held_events_table(occupancy: Occupancy) -> Table:
    rows = sorted(occupancy.held, key=lambda r: (-(r["occupancy_pct"] or 0), r["starts_at"], r["event_id"]))
    return Table("occupancy-held", "Events held in the period, fullest first", EVENT_OCCUPANCY_COLUMNS, rows,
                 shown=LISTED)


def on_sale_events_table(occupancy: Occupancy) -> Table:
    rows = sorted(occupancy.on_sale, key=lambda r: (r["starts_at"], r["event_id"]))
    return Table("occupancy-on-sale", "On sale now, soonest first", EVENT_OCCUPANCY_COLUMNS, rows, shown=LISTED,
                 note="Events on sale today, whatever the period.")


def venue_occupancy_table(occupancy: Occupancy) -> Table:
    venues: dict[int, dict[str, Any]] = {}
    for side, events in (("held", occupancy.held), ("on_sale", occupancy.on_sale)):
        for e in events:
            venue = venues.setdefault(e["venue_id"], {"venue": e["venue"], **{
                f"{s}_{k}": 0 for s in ("held", "on_sale") for k in ("events", "seats", "sold")}})
            venue[f"{side}_events"] += 1
            venue[f"{side}_seats"] += e["seats"]
            venue[f"{side}_sold"] += e["sold"]
    rows = []
    for venue in sorted(venues.values(), key=lambda v: v["venue"]):
        venue["held_pct"] = percent(venue["held_sold"], venue["held_seats"])
        venue["on_sale_pct"] = percent(venue["on_sale_sold"], venue["on_sale_seats"])
        rows.append(venue)
    return Table("occupancy-venues", "Occupancy by venue",
                 (Column("venue", "Venue"), Column("held_events", "Events held", "count"),
                  Column("held_seats", "Seats offered", "count"), Column("held_sold", "Sold", "count"),
                  Column("held_pct", "Occupancy", "percent"), Column("on_sale_events", "On sale now", "count"),
                  Column("on_sale_seats", "Seats offered", "count"), Column("on_sale_sold", "Sold", "count"),
                  Column("on_sale_pct", "Occupancy", "percent")),
                 rows, note="Tickets sold ÷ seats offered: for the events held in the period, and for the "
                            "events on sale now.")


def _seats_group(c: Connection, f: ReportFilter, occupancy: Occupancy) -> Group:
    categories = categories_table(c, f)
    venues = venue_occupancy_table(occupancy)
    return Group("seats", "Seat categories and occupancy",
                 "Which seats sell, and how full the venues get.",
                 [Chart("chart-categories", "Tickets by seat category", "doughnut",
                        [r["category"] for r in categories.rows],
                        [Dataset("Tickets sold", [r["tickets"] for r in categories.rows])], format="count",
                        colors=[r["colour"] for r in categories.rows],
                        description="Doughnut: tickets sold per seat category."),
                  Chart("chart-occupancy", "Occupancy by venue", "bar", [r["venue"] for r in venues.rows],
                        [Dataset("Held in the period", [r["held_pct"] for r in venues.rows], "#4f46e5"),
                         Dataset("On sale now", [r["on_sale_pct"] for r in venues.rows], "#f59e0b")],
                        format="percent",
                        description="Grouped bars: per venue, the share of seats sold for events held in the "
                                    "period and for events on sale now.")],
                 [categories, venues, held_events_table(occupancy), on_sale_events_table(occupancy)])


# ---------------------------------------------------------------- 4. customers and payments

def customer_types_table(c: Connection, f: ReportFilter) -> Table:
    s = SalesByPeriod
    found = {row.customer_type: row for row in c.execute(
        sa.select(s.customer_type, *_sales_totals()).where(*_scope(c, s, f)).group_by(s.customer_type))}
    all_net = sum((money(r.booked_total) - money(r.refunded) for r in found.values()), Decimal("0.00"))
    rows = []
    for customer_type in CUSTOMER_TYPES:
        if customer_type in found:
            row = _money_row(found[customer_type])
            rows.append({"customer_type": TYPE_NAMES[customer_type], "key": customer_type, **row,
                         "average_order": ratio(row["booked_total"], row["bookings"]),
                         "share_pct": percent(row["net_revenue"], all_net)})
    return Table("customer-types", "Sales by customer type",
                 (Column("customer_type", "Customers"), *MONEY_COLUMNS,
                  Column("average_order", "Average order", "money"),
                  Column("share_pct", "Share of net revenue", "percent")), rows,
                 note="Customers count under their type today: a customer who became a VIP brings their history.")


def repeat_buyers_table(c: Connection) -> Table:
    s = CustomerSales
    found = {row.customer_type: row for row in c.execute(
        sa.select(s.customer_type, sa.func.count().label("buyers"),
                  sa.func.sum(sa.case((s.bookings >= 2, 1), else_=0)).label("repeat_buyers"),
                  sa.func.sum(s.bookings).label("bookings"), sa.func.sum(s.net_spend).label("net"))
        .where(s.bookings > 0).group_by(s.customer_type))}
    rows = [{"customer_type": TYPE_NAMES[t], "buyers": int(found[t].buyers),
             "repeat_buyers": int(found[t].repeat_buyers),
             "repeat_pct": percent(found[t].repeat_buyers, found[t].buyers),
             "bookings_per_buyer": ratio(found[t].bookings, found[t].buyers),
             "net_per_buyer": ratio(found[t].net, found[t].buyers)}
            for t in CUSTOMER_TYPES if t in found]
    return Table("repeat-buyers", "Repeat buyers (all time)",
                 (Column("customer_type", "Customers"), Column("buyers", "Buyers", "count"),
                  Column("repeat_buyers", "Bought twice or more", "count"),
                  Column("repeat_pct", "Repeat buyers", "percent"),
                  Column("bookings_per_buyer", "Bookings per buyer", "number"),
                  Column("net_per_buyer", "Net spend per buyer", "money")), rows,
                 note="Every booking ever made: not narrowed by the period, venue or event.")


def payments_table(c: Connection, f: ReportFilter) -> Table:
    s = PaymentsByPeriod
    totals = (sa.select(s.method_id, s.customer_type, sa.func.sum(s.charges).label("charges"),
                        sa.func.sum(s.captured).label("captured"),
                        sa.func.sum(s.captured_amount).label("captured_amount"),
                        sa.func.sum(s.declines).label("declines"), sa.func.sum(s.failures).label("failures"),
                        sa.func.sum(s.refunds).label("refunds"),
                        sa.func.sum(s.refunded_amount).label("refunded_amount"))
              .where(*_scope(c, s, f, by_event=False)).group_by(s.method_id, s.customer_type).subquery())
    found = c.execute(sa.select(PaymentMethod.name, totals)
                      .join(totals, totals.c.method_id == PaymentMethod.method_id)
                      .where(totals.c.charges + totals.c.refunds > 0)
                      .order_by(PaymentMethod.method_id, totals.c.customer_type)).all()
    rows = [{"method": r.name, "method_id": r.method_id, "customer_type": TYPE_NAMES[r.customer_type],
             "key": r.customer_type, "charges": int(r.charges), "captured": int(r.captured),
             "captured_amount": money(r.captured_amount), "average_payment": ratio(r.captured_amount, r.captured),
             "declines": int(r.declines), "failures": int(r.failures),
             "decline_pct": percent(r.declines + r.failures, r.charges), "refunds": int(r.refunds),
             "refunded_amount": money(r.refunded_amount),
             "refund_pct": percent(r.refunded_amount, r.captured_amount)} for r in found]
    note = ("Payments made in the period, declined and failed attempts included. Fail rate: declined or "
            "failed of attempts; refund rate: refunded of the amount paid.")
    if f.venue_id:
        note += " A declined payment has no booking, so no venue: none show for one venue."
    if f.event_id:
        note += " Payments are counted per venue, not per event: these are not narrowed to the event."
    return Table("payments", "Payment behaviour by method (PaymentSummary, for the period)",
                 (Column("method", "Method"), Column("customer_type", "Customers"),
                  Column("charges", "Attempts", "count"), Column("captured", "Paid", "count"),
                  Column("captured_amount", "Amount paid", "money"), Column("average_payment", "Average", "money"),
                  Column("declines", "Declined", "count"), Column("failures", "Failed", "count"),
                  Column("decline_pct", "Fail rate", "percent"), Column("refunds", "Refunds", "count"),
                  Column("refunded_amount", "Refunded", "money"), Column("refund_pct", "Refund rate", "percent")),
                 rows, note=note)


def _customers_group(c: Connection, f: ReportFilter) -> Group:
    types = customer_types_table(c, f)
    payments = payments_table(c, f)
    methods = list(dict.fromkeys(r["method"] for r in payments.rows))
    by_method = {(r["method"], r["key"]): r["captured_amount"] for r in payments.rows}
    return Group("customers", "Customers and payments",
                 "Regular customers against VIPs, how they pay, and what goes wrong.",
                 [Chart("chart-customer-types", "Net revenue by customer type", "doughnut",
                        [r["customer_type"] for r in types.rows],
                        [Dataset("Net revenue", [r["net_revenue"] for r in types.rows])],
                        colors=[TYPE_COLOURS[r["key"]] for r in types.rows],
                        description="Doughnut: net revenue of regular customers and of VIPs."),
                  Chart("chart-payment-mix", "Payment method mix", "bar", methods,
                        [Dataset(TYPE_NAMES[t], [by_method.get((m, t), Decimal("0.00")) for m in methods],
                                 TYPE_COLOURS[t]) for t in CUSTOMER_TYPES],
                        stacked=True,
                        description="Stacked bars: the amount paid with each method, by regular customers and VIPs.")],
                 [types, payments, repeat_buyers_table(c)])


# ---------------------------------------------------------------- the dashboard

@dataclass(frozen=True)
class Group:
    id: str
    title: str
    intro: str
    charts: list[Chart]
    tables: list[Table]


@dataclass(frozen=True)
class Dashboard:
    filter: ReportFilter
    kpis: Kpis
    groups: list[Group]


def dashboard(f: ReportFilter) -> Dashboard:
    """Every figure of the dashboards for the filter, read in one snapshot."""
    with _reports() as c:
        occupancy = _occupancy(c, f)
        return Dashboard(f, _kpis(c, f, occupancy.held), [
            _revenue_group(c, f), _monthly_group(c, f), _seats_group(c, f, occupancy), _customers_group(c, f)])


def table(name: str, f: ReportFilter) -> Table:
    """One table of the dashboards with every row (for the CSV export). Raises UnknownTable."""
    for group in dashboard(f).groups:
        for found in group.tables:
            if found.name == name:
                return replace(found, shown=None)
    raise UnknownTable(name)
