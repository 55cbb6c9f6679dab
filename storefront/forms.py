from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import (BooleanField, EmailField, HiddenField, IntegerField, PasswordField,
                     RadioField, SelectField, SelectMultipleField, StringField)
from wtforms.validators import (DataRequired, Email, EqualTo, InputRequired, Length, NumberRange, Optional, Regexp,
                                ValidationError)

from boxoffice.forms import AmountField, BoundedDateField, HiddenAmountField, promo_code_text
from boxoffice.models import EVENT_GENRES


class CatalogueFilterForm(FlaskForm):
    """The catalogue's search and filters: a GET form, so every filtered view is a link."""

    class Meta:
        csrf = False

    q = StringField("Search", validators=[Optional(), Length(max=100)])
    date_from = BoundedDateField("From", validators=[Optional()])
    date_to = BoundedDateField("To", validators=[Optional()])
    venue = SelectField("Venue", coerce=str, validators=[Optional()])
    genre = SelectField("Category", choices=[("", "All categories")] + [(g, g.capitalize()) for g in EVENT_GENRES],
                        validators=[Optional()])
    max_price = AmountField("Max price (€)", validators=[Optional()], maximum=Decimal("100000"),
                            message="Give a price from 0 to 100,000.")
    sort = SelectField("Sort by", choices=[("date", "Date"), ("price", "Lowest price"), ("title", "Title"),
                                           ("availability", "Most seats left")], default="date")

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")


class BestAvailableForm(FlaskForm):
    count = IntegerField("Seats", default=2, validators=[DataRequired(), NumberRange(min=1, max=50)])
    category = SelectField("Category", coerce=int)


class RegisterForm(FlaskForm):
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("E-mail", validators=[DataRequired(), Email(), Length(max=254)])
    city = StringField("City", validators=[Optional(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=10, max=200,
                             message="Use at least 10 characters.")])
    confirm = PasswordField("Repeat password", validators=[DataRequired(), EqualTo("password", "The passwords differ.")])


class ConfirmRegistrationForm(FlaskForm):
    """The button of a registration's link: nothing but its CSRF token."""


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired()])
    password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=200,
                             message="Use at least 10 characters.")])
    confirm = PasswordField("Repeat new password", validators=[DataRequired(), EqualTo("password", "The passwords differ.")])


class PromoForm(FlaskForm):
    promo_code = StringField("Promo code", validators=[Optional(), Length(max=32), promo_code_text])


class CardFieldsMixin:
    card_number = StringField("Card number", validators=[Optional(), Length(max=23), Regexp(
        r"^[0-9 -]*$", message="Type the card number's digits (spaces are fine).")])
    exp_month = IntegerField("Expiry month", validators=[Optional(), NumberRange(min=1, max=12)])
    exp_year = IntegerField("Expiry year", validators=[Optional(), NumberRange(min=2000, max=2100)])
    cvv = PasswordField("Security code", validators=[Optional(), Length(min=3, max=4)])


class PaymentForm(CardFieldsMixin, FlaskForm):
    """The payment step. The card number and security code are never written back into the page."""

    method = RadioField("Payment method", validators=[DataRequired(message="Choose how to pay.")])
    # The hidden fields carry what the page showed; anything else in them is a form from elsewhere.
    promo_code = HiddenField(validators=[Optional(), Length(max=32), promo_code_text])
    expected_total = HiddenAmountField(validators=[InputRequired()])
    idempotency_key = HiddenField(validators=[DataRequired(), Length(max=64), Regexp(
        r"^[!-~]+$", message="This payment form is out of date. Please check your order and pay again.")])
    holder = StringField("Name on card", validators=[Optional(), Length(max=120)])
    save_card = BooleanField("Save this card for next time")
    gift_card_code = StringField("Gift card code", validators=[Optional(), Length(max=32), Regexp(
        r"^[A-Za-z0-9 -]*$", message="A gift card code has letters, digits and dashes only.")])


class SavedCardForm(CardFieldsMixin, FlaskForm):
    holder = StringField("Name on card", validators=[DataRequired(), Length(max=120)])


class CardSetupForm(FlaskForm):
    """Saving a card with Stripe: the card went from the browser to Stripe, which answers with the finished
    SetupIntent; only its id comes here."""

    setup_intent = HiddenField(validators=[Optional(), Length(max=255), Regexp(
        r"^seti_[A-Za-z0-9_]+$", message="This card was not set up for your account. Please enter it again.")])


class GuestCheckoutForm(FlaskForm):
    """Paying without an account: an e-mail address for the tickets, a name if the buyer likes."""

    # (Not labelled "E-mail": the sign-in form beside it has that label.)
    email = EmailField("Address for your tickets", validators=[DataRequired(), Email(), Length(max=254)],
                       description="An e-mail address: the tickets and a link to your booking go there.")
    full_name = StringField("Name (optional)", validators=[Optional(), Length(max=120)])


class OrderLookupForm(FlaskForm):
    email = EmailField("E-mail address you booked with", validators=[DataRequired(), Email(), Length(max=254)])
    booking_code = StringField("Booking code", validators=[DataRequired(), Length(max=16)],
                               filters=[lambda text: text.strip().upper() if text else text])


class GuestAccountForm(FlaskForm):
    """A guest keeps an account after paying: a password (and a name, if it gave none)."""

    full_name = StringField("Full name", validators=[Optional(), Length(max=120)])
    password = PasswordField("Password", validators=[DataRequired(), Length(min=10, max=200,
                             message="Use at least 10 characters.")])
    confirm = PasswordField("Repeat password", validators=[DataRequired(), EqualTo("password", "The passwords differ.")])


class CancelTicketsForm(FlaskForm):
    """The confirmation step of cancelling: which valid tickets to give back (every one, unless unticked)."""

    tickets = SelectMultipleField("Tickets to cancel", coerce=int,
                                  validators=[DataRequired("Choose at least one ticket to cancel.")])
