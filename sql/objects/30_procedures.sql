-- Stored procedures: pricing and booking (the checkout path) and monthly revenue (the reports).
-- Repeatable (dropped and re-created). Error numbers: see the header of 20_triggers.sql. Reads of one
-- owner's seats name ix_event_seats_owner: see the header of 35_seat_states.sql.

DROP FUNCTION IF EXISTS HoldPrice;
DROP PROCEDURE IF EXISTS PriceHold;
DROP PROCEDURE IF EXISTS DiscountSubtotal;
DROP PROCEDURE IF EXISTS InsertBooking;
DROP PROCEDURE IF EXISTS GetEventRevenueByMonth;

DELIMITER $$

-- The discounts of a subtotal for an event, for a customer (NULL: not signed in) and an optional promo
-- code. The stacking rule: the VIP rate comes off first (rounded to the cent); then at most one promo code:
-- a percentage of what is left (rounded to the cent) or a fixed amount, never taking the total below zero.
-- VIP-only codes are for VIP customers only. Reads only. PriceHold and InsertBooking both price through it,
-- so the checkout page and the booking can never disagree on a price.
CREATE PROCEDURE DiscountSubtotal(
    IN  p_event_id       INT UNSIGNED,
    IN  p_customer_id    INT UNSIGNED,
    IN  p_promo_code     VARCHAR(32) CHARACTER SET ascii,
    IN  p_subtotal       DECIMAL(10,2),
    OUT p_vip_discount   DECIMAL(10,2),
    OUT p_promo_discount DECIMAL(10,2),
    OUT p_total          DECIMAL(10,2),
    OUT p_discount_id    INT UNSIGNED)
    READS SQL DATA
BEGIN
    DECLARE v_rate DECIMAL(5,4) DEFAULT 0;
    DECLARE v_after_vip DECIMAL(10,2);
    DECLARE v_kind VARCHAR(8);
    DECLARE v_value DECIMAL(10,2);
    DECLARE v_from DATETIME;
    DECLARE v_until DATETIME;
    DECLARE v_limit INT UNSIGNED;
    DECLARE v_used INT UNSIGNED;
    DECLARE v_vip_only BOOLEAN;
    DECLARE v_event_only INT UNSIGNED;
    DECLARE v_active BOOLEAN;

    SET p_discount_id = NULL, p_promo_discount = 0;

    IF p_customer_id IS NOT NULL THEN
        SELECT discount_rate INTO v_rate FROM vip_customers WHERE customer_id = p_customer_id;
    END IF;
    SET p_vip_discount = ROUND(p_subtotal * v_rate, 2);
    SET v_after_vip = p_subtotal - p_vip_discount;

    IF p_promo_code IS NOT NULL AND p_promo_code <> '' THEN
        SELECT discount_id, kind, value, valid_from, valid_until, usage_limit, times_used, vip_only, event_id, is_active
          INTO p_discount_id, v_kind, v_value, v_from, v_until, v_limit, v_used, v_vip_only, v_event_only, v_active
          FROM discounts WHERE code = UPPER(TRIM(p_promo_code));
        IF p_discount_id IS NULL OR NOT v_active THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30004, MESSAGE_TEXT = 'This promo code does not exist.';
        ELSEIF UTC_TIMESTAMP() < v_from THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30004, MESSAGE_TEXT = 'This promo code is not valid yet.';
        ELSEIF UTC_TIMESTAMP() > v_until THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30004, MESSAGE_TEXT = 'This promo code has expired.';
        ELSEIF v_limit IS NOT NULL AND v_used >= v_limit THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30004, MESSAGE_TEXT = 'This promo code has been used up.';
        ELSEIF v_vip_only AND v_rate = 0 THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30004, MESSAGE_TEXT = 'This promo code is for VIP members only.';
        ELSEIF v_event_only IS NOT NULL AND v_event_only <> p_event_id THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30004, MESSAGE_TEXT = 'This promo code is not valid for this event.';
        END IF;
        IF v_kind = 'percent' THEN
            SET p_promo_discount = ROUND(v_after_vip * v_value / 100, 2);
        ELSE
            SET p_promo_discount = LEAST(v_value, v_after_vip);
        END IF;
    END IF;

    SET p_total = v_after_vip - p_promo_discount;
END$$

