"""The on-sale waiting room: an event's sale opened behind a fair queue.

Staff turn an event's queue on with an opening time and an admission rate (people a minute), and may cap
how many admitted buyers shop at once. While it is on, the event's page, its seat clicks and checkout are
for admitted visitors only (storefront/blueprint.py `admission_required`).

The line. A visitor is a random id kept in their browser's cookie. Whoever arrives before the opening gets
no place yet, only a random draw; at the first request after the opening the early arrivals are given
places 1, 2, ... in the order of their draws (a lottery: refreshing early or often buys nothing), and
everyone after them gets the next place as they arrive. Every place is given under the room's row lock
(`waiting_rooms`, locked FOR UPDATE), so places are unique and in arrival order (the unique key on
(event, position) refuses a second person in one place whatever this code does). Early arrivals take the
row's lock in share mode, so they never slip in while the draw is being made, and never wait for each
other.

Admission. The room lets in the waiting places in order, `admit_per_minute` a minute: credit accrues from
`credit_from`, and each admission moves it on by its share of a minute, so however many requests try at
once, the admitted count never runs ahead of the rate. With `max_active` set, no more than that many
admitted buyers shop at once: the next goes in as one finishes (books, or their admission runs out).
Admitting is done by whichever request comes first (the waiting pages' polls), under the room's row lock
taken with SKIP LOCKED: one app server admits, the others carry on at once instead of queueing behind it;
`admitted_through` moves forward under that lock, so nobody is admitted twice.

The admission itself is a token signed with an HMAC of the app's SECRET_KEY (every app server shares it),
bound to the event and the visitor's id and carrying its expiry: each server checks it alone, with no
database round trip. Whether an event's queue is on at all is known per process for GATE_TTL seconds.
"""
from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import math
import secrets
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from ..errors import BoxOfficeError, DuplicateRecord
from ..extensions import db
from .unit_of_work import refused_key, unit_of_work

# The most admission credit that builds up while nobody is let in (no request came by to do it): a few
# seconds of the rate (or one admission, at a slow rate), so a quiet spell never turns into a burst.
MAX_CREDIT = dt.timedelta(seconds=10)
# How long an app server keeps knowing whether an event's queue is on before it asks the database again:
# turning a queue on reaches every server within this.
GATE_TTL = 1.0
ROOM_REFUSALS = {
    "ck_waiting_rooms_rate": "Let in from 1 to 100,000 people a minute.",
    "ck_waiting_rooms_active": "The most buyers at once is from 1 to 1,000,000 (or leave it empty for no limit).",
    "fk_waiting_rooms_event": "There is no such event.",
}


class NoWaitingRoom(BoxOfficeError):
    default_message = "This event's sale is not behind a queue."


@dataclass(frozen=True)
class RoomSettings:
    """What staff set: the queue on or off, when it opens, how many it lets in a minute, and the most
    admitted buyers shopping at once (None: no such limit)."""

    enabled: bool
    opens_at: dt.datetime
    admit_per_minute: int
    max_active: int | None = None


@dataclass(frozen=True)
class Gate:
    """An event whose queue is on: its page, seat clicks and checkout need an admission."""

    event_id: int
    opens_at: dt.datetime


@dataclass(frozen=True)
class Place:
    """Where a visitor stands. `status`: 'early' (arrived before the opening: their random place comes at
    it), 'waiting' (`position` in line, 1 being next; `wait_seconds` the estimate at the current rate),
    'admitted' (until `admission_expires_at`) or 'expired' (their admission ran out)."""

    status: str
    opens_at: dt.datetime
    opens_in_seconds: float  # 0 once open
    paused: bool
    position: int | None = None
    wait_seconds: int | None = None
    admitted_at: dt.datetime | None = None
    admission_expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class RoomFigures:
    """The room as staff watch it."""

    settings: RoomSettings
    paused: bool
    now: dt.datetime
    early: int  # arrived before the opening, waiting for the draw
    waiting: int  # in line with a place, not yet let in
    admitted: int  # let in so far
    shopping: int  # admitted, not finished, admission still running
    finished: int  # booked

    @property
    def open(self) -> bool:
        return self.now >= self.settings.opens_at

    @property
    def clear_seconds(self) -> int | None:
        """How long the people in line now take to be let in at the rate (None while paused)."""
        if self.paused:
            return None
        return math.ceil((self.early + self.waiting) * 60 / self.settings.admit_per_minute)


