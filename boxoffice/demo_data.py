"""Deterministic demo data: venues with seat maps, two years of events, customers, and the bookings,
tickets, payments, declines and refunds they made.

`load(settings, scale, seed, progress, anchor)` fills an empty, migrated database. The same seed and
anchor give exactly the same rows (the one exception is the salted hash of the demo password, see
below); `anchor` is "today" and every date is placed relative to it: events from about 18 months before
it to 6 months after, with bookings, refunds and check-ins only before it (the generator's clock stops at
the anchor's midnight, UTC).

How generated data keeps the rules live data keeps
--------------------------------------------------
Nothing here switches a check off (no unique_checks=0, no foreign_key_checks=0): every row goes in through
plain INSERTs, in chunks of a few thousand rows, and meets every key, foreign key and CHECK constraint
of the schema like a row the app writes.

* Bookings: the BEFORE INSERT trigger check_booking_date validates every generated booking against its
  booked_at: inside the event's sales window, before the start, not in the future, and the event on
  sale. An event that ends up cancelled is inserted on sale, gets its bookings, and is cancelled
  afterwards in the same transaction, as an admin would. Drafts get no bookings.
* Money: boxoffice.pricing.price_order (the tested mirror of PriceHold + InsertBooking) prices every
  booking: the VIP rate first (for a VIP who was a member on the booking date), then at most one promo
  code that PriceHold would have accepted at booked_at (active, inside its validity window, under its
  usage limit, VIP-only codes for VIPs, event codes for their event). The tickets carry the
  procedure's paid shares (remainder on the last ticket in seat_id order), the bookings CHECK proves
  total = subtotal - discounts, and discounts.times_used grows by one per booking that used the code,
  as InsertBooking does it, so the usage-limit CHECK holds too. No order has more seats than the
  event's max_seats_per_order.
* Payments: every booking with a total above zero has exactly one captured charge of its total, and the
  simulated gateway's ledger (gateway_charges) has the matching charge, so demo bookings can be refunded
  through the app like any other. Declined and failed attempts are charges without a booking. A refund
  gives back exactly the paid shares of the refunded tickets, references its charge, and is inside the
  event's refund policy (refundable_until_hours before the start); cancelled events are refunded in full.
  Only a card's brand and last four digits are ever stored.
* Seats: each event's seats are sold from a per-event inventory in booking-time order, so a seat has at
  most one live ticket (the unique key uq_tickets_live_seat checks it) and a refunded seat can be sold
  again after its refund. No seat is left held.

Why the inventory is written in its final state
-----------------------------------------------
The live path changes seats with UPDATEs, and the trigger update_seat_availability moves the event's and
the category's counts one seat at a time. Replaying a million sales through that trigger would cost a
million extra single-row UPDATEs of the events row. So the generator inserts each event's event_seats rows
already sold or available (the trigger only fires on UPDATE), and then counts them with the same two
aggregate UPDATEs open_inventory uses, in the same transaction: the counts equal the inventory from the
first commit on. Events without sales (drafts, sales not open yet) get their inventory from
open_inventory itself.

How it is written
-----------------
Venues, customers, events and promo codes go in first. Then the sales are simulated event by event, in
the order the events start, and each event is written in one transaction (its inventory and counts,
bookings, tickets, payments and gateway charges, promo-code counts, and its cancellation if it is
cancelled) by a writer thread with a connection of its own, while the main thread simulates the next
event. The simulation alone decides every value, so the threads change the speed, never the data.

The sales summaries of the reports (sql/objects/40_sales_summary.sql) are kept by triggers on bookings,
tickets and payments, so they are exact after a load like after any checkout. Those triggers are most of
the time a large load takes: see docs/benchmarks.md.

Passwords
---------
Every generated customer signs in with DEMO_PASSWORD. Argon2 is deliberately slow (tens of milliseconds a
hash), so a hash per customer would take hours at the large scale: the password is hashed once per load
with boxoffice.passwords.hash_password and that one hash is stored for every demo account. Its salt is
random, so password_hash is the only column that differs between two loads with the same seed.
"""
from __future__ import annotations

import bisect
import datetime as dt
import heapq
import itertools
import queue
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from random import Random
from typing import Any

import sqlalchemy as sa
from faker import Faker
from sqlalchemy.engine import Connection

from .config import DatabaseSettings
from .passwords import hash_password
from .pricing import PromoRule, price_order
from . import seat_geometry as geometry
from .sqlfiles import run_sql_file
from .services.inventory import open_inventory

DEMO_PASSWORD = "boxoffice-demo"
ADMIN_EMAIL = "admin@example.com"
ADMIN_NAME = "Box Office Admin"
VIP_EMAIL = "vip@example.com"
VIP_NAME = "Valerie Sinclair"
CUSTOMER_EMAIL = "customer@example.com"
CUSTOMER_NAME = "Chris Morgan"

SCALES = ("tiny", "small", "medium", "large")


class DemoDataError(RuntimeError):
    """The demo data cannot be loaded here; the message says why and what to do."""


@dataclass(frozen=True)
class DemoSummary:
    """What one load wrote, counted from the database afterwards."""

    scale: str
    seed: int
    anchor: dt.date
    venues: int
    seats: int
    events: int
    customers: int
    vip_customers: int
    bookings: int
    tickets: int
    payments: int
    refunds: int
    declines: int
    seconds: float

    def describe(self) -> str:
        return (
            f"Demo data loaded (scale {self.scale}, seed {self.seed}, anchored on {self.anchor}) "
            f"in {self.seconds:.1f} s:\n"
            f"  {self.venues} venues with {self.seats:,} seats, {self.events} events\n"
            f"  {self.customers:,} customers ({self.vip_customers:,} VIP)\n"
            f"  {self.bookings:,} bookings, {self.tickets:,} tickets\n"
            f"  {self.payments:,} payments ({self.refunds:,} refunds, {self.declines:,} declined or failed)\n"
            f"Demo logins, all with the password {DEMO_PASSWORD!r}:\n"
            f"  admin         {ADMIN_EMAIL}\n"
            f"  VIP customer  {VIP_EMAIL}\n"
            f"  customer      {CUSTOMER_EMAIL}"
        )


# ---------------------------------------------------------------- scales

@dataclass(frozen=True)
class Scale:
    # (venue key, number of events there) over the two years.
    venues: tuple[tuple[str, int], ...]
    customers: int
    # Multiplies how full events get (events picked to sell out are always full).
    demand: float
    sold_out_share: float


SCALE_PLANS = {
    "tiny": Scale(venues=(("cellar", 5), ("studio", 4), ("chapel", 3)), customers=80, demand=0.25,
                  sold_out_share=0.0),
    "small": Scale(venues=(("cellar", 24), ("studio", 14), ("chapel", 10), ("lyric", 14), ("meridian", 8),
                           ("pavilion", 3), ("arena", 2)),
                   customers=3000, demand=0.75, sold_out_share=0.1),
    "medium": Scale(venues=(("cellar", 60), ("studio", 40), ("chapel", 30), ("lyric", 45), ("meridian", 30),
                            ("pavilion", 16), ("arena", 10)),
                    customers=20000, demand=1.0, sold_out_share=0.12),
    "large": Scale(venues=(("cellar", 150), ("studio", 100), ("chapel", 80), ("lyric", 150), ("meridian", 120),
                           ("pavilion", 65), ("arena", 56)),
                   customers=80000, demand=1.05, sold_out_share=0.14),
}

PAST_DAYS = 548      # about 18 months of history before the anchor
FUTURE_DAYS = 182    # and about 6 months ahead
CHUNK_ROWS = 4000    # rows per multi-row INSERT


# ---------------------------------------------------------------- venue layouts

PREMIUM, STANDARD, ECONOMY, RESTRICTED = "Premium", "Standard", "Economy", "Restricted view"

ROW_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"   # theatres skip I and O