-- Prices the seats a hold owner holds for an event, for a customer (NULL: not signed in) and an optional
-- promo code: category prices add up to the subtotal, which DiscountSubtotal discounts. Reads only.
CREATE PROCEDURE PriceHold(
    IN  p_event_id       INT UNSIGNED,
    IN  p_hold_owner     CHAR(32) CHARACTER SET ascii,
    IN  p_customer_id    INT UNSIGNED,
    IN  p_promo_code     VARCHAR(32) CHARACTER SET ascii,
    OUT p_seat_count     INT,
    OUT p_subtotal       DECIMAL(10,2),
    OUT p_vip_discount   DECIMAL(10,2),
    OUT p_promo_discount DECIMAL(10,2),
    OUT p_total          DECIMAL(10,2),
    OUT p_discount_id    INT UNSIGNED)
    READS SQL DATA
BEGIN
    SELECT COUNT(*), COALESCE(SUM(ep.price), 0)
      INTO p_seat_count, p_subtotal
      FROM event_seats es USE INDEX (ix_event_seats_owner)
      JOIN event_prices ep ON ep.event_id = es.event_id AND ep.category_id = es.category_id
     WHERE es.event_id = p_event_id AND es.hold_owner = p_hold_owner AND es.state = 'held';
    CALL DiscountSubtotal(p_event_id, p_customer_id, p_promo_code, p_subtotal,
                          p_vip_discount, p_promo_discount, p_total, p_discount_id);
END$$

-- PriceHold as one value, {"seats", "subtotal", "vip", "promo", "total"} in JSON, for a SELECT that reads it
-- with whatever else it needs: one round trip, where a CALL and a SELECT of its variables took two (the
-- checkout page and the payment each price the hold). Raises what PriceHold raises.
CREATE FUNCTION HoldPrice(
    p_event_id    INT UNSIGNED,
    p_hold_owner  CHAR(32) CHARACTER SET ascii,
    p_customer_id INT UNSIGNED,
    p_promo_code  VARCHAR(32) CHARACTER SET ascii)
    RETURNS TEXT CHARACTER SET utf8mb4
    NOT DETERMINISTIC
    READS SQL DATA
BEGIN
    DECLARE v_seats INT;
    DECLARE v_subtotal DECIMAL(10,2);
    DECLARE v_vip DECIMAL(10,2);
    DECLARE v_promo DECIMAL(10,2);
    DECLARE v_total DECIMAL(10,2);
    DECLARE v_discount_id INT UNSIGNED;

    CALL PriceHold(p_event_id, p_hold_owner, p_customer_id, p_promo_code,
                   v_seats, v_subtotal, v_vip, v_promo, v_total, v_discount_id);
    RETURN JSON_OBJECT('seats', v_seats, 'subtotal', v_subtotal, 'vip', v_vip, 'promo', v_promo, 'total', v_total);
END$$