def admission_window() -> dt.timedelta:
    """How long an admission lasts: BOXOFFICE_WAITING_ROOM_ADMISSION_MINUTES (long enough to choose seats,
    hold them and pay)."""
    return dt.timedelta(minutes=current_app.config["WAITING_ROOM_ADMISSION_MINUTES"])


def new_visitor() -> str:
    return secrets.token_hex(16)


# ---------------------------------------------------------------- staff

def room_settings(event_id: int) -> RoomSettings | None:
    """The event's waiting room as staff set it, or None if it never had one."""
    row = db.session.execute(sa.text("""
        SELECT enabled, opens_at, admit_per_minute, max_active FROM waiting_rooms WHERE event_id = :event_id"""),
        {"event_id": event_id}).one_or_none()
    return RoomSettings(bool(row.enabled), row.opens_at, row.admit_per_minute, row.max_active) if row else None


def configure(event_id: int, settings: RoomSettings) -> None:
    """Set the event's waiting room: queue on or off, opening time, rate, most buyers at once. The line
    already formed keeps its places. Raises BoxOfficeError for an unknown event or a rate out of range."""
    with unit_of_work(messages=ROOM_REFUSALS):
        # credit_from starts at the opening: the first admission comes one rate step after it. A changed
        # opening moves it too while nobody has been let in yet.
        db.session.execute(sa.text("""
            INSERT INTO waiting_rooms (event_id, enabled, opens_at, admit_per_minute, max_active, credit_from)
            VALUES (:event_id, :enabled, :opens_at, :rate, :max_active, :opens_at)
            ON DUPLICATE KEY UPDATE enabled = VALUES(enabled), opens_at = VALUES(opens_at),
                   admit_per_minute = VALUES(admit_per_minute), max_active = VALUES(max_active),
                   credit_from = IF(drawn, credit_from, VALUES(opens_at))"""),
            {"event_id": event_id, "enabled": settings.enabled, "opens_at": settings.opens_at,
             "rate": settings.admit_per_minute, "max_active": settings.max_active})
    _forget_gate(event_id)


def set_paused(event_id: int, paused: bool) -> None:
    """Stop letting people in (the line keeps its order and goes on forming), or go on. Credit does not
    build up while paused. Raises NoWaitingRoom if the event has none."""
    with unit_of_work():
        changed = db.session.execute(sa.text("""
            UPDATE waiting_rooms SET paused = :paused, credit_from = GREATEST(credit_from, UTC_TIMESTAMP(3))
             WHERE event_id = :event_id"""), {"event_id": event_id, "paused": paused}).rowcount
    if not changed:
        raise NoWaitingRoom()


def figures(event_id: int) -> RoomFigures | None:
    """The room's line and admissions now, for staff; None if the event has no room."""
    row = db.session.execute(sa.text("""
        SELECT r.enabled, r.opens_at, r.admit_per_minute, r.max_active, r.paused, r.last_position,
               r.admitted_through, UTC_TIMESTAMP(3) AS now,
               (SELECT COUNT(*) FROM waiting_room_visitors v
                 WHERE v.event_id = r.event_id AND v.position IS NULL) AS early,
               (SELECT COUNT(*) FROM waiting_room_visitors v
                 WHERE v.event_id = r.event_id AND v.admitted_at > UTC_TIMESTAMP(3) - INTERVAL :minutes MINUTE
                   AND v.finished_at IS NULL) AS shopping,
               (SELECT COUNT(*) FROM waiting_room_visitors v
                 WHERE v.event_id = r.event_id AND v.finished_at IS NOT NULL) AS finished
          FROM waiting_rooms r WHERE r.event_id = :event_id"""),
        {"event_id": event_id, "minutes": _window_minutes()}).one_or_none()
    if row is None:
        return None
    return RoomFigures(RoomSettings(bool(row.enabled), row.opens_at, row.admit_per_minute, row.max_active),
                       bool(row.paused), row.now, row.early, row.last_position - row.admitted_through,
                       row.admitted_through, row.shopping, row.finished)


