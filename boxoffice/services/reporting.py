"""The dashboards: key figures, four groups of charts and tables, and the CSV tables, for a filter (a booking
period, a venue, an event, a customer type, a payment method).

Every query runs on the `reports` bind: the read-only database user, which can SELECT and call
GetEventRevenueByMonth and can write nothing. The sales figures come from the summary tables
(sql/migrations/0004_reporting.sql) that triggers keep exact, and from their rollups (0020: per venue rather
than per event, buyers per customer type rather than per customer) wherever a figure is not per event, so a
dashboard reads a few thousand rows whatever the size of the box office; one dashboard is read in one
transaction, so its figures agree with each other.

Few statements, each read once (`_Reads`), and each returning what the page shows rather than summary rows
to add up in Python (parsing thousands of rows cost more than the SQL): the summaries' date bounds in one
statement; the sales in one, added up two ways (the top events with their tickets; per venue and customer
type, with the fully refunded bookings, which the average order value leaves out), from which the key
figures and three tables come; the tickets per seat category and per venue in one; the payments in one;
occupancy, the monthly procedure and repeat buyers one each. A CSV export reads only what its own table
is made of.

Customers are counted in three segments, as the summaries keep them (customers.segment): Regular customers
(with an account), VIPs, and guests (who paid without an account). The filter and the tables call the
segment the customer type.

A period counts bookings by the day they were made; a booking's refunds count with it, whenever they
happened. Payments count on the day they were made. Occupancy is about events held in the period, and
events on sale now. The customer-type filter narrows what the summaries keep per customer type (sales,
payments, buyers); the payment-method filter narrows the payments; `Dashboard.not_narrowed` says which
figures a filter leaves as they are.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from decimal import Decimal
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from ..clock import utcnow
from ..models import (
    BuyerCounts, CategorySalesByPeriod, Event, PaymentMethod, PaymentsByPeriod, SalesByPeriod, SeatCategory,
    Venue, VenueCategorySalesByPeriod, VenueSalesByPeriod,
)
from . import replica
from .reports_figures import Chart, Column, Dataset, Table, money, percent, ratio

DAY = dt.timedelta(days=1)
CUSTOMER_TYPES = ("regular", "vip", "guest")
TYPE_NAMES = {"regular": "Regular", "vip": "VIP", "guest": "Guest"}
TYPE_COLOURS = {"regular": "#4f46e5", "vip": "#db2777", "guest": "#d97706"}
# The top events and venues charts and tables show this many; per-event occupancy lists show this many rows
# on the page (their CSV has them all).
TOP = 10
LISTED = 15

# What the page says the figures are (templates/reports/_dashboard.html shows them).
DEFINITIONS = (
    ("Sales", "What the bookings made in the period cost their buyers, after VIP and promo discounts."),
    ("Refunded", "What has been paid back of those bookings since, whenever it was paid back."),
    ("Net revenue", "Sales less refunded."),
    ("Average order value", "Sales of the bookings not fully refunded, divided by their number."),
    ("Tickets sold", "Tickets of those bookings still valid or used at the door (refunded tickets left out)."),
    ("Occupancy", "Tickets sold divided by seats offered, for the events held in the period (or on sale now)."),
    ("Customer types", "Regular: customers with an account. VIP: members with a VIP rate. Guest: buyers who paid "
                       "without an account."),
)


# What the sales read adds up (_Reads.sales).
SALES_FIGURES = ("bookings", "booked_total", "refunded", "refunded_bookings", "refunded_bookings_total")


class UnknownTable(LookupError):
    """No dashboard table has this name."""


# ---------------------------------------------------------------- the filter and its period

@dataclass(frozen=True)
class ReportFilter:
    """What a dashboard shows: bookings made from `date_from` to `date_to` (both days included), at one venue,
    for one event, by one customer type ('regular', 'vip' or 'guest'), paid with one payment method, or
    everywhere (None)."""

    date_from: dt.date
    date_to: dt.date
    venue_id: int | None = None
    event_id: int | None = None
    customer_type: str | None = None
    method_id: int | None = None

    def as_query(self) -> dict[str, str]:
        """The filter as URL query arguments (the dashboard's GET form uses the same names)."""
        query = {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat()}
        if self.venue_id:
            query["venue"] = str(self.venue_id)
        if self.event_id:
            query["event"] = str(self.event_id)
        if self.customer_type:
            query["customers"] = self.customer_type
        if self.method_id:
            query["method"] = str(self.method_id)
        return query

    @property
    def scoped(self) -> bool:
        """Narrowed to a venue or an event."""
        return bool(self.venue_id or self.event_id)


def default_filter(today: dt.date | None = None) -> ReportFilter:
    """The last twelve months up to today, everywhere."""
    today = today or utcnow().date()
    return ReportFilter(today - 364 * DAY, today)


def presets(f: ReportFilter, first_sale: dt.date | None, today: dt.date | None = None
            ) -> list[tuple[str, ReportFilter]]:
    """Quick periods for the same venue, event, customers and method: the last 30 and 90 days, twelve
    months, and all time (from the first booking ever)."""
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


def _reports() -> Connection:
    """A connection as the read-only reporting user; its first query fixes the snapshot every later one sees.
    On the replica when one is configured and fresh enough, else the primary (boxoffice/services/replica.py)."""
    return replica.reports_source().engine.connect()


# ---------------------------------------------------------------- what the filter form offers

@dataclass(frozen=True)
class Choices:
    venues: list[tuple[int, str]]
    # The events of the filter's venue (or of its event's venue), (event id, label) in start order; none when
    # the filter has neither: a venue is chosen first (a list of every event ever is no use to anyone).
    events: list[tuple[int, str]]
    methods: list[tuple[int, str]]
    first_sale: dt.date | None


def filter_choices(f: ReportFilter) -> Choices:
    """The venues, the events of the filter's venue, and the payment methods a dashboard can be narrowed to,
    and the day of the first booking ever."""
    with _reports() as c:
        venue_id = f.venue_id or (f.event_id and c.scalar(sa.select(Event.venue_id)
                                                          .where(Event.event_id == f.event_id)))
        events = c.execute(sa.select(Event.event_id, Event.title, Event.starts_at)
                           .where(Event.venue_id == venue_id, Event.status != "draft")
                           .order_by(Event.starts_at, Event.event_id)).all() if venue_id else []
        venues = c.execute(sa.select(Venue.venue_id, Venue.name, Venue.city).order_by(Venue.name)).all()
        methods_and_first = c.execute(sa.select(
            PaymentMethod.method_id, PaymentMethod.name,
            sa.select(sa.func.min(SalesByPeriod.period)).where(SalesByPeriod.grain == "day").scalar_subquery())
            .order_by(PaymentMethod.method_id)).all()
    first_sale = methods_and_first[0][2] if methods_and_first else None
    return Choices([(v.venue_id, f"{v.name}, {v.city}") for v in venues],
                   [(event_id, f"{starts_at:%d %b %Y} · {title}") for event_id, title, starts_at in events],
                   [(m.method_id, m.name) for m in methods_and_first], first_sale)


def within_choices(f: ReportFilter, choices: Choices) -> ReportFilter:
    """The filter without its event when that event is not one of the choices (another venue was chosen
    since, or the event is gone): the dashboard then shows what the form shows."""
    if f.event_id and f.event_id not in {event_id for event_id, _ in choices.events}:
        return replace(f, event_id=None)
    return f


def describe(f: ReportFilter) -> str:
    """The filter in words, for headings and shared pages."""
    parts = [f"Bookings {f.date_from:%d %b %Y} – {f.date_to:%d %b %Y}"]
    if f.event_id or f.venue_id or f.method_id:
        with _reports() as c:
            if f.event_id:
                found = c.execute(sa.select(Event.title, Event.starts_at).where(Event.event_id == f.event_id)).first()
                parts.append(f"{found.title} ({found.starts_at:%d %b %Y})" if found
                             else "an event that no longer exists")
            if f.venue_id:
                name = c.scalar(sa.select(Venue.name).where(Venue.venue_id == f.venue_id))
                parts.append(name or "a venue that no longer exists")
            if f.method_id:
                method = c.scalar(sa.select(PaymentMethod.name).where(PaymentMethod.method_id == f.method_id))
                parts.append(f"paid by {method or 'a method that no longer exists'}")
    if f.customer_type:
        parts.append(f"{TYPE_NAMES[f.customer_type]} customers" if f.customer_type != "guest" else "guests")
    return " · ".join(parts)


# ---------------------------------------------------------------- reading the summaries, once each

class _Reads:
    """What a dashboard (or one of its tables) is made of, each read once, when first needed, on one
    connection (one snapshot)."""

    def __init__(self, c: Connection, f: ReportFilter, listed: int | None = LISTED):
        # How many events the per-event occupancy lists read (None: all of them, for their CSV).
        self.c, self.f, self.listed = c, f, listed

    @cached_property
    def bounds(self) -> dict[str, tuple[dt.date | None, dt.date | None]]:
        """The first and last day of the day rows of each summary table, in one statement (each end is
        one step of the primary key)."""
        tables = {"sales": SalesByPeriod, "categories": CategorySalesByPeriod, "payments": PaymentsByPeriod}
        columns = []
        for name, t in tables.items():
            day = t.grain == "day"
            columns += [sa.select(sa.func.min(t.period)).where(day).scalar_subquery().label(f"{name}_first"),
                        sa.select(sa.func.max(t.period)).where(day).scalar_subquery().label(f"{name}_last")]
        row = self.c.execute(sa.select(*columns)).one()
        return {name: (getattr(row, f"{name}_first"), getattr(row, f"{name}_last")) for name in tables}

    def scope(self, name: str, table, *, by_event: bool = True) -> list[sa.ColumnElement[bool]]:
        """The conditions that pick a summary table's rows for the filter's period, venue and event."""
        data_first, data_last = self.bounds[name]
        f = self.f
        first, last = max(f.date_from, data_first or f.date_from), min(f.date_to, data_last or f.date_to)
        if data_first is None or first > last:
            return [sa.false()]
        conditions = [Period(first, last, data_first, data_last).rows_of(table)]
        if f.venue_id:
            conditions.append(table.venue_id == f.venue_id)
        if f.event_id and by_event:
            conditions.append(table.event_id == f.event_id)
        return conditions

    @cached_property
    def sales(self) -> list[RowMapping]:
        """The filter's sales added up two ways in one statement, a few rows each however many events there
        are (what the page shows, not the summary rows: parsing thousands of rows cost more than the SQL):
        part 'event', the TOP best-earning events, with their title, start, venue and tickets still sold (not
        kept per customer type), from the per-event summary; part 'venue_type', per venue and customer type,
        with the venue's name, from the venues' rollup (the event's own rows for one event). Each: bookings,
        sales, refunded, and the bookings fully refunded and their cost."""
        s, c = SalesByPeriod, CategorySalesByPeriod
        per_venue = s if self.f.event_id else VenueSalesByPeriod

        def figures(table, *keys) -> sa.Select:
            conditions = self.scope("sales", table, by_event=table is s)
            if self.f.customer_type:
                conditions.append(table.customer_type == self.f.customer_type)
            return (sa.select(*keys, *(sa.func.sum(getattr(table, name)).label(name) for name in SALES_FIGURES))
                    .where(*conditions).group_by(*keys))

        top = (figures(s, s.event_id).having(sa.func.sum(s.bookings) > 0)
               .order_by((sa.func.sum(s.booked_total) - sa.func.sum(s.refunded)).desc(), s.event_id)
               .limit(TOP).subquery("top"))
        by_venue = figures(per_venue, per_venue.venue_id, per_venue.customer_type).subquery("by_venue")
        nothing = sa.null()
        events = (sa.select(sa.literal("event").label("part"), top.c.event_id.label("id"),
                            nothing.label("customer_type"), *(top.c[name] for name in SALES_FIGURES),
                            # Each event's tickets through the summary's event index: a few dozen rows each.
                            sa.select(sa.func.sum(c.tickets)).where(c.event_id == top.c.event_id,
                                                                    *self.scope("categories", c))
                            .scalar_subquery().label("tickets"), Event.title, Event.starts_at,
                            Venue.name.label("venue"), Venue.city)
                  .join(Event, Event.event_id == top.c.event_id).join(Venue, Venue.venue_id == Event.venue_id))
        venues = (sa.select(sa.literal("venue_type"), by_venue.c.venue_id, by_venue.c.customer_type,
                            *(by_venue.c[name] for name in SALES_FIGURES), nothing, nothing, nothing, Venue.name,
                            Venue.city)
                  .join(Venue, Venue.venue_id == by_venue.c.venue_id))
        return list(self.c.execute(sa.union_all(events, venues)).mappings())

    def sales_part(self, part: str) -> list[Any]:
        """The sales of the top events ('event'), or added up per venue ('venue') or per customer type
        ('type') from the rows per venue and customer type."""
        if part == "event":
            return [row for row in self.sales if row["part"] == "event"]
        key = {"venue": "id", "type": "customer_type"}[part]
        totals: dict[Any, dict[str, Any]] = {}
        for row in self.sales:
            if row["part"] == "venue_type":
                found = totals.setdefault(row[key], {"id": row["id"], "customer_type": row["customer_type"],
                                                     "venue": row["venue"], "city": row["city"], **dict.fromkeys(
                                                         SALES_FIGURES, 0)})
                for figure in SALES_FIGURES:
                    found[figure] += row[figure] or 0
        return list(totals.values())

    @cached_property
    def tickets(self) -> list[RowMapping]:
        """The tickets in the filter's period, venue and event, in one statement: part 'category', per seat
        category, the tickets still sold, refunded and their revenue; part 'venue', per venue, the tickets still
        sold. From the venues' rollup (the event's own rows for one event). Not kept per customer type or
        payment method."""
        s = CategorySalesByPeriod if self.f.event_id else VenueCategorySalesByPeriod
        conditions = self.scope("categories", s, by_event=s is CategorySalesByPeriod)
        categories = (sa.select(sa.literal("category").label("part"), s.category_id.label("id"),
                                sa.func.sum(s.tickets).label("tickets"),
                                sa.func.sum(s.tickets_refunded).label("tickets_refunded"),
                                sa.func.sum(s.revenue).label("revenue"))
                      .where(*conditions).group_by(s.category_id))
        venues = (sa.select(sa.literal("venue"), s.venue_id, sa.func.sum(s.tickets), sa.null(), sa.null())
                  .where(*conditions).group_by(s.venue_id))
        return list(self.c.execute(sa.union_all(categories, venues)).mappings())

    @cached_property
    def fully_refunded(self) -> dict[str, tuple[int, Decimal]]:
        """Per customer type: the number and cost of the bookings in the filter that are fully refunded (left
        out of the average order value), from the sales (the summaries keep them apart)."""
        return {row["customer_type"]: (int(row["refunded_bookings"]), money(row["refunded_bookings_total"]))
                for row in self.sales_part("type") if row["refunded_bookings"]}

    @cached_property
    def payments(self) -> list[sa.Row]:
        """Per payment method and customer type: payments made in the period (at the venue), one statement."""
        s = PaymentsByPeriod
        conditions = self.scope("payments", s, by_event=False)
        if self.f.customer_type:
            conditions.append(s.customer_type == self.f.customer_type)
        if self.f.method_id:
            conditions.append(s.method_id == self.f.method_id)
        totals = (sa.select(s.method_id, s.customer_type, sa.func.sum(s.charges).label("charges"),
                            sa.func.sum(s.captured).label("captured"),
                            sa.func.sum(s.captured_amount).label("captured_amount"),
                            sa.func.sum(s.declines).label("declines"), sa.func.sum(s.failures).label("failures"),
                            sa.func.sum(s.refunds).label("refunds"),
                            sa.func.sum(s.refunded_amount).label("refunded_amount"))
                  .where(*conditions).group_by(s.method_id, s.customer_type).subquery())
        return self.c.execute(sa.select(PaymentMethod.name, totals)
                              .join(totals, totals.c.method_id == PaymentMethod.method_id)
                              .where(totals.c.charges + totals.c.refunds > 0)
                              .order_by(PaymentMethod.method_id, totals.c.customer_type)).all()

    @cached_property
    def occupancy(self) -> Occupancy:
        return _occupancy(self.c, self.f, self.listed)


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


def _sum(rows, key: str) -> Decimal | int:
    return sum((row[key] or 0 for row in rows), 0)


def _kpis(r: _Reads) -> Kpis:
    """The key figures; occupancy of the events held in the period."""
    types = r.sales_part("type")
    bookings, booked, refunded = _sum(types, "bookings"), money(_sum(types, "booked_total")), \
        money(_sum(types, "refunded"))
    gone = r.fully_refunded.values()
    kept = int(bookings) - sum(n for n, _ in gone)
    venues = r.occupancy.venues
    return Kpis(net_revenue=booked - refunded, refunded=refunded, bookings=int(bookings),
                tickets_sold=int(_sum([row for row in r.tickets if row["part"] == "category"], "tickets")),
                average_order=ratio(booked - sum((total for _, total in gone), Decimal("0.00")), kept),
                occupancy_pct=percent(_sum(venues, "held_sold"), _sum(venues, "held_seats")),
                events_held=int(_sum(venues, "held_events")))


# ---------------------------------------------------------------- 1. top events and venues

MONEY_COLUMNS = (Column("bookings", "Bookings", "count"), Column("booked_total", "Sales", "money"),
                 Column("refunded", "Refunded", "money"), Column("net_revenue", "Net revenue", "money"))
TICKETS = Column("tickets", "Tickets sold", "count")


def _money_row(bookings, booked_total, refunded) -> dict[str, Any]:
    return {"bookings": int(bookings), "booked_total": money(booked_total), "refunded": money(refunded),
            "net_revenue": money(booked_total) - money(refunded)}


def _top(rows: list[RowMapping], names: tuple[str, ...], tickets: dict[int, int]) -> list[dict[str, Any]]:
    """The TOP best-earning of the sales' events or venues, with their tickets sold (by id)."""
    ranked = sorted((row for row in rows if row["bookings"] > 0),
                    key=lambda row: (-(money(row["booked_total"]) - money(row["refunded"])), row["id"]))[:TOP]
    return [{**{name: row[name] for name in names}, "id": row["id"],
             **_money_row(row["bookings"], row["booked_total"], row["refunded"]), "tickets": tickets.get(row["id"], 0)}
            for row in ranked]


def top_events_table(r: _Reads) -> Table:
    events = r.sales_part("event")
    rows = _top(events, ("title", "starts_at", "venue"), {row["id"]: int(row["tickets"] or 0) for row in events})
    note = "Bookings made in the period and what has been refunded of them since."
    if r.f.customer_type:
        note += " Tickets sold are of every customer type (the tickets are not counted per customer type)."
    return Table("top-events", "Top events by net revenue",
                 (Column("title", "Event"), Column("venue", "Venue"), Column("starts_at", "Starts", "datetime"),
                  TICKETS, *MONEY_COLUMNS), rows, note=note)


def top_venues_table(r: _Reads) -> Table:
    rows = _top(r.sales_part("venue"), ("venue", "city"),
                {row["id"]: int(row["tickets"]) for row in r.tickets if row["part"] == "venue"})
    return Table("top-venues", "Venues by net revenue",
                 (Column("venue", "Venue"), Column("city", "City"), TICKETS, *MONEY_COLUMNS), rows)


def _revenue_group(r: _Reads) -> Group:
    events, venues = top_events_table(r), top_venues_table(r)
    return Group("revenue", "Top events and venues",
                 "Where the money comes from: the events and venues with the highest net revenue.",
                 [Chart("chart-top-events", "Top events by net revenue", "bar",
                        # The date first: a long title is cut short on the chart, the date never is.
                        [f"{row['starts_at']:%d %b %Y} · {row['title']}" for row in events.rows],
                        [Dataset("Net revenue", [row["net_revenue"] for row in events.rows], "#4f46e5")],
                        horizontal=True, value_title="Net revenue (€)", category_title="Event and date",
                        description="Horizontal bars: net revenue in euros of the ten best-earning events."),
                  Chart("chart-top-venues", "Venues by net revenue", "bar", [row["venue"] for row in venues.rows],
                        [Dataset("Net revenue", [row["net_revenue"] for row in venues.rows], "#0d9488")],
                        value_title="Net revenue (€)", category_title="Venue",
                        description="Bars: net revenue in euros per venue.")],
                 [events, venues])


# ---------------------------------------------------------------- 2. monthly revenue and growth

def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    month, months = first.replace(day=1), []
    while month <= last:
        months.append(month)
        month = (month + 32 * DAY).replace(day=1)
    return months


def monthly_table(r: _Reads) -> Table:
    """GetEventRevenueByMonth's months, every month of the chosen period shown (those that sold nothing as
    zero; all time starts at the first sale), with each month's growth of net revenue over the month before
    (None after a month without revenue). For every customer type and payment method."""
    f = r.f
    found = {row.month: row for row in r.c.execute(
        sa.text("CALL GetEventRevenueByMonth(:event_id, :venue_id, :first, :last)"),
        {"event_id": f.event_id, "venue_id": f.venue_id, "first": f.date_from, "last": f.date_to})}
    first_sale = r.bounds["sales"][0]
    first = max(f.date_from, first_sale) if first_sale else f.date_from
    rows: list[dict[str, Any]] = []
    previous: Decimal | None = None
    for month in _months(first, max(first, f.date_to)):
        row = found.get(month.isoformat())
        net = money(row.net_revenue) if row else money(0)
        rows.append({"month": month, "bookings": int(row.bookings) if row else 0,
                     "tickets": int(row.tickets) if row else 0,
                     "booked_total": money(row.gross_revenue) if row else money(0),
                     "refunded": money(row.refunded) if row else money(0), "net_revenue": net,
                     "growth_pct": percent(net - previous, previous) if previous and previous > 0 else None})
        previous = net
    return Table("monthly", "Revenue per month",
                 (Column("month", "Month", "month"), TICKETS, *MONEY_COLUMNS,
                  Column("growth_pct", "Growth", "percent")),
                 rows, note="Growth: the month's net revenue against the month before.")


def _monthly_group(r: _Reads) -> Group:
    months = monthly_table(r)
    labels = [f"{row['month']:%b %Y}" for row in months.rows]
    return Group("monthly", "Monthly revenue and growth",
                 "Net revenue of the bookings made each month of the period, and the change on the month before.",
                 [Chart("chart-monthly", "Net revenue per month", "bar", labels,
                        [Dataset("Net revenue", [row["net_revenue"] for row in months.rows], "#4f46e5"),
                         Dataset("Growth on the month before", [row["growth_pct"] for row in months.rows],
                                 "#db2777", line_format="percent")],
                        value_title="Net revenue (€)", category_title="Month booked", line_title="Growth (%)",
                        description="Bars: net revenue in euros per month; line: growth on the month before, "
                                    "in per cent.")],
                 [months])


# ---------------------------------------------------------------- 3. seat categories and occupancy

def categories_table(r: _Reads) -> Table:
    totals = {row["id"]: row for row in r.tickets if row["part"] == "category"}
    names = {c.category_id: c for c in r.c.execute(
        sa.select(SeatCategory.category_id, SeatCategory.name, SeatCategory.colour, SeatCategory.rank))} \
        if totals else {}
    found = sorted(((names[k], t) for k, t in totals.items() if t["tickets"] + t["tickets_refunded"] > 0),
                   key=lambda item: item[0].rank)
    all_tickets = sum(int(t["tickets"]) for _, t in found)
    rows = [{"category": c.name, "colour": c.colour, "tickets": int(t["tickets"]),
             "share_pct": percent(t["tickets"], all_tickets), "revenue": money(t["revenue"]),
             "average_price": ratio(t["revenue"], t["tickets"]), "tickets_refunded": int(t["tickets_refunded"])}
            for c, t in found]
    return Table("categories", "Sales by seat category",
                 (Column("category", "Seat category"), Column("tickets", "Tickets sold", "count"),
                  Column("share_pct", "Share of tickets", "percent"), Column("revenue", "Revenue", "money"),
                  Column("average_price", "Average paid", "money"), Column("tickets_refunded", "Refunded", "count")),
                 rows, note="Revenue: what the tickets still valid were paid, after discounts.")


@dataclass(frozen=True)
class Occupancy:
    """The events held in the period (started by now, not cancelled), fullest first, and the events on sale
    now whatever the period, soonest first: each with its seats and tickets sold, as many as were asked for;
    and per venue, both sides' events, seats and tickets sold added up."""

    held: list[dict[str, Any]]
    on_sale: list[dict[str, Any]]
    venues: list[dict[str, Any]]

    def count(self, side: str) -> int:
        return sum(venue[f"{side}_events"] for venue in self.venues)


def _occupancy(c: Connection, f: ReportFilter, listed: int | None) -> Occupancy:
    """One statement: the `listed` fullest events held and the `listed` soonest on sale (all with None), and
    the totals per venue and side, about forty rows where a year has hundreds of events."""
    now = utcnow()
    held = sa.and_(Event.starts_at >= f.date_from, Event.starts_at < f.date_to + DAY, Event.starts_at < now)
    on_sale = sa.and_(Event.starts_at > now, Event.sales_start <= now, Event.sales_end > now)
    tickets_sold = Event.seats_total - Event.seats_available
    sold = tickets_sold.label("sold")
    scope = [Event.status == "on_sale"]
    if f.venue_id:
        scope.append(Event.venue_id == f.venue_id)
    if f.event_id:
        scope.append(Event.event_id == f.event_id)

    def events(side: str, condition, *order) -> sa.Select:
        position = sa.func.row_number().over(order_by=(*order, Event.starts_at, Event.event_id)).label("position")
        ranked = (sa.select(sa.literal(side).label("part"), Event.venue_id, Event.event_id,
                            sa.literal(1).label("events"), Event.seats_total, sold, Event.title, Event.starts_at,
                            Venue.name, position)
                  .join(Venue, Venue.venue_id == Event.venue_id).where(*scope, condition).subquery())
        return sa.select(ranked).where(ranked.c.position <= listed if listed else sa.true())

    side = sa.case((held, "held"), else_="on_sale")
    totals = (sa.select(side.label("side"), Event.venue_id, sa.func.count().label("events"),
                        sa.func.sum(Event.seats_total).label("seats"), sa.func.sum(sold).label("sold"))
              .where(*scope, sa.or_(held, on_sale)).group_by(side, Event.venue_id).subquery())
    query = sa.union_all(
        # Fullest by the exact share of seats sold (a double: a DECIMAL division keeps four decimals).
        events("held", held, (tickets_sold * 1.0e0 / sa.func.nullif(Event.seats_total, 0)).desc()),
        events("on_sale", on_sale),
        sa.select(sa.literal("venue_") + totals.c.side, totals.c.venue_id, sa.null(), totals.c.events,
                  totals.c.seats, totals.c.sold, sa.null(), sa.null(), Venue.name, sa.null())
        .join(Venue, Venue.venue_id == totals.c.venue_id)).order_by("part", "position")
    listed_events: dict[str, list[dict[str, Any]]] = {"held": [], "on_sale": []}
    venues: dict[int, dict[str, Any]] = {}
    for part, venue_id, event_id, events_counted, seats, sold_tickets, title, starts_at, venue, _ in (
            c.execute(query)):
        if part in listed_events:
            listed_events[part].append({
                "event_id": int(event_id), "title": title, "starts_at": starts_at, "venue_id": venue_id,
                "venue": venue, "seats": int(seats), "sold": int(sold_tickets),
                "occupancy_pct": percent(sold_tickets, seats)})
        else:
            totals_of = venues.setdefault(venue_id, {"venue": venue, **{
                f"{s}_{k}": 0 for s in ("held", "on_sale") for k in ("events", "seats", "sold")}})
            side_name = part.removeprefix("venue_")
            totals_of.update({f"{side_name}_events": int(events_counted), f"{side_name}_seats": int(seats),
                              f"{side_name}_sold": int(sold_tickets)})
    return Occupancy(listed_events["held"], listed_events["on_sale"],
                     sorted(venues.values(), key=lambda v: v["venue"]))


EVENT_OCCUPANCY_COLUMNS = (Column("title", "Event"), Column("venue", "Venue"), Column("starts_at", "Starts", "datetime"),
                           Column("seats", "Seats", "count"), Column("sold", "Sold", "count"),
                           Column("occupancy_pct", "Occupancy", "percent"))


def held_events_table(r: _Reads) -> Table:
    return Table("occupancy-held", "Events held in the period, fullest first", EVENT_OCCUPANCY_COLUMNS,
                 r.occupancy.held, shown=LISTED, total=r.occupancy.count("held"))


def on_sale_events_table(r: _Reads) -> Table:
    return Table("occupancy-on-sale", "On sale now, soonest first", EVENT_OCCUPANCY_COLUMNS, r.occupancy.on_sale,
                 shown=LISTED, total=r.occupancy.count("on_sale"), note="Events on sale today, whatever the period.")


def venue_occupancy_table(r: _Reads) -> Table:
    rows = [{**venue, "held_pct": percent(venue["held_sold"], venue["held_seats"]),
             "on_sale_pct": percent(venue["on_sale_sold"], venue["on_sale_seats"])} for venue in r.occupancy.venues]
    return Table("occupancy-venues", "Occupancy by venue",
                 (Column("venue", "Venue"), Column("held_events", "Events held", "count"),
                  Column("held_seats", "Seats offered", "count"), Column("held_sold", "Sold", "count"),
                  Column("held_pct", "Occupancy", "percent"), Column("on_sale_events", "On sale now", "count"),
                  Column("on_sale_seats", "Seats offered", "count"), Column("on_sale_sold", "Sold", "count"),
                  Column("on_sale_pct", "Occupancy", "percent")),
                 rows, note="Tickets sold ÷ seats offered: for the events held in the period, and for the "
                            "events on sale now.")


def _seats_group(r: _Reads) -> Group:
    categories = categories_table(r)
    venues = venue_occupancy_table(r)
    return Group("seats", "Seat categories and occupancy",
                 "Which seats sell, and how full the venues get.",
                 [Chart("chart-categories", "Tickets by seat category", "doughnut",
                        [row["category"] for row in categories.rows],
                        [Dataset("Tickets sold", [row["tickets"] for row in categories.rows])], format="count",
                        colors=[row["colour"] for row in categories.rows],
                        description="Doughnut: tickets sold per seat category."),
                  Chart("chart-occupancy", "Occupancy by venue", "bar", [row["venue"] for row in venues.rows],
                        [Dataset("Held in the period", [row["held_pct"] for row in venues.rows], "#4f46e5"),
                         Dataset("On sale now", [row["on_sale_pct"] for row in venues.rows], "#f59e0b")],
                        format="percent", value_title="Seats sold (%)", category_title="Venue",
                        description="Grouped bars: per venue, the share of seats sold for events held in the "
                                    "period and for events on sale now.")],
                 [categories, venues, held_events_table(r), on_sale_events_table(r)])


# ---------------------------------------------------------------- 4. customers and payments

def customer_types_table(r: _Reads) -> Table:
    totals = {row["customer_type"]: row for row in r.sales_part("type")}
    all_net = sum((money(t["booked_total"]) - money(t["refunded"]) for t in totals.values()), Decimal("0.00"))
    rows = []
    for customer_type in CUSTOMER_TYPES:
        t = totals.get(customer_type)
        # A type with nothing in the period (all of its buyers became VIPs, say) is left out, not shown as zeros.
        if t is None or not (t["bookings"] or t["booked_total"] or t["refunded"]):
            continue
        row = _money_row(t["bookings"], t["booked_total"], t["refunded"])
        gone, gone_total = r.fully_refunded.get(customer_type, (0, Decimal("0.00")))
        rows.append({"customer_type": TYPE_NAMES[customer_type], "key": customer_type, **row,
                     "average_order": ratio(row["booked_total"] - gone_total, row["bookings"] - gone),
                     "share_pct": percent(row["net_revenue"], all_net)})
    return Table("customer-types", "Sales by customer type",
                 (Column("customer_type", "Customers"), *MONEY_COLUMNS,
                  Column("average_order", "Average order", "money"),
                  Column("share_pct", "Share of net revenue", "percent")), rows,
                 note="Guest: buyers who paid without an account. Customers count under their type today: a "
                      "customer who became a VIP, or a guest who made an account, brings their history. "
                      "Average order: of the bookings not fully refunded.")


def repeat_buyers_table(r: _Reads) -> Table | None:
    """Repeat buyers over all time, per customer type; None when the filter is for a venue or an event (the
    buyers are counted for the whole box office only)."""
    if r.f.scoped:
        return None
    # The buyers per type, and their bookings and net spend over all time (the month rows of the sales rollup).
    counts, s = BuyerCounts, VenueSalesByPeriod
    spend = (sa.select(s.customer_type, sa.func.sum(s.bookings).label("bookings"),
                       (sa.func.sum(s.booked_total) - sa.func.sum(s.refunded)).label("net"))
             .where(s.grain == "month").group_by(s.customer_type).subquery())
    buyers = (sa.select(counts.customer_type, sa.func.sum(counts.buyers).label("buyers"),
                        sa.func.sum(counts.repeat_buyers).label("repeat_buyers"))
              .group_by(counts.customer_type).having(sa.func.sum(counts.buyers) > 0).subquery())
    query = (sa.select(buyers, spend.c.bookings, spend.c.net)
             .join(spend, spend.c.customer_type == buyers.c.customer_type))
    if r.f.customer_type:
        query = query.where(buyers.c.customer_type == r.f.customer_type)
    found = {row.customer_type: row for row in r.c.execute(query)}
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
                 note="Every booking ever made, at every venue: not narrowed by the period or the payment method.")


