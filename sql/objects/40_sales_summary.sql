-- The sales summaries (tables made by sql/migrations/0004_reporting.sql) kept exact by triggers: every
-- insert, update and delete of a booking, ticket or payment adds its share to the running totals, or takes
-- it back. Whatever writes the rows - InsertBooking, the refunds, the demo generator's bulk INSERTs, a
-- test cleaning up - the summaries always equal the raw rows added up, as tests/test_reports_summaries.py
-- checks. Repeatable (dropped and re-created).
--
-- A booking's and a payment's shares go through two writers, AddBookingSales and AddPayment; a ticket's
-- one row is written by SummariseTicket itself. The shared rows are always taken in the same order (sales,
-- customer, hour, promo code, payments), so two checkouts never wait on each other in opposite orders.
-- Error 30020 refuses a change the summaries cannot follow.
--
-- Customers are counted under their segment now (customers.segment, migration 0015): 'guest' for a guest who
-- paid without an account, else their type, 'regular' or 'vip'; the summaries' customer_type columns hold
-- it. A booking fully refunded (status 'refunded') is counted apart too, in sales_by_period's
-- refunded_bookings and refunded_bookings_total, so that the average order value can leave it out.
--
-- The checkout's own bookings are the exception: InsertBooking (30_procedures.sql) writes the summaries of
-- the booking it makes, its tickets and its charge itself, each summary row once and in the same order,
-- and the insert triggers below stand aside for exactly those rows. What a row adds is written there too,
-- then, as a copy of these writers rather than CALLs of them, which cost 3-7 % of InsertBooking's server
-- CPU (docs/benchmarks.md, "InsertBooking: inline summaries vs calling the writers"): a change here is a
-- change there (tests/test_booking_summaries.py compares both with the rows).
--
-- Cost: the demo generator inserts a million tickets, so a ticket costs one lookup and one INSERT (two
-- rows), and every procedure does its own lookups rather than call another to do them. Even so, a row at a
-- time is 40 times slower than the bulk insert itself: the generator's connections set the session
-- variable @boxoffice_bulk_load, the insert triggers stand aside, and the generator refills every summary
-- set-based at the end (sql/summaries/refill.sql). Nothing else sets that variable.

DROP TRIGGER IF EXISTS summarise_new_booking;
DROP TRIGGER IF EXISTS summarise_changed_booking;
DROP TRIGGER IF EXISTS summarise_deleted_booking;
DROP TRIGGER IF EXISTS summarise_new_ticket;
DROP TRIGGER IF EXISTS summarise_changed_ticket;
DROP TRIGGER IF EXISTS summarise_deleted_ticket;
DROP TRIGGER IF EXISTS summarise_new_payment;
DROP TRIGGER IF EXISTS summarise_changed_payment;
DROP TRIGGER IF EXISTS summarise_deleted_payment;
DROP TRIGGER IF EXISTS summarise_customer_type;
DROP TRIGGER IF EXISTS roll_up_new_sales;
DROP TRIGGER IF EXISTS roll_up_changed_sales;
DROP TRIGGER IF EXISTS roll_up_deleted_sales;
DROP TRIGGER IF EXISTS roll_up_new_category_sales;
DROP TRIGGER IF EXISTS roll_up_changed_category_sales;
DROP TRIGGER IF EXISTS roll_up_deleted_category_sales;
DROP TRIGGER IF EXISTS count_new_buyer;
DROP TRIGGER IF EXISTS count_changed_buyer;
DROP TRIGGER IF EXISTS count_deleted_buyer;
DROP PROCEDURE IF EXISTS AddBookingSales;
DROP PROCEDURE IF EXISTS AddPayment;
DROP PROCEDURE IF EXISTS SummariseBooking;
DROP PROCEDURE IF EXISTS SummariseTicket;
DROP PROCEDURE IF EXISTS SummarisePayment;
DROP PROCEDURE IF EXISTS MoveCustomerSales;
DROP PROCEDURE IF EXISTS RollUpSales;
DROP PROCEDURE IF EXISTS RollUpCategorySales;
DROP PROCEDURE IF EXISTS CountBuyer;

DELIMITER $$

-- ---------------------------------------------------------------- the writers

