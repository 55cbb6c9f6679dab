-- Version 11: a real payment provider (Stripe). Its webhooks are stored once each, by the provider's event
-- id; the buyer's customer at the provider is remembered (it holds their saved cards); a dispute flags the
-- booking for staff; an attempt is found by the provider's reference of its payment (a PaymentIntent).

-- Every webhook event the provider sent, once (a duplicate delivery finds its row). `processed_at` is set
-- once the event has been fed to the payment state machine; an event whose processing failed (the
-- database busy, the provider away) is processed again when the provider delivers it again.
CREATE TABLE provider_events (
    event_id      VARCHAR(255) CHARACTER SET ascii NOT NULL,
    event_type    VARCHAR(100) CHARACTER SET ascii NOT NULL,
    object_id     VARCHAR(255) CHARACTER SET ascii NULL,
    received_at   DATETIME(3) NOT NULL,
    processed_at  DATETIME(3) NULL,
    outcome       VARCHAR(200) NULL,
    PRIMARY KEY (event_id),
    KEY ix_provider_events_object (object_id),
    KEY ix_provider_events_received (received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The buyer as a customer at the provider, which keeps their cards (saved_payment_methods.gateway_token
-- holds the provider's id of each card; we keep brand, last four and expiry only).
CREATE TABLE provider_customers (
    customer_id           INT UNSIGNED NOT NULL,
    provider_customer_id  VARCHAR(255) CHARACTER SET ascii NOT NULL,
    created_at            DATETIME(3) NOT NULL,
    PRIMARY KEY (customer_id),
    UNIQUE KEY uq_provider_customers_provider_id (provider_customer_id),
    CONSTRAINT fk_provider_customers_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A chargeback opened at the provider: staff see the booking flagged (the admin's booking page).
ALTER TABLE bookings
    ADD COLUMN disputed_at DATETIME(3) NULL,
    ADD COLUMN dispute_reference VARCHAR(255) CHARACTER SET ascii NULL;

-- Webhooks find the attempt by its PaymentIntent.
ALTER TABLE payment_attempts
    ADD KEY ix_payment_attempts_reference (provider_reference);
