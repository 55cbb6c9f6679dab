-- Triggers: the database's own guard of the booking rules. Repeatable (dropped and re-created).
-- User errors are SIGNALled with SQLSTATE 45000 and an application error number from 30001 on, which
-- the app maps to its domain errors (boxoffice/errors.py); MESSAGE_TEXT is shown to people as it is.

DROP TRIGGER IF EXISTS check_booking_date;
DROP TRIGGER IF EXISTS update_seat_availability;
DROP TRIGGER IF EXISTS make_event_lock;

DELIMITER $$

-- A booking must be made while its event is on sale: not cancelled, not a draft, inside the sales window
-- and before the start. The rule is checked against booked_at, not the wall clock, so the demo generator's
-- historical bookings pass through the very same rule as live ones; a booking dated in the future is
-- refused so the clock cannot be cheated that way.
CREATE TRIGGER check_booking_date BEFORE INSERT ON bookings
FOR EACH ROW
BEGIN
    DECLARE v_status VARCHAR(16);
    DECLARE v_starts_at DATETIME;
    DECLARE v_sales_start DATETIME;
    DECLARE v_sales_end DATETIME;

    SELECT status, starts_at, sales_start, sales_end
      INTO v_status, v_starts_at, v_sales_start, v_sales_end
      FROM events WHERE event_id = NEW.event_id;

    IF v_status IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001, MESSAGE_TEXT = 'This event does not exist.';
    ELSEIF v_status = 'cancelled' THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001,
            MESSAGE_TEXT = 'This event has been cancelled and can no longer be booked.';
    ELSEIF v_status = 'draft' THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001, MESSAGE_TEXT = 'This event is not on sale yet.';
    ELSEIF NEW.booked_at > UTC_TIMESTAMP() + INTERVAL 5 MINUTE THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001, MESSAGE_TEXT = 'A booking cannot be dated in the future.';
    ELSEIF NEW.booked_at >= v_starts_at THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001,
            MESSAGE_TEXT = 'This event has already started and can no longer be booked.';
    ELSEIF NEW.booked_at < v_sales_start THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001,
            MESSAGE_TEXT = 'Ticket sales for this event have not opened yet.';
    ELSEIF NEW.booked_at > v_sales_end THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001,
            MESSAGE_TEXT = 'Ticket sales for this event have closed.';
    END IF;
END$$

-- Every change of a seat's state goes through here, whatever code made it:
--  * the seat gets the event's next seat_version, so a seat-map poll can fetch "what changed since N";
--  * a seat turning sold (or back from sold) moves the event's and the category's available counts,
--    so those counts always equal the inventory (held seats still count as available: a hold expires
--    on its own, without a write).
-- The events row is the last lock of a transaction that changes seats (sql/objects/35_seat_states.sql,
-- "Locks"): whatever else it locks, it has locked before its first seat change, and after that it waits
-- for nothing, so two of them never wait on each other in opposite orders; the events row is held for
-- their last moments, and the versions are given out in the order the changes commit (a poll that has
-- seen version N has seen every change up to N). HoldSeats, which reads on after changing seats (the
-- single-seat rule), gives its seats their version itself at its end: while @boxoffice_hold_seats_event
-- names the event, a change of a seat of it that moves no count is left unversioned here. (Every other
-- procedure that changes seats clears it first, lest a HoldSeats stopped half-way leave it set:
-- 35_seat_states.sql, "The seat-version marker".)
CREATE TRIGGER update_seat_availability BEFORE UPDATE ON event_seats
FOR EACH ROW
BEGIN
    DECLARE v_delta INT DEFAULT 0;

    IF NEW.state <> OLD.state OR NOT (NEW.hold_owner <=> OLD.hold_owner)
       OR NOT (NEW.hold_expires_at <=> OLD.hold_expires_at) THEN
        IF OLD.state <> 'sold' AND NEW.state = 'sold' THEN
            SET v_delta = -1;
        ELSEIF OLD.state = 'sold' AND NEW.state <> 'sold' THEN
            SET v_delta = 1;
        END IF;

        -- LAST_INSERT_ID(expr) hands the new version back without a second read of the row; a trigger's
        -- LAST_INSERT_ID is put back when it ends, so the statement that fired it sees its own.
        IF v_delta <> 0 OR NOT (NEW.event_id <=> @boxoffice_hold_seats_event) THEN
            UPDATE events
               SET seat_version = LAST_INSERT_ID(seat_version + 1),
                   seats_available = seats_available + v_delta
             WHERE event_id = NEW.event_id;
            SET NEW.version = LAST_INSERT_ID();
        END IF;

        IF v_delta <> 0 THEN
            UPDATE event_prices
               SET seats_available = seats_available + v_delta
             WHERE event_id = NEW.event_id AND category_id = NEW.category_id;
        END IF;
    END IF;
END$$

-- Every event has its lock row (migration 0017): whatever inserts an event, it is there.
CREATE TRIGGER make_event_lock AFTER INSERT ON events
FOR EACH ROW
    INSERT INTO event_locks (event_id) VALUES (NEW.event_id)$$

DELIMITER ;
