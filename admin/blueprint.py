"""The admin blueprint and what its views share."""
from __future__ import annotations

from flask import Blueprint, request

from boxoffice.forms import record_id

bp = Blueprint("admin", __name__)

PAGE_SIZE = 25


def page_number() -> int:
    """The page of a list that the request asks for (1 when it asks for none or nonsense)."""
    return request.args.get("page", 1, type=record_id)