-- Books the seats a hold owner holds for an event, in one transaction: checks the hold is there and
-- unexpired, prices it as PriceHold does, checks the amount the customer was charged, writes the booking,
-- one ticket per seat and the payment record, counts the promo code's use, marks the seats sold, settles
-- the payment attempt whose idempotency key it is given (which must be in flight, for this customer, event,
-- hold and amount: nobody books without paying, and a key whose attempt was declined, refunded or is
-- someone else's books nothing) and writes the confirmation mail to the outbox, so no booking is ever
-- without its mail. Returns the booking as one row. A retry with the same idempotency key returns the
-- booking the first call made (replayed = 1) and writes nothing.
--
-- The booking's sales summaries (sql/objects/40_sales_summary.sql) are written here, each summary row once:
-- the booking's, its tickets' and its payment's shares together, from what the procedure already knows,
-- where the row triggers would look the booking up again for each row and write the sales rows twice (three
-- reads, six CALLs and a summary INSERT a ticket more; a one-seat booking ~1.7 -> ~1.3 ms in MariaDB). They
-- are a copy of what the writers there (AddBookingSales, SummariseTicket, AddPayment) add, not CALLs of
-- them: the three CALLs cost 3-7 % of this procedure's server CPU (docs/benchmarks.md, "InsertBooking:
-- inline summaries vs calling the writers"). The rule is documented there; a change there is a change
-- here, and tests/test_booking_summaries.py holds both copies to the raw rows. The session variables
-- @boxoffice_insert_booking_code and @boxoffice_insert_booking_id name the rows being written while they
-- are, so that those triggers stand aside for them and only them; they are NULL again when the procedure
-- ends, whatever way it ends.
--
-- Every broken rule is a SIGNAL and leaves nothing behind: called outside any transaction (autocommit on),
-- the procedure runs its own transaction and rolls it back; called inside the caller's transaction (as the
-- app does, or after START TRANSACTION in the client), it rolls back to its own savepoint and leaves the
-- caller's transaction as it was, uncommitted. On success, inside the caller's transaction, `p_commit`
-- commits that transaction (the app's use): its locks are let go before the answer leaves the server, not
-- once the caller's COMMIT has come back across the network. It locks as a hold does ("Locks" at the top
-- of sql/objects/35_seat_states.sql): the event shared, the owner's lock row, the owner's seats, its own
-- rows and the summaries, and the events row last (marking the seats sold); in READ COMMITTED where the
-- transaction is its own to begin, as there.
CREATE PROCEDURE InsertBooking(
    IN p_customer_id        INT UNSIGNED,
    IN p_event_id           INT UNSIGNED,
    IN p_hold_owner         CHAR(32) CHARACTER SET ascii,
    IN p_promo_code         VARCHAR(32) CHARACTER SET ascii,
    IN p_method_code        VARCHAR(20) CHARACTER SET ascii,
    IN p_card_brand         VARCHAR(20) CHARACTER SET ascii,
    IN p_last_four          CHAR(4) CHARACTER SET ascii,
    IN p_provider_reference VARCHAR(64) CHARACTER SET ascii,
    IN p_expected_total     DECIMAL(10,2),
    IN p_idempotency_key    VARCHAR(64) CHARACTER SET ascii,
    -- Secret randomness for the booking and ticket codes (the app passes 32 random bytes in hex).
    IN p_code_salt          VARCHAR(64) CHARACTER SET ascii,
    IN p_commit             BOOLEAN)
    MODIFIES SQL DATA
