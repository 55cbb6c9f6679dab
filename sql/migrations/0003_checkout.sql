-- Version 3: what checkout needs besides the booking itself.

-- The payment step extends a hold once; this remembers that it has been.
ALTER TABLE event_seats
    ADD COLUMN hold_extended BOOLEAN NOT NULL DEFAULT FALSE AFTER hold_expires_at;

-- The built-in simulated payment gateway keeps its own ledger, as a real provider would: one charge per
-- idempotency key, so a retried checkout is answered with the charge it already made.
CREATE TABLE gateway_charges (
    charge_id        BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    reference        VARCHAR(64) CHARACTER SET ascii NOT NULL,
    idempotency_key  VARCHAR(64) CHARACTER SET ascii NOT NULL,
    method_code      VARCHAR(20) CHARACTER SET ascii NOT NULL,
    amount           DECIMAL(10,2) NOT NULL,
    status           ENUM('captured','declined','failed') NOT NULL,
    decline_reason   VARCHAR(200) NULL,
    card_brand       VARCHAR(20) CHARACTER SET ascii NULL,
    last_four        CHAR(4) CHARACTER SET ascii NULL,
    refunded_amount  DECIMAL(10,2) NOT NULL DEFAULT 0,
    created_at       DATETIME(3) NOT NULL,
    PRIMARY KEY (charge_id),
    UNIQUE KEY uq_gateway_charges_reference (reference),
    UNIQUE KEY uq_gateway_charges_key (idempotency_key),
    CONSTRAINT ck_gateway_charges_amount CHECK (amount > 0 AND refunded_amount >= 0 AND refunded_amount <= amount),
    CONSTRAINT ck_gateway_charges_last_four CHECK (last_four IS NULL OR last_four REGEXP '^[0-9]{4}$')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Outgoing mail. In development and tests nothing leaves the machine: mail stays here and the admin
-- outbox page shows it.
CREATE TABLE outbox_emails (
    email_id    BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    recipient   VARCHAR(254) NOT NULL,
    subject     VARCHAR(200) NOT NULL,
    body_text   TEXT NOT NULL,
    booking_id  INT UNSIGNED NULL,
    created_at  DATETIME(3) NOT NULL,
    PRIMARY KEY (email_id),
    KEY ix_outbox_emails_recipient (recipient, created_at),
    KEY ix_outbox_emails_created (created_at),
    CONSTRAINT fk_outbox_emails_booking FOREIGN KEY (booking_id) REFERENCES bookings (booking_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
