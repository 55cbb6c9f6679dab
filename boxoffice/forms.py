"""Forms shared by more than one blueprint, and the field types every form checks its input with.

Input is checked at the edge, before a service or the database sees it: an id is a whole number that fits
the INT UNSIGNED columns, an amount is a finite decimal with two places in its range, a date lies within
EARLIEST_DATE..LATEST_DATE. A value that is not gives the field an error that says what would do; it is never
passed on (a NaN, an infinity or 2^64 reaching MariaDB was a 500).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, DecimalField, EmailField, IntegerField, PasswordField
from wtforms.validators import DataRequired, Email, EqualTo, Length, ValidationError
from wtforms.widgets import HiddenInput

# Every id column is INT UNSIGNED.
MAX_ID = 2**32 - 1
# The dates anyone may ask for or set: filters, reports, event and promo dates.
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)
# The largest amount a DECIMAL(10,2) money column holds.
MAX_MONEY = Decimal("99999999.99")
CENT = Decimal("0.01")
# A promo code as the back office lets one be made (admin/forms.py PromoCodeForm); no other exists.
PROMO_CODE_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
NO_SUCH_PROMO_CODE = "This promo code does not exist."


def record_id(text: str) -> int:
    """An id from a query string or a form (`request.args.get(name, type=record_id)`): ASCII digits from 1
    to MAX_ID. Raises ValueError otherwise, which `.get` answers with its default (None)."""
    if not (isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 10):
        raise ValueError(f"not an id: {text!r}")
    value = int(text)
    if not 1 <= value <= MAX_ID:
        raise ValueError(f"not an id: {text!r}")
    return value


def optional_record_id(value) -> int | None:
    """A select's value as an id, its empty first option ("every venue") as None; ValueError otherwise."""
    if value in (None, ""):
        return None
    return value if isinstance(value, int) and 1 <= value <= MAX_ID else record_id(str(value))


def _date_range_message() -> str:
    return f"Choose a date from {EARLIEST_DATE:%-d %b %Y} to {LATEST_DATE:%-d %b %Y}."


class BoundedDateField(DateField):
    """A date from EARLIEST_DATE to LATEST_DATE (9999-12-31 overflowed the day after; year 1 the day before)."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not EARLIEST_DATE <= self.data <= LATEST_DATE:
            self.data = None
            raise ValueError(_date_range_message())


class BoundedDateTimeLocalField(DateTimeLocalField):
    """A date and time (the browser's datetime-local) from EARLIEST_DATE to LATEST_DATE."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not EARLIEST_DATE <= self.data.date() <= LATEST_DATE:
            self.data = None
            raise ValueError(_date_range_message())


class AmountField(DecimalField):
    """An exact amount with at most two decimal places from `minimum` to `maximum` (euros, or a percentage):
    NaN, sNaN, infinities, 9E+999999 and more decimals than cents are refused with a message; `data` is a
    Decimal quantized to cents, or None."""

    def __init__(self, label=None, validators=None, *, minimum: Decimal = Decimal("0"),
                 maximum: Decimal = MAX_MONEY, message: str | None = None, **kwargs):
        super().__init__(label, validators, places=2, **kwargs)
        self.minimum, self.maximum = minimum, maximum
        self.range_message = message or f"Give an amount from {minimum:,} to {maximum:,}."

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        self.data = None
        text = valuelist[0].strip()
        if not text:
            return
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError("Give a number, like 12.50.") from None
        if not value.is_finite() or not self.minimum <= value <= self.maximum:
            raise ValueError(self.range_message)
        if value != value.quantize(CENT):
            raise ValueError("Give at most two decimal places.")
        self.data = value.quantize(CENT)

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return _cents(self.data)


class HiddenAmountField(AmountField):
    """An amount the page carries in a hidden input (the total the buyer saw). It shows the value the view
    set, never the text posted, so a page drawn again after a refusal carries the amount now due."""

    widget = HiddenInput()

    def _value(self) -> str:
        return _cents(self.data)


def _cents(value) -> str:
    try:
        return str(Decimal(str(value)).quantize(CENT)) if value is not None else ""
    except InvalidOperation:
        return ""


class IdField(IntegerField):
    """An id typed into a form (1 to MAX_ID), or nothing."""

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = record_id(valuelist[0].strip())
        except ValueError:
            self.data = None
            raise ValueError(f"Give a number from 1 to {MAX_ID:,}.") from None


class IdText:
    """A text field or a select that must hold an id (or nothing): a filter's venue or event."""

    def __init__(self, message: str = "Choose one from the list."):
        self.message = message

    def __call__(self, form, field):
        if field.data in (None, ""):
            return
        try:
            optional_record_id(field.data)
        except ValueError:
            raise ValidationError(self.message) from None


def promo_code_text(form, field) -> None:
    """A promo code typed by a buyer: any text is fine to type, but one with characters no code can have
    (an en dash, a curly quote: `WELCOME–10`, `TAKE5’`) is answered like any unknown code."""
    code = (field.data or "").strip()
    if code and not all(ch in PROMO_CODE_CHARACTERS for ch in code):
        raise ValidationError(NO_SUCH_PROMO_CODE)


class SignInForm(FlaskForm):
    # No e-mail syntax check here: a sign-in form only says whether the pair matches.
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=200,
                             message="Use at least 10 characters.")])
    confirm = PasswordField("Repeat new password", validators=[DataRequired(), EqualTo("password", "The passwords differ.")])
