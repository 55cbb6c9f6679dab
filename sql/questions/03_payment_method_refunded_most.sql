-- Question: Which payment method is refunded most?
-- About: Refunds per payment method over all time, from the PaymentSummary view: how much of what was paid with each method went back.
-- Columns: method, payments:count, amount_paid:money, refunds:count, amount_refunded:money, refunded_pct:percent
SELECT method_name AS method,
       SUM(captured_payments) AS payments,
       SUM(amount_captured) AS amount_paid,
       SUM(refunds) AS refunds,
       SUM(amount_refunded) AS amount_refunded,
       ROUND(100 * SUM(amount_refunded) / NULLIF(SUM(amount_captured), 0), 1) AS refunded_pct
  FROM PaymentSummary
 GROUP BY method_id, method_name
 ORDER BY refunded_pct DESC, method;
