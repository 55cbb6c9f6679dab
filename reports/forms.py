from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from boxoffice.forms import BoundedDateField, IdText
from boxoffice.services.sharing import EXPIRY_DAYS


class ReportFilterForm(FlaskForm):
    """The dashboards' filters: a GET form, so every filtered dashboard is a link."""

    class Meta:
        csrf = False

    date_from = BoundedDateField("Booked from", validators=[Optional()])
    date_to = BoundedDateField("Booked until", validators=[Optional()])
    venue = SelectField("Venue", coerce=str, validators=[Optional(), IdText("Choose a venue from the list.")],
                        validate_choice=False)
    event = SelectField("Event", coerce=str, validators=[Optional(), IdText("Choose an event from the list.")],
                        validate_choice=False)

    customers = SelectField("Customers", coerce=str, validators=[Optional()],
                            choices=[("", "All customers"), ("regular", "Regular customers"), ("vip", "VIP members"),
                                     ("guest", "Guests (no account)")])
    method = SelectField("Payment method", coerce=str, validate_choice=False,
                         validators=[Optional(), IdText("Choose a payment method from the list.")])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date is before the start date.")


class ShareForm(FlaskForm):
    """A new read-only link to a dashboard; the dashboard's filters come along as ReportFilterForm fields."""

    label = StringField("Name of the link", validators=[DataRequired(), Length(max=120)],
                        description="Who it is for, e.g. “Board meeting, March”.")
    expires_in = SelectField("Expires after", coerce=int, default=7,
                             choices=[(days, f"{days} day" + ("s" if days > 1 else "")) for days in EXPIRY_DAYS])
