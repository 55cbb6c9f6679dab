-- Question: On which weekday do people spend most?
-- About: Bookings and their net revenue by the weekday they were made on (UTC), over all time.
-- Columns: weekday, bookings:count, net_revenue:money, share_pct:percent
SELECT ELT(weekday + 1, 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday') AS weekday,
       SUM(bookings) AS bookings,
       SUM(booked_total - refunded) AS net_revenue,
       ROUND(100 * SUM(booked_total - refunded)
             / NULLIF((SELECT SUM(booked_total - refunded) FROM booking_hours), 0), 1) AS share_pct
  FROM booking_hours
 GROUP BY booking_hours.weekday
 ORDER BY booking_hours.weekday;
