"""Domain errors: what services raise and views turn into messages. The database's own refusals (SIGNALs
from triggers and procedures, broken unique keys) arrive as these too, through `from_database_error`."""
from __future__ import annotations

from sqlalchemy.exc import DBAPIError


class BoxOfficeError(Exception):
    """A rule of the box office refused the request; `message` is fit to show to the person."""

    default_message = "That could not be done."

    def __init__(self, message: str | None = None):
        self.message = message or self.default_message
        super().__init__(self.message)


class NotBookable(BoxOfficeError):
    default_message = "This event cannot be booked."


class NoSeatsHeld(BoxOfficeError):
    default_message = "You are not holding any seats for this event."


class HoldExpired(BoxOfficeError):
    default_message = "Your seat hold has expired. Please choose your seats again."


class PromoCodeRejected(BoxOfficeError):
    default_message = "This promo code cannot be used."


class PriceChanged(BoxOfficeError):
    default_message = "The price of your seats has changed. Please review your order."


class TooManySeats(BoxOfficeError):
    default_message = "That is more seats than one order may hold."


class HoldTooFast(BoxOfficeError):
    default_message = ("You are choosing seats faster than we can keep up with. Nothing was changed: wait a "
                       "few seconds and try again.")


class LookupTooFast(BoxOfficeError):
    """Orders looked up by e-mail and code faster than a person types; `retry_after`: seconds to wait."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        wait = f"{retry_after} seconds" if retry_after < 120 else f"{(retry_after + 59) // 60} minutes"
        super().__init__(f"Too many look-ups in a short time. Please wait {wait} and try again.")


class PaymentRejected(BoxOfficeError):
    default_message = "The payment could not be taken."


class UnknownCustomer(BoxOfficeError):
    default_message = "There is no such customer."


class SeatUnavailable(BoxOfficeError):
    default_message = "Someone else has just taken that seat."


class LineFirst(SeatUnavailable):
    """A seat that came back (its hold ran out) while people wait for the event: the waiting list has it
    first (boxoffice/services/waiting_list.py)."""

    default_message = "That seat has just come back, and seats that come back go to the waiting list first."


class StrandedSeat(BoxOfficeError):
    default_message = "That would leave a single empty seat between taken seats."


class BookingUnchangeable(BoxOfficeError):
    default_message = "A booking's event, customer and booking time cannot be changed."


class InvalidCard(BoxOfficeError):
    default_message = "These card details are not valid."


class PaymentDeclined(BoxOfficeError):
    default_message = "The payment was declined. Nothing has been charged and your seats are still held."


class SeatsLostRefunded(BoxOfficeError):
    default_message = ("Your hold ran out before the payment completed and the seats were taken. "
                       "Your payment has been refunded in full.")


class RefundRefused(BoxOfficeError):
    default_message = "The payment provider refused the refund."


class PaymentInProgress(BoxOfficeError):
    default_message = ("A payment for these seats is already being processed. Please wait a moment and "
                       "look at your orders before paying again.")


class PaymentProviderUnavailable(BoxOfficeError, OSError):
    """The payment provider could not be reached or answered with an error of its own. An OSError too, so
    the code that leaves money for the reconciler when the provider is away (refunds, the reconciler's
    pass) treats it like a lost connection. `money_may_have_moved`: False when the provider was never
    asked to take money for the attempt (it can be given up at once)."""

    default_message = ("The payment provider is unavailable right now; your seats are still held. Nothing was "
                       "charged: please try again in a moment.")

    def __init__(self, message: str | None = None, *, money_may_have_moved: bool = True):
        super().__init__(message)
        self.money_may_have_moved = money_may_have_moved


class AuthenticationRequired(BoxOfficeError):
    """The card's bank wants the buyer to confirm the payment (3-D Secure): the browser completes it with
    the provider's script, using `client_secret`, then comes back to the same payment attempt."""

    default_message = "Your bank asks you to confirm this payment. Please follow its instructions."

    def __init__(self, client_secret: str, idempotency_key: str, message: str | None = None):
        super().__init__(message)
        self.client_secret = client_secret
        self.idempotency_key = idempotency_key


class WebhookRejected(BoxOfficeError):
    default_message = "This webhook's signature does not verify."


class PaymentFormExpired(BoxOfficeError):
    default_message = "This payment form is out of date. Please check your order and pay again."


class NothingToRefund(BoxOfficeError):
    default_message = "There is nothing left to refund on this booking."


class RefundNotAllowed(BoxOfficeError):
    default_message = "This booking can no longer be cancelled."


class InvalidCredentials(BoxOfficeError):
    default_message = "That e-mail address and password do not match."


class TooManyAttempts(BoxOfficeError):
    default_message = "Too many failed sign-ins. Please wait a few minutes and try again."


class Busy(BoxOfficeError):
    default_message = "The box office is very busy right now. Nothing was changed: please try again."


class DuplicateRecord(BoxOfficeError):
    default_message = "That already exists."


# The application error numbers SIGNALled by sql/objects (see the header of 20_triggers.sql).
SIGNALLED_ERRORS: dict[int, type[BoxOfficeError]] = {
    30001: NotBookable,
    30002: NoSeatsHeld,
    30003: HoldExpired,
    30004: PromoCodeRejected,
    30005: PriceChanged,
    30006: TooManySeats,
    30007: PaymentRejected,
    30008: UnknownCustomer,
    30009: SeatUnavailable,
    30010: StrandedSeat,
    30011: LineFirst,
    30020: BookingUnchangeable,
}
DUPLICATE_KEY = 1062
CHECK_CONSTRAINT_FAILED = 4025
LOCK_WAIT_TIMEOUT = 1205
DEADLOCK = 1213


def from_database_error(error: DBAPIError) -> BoxOfficeError | None:
    """The domain error for a refusal by the database, or None if it is not one (a real fault)."""
    args = getattr(error.orig, "args", ())
    if len(args) < 2 or not isinstance(args[0], int):
        return None
    errno, message = args[0], str(args[1])
    if errno in SIGNALLED_ERRORS:
        return SIGNALLED_ERRORS[errno](message)
    if errno == DUPLICATE_KEY:
        return DuplicateRecord()
    if errno in (LOCK_WAIT_TIMEOUT, DEADLOCK):
        return Busy()
    return None
