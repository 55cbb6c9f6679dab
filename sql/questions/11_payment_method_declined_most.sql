-- Question: Which payment methods are declined or fail most often?
-- About: Payment attempts per method over all time, from the PaymentSummary view, and the share the gateway declined or that failed.
-- Columns: method, attempts:count, declined:count, failed:count, declined_or_failed_pct:percent
SELECT method_name AS method,
       SUM(payments) AS attempts,
       SUM(declines) AS declined,
       SUM(failures) AS failed,
       ROUND(100 * (SUM(declines) + SUM(failures)) / NULLIF(SUM(payments), 0), 1) AS declined_or_failed_pct
  FROM PaymentSummary
 GROUP BY method_id, method_name
 ORDER BY declined_or_failed_pct DESC, method;
