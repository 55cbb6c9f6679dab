-- Reporting views. Repeatable: re-applied after every schema upgrade, so each statement replaces.

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
    SELECT b.event_id,
           SUM(CASE WHEN p.kind = 'charge' THEN p.amount ELSE 0 END) AS gross_revenue,
           SUM(CASE WHEN p.kind = 'refund' THEN p.amount ELSE 0 END) AS refunded
    FROM payments p
    JOIN bookings b ON b.booking_id = p.booking_id
    WHERE p.status IN ('captured', 'refunded')
    GROUP BY b.event_id
) money ON money.event_id = e.event_id;

-- Payment behaviour per payment method and customer type: attempts, captured amount and average,
-- refunds and declines.
CREATE OR REPLACE VIEW PaymentSummary AS
SELECT
    pm.method_id,
    pm.code AS method_code,
    pm.name AS method_name,
    c.customer_type,
    SUM(p.kind = 'charge') AS payments,
    SUM(p.kind = 'charge' AND p.status = 'captured') AS captured_payments,
    COALESCE(SUM(CASE WHEN p.kind = 'charge' AND p.status = 'captured' THEN p.amount END), 0) AS amount_captured,
    ROUND(AVG(CASE WHEN p.kind = 'charge' AND p.status = 'captured' THEN p.amount END), 2) AS average_payment,
    SUM(p.kind = 'refund') AS refunds,
    COALESCE(SUM(CASE WHEN p.kind = 'refund' THEN p.amount END), 0) AS amount_refunded,
    SUM(p.kind = 'charge' AND p.status = 'declined') AS declines,
    SUM(p.kind = 'charge' AND p.status = 'failed') AS failures
FROM payments p
JOIN payment_methods pm ON pm.method_id = p.method_id
JOIN customers c ON c.customer_id = p.customer_id
GROUP BY pm.method_id, pm.code, pm.name, c.customer_type;
