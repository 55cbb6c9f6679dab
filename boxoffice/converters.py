"""URL converters. `<int:...>` in every route is an id: create_app registers BoundedIntConverter under the
name `int`, so an id above MAX_ID (the INT UNSIGNED columns' largest) matches no route and answers 404,
instead of reaching MariaDB as an out-of-range value (a 500), and every new route is bounded without
being told."""
from __future__ import annotations

from werkzeug.routing import IntegerConverter

from .forms import MAX_ID


class BoundedIntConverter(IntegerConverter):
    """Werkzeug's int converter (digits only, so never negative) with at most MAX_ID."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)
