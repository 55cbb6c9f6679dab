-- Version 12: an on-sale waiting room in front of an event's sale (boxoffice/services/waiting_room.py).
--
-- The room of an event: whether the queue is on, when it opens, how fast it lets people in (and, if set,
-- how many admitted buyers may shop at once), and where the line stands. Every app server reads and
-- writes the line here, so nothing about it lives in one process.
CREATE TABLE waiting_rooms (
    event_id          INT UNSIGNED NOT NULL,
    -- The queue is on: the event's page, seat clicks and checkout need an admission.
    enabled           BOOLEAN NOT NULL DEFAULT FALSE,
    -- Staff stopped admitting for now (the line keeps its order and goes on growing).
    paused            BOOLEAN NOT NULL DEFAULT FALSE,
    -- Visitors who arrive before this get a random place at it; later ones queue in arrival order.
    opens_at          DATETIME(3) NOT NULL,
    -- How many people the room lets in a minute.
    admit_per_minute  INT UNSIGNED NOT NULL,
    -- The most admitted buyers shopping at once (NULL: no such limit): when it is reached, the next
    -- person goes in as one of them finishes (books, or their admission runs out).
    max_active        INT UNSIGNED NULL,
    -- The early arrivals have been given their random places (done once, at the first request after
    -- opens_at, under this row's lock).
    drawn             BOOLEAN NOT NULL DEFAULT FALSE,
    -- The last place given out, and the last place let in: places above admitted_through are waiting.
    last_position     INT UNSIGNED NOT NULL DEFAULT 0,
    admitted_through  INT UNSIGNED NOT NULL DEFAULT 0,
    -- Admissions accrue from this moment at admit_per_minute; each one let in moves it on by its share.
    credit_from       DATETIME(3) NOT NULL,
    PRIMARY KEY (event_id),
    CONSTRAINT ck_waiting_rooms_rate CHECK (admit_per_minute BETWEEN 1 AND 100000),
    CONSTRAINT ck_waiting_rooms_active CHECK (max_active IS NULL OR max_active BETWEEN 1 AND 1000000),
    CONSTRAINT ck_waiting_rooms_line CHECK (admitted_through <= last_position),
    CONSTRAINT fk_waiting_rooms_event FOREIGN KEY (event_id) REFERENCES events (event_id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The people in a room's line, one row per visitor (a random id in the visitor's cookie, to which their
-- signed admission is bound). An early arrival has a random `draw` and no place until the room opens.
CREATE TABLE waiting_room_visitors (
    event_id     INT UNSIGNED NOT NULL,
    visitor_id   CHAR(32) CHARACTER SET ascii NOT NULL,
    joined_at    DATETIME(3) NOT NULL,
    draw         BIGINT UNSIGNED NULL,
    position     INT UNSIGNED NULL,
    admitted_at  DATETIME(3) NULL,
    -- They booked: no longer counted among the buyers shopping at once.
    finished_at  DATETIME(3) NULL,
    PRIMARY KEY (event_id, visitor_id),
    -- One person per place, whatever the application does.
    UNIQUE KEY uq_waiting_room_position (event_id, position),
    -- Who is shopping now (admitted, not finished), for max_active.
    KEY ix_waiting_room_admitted (event_id, admitted_at),
    CONSTRAINT ck_waiting_room_place CHECK (position IS NOT NULL OR draw IS NOT NULL),
    CONSTRAINT ck_waiting_room_admitted CHECK (admitted_at IS NULL OR position IS NOT NULL),
    CONSTRAINT fk_waiting_room_visitors_room FOREIGN KEY (event_id) REFERENCES waiting_rooms (event_id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
