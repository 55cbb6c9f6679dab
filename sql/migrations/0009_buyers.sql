-- Version 9: what buyers need without an account, and the venue as a visitor needs to know it.

-- Guests. A buyer may pay without an account, with an e-mail address only. A booking still belongs to a
-- customer (bookings.customer_id stays NOT NULL, InsertBooking and the reports stay as they are), so a
-- guest is a customer row of its own: a Regular customer (the Regular/VIP subtypes stay as they are; a
-- guest never gets a VIP rate, whatever e-mail it gives) with no password, made for one checkout and
-- never signed in. Its e-mail may be that of an account or of other guests: the e-mail is unique among
-- accounts only, through account_email (the e-mail of an account, NULL for a guest; a unique key allows
-- any number of NULLs). So a guest typing a VIP's address neither learns that it has an account nor pays
-- the VIP's price, and a guest's later "create an account" sees only the bookings of its own checkout.
ALTER TABLE customers
    MODIFY password_hash VARCHAR(255) NULL,
    ADD COLUMN is_guest BOOLEAN NOT NULL DEFAULT FALSE AFTER customer_type,
    ADD COLUMN account_email VARCHAR(254) AS (IF(is_guest, NULL, email)) STORED AFTER email,
    DROP INDEX uq_customers_email,
    ADD UNIQUE KEY uq_customers_email (account_email),
    ADD KEY ix_customers_email (email),
    ADD CONSTRAINT ck_customers_guest_password CHECK (is_guest = (password_hash IS NULL)),
    ADD CONSTRAINT ck_customers_guest_regular CHECK (is_guest = FALSE OR customer_type = 'regular');

-- The venue as a visitor needs it: the street address was there already; a map link (empty: the pages
-- link a map search for the address), how to get there, access (step-free routes, wheelchair spaces,
-- hearing loops) and facilities (cloakroom, bars, baby change). Shown on the event page, the order, the
-- e-tickets and the mail.
ALTER TABLE venues
    ADD COLUMN map_url     VARCHAR(500)  NOT NULL DEFAULT '' AFTER address,
    ADD COLUMN directions  VARCHAR(2000) NOT NULL DEFAULT '' AFTER map_url,
    ADD COLUMN access_info VARCHAR(2000) NOT NULL DEFAULT '' AFTER directions,
    ADD COLUMN facilities  VARCHAR(2000) NOT NULL DEFAULT '' AFTER access_info,
    ADD CONSTRAINT ck_venues_map_url CHECK (map_url = '' OR map_url LIKE 'https://%');
