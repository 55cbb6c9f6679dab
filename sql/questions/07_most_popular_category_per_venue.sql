-- Question: Which seat category sells best at each venue?
-- About: For every venue, the seat category with the most tickets sold (still valid), its share of the venue's tickets and its revenue.
-- Columns: venue, category, tickets:count, share_pct:percent, revenue:money
WITH per_category AS (
    SELECT venue_id, category_id, SUM(tickets) AS tickets, SUM(revenue) AS revenue
      FROM category_sales_by_period
     WHERE grain = 'month'
     GROUP BY venue_id, category_id
), ranked AS (
    SELECT venue_id, category_id, tickets, revenue,
           RANK() OVER (PARTITION BY venue_id ORDER BY tickets DESC) AS place,
           SUM(tickets) OVER (PARTITION BY venue_id) AS venue_tickets
      FROM per_category
)
SELECT v.name AS venue,
       sc.name AS category,
       r.tickets,
       ROUND(100 * r.tickets / NULLIF(r.venue_tickets, 0), 1) AS share_pct,
       r.revenue
  FROM ranked r
  JOIN venues v ON v.venue_id = r.venue_id
  JOIN seat_categories sc ON sc.category_id = r.category_id
 WHERE r.place = 1 AND r.tickets > 0
 ORDER BY venue, sc.`rank`;
