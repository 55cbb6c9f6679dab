-- Reporting views. Repeatable: re-applied after every schema upgrade, so each statement replaces.
-- The money comes from the month rows of the sales summaries (sql/migrations/0004_reporting.sql, kept by
-- sql/objects/40_sales_summary.sql): a few thousand rows instead of every payment ever made.

-- Events ranked by net revenue (captured charges less refunds), with venue, tickets sold and occupancy.
-- Tickets sold come from the seat counts kept by update_seat_availability, which never drift from the
-- seat inventory.
CREATE OR REPLACE VIEW TopRevenueEvents AS
SELECT
    e.event_id,
    e.title,
    e.performer,
    e.starts_at,
    e.status,
    v.venue_id,
    v.name AS venue_name,
    v.city,
    e.seats_total,
    e.seats_total - e.seats_available AS tickets_sold,
    ROUND(100 * (e.seats_total - e.seats_available) / NULLIF(e.seats_total, 0), 1) AS occupancy_pct,
    COALESCE(money.gross_revenue, 0) AS gross_revenue,
    COALESCE(money.refunded, 0) AS refunded,
    COALESCE(money.gross_revenue, 0) - COALESCE(money.refunded, 0) AS net_revenue,
    RANK() OVER (ORDER BY COALESCE(money.gross_revenue, 0) - COALESCE(money.refunded, 0) DESC) AS revenue_rank
FROM events e
JOIN venues v ON v.venue_id = e.venue_id
LEFT JOIN (
    SELECT event_id, SUM(charged) AS gross_revenue, SUM(refunded) AS refunded
    FROM sales_by_period
    WHERE grain = 'month'
    GROUP BY event_id
) money ON money.event_id = e.event_id;

-- Venues ranked by net revenue, with the seats their events (on sale or held, not drafts or cancelled ones)
-- offered and sold.
CREATE OR REPLACE VIEW TopRevenueVenues AS
SELECT
    v.venue_id,
    v.name AS venue_name,
    v.city,
    v.capacity,
    COALESCE(seats.events, 0) AS events,
    COALESCE(seats.seats_offered, 0) AS seats_offered,
    COALESCE(seats.tickets_sold, 0) AS tickets_sold,
    ROUND(100 * seats.tickets_sold / NULLIF(seats.seats_offered, 0), 1) AS occupancy_pct,
    COALESCE(money.gross_revenue, 0) AS gross_revenue,
    COALESCE(money.refunded, 0) AS refunded,
    COALESCE(money.gross_revenue, 0) - COALESCE(money.refunded, 0) AS net_revenue,
    RANK() OVER (ORDER BY COALESCE(money.gross_revenue, 0) - COALESCE(money.refunded, 0) DESC) AS revenue_rank
FROM venues v
LEFT JOIN (
    SELECT venue_id, COUNT(*) AS events, SUM(seats_total) AS seats_offered,
           SUM(seats_total - seats_available) AS tickets_sold
    FROM events
    WHERE status = 'on_sale'
    GROUP BY venue_id
) seats ON seats.venue_id = v.venue_id
LEFT JOIN (
    SELECT venue_id, SUM(charged) AS gross_revenue, SUM(refunded) AS refunded
    FROM sales_by_period
    WHERE grain = 'month'
    GROUP BY venue_id
) money ON money.venue_id = v.venue_id;

-- Payment behaviour per payment method and customer type: attempts, captured amount and average,
-- refunds and declines.
CREATE OR REPLACE VIEW PaymentSummary AS
SELECT
    pm.method_id,
    pm.code AS method_code,
    pm.name AS method_name,
    s.customer_type,
    SUM(s.charges) AS payments,
    SUM(s.captured) AS captured_payments,
    SUM(s.captured_amount) AS amount_captured,
    ROUND(SUM(s.captured_amount) / NULLIF(SUM(s.captured), 0), 2) AS average_payment,
    SUM(s.refunds) AS refunds,
    SUM(s.refunded_amount) AS amount_refunded,
    SUM(s.declines) AS declines,
    SUM(s.failures) AS failures
FROM payments_by_period s
JOIN payment_methods pm ON pm.method_id = s.method_id
WHERE s.grain = 'month'
GROUP BY pm.method_id, pm.code, pm.name, s.customer_type
HAVING SUM(s.charges) + SUM(s.refunds) > 0;
