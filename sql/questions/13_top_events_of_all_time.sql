-- Question: Which events have earned the most?
-- About: The ten best-earning events of all time, from the TopRevenueEvents view: net revenue, tickets sold and occupancy.
-- Columns: revenue_rank:count, event, venue, starts_at:datetime, tickets_sold:count, occupancy_pct:percent, net_revenue:money
SELECT revenue_rank,
       title AS event,
       venue_name AS venue,
       starts_at,
       tickets_sold,
       occupancy_pct,
       net_revenue
  FROM TopRevenueEvents
 WHERE net_revenue > 0
 ORDER BY revenue_rank, event_id
 LIMIT 10;
