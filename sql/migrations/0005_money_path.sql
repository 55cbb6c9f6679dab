-- Version 5: money that cannot go astray. A payment attempt and a booking refund are durable rows with
-- states, written before the payment provider is called and moved forward only by conditional updates, so
-- a crash at any point leaves a row that says what is left to finish (the reconciler finishes it). Mail is
-- a transactional outbox: written in the transaction of the change it reports, delivered afterwards.

-- One try at paying for a hold. The server issues its idempotency key (bound to the buyer, the event, the
-- hold and the amount); the key is single-use: one key, one attempt, one outcome.
--   created        the row is written; the provider may or may not have been asked yet
--   captured       the provider took the money and no booking holds it yet
--   booked         InsertBooking booked it (booking_id)
--   declined       the provider refused the card (or it failed): nothing was taken
--   abandoned      never reached the provider (found stale by the reconciler, which asked the provider)
--   refund_pending the money is to go back (the seats were lost): the provider is being asked
--   refunded       the money went back
CREATE TABLE payment_attempts (
    attempt_id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    idempotency_key    VARCHAR(64) CHARACTER SET ascii NOT NULL,
    customer_id        INT UNSIGNED NOT NULL,
    event_id           INT UNSIGNED NOT NULL,
    hold_owner         CHAR(32) CHARACTER SET ascii NOT NULL,
    amount             DECIMAL(10,2) NOT NULL,
    promo_code         VARCHAR(32) CHARACTER SET ascii NULL,
    method_code        VARCHAR(20) CHARACTER SET ascii NOT NULL,
    -- The seats held when paying began (a JSON array of seat ids): what a late payment may reclaim.
    seat_ids           TEXT CHARACTER SET ascii NOT NULL,
    state              ENUM('created','captured','booked','declined','abandoned','refund_pending','refunded')
                       NOT NULL DEFAULT 'created',
    provider_reference VARCHAR(64) CHARACTER SET ascii NULL,
    card_brand         VARCHAR(20) CHARACTER SET ascii NULL,
    last_four          CHAR(4) CHARACTER SET ascii NULL,
    failure_reason     VARCHAR(200) NULL,
    booking_id         INT UNSIGNED NULL,
    -- Set when the reconciler (not the buyer's own request) moved the attempt on, with what it did.
    reconciled_at      DATETIME(3) NULL,
    reconcile_note     VARCHAR(200) NULL,
    created_at         DATETIME(3) NOT NULL,
    updated_at         DATETIME(3) NOT NULL,
    -- At most one attempt in flight per hold: two tabs paying one hold cannot both be charged.
    in_flight          TINYINT AS (IF(state IN ('created','captured'), 1, NULL)) STORED,
    PRIMARY KEY (attempt_id),
    UNIQUE KEY uq_payment_attempts_key (idempotency_key),
    UNIQUE KEY uq_payment_attempts_in_flight (event_id, hold_owner, in_flight),
    UNIQUE KEY uq_payment_attempts_booking (booking_id),
    KEY ix_payment_attempts_state (state, updated_at),
    KEY ix_payment_attempts_customer (customer_id, created_at),
    KEY ix_payment_attempts_reconciled (reconciled_at),
    CONSTRAINT ck_payment_attempts_amount CHECK (amount >= 0),
    CONSTRAINT ck_payment_attempts_booked CHECK ((state = 'booked') = (booking_id IS NOT NULL)),
    CONSTRAINT ck_payment_attempts_last_four CHECK (last_four IS NULL OR last_four REGEXP '^[0-9]{4}$'),
    -- No foreign key to events, on purpose: checking one share-locks the event's row, which every booking of
    -- the event locks first, so each new attempt would queue behind the bookings under way. (The attempt's
    -- event is checked where it matters: InsertBooking books only an attempt for its own event.)
    CONSTRAINT fk_payment_attempts_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id),
    CONSTRAINT fk_payment_attempts_booking FOREIGN KEY (booking_id) REFERENCES bookings (booking_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Money going back for some tickets of a booking. The tickets turn refunded and their seats go back on
-- sale in the transaction that writes the pending refund; the provider is asked afterwards, outside any
-- transaction, and the refund is marked refunded (with its payments row) once it has answered.
CREATE TABLE booking_refunds (
    refund_id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    booking_id         INT UNSIGNED NOT NULL,
    -- The captured charge the money goes back to; NULL when nothing was paid (a free booking).
    charge_id          INT UNSIGNED NULL,
    amount             DECIMAL(10,2) NOT NULL,
    requested_by       ENUM('customer','staff') NOT NULL,
    state              ENUM('pending','refunded') NOT NULL DEFAULT 'pending',
    -- The refund's own payments row, once the provider has paid it out.
    payment_id         INT UNSIGNED NULL,
    reconciled_at      DATETIME(3) NULL,
    reconcile_note     VARCHAR(200) NULL,
    created_at         DATETIME(3) NOT NULL,
    completed_at       DATETIME(3) NULL,
    PRIMARY KEY (refund_id),
    KEY ix_booking_refunds_booking (booking_id),
    KEY ix_booking_refunds_state (state, created_at),
    CONSTRAINT ck_booking_refunds_amount CHECK (amount >= 0 AND (charge_id IS NOT NULL OR amount = 0)),
    CONSTRAINT ck_booking_refunds_done CHECK ((state = 'refunded') = (completed_at IS NOT NULL)),
    CONSTRAINT fk_booking_refunds_booking FOREIGN KEY (booking_id) REFERENCES bookings (booking_id),
    CONSTRAINT fk_booking_refunds_charge FOREIGN KEY (charge_id) REFERENCES payments (payment_id),
    CONSTRAINT fk_booking_refunds_payment FOREIGN KEY (payment_id) REFERENCES payments (payment_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE tickets
    ADD COLUMN refund_id BIGINT UNSIGNED NULL AFTER refunded_at,
    ADD CONSTRAINT fk_tickets_refund FOREIGN KEY (refund_id) REFERENCES booking_refunds (refund_id);

-- The simulated provider's side of saved cards and refunds, as a real provider keeps them: a saved card
-- is a token whose outcome (a declining test card keeps declining) the provider knows; a refund is
-- answered once per idempotency key.
CREATE TABLE gateway_cards (
    token       VARCHAR(64) CHARACTER SET ascii NOT NULL,
    card_brand  VARCHAR(20) CHARACTER SET ascii NOT NULL,
    last_four   CHAR(4) CHARACTER SET ascii NOT NULL,
    exp_month   TINYINT UNSIGNED NOT NULL,
    exp_year    SMALLINT UNSIGNED NOT NULL,
    outcome     ENUM('captured','declined','insufficient_funds','failed') NOT NULL,
    created_at  DATETIME(3) NOT NULL,
    PRIMARY KEY (token)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE gateway_refunds (
    refund_reference VARCHAR(64) CHARACTER SET ascii NOT NULL,
    charge_reference VARCHAR(64) CHARACTER SET ascii NOT NULL,
    idempotency_key  VARCHAR(80) CHARACTER SET ascii NOT NULL,
    amount           DECIMAL(10,2) NOT NULL,
    created_at       DATETIME(3) NOT NULL,
    PRIMARY KEY (refund_reference),
    UNIQUE KEY uq_gateway_refunds_key (idempotency_key),
    KEY ix_gateway_refunds_charge (charge_reference)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The outbox: a message is written with the change it reports (kind and the row it is about) and
-- composed and delivered by the mail sender, which retries with backoff. Mail of kind 'message' is
-- written already composed.
ALTER TABLE outbox_emails
    ADD COLUMN kind ENUM('message','booking_confirmation','tickets_refunded','payment_returned')
        NOT NULL DEFAULT 'message' AFTER email_id,
    MODIFY subject VARCHAR(200) NULL,
    MODIFY body_text TEXT NULL,
    ADD COLUMN refund_id BIGINT UNSIGNED NULL AFTER booking_id,
    ADD COLUMN attempt_id BIGINT UNSIGNED NULL AFTER refund_id,
    ADD COLUMN status ENUM('queued','sent','retrying','failed') NOT NULL DEFAULT 'queued',
    ADD COLUMN tries SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_at DATETIME(3) NULL,
    ADD COLUMN last_error VARCHAR(300) NULL,
    ADD COLUMN sent_at DATETIME(3) NULL,
    ADD KEY ix_outbox_emails_due (status, next_attempt_at),
    ADD KEY ix_outbox_emails_booking (booking_id),
    ADD CONSTRAINT fk_outbox_emails_refund FOREIGN KEY (refund_id) REFERENCES booking_refunds (refund_id),
    ADD CONSTRAINT fk_outbox_emails_attempt FOREIGN KEY (attempt_id) REFERENCES payment_attempts (attempt_id);