-- Adds to the sales of a booking's event, day and month, customer segment (and its fully refunded bookings
-- there); and to its customer's totals, the hour it was made in and its promo code's totals.
CREATE PROCEDURE AddBookingSales(
    IN p_event_id       INT UNSIGNED,
    IN p_venue_id       INT UNSIGNED,
    IN p_customer_id    INT UNSIGNED,
    IN p_customer_type  VARCHAR(8),
    IN p_booked_at      DATETIME,
    IN p_discount_id    INT UNSIGNED,
    IN p_bookings       INT,
    IN p_booked_total   DECIMAL(12,2),
    IN p_charged        DECIMAL(12,2),
    IN p_refunded       DECIMAL(12,2),
    IN p_promo_discount DECIMAL(12,2),
    IN p_refunded_bookings       INT,
    IN p_refunded_bookings_total DECIMAL(12,2))
    MODIFIES SQL DATA
BEGIN
    DECLARE v_day DATE DEFAULT DATE(p_booked_at);
    DECLARE v_seconds BIGINT DEFAULT p_bookings * TIMESTAMPDIFF(SECOND, '2000-01-01', p_booked_at);

    INSERT INTO sales_by_period (grain, period, event_id, customer_type, venue_id, bookings, booked_total, charged,
                                 refunded, booked_seconds, refunded_bookings, refunded_bookings_total)
    VALUES ('day', v_day, p_event_id, p_customer_type, p_venue_id, p_bookings, p_booked_total, p_charged, p_refunded,
            v_seconds, p_refunded_bookings, p_refunded_bookings_total),
           ('month', v_day - INTERVAL (DAYOFMONTH(v_day) - 1) DAY, p_event_id, p_customer_type, p_venue_id,
            p_bookings, p_booked_total, p_charged, p_refunded, v_seconds, p_refunded_bookings, p_refunded_bookings_total)
    ON DUPLICATE KEY UPDATE bookings = bookings + VALUES(bookings),
                            booked_total = booked_total + VALUES(booked_total),
                            charged = charged + VALUES(charged),
                            refunded = refunded + VALUES(refunded),
                            booked_seconds = booked_seconds + VALUES(booked_seconds),
                            refunded_bookings = refunded_bookings + VALUES(refunded_bookings),
                            refunded_bookings_total = refunded_bookings_total + VALUES(refunded_bookings_total);

    IF p_bookings <> 0 OR p_booked_total <> 0 OR p_refunded <> 0 THEN
        INSERT INTO customer_sales (customer_id, customer_type, bookings, booked_total, refunded)
        VALUES (p_customer_id, p_customer_type, p_bookings, p_booked_total, p_refunded)
        ON DUPLICATE KEY UPDATE bookings = bookings + VALUES(bookings),
                                booked_total = booked_total + VALUES(booked_total),
                                refunded = refunded + VALUES(refunded);

        INSERT INTO booking_hours (venue_id, weekday, hour, bookings, booked_total, refunded)
        VALUES (p_venue_id, WEEKDAY(p_booked_at), HOUR(p_booked_at), p_bookings, p_booked_total, p_refunded)
        ON DUPLICATE KEY UPDATE bookings = bookings + VALUES(bookings),
                                booked_total = booked_total + VALUES(booked_total),
                                refunded = refunded + VALUES(refunded);

        IF p_discount_id IS NOT NULL THEN
            INSERT INTO promo_sales (discount_id, bookings, booked_total, promo_discount, refunded)
            VALUES (p_discount_id, p_bookings, p_booked_total, p_promo_discount, p_refunded)
            ON DUPLICATE KEY UPDATE bookings = bookings + VALUES(bookings),
                                    booked_total = booked_total + VALUES(booked_total),
                                    promo_discount = promo_discount + VALUES(promo_discount),
                                    refunded = refunded + VALUES(refunded);
        END IF;
    END IF;
END$$

-- Adds (p_sign 1) or takes back (-1) one payment in the payments ledger: on the day it was made, by method,
-- payer's customer segment and the venue of the booking paid for (0: none).
CREATE PROCEDURE AddPayment(
    IN p_created_at    DATETIME,
    IN p_method_id     TINYINT UNSIGNED,
    IN p_customer_type VARCHAR(8),
    IN p_venue_id      INT UNSIGNED,
    IN p_kind          VARCHAR(8),
    IN p_status        VARCHAR(10),
    IN p_amount        DECIMAL(10,2),
    IN p_sign          INT)
    MODIFIES SQL DATA