def payments_table(r: _Reads) -> Table:
    f = r.f
    rows = [{"method": p.name, "method_id": p.method_id, "customer_type": TYPE_NAMES[p.customer_type],
             "key": p.customer_type, "charges": int(p.charges), "captured": int(p.captured),
             "captured_amount": money(p.captured_amount), "average_payment": ratio(p.captured_amount, p.captured),
             "declines": int(p.declines), "failures": int(p.failures),
             "decline_pct": percent(p.declines + p.failures, p.charges), "refunds": int(p.refunds),
             "refunded_amount": money(p.refunded_amount),
             "refund_pct": percent(p.refunded_amount, p.captured_amount)} for p in r.payments]
    note = ("Payments made in the period, declined and failed attempts included. Fail rate: declined or "
            "failed of attempts; refund rate: refunded of the amount paid.")
    if f.venue_id:
        note += " A declined payment has no booking, so no venue: none show for one venue."
    if f.event_id:
        note += " Payments are counted per venue, not per event: these are not narrowed to the event."
    return Table("payments", "Payments by method and customer type, in the period",
                 (Column("method", "Method"), Column("customer_type", "Customers"),
                  Column("charges", "Attempts", "count"), Column("captured", "Paid", "count"),
                  Column("captured_amount", "Amount paid", "money"), Column("average_payment", "Average", "money"),
                  Column("declines", "Declined", "count"), Column("failures", "Failed", "count"),
                  Column("decline_pct", "Fail rate", "percent"), Column("refunds", "Refunds", "count"),
                  Column("refunded_amount", "Refunded", "money"), Column("refund_pct", "Refund rate", "percent")),
                 rows, note=note)


