"""What a visitor needs to know of a venue, as the admin writes it: address, map link, directions, access
and facilities (boxoffice/venue_info.py shows them on the event page, the order, the e-tickets and the
mail). The venue's layout is venues.py's."""
from __future__ import annotations

import sqlalchemy as sa

from ..errors import BoxOfficeError
from ..extensions import db
from ..models import Venue
from .unit_of_work import unit_of_work

MESSAGES = {"ck_venues_map_url": "A map link must be an https:// address."}


def update_visitor_info(venue_id: int, *, address: str, map_url: str, directions: str, access_info: str,
                        facilities: str) -> None:
    """Save the venue's visitor information (texts as written, trimmed). Raises BoxOfficeError for no
    such venue or a map link that is not https:// (ck_venues_map_url)."""
    with unit_of_work(messages=MESSAGES):
        changed = db.session.execute(sa.update(Venue).where(Venue.venue_id == venue_id).values(
            address=address.strip(), map_url=map_url.strip(), directions=directions.strip(),
            access_info=access_info.strip(), facilities=facilities.strip())).rowcount
        if changed != 1 and db.session.get(Venue, venue_id) is None:
            raise BoxOfficeError("There is no such venue.")
