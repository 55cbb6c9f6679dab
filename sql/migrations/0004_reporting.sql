-- Version 4: what the reports need. Summary tables that keep every dashboard fast however many tickets
-- there are, and the shared read-only links to a dashboard.
--
-- The summary tables hold running totals. The triggers of sql/objects/40_sales_summary.sql keep them exact
-- on every insert, update and delete of bookings, tickets and payments, whatever writes them (the checkout,
-- refunds, the demo generator's bulk INSERTs). The INSERT ... SELECTs at the end fill them from the rows
-- already there (run by migration 0020 now), so an existing database upgrades in place; as with every upgrade, nothing may book while
-- it runs (the triggers are re-created right after this file).
--
-- Every sale is counted on the day it was booked, and so are its later refunds: a period's net revenue is
-- what its bookings brought in less what has been given back for them since. Payments (payments_by_period)
-- are the exception: they are counted on the day they were made, as a payments ledger is.

-- Sales per event and customer type, at two grains: one row per day and one per month of the booking. A
-- period reads its whole months from the month rows and only its ragged ends from the day rows, so a year
-- costs a few thousand rows however busy it was. customer_type is the customer's type now (a customer who
-- becomes a VIP takes their history along, as the PaymentSummary view always did).
CREATE TABLE sales_by_period (
    grain            ENUM('day','month') NOT NULL,
    -- The day, or the first day of the month.
    period           DATE NOT NULL,
    event_id         INT UNSIGNED NOT NULL,
    customer_type    ENUM('regular','vip') NOT NULL,
    venue_id         INT UNSIGNED NOT NULL,
    bookings         INT NOT NULL DEFAULT 0,
    -- bookings.total added up: what the bookings cost their buyers.
    booked_total     DECIMAL(14,2) NOT NULL DEFAULT 0,
    -- Captured charges and refunds of these bookings.
    charged          DECIMAL(14,2) NOT NULL DEFAULT 0,
    refunded         DECIMAL(14,2) NOT NULL DEFAULT 0,
    -- Seconds from 2000-01-01 to each booking, added up: with `bookings`, the average moment of booking,
    -- and so how long before the show people buy (which stays right when a show is moved).
    booked_seconds   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, period, event_id, customer_type),
    KEY ix_sales_by_period_event (event_id, grain, period),
    KEY ix_sales_by_period_venue (venue_id, grain, period),
    CONSTRAINT fk_sales_by_period_event FOREIGN KEY (event_id) REFERENCES events (event_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Tickets per event and seat category, day and month of the booking (the same two grains). The only count
-- of tickets: a ticket's trigger then has one row to write (the demo data inserts millions of them).
CREATE TABLE category_sales_by_period (
    grain            ENUM('day','month') NOT NULL,
    period           DATE NOT NULL,
    event_id         INT UNSIGNED NOT NULL,
    category_id      TINYINT UNSIGNED NOT NULL,
    venue_id         INT UNSIGNED NOT NULL,
    tickets          INT NOT NULL DEFAULT 0,
    tickets_refunded INT NOT NULL DEFAULT 0,
    -- The paid shares of the tickets still valid or checked in.
    revenue          DECIMAL(14,2) NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, period, event_id, category_id),
    KEY ix_category_sales_by_period_event (event_id, grain, period),
    KEY ix_category_sales_by_period_venue (venue_id, grain, period),
    KEY ix_category_sales_by_period_category (category_id),
    CONSTRAINT fk_category_sales_by_period_event FOREIGN KEY (event_id) REFERENCES events (event_id) ON DELETE CASCADE,
    CONSTRAINT fk_category_sales_by_period_category FOREIGN KEY (category_id) REFERENCES seat_categories (category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Payments per day and month they were made, payment method, payer's customer type and venue.
CREATE TABLE payments_by_period (
    grain            ENUM('day','month') NOT NULL,
    period           DATE NOT NULL,
    method_id        TINYINT UNSIGNED NOT NULL,
    customer_type    ENUM('regular','vip') NOT NULL,
    -- The venue of the booking paid for; 0 for a charge that has no booking (declined or failed).
    venue_id         INT UNSIGNED NOT NULL,
    charges          INT NOT NULL DEFAULT 0,
    captured         INT NOT NULL DEFAULT 0,
    captured_amount  DECIMAL(14,2) NOT NULL DEFAULT 0,
    declines         INT NOT NULL DEFAULT 0,
    failures         INT NOT NULL DEFAULT 0,
    refunds          INT NOT NULL DEFAULT 0,
    refunded_amount  DECIMAL(14,2) NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, period, method_id, customer_type, venue_id),
    KEY ix_payments_by_period_venue (venue_id, grain, period),
    KEY ix_payments_by_period_method (method_id),
    CONSTRAINT fk_payments_by_period_method FOREIGN KEY (method_id) REFERENCES payment_methods (method_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Each buyer's bookings over all time: repeat buyers and the best customers.
CREATE TABLE customer_sales (
    customer_id   INT UNSIGNED NOT NULL,
    customer_type ENUM('regular','vip') NOT NULL,
    bookings      INT NOT NULL DEFAULT 0,
    booked_total  DECIMAL(14,2) NOT NULL DEFAULT 0,
    refunded      DECIMAL(14,2) NOT NULL DEFAULT 0,
    net_spend     DECIMAL(14,2) AS (booked_total - refunded) STORED,
    PRIMARY KEY (customer_id),
    -- Buyers and repeat buyers per type read from the first index alone; the best spenders of a type are the
    -- last entries of the second.
    KEY ix_customer_sales_type (customer_type, bookings, net_spend),
    KEY ix_customer_sales_spend (customer_type, net_spend),
    CONSTRAINT fk_customer_sales_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Bookings per venue, weekday and hour of the day they were made (UTC), over all time. Per venue rather
-- than for the whole box office, so that checkouts at different venues never wait on the same row.
CREATE TABLE booking_hours (
    venue_id     INT UNSIGNED NOT NULL,
    -- 0 is Monday, 6 is Sunday (WEEKDAY()).
    weekday      TINYINT UNSIGNED NOT NULL,
    hour         TINYINT UNSIGNED NOT NULL,
    bookings     INT NOT NULL DEFAULT 0,
    booked_total DECIMAL(14,2) NOT NULL DEFAULT 0,
    refunded     DECIMAL(14,2) NOT NULL DEFAULT 0,
    PRIMARY KEY (venue_id, weekday, hour),
    CONSTRAINT ck_booking_hours_time CHECK (weekday <= 6 AND hour <= 23),
    CONSTRAINT fk_booking_hours_venue FOREIGN KEY (venue_id) REFERENCES venues (venue_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The bookings each promo code was used for, over all time.
CREATE TABLE promo_sales (
    discount_id    INT UNSIGNED NOT NULL,
    bookings       INT NOT NULL DEFAULT 0,
    booked_total   DECIMAL(14,2) NOT NULL DEFAULT 0,
    promo_discount DECIMAL(14,2) NOT NULL DEFAULT 0,
    refunded       DECIMAL(14,2) NOT NULL DEFAULT 0,
    PRIMARY KEY (discount_id),
    CONSTRAINT fk_promo_sales_discount FOREIGN KEY (discount_id) REFERENCES discounts (discount_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A read-only link to a dashboard that opens without signing in. The link carries a random token; only its
-- SHA-256 is kept, so the table cannot be used to open anything. A link stops working when it expires or
-- is revoked (the row stays, to show what was shared and when).
CREATE TABLE report_shares (
    share_id    INT UNSIGNED NOT NULL AUTO_INCREMENT,
    token_hash  CHAR(64) CHARACTER SET ascii NOT NULL,
    label       VARCHAR(120) NOT NULL,
    -- The dashboard's filters, frozen when the link was made.
    date_from   DATE NOT NULL,
    date_to     DATE NOT NULL,
    venue_id    INT UNSIGNED NULL,
    event_id    INT UNSIGNED NULL,
    created_by  INT UNSIGNED NOT NULL,
    created_at  DATETIME NOT NULL,
    expires_at  DATETIME NOT NULL,
    revoked_at  DATETIME NULL,
    PRIMARY KEY (share_id),
    UNIQUE KEY uq_report_shares_token (token_hash),
    KEY ix_report_shares_created (created_at),
    CONSTRAINT ck_report_shares_period CHECK (date_from <= date_to),
    CONSTRAINT ck_report_shares_expiry CHECK (created_at < expires_at),
    CONSTRAINT fk_report_shares_venue FOREIGN KEY (venue_id) REFERENCES venues (venue_id) ON DELETE CASCADE,
    CONSTRAINT fk_report_shares_event FOREIGN KEY (event_id) REFERENCES events (event_id) ON DELETE CASCADE,
    CONSTRAINT fk_report_shares_staff FOREIGN KEY (created_by) REFERENCES staff_users (staff_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- ---------------------------------------------------------------- filling the summaries from the rows there
-- The rows already there are summarised by sql/summaries/refill.sql (which the demo generator also runs after a
-- bulk load), run by the newest migration that changes how the summaries are kept (0020).
