-- Every write of a seat's state (available, held, sold): holds claimed, given back, extended and
-- reclaimed, held seats sold by InsertBooking, sold seats freed by a refund, free seats offered to a
-- waiting list and the offer claimed. Repeatable (dropped and
-- re-created). How long a hold lasts is always the caller's parameter (boxoffice/services/holds.py names
-- each duration once).
--
-- Locks (migration 0017). A hold, an extension or a booking locks only what it contends on, always in this
-- order, and its seats' changes come last, so that none of them waits for another in the opposite order:
--  1. the event's lock row (event_locks), shared: holds and bookings of one event run side by side, and
--     whatever takes the event as a whole (unit_of_work(lock_event=...): cancelling, refunds, the waiting
--     list, giving a whole hold back; OfferSeats, ClaimOfferedSeats) locks it exclusive and waits for
--     them, as they wait for it;
--  2. HoldSeats: the seat rows (seat_rows) of the seats it takes or gives back, by row id: the single-seat
--     rule reads a changed seat's neighbours, so two changes in one row run one after the other, and
--     changes in different rows or sections side by side;
--  3. the buyer's lock rows (buyer_locks, by BuyerLock below), exclusive: the hold owner's (HoldSeats,
--     ExtendHold and InsertBooking), the customer's and the address's (HoldSeats: the fair-hold cap counts
--     them), so a buyer's holds and payments go one at a time;
--  4. the seats themselves: every seat a statement will change is locked before the first change (a
--     single seat by the UPDATE itself);
--  5. the booking's own rows and the summaries (InsertBooking);
--  6. last, by the trigger update_seat_availability at a seat's change (HoldSeats: at its end, once its
--     reads are done): the events row (its seat version and counts) and the category's event_prices row,
--     kept for the last moments before the commit, when nothing is waited for any more.
-- They run in READ COMMITTED when the transaction is theirs to begin (the app's, and a caller with
-- autocommit on): each read sees what is committed when it runs, after the locks above, and a scan takes
-- no gap locks, which would make a seat's change wait for a stranger's hold in the next index gap. Called
-- inside a transaction already under way (a test's), they run in the caller's isolation level.
-- Done from the app statement by statement, one lock was held across half a dozen round trips to the web
-- server; here the locks are held for the work alone (the procedures commit themselves: `p_commit`).
--
-- Reads and writes of one owner's seats name ix_event_seats_owner (USE INDEX), and of given seats the
-- primary key. Those are the plans the optimiser picks (but for ExtendHold's UPDATE, which went through
-- the expiry index, over every live hold of the event); without the hint it first estimates
-- `event_id = constant` on each of the six other indexes of event_seats that start with event_id, which
-- took longer than the statement's own work (~70 us a statement; a seat click 1.14 -> 0.97 ms in MariaDB).
--
-- The seat-version marker: while HoldSeats changes seats, @boxoffice_hold_seats_event names its event, so
-- that the trigger update_seat_availability leaves their versions to HoldSeats' end (20_triggers.sql).
-- HoldSeats clears it in its handler too, but a HoldSeats stopped without its handler running (MariaDB 10.11
-- runs it for a KILL QUERY; a server that does not, or a handler stopped in turn) would leave it set on the
-- connection, which the app's pool hands on. So every other procedure here that changes seats clears it
-- first, and a stale marker never keeps a seat's change from its version. Here, and not as the pool hands a
-- connection out: that would be a round trip for every transaction of the app, while every write of a
-- seat's state is one of these procedures (tests/test_triggers.py holds them to it).
--
-- Errors are SIGNALled as in 20_triggers.sql: 30001 not bookable, 30006 too many seats, 30009 a seat
-- someone else has (sold, or held until when), 30010 a single seat left stranded, 30011 a seat that came
-- back goes to the waiting list first.
--
-- The waiting list first (boxoffice/services/waiting_list.py): while anyone waits in an event's line, a
-- seat whose hold ran out is the line's before it is anyone else's. HoldSeats never gives such a seat to a
-- buyer then (30011); the app lets the line take its pick (OfferSeats, then ReleaseRunOutHolds for what
-- nobody in the line can use) and asks again. A refund offers the seats it frees to the line in its own
-- transaction, so they are never on sale in between. A seat given back by pressing it again is not put on
-- sale while anyone waits: its hold runs out there and then, and it goes to the line as any such seat does.
-- The line is read only for a seat whose hold ran out and for a seat given back, so a click on an available
-- seat costs nothing more.
--
-- Fair holds (migration 0008): one buyer holds at most the event's max_seats_per_order seats at once,
-- counted across the hold owner (the browser session) and the signed-in account. It is the same number as
-- the most seats of one order, since an order is one hold: a limit per session that a second session
-- doubles is no limit. A network address has a cap of its own, larger (the caller's p_address_cap, never
-- below the seats of one order): the people behind one address (a household, an office, a carrier's NAT)
-- each hold up to an order, until the address's seats reach its cap. The holds record who took them
-- (hold_customer_id and hold_address: HoldSeats, ReclaimSeats, OfferSeats, ClaimOfferedSeats), so that
-- every live hold counts.

DROP FUNCTION IF EXISTS BuyerLock;
DROP PROCEDURE IF EXISTS HoldSeats;
DROP PROCEDURE IF EXISTS ExtendHold;
DROP PROCEDURE IF EXISTS RefuseStrandedSeat;
DROP PROCEDURE IF EXISTS ReleaseHold;
DROP PROCEDURE IF EXISTS ReclaimSeats;
DROP PROCEDURE IF EXISTS SellHeldSeats;
DROP PROCEDURE IF EXISTS FreeSoldSeats;
DROP PROCEDURE IF EXISTS OfferSeats;
DROP PROCEDURE IF EXISTS ClaimOfferedSeats;
DROP PROCEDURE IF EXISTS ReleaseRunOutHolds;

DELIMITER $$

-- The buyer's lock row (buyer_locks, 0-1023) of a key of the event: 'owner <hold owner>', 'customer <id>'
-- or 'address <address>'. NULL for a NULL key. Different keys may share a row: they only wait for each other.
CREATE FUNCTION BuyerLock(p_event_id INT UNSIGNED, p_key VARCHAR(100) CHARACTER SET ascii)
    RETURNS SMALLINT UNSIGNED
    DETERMINISTIC NO SQL
    RETURN CRC32(CONCAT(p_event_id, ' ', p_key)) % 1024$$

-- Adds the seats `p_seat_ids` (a JSON array of seat ids) to the hold of `p_hold_owner` for the event:
-- a new hold lasts `p_minutes`; added seats share the running hold's expiry, so adding seats never buys
-- more time. With `p_toggle`, a first seat that is already in the owner's live hold is given back
-- instead (a seat pressed on the map). The owner's own seats left over from an expired hold are freed
-- first, so InsertBooking never finds an expired seat in a hold that is otherwise live; while the event's
-- waiting list has people in it, they are the line's first (30011: see the top of this file), and so is any
-- other seat whose hold ran out, and a seat given back.
--
-- A change that leaves one free seat alone between two taken ones in their rows, next to a changed seat,
-- is refused (30010): a gap someone else left is not the buyer's doing. Taken means sold, or held and not
-- expired. Only a changed seat or its two neighbours can be such a gap, so each candidate and its
-- neighbours are looked up by (row, seat number): a few primary-key reads, where ranking the changed
-- seats' whole rows by a window function cost about a millisecond a click on the arena. (The search is
-- written here once, not called: a CALL inside a procedure costs about as much as a primary-key read.)
--
-- The caps: the owner's live seats, the new ones and the live seats other owners hold for the same customer
-- (`p_customer_id`) may not pass max_seats_per_order; with the live seats other owners hold from the same
-- address (`p_address`), they may not pass the address's cap, `p_address_cap` (at least max_seats_per_order).
-- Each is 30006, saying how many are held elsewhere. The two counts are read only when seats are added and
-- only for what is given (NULL: not counted), each through its own index (hold_customer_id or hold_address,
-- event_id, state, hold_expires_at): a range over the live holds alone.
--
-- Returns the owner's live hold afterwards: one row per seat (seat_id, hold_expires_at, hold_extended).
-- Every refusal leaves nothing behind, in its own transaction or inside the caller's, as InsertBooking;
-- `p_commit` commits the caller's transaction with the change, as InsertBooking's does.
CREATE PROCEDURE HoldSeats(
    IN p_event_id    INT UNSIGNED,
    IN p_hold_owner  CHAR(32) CHARACTER SET ascii,
    IN p_seat_ids    JSON,
    IN p_minutes     INT,
    IN p_toggle      BOOLEAN,
    IN p_customer_id INT UNSIGNED,
    IN p_address     VARCHAR(45) CHARACTER SET ascii,
    IN p_address_cap INT,
    IN p_commit      BOOLEAN)
    MODIFIES SQL DATA
BEGIN
    DECLARE v_own_tx BOOLEAN DEFAULT FALSE;
    DECLARE v_errno INT;
    DECLARE v_now DATETIME(3);
    DECLARE v_status VARCHAR(16);
    DECLARE v_starts_at DATETIME;
    DECLARE v_sales_start DATETIME;
    DECLARE v_sales_end DATETIME;
    DECLARE v_max_seats INT;
    DECLARE v_held INT;
    DECLARE v_expired INT;
    DECLARE v_first_held BOOLEAN;
    DECLARE v_expires_at DATETIME(3);
    DECLARE v_extended BOOLEAN;
    DECLARE v_new INT;
    DECLARE v_first INT UNSIGNED;
    DECLARE v_one_seat BOOLEAN;
    DECLARE v_changed JSON;
    DECLARE v_gap INT UNSIGNED;
    DECLARE v_message VARCHAR(200);
    DECLARE v_elsewhere INT DEFAULT 0;
    DECLARE v_from_address INT DEFAULT 0;
    DECLARE v_locked INT;
    DECLARE v_rows JSON;
    DECLARE v_targets JSON;
    DECLARE v_run_out JSON;
    DECLARE v_versioned JSON DEFAULT JSON_ARRAY();
    DECLARE v_line_first BOOLEAN;
    DECLARE v_free JSON;
    DECLARE v_claimed INT;

    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        GET DIAGNOSTICS CONDITION 1 v_errno = MYSQL_ERRNO;
        SET @boxoffice_hold_seats_event = NULL;
        IF v_own_tx THEN
            ROLLBACK;
        ELSEIF v_errno <> 1213 THEN
            ROLLBACK TO SAVEPOINT hold_seats;
        END IF;
        RESIGNAL;
    END;

    -- Inside the caller's transaction or not, in READ COMMITTED if it is ours to begin: see InsertBooking.
    BEGIN
        DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET v_own_tx = TRUE;
        SAVEPOINT hold_seats;
        ROLLBACK TO SAVEPOINT hold_seats;
    END;
    BEGIN
        DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
        SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
    END;
    IF v_own_tx THEN
        START TRANSACTION;
    END IF;

    -- The locks, in the order of "Locks" at the top of this file: the event shared, then the seats' rows
    -- and the buyer's lock rows (for one seat in one read; for several, their rows by row id first).
    SET v_first = CAST(JSON_VALUE(p_seat_ids, '$[0]') AS UNSIGNED);
    SET v_one_seat = v_first IS NOT NULL AND JSON_LENGTH(p_seat_ids) = 1;
    SELECT COUNT(*) INTO v_locked FROM event_locks WHERE event_id = p_event_id LOCK IN SHARE MODE;
    IF v_one_seat THEN
        SELECT COUNT(*) INTO v_locked
          FROM seats s STRAIGHT_JOIN seat_rows r ON r.row_id = s.row_id
          STRAIGHT_JOIN buyer_locks b
         WHERE s.seat_id = v_first
           AND b.lock_no IN (BuyerLock(p_event_id, CONCAT('owner ', p_hold_owner)),
                             BuyerLock(p_event_id, CONCAT('customer ', p_customer_id)),
                             BuyerLock(p_event_id, CONCAT('address ', p_address)))
           FOR UPDATE;
    ELSE
        SELECT JSON_ARRAYAGG(DISTINCT s.row_id ORDER BY s.row_id), JSON_ARRAYAGG(DISTINCT s.seat_id ORDER BY s.seat_id)
          INTO v_rows, v_targets
          FROM JSON_TABLE(p_seat_ids, '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
          JOIN seats s ON s.seat_id = j.seat_id;
        SELECT COUNT(*) INTO v_locked
          FROM JSON_TABLE(v_rows, '$[*]' COLUMNS (row_id INT UNSIGNED PATH '$')) j
          STRAIGHT_JOIN seat_rows r ON r.row_id = j.row_id
           FOR UPDATE;
        SELECT COUNT(*) INTO v_locked FROM buyer_locks
         WHERE lock_no IN (BuyerLock(p_event_id, CONCAT('owner ', p_hold_owner)),
                           BuyerLock(p_event_id, CONCAT('customer ', p_customer_id)),
                           BuyerLock(p_event_id, CONCAT('address ', p_address)))
           FOR UPDATE;
    END IF;

    SELECT status, starts_at, sales_start, sales_end, max_seats_per_order
      INTO v_status, v_starts_at, v_sales_start, v_sales_end, v_max_seats
      FROM events WHERE event_id = p_event_id;
    SET v_now = UTC_TIMESTAMP(3);
    IF v_status IS NULL THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001, MESSAGE_TEXT = 'This event does not exist.';
    ELSEIF v_status <> 'on_sale' THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001, MESSAGE_TEXT = 'This event is not on sale.';
    ELSEIF v_now >= v_starts_at THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001, MESSAGE_TEXT = 'This event has already started.';
    ELSEIF v_now < v_sales_start THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001,
            MESSAGE_TEXT = 'Ticket sales for this event have not opened yet.';
    ELSEIF v_now > v_sales_end THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001, MESSAGE_TEXT = 'Ticket sales for this event have closed.';
    END IF;

    -- The seats changed below get their version at the end (see update_seat_availability).
    SET @boxoffice_hold_seats_event = p_event_id;

    -- The owner's hold in one read: its live seats, their shared expiry, whether the first seat pressed is
    -- among them, and any seats left over from an expired hold (freed only when there are some).
    SELECT COUNT(*), COALESCE(SUM(hold_expires_at <= v_now), 0),
           MIN(IF(hold_expires_at > v_now, hold_expires_at, NULL)),
           COALESCE(MAX(IF(hold_expires_at > v_now, hold_extended, NULL)), FALSE),
           COALESCE(MAX(seat_id = v_first AND hold_expires_at > v_now), FALSE)
      INTO v_held, v_expired, v_expires_at, v_extended, v_first_held
      FROM event_seats USE INDEX (ix_event_seats_owner)
     WHERE hold_owner = p_hold_owner AND event_id = p_event_id AND state = 'held';
    IF v_expired > 0 THEN
        IF EXISTS (SELECT 1 FROM waiting_list_entries USE INDEX (ix_waiting_list_line)
                    WHERE event_id = p_event_id AND status = 'waiting') THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30011,
                MESSAGE_TEXT = 'Your hold ran out, and seats that come back go to the waiting list first.';
        END IF;
        -- Locked before the change (4. in "Locks"): the seats pressed that are free, then the owner's run-out
        -- seats but those someone else is taking just now (theirs once they commit), who might be pressing
        -- ours. (A seat that is not free is let go at once in read committed: its holder may be changing it.)
        SELECT JSON_ARRAYAGG(es.seat_id) INTO v_free
          FROM JSON_TABLE(COALESCE(v_targets, JSON_ARRAY(v_first)), '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
          STRAIGHT_JOIN event_seats es USE INDEX (PRIMARY) ON es.event_id = p_event_id AND es.seat_id = j.seat_id
         WHERE es.state = 'available' OR (es.state = 'held' AND es.hold_expires_at <= v_now)
           FOR UPDATE;
        SELECT JSON_ARRAYAGG(seat_id) INTO v_run_out
          FROM event_seats USE INDEX (ix_event_seats_owner)
         WHERE hold_owner = p_hold_owner AND event_id = p_event_id AND state = 'held' AND hold_expires_at <= v_now
           FOR UPDATE SKIP LOCKED;
        UPDATE event_seats es USE INDEX (PRIMARY)
          JOIN JSON_TABLE(COALESCE(v_run_out, '[]'), '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
            ON es.event_id = p_event_id AND es.seat_id = j.seat_id
           SET es.state = 'available', es.hold_owner = NULL, es.hold_expires_at = NULL, es.hold_extended = FALSE
         WHERE es.hold_owner = p_hold_owner AND es.state = 'held' AND es.hold_expires_at <= v_now;
        SET v_held = v_held - v_expired, v_versioned = COALESCE(v_run_out, v_versioned);
    ELSEIF NOT v_one_seat THEN
        -- The free seats pressed, locked before the change (4. in "Locks"), by seat id: the change below
        -- takes these alone, so it never waits with some of them changed.
        SELECT JSON_ARRAYAGG(es.seat_id) INTO v_free
          FROM JSON_TABLE(v_targets, '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
          STRAIGHT_JOIN event_seats es USE INDEX (PRIMARY) ON es.event_id = p_event_id AND es.seat_id = j.seat_id
         WHERE es.state = 'available' OR (es.state = 'held' AND es.hold_expires_at <= v_now)
           FOR UPDATE;
    END IF;

    IF p_toggle AND v_first_held THEN
        -- Given back. While anyone waits in the line, the seat is the line's first (see the top of this file):
        -- instead of going on sale, its hold runs out now, as any hold may, and the line takes its pick as of
        -- those. It is held under a token that is nobody's ('given back'; a hold owner's is 32 hex digits), so
        -- the buyer's hold no longer has it (PriceHold and InsertBooking read the owner's seats, run out or not).
        SELECT EXISTS (SELECT 1 FROM waiting_list_entries USE INDEX (ix_waiting_list_line)
                        WHERE event_id = p_event_id AND status = 'waiting')
          INTO v_line_first;
        IF v_line_first THEN
            UPDATE event_seats USE INDEX (PRIMARY)
               SET hold_owner = 'given back', hold_expires_at = v_now, hold_extended = FALSE
             WHERE event_id = p_event_id AND seat_id = v_first;
        ELSE
            UPDATE event_seats USE INDEX (PRIMARY)
               SET state = 'available', hold_owner = NULL, hold_expires_at = NULL, hold_extended = FALSE
             WHERE event_id = p_event_id AND seat_id = v_first;
        END IF;
        SET v_versioned = JSON_ARRAY_APPEND(v_versioned, '$', v_first);
        IF v_held > 1 THEN
            SET v_changed = JSON_ARRAY(v_first);
        END IF;
    ELSE
        IF v_one_seat THEN
            -- One seat (a seat pressed on the map): new unless the read above found it in the live hold.
            SET v_new = NOT v_first_held;
        ELSE
            SELECT COUNT(DISTINCT j.seat_id) INTO v_new
              FROM JSON_TABLE(p_seat_ids, '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
             WHERE NOT EXISTS (SELECT 1 FROM event_seats es USE INDEX (PRIMARY)
                                WHERE es.event_id = p_event_id AND es.seat_id = j.seat_id
                                  AND es.hold_owner = p_hold_owner AND es.state = 'held');
        END IF;
        IF v_held + v_new > v_max_seats THEN
            SET v_message = CONCAT('One order can hold at most ', v_max_seats, ' seats for this event.');
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30006, MESSAGE_TEXT = v_message;
        END IF;
        -- The buyer's other holds (see above): the account's, then everyone's from the address.
        IF v_new > 0 AND p_customer_id IS NOT NULL THEN
            SELECT COUNT(*) INTO v_elsewhere
              FROM event_seats USE INDEX (ix_event_seats_hold_customer)
             WHERE hold_customer_id = p_customer_id AND event_id = p_event_id AND state = 'held'
               AND hold_expires_at > v_now AND hold_owner <> p_hold_owner;
        END IF;
        IF v_new > 0 AND p_address IS NOT NULL THEN
            SELECT COUNT(*) INTO v_from_address
              FROM event_seats USE INDEX (ix_event_seats_hold_address)
             WHERE hold_address = p_address AND event_id = p_event_id AND state = 'held'
               AND hold_expires_at > v_now AND hold_owner <> p_hold_owner;
        END IF;
        IF v_held + v_new + v_elsewhere > v_max_seats THEN
            SET v_message = CONCAT('You can hold at most ', v_max_seats, ' seats for this event at a time, counting the ',
                                   v_elsewhere, ' held in your other windows or devices. ',
                                   'Give some back or finish that order first.');
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30006, MESSAGE_TEXT = v_message;
        END IF;
        IF v_held + v_new + v_from_address > GREATEST(COALESCE(p_address_cap, 0), v_max_seats) THEN
            SET v_message = CONCAT('At most ', GREATEST(COALESCE(p_address_cap, 0), v_max_seats), ' seats for this ',
                                   'event may be held at once from one network connection, and yours has reached it. ',
                                   'Try again in a few minutes, when some have been paid for or given back.');
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30006, MESSAGE_TEXT = v_message;
        END IF;
        IF v_new > 0 THEN
            IF v_one_seat THEN
                -- One seat: a one-table UPDATE by primary key (~60 us less than the join below).
                UPDATE event_seats USE INDEX (PRIMARY)
                   SET state = 'held', hold_owner = p_hold_owner,
                       hold_expires_at = COALESCE(v_expires_at, v_now + INTERVAL p_minutes MINUTE),
                       hold_extended = v_extended, hold_customer_id = p_customer_id, hold_address = p_address
                 WHERE event_id = p_event_id AND seat_id = v_first
                   AND (state = 'available' OR (state = 'held' AND hold_expires_at <= v_now
                        AND NOT EXISTS (SELECT 1 FROM waiting_list_entries w USE INDEX (ix_waiting_list_line)
                                         WHERE w.event_id = p_event_id AND w.status = 'waiting')));
            ELSE
                -- Joined, not `seat_id IN (SELECT ... JSON_TABLE)`: that form scans the event's every seat. The
                -- free seats locked above alone: a seat pressed that is not free is counted out by ROW_COUNT.
                UPDATE event_seats es USE INDEX (PRIMARY)
                  JOIN JSON_TABLE(COALESCE(v_free, JSON_ARRAY()), '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
                    ON es.event_id = p_event_id AND es.seat_id = j.seat_id
                   SET es.state = 'held', es.hold_owner = p_hold_owner,
                       es.hold_expires_at = COALESCE(v_expires_at, v_now + INTERVAL p_minutes MINUTE),
                       es.hold_extended = v_extended, es.hold_customer_id = p_customer_id, es.hold_address = p_address
                 WHERE es.state = 'available' OR (es.state = 'held' AND es.hold_expires_at <= v_now
                        AND NOT EXISTS (SELECT 1 FROM waiting_list_entries w USE INDEX (ix_waiting_list_line)
                                         WHERE w.event_id = p_event_id AND w.status = 'waiting'));
            END IF;
            SET v_claimed = ROW_COUNT();
            IF v_claimed <> v_new THEN
                -- A SELECT, not the IF's own subquery: that would lock the seats shared (an IF is no SELECT to
                -- InnoDB), and a buyer paying for one of them may be waiting for a seat this hold has locked.
                SELECT EXISTS (SELECT 1 FROM JSON_TABLE(p_seat_ids, '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
                                 JOIN event_seats es USE INDEX (PRIMARY) ON es.event_id = p_event_id AND es.seat_id = j.seat_id
                                WHERE es.state = 'held' AND es.hold_expires_at <= v_now)
                       AND EXISTS (SELECT 1 FROM waiting_list_entries USE INDEX (ix_waiting_list_line)
                                    WHERE event_id = p_event_id AND status = 'waiting')
                  INTO v_line_first;
                IF v_line_first THEN
                    SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30011,
                        MESSAGE_TEXT = 'That seat has just come back, and seats that come back go to the waiting list first.';
                END IF;
            END IF;
            IF v_claimed <> v_new THEN
                -- Which seat was not free, and why: sold, or held by someone else until when (rounded up to
                -- the minute: it may come free then). Read only for a refusal.
                SELECT CONCAT('Sorry, ', sec.name, ' row ', r.label, ' seat ', s.seat_number,
                              IF(es.state = 'sold', ' has already been sold.',
                                 CONCAT(' is held by someone else. It may come free at ',
                                        DATE_FORMAT(es.hold_expires_at + INTERVAL 59999000 MICROSECOND, '%H:%i'), '.')))
                  INTO v_message
                  FROM JSON_TABLE(p_seat_ids, '$[*]' COLUMNS (n FOR ORDINALITY, seat_id INT UNSIGNED PATH '$')) j
                  JOIN event_seats es USE INDEX (PRIMARY) ON es.event_id = p_event_id AND es.seat_id = j.seat_id
                  JOIN seats s ON s.seat_id = es.seat_id
                  JOIN seat_rows r ON r.row_id = s.row_id
                  JOIN sections sec ON sec.section_id = s.section_id
                 WHERE es.state = 'sold'
                    OR (es.state = 'held' AND es.hold_expires_at > v_now AND NOT es.hold_owner <=> p_hold_owner)
                 ORDER BY j.n
                 LIMIT 1;
                SET v_message = COALESCE(v_message, 'Sorry, someone else has just taken one of those seats.');
                SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30009, MESSAGE_TEXT = v_message;
            END IF;
            SET v_changed = p_seat_ids, v_versioned = JSON_MERGE_PRESERVE(v_versioned, p_seat_ids);
        END IF;
    END IF;

    -- The stranded-seat rule for the seats changed (see above). The join order and indexes are the
    -- optimiser's own choice, fixed (STRAIGHT_JOIN, USE INDEX): planning eight tables still takes about
    -- three times as long as the reads (~105 us against ~30), but ~20 us less than weighing every order.
    IF v_changed IS NOT NULL THEN
        SELECT STRAIGHT_JOIN g.seat_id INTO v_gap
          FROM JSON_TABLE(v_changed, '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
          JOIN seats c USE INDEX (PRIMARY) ON c.seat_id = j.seat_id
          JOIN seats g USE INDEX (uq_seats_row_number)
            ON g.row_id = c.row_id AND g.seat_number BETWEEN c.seat_number - 1 AND c.seat_number + 1
          JOIN event_seats ge USE INDEX (PRIMARY) ON ge.event_id = p_event_id AND ge.seat_id = g.seat_id
          JOIN seats lft USE INDEX (uq_seats_row_number) ON lft.row_id = g.row_id AND lft.seat_number = g.seat_number - 1
          JOIN event_seats le USE INDEX (PRIMARY) ON le.event_id = p_event_id AND le.seat_id = lft.seat_id
          JOIN seats rgt USE INDEX (uq_seats_row_number) ON rgt.row_id = g.row_id AND rgt.seat_number = g.seat_number + 1
          JOIN event_seats re USE INDEX (PRIMARY) ON re.event_id = p_event_id AND re.seat_id = rgt.seat_id
         WHERE NOT (ge.state = 'sold' OR (ge.state = 'held' AND ge.hold_expires_at > v_now))
           AND (le.state = 'sold' OR (le.state = 'held' AND le.hold_expires_at > v_now))
           AND (re.state = 'sold' OR (re.state = 'held' AND re.hold_expires_at > v_now))
         ORDER BY g.row_id, g.seat_number
         LIMIT 1;

        -- The seat's name only for a refusal, so the search above joins two tables fewer.
        IF v_gap IS NOT NULL THEN
            SELECT CONCAT('That would leave ', sec.name, ' row ', r.label, ' seat ', s.seat_number, ' empty on its own. ',
                          'Choose that seat too, or pick seats that sit together.') INTO v_message
              FROM seats s
              JOIN seat_rows r ON r.row_id = s.row_id
              JOIN sections sec ON sec.section_id = s.section_id
             WHERE s.seat_id = v_gap;
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30010, MESSAGE_TEXT = v_message;
        END IF;
    END IF;

    SELECT seat_id, hold_expires_at, hold_extended
      FROM event_seats USE INDEX (ix_event_seats_owner)
     WHERE hold_owner = p_hold_owner AND event_id = p_event_id AND state = 'held'
     ORDER BY seat_id;

    -- Last, the events row (6. in "Locks"): the event's next seat version, for every seat changed above.
    SET @boxoffice_hold_seats_event = NULL;
    IF JSON_LENGTH(v_versioned) > 0 THEN
        UPDATE events SET seat_version = LAST_INSERT_ID(seat_version + 1) WHERE event_id = p_event_id;
        IF JSON_LENGTH(v_versioned) = 1 THEN
            -- One seat (a seat pressed): a one-table UPDATE by primary key, a third of the join's cost.
            UPDATE event_seats USE INDEX (PRIMARY) SET version = LAST_INSERT_ID()
             WHERE event_id = p_event_id AND seat_id = CAST(JSON_VALUE(v_versioned, '$[0]') AS UNSIGNED);
        ELSE
            UPDATE event_seats es USE INDEX (PRIMARY)
              JOIN JSON_TABLE(v_versioned, '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
                ON es.event_id = p_event_id AND es.seat_id = j.seat_id
               SET es.version = LAST_INSERT_ID();
        END IF;
    END IF;

    IF v_own_tx OR p_commit THEN
        COMMIT;
    ELSE
        RELEASE SAVEPOINT hold_seats;
    END IF;
END$$

-- The payment step: gives the owner's live hold `p_seconds` more time from now (never less than it had),
-- once per hold, so a buyer who is paying is not cut off. An expired hold is not revived. Returns the
-- owner's live hold afterwards, as HoldSeats does; `p_commit` as there.
CREATE PROCEDURE ExtendHold(IN p_event_id INT UNSIGNED, IN p_hold_owner CHAR(32) CHARACTER SET ascii,
                            IN p_seconds INT, IN p_commit BOOLEAN)
    MODIFIES SQL DATA
BEGIN
    DECLARE v_own_tx BOOLEAN DEFAULT FALSE;
    DECLARE v_now DATETIME(3);
    DECLARE v_locked INT UNSIGNED;

    SET @boxoffice_hold_seats_event = NULL;
    -- Inside the caller's transaction or not, as HoldSeats. (One UPDATE: nothing to undo by hand.)
    BEGIN
        DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET v_own_tx = TRUE;
        SAVEPOINT extend_hold;
        ROLLBACK TO SAVEPOINT extend_hold;
    END;
    BEGIN
        DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
        SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
    END;
    IF v_own_tx THEN
        START TRANSACTION;
    END IF;

    -- The event shared, the owner's lock row ("Locks" at the top of this file). The owner's seats that
    -- someone else is taking just now have run out, so the UPDATE passes them by without waiting (read
    -- committed reads their last committed version).
    SELECT COUNT(*) INTO v_locked FROM event_locks WHERE event_id = p_event_id LOCK IN SHARE MODE;
    SELECT COUNT(*) INTO v_locked FROM buyer_locks
     WHERE lock_no = BuyerLock(p_event_id, CONCAT('owner ', p_hold_owner)) FOR UPDATE;
    SET v_now = UTC_TIMESTAMP(3);
    UPDATE event_seats USE INDEX (ix_event_seats_owner)
       SET hold_expires_at = GREATEST(hold_expires_at, v_now + INTERVAL p_seconds SECOND), hold_extended = TRUE
     WHERE hold_owner = p_hold_owner AND event_id = p_event_id AND state = 'held'
       AND hold_expires_at > v_now AND NOT hold_extended;

    SELECT seat_id, hold_expires_at, hold_extended
      FROM event_seats USE INDEX (ix_event_seats_owner)
     WHERE hold_owner = p_hold_owner AND event_id = p_event_id AND state = 'held' AND hold_expires_at > v_now
     ORDER BY seat_id;

    IF v_own_tx OR p_commit THEN
        COMMIT;
    END IF;
END$$

-- The procedures below change seats inside the caller's transaction, which holds the event's lock row
-- exclusive (boxoffice/services/unit_of_work.py; OfferSeats and ClaimOfferedSeats lock it themselves), or
-- is InsertBooking's (SellHeldSeats)
-- (boxoffice/services/unit_of_work.py; InsertBooking), and neither commit nor roll back.

-- Gives back every seat of the owner's hold for the event (one click).
CREATE PROCEDURE ReleaseHold(IN p_event_id INT UNSIGNED, IN p_hold_owner CHAR(32) CHARACTER SET ascii)
    MODIFIES SQL DATA
BEGIN
    SET @boxoffice_hold_seats_event = NULL;
    UPDATE event_seats USE INDEX (ix_event_seats_owner)
       SET state = 'available', hold_owner = NULL, hold_expires_at = NULL, hold_extended = FALSE
     WHERE hold_owner = p_hold_owner AND event_id = p_event_id AND state = 'held';
END$$

-- After a payment that completed once the hold had run out: takes the same seats (a JSON array of seat
-- ids) into the owner's hold again for `p_seconds`, if every one is still free or still the owner's;
-- otherwise changes nothing and refuses (30009). Records the payer and address as HoldSeats does, so the
-- fair-hold caps count the seats (and not for whoever held them before).
CREATE PROCEDURE ReclaimSeats(IN p_event_id INT UNSIGNED, IN p_hold_owner CHAR(32) CHARACTER SET ascii,
                              IN p_seat_ids JSON, IN p_seconds INT, IN p_customer_id INT UNSIGNED,
                              IN p_address VARCHAR(45) CHARACTER SET ascii)
    MODIFIES SQL DATA
BEGIN
    DECLARE v_now DATETIME(3) DEFAULT UTC_TIMESTAMP(3);
    SET @boxoffice_hold_seats_event = NULL;
    SAVEPOINT reclaim_seats;
    UPDATE event_seats es USE INDEX (PRIMARY)
      JOIN JSON_TABLE(p_seat_ids, '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
        ON es.event_id = p_event_id AND es.seat_id = j.seat_id
       SET es.state = 'held', es.hold_owner = p_hold_owner, es.hold_expires_at = v_now + INTERVAL p_seconds SECOND,
           es.hold_extended = TRUE, es.hold_customer_id = p_customer_id, es.hold_address = p_address
     WHERE es.state = 'available'
        OR (es.state = 'held' AND (es.hold_owner = p_hold_owner OR es.hold_expires_at <= v_now));
    IF ROW_COUNT() <> JSON_LENGTH(p_seat_ids) THEN
        ROLLBACK TO SAVEPOINT reclaim_seats;
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30009,
            MESSAGE_TEXT = 'Your hold ran out before the payment completed and the seats were taken.';
    END IF;
    RELEASE SAVEPOINT reclaim_seats;
END$$

-- InsertBooking's last step: the owner's held seats are sold.
CREATE PROCEDURE SellHeldSeats(IN p_event_id INT UNSIGNED, IN p_hold_owner CHAR(32) CHARACTER SET ascii)
    MODIFIES SQL DATA
BEGIN
    SET @boxoffice_hold_seats_event = NULL;
    UPDATE event_seats USE INDEX (ix_event_seats_owner) SET state = 'sold', hold_owner = NULL, hold_expires_at = NULL
     WHERE event_id = p_event_id AND hold_owner = p_hold_owner AND state = 'held';
END$$

-- A refund: the sold seats (a JSON array of seat ids) go back on sale.
CREATE PROCEDURE FreeSoldSeats(IN p_event_id INT UNSIGNED, IN p_seat_ids JSON)
    MODIFIES SQL DATA
BEGIN
    SET @boxoffice_hold_seats_event = NULL;
    UPDATE event_seats es USE INDEX (PRIMARY)
      JOIN JSON_TABLE(p_seat_ids, '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
        ON es.event_id = p_event_id AND es.seat_id = j.seat_id
       SET es.state = 'available', es.hold_owner = NULL, es.hold_expires_at = NULL, es.hold_extended = FALSE
     WHERE es.state = 'sold';
END$$

-- The waiting list (boxoffice/services/waiting_list.py): offers the free seats `p_seat_ids` (a JSON array
-- of seat ids) to the waiting-list entry `p_entry_id`: they are held under the entry's offer token for
-- `p_minutes`, and the entry is 'offered'. Takes the event as a whole first ("Locks" above; the caller's
-- unit of work usually has already). Refuses (30009) and changes nothing if the entry is no longer waiting
-- or any seat is no longer free (available, or held with its hold expired). The seats are recorded as the
-- entry's customer's (no address: nobody clicked), so the fair-hold cap counts them.
CREATE PROCEDURE OfferSeats(IN p_event_id INT UNSIGNED, IN p_entry_id INT UNSIGNED, IN p_seat_ids JSON,
                            IN p_offer_token CHAR(32) CHARACTER SET ascii, IN p_minutes INT)
    MODIFIES SQL DATA
BEGIN
    DECLARE v_locked INT UNSIGNED;
    DECLARE v_now DATETIME(3);
    DECLARE v_customer_id INT UNSIGNED;
    SET @boxoffice_hold_seats_event = NULL;
    SELECT event_id INTO v_locked FROM event_locks WHERE event_id = p_event_id FOR UPDATE;
    SET v_now = UTC_TIMESTAMP(3);
    SAVEPOINT offer_seats;
    UPDATE waiting_list_entries
       SET status = 'offered', offer_token = p_offer_token, offered_at = v_now,
           offer_expires_at = v_now + INTERVAL p_minutes MINUTE, seats_offered = JSON_LENGTH(p_seat_ids)
     WHERE entry_id = p_entry_id AND event_id = p_event_id AND status = 'waiting';
    IF ROW_COUNT() <> 1 THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30009, MESSAGE_TEXT = 'This place in the waiting list has moved on.';
    END IF;
    SELECT customer_id INTO v_customer_id FROM waiting_list_entries WHERE entry_id = p_entry_id;
    UPDATE event_seats es USE INDEX (PRIMARY)
      JOIN JSON_TABLE(p_seat_ids, '$[*]' COLUMNS (seat_id INT UNSIGNED PATH '$')) j
        ON es.event_id = p_event_id AND es.seat_id = j.seat_id
       SET es.state = 'held', es.hold_owner = p_offer_token, es.hold_expires_at = v_now + INTERVAL p_minutes MINUTE,
           es.hold_extended = FALSE, es.hold_customer_id = v_customer_id, es.hold_address = NULL
     WHERE es.state = 'available' OR (es.state = 'held' AND es.hold_expires_at <= v_now);
    IF ROW_COUNT() <> JSON_LENGTH(p_seat_ids) THEN
        ROLLBACK TO SAVEPOINT offer_seats;
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30009,
            MESSAGE_TEXT = 'Sorry, someone else has just taken one of those seats.';
    END IF;
    RELEASE SAVEPOINT offer_seats;
END$$

-- The link of a waiting-list offer opened: the seats still held under the offer token `p_offer_token` move
-- into the hold of `p_hold_owner` (the buyer's browser), keeping their expiry. Takes the event as a whole first.
-- They stay the entry's customer's (OfferSeats) and are recorded as taken from `p_address`, as HoldSeats
-- records a click's, so that the address's cap counts them. Returns how many seats moved
-- (`seats_claimed`): none when the offer has run out.
CREATE PROCEDURE ClaimOfferedSeats(IN p_event_id INT UNSIGNED, IN p_offer_token CHAR(32) CHARACTER SET ascii,
                                   IN p_hold_owner CHAR(32) CHARACTER SET ascii,
                                   IN p_address VARCHAR(45) CHARACTER SET ascii)
    MODIFIES SQL DATA
BEGIN
    DECLARE v_locked INT UNSIGNED;
    SET @boxoffice_hold_seats_event = NULL;
    SELECT event_id INTO v_locked FROM event_locks WHERE event_id = p_event_id FOR UPDATE;
    UPDATE event_seats USE INDEX (ix_event_seats_owner)
       SET hold_owner = p_hold_owner, hold_address = p_address
     WHERE hold_owner = p_offer_token AND event_id = p_event_id AND state = 'held'
       AND hold_expires_at > UTC_TIMESTAMP(3);
    SELECT ROW_COUNT() AS seats_claimed;
END$$

-- The waiting list has had its pick of the event's seats that came back (boxoffice/services/waiting_list.py):
-- the seats whose holds ran out and that nobody in the line could use go on sale to everyone.
CREATE PROCEDURE ReleaseRunOutHolds(IN p_event_id INT UNSIGNED)
    MODIFIES SQL DATA
BEGIN
    SET @boxoffice_hold_seats_event = NULL;
    UPDATE event_seats USE INDEX (ix_event_seats_expiry)
       SET state = 'available', hold_owner = NULL, hold_expires_at = NULL, hold_extended = FALSE
     WHERE event_id = p_event_id AND hold_expires_at <= UTC_TIMESTAMP(3) AND state = 'held';
END$$

DELIMITER ;