# ---------------------------------------------------------------- the gate

_gates: dict[tuple[str, int], tuple[float, Gate | None]] = {}
_gates_lock = threading.Lock()


def gate(event_id: int) -> Gate | None:
    """The event's gate if its queue is on, else None. Known per process for GATE_TTL seconds: the seat
    clicks of a rush ask this on every request."""
    key = (current_app.config["DATABASE"].name, event_id)
    now = time.monotonic()
    known = _gates.get(key)
    if known is not None and now - known[0] < GATE_TTL:
        return known[1]
    row = db.session.execute(sa.text("SELECT enabled, opens_at FROM waiting_rooms WHERE event_id = :event_id"),
                             {"event_id": event_id}).one_or_none()
    found = Gate(event_id, row.opens_at) if row is not None and row.enabled else None
    with _gates_lock:
        if len(_gates) > 10_000:
            _gates.clear()
        _gates[key] = (now, found)
    return found


def _forget_gate(event_id: int) -> None:
    _gates.pop((current_app.config["DATABASE"].name, event_id), None)


@functools.lru_cache(maxsize=4)
def _signing_key(secret: str) -> bytes:
    # A key of its own, derived from SECRET_KEY: an admission can never pass for a session cookie or a
    # payment key signed with the same secret, nor the other way round.
    return hmac.new(secret.encode(), b"boxoffice waiting-room admission v1", hashlib.sha256).digest()


