-- Question: Which promo codes pay off?
-- About: Every promo code that has been used: its bookings, the net revenue they brought, the discount given away, and the net revenue per euro of discount.
-- Columns: code, description, bookings:count, net_revenue:money, discount_given:money, average_order:money, revenue_per_euro:number
SELECT d.code,
       d.description,
       ps.bookings,
       ps.booked_total - ps.refunded AS net_revenue,
       ps.promo_discount AS discount_given,
       ROUND(ps.booked_total / ps.bookings, 2) AS average_order,
       ROUND((ps.booked_total - ps.refunded) / NULLIF(ps.promo_discount, 0), 2) AS revenue_per_euro
  FROM promo_sales ps
  JOIN discounts d ON d.discount_id = ps.discount_id
 WHERE ps.bookings > 0
 ORDER BY net_revenue DESC, d.code;
