-- Fill the sales summaries (tables of sql/migrations/0004_reporting.sql) from the raw rows, set-based.
-- Run by the newest migration that changes how the summaries are kept (0020), for the rows already there,
-- and by the demo generator after a bulk load, during which the summary triggers stand aside (see
-- sql/objects/40_sales_summary.sql). It follows the newest schema. Nothing may book while it runs. Applies
-- with the mariadb client too. Customers are counted under their segment (customers.segment: regular, vip
-- or guest).

DELETE FROM sales_by_period;
DELETE FROM category_sales_by_period;
DELETE FROM payments_by_period;
DELETE FROM customer_sales;
DELETE FROM booking_hours;
DELETE FROM promo_sales;

INSERT INTO sales_by_period (grain, period, event_id, customer_type, venue_id, bookings, booked_total, charged,
                             refunded, booked_seconds, refunded_bookings, refunded_bookings_total)
SELECT g.grain,
       IF(g.grain = 'day', DATE(b.booked_at), DATE_FORMAT(b.booked_at, '%Y-%m-01')),
       b.event_id, c.segment, e.venue_id,
       COUNT(*), SUM(b.total), COALESCE(SUM(p.charged), 0), COALESCE(SUM(p.refunded), 0),
       SUM(TIMESTAMPDIFF(SECOND, '2000-01-01', b.booked_at)),
       SUM(b.status = 'refunded'), SUM(IF(b.status = 'refunded', b.total, 0))
  FROM bookings b
  JOIN customers c ON c.customer_id = b.customer_id
  JOIN events e ON e.event_id = b.event_id
  LEFT JOIN (SELECT booking_id,
                    SUM(IF(kind = 'charge' AND status = 'captured', amount, 0)) AS charged,
                    SUM(IF(kind = 'refund', amount, 0)) AS refunded
               FROM payments WHERE booking_id IS NOT NULL GROUP BY booking_id) p ON p.booking_id = b.booking_id
 CROSS JOIN (SELECT 'day' AS grain UNION ALL SELECT 'month') g
 GROUP BY 1, 2, b.event_id, c.segment, e.venue_id;

INSERT INTO category_sales_by_period (grain, period, event_id, category_id, venue_id, tickets, tickets_refunded,
                                      revenue)
SELECT g.grain,
       IF(g.grain = 'day', DATE(b.booked_at), DATE_FORMAT(b.booked_at, '%Y-%m-01')),
       b.event_id, t.category_id, e.venue_id,
       SUM(t.status <> 'refunded'), SUM(t.status = 'refunded'), SUM(IF(t.status <> 'refunded', t.paid_amount, 0))
  FROM tickets t
  JOIN bookings b ON b.booking_id = t.booking_id
  JOIN events e ON e.event_id = b.event_id
 CROSS JOIN (SELECT 'day' AS grain UNION ALL SELECT 'month') g
 GROUP BY 1, 2, b.event_id, t.category_id, e.venue_id;

INSERT INTO payments_by_period (grain, period, method_id, customer_type, venue_id, charges, captured,
                                captured_amount, declines, failures, refunds, refunded_amount)
SELECT g.grain,
       IF(g.grain = 'day', DATE(p.created_at), DATE_FORMAT(p.created_at, '%Y-%m-01')),
       p.method_id, c.segment, COALESCE(e.venue_id, 0),
       SUM(p.kind = 'charge'), SUM(p.kind = 'charge' AND p.status = 'captured'),
       SUM(IF(p.kind = 'charge' AND p.status = 'captured', p.amount, 0)),
       SUM(p.kind = 'charge' AND p.status = 'declined'), SUM(p.kind = 'charge' AND p.status = 'failed'),
       SUM(p.kind = 'refund'), SUM(IF(p.kind = 'refund', p.amount, 0))
  FROM payments p
  JOIN customers c ON c.customer_id = p.customer_id
  LEFT JOIN bookings b ON b.booking_id = p.booking_id
  LEFT JOIN events e ON e.event_id = b.event_id
 CROSS JOIN (SELECT 'day' AS grain UNION ALL SELECT 'month') g
 GROUP BY 1, 2, p.method_id, c.segment, COALESCE(e.venue_id, 0);

INSERT INTO customer_sales (customer_id, customer_type, bookings, booked_total, refunded)
SELECT b.customer_id, c.segment, COUNT(*), SUM(b.total), COALESCE(SUM(r.refunded), 0)
  FROM bookings b
  JOIN customers c ON c.customer_id = b.customer_id
  LEFT JOIN (SELECT booking_id, SUM(amount) AS refunded FROM payments WHERE kind = 'refund' GROUP BY booking_id) r
         ON r.booking_id = b.booking_id
 GROUP BY b.customer_id, c.segment;

INSERT INTO booking_hours (venue_id, weekday, hour, bookings, booked_total, refunded)
SELECT e.venue_id, WEEKDAY(b.booked_at), HOUR(b.booked_at), COUNT(*), SUM(b.total), COALESCE(SUM(r.refunded), 0)
  FROM bookings b
  JOIN events e ON e.event_id = b.event_id
  LEFT JOIN (SELECT booking_id, SUM(amount) AS refunded FROM payments WHERE kind = 'refund' GROUP BY booking_id) r
         ON r.booking_id = b.booking_id
 GROUP BY e.venue_id, WEEKDAY(b.booked_at), HOUR(b.booked_at);

INSERT INTO promo_sales (discount_id, bookings, booked_total, promo_discount, refunded)
SELECT b.discount_id, COUNT(*), SUM(b.total), SUM(b.promo_discount), COALESCE(SUM(r.refunded), 0)
  FROM bookings b
  LEFT JOIN (SELECT booking_id, SUM(amount) AS refunded FROM payments WHERE kind = 'refund' GROUP BY booking_id) r
         ON r.booking_id = b.booking_id
 WHERE b.discount_id IS NOT NULL
 GROUP BY b.discount_id;

-- The rollups (migration 0020): the summaries above added up one level further, as their triggers keep them
-- (emptied only now: where those triggers do not stand aside, they have just filled them row by row).
DELETE FROM venue_sales_by_period;
DELETE FROM venue_category_sales_by_period;
DELETE FROM buyer_counts;

INSERT INTO venue_sales_by_period (grain, period, venue_id, customer_type, bookings, booked_total, refunded,
                                   refunded_bookings, refunded_bookings_total)
SELECT grain, period, venue_id, customer_type, SUM(bookings), SUM(booked_total), SUM(refunded),
       SUM(refunded_bookings), SUM(refunded_bookings_total)
  FROM sales_by_period
 GROUP BY grain, period, venue_id, customer_type;

INSERT INTO venue_category_sales_by_period (grain, period, venue_id, category_id, tickets, tickets_refunded, revenue)
SELECT grain, period, venue_id, category_id, SUM(tickets), SUM(tickets_refunded), SUM(revenue)
  FROM category_sales_by_period
 GROUP BY grain, period, venue_id, category_id;

INSERT INTO buyer_counts (customer_type, shard, buyers, repeat_buyers)
SELECT customer_type, customer_id % 16, SUM(standing >= 1), SUM(standing = 2)
  FROM customer_sales
 GROUP BY customer_type, customer_id % 16;
