-- Question: Which events sold out, and how fast?
-- About: Events with 95% of their seats or more sold, and the number of days from the opening of sales to the day the bookings still standing passed 95% (quickest first).
-- Columns: event, venue, starts_at:datetime, sales_opened:datetime, sold_out_on:date, days_to_sell_out:days, occupancy_pct:percent
WITH sold_out AS (
    SELECT event_id, title, venue_id, starts_at, sales_start, seats_total, seats_total - seats_available AS sold
      FROM events
     WHERE status = 'on_sale' AND seats_total > 0 AND seats_total - seats_available >= 0.95 * seats_total
), daily AS (
    SELECT s.event_id, s.period, SUM(s.tickets) AS tickets
      FROM category_sales_by_period s
      JOIN sold_out e ON e.event_id = s.event_id
     WHERE s.grain = 'day'
     GROUP BY s.event_id, s.period
), running AS (
    SELECT event_id, period, SUM(tickets) OVER (PARTITION BY event_id ORDER BY period) AS sold
      FROM daily
)
SELECT e.title AS event,
       v.name AS venue,
       e.starts_at,
       e.sales_start AS sales_opened,
       MIN(r.period) AS sold_out_on,
       DATEDIFF(MIN(r.period), e.sales_start) AS days_to_sell_out,
       ROUND(100 * e.sold / e.seats_total, 1) AS occupancy_pct
  FROM sold_out e
  JOIN venues v ON v.venue_id = e.venue_id
  JOIN running r ON r.event_id = e.event_id AND r.sold >= 0.95 * e.seats_total
 GROUP BY e.event_id, e.title, v.name, e.starts_at, e.sales_start, e.sold, e.seats_total
 ORDER BY days_to_sell_out, e.starts_at
 LIMIT 15;
