-- Version 6: account security. Sessions that end, and a sign-in throttle that cannot be turned against an
-- account's owner.

-- A person's session epoch: every session and remember-me cookie carries the epoch it was signed in under
-- (in its user id, "customer:<id>:<epoch>"), and the user loader refuses one that is not the current
-- epoch. Signing out, changing or resetting the password and "sign out everywhere" raise it, which ends
-- every session of that person at once, copies of a cookie included.
ALTER TABLE customers ADD COLUMN session_epoch INT UNSIGNED NOT NULL DEFAULT 0 AFTER password_hash;
ALTER TABLE staff_users ADD COLUMN session_epoch INT UNSIGNED NOT NULL DEFAULT 0 AFTER password_hash;

-- The log of failed sign-ins counted per e-mail, so five failures from anywhere locked the owner out
-- everywhere; it is replaced by the two counters below.
DROP TABLE login_failures;

-- Tries at one account from one network address (an IPv6 address counts by its /64). A try is counted
-- before the password is checked (a conditional UPDATE, so simultaneous tries cannot all pass) and given
-- back when the password is right. After a few failures each try waits longer than the last; the owner
-- signing in from another address has a row of their own and is never held back by this one.
CREATE TABLE sign_in_throttles (
    account_kind    ENUM('customer','staff') NOT NULL,
    email           VARCHAR(254) NOT NULL,
    address         VARCHAR(45) CHARACTER SET ascii NOT NULL,
    failures        SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    -- No try is taken before this moment.
    next_try_at     DATETIME(3) NOT NULL,
    updated_at      DATETIME(3) NOT NULL,
    PRIMARY KEY (account_kind, email, address),
    KEY ix_sign_in_throttles_address (address, updated_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every address's budget of failed sign-ins (at any account) per window: tries are counted against it
-- before the password is checked, and given back when it is right.
CREATE TABLE sign_in_budgets (
    address           VARCHAR(45) CHARACTER SET ascii NOT NULL,
    window_started_at DATETIME(3) NOT NULL,
    tries             INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (address)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
