-- Question: How far ahead do people buy?
-- About: The average number of days between booking and the show, per genre (from the summed booking times the sales summary keeps).
-- Columns: genre, bookings:count, days_ahead:days
SELECT e.genre,
       SUM(s.bookings) AS bookings,
       ROUND(SUM(s.bookings * TIMESTAMPDIFF(SECOND, '2000-01-01', e.starts_at) - s.booked_seconds)
             / SUM(s.bookings) / 86400, 1) AS days_ahead
  FROM sales_by_period s
  JOIN events e ON e.event_id = s.event_id
 WHERE s.grain = 'month'
 GROUP BY e.genre
HAVING SUM(s.bookings) > 0
 ORDER BY days_ahead DESC;
