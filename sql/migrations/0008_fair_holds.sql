-- Version 8: fair holds. One buyer may hold at most the event's max_seats_per_order seats at once, counted
-- across the buyer's hold owner (the browser session), account and network address, so that opening more
-- sessions does not multiply the limit (HoldSeats, sql/objects/35_seat_states.sql). Each held seat records
-- who took it: the signed-in customer, if any, and the address (an IPv6 address by its /64, as the sign-in
-- throttle counts it). Only live holds are counted (state 'held', not expired), so what is left in these
-- columns after a seat is freed or sold means nothing; the reporting user cannot read them.
--
-- The two keys end in (state, hold_expires_at), so that counting a buyer's live holds reads those rows
-- alone: the columns keep their values after a seat is given back or sold (only HoldSeats writes them), and
-- an address that has held many seats over the evening would otherwise be read in full at every click.
--
-- No foreign key on hold_customer_id: it is a count's key, and a key to customers would make every hold
-- take a shared lock on the customer row.
ALTER TABLE event_seats
    ADD COLUMN hold_customer_id INT UNSIGNED NULL AFTER hold_extended,
    ADD COLUMN hold_address     VARCHAR(45) CHARACTER SET ascii NULL AFTER hold_customer_id,
    ADD KEY ix_event_seats_hold_customer (hold_customer_id, event_id, state, hold_expires_at),
    ADD KEY ix_event_seats_hold_address (hold_address, event_id, state, hold_expires_at);