BEGIN
    DECLARE v_own_tx BOOLEAN DEFAULT FALSE;
    DECLARE v_errno INT;
    DECLARE v_now_ms DATETIME(3);
    DECLARE v_now DATETIME;
    DECLARE v_day DATE;
    DECLARE v_salt VARCHAR(64) CHARACTER SET ascii;
    DECLARE v_booking_id INT UNSIGNED;
    DECLARE v_max_seats INT;
    DECLARE v_venue_id INT UNSIGNED;
    DECLARE v_customer_type VARCHAR(8);
    DECLARE v_email VARCHAR(254);
    DECLARE v_expired INT;
    DECLARE v_method_id TINYINT UNSIGNED;
    DECLARE v_takes_card BOOLEAN;
    DECLARE v_seat_count INT;
    DECLARE v_subtotal DECIMAL(10,2);
    DECLARE v_vip_discount DECIMAL(10,2);
    DECLARE v_promo_discount DECIMAL(10,2);
    DECLARE v_total DECIMAL(10,2);
    DECLARE v_discount_id INT UNSIGNED;
    DECLARE v_booking_code CHAR(10) CHARACTER SET ascii;
    DECLARE v_category TINYINT UNSIGNED;
    DECLARE v_last_category TINYINT UNSIGNED;
    DECLARE v_price DECIMAL(10,2);
    DECLARE v_last_seat INT UNSIGNED;
    DECLARE v_share DECIMAL(10,2);
    DECLARE v_locked INT;

    DECLARE EXIT HANDLER FOR SQLEXCEPTION
    BEGIN
        GET DIAGNOSTICS CONDITION 1 v_errno = MYSQL_ERRNO;
        SET @boxoffice_insert_booking_code = NULL, @boxoffice_insert_booking_id = NULL;
        IF v_own_tx THEN
            ROLLBACK;
        ELSEIF v_errno <> 1213 THEN
            -- (A deadlock, 1213, has already rolled back the caller's whole transaction, savepoint and all.)
            ROLLBACK TO SAVEPOINT insert_booking;
        END IF;
        RESIGNAL;
    END;

    -- Is the caller inside a transaction? A savepoint survives only there (with autocommit on and no
    -- transaction, the statement ends it at once). This works on MariaDB and MySQL alike, unlike
    -- MariaDB's @@in_transaction.
    BEGIN
        DECLARE CONTINUE HANDLER FOR SQLEXCEPTION SET v_own_tx = TRUE;
        SAVEPOINT insert_booking;
        ROLLBACK TO SAVEPOINT insert_booking;
    END;
    -- Read committed when the transaction is ours to begin (an error, ignored, when it has begun).
    BEGIN
        DECLARE CONTINUE HANDLER FOR SQLEXCEPTION BEGIN END;
        SET TRANSACTION ISOLATION LEVEL READ COMMITTED;
    END;
    IF v_own_tx THEN
        START TRANSACTION;
    END IF;

    -- The event shared, then the owner's lock row, which every change of the owner's hold takes (two
    -- payments of one hold queue here); the event's figures are read once it is ours (a subquery of a
    -- locking read locks nothing: the events row is the booking's last lock).
    SELECT COUNT(*) INTO v_locked FROM event_locks WHERE event_id = p_event_id LOCK IN SHARE MODE;
    SELECT (SELECT max_seats_per_order FROM events WHERE event_id = p_event_id),
           (SELECT venue_id FROM events WHERE event_id = p_event_id)
      INTO v_max_seats, v_venue_id
      FROM buyer_locks WHERE lock_no = BuyerLock(p_event_id, CONCAT('owner ', p_hold_owner)) FOR UPDATE;
    -- The clock is read once the locks are ours (waiting for them may take a while): holds expire to the
    -- millisecond; the booking itself is dated to the second.
    SET v_now_ms = UTC_TIMESTAMP(3), v_now = UTC_TIMESTAMP();

    -- A retry that waited on the owner's lock above finds the booking its first attempt made. A plain
    -- read, on purpose: a locking read of a key that does not exist yet would lock a gap of the unique
    -- index, and two checkouts of different events that both insert into that gap would deadlock. In read
    -- committed it sees every booking committed before it; should a caller's older snapshot (a transaction
    -- begun before the CALL) miss the booking, the seats are sold by then and the locking seat read below
    -- refuses (30002), and the unique key on idempotency_key stops a second booking in any case.
    IF p_idempotency_key IS NOT NULL THEN
        SELECT booking_id INTO v_booking_id FROM bookings WHERE idempotency_key = p_idempotency_key;
    END IF;

    IF v_booking_id IS NULL THEN
        IF v_max_seats IS NULL THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30001, MESSAGE_TEXT = 'This event does not exist.';
        END IF;
        -- (The customer's segment is for the summaries: 40_sales_summary.sql.)
        SELECT segment, email INTO v_customer_type, v_email FROM customers WHERE customer_id = p_customer_id;
        IF v_customer_type IS NULL THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30008, MESSAGE_TEXT = 'There is no such customer.';
        END IF;

        -- The seats are locked and priced in one read, so the booking charges for exactly the seats it gets.
        -- (Their prices by subquery, which locks nothing: the categories' event_prices rows are written
        -- by the trigger when the seats are sold, among the booking's last locks.)
        -- (And whether they are all of one category, at what price, and the last seat: see the tickets.)
        SELECT COUNT(*), COALESCE(SUM(es.hold_expires_at <= v_now_ms), 0),
               COALESCE(SUM((SELECT ep.price FROM event_prices ep
                              WHERE ep.event_id = es.event_id AND ep.category_id = es.category_id)), 0),
               MIN(es.category_id), MAX(es.category_id),
               MIN((SELECT ep.price FROM event_prices ep WHERE ep.event_id = es.event_id AND ep.category_id = es.category_id)),
               MAX(es.seat_id)
          INTO v_seat_count, v_expired, v_subtotal, v_category, v_last_category, v_price, v_last_seat
          FROM event_seats es USE INDEX (ix_event_seats_owner)
         WHERE es.event_id = p_event_id AND es.hold_owner = p_hold_owner AND es.state = 'held'
           FOR UPDATE;
        IF v_seat_count = 0 THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30002,
                MESSAGE_TEXT = 'You are not holding any seats for this event.';
        ELSEIF v_expired > 0 THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30003,
                MESSAGE_TEXT = 'Your seat hold has expired. Please choose your seats again.';
        ELSEIF v_seat_count > v_max_seats THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30006,
                MESSAGE_TEXT = 'That is more seats than one order may hold for this event.';
        END IF;

        SELECT method_id, takes_card INTO v_method_id, v_takes_card FROM payment_methods WHERE code = p_method_code;
        IF v_method_id IS NULL THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30007, MESSAGE_TEXT = 'This payment method is not accepted.';
        ELSEIF v_takes_card AND (p_card_brand IS NULL OR p_last_four IS NULL) THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30007,
                MESSAGE_TEXT = 'A card payment needs the card brand and last four digits.';
        END IF;

        CALL DiscountSubtotal(p_event_id, p_customer_id, p_promo_code, v_subtotal,
                              v_vip_discount, v_promo_discount, v_total, v_discount_id);
        IF p_expected_total IS NULL OR v_total <> p_expected_total THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30005,
                MESSAGE_TEXT = 'The price of your seats has changed. Please review your order.';
        END IF;
        IF v_total > 0 AND p_provider_reference IS NULL THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30007, MESSAGE_TEXT = 'There is no payment for this booking.';
        END IF;

        SET v_salt = p_code_salt;
        IF v_salt IS NULL THEN
            SET v_salt = SHA2(CONCAT(UUID(), RAND(), p_hold_owner), 256);
        END IF;
        SET v_booking_code = UPPER(LPAD(CONV(LEFT(SHA2(CONCAT(v_salt, ':booking'), 256), 12), 16, 36), 10, '0'));

        IF v_discount_id IS NOT NULL THEN
            -- Conditional, so two checkouts racing for a code's last use cannot both have it. Before the
            -- booking's insert, whose foreign key check would lock the code's row shared first: two
            -- checkouts with the same code would then each wait for the other's shared lock to write it.
            UPDATE discounts SET times_used = times_used + 1
             WHERE discount_id = v_discount_id AND (usage_limit IS NULL OR times_used < usage_limit);
            IF ROW_COUNT() = 0 THEN
                SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30004, MESSAGE_TEXT = 'This promo code has been used up.';
            END IF;
        END IF;

        -- check_booking_date guards this insert.
        SET @boxoffice_insert_booking_code = v_booking_code;
        INSERT INTO bookings (booking_code, customer_id, event_id, status, subtotal, vip_discount,
                              promo_discount, total, discount_id, idempotency_key, booked_at)
        VALUES (v_booking_code, p_customer_id, p_event_id, 'confirmed', v_subtotal, v_vip_discount,
                v_promo_discount, v_total, v_discount_id, p_idempotency_key, v_now);
        SET v_booking_id = LAST_INSERT_ID(), @boxoffice_insert_booking_code = NULL,
            @boxoffice_insert_booking_id = v_booking_id;

        -- The payment attempt this booking settles. (Its row lock is what a reconciler moving the same
        -- attempt towards a refund would wait for: one of the two finds the attempt no longer in flight.)
        UPDATE payment_attempts
           SET state = 'booked', booking_id = v_booking_id, provider_reference = p_provider_reference,
               card_brand = p_card_brand, last_four = p_last_four, updated_at = v_now_ms
         WHERE idempotency_key = p_idempotency_key AND state IN ('created', 'captured')
           AND customer_id = p_customer_id AND event_id = p_event_id AND hold_owner = p_hold_owner
           AND amount = v_total;
        IF ROW_COUNT() = 0 THEN
            SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30007, MESSAGE_TEXT = 'This payment cannot book these seats.';
        END IF;
        INSERT INTO outbox_emails (kind, recipient, booking_id, created_at)
        VALUES ('booking_confirmation', v_email, v_booking_id, v_now_ms);

        -- Each ticket carries its share of what was paid, so a partial refund gives back exactly that
        -- share. Shares are rounded down to the cent, in whole-cent integer arithmetic (exact), so they
        -- never add up to more than the total; the remainder, zero or more cents, goes to the last ticket
        -- (the highest seat id) in the same INSERT, so each ticket is written, and summarised, once.
        IF v_category = v_last_category THEN
            -- Seats of one category have one price and so one share: the remainder is known beforehand,
            -- without adding the shares up in a window over the rows (~70 us more).
            SET v_share = IF(v_subtotal = 0, 0,
                             (CAST(v_price * 100 AS SIGNED) * CAST(v_total * 100 AS SIGNED)
                              DIV CAST(v_subtotal * 100 AS SIGNED)) / 100);
            INSERT INTO tickets (ticket_code, booking_id, event_id, seat_id, category_id, face_price, paid_amount)
            SELECT UPPER(LPAD(CONV(LEFT(SHA2(CONCAT(v_salt, ':', es.seat_id), 256), 15), 16, 36), 12, '0')),
                   v_booking_id, es.event_id, es.seat_id, es.category_id, v_price,
                   v_share + IF(es.seat_id = v_last_seat, v_total - v_seat_count * v_share, 0)
              FROM event_seats es USE INDEX (ix_event_seats_owner)
             WHERE es.event_id = p_event_id AND es.hold_owner = p_hold_owner AND es.state = 'held'
             ORDER BY es.seat_id;
        ELSE
            INSERT INTO tickets (ticket_code, booking_id, event_id, seat_id, category_id, face_price, paid_amount)
            SELECT UPPER(LPAD(CONV(LEFT(SHA2(CONCAT(v_salt, ':', t.seat_id), 256), 15), 16, 36), 12, '0')),
                   v_booking_id, t.event_id, t.seat_id, t.category_id, t.price,
                   t.share + IF(ROW_NUMBER() OVER (ORDER BY t.seat_id DESC) = 1, v_total - SUM(t.share) OVER (), 0)
              FROM (SELECT es.event_id, es.seat_id, es.category_id, ep.price,
                           IF(v_subtotal = 0, 0,
                              (CAST(ep.price * 100 AS SIGNED) * CAST(v_total * 100 AS SIGNED)
                               DIV CAST(v_subtotal * 100 AS SIGNED)) / 100) AS share
                      FROM event_seats es USE INDEX (ix_event_seats_owner)
                      JOIN event_prices ep ON ep.event_id = es.event_id AND ep.category_id = es.category_id
                     WHERE es.event_id = p_event_id AND es.hold_owner = p_hold_owner AND es.state = 'held') t
             ORDER BY t.seat_id;
        END IF;

        IF v_total > 0 THEN
            INSERT INTO payments (kind, status, booking_id, customer_id, method_id, amount, card_brand,
                                  last_four, provider_reference, created_at)
            VALUES ('charge', 'captured', v_booking_id, p_customer_id, v_method_id, v_total,
                    IF(v_takes_card, p_card_brand, NULL), IF(v_takes_card, p_last_four, NULL),
                    p_provider_reference, v_now);
        END IF;
        SET @boxoffice_insert_booking_id = NULL;

        -- The summaries, as the triggers would have added them up (AddBookingSales, SummariseTicket and
        -- AddPayment), in their order (sales, customer, hour, promo code, categories, payments): the booking
        -- and its captured charge (its total) on the day it was made, its tickets by category, the charge
        -- in the payments ledger. Unless the session's bulk load summarises afterwards, as the triggers.
        IF @boxoffice_bulk_load IS NULL THEN
            SET v_day = DATE(v_now);
            INSERT INTO sales_by_period (grain, period, event_id, customer_type, venue_id, bookings, booked_total,
                                         charged, refunded, booked_seconds)
            VALUES ('day', v_day, p_event_id, v_customer_type, v_venue_id, 1, v_total, v_total, 0,
                    TIMESTAMPDIFF(SECOND, '2000-01-01', v_now)),
                   ('month', v_day - INTERVAL (DAYOFMONTH(v_day) - 1) DAY, p_event_id, v_customer_type, v_venue_id,
                    1, v_total, v_total, 0, TIMESTAMPDIFF(SECOND, '2000-01-01', v_now))
            ON DUPLICATE KEY UPDATE bookings = bookings + VALUES(bookings),
                                    booked_total = booked_total + VALUES(booked_total),
                                    charged = charged + VALUES(charged),
                                    booked_seconds = booked_seconds + VALUES(booked_seconds);

            INSERT INTO customer_sales (customer_id, customer_type, bookings, booked_total, refunded)
            VALUES (p_customer_id, v_customer_type, 1, v_total, 0)
            ON DUPLICATE KEY UPDATE bookings = bookings + 1, booked_total = booked_total + VALUES(booked_total);

            INSERT INTO booking_hours (venue_id, weekday, hour, bookings, booked_total, refunded)
            VALUES (v_venue_id, WEEKDAY(v_now), HOUR(v_now), 1, v_total, 0)
            ON DUPLICATE KEY UPDATE bookings = bookings + 1, booked_total = booked_total + VALUES(booked_total);

            IF v_discount_id IS NOT NULL THEN
                INSERT INTO promo_sales (discount_id, bookings, booked_total, promo_discount, refunded)
                VALUES (v_discount_id, 1, v_total, v_promo_discount, 0)
                ON DUPLICATE KEY UPDATE bookings = bookings + 1, booked_total = booked_total + VALUES(booked_total),
                                        promo_discount = promo_discount + VALUES(promo_discount);
            END IF;

            -- The tickets are all valid; their paid shares add up to the total, so seats of one category
            -- need no read of them.
            IF v_category = v_last_category THEN
                INSERT INTO category_sales_by_period (grain, period, event_id, category_id, venue_id, tickets,
                                                      tickets_refunded, revenue)
                VALUES ('day', v_day, p_event_id, v_category, v_venue_id, v_seat_count, 0, v_total),
                       ('month', v_day - INTERVAL (DAYOFMONTH(v_day) - 1) DAY, p_event_id, v_category, v_venue_id,
                        v_seat_count, 0, v_total)
                ON DUPLICATE KEY UPDATE tickets = tickets + VALUES(tickets), revenue = revenue + VALUES(revenue);
            ELSE
                INSERT INTO category_sales_by_period (grain, period, event_id, category_id, venue_id, tickets,
                                                      tickets_refunded, revenue)
                SELECT grain.name, IF(grain.name = 'day', v_day, v_day - INTERVAL (DAYOFMONTH(v_day) - 1) DAY),
                       p_event_id, t.category_id, v_venue_id, COUNT(*), 0, SUM(t.paid_amount)
                  FROM tickets t USE INDEX (ix_tickets_booking)
                  JOIN JSON_TABLE('["day", "month"]', '$[*]' COLUMNS (name VARCHAR(5) PATH '$')) grain
                 WHERE t.booking_id = v_booking_id
                 GROUP BY grain.name, t.category_id
                ON DUPLICATE KEY UPDATE tickets = tickets + VALUES(tickets), revenue = revenue + VALUES(revenue);
            END IF;

            IF v_total > 0 THEN
                INSERT INTO payments_by_period (grain, period, method_id, customer_type, venue_id, charges, captured,
                                                captured_amount, declines, failures, refunds, refunded_amount)
                VALUES ('day', v_day, v_method_id, v_customer_type, v_venue_id, 1, 1, v_total, 0, 0, 0, 0),
                       ('month', v_day - INTERVAL (DAYOFMONTH(v_day) - 1) DAY, v_method_id, v_customer_type,
                        v_venue_id, 1, 1, v_total, 0, 0, 0, 0)
                ON DUPLICATE KEY UPDATE charges = charges + 1, captured = captured + 1,
                                        captured_amount = captured_amount + VALUES(captured_amount);
            END IF;
        END IF;

        CALL SellHeldSeats(p_event_id, p_hold_owner);

        SELECT v_booking_id AS booking_id, v_booking_code AS booking_code, p_customer_id AS customer_id,
               p_event_id AS event_id, v_subtotal AS subtotal, v_vip_discount AS vip_discount,
               v_promo_discount AS promo_discount, v_total AS total, v_seat_count AS tickets, 0 AS replayed;
    ELSE
        SELECT b.booking_id, b.booking_code, b.customer_id, b.event_id, b.subtotal, b.vip_discount,
               b.promo_discount, b.total,
               (SELECT COUNT(*) FROM tickets t WHERE t.booking_id = b.booking_id) AS tickets, 1 AS replayed
          FROM bookings b WHERE b.booking_id = v_booking_id;
    END IF;

    IF v_own_tx OR p_commit THEN
        COMMIT;
    ELSE
        RELEASE SAVEPOINT insert_booking;
    END IF;
END$$

-- Revenue, tickets and bookings per calendar month (of the booking date) for one event, one venue or
-- everything (NULL filters), between two dates inclusive. Revenue is net: what was charged less what has
-- been refunded since; tickets count those still valid or checked in. Runs with the caller's rights, so
-- the read-only reporting user can call it and it can never write.
--
-- Reads the sales summaries (sql/migrations/0004_reporting.sql): the whole months of the range from their
-- month rows, the days before the first whole month and after the last one from their day rows. (The
-- reports service splits a range the same way: boxoffice/services/reporting.py, Period.) For one event, its
-- own rows; otherwise their rollups per venue (migration 0020), a fraction of the rows.
CREATE PROCEDURE GetEventRevenueByMonth(
    IN p_event_id INT UNSIGNED,
    IN p_venue_id INT UNSIGNED,
    IN p_from     DATE,
    IN p_to       DATE)
    READS SQL DATA
    SQL SECURITY INVOKER
BEGIN
    DECLARE v_data_first DATE;
    DECLARE v_data_last DATE;
    DECLARE v_first DATE;
    DECLARE v_last DATE;
    DECLARE v_months_from DATE;
    DECLARE v_months_to DATE;
    DECLARE v_head_to DATE;
    DECLARE v_tail_from DATE;

    -- The range within the days anything was sold (a month at either edge has no rows beyond it, so it is
    -- read whole); the first day of the first month read whole, the last day of the last one; the ragged ends.
    SELECT MIN(period), MAX(period) INTO v_data_first, v_data_last FROM sales_by_period WHERE grain = 'day';
    SET v_first = GREATEST(p_from, v_data_first), v_last = LEAST(p_to, v_data_last);
    SET v_months_from = IF(DAYOFMONTH(v_first) = 1 OR v_first = v_data_first,
                           v_first - INTERVAL (DAYOFMONTH(v_first) - 1) DAY, LAST_DAY(v_first) + INTERVAL 1 DAY);
    SET v_months_to = IF(v_last = LAST_DAY(v_last) OR v_last = v_data_last,
                         LAST_DAY(v_last), v_last - INTERVAL DAYOFMONTH(v_last) DAY);
    SET v_head_to = LEAST(v_last, v_months_from - INTERVAL 1 DAY);
    SET v_tail_from = GREATEST(v_head_to, v_months_to) + INTERVAL 1 DAY;

    -- Each summary is added up by month on its own (grouping two small results is far cheaper than grouping
    -- their rows together), so the condition that picks the rows is written once for each. Each reads the
    -- event's rows or the venues' rollup, whichever p_event_id asks for (the other side of its UNION is empty).
    SELECT month,
           CAST(SUM(bookings) AS SIGNED) AS bookings,
           CAST(SUM(tickets) AS SIGNED) AS tickets,
           SUM(booked_total) AS gross_revenue,
           SUM(refunded) AS refunded,
           SUM(booked_total) - SUM(refunded) AS net_revenue
      FROM (SELECT DATE_FORMAT(period, '%Y-%m-01') AS month, SUM(bookings) AS bookings, 0 AS tickets,
                   SUM(booked_total) AS booked_total, SUM(refunded) AS refunded
              FROM (SELECT grain, period, venue_id, bookings, booked_total, refunded
                      FROM sales_by_period WHERE event_id = p_event_id
                    UNION ALL
                    SELECT grain, period, venue_id, bookings, booked_total, refunded
                      FROM venue_sales_by_period WHERE p_event_id IS NULL) rows_read
             WHERE ((grain = 'month' AND period BETWEEN v_months_from AND v_months_to)
                    OR (grain = 'day' AND (period BETWEEN v_first AND v_head_to OR period BETWEEN v_tail_from AND v_last)))
               AND (p_venue_id IS NULL OR venue_id = p_venue_id)
             GROUP BY DATE_FORMAT(period, '%Y-%m-01')
            UNION ALL
            SELECT DATE_FORMAT(period, '%Y-%m-01'), 0, SUM(tickets), 0, 0
              FROM (SELECT grain, period, venue_id, tickets FROM category_sales_by_period WHERE event_id = p_event_id
                    UNION ALL
                    SELECT grain, period, venue_id, tickets FROM venue_category_sales_by_period
                     WHERE p_event_id IS NULL) rows_read
             WHERE ((grain = 'month' AND period BETWEEN v_months_from AND v_months_to)
                    OR (grain = 'day' AND (period BETWEEN v_first AND v_head_to OR period BETWEEN v_tail_from AND v_last)))
               AND (p_venue_id IS NULL OR venue_id = p_venue_id)
             GROUP BY DATE_FORMAT(period, '%Y-%m-01')) sales
     GROUP BY month
    HAVING SUM(bookings) > 0
     ORDER BY month;
END$$

DELIMITER ;
