-- Box office schema, version 1: the tables, keys and constraints.
--
-- Applies with `mariadb boxoffice < sql/migrations/0001_schema.sql` or through `flask --app wsgi db upgrade`.
-- All times are UTC (the app sets time_zone = '+00:00'; SQL objects use UTC_TIMESTAMP()).
-- Money is DECIMAL(10,2) everywhere. Codes and tokens that stored procedures compare with their
-- parameters are CHARACTER SET ascii on both sides: MariaDB and MySQL give routine parameters different
-- default collations, and ascii's default collation is the same on both, so indexes stay usable.

-- ---------------------------------------------------------------- people

-- Staff who run the box office (the admin role of the web app). Kept apart from customers:
-- an admin is not a buyer, and a customer can never become an admin by a data mistake.
CREATE TABLE staff_users (
    staff_id      INT UNSIGNED NOT NULL AUTO_INCREMENT,
    email         VARCHAR(254) NOT NULL,
    full_name     VARCHAR(120) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    role          ENUM('admin') NOT NULL DEFAULT 'admin',
    created_at    DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (staff_id),
    UNIQUE KEY uq_staff_users_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Customer supertype. customer_type says which subtype row exists; the composite keys below make the
-- subtypes exclusive: a VIP row can only point at a customer whose type is 'vip', and so on.
CREATE TABLE customers (
    customer_id   INT UNSIGNED NOT NULL AUTO_INCREMENT,
    customer_type ENUM('regular','vip') NOT NULL DEFAULT 'regular',
    email         VARCHAR(254) NOT NULL,
    full_name     VARCHAR(120) NOT NULL,
    phone         VARCHAR(32)  NULL,
    city          VARCHAR(80)  NULL,
    password_hash VARCHAR(255) NOT NULL,
    created_at    DATETIME     NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (customer_id),
    UNIQUE KEY uq_customers_email (email),
    UNIQUE KEY uq_customers_id_type (customer_id, customer_type),
    KEY ix_customers_type (customer_type),
    KEY ix_customers_created (created_at),
    CONSTRAINT ck_customers_email CHECK (email LIKE '%_@_%')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE regular_customers (
    customer_id       INT UNSIGNED NOT NULL,
    customer_type     ENUM('regular','vip') NOT NULL DEFAULT 'regular',
    newsletter_opt_in BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (customer_id),
    CONSTRAINT ck_regular_customers_type CHECK (customer_type = 'regular'),
    CONSTRAINT fk_regular_customers_customer FOREIGN KEY (customer_id, customer_type)
        REFERENCES customers (customer_id, customer_type) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE vip_customers (
    customer_id   INT UNSIGNED NOT NULL,
    customer_type ENUM('regular','vip') NOT NULL DEFAULT 'vip',
    tier          ENUM('silver','gold','platinum') NOT NULL DEFAULT 'silver',
    -- A fraction: 0.1000 is ten per cent off every ticket.
    discount_rate DECIMAL(5,4) NOT NULL,
    member_since  DATE NOT NULL,
    PRIMARY KEY (customer_id),
    KEY ix_vip_customers_tier (tier),
    CONSTRAINT ck_vip_customers_type CHECK (customer_type = 'vip'),
    CONSTRAINT ck_vip_customers_rate CHECK (discount_rate > 0 AND discount_rate <= 0.5000),
    CONSTRAINT fk_vip_customers_customer FOREIGN KEY (customer_id, customer_type)
        REFERENCES customers (customer_id, customer_type) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- ---------------------------------------------------------------- venues and seats

CREATE TABLE venues (
    venue_id   INT UNSIGNED NOT NULL AUTO_INCREMENT,
    name       VARCHAR(120) NOT NULL,
    city       VARCHAR(80)  NOT NULL,
    address    VARCHAR(200) NOT NULL,
    -- Number of seats in the layout; written by the layout generator in the same transaction as the seats.
    capacity   INT UNSIGNED NOT NULL DEFAULT 0,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (venue_id),
    UNIQUE KEY uq_venues_name_city (name, city),
    KEY ix_venues_city (city)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Seat categories are shared by all venues so that category sales compare across venues.
CREATE TABLE seat_categories (
    category_id TINYINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name        VARCHAR(40) NOT NULL,
    -- 1 is the best category; best-available search and price lists sort by it.
    `rank`      TINYINT UNSIGNED NOT NULL,
    colour      CHAR(7) NOT NULL,
    PRIMARY KEY (category_id),
    UNIQUE KEY uq_seat_categories_name (name),
    UNIQUE KEY uq_seat_categories_rank (`rank`),
    CONSTRAINT ck_seat_categories_colour CHECK (colour REGEXP '^#[0-9a-fA-F]{6}$')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE sections (
    section_id INT UNSIGNED NOT NULL AUTO_INCREMENT,
    venue_id   INT UNSIGNED NOT NULL,
    name       VARCHAR(60) NOT NULL,
    sort_order SMALLINT UNSIGNED NOT NULL,
    -- Box of the section on the venue overview, in map units.
    map_x      SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    map_y      SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    map_width  SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    map_height SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (section_id),
    UNIQUE KEY uq_sections_venue_name (venue_id, name),
    UNIQUE KEY uq_sections_id_venue (section_id, venue_id),
    CONSTRAINT fk_sections_venue FOREIGN KEY (venue_id) REFERENCES venues (venue_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE seat_rows (
    row_id     INT UNSIGNED NOT NULL AUTO_INCREMENT,
    section_id INT UNSIGNED NOT NULL,
    label      VARCHAR(8) NOT NULL,
    sort_order SMALLINT UNSIGNED NOT NULL,
    PRIMARY KEY (row_id),
    UNIQUE KEY uq_seat_rows_section_label (section_id, label),
    UNIQUE KEY uq_seat_rows_id_section (row_id, section_id),
    CONSTRAINT fk_seat_rows_section FOREIGN KEY (section_id) REFERENCES sections (section_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- section_id and venue_id are carried on the seat (kept honest by the composite keys) so that a seat map
-- and an occupancy count are single-table range reads.
CREATE TABLE seats (
    seat_id      INT UNSIGNED NOT NULL AUTO_INCREMENT,
    venue_id     INT UNSIGNED NOT NULL,
    section_id   INT UNSIGNED NOT NULL,
    row_id       INT UNSIGNED NOT NULL,
    seat_number  SMALLINT UNSIGNED NOT NULL,
    category_id  TINYINT UNSIGNED NOT NULL,
    is_wheelchair BOOLEAN NOT NULL DEFAULT FALSE,
    is_companion BOOLEAN NOT NULL DEFAULT FALSE,
    map_x        SMALLINT UNSIGNED NOT NULL,
    map_y        SMALLINT UNSIGNED NOT NULL,
    PRIMARY KEY (seat_id),
    UNIQUE KEY uq_seats_row_number (row_id, seat_number),
    UNIQUE KEY uq_seats_id_venue (seat_id, venue_id),
    KEY ix_seats_venue_section (venue_id, section_id),
    KEY ix_seats_category (category_id),
    CONSTRAINT ck_seats_number CHECK (seat_number > 0),
    CONSTRAINT ck_seats_access CHECK (NOT (is_wheelchair AND is_companion)),
    CONSTRAINT fk_seats_row FOREIGN KEY (row_id, section_id) REFERENCES seat_rows (row_id, section_id) ON DELETE CASCADE,
    CONSTRAINT fk_seats_section FOREIGN KEY (section_id, venue_id) REFERENCES sections (section_id, venue_id) ON DELETE CASCADE,
    CONSTRAINT fk_seats_category FOREIGN KEY (category_id) REFERENCES seat_categories (category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- ---------------------------------------------------------------- events and inventory

CREATE TABLE events (
    event_id        INT UNSIGNED NOT NULL AUTO_INCREMENT,
    venue_id        INT UNSIGNED NOT NULL,
    title           VARCHAR(160) NOT NULL,
    performer       VARCHAR(120) NOT NULL,
    genre           ENUM('concert','theatre','comedy','sport','family','classical') NOT NULL,
    description     TEXT NOT NULL,
    starts_at       DATETIME NOT NULL,
    sales_start     DATETIME NOT NULL,
    sales_end       DATETIME NOT NULL,
    status          ENUM('draft','on_sale','cancelled') NOT NULL DEFAULT 'draft',
    max_seats_per_order TINYINT UNSIGNED NOT NULL DEFAULT 10,
    -- Bookings can be cancelled by the customer until this many hours before the start.
    refundable_until_hours SMALLINT UNSIGNED NOT NULL DEFAULT 48,
    -- Counts kept by the trigger update_seat_availability; seats_total is written once with the inventory.
    seats_total     INT UNSIGNED NOT NULL DEFAULT 0,
    seats_available INT UNSIGNED NOT NULL DEFAULT 0,
    -- Raised by every change of a seat's state, so a seat-map poll can ask "anything since version N?".
    seat_version    BIGINT UNSIGNED NOT NULL DEFAULT 0,
    created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (event_id),
    UNIQUE KEY uq_events_id_venue (event_id, venue_id),
    KEY ix_events_status_start (status, starts_at),
    KEY ix_events_venue_start (venue_id, starts_at),
    KEY ix_events_start (starts_at),
    FULLTEXT KEY ft_events_title_performer (title, performer),
    CONSTRAINT ck_events_sales_window CHECK (sales_start < sales_end AND sales_end <= starts_at),
    CONSTRAINT ck_events_max_seats CHECK (max_seats_per_order BETWEEN 1 AND 50),
    CONSTRAINT ck_events_counts CHECK (seats_available <= seats_total),
    CONSTRAINT fk_events_venue FOREIGN KEY (venue_id) REFERENCES venues (venue_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Price and availability of one seat category at one event.
CREATE TABLE event_prices (
    event_id        INT UNSIGNED NOT NULL,
    category_id     TINYINT UNSIGNED NOT NULL,
    price           DECIMAL(10,2) NOT NULL,
    seats_total     INT UNSIGNED NOT NULL DEFAULT 0,
    seats_available INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, category_id),
    KEY ix_event_prices_category (category_id),
    CONSTRAINT ck_event_prices_price CHECK (price >= 0),
    CONSTRAINT ck_event_prices_counts CHECK (seats_available <= seats_total),
    CONSTRAINT fk_event_prices_event FOREIGN KEY (event_id) REFERENCES events (event_id) ON DELETE CASCADE,
    CONSTRAINT fk_event_prices_category FOREIGN KEY (category_id) REFERENCES seat_categories (category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The per-event seat inventory: one row per seat of the venue. A seat is available, held (by the
-- opaque hold owner of a browser session until hold_expires_at) or sold. A held seat whose expiry has
-- passed counts as available everywhere; nothing needs to clean it up first.
CREATE TABLE event_seats (
    event_id        INT UNSIGNED NOT NULL,
    seat_id         INT UNSIGNED NOT NULL,
    venue_id        INT UNSIGNED NOT NULL,
    section_id      INT UNSIGNED NOT NULL,
    category_id     TINYINT UNSIGNED NOT NULL,
    state           ENUM('available','held','sold') NOT NULL DEFAULT 'available',
    hold_owner      CHAR(32) CHARACTER SET ascii NULL,
    hold_expires_at DATETIME(3) NULL,
    -- events.seat_version at the seat's last change.
    version         BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (event_id, seat_id),
    KEY ix_event_seats_version (event_id, version),
    KEY ix_event_seats_section_state (event_id, section_id, state),
    KEY ix_event_seats_owner (hold_owner, event_id),
    KEY ix_event_seats_expiry (event_id, hold_expires_at),
    CONSTRAINT ck_event_seats_hold CHECK (
        (state = 'held' AND hold_owner IS NOT NULL AND hold_expires_at IS NOT NULL)
        OR (state <> 'held' AND hold_owner IS NULL AND hold_expires_at IS NULL)),
    CONSTRAINT fk_event_seats_event FOREIGN KEY (event_id, venue_id) REFERENCES events (event_id, venue_id) ON DELETE CASCADE,
    CONSTRAINT fk_event_seats_seat FOREIGN KEY (seat_id, venue_id) REFERENCES seats (seat_id, venue_id),
    CONSTRAINT fk_event_seats_price FOREIGN KEY (event_id, category_id) REFERENCES event_prices (event_id, category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- ---------------------------------------------------------------- discounts and payments

-- Promo codes (code set) and their rules. kind 'percent' takes value as a percentage of what is left
-- after the VIP discount; 'fixed' takes value off the order, never below zero.
CREATE TABLE discounts (
    discount_id  INT UNSIGNED NOT NULL AUTO_INCREMENT,
    code         VARCHAR(32) CHARACTER SET ascii NOT NULL,
    description  VARCHAR(200) NOT NULL,
    kind         ENUM('percent','fixed') NOT NULL,
    value        DECIMAL(10,2) NOT NULL,
    valid_from   DATETIME NOT NULL,
    valid_until  DATETIME NOT NULL,
    usage_limit  INT UNSIGNED NULL,
    times_used   INT UNSIGNED NOT NULL DEFAULT 0,
    vip_only     BOOLEAN NOT NULL DEFAULT FALSE,
    -- NULL: valid for every event.
    event_id     INT UNSIGNED NULL,
    is_active    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (discount_id),
    UNIQUE KEY uq_discounts_code (code),
    KEY ix_discounts_event (event_id),
    CONSTRAINT ck_discounts_value CHECK (
        (kind = 'percent' AND value > 0 AND value <= 100) OR (kind = 'fixed' AND value > 0)),
    CONSTRAINT ck_discounts_window CHECK (valid_from < valid_until),
    CONSTRAINT ck_discounts_usage CHECK (usage_limit IS NULL OR times_used <= usage_limit),
    -- Codes are stored upper-case (compared in binary, as the column collation ignores case).
    CONSTRAINT ck_discounts_code CHECK (CAST(code AS BINARY) REGEXP '^[A-Z0-9_-]{3,32}$'),
    CONSTRAINT fk_discounts_event FOREIGN KEY (event_id) REFERENCES events (event_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE payment_methods (
    method_id   TINYINT UNSIGNED NOT NULL AUTO_INCREMENT,
    code        VARCHAR(20) CHARACTER SET ascii NOT NULL,
    name        VARCHAR(60) NOT NULL,
    -- Card-like methods carry a brand and last four digits on every payment.
    takes_card  BOOLEAN NOT NULL,
    PRIMARY KEY (method_id),
    UNIQUE KEY uq_payment_methods_code (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- A customer's saved card: only what may be kept (brand, last four, expiry) and the gateway's token.
CREATE TABLE saved_payment_methods (
    saved_method_id INT UNSIGNED NOT NULL AUTO_INCREMENT,
    customer_id     INT UNSIGNED NOT NULL,
    method_id       TINYINT UNSIGNED NOT NULL,
    card_brand      VARCHAR(20) CHARACTER SET ascii NOT NULL,
    last_four       CHAR(4) CHARACTER SET ascii NOT NULL,
    exp_month       TINYINT UNSIGNED NOT NULL,
    exp_year        SMALLINT UNSIGNED NOT NULL,
    gateway_token   VARCHAR(64) CHARACTER SET ascii NOT NULL,
    created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (saved_method_id),
    UNIQUE KEY uq_saved_payment_methods_token (gateway_token),
    KEY ix_saved_payment_methods_customer (customer_id),
    CONSTRAINT ck_saved_payment_methods_last_four CHECK (last_four REGEXP '^[0-9]{4}$'),
    CONSTRAINT ck_saved_payment_methods_expiry CHECK (exp_month BETWEEN 1 AND 12 AND exp_year BETWEEN 2000 AND 2100),
    CONSTRAINT fk_saved_payment_methods_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id) ON DELETE CASCADE,
    CONSTRAINT fk_saved_payment_methods_method FOREIGN KEY (method_id) REFERENCES payment_methods (method_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- ---------------------------------------------------------------- bookings, tickets, payments

CREATE TABLE bookings (
    booking_id      INT UNSIGNED NOT NULL AUTO_INCREMENT,
    booking_code    CHAR(10) CHARACTER SET ascii NOT NULL,
    customer_id     INT UNSIGNED NOT NULL,
    event_id        INT UNSIGNED NOT NULL,
    status          ENUM('confirmed','partially_refunded','refunded') NOT NULL DEFAULT 'confirmed',
    subtotal        DECIMAL(10,2) NOT NULL,
    vip_discount    DECIMAL(10,2) NOT NULL DEFAULT 0,
    promo_discount  DECIMAL(10,2) NOT NULL DEFAULT 0,
    total           DECIMAL(10,2) NOT NULL,
    discount_id     INT UNSIGNED NULL,
    -- One checkout, one booking: a retried checkout finds the booking its key already made.
    idempotency_key VARCHAR(64) CHARACTER SET ascii NULL,
    booked_at       DATETIME NOT NULL,
    PRIMARY KEY (booking_id),
    UNIQUE KEY uq_bookings_code (booking_code),
    UNIQUE KEY uq_bookings_idempotency (idempotency_key),
    KEY ix_bookings_customer (customer_id, booked_at),
    KEY ix_bookings_event (event_id, booked_at),
    KEY ix_bookings_booked_at (booked_at),
    CONSTRAINT ck_bookings_money CHECK (
        subtotal >= 0 AND vip_discount >= 0 AND promo_discount >= 0 AND total >= 0
        AND total = subtotal - vip_discount - promo_discount),
    CONSTRAINT fk_bookings_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id),
    CONSTRAINT fk_bookings_event FOREIGN KEY (event_id) REFERENCES events (event_id),
    CONSTRAINT fk_bookings_discount FOREIGN KEY (discount_id) REFERENCES discounts (discount_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE tickets (
    ticket_id     INT UNSIGNED NOT NULL AUTO_INCREMENT,
    ticket_code   CHAR(12) CHARACTER SET ascii NOT NULL,
    booking_id    INT UNSIGNED NOT NULL,
    event_id      INT UNSIGNED NOT NULL,
    seat_id       INT UNSIGNED NOT NULL,
    category_id   TINYINT UNSIGNED NOT NULL,
    -- Face value of the seat's category, and this ticket's share of what the booking paid.
    face_price    DECIMAL(10,2) NOT NULL,
    paid_amount   DECIMAL(10,2) NOT NULL,
    status        ENUM('valid','checked_in','refunded') NOT NULL DEFAULT 'valid',
    checked_in_at DATETIME NULL,
    refunded_at   DATETIME NULL,
    -- 1 while the ticket holds its seat, NULL once refunded: the unique key below then allows at most
    -- one live ticket per seat and event, whatever the application does.
    holds_seat    TINYINT AS (IF(status = 'refunded', NULL, 1)) STORED,
    PRIMARY KEY (ticket_id),
    UNIQUE KEY uq_tickets_code (ticket_code),
    UNIQUE KEY uq_tickets_live_seat (event_id, seat_id, holds_seat),
    KEY ix_tickets_booking (booking_id),
    KEY ix_tickets_event_category (event_id, category_id, status),
    CONSTRAINT ck_tickets_money CHECK (face_price >= 0 AND paid_amount >= 0),
    CONSTRAINT ck_tickets_checkin CHECK ((status = 'checked_in') = (checked_in_at IS NOT NULL) OR status = 'refunded'),
    CONSTRAINT ck_tickets_refund CHECK ((status = 'refunded') = (refunded_at IS NOT NULL)),
    CONSTRAINT fk_tickets_booking FOREIGN KEY (booking_id) REFERENCES bookings (booking_id),
    CONSTRAINT fk_tickets_event_seat FOREIGN KEY (event_id, seat_id) REFERENCES event_seats (event_id, seat_id),
    CONSTRAINT fk_tickets_category FOREIGN KEY (category_id) REFERENCES seat_categories (category_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every movement of money: a charge (captured, declined or failed) or a refund of a captured charge.
-- A declined or failed charge has no booking. Only brand and last four digits of a card are kept.
CREATE TABLE payments (
    payment_id         INT UNSIGNED NOT NULL AUTO_INCREMENT,
    kind               ENUM('charge','refund') NOT NULL,
    status             ENUM('captured','declined','failed','refunded') NOT NULL,
    booking_id         INT UNSIGNED NULL,
    customer_id        INT UNSIGNED NOT NULL,
    method_id          TINYINT UNSIGNED NOT NULL,
    amount             DECIMAL(10,2) NOT NULL,
    card_brand         VARCHAR(20) CHARACTER SET ascii NULL,
    last_four          CHAR(4) CHARACTER SET ascii NULL,
    provider_reference VARCHAR(64) CHARACTER SET ascii NULL,
    -- The charge a refund gives money back for.
    refund_of          INT UNSIGNED NULL,
    failure_reason     VARCHAR(200) NULL,
    created_at         DATETIME NOT NULL,
    PRIMARY KEY (payment_id),
    UNIQUE KEY uq_payments_provider_reference (provider_reference),
    KEY ix_payments_booking (booking_id),
    KEY ix_payments_customer (customer_id, created_at),
    KEY ix_payments_method_status (method_id, kind, status),
    KEY ix_payments_created (created_at),
    KEY ix_payments_refund_of (refund_of),
    CONSTRAINT ck_payments_amount CHECK (amount > 0),
    CONSTRAINT ck_payments_last_four CHECK (last_four IS NULL OR last_four REGEXP '^[0-9]{4}$'),
    CONSTRAINT ck_payments_kind CHECK (
        (kind = 'charge' AND refund_of IS NULL AND (status IN ('declined','failed') OR booking_id IS NOT NULL))
        OR (kind = 'refund' AND status = 'refunded' AND refund_of IS NOT NULL AND booking_id IS NOT NULL)),
    CONSTRAINT fk_payments_booking FOREIGN KEY (booking_id) REFERENCES bookings (booking_id),
    CONSTRAINT fk_payments_customer FOREIGN KEY (customer_id) REFERENCES customers (customer_id),
    CONSTRAINT fk_payments_method FOREIGN KEY (method_id) REFERENCES payment_methods (method_id),
    CONSTRAINT fk_payments_refund_of FOREIGN KEY (refund_of) REFERENCES payments (payment_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- ---------------------------------------------------------------- reference data

INSERT INTO seat_categories (name, `rank`, colour) VALUES
    ('Premium',  1, '#7c3aed'),
    ('Standard', 2, '#2563eb'),
    ('Economy',  3, '#0d9488'),
    ('Restricted view', 4, '#ca8a04');

INSERT INTO payment_methods (code, name, takes_card) VALUES
    ('card',      'Credit or debit card', TRUE),
    ('wallet',    'Mobile wallet',        TRUE),
    ('gift_card', 'Gift card',            FALSE),
    ('paypal',    'PayPal',               FALSE);
