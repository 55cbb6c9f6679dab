-- Question: Which events sold out, and how fast?
-- About: Events with 95% of their seats or more sold, and the number of days from the opening of sales to the day the bookings still standing passed 95% (quickest first).
-- Columns: event, venue, starts_at:datetime, sales_opened:datetime, sold_out_on:date, days_to_sell_out:days, occupancy_pct:percent
-- The month the tickets passed 95% comes from the month rows of the summary; the day from that month's day
-- rows alone, looked up day by day: a few hundred rows per event, however long its sales ran.
WITH RECURSIVE month_days (n) AS (
    SELECT 0 UNION ALL SELECT n + 1 FROM month_days WHERE n < 30
), sold_out AS (
    SELECT event_id, seats_total, 0.95 * seats_total AS mark
      FROM events
     WHERE status = 'on_sale' AND seats_total > 0 AND seats_total - seats_available >= 0.95 * seats_total
), monthly AS (
    SELECT e.event_id, e.mark, c.period, SUM(c.tickets) AS tickets
      FROM sold_out e
      JOIN category_sales_by_period c ON c.event_id = e.event_id AND c.grain = 'month'
     GROUP BY e.event_id, e.mark, c.period
), passed AS (
    SELECT event_id, mark, period AS month, sold - tickets AS before_month
      FROM (SELECT event_id, mark, period, tickets,
                   SUM(tickets) OVER (PARTITION BY event_id ORDER BY period) AS sold
              FROM monthly) running
     WHERE sold >= mark AND sold - tickets < mark
), daily AS (
    SELECT p.event_id, p.mark, p.before_month, c.period, SUM(c.tickets) AS tickets
      FROM passed p
      JOIN month_days d ON d.n < DAYOFMONTH(LAST_DAY(p.month))
      JOIN category_sales_by_period c
        ON c.event_id = p.event_id AND c.grain = 'day' AND c.period = p.month + INTERVAL d.n DAY
     GROUP BY p.event_id, p.mark, p.before_month, c.period
), crossed AS (
    SELECT event_id, MIN(period) AS day
      FROM (SELECT event_id, period, mark,
                   before_month + SUM(tickets) OVER (PARTITION BY event_id ORDER BY period) AS sold
              FROM daily) running
     WHERE sold >= mark
     GROUP BY event_id
)
SELECT e.title AS event, v.name AS venue, e.starts_at, e.sales_start AS sales_opened, x.day AS sold_out_on,
       DATEDIFF(x.day, e.sales_start) AS days_to_sell_out,
       ROUND(100 * (e.seats_total - e.seats_available) / e.seats_total, 1) AS occupancy_pct
  FROM crossed x
  JOIN events e ON e.event_id = x.event_id
  JOIN venues v ON v.venue_id = e.venue_id
 ORDER BY days_to_sell_out, e.starts_at
 LIMIT 15;
