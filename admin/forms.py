"""Forms of the back office. They check what was typed (present, the right kind, within the column's
size); the rules of the box office are the services' and the database's."""
from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (BooleanField, Field, IntegerField, RadioField, SelectField, SelectMultipleField, StringField,
                     TextAreaField)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp, ValidationError

from boxoffice.forms import AmountField, BoundedDateTimeLocalField, IdField
from boxoffice.models import EVENT_GENRES, SeatCategory
from boxoffice.services import customers_admin, discounts, events, venues, waiting_room

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
MAX_PRICE = Decimal("100000")


def _optional_id(value) -> int | None:
    """A select's value as an id; its empty first option ("choose...", "every...") as None."""
    return int(value) if value not in (None, "") else None


def _datetime(label: str) -> BoundedDateTimeLocalField:
    return BoundedDateTimeLocalField(label, format=DATETIME_FORMAT,
                              validators=[InputRequired("Give a date and time.")])


class SearchForm(FlaskForm):
    """A list's search box: a GET form, so every search is a link."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=100)])


class EventSearchForm(SearchForm):
    status = SelectField("Status", choices=[("", "Any status")] + list(events.STATUSES.items()),
                         validators=[Optional()])
    when = SelectField("When", choices=[("upcoming", "Upcoming"), ("past", "Past"), ("all", "All dates")],
                       default="upcoming", validators=[Optional()])


class BookingSearchForm(SearchForm):
    event = IdField("Event number", validators=[Optional()])


# ---------------------------------------------------------------- events

class EventForm(FlaskForm):
    """An event's details; `event_form` adds a price field per seat category."""

    venue_id = SelectField("Venue", coerce=_optional_id, validators=[InputRequired("Choose a venue.")])
    title = StringField("Title", validators=[DataRequired(), Length(max=160)])
    performer = StringField("Performer", validators=[DataRequired(), Length(max=120)])
    genre = SelectField("Genre", choices=[(g, g.capitalize()) for g in EVENT_GENRES])
    description = TextAreaField("Description", validators=[DataRequired(), Length(max=5000)])
    starts_at = _datetime("Starts")
    sales_start = _datetime("Sales open")
    sales_end = _datetime("Sales close")
    # One buyer's limit, counted across its sessions, account and address (sql/objects/35_seat_states.sql).
    max_seats_per_order = IntegerField("Most seats per buyer (and in one order)", default=10,
                                       validators=[InputRequired(), NumberRange(min=1, max=50)])
    refundable_until_hours = IntegerField("Cancellation cut-off (hours)", default=48,
                                          validators=[InputRequired(), NumberRange(min=0, max=8760)])

    categories: Sequence[SeatCategory] = ()

    def price_fields(self) -> list[tuple[SeatCategory, Field]]:
        return [(category, self[f"price_{category.category_id}"]) for category in self.categories]

    def details(self) -> events.EventDetails:
        return events.EventDetails(
            title=self.title.data.strip(), performer=self.performer.data.strip(), genre=self.genre.data,
            description=self.description.data.strip(), starts_at=self.starts_at.data,
            sales_start=self.sales_start.data, sales_end=self.sales_end.data,
            max_seats_per_order=self.max_seats_per_order.data,
            refundable_until_hours=self.refundable_until_hours.data,
            prices={category.category_id: field.data for category, field in self.price_fields()
                    if field.data is not None})


def event_form(categories: Sequence[SeatCategory], venue_choices: Sequence | None = None, **kwargs) -> EventForm:
    """The event form with a price for each of `categories`; with a venue choice when `venue_choices` is
    given (a new event), without one otherwise (an event keeps its venue)."""

    class PricedEventForm(EventForm):
        pass

    for category in categories:
        setattr(PricedEventForm, f"price_{category.category_id}", AmountField(
            f"{category.name} (€)", validators=[Optional()], maximum=MAX_PRICE,
            message="Give a price from 0 to 100,000."))
    form = PricedEventForm(**kwargs)
    form.categories = list(categories)
    if venue_choices is None:
        del form.venue_id
    else:
        form.venue_id.choices = [("", "Choose a venue…")] + [
            (str(v.venue_id), f"{v.name}, {v.city} ({v.capacity:,} seats)") for v in venue_choices]
    return form


class WaitingRoomForm(FlaskForm):
    """An event's on-sale waiting room (boxoffice/services/waiting_room.py)."""

    enabled = BooleanField("Sell through a queue")
    opens_at = _datetime("Queue opens")
    admit_per_minute = IntegerField("People let in a minute", default=100,
                                    validators=[InputRequired(), NumberRange(min=1, max=100_000)])
    max_active = IntegerField("Most buyers shopping at once", validators=[Optional(), NumberRange(min=1, max=1_000_000)])

    def settings(self) -> waiting_room.RoomSettings:
        return waiting_room.RoomSettings(self.enabled.data, self.opens_at.data, self.admit_per_minute.data,
                                         self.max_active.data)


