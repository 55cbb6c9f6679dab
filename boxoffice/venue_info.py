"""A venue as a visitor needs to know it: where it is, a map, how to get there, access and facilities.

One value for every page, e-ticket, PDF and mail that shows the venue, whether it was read as the Venue
entity or by a query of its own."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

# Where a map link goes when the admin gave none: a search for the address (no key, no script of ours).
MAP_SEARCH = "https://www.openstreetmap.org/search?"


@dataclass(frozen=True)
class VenueInfo:
    name: str
    city: str
    address: str
    map_url: str = ""
    directions: str = ""
    access_info: str = ""
    facilities: str = ""

    @classmethod
    def of(cls, venue) -> "VenueInfo":
        """From anything with the venue's columns as attributes (the entity, a row)."""
        return cls(venue.name, venue.city, venue.address, venue.map_url, venue.directions, venue.access_info,
                   venue.facilities)

    @property
    def place(self) -> str:
        """The venue's name and full address on one line."""
        return f"{self.name}, {self.address}, {self.city}" if self.address else f"{self.name}, {self.city}"

    @property
    def map_link(self) -> str:
        """The admin's map link, else a map search for the address."""
        return self.map_url or MAP_SEARCH + urlencode({"query": f"{self.address}, {self.city}"})

    def text_lines(self) -> str:
        """The venue for a plain-text mail: address, map, and whatever the admin wrote for visitors."""
        lines = [self.place, f"Map: {self.map_link}"]
        for title, text in (("Getting there", self.directions), ("Access", self.access_info),
                            ("Facilities", self.facilities)):
            if text.strip():
                lines.append(f"{title}: {text.strip()}")
        return "\n".join(lines)