@dataclass(frozen=True)
class Block:
    """A section before it is placed on the map: seats per row (front row first), each row's category, and
    its shape (boxoffice/seat_geometry.py: straight or curved rows, or a terrace left or right)."""

    name: str
    row_seats: tuple[int, ...]
    row_categories: tuple[str, ...]
    # 1-based rows with a wheelchair space at both ends, each next to a companion seat.
    accessible_rows: tuple[int, ...] = ()
    numbered_rows: bool = False
    kind: str = "straight"

    @property
    def shape(self) -> geometry.Shape:
        return geometry.shape(self.row_seats, self.kind)

    def row_label(self, row: int) -> str:
        if self.numbered_rows:
            return str(row)
        letter = ROW_LETTERS[(row - 1) % len(ROW_LETTERS)]
        return letter * ((row - 1) // len(ROW_LETTERS) + 1)


def block(name: str, rows: int, seats: int, bands: Sequence[tuple[int, str]], growth: int = 0,
          accessible: tuple[int, ...] = (), numbered: bool = False, kind: str = "straight") -> Block:
    """A section of `rows` rows, the first with `seats` seats and each next one `growth` more; `bands`
    gives the category of the rows up to each row number, e.g. ((3, PREMIUM), (10, STANDARD))."""
    categories = tuple(next(category for last, category in bands if row <= last) for row in range(1, rows + 1))
    return Block(name, tuple(seats + growth * index for index in range(rows)), categories, accessible, numbered,
                 kind)


Layout = tuple[list[Block], geometry.PlacedVenue]


def _tiers(*tiers: list[Block]) -> Layout:
    """Tiers of sections from the stage backwards, each tier side by side and centred on the stage."""
    placed, stage = geometry.place_tiers([[b.shape for b in tier] for tier in tiers])
    return [b for tier in tiers for b in tier], geometry.normalised(placed, stage)


def _arena_layout() -> Layout:
    """20,000 seats: four floor blocks in front of the stage, then a lower and an upper ring of numbered
    blocks, each ring a column of terraces down either side and a line of blocks along the far end,
    numbered round the ring from the stage's left."""
    floor = [block(f"Floor {letter}", 21, 29, ((8, PREMIUM), (21, STANDARD)), accessible=(21,))
             for letter in "ABCD"]
    lower = [block(f"Block {n}", 18, 28, ((4, PREMIUM), (12, STANDARD), (18, ECONOMY)), accessible=(18,),
                   numbered=True) for n in range(101, 117)]
    upper = [block(f"Block {n}", 19, 25, ((12, ECONOMY), (19, RESTRICTED)), numbered=True)
             for n in range(201, 221)]

    def ring(blocks: list[Block], side: int) -> tuple[list[Block], list[Block], list[Block]]:
        left = [Block(b.name, b.row_seats, b.row_categories, b.accessible_rows, b.numbered_rows, "left")
                for b in blocks[:side]]
        back = blocks[side:len(blocks) - side]
        right = [Block(b.name, b.row_seats, b.row_categories, b.accessible_rows, b.numbered_rows, "right")
                 for b in blocks[len(blocks) - side:]]
        # Numbered round the ring: down the left side, along the back from left to right, up the right side.
        return left, back, right[::-1]

    rings = [ring(lower, 6), ring(upper, 7)]
    placed, stage = geometry.place_arena([b.shape for b in floor], 2,
                                         [([b.shape for b in l], [b.shape for b in k], [b.shape for b in r])
                                          for l, k, r in rings])
    blocks = floor + [b for l, k, r in rings for b in (*l, *k, *r)]
    # Sections in their real order: the floor, then each ring by its numbers.
    by_name = dict(zip((b.name for b in blocks), zip(blocks, placed)))
    order = [b.name for b in floor] + [b.name for b in lower] + [b.name for b in upper]
    blocks = [by_name[name][0] for name in order]
    return blocks, geometry.normalised([by_name[name][1] for name in order], stage)


@dataclass(frozen=True)
class VenuePlan:
    key: str
    name: str
    city: str
    address: str
    genres: tuple[tuple[str, int], ...]      # genre and weight of the events held here
    layout: Callable[[], Layout]


VENUE_PLANS = {plan.key: plan for plan in (
    VenuePlan("cellar", "The Blue Cellar", "Bristol", "14 Harbour Steps, Bristol BS1 4RN",
              (("concert", 6), ("comedy", 4)),
              lambda: _tiers([block("Floor", 10, 14, ((2, PREMIUM), (8, STANDARD), (10, ECONOMY)), accessible=(10,))],
                             [block("Balcony", 4, 15, ((1, STANDARD), (3, ECONOMY), (4, RESTRICTED)))])),
    VenuePlan("studio", "Lyric Studio", "London", "2 Shaftesbury Yard, London W1D 7EZ",
              (("theatre", 6), ("comedy", 3), ("family", 2)),
              lambda: _tiers([block("Stalls", 8, 20, ((2, PREMIUM), (6, STANDARD), (8, ECONOMY)), accessible=(8,))],
                             [block("Circle", 4, 20, ((2, STANDARD), (3, ECONOMY), (4, RESTRICTED)), kind="curved")])),
    VenuePlan("chapel", "St Cecilia's Arts Centre", "York", "Minster Lane, York YO1 7HH",
              (("classical", 6), ("concert", 3), ("theatre", 1)),
              lambda: _tiers([block("Nave", 12, 20, ((3, PREMIUM), (8, STANDARD), (12, ECONOMY)), accessible=(12,))],
                             [block("Gallery", 3, 20, ((1, ECONOMY), (3, RESTRICTED)))])),
    VenuePlan("lyric", "Lyric Theatre", "London", "29 Shaftesbury Avenue, London W1D 7ES",
              (("theatre", 7), ("comedy", 2), ("family", 2), ("classical", 1)),
              lambda: _tiers([block("Box A", 2, 4, ((2, PREMIUM),), kind="left"),
                              block("Stalls", 20, 20, ((4, PREMIUM), (14, STANDARD), (20, ECONOMY)), growth=1,
                                    accessible=(20,), kind="curved"),
                              block("Box B", 2, 4, ((2, PREMIUM),), kind="right")],
                             [block("Dress Circle", 8, 24, ((3, PREMIUM), (8, STANDARD)), accessible=(8,),
                                    kind="curved")],
                             [block("Upper Circle", 6, 26, ((4, ECONOMY), (6, RESTRICTED)), kind="curved")])),
    VenuePlan("meridian", "Meridian Concert Hall", "Manchester", "1 Bridgewater Square, Manchester M2 3WS",
              (("classical", 6), ("concert", 3), ("comedy", 1)),
              lambda: _tiers([block("Terrace Left", 12, 12, ((4, PREMIUM), (12, STANDARD)), kind="left"),
                              block("Stalls", 26, 30, ((6, PREMIUM), (18, STANDARD), (26, ECONOMY)), growth=1,
                                    accessible=(26,), kind="curved"),
                              block("Terrace Right", 12, 12, ((4, PREMIUM), (12, STANDARD)), kind="right")],
                             [block("Circle", 12, 44, ((4, PREMIUM), (9, STANDARD), (12, ECONOMY)), accessible=(12,),
                                    kind="curved")],
                             [block("Choir", 8, 30, ((8, RESTRICTED),))])),
    VenuePlan("pavilion", "Riverside Pavilion", "Leeds", "Wharf Approach, Leeds LS1 4BR",
              (("concert", 5), ("family", 3), ("sport", 3)),
              lambda: _tiers([block("Floor", 30, 60, ((8, PREMIUM), (22, STANDARD), (30, ECONOMY)), accessible=(30,))],
                             [block(f"Lower {side}", 20, 40, ((6, STANDARD), (20, ECONOMY)), accessible=(20,))
                              for side in ("Left", "Centre", "Right")],
                             [block(f"Upper {side}", 15, 40, ((10, ECONOMY), (15, RESTRICTED)))
                              for side in ("Left", "Centre", "Right")])),
    VenuePlan("arena", "Northgate Arena", "Birmingham", "Northgate Boulevard, Birmingham B4 7NG",
              (("concert", 6), ("sport", 3), ("family", 1)),
              _arena_layout),
)}


# ---------------------------------------------------------------- words for events and people

GENRE_PRICE = {  # range of the Standard price, in euros
    "concert": (24, 62), "theatre": (26, 68), "comedy": (16, 32),
    "sport": (22, 55), "family": (14, 30), "classical": (20, 58),
}
CATEGORY_FACTOR = {PREMIUM: (1.5, 2.1), STANDARD: (1.0, 1.0), ECONOMY: (0.66, 0.8), RESTRICTED: (0.4, 0.55)}
CATEGORY_CHOICE = {PREMIUM: 20, STANDARD: 42, ECONOMY: 26, RESTRICTED: 12}
VIP_CATEGORY_CHOICE = {PREMIUM: 45, STANDARD: 40, ECONOMY: 12, RESTRICTED: 3}
START_HOURS = {
    "concert": [(20, 0), (19, 30)], "theatre": [(19, 30), (19, 30), (14, 30)], "comedy": [(20, 0), (21, 0)],
    "sport": [(15, 0), (19, 45)], "family": [(11, 0), (14, 0)], "classical": [(19, 30), (15, 0)],
}

BAND_ADJECTIVES = ["Velvet", "Electric", "Midnight", "Crimson", "Silver", "Wild", "Northern", "Golden", "Paper",
                   "Neon", "Hollow", "Lunar", "Quiet", "Amber", "Static", "Wandering", "Glass", "Copper"]
BAND_NOUNS = ["Foxes", "Harbours", "Lanterns", "Satellites", "Rivers", "Echoes", "Pilots", "Wolves", "Sparrows",
              "Machines", "Tides", "Orchards", "Comets", "Strangers", "Ghosts", "Kites", "Lighthouses", "Arcades"]
TOUR_NAMES = ["Northern Lights", "Afterglow", "Slow Burn", "Homecoming", "Open Roads", "Night Swim", "Golden Hour",
              "Undertow", "High Tide", "Paper Moons", "Static Hearts", "Second Nature", "Wide Awake",
              "Long Way Home", "Neon Summer", "Small Hours", "Salt and Stone", "Weather Systems"]
PLAYS = ["Hamlet", "Macbeth", "Twelfth Night", "A Midsummer Night's Dream", "The Importance of Being Earnest",
         "Pygmalion", "The Seagull", "Uncle Vanya", "A Doll's House", "Hedda Gabler", "The Cherry Orchard",
         "Private Lives", "Blithe Spirit", "An Inspector Calls", "Much Ado About Nothing", "The Tempest",
         "Romeo and Juliet", "The Rivals", "She Stoops to Conquer", "The Duchess of Malfi"]
NEW_PLAY_NOUNS = ["Lighthouse", "Orchard", "Ferryman", "Glasshouse", "Signal", "Winter Garden", "Harbour",
                  "Tailor", "Cartographer", "Last Tram", "Understudy", "Beekeeper"]
PLACES = ["Ashford", "the North Sea", "Little Venice", "Morecambe Bay", "the Marshes", "Calder Street",
          "the Old Mill", "Holloway Road"]
COMPANIES = ["{city} Repertory Company", "The Touring Stage Company", "{city} Players", "Open Door Theatre",
             "The Lantern Ensemble", "New Globe Company"]
COMEDY_SHOWS = ["Work in Progress", "No Refunds", "Overthinking It", "Mostly Harmless", "Small Talk",
                "Late Checkout", "Terms and Conditions", "Please Hold", "Unscripted", "Out of Office", "Plus One",
                "Read the Room", "Nothing to Declare", "Reply All"]
TEAM_TOWNS = ["Northgate", "Riverside", "Eastbrook", "Westmoor", "Kingsbridge", "Ashford", "Harbour City",
              "Millbrook", "Redcliffe", "Stonebridge"]
TEAM_NAMES = ["Falcons", "Lions", "Storm", "Rockets", "Titans", "Raiders", "Comets", "Bears", "Hawks", "Pirates"]
SPORTS = [("Basketball", "National Basketball League"), ("Ice Hockey", "Elite Ice Hockey League"),
          ("Netball", "Super Netball League"), ("Volleyball", "Premier Volleyball League")]
FAMILY_SHOWS = ["Dinosaur Parade", "The Magic Porridge Pot", "Circus of Wonders", "Pirates of the Puddle",
                "The Snow Queen on Ice", "Robot Rescue Live", "The Enchanted Treehouse", "Bubbleology",
                "The Very Busy Garden", "Space Cadets Live", "The Tiger Who Came to Dance"]
FAMILY_COMPANIES = ["Big Top Productions", "Little Lantern Theatre", "Wonderworks Family Shows",
                    "Puddle Jump Theatre", "Starlight Kids Company"]
CLASSICAL_WORKS = ["Beethoven: Symphony No. 9", "Mahler: Symphony No. 5", "Brahms: Violin Concerto",
                   "Rachmaninov: Piano Concerto No. 2", "Vivaldi: The Four Seasons", "Dvorak: New World Symphony",
                   "Mozart: Requiem", "Handel: Messiah", "Tchaikovsky: Swan Lake Suite", "Holst: The Planets",
                   "Elgar: Enigma Variations", "Sibelius: Symphony No. 2", "Bach: Brandenburg Concertos",
                   "Shostakovich: Symphony No. 5", "Schubert: The Trout Quintet", "Haydn: The Creation"]
ORCHESTRAS = ["{city} Philharmonic Orchestra", "{city} Symphony Orchestra", "The Meridian Sinfonia",
              "The Aurora String Quartet", "{city} Chamber Orchestra", "The Northern Baroque Players"]
CUSTOMER_CITIES = [("London", 30), ("Manchester", 12), ("Birmingham", 11), ("Leeds", 9), ("Bristol", 9),
                   ("York", 5), ("Liverpool", 5), ("Sheffield", 4), ("Nottingham", 4), ("Brighton", 3),
                   ("Cambridge", 2), ("Oxford", 2), ("Cardiff", 2), ("Glasgow", 2)]
EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.com", "post.example.net"]

# When people buy: weekends peak, evenings peak.
WEEKDAY_WEIGHT = (0.55, 0.6, 0.68, 0.78, 1.0, 0.96, 0.86)
HOUR_WEIGHT = (1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 9, 9, 7, 6, 6, 7, 9, 11, 12, 11, 8, 4)
GROUP_SIZES = ((1, 14), (2, 44), (3, 11), (4, 19), (5, 5), (6, 4), (7, 1), (8, 2))

# How people pay, and how payments go wrong (the simulated gateway's own wording).
PAYMENT_METHODS = (("card", 55), ("wallet", 20), ("paypal", 15), ("gift_card", 10))
CARD_BRANDS = (("visa", 55), ("mastercard", 35), ("amex", 10))
CARD_DECLINES = ("Your card was declined by the bank.", "Your card was declined: insufficient funds.")
CARD_FAILURE = "The payment provider could not process the card. Please try again."
GIFT_CARD_DECLINE = "This gift card has no balance left."
DECLINE_RATE = 0.035
FAILURE_RATE = 0.01
REFUND_RATE = 0.025
PROMO_RATE = 0.08
CHECK_IN_RATE = 0.94

CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CENT = Decimal("0.01")


# ---------------------------------------------------------------- SQL

# Every value is a parameter: PyMySQL only turns executemany into one multi-row INSERT when the VALUES
# list is nothing but placeholders (a literal in it means one INSERT per row).
INSERT_STAFF = ("INSERT INTO staff_users (email, full_name, password_hash, created_at) "
                "VALUES (%s, %s, %s, %s)")
INSERT_VENUE = ("INSERT INTO venues (venue_id, name, city, address, capacity, created_at, map_width, map_height, "
                "stage_x, stage_y, stage_width, stage_height) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
INSERT_SECTION = ("INSERT INTO sections (section_id, venue_id, name, sort_order, map_x, map_y, map_width, map_height, "
                  "outline, label_x, label_y) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
INSERT_ROW = ("INSERT INTO seat_rows (row_id, section_id, label, sort_order, label_x, label_y) "
              "VALUES (%s, %s, %s, %s, %s, %s)")
INSERT_SEAT = ("INSERT INTO seats (seat_id, venue_id, section_id, row_id, seat_number, category_id, is_wheelchair, "
               "is_companion, map_x, map_y) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
INSERT_CUSTOMER = ("INSERT INTO customers (customer_id, customer_type, email, full_name, phone, city, password_hash, "
                   "created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
INSERT_REGULAR = "INSERT INTO regular_customers (customer_id, newsletter_opt_in) VALUES (%s, %s)"
# Guests: of the regular customers who booked once and saved no card, one in four paid without an account
# (guest checkout, migration 0009): no password. Chosen from the rows written, not by a random draw, so the
# rest of the data a seed makes stays as it was.
MAKE_GUESTS = sa.text("""
    UPDATE customers c SET c.is_guest = TRUE, c.password_hash = NULL
     WHERE c.customer_type = 'regular' AND c.customer_id % 4 = 0 AND c.email NOT IN (:vip, :regular)
       AND NOT EXISTS (SELECT 1 FROM saved_payment_methods s WHERE s.customer_id = c.customer_id)
       AND (SELECT COUNT(*) FROM bookings b WHERE b.customer_id = c.customer_id) = 1""")
INSERT_VIP = "INSERT INTO vip_customers (customer_id, tier, discount_rate, member_since) VALUES (%s, %s, %s, %s)"
INSERT_SAVED_METHOD = ("INSERT INTO saved_payment_methods (saved_method_id, customer_id, method_id, card_brand, "
                       "last_four, exp_month, exp_year, gateway_token, created_at) "
                       "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")
INSERT_EVENT = ("INSERT INTO events (event_id, venue_id, title, performer, genre, description, starts_at, sales_start, "
                "sales_end, status, max_seats_per_order, refundable_until_hours, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
INSERT_PRICE = "INSERT INTO event_prices (event_id, category_id, price) VALUES (%s, %s, %s)"
INSERT_DISCOUNT = ("INSERT INTO discounts (discount_id, code, description, kind, value, valid_from, valid_until, "
                   "usage_limit, vip_only, event_id, is_active, created_at) "
                   "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
# The event's inventory from its venue's layout, as open_inventory makes it, but with each seat already in
# its final state: the sold seats' ids come as one parameter (PyMySQL sends a tuple as a list of literals).
INSERT_INVENTORY = """
    INSERT INTO event_seats (event_id, seat_id, venue_id, section_id, category_id, state)
    SELECT e.event_id, s.seat_id, s.venue_id, s.section_id, s.category_id,
           IF(s.seat_id IN %s, 'sold', 'available')
      FROM events e JOIN seats s ON s.venue_id = e.venue_id
     WHERE e.event_id = %s
     ORDER BY s.seat_id"""
INSERT_BOOKING = ("INSERT INTO bookings (booking_id, booking_code, customer_id, event_id, status, subtotal, "
                  "vip_discount, promo_discount, total, discount_id, idempotency_key, booked_at) "
                  "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
INSERT_TICKET = ("INSERT INTO tickets (ticket_id, ticket_code, booking_id, event_id, seat_id, category_id, face_price, "
                 "paid_amount, status, checked_in_at, refunded_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
INSERT_PAYMENT = ("INSERT INTO payments (payment_id, kind, status, booking_id, customer_id, method_id, amount, "
                  "card_brand, last_four, provider_reference, refund_of, failure_reason, created_at) "
                  "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
INSERT_GATEWAY_CHARGE = ("INSERT INTO gateway_charges (reference, idempotency_key, method_code, amount, status, "
                         "decline_reason, card_brand, last_four, refunded_amount, created_at) "
                         "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
COUNT_CATEGORY_SEATS = """
    UPDATE event_prices ep
      JOIN (SELECT category_id, COUNT(*) AS seats, SUM(state <> 'sold') AS free
              FROM event_seats WHERE event_id = %s GROUP BY category_id) c
        ON c.category_id = ep.category_id
       SET ep.seats_total = c.seats, ep.seats_available = c.free
     WHERE ep.event_id = %s"""
COUNT_EVENT_SEATS = """
    UPDATE events e
       SET e.seats_total = (SELECT COUNT(*) FROM event_seats WHERE event_id = %s),
           e.seats_available = (SELECT COUNT(*) FROM event_seats WHERE event_id = %s AND state <> 'sold')
     WHERE e.event_id = %s"""
COUNT_PROMO_USES = "UPDATE discounts SET times_used = times_used + %s WHERE discount_id = %s"
CANCEL_EVENT = "UPDATE events SET status = 'cancelled' WHERE event_id = %s AND status = 'on_sale'"
# The generator gives rows explicit ids (so that a seed always makes the same ones); they continue after
# the highest id already in each table.
ID_TABLES = ("venues", "sections", "seat_rows", "seats", "customers", "saved_payment_methods", "events",
             "discounts", "bookings", "tickets", "payments")
HIGHEST_IDS = """
    SELECT (SELECT COALESCE(MAX(venue_id), 0) FROM venues), (SELECT COALESCE(MAX(section_id), 0) FROM sections),
           (SELECT COALESCE(MAX(row_id), 0) FROM seat_rows), (SELECT COALESCE(MAX(seat_id), 0) FROM seats),
           (SELECT COALESCE(MAX(customer_id), 0) FROM customers),
           (SELECT COALESCE(MAX(saved_method_id), 0) FROM saved_payment_methods),
           (SELECT COALESCE(MAX(event_id), 0) FROM events), (SELECT COALESCE(MAX(discount_id), 0) FROM discounts),
           (SELECT COALESCE(MAX(booking_id), 0) FROM bookings), (SELECT COALESCE(MAX(ticket_id), 0) FROM tickets),
           (SELECT COALESCE(MAX(payment_id), 0) FROM payments)"""


# ---------------------------------------------------------------- public API

def _engine(settings: DatabaseSettings) -> sa.Engine:
    # @boxoffice_bulk_load: the sales-summary insert triggers stand aside on these connections (a row at a
    # time they would make a large load ten times slower); load() refills the summaries set-based at the end.
    return sa.create_engine(settings.owner_url, poolclass=sa.pool.NullPool,
                            connect_args={"init_command": "SET time_zone = '+00:00', @boxoffice_bulk_load = 1",
                                          "charset": "utf8mb4"})


def has_events(settings: DatabaseSettings) -> bool:
    """Whether the database has any event (demo data is only loaded into a box office without events)."""
    with _engine(settings).connect() as connection:
        return bool(connection.scalar(sa.text("SELECT EXISTS (SELECT 1 FROM events)")))


def load(settings: DatabaseSettings, scale: str, seed: int, progress: bool,
         anchor: dt.date | None = None) -> DemoSummary:
    """Fill the migrated, event-less database with the demo data of `scale` ("tiny", "small", "medium"
    or "large"), generated from `seed` around `anchor` (default: today, UTC). Commits event by event.
    Raises DemoDataError if the database already has events, or ValueError for an unknown scale or an
    anchor after today (bookings dated in the future are refused by check_booking_date)."""
    if scale not in SCALE_PLANS:
        raise ValueError(f"Unknown demo scale {scale!r}; choose one of {', '.join(SCALES)}.")
    today = dt.datetime.now(dt.timezone.utc).date()
    anchor = anchor or today
    if anchor > today:
        raise ValueError(f"The anchor {anchor} is after today ({today}): its bookings would be dated in the future.")
    started = time.monotonic()
    engine = _engine(settings)
    try:
        with engine.connect() as connection:
            events = connection.scalar(sa.text("SELECT COUNT(*) FROM events"))
        if events:
            raise DemoDataError(
                f"The database {settings.name} already has {events} events; demo data only goes into a box "
                "office without events. To start again: flask --app wsgi db drop, then db setup.")
        _Generator(engine, SCALE_PLANS[scale], seed, anchor, progress).run()
        with engine.connect() as connection:
            connection.execute(MAKE_GUESTS, {"vip": VIP_EMAIL, "regular": CUSTOMER_EMAIL})
            run_sql_file(connection, "summaries/refill.sql")
            connection.commit()
            counts = _counts(connection)
    finally:
        engine.dispose()
    return DemoSummary(scale=scale, seed=seed, anchor=anchor, seconds=time.monotonic() - started, **counts)


def _counts(connection: Connection) -> dict[str, int]:
    row = connection.execute(sa.text("""
        SELECT (SELECT COUNT(*) FROM venues), (SELECT COUNT(*) FROM seats), (SELECT COUNT(*) FROM events),
               (SELECT COUNT(*) FROM customers), (SELECT COUNT(*) FROM vip_customers),
               (SELECT COUNT(*) FROM bookings), (SELECT COUNT(*) FROM tickets), (SELECT COUNT(*) FROM payments),
               (SELECT COUNT(*) FROM payments WHERE kind = 'refund'),
               (SELECT COUNT(*) FROM payments WHERE kind = 'charge' AND status IN ('declined', 'failed'))""")).one()
    names = ("venues", "seats", "events", "customers", "vip_customers", "bookings", "tickets", "payments",
             "refunds", "declines")
    return dict(zip(names, (int(value) for value in row)))


# ---------------------------------------------------------------- the generator's model

@dataclass
class _VenueSeats:
    """A venue's seats as the sales simulation needs them."""

    venue_id: int
    capacity: int
    # (seat_id, section_id, category_id) in seat_id order: one event_seats row each.
    seats: list[tuple[int, int, int]]
    # Per category: the rows as runs of adjacent seats (centre outwards), with the row's distance from
    # the front; and the wheelchair and companion seats, sold last.
    runs: dict[int, list[tuple[int, list[int]]]]
    accessible: dict[int, list[int]]


@dataclass
class _Customer:
    customer_id: int
    created_at: dt.datetime
    weight: float
    vip_rate: Decimal = Decimal("0")
    member_since: dt.date | None = None
    cards: list[tuple[str, str, str]] = field(default_factory=list)   # (method code, brand, last four)


@dataclass
class _Event:
    event_id: int
    venue: _VenueSeats
    genre: str
    starts_at: dt.datetime
    sales_start: dt.datetime
    sales_end: dt.datetime
    status: str
    max_seats: int
    refundable_hours: int
    prices: dict[int, Decimal]
    fill: float
    sold_out: bool
    title: str
    performer: str
    description: str
    cancel_at: dt.datetime | None = None


@dataclass
class _Promo:
    discount_id: int
    code: str
    rule: PromoRule
    valid_from: dt.datetime
    valid_until: dt.datetime
    usage_limit: int | None
    vip_only: bool
    event_id: int | None
    active: bool
    used: int = 0


@dataclass
class _Sale:
    """One booking as the simulation made it."""

    booking_id: int
    customer: _Customer
    booked_at: dt.datetime
    seats: list[tuple[int, int]]                      # (seat_id, category_id), seat_id order
    priced: Any
    discount_id: int | None
    ticket_ids: list[int]
    charge_id: int | None = None
    refunded: dict[int, dt.datetime] = field(default_factory=dict)   # seat index -> refunded_at


class _Inventory:
    """The seats of one event still for sale, per category, in the order buyers get them."""

    def __init__(self, venue: _VenueSeats, rng: Random):
        self.order: dict[int, list[int]] = {}
        self.next: dict[int, int] = {}
        self.returned: dict[int, list[int]] = {}
        for category_id, runs in venue.runs.items():
            # Rows nearer the front go first, with some noise so that sold seats spread over sections.
            ranked = sorted(runs, key=lambda run: run[0] + rng.uniform(0, 4))
            self.order[category_id] = [seat for _, seats in ranked for seat in seats] + venue.accessible.get(category_id, [])
            self.next[category_id] = 0
            self.returned[category_id] = []

    def free(self, category_id: int) -> int:
        return len(self.order[category_id]) - self.next[category_id] + len(self.returned[category_id])

    def take(self, category_id: int, count: int) -> list[int]:
        """Up to `count` seats of the category: seats given back by refunds first, then the next in line."""
        seats = self.returned[category_id][:count]
        del self.returned[category_id][:count]
        start = self.next[category_id]
        end = min(start + count - len(seats), len(self.order[category_id]))
        seats += self.order[category_id][start:end]
        self.next[category_id] = end
        return seats


def _weighted(rng: Random, options: Sequence[tuple[Any, float]]) -> Any:
    return rng.choices([option for option, _ in options], weights=[weight for _, weight in options])[0]


def _shop_price(rng: Random, amount: float) -> Decimal:
    """A price like a box office sets it: whole or half euros, sometimes 95 cents."""
    price = Decimal(round(amount * 2)) / 2
    if rng.random() < 0.3:
        price -= Decimal("0.05")
    return max(price, Decimal("1.00"))


def _ascii(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
                   if ch.isalnum())


def _chunks(rows: list, size: int = CHUNK_ROWS) -> Iterator[list]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _insert(connection: Connection, statement: str, rows: list[tuple]) -> None:
    """Multi-row INSERTs: PyMySQL's executemany sends each chunk as one INSERT ... VALUES (...), (...)."""
    if not rows:
        return
    cursor = connection.connection.cursor()
    try:
        cursor.max_stmt_length = 8 * 1024 * 1024
        for chunk in _chunks(rows):
            cursor.executemany(statement, chunk)
    finally:
        cursor.close()


def _execute(connection: Connection, statement: str, params: tuple) -> None:
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement, params)
    finally:
        cursor.close()


class _Writer:
    """Writes the simulated events on a connection of its own, one transaction per event, while the main
    thread simulates the next ones, so that the server's work and Python's overlap. One writer, events in
    order: what ends up in the database does not depend on timing."""

    def __init__(self, engine: sa.Engine, done: Callable[[int], None]):
        self.engine = engine
        self.done = done
        self.jobs: queue.Queue[Callable[[Connection], int] | None] = queue.Queue(maxsize=4)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._work, name="demo-data-writer", daemon=True)

    def __enter__(self) -> "_Writer":
        self.thread.start()
        return self

    def submit(self, job: Callable[[Connection], int]) -> None:
        if self.error is not None:
            raise self.error
        self.jobs.put(job)

    def _work(self) -> None:
        try:
            with self.engine.connect() as connection:
                while (job := self.jobs.get()) is not None:
                    # One event, one transaction: its inventory, counts, bookings, tickets and payments
                    # are committed together, so the counts equal the inventory at every commit.
                    with connection.begin():
                        tickets = job(connection)
                    self.done(tickets)
        except BaseException as error:
            self.error = error
            while self.jobs.get() is not None:
                pass

    def __exit__(self, *failure: object) -> None:
        self.jobs.put(None)
        self.thread.join()
        if self.error is not None and failure[0] is None:
            raise self.error


# ---------------------------------------------------------------- the generator

class _Generator:
    def __init__(self, engine: sa.Engine, plan: Scale, seed: int, anchor: dt.date, progress: bool):
        self.engine = engine
        self.plan = plan
        self.rng = Random(seed)
        self.fake = Faker("en_GB")
        self.fake.seed_instance(seed)
        self.now = dt.datetime.combine(anchor, dt.time())
        self.progress = progress
        self.codes: set[str] = set()
        self.ids: dict[str, int] = {}

    # ------------------------------------------------------------ plumbing

    def _next_id(self, table: str) -> int:
        self.ids[table] += 1
        return self.ids[table]

    def _code(self, length: int) -> str:
        """A booking or ticket code from the seeded generator: upper-case [0-9A-Z], unique in this load."""
        while True:
            code = "".join(self.rng.choices(CODE_ALPHABET, k=length))
            if code not in self.codes:
                self.codes.add(code)
                return code

    def _hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}x}"

    def _reference(self, payment_id: int) -> str:
        """A gateway reference shaped like the simulated gateway's ("sim_" and 24 hex digits). It starts with
        the payment id, so the references' unique indexes grow at their end like the ids do: random keys
        all over a million-row index would not fit the server's buffer pool."""
        return f"sim_{payment_id:010x}{self._hex(14)}"

    def _moment(self, start: dt.datetime, end: dt.datetime) -> dt.datetime:
        """A whole second between start and end."""
        return start + dt.timedelta(seconds=self.rng.randint(0, max(0, int((end - start).total_seconds()))))

    # ------------------------------------------------------------ the run

    def run(self) -> None:
        with self.engine.connect() as connection:
            self.connection = connection
            self.ids = dict(zip(ID_TABLES, (int(value) for value in connection.execute(sa.text(HIGHEST_IDS)).one())))
            self.categories = {name: (category_id, rank) for category_id, name, rank in connection.execute(
                sa.text("SELECT category_id, name, `rank` FROM seat_categories"))}
            self.rank_of = {category_id: rank for category_id, rank in self.categories.values()}
            self.category_names = {category_id: name for name, (category_id, _) in self.categories.items()}
            self.methods = {code: (method_id, bool(takes_card)) for method_id, code, takes_card in connection.execute(
                sa.text("SELECT method_id, code, takes_card FROM payment_methods"))}
            connection.rollback()
            self.password_hash = hash_password(DEMO_PASSWORD)
            with connection.begin():
                venues = self._venues()
            with connection.begin():
                self._staff()
                self.customers = self._customers()
            with connection.begin():
                events = self._events(venues)
                self.promos = self._promos(events)

        from tqdm import tqdm

        with tqdm(total=len(events), desc="Demo bookings", unit="event", disable=not self.progress) as bar:
            written = [0]

            def done(tickets: int) -> None:
                written[0] += tickets
                bar.update()
                bar.set_postfix(tickets=f"{written[0]:,}", refresh=False)

            with _Writer(self.engine, done) as writer:
                for event in events:
                    writer.submit(self._sell(event))

    # ------------------------------------------------------------ venues and seats

    def _venues(self) -> dict[str, _VenueSeats]:
        venues: dict[str, _VenueSeats] = {}
        venue_rows, section_rows, row_rows, seat_rows = [], [], [], []
        created = self.now - dt.timedelta(days=3 * 365)
        for key, _ in self.plan.venues:
            plan = VENUE_PLANS[key]
            venue_id = self._next_id("venues")
            seats: list[tuple[int, int, int]] = []
            runs: dict[int, list[tuple[int, list[int]]]] = {}
            accessible: dict[int, list[int]] = {}
            blocks, placed = plan.layout()
            venue_rows.append((venue_id, plan.name, plan.city, plan.address, sum(sum(b.row_seats) for b in blocks),
                               created, placed.width, placed.height, *placed.stage))
            for sort_order, (section, drawn) in enumerate(zip(blocks, placed.sections), start=1):
                section_id = self._next_id("sections")
                section_rows.append((section_id, venue_id, section.name, sort_order, *drawn.box, drawn.outline,
                                     *drawn.label))
                for row, (count, category, drawn_row) in enumerate(
                        zip(section.row_seats, section.row_categories, drawn.rows), start=1):
                    row_id = self._next_id("seat_rows")
                    row_rows.append((row_id, section_id, section.row_label(row), row, *drawn_row.label))
                    category_id = self.categories[category][0]
                    wheelchair = {1, count} if row in section.accessible_rows else set()
                    companion = {2, count - 1} if wheelchair else set()
                    row_seat_ids = []
                    for number, (x, y) in enumerate(drawn_row.seats, start=1):
                        seat_id = self._next_id("seats")
                        seat_rows.append((seat_id, venue_id, section_id, row_id, number, category_id,
                                          number in wheelchair, number in companion, x, y))
                        seats.append((seat_id, section_id, category_id))
                        if number in wheelchair or number in companion:
                            accessible.setdefault(category_id, []).append(seat_id)
                        else:
                            row_seat_ids.append(seat_id)
                    # Buyers fill a row from its centre outwards: two runs of adjacent seats.
                    middle = len(row_seat_ids) // 2
                    rank = row + self.rank_of[category_id]
                    runs.setdefault(category_id, []).append((rank, row_seat_ids[middle:]))
                    runs[category_id].append((rank, row_seat_ids[:middle][::-1]))
            venues[key] = _VenueSeats(venue_id, len(seats), seats, runs, accessible)
        _insert(self.connection, INSERT_VENUE, venue_rows)
        _insert(self.connection, INSERT_SECTION, section_rows)
        _insert(self.connection, INSERT_ROW, row_rows)
        _insert(self.connection, INSERT_SEAT, seat_rows)
        return venues

    # ------------------------------------------------------------ people

    def _staff(self) -> None:
        exists = self.connection.scalar(sa.text("SELECT COUNT(*) FROM staff_users WHERE email = :e"), {"e": ADMIN_EMAIL})
        if not exists:
            created = self.now - dt.timedelta(days=3 * 365)
            _insert(self.connection, INSERT_STAFF, [(ADMIN_EMAIL, ADMIN_NAME, self.password_hash, created)])

    def _customers(self) -> list[_Customer]:
        rng, fake = self.rng, self.fake
        existing = set(self.connection.scalars(sa.text(
            "SELECT email FROM customers WHERE email IN (:vip, :regular)"), {"vip": VIP_EMAIL, "regular": CUSTOMER_EMAIL}))
        first_day = self.now - dt.timedelta(days=3 * 365)
        # (created_at, email, name, weight, vip) - the demo logins first, then everyone by sign-up date.
        people: list[tuple[dt.datetime, str, str, float, bool]] = []
        for email, name, weight, vip in ((VIP_EMAIL, VIP_NAME, 4.0, True), (CUSTOMER_EMAIL, CUSTOMER_NAME, 3.0, False)):
            if email not in existing:
                people.append((first_day, email, name, weight, vip))
        others = []
        for _ in range(self.plan.customers - len(people)):
            if rng.random() < 0.55:
                created = self._moment(first_day, self.now - dt.timedelta(days=2 * 365))
            else:
                created = self._moment(self.now - dt.timedelta(days=2 * 365), self.now - dt.timedelta(days=1))
            # Most people buy now and then; a few buy all the time (repeat buyers), and VIPs buy more.
            weight = min(rng.paretovariate(1.6), 30.0)
            vip = rng.random() < (0.04 if weight < 2 else 0.2)
            first, last = fake.first_name(), fake.last_name()
            others.append((created, first, last, weight * (2 if vip else 1), vip))
        others.sort(key=lambda person: person[0])
        for created, first, last, weight, vip in others:
            email = f"{_ascii(first)}.{_ascii(last)}.{len(people) + 1}@{rng.choice(EMAIL_DOMAINS)}"
            people.append((created, email, f"{first} {last}", weight, vip))

        customers: list[_Customer] = []
        customer_rows, regular_rows, vip_rows, card_rows = [], [], [], []
        tiers = (("silver", Decimal("0.0500"), 60), ("gold", Decimal("0.1000"), 30), ("platinum", Decimal("0.1500"), 10))
        for created, email, name, weight, vip in people:
            customer = _Customer(self._next_id("customers"), created, weight)
            phone = fake.phone_number() if rng.random() < 0.8 else None
            customer_rows.append((customer.customer_id, "vip" if vip else "regular", email, name, phone,
                                  _weighted(rng, CUSTOMER_CITIES), self.password_hash, created))
            if vip:
                if email == VIP_EMAIL:
                    tier, rate, since = "gold", Decimal("0.1000"), created.date()
                else:
                    tier, rate = _weighted(rng, [((t, r), w) for t, r, w in tiers])
                    since = self._moment(created, self.now - dt.timedelta(days=1)).date()
                customer.vip_rate, customer.member_since = rate, since
                vip_rows.append((customer.customer_id, tier, rate, since))
            else:
                regular_rows.append((customer.customer_id, rng.random() < 0.4))
            if email in (VIP_EMAIL, CUSTOMER_EMAIL) or rng.random() < 0.22:
                for _ in range(1 if rng.random() < 0.8 else 2):
                    method = "card" if rng.random() < 0.8 else "wallet"
                    brand, last_four = _weighted(rng, CARD_BRANDS), f"{rng.randint(0, 9999):04d}"
                    customer.cards.append((method, brand, last_four))
                    card_rows.append((self._next_id("saved_payment_methods"), customer.customer_id,
                                      self.methods[method][0], brand, last_four, rng.randint(1, 12),
                                      self.now.year + rng.randint(-1, 5), f"tok_{self._hex(24)}",
                                      self._moment(created, self.now - dt.timedelta(hours=1))))
            customers.append(customer)
        _insert(self.connection, INSERT_CUSTOMER, customer_rows)
        _insert(self.connection, INSERT_REGULAR, regular_rows)
        _insert(self.connection, INSERT_VIP, vip_rows)
        _insert(self.connection, INSERT_SAVED_METHOD, card_rows)
        # For picking a buyer who had signed up by the booking date: customers are in sign-up order.
        self.signed_up = [customer.created_at for customer in customers]
        self.cumulative_weight = list(itertools.accumulate(customer.weight for customer in customers))
        return customers

    def _buyer(self, at: dt.datetime) -> _Customer:
        """A customer who had signed up before `at`, the frequent buyers more often."""
        signed_up = bisect.bisect_left(self.signed_up, at)
        pick = self.rng.random() * self.cumulative_weight[signed_up - 1]
        return self.customers[min(bisect.bisect_left(self.cumulative_weight, pick), signed_up - 1)]

    # ------------------------------------------------------------ events

    def _person(self) -> str:
        return f"{self.fake.first_name()} {self.fake.last_name()}"

    def _title(self, genre: str, city: str) -> tuple[str, str, str]:
        """Title, performer and description of an event."""
        rng = self.rng
        if genre == "concert":
            if rng.random() < 0.6:
                performer = f"The {rng.choice(BAND_ADJECTIVES)} {rng.choice(BAND_NOUNS)}"
            else:
                performer = self._person()
            tour = rng.choice(TOUR_NAMES)
            return (f"{performer}: {tour} Tour", performer,
                    f"{performer} bring the {tour} tour to the stage: the new record in full, the favourites, "
                    "and a support act chosen by the band.")
        if genre == "theatre":
            if rng.random() < 0.65:
                title = rng.choice(PLAYS)
            else:
                title = f"The {rng.choice(NEW_PLAY_NOUNS)} of {rng.choice(PLACES)}"
            performer = rng.choice(COMPANIES).format(city=city)
            return (title, performer,
                    f"{performer} present {title}, directed by {self._person()}. Running time about two and a half "
                    "hours including an interval.")
        if genre == "comedy":
            performer = self._person()
            show = rng.choice(COMEDY_SHOWS)
            return (f"{performer}: {show}", performer,
                    f"{performer} is back on tour with {show}, a brand-new hour of stand-up. Age guidance 16+.")
        if genre == "sport":
            sport, league = rng.choice(SPORTS)
            home, away = rng.sample(TEAM_TOWNS, 2)
            title = f"{home} {rng.choice(TEAM_NAMES)} v {away} {rng.choice(TEAM_NAMES)}"
            return (title, league, f"{sport} in the {league}: {title}. Doors open 60 minutes before the start.")
        if genre == "family":
            title, performer = rng.choice(FAMILY_SHOWS), rng.choice(FAMILY_COMPANIES)
            return (title, performer,
                    f"{performer} present {title}: songs, puppets and plenty of audience participation. "
                    "For ages 3 and up; every child needs a ticket.")
        work = rng.choice(CLASSICAL_WORKS)
        orchestra = rng.choice(ORCHESTRAS).format(city=city)
        conductor = self._person()
        return (work, f"{orchestra} / {conductor}",
                f"{orchestra} with conductor {conductor}: {work}, with a pre-concert talk an hour before.")

    def _event_days(self, count: int) -> list[dt.date]:
        """`count` different days in the two years around the anchor, Fridays and Saturdays most often."""
        day_weight = (1.0, 1.0, 1.2, 1.6, 3.0, 3.0, 1.8)
        first = self.now.date() - dt.timedelta(days=PAST_DAYS)
        days = [first + dt.timedelta(days=n) for n in range(PAST_DAYS + FUTURE_DAYS)]
        # Weighted sampling without replacement (Efraimidis-Spirakis keys).
        keyed = sorted(days, key=lambda day: self.rng.random() ** (1 / day_weight[day.weekday()]), reverse=True)
        return sorted(keyed[:count])

    def _events(self, venues: dict[str, _VenueSeats]) -> list[_Event]:
        rng = self.rng
        planned = []
        for key, count in self.plan.venues:
            plan, venue = VENUE_PLANS[key], venues[key]
            for day in self._event_days(count):
                genre = _weighted(rng, plan.genres)
                hour, minute = rng.choice(START_HOURS[genre])
                planned.append((dt.datetime.combine(day, dt.time(hour, minute)), plan, venue, genre))
        planned.sort(key=lambda item: (item[0], item[2].venue_id))

        events: list[_Event] = []
        price_rows: list[tuple] = []
        for starts_at, plan, venue, genre in planned:
            event_id = self._next_id("events")
            big = venue.capacity >= 5000
            lead_days = rng.randint(150, 270) if big else rng.randint(45, 150)
            sales_start = dt.datetime.combine(starts_at.date() - dt.timedelta(days=lead_days), dt.time(10, 0))
            sales_end = starts_at - dt.timedelta(minutes=rng.choice((0, 60, 60, 120)))
            low, high = GENRE_PRICE[genre]
            standard = rng.uniform(low, high) * (1.3 if big else 0.85 if venue.capacity <= 300 else 1.0)
            used = sorted({category for _, _, category in venue.seats}, key=lambda c: self.rank_of[c])
            prices: dict[int, Decimal] = {}
            for category_id in used:
                price = _shop_price(rng, standard * rng.uniform(*CATEGORY_FACTOR[self.category_names[category_id]]))
                cheaper_than = min(prices.values(), default=None)
                if cheaper_than is not None and price >= cheaper_than:
                    price = max(Decimal("1.00"), cheaper_than - Decimal("2.00"))
                prices[category_id] = price
            sold_out = rng.random() < self.plan.sold_out_share
            fill = 1.0 if sold_out else min(0.97, rng.betavariate(3.0, 1.4) * self.plan.demand)
            title, performer, description = self._title(genre, plan.city)
            events.append(_Event(event_id, venue, genre, starts_at, sales_start, sales_end, "on_sale",
                                 rng.choice((6, 8, 10, 10)), rng.choice((24, 48, 48, 72)), prices, fill, sold_out,
                                 title, performer, description))
            price_rows += [(event_id, category_id, price) for category_id, price in prices.items()]

        self._drafts_and_cancellations(events)
        # Every event goes in on sale or as a draft; the cancelled ones are cancelled after their bookings.
        _insert(self.connection, INSERT_EVENT, [
            (e.event_id, e.venue.venue_id, e.title, e.performer, e.genre, e.description, e.starts_at, e.sales_start,
             e.sales_end, e.status, e.max_seats, e.refundable_hours,
             min(e.sales_start - dt.timedelta(days=14), self.now - dt.timedelta(days=1)))
            for e in events])
        _insert(self.connection, INSERT_PRICE, price_rows)
        return events

    def _drafts_and_cancellations(self, events: list[_Event]) -> None:
        """A few future events stay drafts; a few are cancelled after selling for a while; and at least one
        past event sells out."""
        rng, now = self.rng, self.now
        later = [e for e in events if e.starts_at > now + dt.timedelta(days=45)]
        for event in rng.sample(later, min(len(later), max(1, round(0.05 * len(later))))):
            event.status = "draft"
            event.sales_start = dt.datetime.combine(now.date() + dt.timedelta(days=rng.randint(3, 30)), dt.time(10, 0))

        candidates = []
        for event in events:
            if event.status == "draft" or event.sales_start > now - dt.timedelta(days=20):
                continue
            if event.starts_at < now:
                cancel_at = event.starts_at - dt.timedelta(days=rng.randint(3, 20), hours=rng.randint(1, 9))
            else:
                cancel_at = now - dt.timedelta(days=rng.randint(1, 12), hours=rng.randint(1, 9))
            if cancel_at > event.sales_start + dt.timedelta(days=10):
                candidates.append((event, cancel_at))
        for event, cancel_at in rng.sample(candidates, min(len(candidates), max(1, round(0.03 * len(events))))):
            event.cancel_at = cancel_at
            event.sold_out = False

        past = [e for e in events if e.starts_at < now and e.status != "draft" and e.cancel_at is None]
        if past and not any(e.sold_out for e in past):
            smallest = min(e.venue.capacity for e in past)
            event = [e for e in past if e.venue.capacity == smallest][-1]
            event.sold_out, event.fill = True, 1.0

    def _promos(self, events: list[_Event]) -> dict[int | None, list[_Promo]]:
        """Promo codes: for everyone, for VIPs only, with and without usage limits, past, current and
        future, one switched off; and early-bird and fan-club codes for single events."""
        rng, now, day = self.rng, self.now, dt.timedelta(days=1)
        customers = self.plan.customers
        first = now - 600 * day
        specs = [
            ("WELCOME10", "10% off for new customers", "percent", "10", first, now + 365 * day, None, False, None, True),
            ("TAKE5", "5 euros off any order", "fixed", "5.00", first, now + 180 * day, None, False, None, True),
            ("SPRING15", "Spring season: 15% off", "percent", "15", now - 420 * day, now - 360 * day, None, False,
             None, True),
            ("SUMMER20", "Summer sale: 20% off while it lasts", "percent", "20", now - 180 * day, now - 120 * day,
             max(5, customers // 20), False, None, True),
            ("FLASH30", "48-hour flash sale: 30% off", "percent", "30", now - 75 * day, now - 73 * day,
             max(3, customers // 40), False, None, True),
            ("FRIENDS20", "20 euros off for friends of the box office", "fixed", "20.00", now - 300 * day,
             now + 60 * day, None, False, None, True),
            ("VIPLOUNGE", "VIP members: a further 12% off", "percent", "12", first, now + 365 * day, None, True,
             None, True),
            ("VIPTHANKS25", "A thank-you to our VIP members: 25 euros off", "fixed", "25.00", now - 240 * day,
             now - 30 * day, max(2, customers // 100), True, None, True),
            ("RETIRED15", "An old partner code, switched off", "percent", "15", first, now + 365 * day, None, False,
             None, False),
            ("NEXTSEASON", "Next season's early-bird code", "percent", "10", now + 30 * day, now + 200 * day, None,
             False, None, True),
        ]
        on_sale = [e for e in events if e.status == "on_sale"]
        for event in rng.sample(on_sale, min(len(on_sale), max(2, round(0.08 * len(on_sale))))):
            if rng.random() < 0.6:
                specs.append((f"EARLYBIRD{event.event_id}", f"Early bird: 20% off {event.title}"[:200], "percent",
                              "20", event.sales_start, event.sales_start + 21 * day,
                              max(5, event.venue.capacity // 25), False, event.event_id, True))
            else:
                specs.append((f"FANCLUB{event.event_id}", f"Fan club: 8 euros off {event.title}"[:200], "fixed",
                              "8.00", event.sales_start, event.sales_end, max(5, event.venue.capacity // 40), False,
                              event.event_id, True))
        promos: dict[int | None, list[_Promo]] = {}
        rows = []
        for code, description, kind, value, valid_from, valid_until, limit, vip_only, event_id, active in specs:
            promo = _Promo(self._next_id("discounts"), code, PromoRule(kind, Decimal(value)), valid_from,
                           valid_until, limit, vip_only, event_id, active)
            promos.setdefault(event_id, []).append(promo)
            rows.append((promo.discount_id, code, description, kind, Decimal(value), valid_from, valid_until, limit,
                         vip_only, event_id, active, min(valid_from, now) - 7 * day))
        _insert(self.connection, INSERT_DISCOUNT, rows)
        return promos

    # ------------------------------------------------------------ sales

    def _booking_time(self, event: _Event, rush: float) -> dt.datetime:
        """When a booking is made: a rush when sales open, more as the day comes nearer (lead times),
        some at any time; weekends and evenings busier than weekdays and nights."""
        rng = self.rng
        start, end = event.sales_start, event.sales_end
        window = (end - start).total_seconds()
        for _ in range(100):
            roll = rng.random()
            exact = roll < rush
            if exact:
                at = start + dt.timedelta(seconds=rng.expovariate(1 / (1.5 * 86400)))
            elif roll < rush + (1 - rush) * 0.6:
                at = event.starts_at - dt.timedelta(seconds=rng.expovariate(1 / (0.2 * window)))
            else:
                at = start + dt.timedelta(seconds=rng.random() * window)
            if not start <= at <= end or rng.random() > WEEKDAY_WEIGHT[at.weekday()]:
                continue
            if not exact:
                at = dt.datetime.combine(at.date(), dt.time(HOUR_CHOICE(rng), rng.randrange(60), rng.randrange(60)))
                if not start <= at <= end:
                    continue
            return at.replace(microsecond=0)
        return self._moment(start, end)

    def _intents(self, event: _Event, cutoff: dt.datetime) -> list[tuple[dt.datetime, int]]:
        """The orders the event would get over its whole sales window, as (time, seats), in time order; only
        those before `cutoff` (now, or the cancellation) happen."""
        target = round(event.venue.capacity * event.fill)
        rush = 0.55 if event.sold_out else 0.1 + 0.3 * event.fill
        intents = []
        while target > 0:
            size = min(GROUP_SIZE_CHOICE(self.rng), event.max_seats, target)
            target -= size
            at = self._booking_time(event, rush)
            if at < cutoff:
                intents.append((at, size))
        intents.sort()
        return intents

    def _promo_for(self, event: _Event, at: dt.datetime, vip: bool) -> _Promo | None:
        """A code this buyer could have used at that moment (PriceHold's checks), for some buyers."""
        if self.rng.random() >= PROMO_RATE:
            return None
        usable = [promo for promo in self.promos.get(event.event_id, []) + self.promos[None]
                  if promo.active and promo.valid_from <= at <= promo.valid_until
                  and (promo.usage_limit is None or promo.used < promo.usage_limit)
                  and (vip or not promo.vip_only)]
        return self.rng.choice(usable) if usable else None

    def _take(self, inventory: _Inventory, preferred: int, count: int) -> list[tuple[int, int]]:
        """`count` seats, all in the preferred category if it has them, else the nearest category that does,
        else whatever is left nearest to it."""
        nearest = sorted(inventory.order, key=lambda c: (abs(self.rank_of[c] - self.rank_of[preferred]),
                                                         -self.rank_of[c]))
        for category_id in nearest:
            if inventory.free(category_id) >= count:
                return [(seat, category_id) for seat in inventory.take(category_id, count)]
        seats: list[tuple[int, int]] = []
        for category_id in nearest:
            seats += [(seat, category_id) for seat in inventory.take(category_id, count - len(seats))]
        return seats

    def _card(self, customer: _Customer, method: str) -> tuple[str | None, str | None]:
        if not self.methods[method][1]:
            return None, None
        saved = [card for card in customer.cards if card[0] == method]
        if saved and self.rng.random() < 0.75:
            _, brand, last_four = self.rng.choice(saved)
            return brand, last_four
        return BRAND_CHOICE(self.rng), f"{self.rng.randint(0, 9999):04d}"

    def _sell(self, event: _Event) -> Callable[[Connection], int]:
        """Simulate the event's sales in time order; returns the job that writes them with the event's
        inventory and counts (in the writer's transaction) and answers the number of tickets."""
        rng, now = self.rng, self.now
        if event.status == "draft" or event.sales_start >= now:
            def write_unsold(connection: Connection) -> int:
                open_inventory(connection, event.event_id)
                return 0

            return write_unsold
        cutoff = min(event.sales_end + dt.timedelta(seconds=1), now, event.cancel_at or now)
        inventory = _Inventory(event.venue, rng)
        categories = sorted(inventory.order, key=self.rank_of.get)
        choose = {
            vip: _Choice([(c, (VIP_CATEGORY_CHOICE if vip else CATEGORY_CHOICE)[self.category_names[c]])
                          for c in categories])
            for vip in (False, True)}
        returns: list[tuple[dt.datetime, int, list[tuple[int, int]]]] = []
        refunded_at: list[dt.datetime] = []
        sales: list[_Sale] = []
        payments: list[tuple] = []
        ledger: dict[int, list] = {}

        def release(until: dt.datetime) -> None:
            while returns and returns[0][0] < until:
                for seat, category_id in heapq.heappop(returns)[2]:
                    inventory.returned[category_id].append(seat)

        def sell(at: dt.datetime, size: int, refundable: bool) -> None:
            release(at)
            customer = self._buyer(at)
            vip = customer.member_since is not None and at.date() >= customer.member_since
            seats = sorted(self._take(inventory, choose[vip](rng), size))
            if not seats:
                return
            promo = self._promo_for(event, at, vip)
            priced = price_order([event.prices[c] for _, c in seats], customer.vip_rate if vip else Decimal("0"),
                                 promo.rule if promo else None)
            if promo is not None:
                promo.used += 1
            sale = _Sale(self._next_id("bookings"), customer, at, seats, priced,
                         promo.discount_id if promo else None, [self._next_id("tickets") for _ in seats])
            sales.append(sale)
            self._pay(event, sale, payments, ledger)
            if refundable and rng.random() < REFUND_RATE:
                at = self._refund_some(event, sale, payments, ledger, returns)
                if at is not None:
                    refunded_at.append(at)

        for at, size in self._intents(event, cutoff):
            sell(at, size, refundable=event.cancel_at is None)
        if event.sold_out and refunded_at:
            # Seats given back before a sell-out are sold again by the end of the sales window.
            resale_from = max(refunded_at) + dt.timedelta(minutes=1)
            release(cutoff)
            while sum(inventory.free(c) for c in categories) and resale_from < cutoff:
                sell(self._moment(resale_from, cutoff - dt.timedelta(seconds=1)),
                     min(GROUP_SIZE_CHOICE(rng), event.max_seats), refundable=False)
        if event.cancel_at is not None:
            for sale in sales:
                self._refund(sale, [i for i in range(len(sale.seats)) if i not in sale.refunded], event.cancel_at,
                             payments, ledger)

        return self._write(event, sales, payments, ledger)

    def _pay(self, event: _Event, sale: _Sale, payments: list[tuple], ledger: dict[int, list]) -> None:
        """The captured charge of the booking's total, sometimes after a declined or failed attempt."""
        rng = self.rng
        total = sale.priced.total
        if total == 0:
            return
        method = PAYMENT_CHOICE(rng)
        customer_id = sale.customer.customer_id
        roll = rng.random()
        if roll < DECLINE_RATE + FAILURE_RATE and method != "paypal":
            at = sale.booked_at - dt.timedelta(seconds=rng.randint(40, 900))
            if method == "gift_card":
                status, reason, brand, last_four = "declined", GIFT_CARD_DECLINE, None, None
            else:
                status = "failed" if roll < FAILURE_RATE else "declined"
                reason = CARD_FAILURE if status == "failed" else rng.choice(CARD_DECLINES)
                brand, last_four = BRAND_CHOICE(rng), f"{rng.randint(0, 9999):04d}"
            payment_id = self._next_id("payments")
            reference = self._reference(payment_id)
            payments.append((payment_id, "charge", status, None, customer_id, self.methods[method][0], total, brand,
                             last_four, reference, None, reason, at))
            ledger[payment_id] = [reference, f"demo-{payment_id:010d}", method, total, status, reason, brand, last_four,
                                  Decimal("0.00"), at]
        brand, last_four = self._card(sale.customer, method)
        sale.charge_id = self._next_id("payments")
        reference = self._reference(sale.charge_id)
        payments.append((sale.charge_id, "charge", "captured", sale.booking_id, customer_id, self.methods[method][0],
                         total, brand, last_four, reference, None, None, sale.booked_at))
        ledger[sale.charge_id] = [reference, f"demo-{sale.charge_id:010d}", method, total, "captured", None, brand,
                                  last_four, Decimal("0.00"), sale.booked_at]

    def _refund_some(self, event: _Event, sale: _Sale, payments: list[tuple], ledger: dict[int, list],
                     returns: list) -> dt.datetime | None:
        """A customer (or the box office) refunds all or some tickets, within the event's refund policy;
        the seats go back on sale. Returns when, or None if the policy left no time for it."""
        rng = self.rng
        earliest = sale.booked_at + dt.timedelta(hours=1)
        latest = min(event.starts_at - dt.timedelta(hours=event.refundable_hours), self.now - dt.timedelta(seconds=1))
        if earliest >= latest:
            return None
        at = self._moment(earliest, min(latest, earliest + dt.timedelta(days=30)))
        count = len(sale.seats)
        keep_some = count > 1 and rng.random() < 0.4
        chosen = sorted(rng.sample(range(count), rng.randint(1, count - 1))) if keep_some else list(range(count))
        self._refund(sale, chosen, at, payments, ledger)
        heapq.heappush(returns, (at, sale.booking_id, [sale.seats[i] for i in chosen]))
        return at

    def _refund(self, sale: _Sale, indexes: list[int], at: dt.datetime, payments: list[tuple],
                ledger: dict[int, list]) -> None:
        """Refund the tickets at `indexes`: exactly their paid shares go back to the charge's method."""
        if not indexes:
            return
        for index in indexes:
            sale.refunded[index] = at
        amount = sum((sale.priced.paid_shares[i] for i in indexes), Decimal("0.00"))
        if amount > 0 and sale.charge_id is not None:
            charge = ledger[sale.charge_id]
            charge[8] += amount
            method_id = self.methods[charge[2]][0]
            payments.append((self._next_id("payments"), "refund", "refunded", sale.booking_id,
                             sale.customer.customer_id, method_id, amount, charge[6], charge[7],
                             f"{charge[0]}_r{self._hex(8)}", sale.charge_id, None, at))

    # ------------------------------------------------------------ writing one event

    def _write(self, event: _Event, sales: list[_Sale], payments: list[tuple],
               ledger: dict[int, list]) -> Callable[[Connection], int]:
        """The rows of the event's sales, and the job that writes them."""
        rng = self.rng
        checked_in = event.cancel_at is None and event.starts_at + dt.timedelta(hours=2) < self.now
        bookings, tickets, uses = [], [], {}
        sold: set[int] = set()
        for sale in sales:
            priced = sale.priced
            refunded = len(sale.refunded)
            status = "confirmed" if not refunded else "refunded" if refunded == len(sale.seats) else "partially_refunded"
            bookings.append((sale.booking_id, self._code(10), sale.customer.customer_id, event.event_id, status,
                             priced.subtotal, priced.vip_discount, priced.promo_discount, priced.total,
                             sale.discount_id, None, sale.booked_at))
            if sale.discount_id is not None:
                uses[sale.discount_id] = uses.get(sale.discount_id, 0) + 1
            # The whole party arrives together (or not at all), some time around the doors opening.
            arrived = (event.starts_at - dt.timedelta(minutes=rng.randint(-25, 75))
                       if checked_in and rng.random() < CHECK_IN_RATE else None)
            for index, ((seat_id, category_id), ticket_id) in enumerate(zip(sale.seats, sale.ticket_ids)):
                if index in sale.refunded:
                    state, checked_at, refunded_at = "refunded", None, sale.refunded[index]
                else:
                    sold.add(seat_id)
                    checked_at = arrived + dt.timedelta(seconds=rng.randint(0, 40) * index) if arrived else None
                    state, refunded_at = ("checked_in" if checked_at else "valid"), None
                tickets.append((ticket_id, self._code(12), sale.booking_id, event.event_id, seat_id, category_id,
                                event.prices[category_id], priced.paid_shares[index], state, checked_at, refunded_at))
        inventory = tuple(sorted(sold))
        charges = [tuple(ledger[payment_id]) for payment_id in sorted(ledger)]
        payments = sorted(payments)
        event_id = event.event_id
        cancelled = event.cancel_at is not None

        def write(connection: Connection) -> int:
            if inventory:
                _execute(connection, INSERT_INVENTORY, (inventory, event_id))
                # Counted from the inventory just written, as open_inventory counts it (module docstring).
                _execute(connection, COUNT_CATEGORY_SEATS, (event_id, event_id))
                _execute(connection, COUNT_EVENT_SEATS, (event_id, event_id, event_id))
            else:
                open_inventory(connection, event_id)
            # check_booking_date checks every one of these rows against its booked_at.
            _insert(connection, INSERT_BOOKING, bookings)
            _insert(connection, INSERT_TICKET, tickets)
            _insert(connection, INSERT_PAYMENT, payments)
            _insert(connection, INSERT_GATEWAY_CHARGE, charges)
            for discount_id, count in sorted(uses.items()):
                _execute(connection, COUNT_PROMO_USES, (count, discount_id))
            if cancelled:
                # Only now, after its bookings: check_booking_date refuses bookings for a cancelled event.
                _execute(connection, CANCEL_EVENT, (event_id,))
            return len(tickets)

        return write


class _Choice:
    """A weighted choice with its cumulative weights worked out once (the sales loop draws millions)."""

    def __init__(self, options: Sequence[tuple[Any, float]]):
        self.values = [value for value, _ in options]
        self.cumulative = list(itertools.accumulate(weight for _, weight in options))

    def __call__(self, rng: Random) -> Any:
        return self.values[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


HOUR_CHOICE = _Choice(list(enumerate(HOUR_WEIGHT)))
GROUP_SIZE_CHOICE = _Choice(GROUP_SIZES)
PAYMENT_CHOICE = _Choice(PAYMENT_METHODS)
BRAND_CHOICE = _Choice(CARD_BRANDS)
