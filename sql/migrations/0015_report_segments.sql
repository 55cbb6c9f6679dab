-- Version 15: guests are a segment of their own in the reports, and the sales summaries keep fully refunded
-- bookings apart.
--
-- A customer's segment: 'guest' for a guest who paid without an account (migration 0009), else its type
-- ('regular' or 'vip'). Guests were counted as Regular customers, which they are in the schema (a guest is a
-- Regular customer row without a password) but not for the business: they are the buyers who never made an
-- account. The summaries' customer_type columns now hold the segment (their name stays: the views and
-- questions read them), and the summary writers (sql/objects/40_sales_summary.sql, InsertBooking) read the
-- customer's segment. A guest who makes an account later moves to Regular with its history, as a customer
-- who becomes a VIP does (the trigger summarise_customer_type).
ALTER TABLE customers
    ADD COLUMN segment ENUM('regular','vip','guest') AS (IF(is_guest, 'guest', customer_type)) VIRTUAL AFTER is_guest;

-- The bookings fully refunded (status 'refunded') and what they cost, per summary row: the average order
-- value leaves them out, and read from the bookings themselves they were the dashboard's dearest statement
-- (docs/benchmarks.md). Kept by the triggers when a booking's status changes.
ALTER TABLE sales_by_period
    MODIFY customer_type ENUM('regular','vip','guest') NOT NULL,
    ADD COLUMN refunded_bookings INT NOT NULL DEFAULT 0 AFTER booked_seconds,
    ADD COLUMN refunded_bookings_total DECIMAL(14,2) NOT NULL DEFAULT 0 AFTER refunded_bookings;
ALTER TABLE payments_by_period MODIFY customer_type ENUM('regular','vip','guest') NOT NULL;
ALTER TABLE customer_sales MODIFY customer_type ENUM('regular','vip','guest') NOT NULL;
ALTER TABLE report_shares MODIFY customer_type ENUM('regular','vip','guest') NULL;

-- Revision 0020 then refills the summaries from the rows (sql/summaries/refill.sql), by segment and with the
-- fully refunded bookings; as with every upgrade, nothing may book while it runs.

-- The reports read the fully refunded bookings from sales_by_period now: the covering index migration 0010
-- gave them is no longer read, and every booking paid for its upkeep.
ALTER TABLE bookings DROP KEY ix_bookings_status_booked;
