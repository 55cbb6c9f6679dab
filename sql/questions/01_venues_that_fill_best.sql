-- Question: Which venues fill best?
-- About: Tickets sold ÷ seats offered over the events each venue has held so far (cancelled events and drafts left out), fullest first.
-- Columns: venue, city, events:count, seats_offered:count, tickets_sold:count, occupancy_pct:percent
SELECT v.name AS venue,
       v.city,
       COUNT(*) AS events,
       SUM(e.seats_total) AS seats_offered,
       SUM(e.seats_total - e.seats_available) AS tickets_sold,
       ROUND(100 * SUM(e.seats_total - e.seats_available) / NULLIF(SUM(e.seats_total), 0), 1) AS occupancy_pct
  FROM events e
  JOIN venues v ON v.venue_id = e.venue_id
 WHERE e.status = 'on_sale'
   AND e.starts_at < UTC_TIMESTAMP()
 GROUP BY v.venue_id, v.name, v.city
 ORDER BY occupancy_pct DESC, venue;
