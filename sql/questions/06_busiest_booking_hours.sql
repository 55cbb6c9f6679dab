-- Question: What are the busiest booking hours?
-- About: The ten hours of the day (UTC) in which the most bookings are made, over all time.
-- Columns: hour, bookings:count, net_revenue:money, share_pct:percent
SELECT CONCAT(LPAD(hour, 2, '0'), ':00–', LPAD(hour, 2, '0'), ':59') AS hour,
       SUM(bookings) AS bookings,
       SUM(booked_total - refunded) AS net_revenue,
       ROUND(100 * SUM(bookings) / NULLIF((SELECT SUM(bookings) FROM booking_hours), 0), 1) AS share_pct
  FROM booking_hours
 GROUP BY booking_hours.hour
 ORDER BY bookings DESC, booking_hours.hour
 LIMIT 10;