def _signature(payload: str) -> str:
    digest = hmac.new(_signing_key(current_app.config["SECRET_KEY"]), payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def admission_token(event_id: int, visitor_id: str, expires_at: dt.datetime) -> str:
    """The signed admission of `visitor_id` to the event's sale until `expires_at` (naive UTC)."""
    expires = int(expires_at.replace(tzinfo=dt.timezone.utc).timestamp())
    payload = f"{event_id}.{visitor_id}.{expires}"
    return f"{payload}.{_signature(payload)}"


def is_admitted(token: str | None, event_id: int, visitor_id: str | None, now: float | None = None) -> bool:
    """Whether `token` admits `visitor_id` to the event's sale now: signed by this box office, for this event
    and this visitor, not expired. No database round trip."""
    if not token or not visitor_id:
        return False
    parts = token.split(".")
    if len(parts) != 4 or not parts[2].isdigit():
        return False
    if not hmac.compare_digest(parts[3], _signature(".".join(parts[:3]))):
        return False
    return parts[0] == str(event_id) and parts[1] == visitor_id and int(parts[2]) > (now or time.time())


# ---------------------------------------------------------------- the line

_ROOM = """SELECT enabled, paused, opens_at, admit_per_minute, max_active, drawn, last_position, admitted_through,
                  credit_from, UTC_TIMESTAMP(3) AS now
             FROM waiting_rooms WHERE event_id = :event_id"""


def join(event_id: int, visitor_id: str) -> Place:
    """Put the visitor in the event's line, if they are not in it already, and say where they stand (letting
    in whoever is due first). Before the opening they get a random draw, after it the next place. Raises
    NoWaitingRoom when the event's queue is off, Busy."""
    found = place(event_id, visitor_id)
    if found is not None and found.status in ("admitted", "expired"):
        return found
    if found is None:
        try:
            if not _join_early(event_id, visitor_id):
                _join_late(event_id, visitor_id)
        except DuplicateRecord as duplicate:
            # The same visitor from two tabs at once: one of them put them in line.
            if refused_key(duplicate) != "PRIMARY":
                raise
    let_in = advance(event_id)
    # (The waiting pages' polls come here: a place read again only when something may have moved it.)
    if found is None or let_in or (found.status == "early" and found.opens_in_seconds == 0):
        return place(event_id, visitor_id)
    return found


def _join_early(event_id: int, visitor_id: str) -> bool:
    """Join with a random draw if the room has not opened yet; False if it has (nothing written)."""
    with unit_of_work():
        # Share mode: early arrivals never wait for each other, and the draw (which locks the row for
        # update) waits for those already joining, so none is left without a place.
        room = db.session.execute(sa.text(_ROOM + " LOCK IN SHARE MODE"), {"event_id": event_id}).one_or_none()
        if room is None or not room.enabled:
            raise NoWaitingRoom()
        if room.drawn or room.now >= room.opens_at:
            return False
        db.session.execute(sa.text("""
            INSERT INTO waiting_room_visitors (event_id, visitor_id, joined_at, draw)
            VALUES (:event_id, :visitor_id, UTC_TIMESTAMP(3), :draw)"""),
            {"event_id": event_id, "visitor_id": visitor_id, "draw": secrets.randbits(63)})
    return True


def _join_late(event_id: int, visitor_id: str) -> None:
    """Join at the next place (the room has opened), making the draw first if nobody has yet."""
    with unit_of_work():
        # The room's row lock: places are given one at a time, in the order of arrival.
        room = db.session.execute(sa.text(_ROOM + " FOR UPDATE"), {"event_id": event_id}).one_or_none()
        if room is None or not room.enabled:
            raise NoWaitingRoom()
        last = _draw(event_id, room) if not room.drawn else room.last_position
        db.session.execute(sa.text("""
            INSERT INTO waiting_room_visitors (event_id, visitor_id, joined_at, position)
            VALUES (:event_id, :visitor_id, UTC_TIMESTAMP(3), :position)"""),
            {"event_id": event_id, "visitor_id": visitor_id, "position": last + 1})
        # Someone arriving at an empty line goes in at once if a rate step has passed since the last
        # admission (credit left from a quiet spell is kept to that one step: never a burst). MariaDB sets
        # columns left to right: credit_from is judged by the line before this place.
        db.session.execute(sa.text("""
            UPDATE waiting_rooms
               SET credit_from = IF(admitted_through = last_position,
                                    GREATEST(credit_from, UTC_TIMESTAMP(3) - INTERVAL :step MICROSECOND),
                                    credit_from),
                   last_position = :position
             WHERE event_id = :event_id"""),
            {"event_id": event_id, "position": last + 1, "step": _step_microseconds(room.admit_per_minute)})


def _draw(event_id: int, room) -> int:
    """Give the early arrivals their places in the order of their random draws, after the places already
    given; returns the last place given. Under the room's row lock, once (drawn)."""
    placed = db.session.execute(sa.text("""
        UPDATE waiting_room_visitors v
          JOIN (SELECT visitor_id, ROW_NUMBER() OVER (ORDER BY draw, visitor_id) AS n
                  FROM waiting_room_visitors WHERE event_id = :event_id AND position IS NULL) d
            ON v.event_id = :event_id AND v.visitor_id = d.visitor_id
           SET v.position = :last + d.n"""), {"event_id": event_id, "last": room.last_position}).rowcount
    last = room.last_position + placed
    db.session.execute(sa.text("UPDATE waiting_rooms SET drawn = TRUE, last_position = :last WHERE event_id = :event_id"),
                       {"event_id": event_id, "last": last})
    return last


def _step_microseconds(admit_per_minute: int) -> int:
    return 60_000_000 // admit_per_minute


def _window_minutes() -> int:
    return int(admission_window().total_seconds() // 60)


def _due(room) -> bool:
    """Whether a room read without a lock may have someone to let in (or its draw to make) now."""
    if not room.enabled or room.now < room.opens_at:
        return False
    if not room.drawn:
        return True
    step = dt.timedelta(microseconds=_step_microseconds(room.admit_per_minute))
    return not room.paused and room.last_position > room.admitted_through and room.now - room.credit_from >= step


def advance(event_id: int) -> int:
    """Let in the next people in line, as many as the rate has earned since the last admission (and
    max_active leaves room for), in the order of their places; make the draw first if the room has just
    opened. Returns how many were let in: 0 also when another request is doing it at this moment. Raises
    Busy."""
    room = db.session.execute(sa.text(_ROOM), {"event_id": event_id}).one_or_none()
    if room is None or not _due(room):
        return 0
    with unit_of_work():
        # SKIP LOCKED: if another request (on any app server) is admitting for this room, or someone is
        # taking a place, this one leaves it to them rather than queue behind it.
        room = db.session.execute(sa.text(_ROOM + " FOR UPDATE SKIP LOCKED"), {"event_id": event_id}).one_or_none()
        if room is None or not room.enabled or room.now < room.opens_at:
            return 0
        through = room.admitted_through
        last = _draw(event_id, room) if not room.drawn else room.last_position
        if room.paused or last == through:
            return 0
        step = dt.timedelta(microseconds=_step_microseconds(room.admit_per_minute))
        credit_from = max(room.credit_from, room.now - max(MAX_CREDIT, step))
        due = math.floor((room.now - credit_from).total_seconds() * room.admit_per_minute / 60)
        if room.max_active is not None:
            shopping = db.session.scalar(sa.text("""
                SELECT COUNT(*) FROM waiting_room_visitors
                 WHERE event_id = :event_id AND admitted_at > :now - INTERVAL :minutes MINUTE AND finished_at IS NULL"""),
                {"event_id": event_id, "now": room.now, "minutes": _window_minutes()})
            due = min(due, room.max_active - shopping)
        admitting = min(due, last - through)
        if admitting <= 0:
            return 0
        db.session.execute(sa.text("""
            UPDATE waiting_room_visitors SET admitted_at = :now
             WHERE event_id = :event_id AND position > :through AND position <= :until AND admitted_at IS NULL"""),
            {"event_id": event_id, "now": room.now, "through": through, "until": through + admitting})
        # Credit moves on by what was spent, never past now: the admitted count keeps to the rate. Rounded up to
        # the millisecond the column keeps (MariaDB would cut the rest off, and ten thousand cuts would run
        # ahead of the rate).
        spent_ms = -(-admitting * 60_000 // room.admit_per_minute)
        db.session.execute(sa.text("""
            UPDATE waiting_rooms SET admitted_through = :until, credit_from = :credit_from + INTERVAL :spent MICROSECOND
             WHERE event_id = :event_id"""),
            {"event_id": event_id, "until": through + admitting, "credit_from": credit_from, "spent": spent_ms * 1000})
    return admitting


def place(event_id: int, visitor_id: str | None) -> Place | None:
    """Where the visitor stands in the event's line; None if they are not in it (or there is no room)."""
    if not visitor_id:
        return None
    row = db.session.execute(sa.text("""
        SELECT v.position, v.admitted_at, r.opens_at, r.paused, r.admitted_through, r.admit_per_minute,
               UTC_TIMESTAMP(3) AS now
          FROM waiting_room_visitors v JOIN waiting_rooms r ON r.event_id = v.event_id
         WHERE v.event_id = :event_id AND v.visitor_id = :visitor_id"""),
        {"event_id": event_id, "visitor_id": visitor_id}).one_or_none()
    if row is None:
        return None
    opens_in = max(0.0, (row.opens_at - row.now).total_seconds())
    if row.admitted_at is not None:
        expires = row.admitted_at + admission_window()
        return Place("admitted" if expires > row.now else "expired", row.opens_at, opens_in, bool(row.paused),
                     admitted_at=row.admitted_at, admission_expires_at=expires)
    if row.position is None:
        return Place("early", row.opens_at, opens_in, bool(row.paused))
    position = row.position - row.admitted_through
    return Place("waiting", row.opens_at, opens_in, bool(row.paused), position,
                 math.ceil(position * 60 / row.admit_per_minute))


def finish(event_id: int, visitor_id: str | None) -> None:
    """The visitor has booked: they no longer count among the buyers shopping at once (max_active)."""
    if not visitor_id:
        return
    with unit_of_work():
        db.session.execute(sa.text("""
            UPDATE waiting_room_visitors SET finished_at = UTC_TIMESTAMP(3)
             WHERE event_id = :event_id AND visitor_id = :visitor_id AND admitted_at IS NOT NULL
               AND finished_at IS NULL"""), {"event_id": event_id, "visitor_id": visitor_id})
