-- Version 17: a higher ceiling for one event. Until now every change of an event's seats locked the event's
-- row first and kept it until its commit, so all the bookings of one event queued in one place (about
-- 180-227 bookings a second, whatever else the machine could do: docs/benchmarks.md, "One event, many
-- connections"). Now a hold or a booking locks what it really contends on (sql/objects/35_seat_states.sql
-- says in which order): the event's lock row below shared, the seat rows it takes seats in, its buyer's
-- lock rows below, then its seats; the event's row itself (its seat version and counts, written by the
-- trigger update_seat_availability) only at its end, for the last microseconds before its commit.

-- The event as a whole: a hold, an extension or a booking locks this row shared, for its whole transaction;
-- whatever changes the event as a whole (cancelling, refunds, the waiting list, giving a hold back: every
-- unit_of_work(lock_event=...)) locks it exclusive. So those still never run beside a booking of the event,
-- while bookings run beside each other. One row an event, made with the event (the trigger
-- make_event_lock, sql/objects/20_triggers.sql).
CREATE TABLE event_locks (
    event_id INT UNSIGNED NOT NULL,
    PRIMARY KEY (event_id),
    CONSTRAINT fk_event_locks_event FOREIGN KEY (event_id) REFERENCES events (event_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO event_locks (event_id) SELECT event_id FROM events;

-- A booking's rows referred to the events row, and a foreign key check locks the parent row shared: every
-- booking in flight would hold the events row shared while the others wait to write its counts, each
-- waiting for the others (a deadlock). They refer to the event's lock row instead, which a booking holds
-- shared anyway: the same rule (no booking, no summary without its event), checked where it locks nothing
-- new.
ALTER TABLE bookings DROP FOREIGN KEY fk_bookings_event;
ALTER TABLE bookings ADD CONSTRAINT fk_bookings_event FOREIGN KEY (event_id) REFERENCES event_locks (event_id);
ALTER TABLE sales_by_period DROP FOREIGN KEY fk_sales_by_period_event;
ALTER TABLE sales_by_period
    ADD CONSTRAINT fk_sales_by_period_event FOREIGN KEY (event_id) REFERENCES event_locks (event_id) ON DELETE CASCADE;
ALTER TABLE category_sales_by_period DROP FOREIGN KEY fk_category_sales_by_period_event;
ALTER TABLE category_sales_by_period
    ADD CONSTRAINT fk_category_sales_by_period_event FOREIGN KEY (event_id) REFERENCES event_locks (event_id)
        ON DELETE CASCADE;

-- The fair-hold cap (migration 0008) counts one buyer's live seats across its hold owner, account and
-- address: two holds of one buyer at once must not both count the seats before either is written. A hold
-- locks the rows numbered by a hash of (event, owner), (event, customer) and (event, address), modulo 1024:
-- holds of one buyer queue, holds of different buyers almost never meet (a shared row only delays one).
CREATE TABLE buyer_locks (
    lock_no SMALLINT UNSIGNED NOT NULL,
    PRIMARY KEY (lock_no),
    CONSTRAINT ck_buyer_locks_range CHECK (lock_no < 1024)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO buyer_locks (lock_no)
WITH RECURSIVE n (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 31)
SELECT high.i * 32 + low.i FROM n high CROSS JOIN n low;