def _customers_group(r: _Reads) -> Group:
    types = customer_types_table(r)
    payments = payments_table(r)
    methods = list(dict.fromkeys(row["method"] for row in payments.rows))
    by_method = {(row["method"], row["key"]): row["captured_amount"] for row in payments.rows}
    shown_types = [t for t in CUSTOMER_TYPES if r.f.customer_type in (None, t)]
    tables = [types, payments, repeat_buyers_table(r)]
    return Group("customers", "Customers and payments",
                 "Regular customers, VIPs and guests, how they pay, and what goes wrong.",
                 [Chart("chart-customer-types", "Net revenue by customer type", "doughnut",
                        [row["customer_type"] for row in types.rows],
                        [Dataset("Net revenue", [row["net_revenue"] for row in types.rows])],
                        colors=[TYPE_COLOURS[row["key"]] for row in types.rows],
                        description="Doughnut: net revenue in euros of each customer type (regular, VIP, "
                                    "guest)."),
                  Chart("chart-payment-mix", "Payment method mix", "bar", methods,
                        [Dataset(TYPE_NAMES[t], [by_method.get((m, t), Decimal("0.00")) for m in methods],
                                 TYPE_COLOURS[t]) for t in shown_types],
                        stacked=True, value_title="Amount paid (€)", category_title="Payment method",
                        description="Stacked bars: the amount paid in euros with each method, by customer "
                                    "type (regular, VIP, guest).")],
                 [table for table in tables if table is not None])


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
    # What the filter's customer type and payment method leave as they are, in words (empty without them).
    not_narrowed: list[str] = field(default_factory=list)
    definitions: tuple[tuple[str, str], ...] = DEFINITIONS
    # When read on a replica that lags: the (UTC) time its figures are as of, which the page says.
    as_of: dt.datetime | None = None


