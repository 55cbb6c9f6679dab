-- Version 10: a waiting list for sold-out events.
--
-- A customer joins an event's line for a number of seats in one category, or in any (category_id NULL).
-- When seats come back (a refund, a cancellation, a hold that expired), the first in line whose wish they
-- can meet is offered them: the seats are held for the entry under its offer token (the hold owner of the
-- offered seats, and the secret of the link in the offer's mail) until offer_expires_at. Opening the link
-- moves the seats into the buyer's own hold ('claimed'); an offer not claimed in time is 'expired' and the
-- seats pass down the line. Every write of a seat's state stays in sql/objects/35_seat_states.sql
-- (OfferSeats, ClaimOfferedSeats); this table is only the line.
CREATE TABLE waiting_list_entries (
    entry_id         INT UNSIGNED NOT NULL AUTO_INCREMENT,
    event_id         INT UNSIGNED NOT NULL,
    customer_id      INT UNSIGNED NOT NULL,
    -- NULL: any category.
    category_id      TINYINT UNSIGNED NULL,
    seats_wanted     TINYINT UNSIGNED NOT NULL,
    -- waiting (in line), offered (seats held for them), claimed (the seats moved into their hold),
    -- expired (an offer not claimed in time), left (they left the line).
    status           ENUM('waiting','offered','claimed','expired','left') NOT NULL DEFAULT 'waiting',
    joined_at        DATETIME(3) NOT NULL,
    offer_token      CHAR(32) CHARACTER SET ascii NULL,
    offered_at       DATETIME(3) NULL,
    offer_expires_at DATETIME(3) NULL,
    seats_offered    TINYINT UNSIGNED NULL,
    ended_at         DATETIME(3) NULL,
    -- One live place in an event's line per customer (waiting or holding an offer), kept by the unique
    -- key below whatever the application does.
    live_customer_id INT UNSIGNED AS (IF(status IN ('waiting','offered'), customer_id, NULL)) STORED,
    PRIMARY KEY (entry_id),
    UNIQUE KEY uq_waiting_list_live (event_id, live_customer_id),
    UNIQUE KEY uq_waiting_list_offer_token (offer_token),
    -- The line: an event's entries of one status in the order they joined.
    KEY ix_waiting_list_line (event_id, status, entry_id),
    KEY ix_waiting_list_customer (customer_id, event_id),
    KEY ix_waiting_list_offer_expiry (status, offer_expires_at),
    CONSTRAINT ck_waiting_list_seats CHECK (seats_wanted BETWEEN 1 AND 50),
    CONSTRAINT ck_waiting_list_offer CHECK (
        (status = 'waiting' AND offer_token IS NULL AND offered_at IS NULL)
        OR (status IN ('offered','claimed','expired') AND offer_token IS NOT NULL AND offered_at IS NOT NULL
            AND offer_expires_at IS NOT NULL AND seats_offered IS NOT NULL)
        OR status = 'left'),
    CONSTRAINT fk_waiting_list_event FOREIGN KEY (event_id) REFERENCES events (event_id) ON DELETE CASCADE,
    CONSTRAINT fk_waiting_list_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id),
    CONSTRAINT fk_waiting_list_category FOREIGN KEY (category_id) REFERENCES seat_categories (category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The reports (boxoffice/services/reporting.py): the average order value leaves fully refunded bookings out,
-- read from the refunded bookings of the period alone, in this index only (it covers every column read).
ALTER TABLE bookings ADD KEY ix_bookings_status_booked (status, booked_at, event_id, customer_id, total);

-- A shared dashboard keeps every filter it was made with: the customer type and the payment method too.
ALTER TABLE report_shares
    ADD COLUMN customer_type ENUM('regular','vip') NULL AFTER event_id,
    ADD COLUMN method_id TINYINT UNSIGNED NULL AFTER customer_type,
    ADD CONSTRAINT fk_report_shares_method FOREIGN KEY (method_id) REFERENCES payment_methods (method_id);
