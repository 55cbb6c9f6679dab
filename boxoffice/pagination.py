"""Pages of rows for every list in the app (Flask-SQLAlchemy's paginate only takes single-entity selects)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

import sqlalchemy as sa

from .extensions import db

T = TypeVar("T")
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def paginate(query: sa.Select, page: int, per_page: int, build: Callable[[Any], T] = lambda row: row) -> Page[T]:
    """Run one page of `query` (1-based `page`, clamped to the pages there are) and count all its rows."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    page = max(1, min(page, max(1, math.ceil(total / per_page))))
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page([build(row) for row in rows], page, per_page, total)
