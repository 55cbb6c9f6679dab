-- Question: Which events sold out, and how fast?
-- About: Events with 95% of their seats or more sold, and the number of days from the opening of sales to the day the bookings still standing passed 95% (quickest first).
-- Columns: event, venue, starts_at:datetime, sales_opened:datetime, sold_out_on:date, days_to_sell_out:days, occupancy_pct:percent
-- The month the tickets passed 95% comes from the month rows of the summary, the day from that month's
-- day rows only: a few hundred rows per event, however long its sales ran.
WITH sold_out AS (
    SELECT event_id, title, venue_id, starts_at, sales_start, seats_total, seats_total - seats_available AS sold,
           0.95 * seats_total AS mark
      FROM events
     WHERE status = 'on_sale' AND seats_total > 0 AND seats_total - seats_available >= 0.95 * seats_total
), monthly AS (
    SELECT c.event_id, c.period, SUM(c.tickets) AS tickets
      FROM sold_out e
      JOIN category_sales_by_period c ON c.event_id = e.event_id AND c.grain = 'month'
     GROUP BY c.event_id, c.period
), month_totals AS (
    SELECT event_id, period, SUM(tickets) OVER (PARTITION BY event_id ORDER BY period) AS sold, tickets
      FROM monthly
), passed AS (
    SELECT t.event_id, MIN(t.period) AS month, MIN(t.sold - t.tickets) AS before_month
      FROM month_totals t
      JOIN sold_out e ON e.event_id = t.event_id
     WHERE t.sold >= e.mark
       AND t.sold - t.tickets < e.mark
     GROUP BY t.event_id
), daily AS (
    SELECT c.event_id, c.period, SUM(c.tickets) AS tickets
      FROM passed p
      JOIN category_sales_by_period c
        ON c.event_id = p.event_id AND c.grain = 'day' AND c.period BETWEEN p.month AND LAST_DAY(p.month)
     GROUP BY c.event_id, c.period
), day_totals AS (
    SELECT d.event_id, d.period, p.before_month + SUM(d.tickets) OVER (PARTITION BY d.event_id ORDER BY d.period) AS sold
      FROM daily d
      JOIN passed p ON p.event_id = d.event_id
)
SELECT e.title AS event,
       v.name AS venue,
       e.starts_at,
       e.sales_start AS sales_opened,
       MIN(d.period) AS sold_out_on,
       DATEDIFF(MIN(d.period), e.sales_start) AS days_to_sell_out,
       ROUND(100 * e.sold / e.seats_total, 1) AS occupancy_pct
  FROM sold_out e
  JOIN venues v ON v.venue_id = e.venue_id
  JOIN day_totals d ON d.event_id = e.event_id AND d.sold >= e.mark
 GROUP BY e.event_id, e.title, v.name, e.starts_at, e.sales_start, e.sold, e.seats_total
 ORDER BY days_to_sell_out, e.starts_at
 LIMIT 15;
