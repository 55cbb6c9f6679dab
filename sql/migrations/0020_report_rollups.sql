-- Version 20: the dashboards read box-office-wide figures from rollups of the sales summaries.
--
-- Every dashboard figure but the top events is per venue, customer type, seat category or month, yet it was
-- added up from the per-event summary rows: about 7,000 sales and 10,000 category rows for twelve months at
-- 1.3 million tickets, read by three statements, and 70,000 customer_sales rows counted for the repeat
-- buyers (docs/benchmarks.md). These tables hold the same sums one level up, kept by triggers on the
-- summaries themselves (sql/objects/40_sales_summary.sql), so whichever writer changes a summary row
-- (the booking triggers, InsertBooking, a customer changing type, a refund) changes its rollup with it.

-- sales_by_period added up over the events of a venue.
CREATE TABLE venue_sales_by_period (
    grain                   ENUM('day','month') NOT NULL,
    period                  DATE NOT NULL,
    venue_id                INT UNSIGNED NOT NULL,
    customer_type           ENUM('regular','vip','guest') NOT NULL,
    bookings                INT NOT NULL DEFAULT 0,
    booked_total            DECIMAL(14,2) NOT NULL DEFAULT 0,
    refunded                DECIMAL(14,2) NOT NULL DEFAULT 0,
    refunded_bookings       INT NOT NULL DEFAULT 0,
    refunded_bookings_total DECIMAL(14,2) NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, period, venue_id, customer_type)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- category_sales_by_period added up over the events of a venue.
CREATE TABLE venue_category_sales_by_period (
    grain            ENUM('day','month') NOT NULL,
    period           DATE NOT NULL,
    venue_id         INT UNSIGNED NOT NULL,
    category_id      TINYINT UNSIGNED NOT NULL,
    tickets          INT NOT NULL DEFAULT 0,
    tickets_refunded INT NOT NULL DEFAULT 0,
    revenue          DECIMAL(14,2) NOT NULL DEFAULT 0,
    PRIMARY KEY (grain, period, venue_id, category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A customer's standing as a buyer: 0 no booking, 1 a buyer, 2 a repeat buyer (two bookings or more). It
-- changes at a customer's first and second booking only, so the counts below are written then and not at
-- every booking.
ALTER TABLE customer_sales ADD COLUMN standing TINYINT AS (LEAST(bookings, 2)) STORED AFTER refunded;

-- Buyers and repeat buyers per customer type (customer_sales counted by standing). Split into shards by
-- customer (customer_id % 16) so that two first bookings wait on the same row only when their buyers share
-- a shard. (The buyers' bookings and spend are the rollup's above, added up over all time.)
CREATE TABLE buyer_counts (
    customer_type ENUM('regular','vip','guest') NOT NULL,
    shard         TINYINT UNSIGNED NOT NULL,
    buyers        INT NOT NULL DEFAULT 0,
    repeat_buyers INT NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_type, shard)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The repeat buyers were counted from this index; nothing reads it now, and every booking paid for its upkeep.
ALTER TABLE customer_sales DROP KEY ix_customer_sales_type;

-- The revision then refills every summary from the rows (sql/summaries/refill.sql), these included.
