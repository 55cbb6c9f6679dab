-- Question: Which upcoming events are selling slowest?
-- About: Events on sale that start in the next 60 days, emptiest first: candidates for a promotion.
-- Columns: event, venue, starts_at:datetime, days_left:days, seats:count, sold:count, occupancy_pct:percent
SELECT e.title AS event,
       v.name AS venue,
       e.starts_at,
       DATEDIFF(e.starts_at, UTC_TIMESTAMP()) AS days_left,
       e.seats_total AS seats,
       e.seats_total - e.seats_available AS sold,
       ROUND(100 * (e.seats_total - e.seats_available) / NULLIF(e.seats_total, 0), 1) AS occupancy_pct
  FROM events e
  JOIN venues v ON v.venue_id = e.venue_id
 WHERE e.status = 'on_sale'
   AND e.starts_at > UTC_TIMESTAMP()
   AND e.starts_at < UTC_TIMESTAMP() + INTERVAL 60 DAY
 ORDER BY occupancy_pct, e.starts_at
 LIMIT 15;