BEGIN
    DECLARE v_day DATE DEFAULT DATE(p_created_at);
    DECLARE v_charge INT DEFAULT p_sign * (p_kind = 'charge');
    DECLARE v_captured INT DEFAULT p_sign * (p_kind = 'charge' AND p_status = 'captured');
    DECLARE v_refund INT DEFAULT p_sign * (p_kind = 'refund');

    INSERT INTO payments_by_period (grain, period, method_id, customer_type, venue_id, charges, captured,
                                    captured_amount, declines, failures, refunds, refunded_amount)
    VALUES ('day', v_day, p_method_id, p_customer_type, p_venue_id, v_charge, v_captured, v_captured * p_amount,
            p_sign * (p_kind = 'charge' AND p_status = 'declined'), p_sign * (p_kind = 'charge' AND p_status = 'failed'),
            v_refund, v_refund * p_amount),
           ('month', v_day - INTERVAL (DAYOFMONTH(v_day) - 1) DAY, p_method_id, p_customer_type, p_venue_id, v_charge,
            v_captured, v_captured * p_amount, p_sign * (p_kind = 'charge' AND p_status = 'declined'),
            p_sign * (p_kind = 'charge' AND p_status = 'failed'), v_refund, v_refund * p_amount)
    ON DUPLICATE KEY UPDATE charges = charges + VALUES(charges),
                            captured = captured + VALUES(captured),
                            captured_amount = captured_amount + VALUES(captured_amount),
                            declines = declines + VALUES(declines),
                            failures = failures + VALUES(failures),
                            refunds = refunds + VALUES(refunds),
                            refunded_amount = refunded_amount + VALUES(refunded_amount);
END$$

-- ---------------------------------------------------------------- what a row adds

-- A booking: one booking and its total (and its promo discount) on the day it was made; and, fully refunded,
-- one fully refunded booking of that total.
CREATE PROCEDURE SummariseBooking(
    IN p_event_id       INT UNSIGNED,
    IN p_customer_id    INT UNSIGNED,
    IN p_booked_at      DATETIME,
    IN p_total          DECIMAL(10,2),
    IN p_discount_id    INT UNSIGNED,
    IN p_promo_discount DECIMAL(10,2),
    IN p_status         VARCHAR(20),
    IN p_sign           INT)
    MODIFIES SQL DATA
BEGIN
    DECLARE v_venue_id INT UNSIGNED;
    DECLARE v_customer_type VARCHAR(8);

    SELECT e.venue_id, c.segment INTO v_venue_id, v_customer_type
      FROM events e JOIN customers c ON c.customer_id = p_customer_id
     WHERE e.event_id = p_event_id;
    CALL AddBookingSales(p_event_id, v_venue_id, p_customer_id, v_customer_type, p_booked_at, p_discount_id,
                         p_sign, p_sign * p_total, 0, 0, p_sign * p_promo_discount,
                         p_sign * (p_status = 'refunded'), p_sign * IF(p_status = 'refunded', p_total, 0));
END$$

-- A ticket: sold (valid or checked in) or refunded, with its paid share while it is sold; counted under its
-- seat category, on its booking's day and under its booking's event.
CREATE PROCEDURE SummariseTicket(
    IN p_booking_id  INT UNSIGNED,
    IN p_category_id TINYINT UNSIGNED,
    IN p_status      VARCHAR(10),
    IN p_paid_amount DECIMAL(10,2),
    IN p_sign        INT)
    MODIFIES SQL DATA
