"""A promo code with one use left, wanted by many buyers at the same moment: exactly one gets it."""
from __future__ import annotations

from decimal import Decimal

import pytest

from boxoffice.errors import PromoCodeRejected
from boxoffice.services import holds
from tests.builders import committed, make_customer, make_discount, make_event, make_venue, rows
from tests.concurrency.harness import (assert_inventory_consistent, assert_money_accounted_for, assert_no_faults,
                                       at_once, money_problems, new_key, pay)

pytestmark = pytest.mark.concurrency


def test_promo_code_with_one_use_left_is_used_once(app, owner_engine):
    buyers, rounds, limit = 12, 10, 5
    # Two buyers in three type the code; the others pay full price and must not be troubled by the race.
    asks = [i % 3 != 2 for i in range(buyers)]
    with committed(owner_engine) as c:
        venue = make_venue(c, rows=buyers, seats_per_row=2)
        customers = [make_customer(c).customer_id for _ in range(buyers)]
        for _ in range(rounds):
            event = make_event(c, venue)
            promo = make_discount(c, kind="percent", value=Decimal("20"), usage_limit=limit, times_used=limit - 1)
            keys = [new_key() for _ in range(buyers)]

            def prepare(i):
                # Each buyer holds a row of their own: they compete for the code, not for seats.
                owner = holds.new_hold_owner()
                row = chr(ord("A") + i)
                holds.hold_seats(event.event_id, event.seat_ids(f"{row}1", f"{row}2"), owner, minutes=10)
                return owner

            def act(i, owner):
                return pay(event.event_id, owner, customers[i], keys[i], promo=promo.code if asks[i] else None)

            outcomes = at_once(app, buyers, act, prepare=prepare)
            assert_no_faults(outcomes, PromoCodeRejected, also=money_problems(c, keys))
            refused = [o for o in outcomes if not o.ok]
            assert all(asks[o.client] for o in refused), "a buyer who did not ask for the code was refused"
            assert all("used up" in o.error.message for o in refused), [o.error.message for o in refused]
            with_code = rows(c, "SELECT booking_id FROM bookings WHERE event_id = :e AND discount_id = :d",
                             e=event.event_id, d=promo.discount_id)
            assert len(with_code) == 1, f"{len(with_code)} bookings got the code's last use"
            [winner] = [o for o in outcomes if o.ok and o.value.booking_id == with_code[0][0]]
            assert asks[winner.client]
            assert len(refused) == sum(asks) - 1, "everyone else who asked was told the code is used up"
            assert rows(c, "SELECT COUNT(*) FROM bookings WHERE event_id = :e AND discount_id IS NULL",
                        e=event.event_id) == [(buyers - sum(asks),)], "a buyer without the code pays full price"
            assert rows(c, "SELECT times_used FROM discounts WHERE discount_id = :d",
                        d=promo.discount_id) == [(limit,)]
            assert_inventory_consistent(c, event.event_id)
            assert_money_accounted_for(c, keys)
