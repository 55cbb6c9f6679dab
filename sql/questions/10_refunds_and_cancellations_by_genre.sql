-- Question: Which genres are refunded and cancelled most?
-- About: Per genre: the share of tickets booked that were refunded, the money given back, and the events cancelled.
-- Columns: genre, tickets_booked:count, tickets_refunded:count, refunded_pct:percent, amount_refunded:money, events:count, events_cancelled:count
SELECT g.genre,
       COALESCE(s.tickets_booked, 0) AS tickets_booked,
       COALESCE(s.tickets_refunded, 0) AS tickets_refunded,
       ROUND(100 * s.tickets_refunded / NULLIF(s.tickets_booked, 0), 1) AS refunded_pct,
       COALESCE(s.amount_refunded, 0) AS amount_refunded,
       g.events,
       g.events_cancelled
  FROM (SELECT genre, COUNT(*) AS events, SUM(status = 'cancelled') AS events_cancelled
          FROM events WHERE status <> 'draft' GROUP BY genre) g
  LEFT JOIN (SELECT e.genre, SUM(t.tickets + t.tickets_refunded) AS tickets_booked,
                    SUM(t.tickets_refunded) AS tickets_refunded, SUM(m.refunded) AS amount_refunded
               FROM events e
               JOIN (SELECT event_id, SUM(tickets) AS tickets, SUM(tickets_refunded) AS tickets_refunded
                       FROM category_sales_by_period WHERE grain = 'month' GROUP BY event_id) t
                 ON t.event_id = e.event_id
               LEFT JOIN (SELECT event_id, SUM(refunded) AS refunded
                            FROM sales_by_period WHERE grain = 'month' GROUP BY event_id) m
                 ON m.event_id = e.event_id
              GROUP BY e.genre) s ON s.genre = g.genre
 ORDER BY refunded_pct DESC, g.genre;
