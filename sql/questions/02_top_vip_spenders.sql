-- Question: Who are the top VIP spenders?
-- About: The ten VIP members who have spent the most, net of refunds, over all their bookings.
-- Columns: customer, city, tier, member_since:date, bookings:count, net_spend:money, average_order:money
-- The ten are the last entries of the index on (customer_type, net_spend); their names are looked up after.
SELECT c.full_name AS customer,
       c.city,
       vc.tier,
       vc.member_since,
       cs.bookings,
       cs.net_spend,
       ROUND(cs.booked_total / cs.bookings, 2) AS average_order
  FROM (SELECT customer_id, bookings, booked_total, net_spend
          FROM customer_sales
         WHERE customer_type = 'vip' AND bookings > 0
         ORDER BY net_spend DESC, customer_id DESC
         LIMIT 10) cs
  JOIN customers c ON c.customer_id = cs.customer_id
  JOIN vip_customers vc ON vc.customer_id = cs.customer_id
 ORDER BY cs.net_spend DESC, cs.customer_id DESC;
