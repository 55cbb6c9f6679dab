-- Version 7: seat geometry. The seat map draws the venue as it is: the stage where the stage is, each
-- section's outline and name, each row's label, every seat at its centre (seats.map_x, map_y, which the
-- layout generators now write as centres). Units as boxoffice/seat_geometry.py uses them: seats 10 apart
-- in a row, rows 12 apart, y growing away from the stage.
--
-- Venues saved before this version keep zeros here, and the seat map then follows one documented rule
-- (boxoffice/seat_geometry.py `derived_stage`, `row_label_point`; boxoffice/services/seatmap.py): the map's
-- size is that of its seats, the stage lies across the middle 70 % of their width in front of the front
-- row, a row's label a seat pitch before its first seat, and a section without an outline is drawn as its
-- box (map_x, map_y, map_width, map_height).

-- The whole map's size and the stage's rectangle.
ALTER TABLE venues
    ADD COLUMN map_width    SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN map_height   SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN stage_x      SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN stage_y      SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN stage_width  SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN stage_height SMALLINT UNSIGNED NOT NULL DEFAULT 0;

-- A section's outline (an SVG polygon's points, "x,y x,y ...": curved rows make curved sections) and
-- where its name is written.
ALTER TABLE sections
    ADD COLUMN outline VARCHAR(2000) NOT NULL DEFAULT '',
    ADD COLUMN label_x SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN label_y SMALLINT UNSIGNED NOT NULL DEFAULT 0;

-- Where a row's label is written (before its first seat).
ALTER TABLE seat_rows
    ADD COLUMN label_x SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN label_y SMALLINT UNSIGNED NOT NULL DEFAULT 0;
