"""The admin blueprint and what its views share."""
from __future__ import annotations

from flask import Blueprint, request

bp = Blueprint("admin", __name__)

PAGE_SIZE = 25


def page_number() -> int:
    """The page of a list that the request asks for (1 when it asks for none or nonsense)."""
    return max(1, request.args.get("page", 1, type=int))