BEGIN
    DECLARE v_event_id INT UNSIGNED;
    DECLARE v_venue_id INT UNSIGNED;
    DECLARE v_day DATE;
    DECLARE v_sold INT DEFAULT p_sign * (p_status <> 'refunded');
    DECLARE v_refunded INT DEFAULT p_sign * (p_status = 'refunded');

    SELECT b.event_id, e.venue_id, DATE(b.booked_at) INTO v_event_id, v_venue_id, v_day
      FROM bookings b JOIN events e ON e.event_id = b.event_id
     WHERE b.booking_id = p_booking_id;

    INSERT INTO category_sales_by_period (grain, period, event_id, category_id, venue_id, tickets, tickets_refunded,
                                          revenue)
    VALUES ('day', v_day, v_event_id, p_category_id, v_venue_id, v_sold, v_refunded, v_sold * p_paid_amount),
           ('month', v_day - INTERVAL (DAYOFMONTH(v_day) - 1) DAY, v_event_id, p_category_id, v_venue_id, v_sold,
            v_refunded, v_sold * p_paid_amount)
    ON DUPLICATE KEY UPDATE tickets = tickets + VALUES(tickets),
                            tickets_refunded = tickets_refunded + VALUES(tickets_refunded),
                            revenue = revenue + VALUES(revenue);
END$$

-- A payment: in the payments ledger; and, a captured charge or a refund of a booking, in that booking's sales.
CREATE PROCEDURE SummarisePayment(
    IN p_booking_id  INT UNSIGNED,
    IN p_customer_id INT UNSIGNED,
    IN p_method_id   TINYINT UNSIGNED,
    IN p_kind        VARCHAR(8),
    IN p_status      VARCHAR(10),
    IN p_amount      DECIMAL(10,2),
    IN p_created_at  DATETIME,
    IN p_sign        INT)
    MODIFIES SQL DATA
BEGIN
    DECLARE v_event_id INT UNSIGNED;
    DECLARE v_venue_id INT UNSIGNED DEFAULT 0;
    DECLARE v_customer_id INT UNSIGNED;
    DECLARE v_customer_type VARCHAR(8);
    DECLARE v_booked_at DATETIME;
    DECLARE v_discount_id INT UNSIGNED;

    IF p_booking_id IS NOT NULL THEN
        SELECT b.event_id, e.venue_id, b.customer_id, c.segment, b.booked_at, b.discount_id
          INTO v_event_id, v_venue_id, v_customer_id, v_customer_type, v_booked_at, v_discount_id
          FROM bookings b
          JOIN events e ON e.event_id = b.event_id
          JOIN customers c ON c.customer_id = b.customer_id
         WHERE b.booking_id = p_booking_id;
        CALL AddBookingSales(v_event_id, v_venue_id, v_customer_id, v_customer_type, v_booked_at, v_discount_id,
                             0, 0, p_sign * IF(p_kind = 'charge' AND p_status = 'captured', p_amount, 0),
                             p_sign * IF(p_kind = 'refund', p_amount, 0), 0, 0, 0);
    END IF;
    -- The payer is the booking's customer (checked here rather than assumed).
    IF v_customer_id IS NULL OR v_customer_id <> p_customer_id THEN
        SELECT segment INTO v_customer_type FROM customers WHERE customer_id = p_customer_id;
    END IF;
    CALL AddPayment(p_created_at, p_method_id, v_customer_type, v_venue_id, p_kind, p_status, p_amount, p_sign);
END$$

-- A customer whose segment changed (a regular customer became a VIP, a guest made an account): their bookings
-- and payments move from the old segment's rows to the new one's, as the summaries count by the customer's
-- segment now.
CREATE PROCEDURE MoveCustomerSales(
    IN p_customer_id INT UNSIGNED,
    IN p_from_type   VARCHAR(8),
    IN p_to_type     VARCHAR(8))
    MODIFIES SQL DATA
