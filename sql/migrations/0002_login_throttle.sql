-- Version 2: failed sign-ins, kept so that sign-in can be rate-limited across every worker process.

CREATE TABLE login_failures (
    failure_id   BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    email        VARCHAR(254) NOT NULL,
    ip_address   VARCHAR(45) NOT NULL,
    failed_at    DATETIME(3) NOT NULL,
    PRIMARY KEY (failure_id),
    KEY ix_login_failures_email (email, failed_at),
    KEY ix_login_failures_ip (ip_address, failed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
