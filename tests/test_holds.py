"""Seat holds: taking, extending, expiring and giving back seats (services on the real database)."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from boxoffice.errors import NotBookable, SeatUnavailable, StrandedSeat, TooManySeats
from boxoffice.services import best_available, holds, seatmap
from tests.builders import (ECONOMY, PREMIUM, committed, hold_seats, make_event, make_venue, new_hold_owner, rows,
                            sell_seats)


@pytest.fixture
def event(db_session):
    venue = make_venue(db_session, rows=3, seats_per_row=6, categories={"A": PREMIUM, "C": ECONOMY})
    event = make_event(db_session, venue, max_seats_per_order=4)
    db_session.commit()
    return event


def expire_hold(session, event, owner):
    session.execute(sa.text("""UPDATE event_seats SET hold_expires_at = UTC_TIMESTAMP(3) - INTERVAL 1 SECOND
                                WHERE event_id = :e AND hold_owner = :o"""), {"e": event.event_id, "o": owner})
    session.commit()


def test_holding_free_seats_gives_them_to_the_owner_for_the_hold_length(db_session, event):
    owner = new_hold_owner()
    hold = holds.hold_seats(event.event_id, event.seat_ids("B1", "B2"), owner, minutes=10)
    assert hold.seat_ids == tuple(event.seat_ids("B1", "B2"))
    left = (hold.expires_at - holds.database_now()).total_seconds()
    assert 590 < left <= 600


def test_a_seat_someone_holds_cannot_be_held_by_another_buyer(db_session, event):
    holds.hold_seats(event.event_id, event.seat_ids("B3"), new_hold_owner(), minutes=10)
    other = new_hold_owner()
    with pytest.raises(SeatUnavailable):
        holds.hold_seats(event.event_id, event.seat_ids("B3", "B4"), other, minutes=10)
    assert holds.current_hold(event.event_id, other).is_empty, "a refused hold takes no seat at all"


def test_an_expired_hold_is_free_for_the_next_buyer_without_any_clean_up(db_session, event):
    first = new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids("A1", "A2"), first, minutes=10)
    expire_hold(db_session, event, first)
    assert holds.current_hold(event.event_id, first).is_empty
    second = new_hold_owner()
    assert holds.hold_seats(event.event_id, event.seat_ids("A1", "A2"), second, 10).seat_ids == tuple(event.seat_ids("A1", "A2"))


def test_an_expired_hold_shows_as_available_on_the_seat_map(db_session, event):
    owner = new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids("A1"), owner, 10)
    states = {s.seat_id: s.state for sec in seatmap.seat_map(event.event_id).sections for r in sec.rows for s in r.seats}
    assert states[event.seat_ids("A1")[0]] == "held"
    expire_hold(db_session, event, owner)
    states = {s.seat_id: s.state for sec in seatmap.seat_map(event.event_id).sections for r in sec.rows for s in r.seats}
    assert states[event.seat_ids("A1")[0]] == "available"


def test_added_seats_share_the_running_holds_expiry(db_session, event):
    owner = new_hold_owner()
    first = holds.hold_seats(event.event_id, event.seat_ids("B1"), owner, 10)
    second = holds.hold_seats(event.event_id, event.seat_ids("B2"), owner, 10)
    assert second.expires_at == first.expires_at
    assert len(second.seat_ids) == 2


def test_an_order_cannot_hold_more_than_the_events_seat_limit(db_session, event):
    owner = new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids("B1", "B2", "B3"), owner, 10)
    with pytest.raises(TooManySeats, match="at most 4 seats"):
        holds.hold_seats(event.event_id, event.seat_ids("B4", "B5"), owner, 10)


def test_a_choice_that_strands_a_single_seat_is_refused_with_a_suggestion(db_session, event):
    owner = new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids("B1"), owner, 10)
    with pytest.raises(StrandedSeat, match="row B seat 2 empty on its own"):
        holds.hold_seats(event.event_id, event.seat_ids("B3"), owner, 10)
    assert holds.current_hold(event.event_id, owner).seat_ids == tuple(event.seat_ids("B1"))


def test_giving_back_the_middle_seat_of_a_block_is_refused(db_session, event):
    owner = new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids("B1", "B2", "B3"), owner, 10)
    with pytest.raises(StrandedSeat, match="row B seat 2 empty on its own"):
        holds.toggle_seat(event.event_id, event.seat_ids("B2")[0], owner, 10)
    assert len(holds.toggle_seat(event.event_id, event.seat_ids("B3")[0], owner, 10).seat_ids) == 2


def test_a_gap_someone_else_left_away_from_the_choice_does_not_refuse_it(db_session, event):
    hold_seats(db_session, event, event.seat_ids("B1", "B3"))
    db_session.commit()
    owner = new_hold_owner()
    assert holds.hold_seats(event.event_id, event.seat_ids("B6"), owner, 10).seat_ids == tuple(event.seat_ids("B6"))


def test_a_sold_seat_counts_as_taken_and_an_expired_hold_as_free_next_to_a_gap(db_session, event):
    db_session.execute(sa.text("UPDATE event_seats SET state = 'sold' WHERE event_id = :e AND seat_id = :s"),
                       {"e": event.event_id, "s": event.seat_ids("B1")[0]})
    hold_seats(db_session, event, event.seat_ids("C1"), minutes=-1)
    db_session.commit()
    owner = new_hold_owner()
    with pytest.raises(StrandedSeat, match="row B seat 2 empty on its own"):
        holds.hold_seats(event.event_id, event.seat_ids("B3"), owner, 10)
    assert holds.hold_seats(event.event_id, event.seat_ids("C3"), owner, 10).seat_ids == tuple(event.seat_ids("C3"))


def test_pressing_a_held_seat_again_gives_it_back(db_session, event):
    owner = new_hold_owner()
    assert holds.toggle_seat(event.event_id, event.seat_ids("C1")[0], owner, 10).seat_ids == tuple(event.seat_ids("C1"))
    assert holds.toggle_seat(event.event_id, event.seat_ids("C1")[0], owner, 10).is_empty


def test_pressing_a_seat_of_the_owners_expired_hold_takes_it_afresh_and_frees_the_rest(db_session, event):
    owner = new_hold_owner()
    first = holds.hold_seats(event.event_id, event.seat_ids("B1", "B2"), owner, 10)
    expire_hold(db_session, event, owner)

    again = holds.toggle_seat(event.event_id, event.seat_ids("B1")[0], owner, 10)

    assert again.seat_ids == tuple(event.seat_ids("B1")) and again.expires_at > first.expires_at
    assert rows(db_session, "SELECT state, hold_owner FROM event_seats WHERE event_id = :e AND seat_id = :s",
                e=event.event_id, s=event.seat_ids("B2")[0]) == [("available", None)]


def test_pressing_a_seat_someone_else_holds_does_not_take_it_and_says_when_it_may_come_free(db_session, event):
    hold = holds.hold_seats(event.event_id, event.seat_ids("C6"), new_hold_owner(), 10)
    # The hold runs out at, say, 19:42:07.5: the seat may come free at 19:43 (the minute rounded up).
    free_at = (hold.expires_at + dt.timedelta(seconds=59.999)).strftime("%H:%M")
    with pytest.raises(SeatUnavailable) as refused:
        holds.toggle_seat(event.event_id, event.seat_ids("C6")[0], new_hold_owner(), 10)
    assert refused.value.message == (f"Sorry, Stalls row C seat 6 is held by someone else. "
                                     f"It may come free at {free_at}.")


def test_a_sold_seat_is_refused_as_sold_not_as_just_taken(db_session, event):
    sell_seats(db_session, event, event.seat_ids("C5"))
    db_session.commit()
    with pytest.raises(SeatUnavailable) as refused:
        holds.toggle_seat(event.event_id, event.seat_ids("C5")[0], new_hold_owner(), 10)
    assert refused.value.message == "Sorry, Stalls row C seat 5 has already been sold."
    # Of several seats, the first one asked for that is not free is named; the free ones stay free.
    hold_seats(db_session, event, event.seat_ids("B2"))
    db_session.commit()
    with pytest.raises(SeatUnavailable, match=r"^Sorry, Stalls row B seat 2 is held by someone else\."):
        holds.hold_seats(event.event_id, event.seat_ids("B1", "B2", "C5"), new_hold_owner(), 10)
    assert rows(db_session, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state = 'held'",
                e=event.event_id) == [(1,)]


def call_hold_seats(conn, event, labels, owner) -> list[tuple]:
    return rows(conn, "CALL HoldSeats(:e, :o, :ids, 10, FALSE, NULL, NULL, 40, FALSE)", e=event.event_id, o=owner,
                ids=json.dumps(event.seat_ids(*labels)))


def test_the_hold_procedure_refusing_inside_the_callers_transaction_leaves_the_callers_work_as_it_was(db_session, event):
    conn, owner = db_session.connection(), new_hold_owner()
    assert [seat for seat, *_ in call_hold_seats(conn, event, ["A1"], owner)] == event.seat_ids("A1")
    hold_seats(conn, event, event.seat_ids("A4"))
    with pytest.raises(sa.exc.DBAPIError, match="30009"):
        call_hold_seats(conn, event, ["A3", "A4"], owner)
    assert rows(conn, "SELECT seat_id FROM event_seats WHERE hold_owner = :o", o=owner) == [(event.seat_ids("A1")[0],)]


def test_the_hold_procedure_with_autocommit_on_commits_its_own_transaction(owner_engine):
    with committed(owner_engine) as conn:
        event = make_event(conn, make_venue(conn))
        owner = new_hold_owner()
        call_hold_seats(conn, event, ["A1", "A2"], owner)
        with owner_engine.connect() as someone_else:
            assert rows(someone_else, "SELECT COUNT(*) FROM event_seats WHERE hold_owner = :o", o=owner) == [(2,)]


def test_releasing_the_hold_frees_every_seat_in_one_step(db_session, event):
    owner = new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids("B1", "B2"), owner, 10)
    holds.release_hold(event.event_id, owner)
    assert holds.current_hold(event.event_id, owner).is_empty
    assert rows(db_session, "SELECT COUNT(*) FROM event_seats WHERE event_id = :e AND state = 'held'",
                e=event.event_id) == [(0,)]


def test_the_payment_step_extends_a_hold_once_only(db_session, event):
    owner = new_hold_owner()
    before = holds.hold_seats(event.event_id, event.seat_ids("B1"), owner, minutes=1)
    extended = holds.extend_for_payment(event.event_id, owner)
    assert extended.extended and extended.expires_at > before.expires_at
    again = holds.extend_for_payment(event.event_id, owner)
    assert again.expires_at == extended.expires_at


def test_an_expired_hold_is_not_revived_by_the_payment_step(db_session, event):
    owner = new_hold_owner()
    holds.hold_seats(event.event_id, event.seat_ids("B1"), owner, 10)
    expire_hold(db_session, event, owner)
    assert holds.extend_for_payment(event.event_id, owner).is_empty


def test_seats_of_an_event_not_on_sale_cannot_be_held(db_session):
    venue = make_venue(db_session)
    draft = make_event(db_session, venue, status="draft")
    db_session.commit()
    with pytest.raises(NotBookable):
        holds.hold_seats(draft.event_id, draft.seat_ids("A1"), new_hold_owner(), 10)


def test_best_available_holds_adjacent_seats_in_the_best_row_of_the_category(db_session, event):
    owner = new_hold_owner()
    hold = best_available.hold_best_available(event.event_id, PREMIUM, 2, owner, 10)
    assert hold.seat_ids == tuple(event.seat_ids("A3", "A4")), "the middle of row A"


def test_best_available_never_strands_a_single_seat(db_session, event):
    holds.hold_seats(event.event_id, event.seat_ids("A1", "A2"), new_hold_owner(), 10)
    hold = best_available.hold_best_available(event.event_id, PREMIUM, 3, new_hold_owner(), 10)
    # A4-A6 would strand A3 between A2 and A4; A3-A5 leaves A6 alone at the row's end, which is allowed.
    assert hold.seat_ids == tuple(event.seat_ids("A3", "A4", "A5"))


def test_best_available_says_so_when_no_block_is_left(db_session, event):
    holds.hold_seats(event.event_id, event.seat_ids("A2", "A3", "A4", "A5"), new_hold_owner(), 10)
    with pytest.raises(SeatUnavailable, match="no 2 seats together"):
        best_available.hold_best_available(event.event_id, PREMIUM, 2, new_hold_owner(), 10)