BEGIN
    FOR sale IN (SELECT b.event_id, e.venue_id, b.booked_at, b.discount_id, b.total, b.promo_discount,
                        b.status = 'refunded' AS fully_refunded,
                        (SELECT COALESCE(SUM(p.amount), 0) FROM payments p
                          WHERE p.booking_id = b.booking_id AND p.kind = 'charge' AND p.status = 'captured') AS charged,
                        (SELECT COALESCE(SUM(p.amount), 0) FROM payments p
                          WHERE p.booking_id = b.booking_id AND p.kind = 'refund') AS refunded
                   FROM bookings b JOIN events e ON e.event_id = b.event_id
                  WHERE b.customer_id = p_customer_id)
    DO
        CALL AddBookingSales(sale.event_id, sale.venue_id, p_customer_id, p_from_type, sale.booked_at,
                             sale.discount_id, -1, -sale.total, -sale.charged, -sale.refunded, -sale.promo_discount,
                             -sale.fully_refunded, -sale.fully_refunded * sale.total);
        CALL AddBookingSales(sale.event_id, sale.venue_id, p_customer_id, p_to_type, sale.booked_at,
                             sale.discount_id, 1, sale.total, sale.charged, sale.refunded, sale.promo_discount,
                             sale.fully_refunded, sale.fully_refunded * sale.total);
    END FOR;
    FOR payment IN (SELECT p.created_at, p.method_id, COALESCE(e.venue_id, 0) AS venue_id, p.kind, p.status, p.amount
                FROM payments p
                LEFT JOIN bookings b ON b.booking_id = p.booking_id
                LEFT JOIN events e ON e.event_id = b.event_id
               WHERE p.customer_id = p_customer_id)
    DO
        CALL AddPayment(payment.created_at, payment.method_id, p_from_type, payment.venue_id, payment.kind,
                        payment.status, payment.amount, -1);
        CALL AddPayment(payment.created_at, payment.method_id, p_to_type, payment.venue_id, payment.kind,
                        payment.status, payment.amount, 1);
    END FOR;
    UPDATE customer_sales SET customer_type = p_to_type WHERE customer_id = p_customer_id;
END$$

-- ---------------------------------------------------------------- the rollups (migration 0020)