# ---------------------------------------------------------------- venues

_RANGE = re.compile(r"^([A-Z]+)(?:\s*[-–]\s*([A-Z]+))?$")


class RowRangesField(StringField):
    """Row ranges typed as "A-C, F"; the data is [("A", "C"), ("F", "F")]."""

    def process_data(self, value):
        self._parse(value or "")

    def process_formdata(self, valuelist):
        if valuelist:
            self._parse(valuelist[0])

    def _parse(self, text: str) -> None:
        self.text = text
        self.data = []
        for part in filter(None, (p.strip() for p in text.upper().split(","))):
            match = _RANGE.match(part)
            if not match:
                raise ValueError(f"Write rows as ranges like A-C, F (“{part}” is not one).")
            self.data.append((match.group(1), match.group(2) or match.group(1)))

    def _value(self) -> str:
        return self.text


class VenueForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    city = StringField("City", validators=[DataRequired(), Length(max=80)])
    address = StringField("Address", validators=[DataRequired(), Length(max=200)])


STANDARD_RANK = 2


def suggested_rows(rows: int) -> dict[int | str, str]:
    """The layout generator's first suggestion for `rows` rows per section, by category rank (and
    "wheelchair"): the front 30 % of the rows premium, the next half standard, the rest economy, wheelchair
    spaces in the last standard row (ten rows: A-C, D-H, J-K and H). It follows the number of rows, so it
    never names a row the sections do not have."""
    labels = venues.row_labels(max(1, rows))
    premium = max(1, round(len(labels) * 0.3))
    standard = min(len(labels), premium + round(len(labels) * 0.5))

    def span(first: int, last: int) -> str:
        return "" if first >= last else labels[first] if last - first == 1 else f"{labels[first]}-{labels[last - 1]}"

    return {1: span(0, premium), STANDARD_RANK: span(premium, standard), 3: span(standard, len(labels)),
            "wheelchair": labels[max(standard, 1) - 1]}


class LayoutForm(FlaskForm):
    """A venue's generated layout; `layout_form` adds the row ranges of each seat category."""

    sections = StringField("Sections", default="Stalls, Circle", validators=[DataRequired(), Length(max=500)])
    arrangement = RadioField("Sections are arranged", choices=list(venues.ARRANGEMENTS.items()), default="stacked")
    row_shape = RadioField("Rows", choices=list(venues.ROW_SHAPES.items()), default="straight")
    rows_per_section = IntegerField("Rows per section", default=10, validators=[
        InputRequired(), NumberRange(min=1, max=venues.MAX_ROWS_PER_SECTION)])
    seats_per_row = IntegerField("Seats per row", default=16, validators=[
        InputRequired(), NumberRange(min=1, max=venues.MAX_SEATS_PER_ROW)])
    wheelchair_rows = RowRangesField("Wheelchair rows", default=suggested_rows(10)["wheelchair"])

    categories: Sequence[SeatCategory] = ()

    def validate_sections(self, field):
        if any(len(name.strip()) > 60 for name in field.data.split(",")):
            raise ValidationError("A section name has at most 60 characters.")

    def follow_rows(self) -> bool:
        """While the row ranges are still the generator's suggestion (for some number of rows), keep them the
        suggestion for the rows per section asked for now: a change of rows never leaves them naming rows
        that are not there. Ranges the admin typed are left alone. True if they changed."""
        rows = self.rows_per_section.data
        if not isinstance(rows, int) or not 1 <= rows <= venues.MAX_ROWS_PER_SECTION:
            return False
        fields: dict[int | str, Field] = {category.rank: field for category, field in self.row_fields()}
        fields["wheelchair"] = self.wheelchair_rows
        typed = {key: re.sub(r"\s+", "", getattr(field, "text", "") or "").upper() for key, field in fields.items()}

        def suggested_for(count: int) -> bool:
            return all(typed[key] == suggested_rows(count).get(key, "") for key in fields)

        if suggested_for(rows) or not any(suggested_for(count) for count in range(1, venues.MAX_ROWS_PER_SECTION + 1)):
            return False
        for key, field in fields.items():
            field.process_data(suggested_rows(rows).get(key, ""))
            field.raw_data = None
        return True

    def row_fields(self) -> list[tuple[SeatCategory, Field]]:
        return [(category, self[f"rows_{category.category_id}"]) for category in self.categories]

    def layout(self) -> venues.LayoutRequest:
        return venues.LayoutRequest(
            section_names=self.sections.data.split(","),
            rows_per_section=self.rows_per_section.data,
            seats_per_row=self.seats_per_row.data,
            category_rows={category.category_id: field.data for category, field in self.row_fields()},
            other_rows_category=self.other_rows_category.data,
            wheelchair_rows=self.wheelchair_rows.data,
            arrangement=self.arrangement.data,
            row_shape=self.row_shape.data,
        )


