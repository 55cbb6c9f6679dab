"""The one place the app reads the time: naive UTC, like every DATETIME in the database."""
import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
