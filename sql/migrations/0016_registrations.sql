-- Version 16: registration that tells nobody which e-mails have accounts, and sign-in counters that do not
-- grow for ever.

-- A registration waiting for its e-mail address to be confirmed. Registering no longer makes an account
-- (which signed the new customer in at once, while a taken e-mail got no session: that told them apart).
-- Every registration is answered "check your inbox"; a new address is sent a signed link to the row
-- below, a known one a "someone tried to register with your address" mail. The account is made, and
-- signed in, only when the link is followed (boxoffice/services/accounts.py), so an address is never
-- taken by someone who cannot read its mail. Rows are deleted when used, when their address gets an
-- account, or once their link has expired (the jobs' pass).
CREATE TABLE registrations (
    registration_id   BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    email             VARCHAR(254) NOT NULL,
    full_name         VARCHAR(120) NOT NULL,
    city              VARCHAR(80) NULL,
    phone             VARCHAR(32) NULL,
    password_hash     VARCHAR(255) NOT NULL,
    -- A guest keeping an account after paying: this guest becomes the account, with its bookings.
    guest_customer_id INT UNSIGNED NULL,
    requested_at      DATETIME(3) NOT NULL,
    PRIMARY KEY (registration_id),
    KEY ix_registrations_email (email),
    KEY ix_registrations_requested (requested_at),
    CONSTRAINT fk_registrations_guest FOREIGN KEY (guest_customer_id) REFERENCES customers (customer_id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The jobs' pass deletes the counters that no longer count (boxoffice/services/accounts.py): a pair not
-- tried for a day, an address budget whose window is over. Read by these keys, a pass reads only them.
ALTER TABLE sign_in_throttles ADD KEY ix_sign_in_throttles_updated (updated_at);
ALTER TABLE sign_in_budgets ADD KEY ix_sign_in_budgets_window (window_started_at);