def layout_form(categories: Sequence[SeatCategory], **kwargs) -> LayoutForm:
    """The layout form with a row-ranges field per seat category."""

    class CategorisedLayoutForm(LayoutForm):
        pass

    for category in categories:
        setattr(CategorisedLayoutForm, f"rows_{category.category_id}",
                RowRangesField(f"{category.name} rows", default=suggested_rows(10).get(category.rank, "")))
    CategorisedLayoutForm.other_rows_category = SelectField(
        "Rows in no range", coerce=int, choices=[(c.category_id, c.name) for c in categories],
        default=next((c.category_id for c in categories if c.rank == STANDARD_RANK), None))
    form = CategorisedLayoutForm(**kwargs)
    form.categories = list(categories)
    return form


class CancelEventForm(FlaskForm):
    """The confirmation step's button (the page says what it will do): the CSRF token alone."""


# ---------------------------------------------------------------- promo codes

class PromoCodeForm(FlaskForm):
    code = StringField("Code", filters=[lambda text: text.strip().upper() if text else text], validators=[
        DataRequired(), Regexp(r"^[A-Z0-9_-]{3,32}$", message="Use 3 to 32 letters A-Z, digits, - or _.")])
    description = StringField("Description", validators=[DataRequired(), Length(max=200)])
    kind = RadioField("Discount", choices=list(discounts.KINDS.items()), default="percent")
    value = AmountField("Amount (per cent, or euros off the order)", validators=[InputRequired()],
                        minimum=Decimal("0.01"), maximum=MAX_PRICE)
    valid_from = _datetime("Valid from")
    valid_until = _datetime("Valid until")
    usage_limit = IntegerField("Usage limit", validators=[Optional(), NumberRange(min=1, max=1_000_000)])
    vip_only = BooleanField("VIP members only")
    event_id = SelectField("Event", coerce=_optional_id)

    def terms(self) -> discounts.PromoTerms:
        return discounts.PromoTerms(
            description=self.description.data.strip(), kind=self.kind.data, value=self.value.data,
            valid_from=self.valid_from.data, valid_until=self.valid_until.data, usage_limit=self.usage_limit.data,
            vip_only=self.vip_only.data, event_id=self.event_id.data)


def promo_code_form(event_choices: Sequence, *, new: bool, **kwargs) -> PromoCodeForm:
    """The promo-code form; an existing code cannot be renamed (buyers may have it already)."""
    form = PromoCodeForm(**kwargs)
    form.event_id.choices = [("", "Every event")] + [
        (str(e.event_id), f"{e.title} · {e.starts_at:%d %b %Y}") for e in event_choices]
    if not new:
        del form.code
    return form


# ---------------------------------------------------------------- customers, bookings, check-in

class VipForm(FlaskForm):
    tier = SelectField("Tier", choices=list(customers_admin.TIERS.items()), default="silver")
    discount_percent = AmountField("Discount on every ticket (%)", default=Decimal("5"), validators=[InputRequired()],
                                   minimum=Decimal("0.01"), maximum=Decimal("50"), message="From 0.01 to 50 per cent.")

    @property
    def discount_rate(self) -> Decimal:
        return (self.discount_percent.data / 100).quantize(Decimal("0.0001"))


class RefundForm(FlaskForm):
    """Refund chosen tickets, or (`everything`) every ticket still valid."""

    tickets = SelectMultipleField("Tickets to refund", coerce=int, validate_choice=True)
    everything = BooleanField("Refund every valid ticket")

    def validate_tickets(self, field):
        if not field.data and not self.everything.data:
            raise ValidationError("Choose the tickets to refund.")


class CheckInForm(FlaskForm):
    ticket_code = StringField("Ticket code", validators=[DataRequired("Type or scan a ticket code."), Length(max=64)])


class VenueDetailsForm(FlaskForm):
    """What a visitor needs to know of a venue (shown on the event page, the order, the tickets, the mail)."""

    address = StringField("Street address", validators=[DataRequired(), Length(max=200)])
    map_url = StringField("Map link", validators=[Optional(), Length(max=500),
                                                  Regexp(r"^https://\S+$", message="A map link must be an https:// address.")],
                          description="An https:// link to the venue on a map. Empty: a map search for the address.")
    directions = TextAreaField("Getting there", validators=[Optional(), Length(max=2000)],
                               description="Public transport, parking, the entrance to use.")
    access_info = TextAreaField("Access", validators=[Optional(), Length(max=2000)],
                                description="Step-free routes, wheelchair spaces, lifts, hearing loops, assistance.")
    facilities = TextAreaField("Facilities", validators=[Optional(), Length(max=2000)],
                               description="Cloakroom, bars, toilets, baby change, what may be brought in.")