-- The dashboards read box-office-wide figures from sums of the summaries one level up: per venue instead of
-- per event (venue_sales_by_period, venue_category_sales_by_period) and buyers per customer type instead of
-- per customer (buyer_counts, which changes at a customer's first and second booking only). Triggers on the summaries keep them, so whatever writes a summary row (the
-- writers above, InsertBooking's own copy of them, a refill) moves its rollup by the same amount. They
-- stand aside during a bulk load, whose refill fills the rollups at its end.

-- Adds a change of a sales_by_period row to its venue's row.
CREATE PROCEDURE RollUpSales(
    IN p_grain                   VARCHAR(5),
    IN p_period                  DATE,
    IN p_venue_id                INT UNSIGNED,
    IN p_customer_type           VARCHAR(8),
    IN p_bookings                INT,
    IN p_booked_total            DECIMAL(14,2),
    IN p_refunded                DECIMAL(14,2),
    IN p_refunded_bookings       INT,
    IN p_refunded_bookings_total DECIMAL(14,2))
    MODIFIES SQL DATA
    INSERT INTO venue_sales_by_period (grain, period, venue_id, customer_type, bookings, booked_total, refunded,
                                       refunded_bookings, refunded_bookings_total)
    VALUES (p_grain, p_period, p_venue_id, p_customer_type, p_bookings, p_booked_total, p_refunded,
            p_refunded_bookings, p_refunded_bookings_total)
    ON DUPLICATE KEY UPDATE bookings = bookings + VALUES(bookings),
                            booked_total = booked_total + VALUES(booked_total),
                            refunded = refunded + VALUES(refunded),
                            refunded_bookings = refunded_bookings + VALUES(refunded_bookings),
                            refunded_bookings_total = refunded_bookings_total + VALUES(refunded_bookings_total)$$

-- Adds a change of a category_sales_by_period row to its venue's row.
CREATE PROCEDURE RollUpCategorySales(
    IN p_grain            VARCHAR(5),
    IN p_period           DATE,
    IN p_venue_id         INT UNSIGNED,
    IN p_category_id      TINYINT UNSIGNED,
    IN p_tickets          INT,
    IN p_tickets_refunded INT,
    IN p_revenue          DECIMAL(14,2))
    MODIFIES SQL DATA
    INSERT INTO venue_category_sales_by_period (grain, period, venue_id, category_id, tickets, tickets_refunded,
                                                revenue)
    VALUES (p_grain, p_period, p_venue_id, p_category_id, p_tickets, p_tickets_refunded, p_revenue)
    ON DUPLICATE KEY UPDATE tickets = tickets + VALUES(tickets),
                            tickets_refunded = tickets_refunded + VALUES(tickets_refunded),
                            revenue = revenue + VALUES(revenue)$$

-- Moves a customer in buyer_counts from its type and standing before (customer_sales.standing: 0 no booking,
-- 1 a buyer, 2 a repeat buyer) to its type and standing now, in its shard (customer_id % 16). A customer
-- new to customer_sales had standing 0 before; one gone from it has standing 0 now.
CREATE PROCEDURE CountBuyer(
    IN p_customer_id  INT UNSIGNED,
    IN p_old_type     VARCHAR(8),
    IN p_old_standing TINYINT,
    IN p_new_type     VARCHAR(8),
    IN p_new_standing TINYINT)
    MODIFIES SQL DATA
    INSERT INTO buyer_counts (customer_type, shard, buyers, repeat_buyers)
    VALUES (p_old_type, p_customer_id % 16, -(p_old_standing >= 1), -(p_old_standing = 2)),
           (p_new_type, p_customer_id % 16, p_new_standing >= 1, p_new_standing = 2)
    ON DUPLICATE KEY UPDATE buyers = buyers + VALUES(buyers), repeat_buyers = repeat_buyers + VALUES(repeat_buyers)$$

-- ---------------------------------------------------------------- the triggers

-- The insert triggers stand aside for the rows InsertBooking is writing (it summarises its booking itself,
-- each summary row once): the booking it names in @boxoffice_insert_booking_code, the tickets and the
-- payment of the booking it names in @boxoffice_insert_booking_id.
CREATE TRIGGER summarise_new_booking AFTER INSERT ON bookings
FOR EACH ROW
    IF @boxoffice_bulk_load IS NULL
       AND (@boxoffice_insert_booking_code IS NULL OR NOT NEW.booking_code <=> @boxoffice_insert_booking_code) THEN
        CALL SummariseBooking(NEW.event_id, NEW.customer_id, NEW.booked_at, NEW.total, NEW.discount_id,
                              NEW.promo_discount, NEW.status, 1);
    END IF$$

-- Tickets and payments are counted under their booking's event, customer and day, so those never change
-- once a booking is made (refund it and book again instead); its money may, and whether it is fully refunded.
CREATE TRIGGER summarise_changed_booking AFTER UPDATE ON bookings
FOR EACH ROW
BEGIN
    IF NOT (NEW.event_id <=> OLD.event_id AND NEW.customer_id <=> OLD.customer_id
            AND NEW.booked_at <=> OLD.booked_at) THEN
        SIGNAL SQLSTATE '45000' SET MYSQL_ERRNO = 30020,
            MESSAGE_TEXT = 'A booking''s event, customer and booking time cannot be changed.';
    END IF;
    IF NOT (NEW.total <=> OLD.total AND NEW.discount_id <=> OLD.discount_id
            AND NEW.promo_discount <=> OLD.promo_discount AND (NEW.status = 'refunded') <=> (OLD.status = 'refunded')) THEN
        CALL SummariseBooking(OLD.event_id, OLD.customer_id, OLD.booked_at, OLD.total, OLD.discount_id,
                              OLD.promo_discount, OLD.status, -1);
        CALL SummariseBooking(NEW.event_id, NEW.customer_id, NEW.booked_at, NEW.total, NEW.discount_id,
                              NEW.promo_discount, NEW.status, 1);
    END IF;
END$$

CREATE TRIGGER summarise_deleted_booking AFTER DELETE ON bookings
FOR EACH ROW
    CALL SummariseBooking(OLD.event_id, OLD.customer_id, OLD.booked_at, OLD.total, OLD.discount_id,
                          OLD.promo_discount, OLD.status, -1)$$

CREATE TRIGGER summarise_new_ticket AFTER INSERT ON tickets
FOR EACH ROW
    IF @boxoffice_bulk_load IS NULL
       AND (@boxoffice_insert_booking_id IS NULL OR NOT NEW.booking_id <=> @boxoffice_insert_booking_id) THEN
        CALL SummariseTicket(NEW.booking_id, NEW.category_id, NEW.status, NEW.paid_amount, 1);
    END IF$$

-- A check-in changes nothing the summaries count; a refund, a corrected paid share (InsertBooking gives the
-- last ticket the rounding remainder) or another category does.
CREATE TRIGGER summarise_changed_ticket AFTER UPDATE ON tickets
FOR EACH ROW
BEGIN
    IF NOT (NEW.booking_id <=> OLD.booking_id AND NEW.category_id <=> OLD.category_id
            AND (NEW.status = 'refunded') <=> (OLD.status = 'refunded') AND NEW.paid_amount <=> OLD.paid_amount) THEN
        CALL SummariseTicket(OLD.booking_id, OLD.category_id, OLD.status, OLD.paid_amount, -1);
        CALL SummariseTicket(NEW.booking_id, NEW.category_id, NEW.status, NEW.paid_amount, 1);
    END IF;
END$$

CREATE TRIGGER summarise_deleted_ticket AFTER DELETE ON tickets
FOR EACH ROW
    CALL SummariseTicket(OLD.booking_id, OLD.category_id, OLD.status, OLD.paid_amount, -1)$$

CREATE TRIGGER summarise_new_payment AFTER INSERT ON payments
FOR EACH ROW
    IF @boxoffice_bulk_load IS NULL
       AND (@boxoffice_insert_booking_id IS NULL OR NOT NEW.booking_id <=> @boxoffice_insert_booking_id) THEN
        CALL SummarisePayment(NEW.booking_id, NEW.customer_id, NEW.method_id, NEW.kind, NEW.status, NEW.amount,
                              NEW.created_at, 1);
    END IF$$

CREATE TRIGGER summarise_changed_payment AFTER UPDATE ON payments
FOR EACH ROW
BEGIN
    IF NOT (NEW.booking_id <=> OLD.booking_id AND NEW.customer_id <=> OLD.customer_id
            AND NEW.method_id <=> OLD.method_id AND NEW.kind <=> OLD.kind AND NEW.status <=> OLD.status
            AND NEW.amount <=> OLD.amount AND NEW.created_at <=> OLD.created_at) THEN
        CALL SummarisePayment(OLD.booking_id, OLD.customer_id, OLD.method_id, OLD.kind, OLD.status, OLD.amount,
                              OLD.created_at, -1);
        CALL SummarisePayment(NEW.booking_id, NEW.customer_id, NEW.method_id, NEW.kind, NEW.status, NEW.amount,
                              NEW.created_at, 1);
    END IF;
END$$

CREATE TRIGGER summarise_deleted_payment AFTER DELETE ON payments
FOR EACH ROW
    CALL SummarisePayment(OLD.booking_id, OLD.customer_id, OLD.method_id, OLD.kind, OLD.status, OLD.amount,
                          OLD.created_at, -1)$$

CREATE TRIGGER summarise_customer_type AFTER UPDATE ON customers
FOR EACH ROW
BEGIN
    -- (Standing aside during a bulk load, as the insert triggers do: the load refills the summaries at its end.)
    IF NEW.segment <> OLD.segment AND @boxoffice_bulk_load IS NULL THEN
        CALL MoveCustomerSales(NEW.customer_id, OLD.segment, NEW.segment);
    END IF;
END$$

-- The rollups' triggers: a summary row's change goes to its rollup row (both of them when a change moves a
-- row to another key, as a customer's new type does in customer_sales).
CREATE TRIGGER roll_up_new_sales AFTER INSERT ON sales_by_period
FOR EACH ROW
    IF @boxoffice_bulk_load IS NULL THEN
        CALL RollUpSales(NEW.grain, NEW.period, NEW.venue_id, NEW.customer_type, NEW.bookings, NEW.booked_total,
                         NEW.refunded, NEW.refunded_bookings, NEW.refunded_bookings_total);
    END IF$$

CREATE TRIGGER roll_up_changed_sales AFTER UPDATE ON sales_by_period
FOR EACH ROW
BEGIN
    IF @boxoffice_bulk_load IS NULL THEN
        IF NEW.venue_id = OLD.venue_id AND NEW.customer_type = OLD.customer_type THEN
            CALL RollUpSales(NEW.grain, NEW.period, NEW.venue_id, NEW.customer_type, NEW.bookings - OLD.bookings,
                             NEW.booked_total - OLD.booked_total, NEW.refunded - OLD.refunded,
                             NEW.refunded_bookings - OLD.refunded_bookings,
                             NEW.refunded_bookings_total - OLD.refunded_bookings_total);
        ELSE
            CALL RollUpSales(OLD.grain, OLD.period, OLD.venue_id, OLD.customer_type, -OLD.bookings, -OLD.booked_total,
                             -OLD.refunded, -OLD.refunded_bookings, -OLD.refunded_bookings_total);
            CALL RollUpSales(NEW.grain, NEW.period, NEW.venue_id, NEW.customer_type, NEW.bookings, NEW.booked_total,
                             NEW.refunded, NEW.refunded_bookings, NEW.refunded_bookings_total);
        END IF;
    END IF;
END$$

CREATE TRIGGER roll_up_deleted_sales AFTER DELETE ON sales_by_period
FOR EACH ROW
    IF @boxoffice_bulk_load IS NULL THEN
        CALL RollUpSales(OLD.grain, OLD.period, OLD.venue_id, OLD.customer_type, -OLD.bookings, -OLD.booked_total,
                         -OLD.refunded, -OLD.refunded_bookings, -OLD.refunded_bookings_total);
    END IF$$

CREATE TRIGGER roll_up_new_category_sales AFTER INSERT ON category_sales_by_period
FOR EACH ROW
    IF @boxoffice_bulk_load IS NULL THEN
        CALL RollUpCategorySales(NEW.grain, NEW.period, NEW.venue_id, NEW.category_id, NEW.tickets,
                                 NEW.tickets_refunded, NEW.revenue);
    END IF$$

CREATE TRIGGER roll_up_changed_category_sales AFTER UPDATE ON category_sales_by_period
FOR EACH ROW
BEGIN
    IF @boxoffice_bulk_load IS NULL THEN
        IF NEW.venue_id = OLD.venue_id AND NEW.category_id = OLD.category_id THEN
            CALL RollUpCategorySales(NEW.grain, NEW.period, NEW.venue_id, NEW.category_id, NEW.tickets - OLD.tickets,
                                     NEW.tickets_refunded - OLD.tickets_refunded, NEW.revenue - OLD.revenue);
        ELSE
            CALL RollUpCategorySales(OLD.grain, OLD.period, OLD.venue_id, OLD.category_id, -OLD.tickets,
                                     -OLD.tickets_refunded, -OLD.revenue);
            CALL RollUpCategorySales(NEW.grain, NEW.period, NEW.venue_id, NEW.category_id, NEW.tickets,
                                     NEW.tickets_refunded, NEW.revenue);
        END IF;
    END IF;
END$$

CREATE TRIGGER roll_up_deleted_category_sales AFTER DELETE ON category_sales_by_period
FOR EACH ROW
    IF @boxoffice_bulk_load IS NULL THEN
        CALL RollUpCategorySales(OLD.grain, OLD.period, OLD.venue_id, OLD.category_id, -OLD.tickets,
                                 -OLD.tickets_refunded, -OLD.revenue);
    END IF$$

-- Most bookings leave their customer's standing as it was: only a change of standing or type is counted.
CREATE TRIGGER count_new_buyer AFTER INSERT ON customer_sales
FOR EACH ROW
    IF @boxoffice_bulk_load IS NULL AND NEW.standing > 0 THEN
        CALL CountBuyer(NEW.customer_id, NEW.customer_type, 0, NEW.customer_type, NEW.standing);
    END IF$$

CREATE TRIGGER count_changed_buyer AFTER UPDATE ON customer_sales
FOR EACH ROW
    IF @boxoffice_bulk_load IS NULL AND NOT (NEW.standing = OLD.standing AND NEW.customer_type = OLD.customer_type) THEN
        CALL CountBuyer(NEW.customer_id, OLD.customer_type, OLD.standing, NEW.customer_type, NEW.standing);
    END IF$$

CREATE TRIGGER count_deleted_buyer AFTER DELETE ON customer_sales
FOR EACH ROW
    IF @boxoffice_bulk_load IS NULL AND OLD.standing > 0 THEN
        CALL CountBuyer(OLD.customer_id, OLD.customer_type, OLD.standing, OLD.customer_type, 0);
    END IF$$

DELIMITER ;