def not_narrowed(f: ReportFilter) -> list[str]:
    """The figures the filter's customer type and payment method do not narrow (the summaries do not keep
    them that way), to say so on the page."""
    notes = []
    if f.customer_type:
        notes.append("The customer type narrows sales, net revenue, bookings, the average order value, the top "
                     "events and venues, the customer types, the payments and the repeat buyers. Tickets sold, "
                     "the seat categories, occupancy and the monthly revenue are for every customer type.")
    if f.method_id:
        notes.append("The payment method narrows the payments table and the payment method mix only. Every "
                     "other figure is for every payment method.")
    return notes


def dashboard(f: ReportFilter) -> Dashboard:
    """Every figure of the dashboards for the filter, read in one snapshot."""
    with _reports() as c:
        r = _Reads(c, f)
        return Dashboard(f, _kpis(r), [_revenue_group(r), _monthly_group(r), _seats_group(r), _customers_group(r)],
                         not_narrowed(f), as_of=replica.reports_source().as_of)


# Each table by name, for its CSV export: it reads only what that table is made of.
TABLES = {
    "top-events": top_events_table, "top-venues": top_venues_table, "monthly": monthly_table,
    "categories": categories_table, "occupancy-venues": venue_occupancy_table,
    "occupancy-held": held_events_table, "occupancy-on-sale": on_sale_events_table,
    "customer-types": customer_types_table, "payments": payments_table, "repeat-buyers": repeat_buyers_table,
}


def table(name: str, f: ReportFilter) -> Table:
    """One table of the dashboards with every row (for the CSV export). Raises UnknownTable."""
    build = TABLES.get(name)
    if build is None:
        raise UnknownTable(name)
    with _reports() as c:
        found = build(_Reads(c, f, listed=None))
    if found is None:
        raise UnknownTable(name)
    return replace(found, shown=None)
