"""Shared dashboards: read-only links that open a dashboard without signing in.

A link carries a random token (256 bits); the database keeps only its SHA-256, so neither a copy of the
table nor a guessed id opens anything, and a token changed by one character matches no link at all. A link
opens until its expiry, or until an admin revokes it; the row stays as the record of what was shared.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

import sqlalchemy as sa

from ..clock import utcnow
from ..extensions import db
from ..models import ReportShare
from .reporting import ReportFilter
from .unit_of_work import unit_of_work

TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")
EXPIRY_DAYS = (1, 7, 30, 90)


class ShareLinkNotFound(LookupError):
    """No link has this token (it was mistyped or tampered with)."""


class ShareLinkGone(LookupError):
    """The link was revoked or has expired."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def create_share(f: ReportFilter, label: str, days: int, staff_id: int) -> tuple[ReportShare, str]:
    """A new link to the dashboard with filter `f`, open for `days` days. Returns the link's row and its
    token, which is shown this once and never stored. Raises ValueError for an expiry not in EXPIRY_DAYS."""
    if days not in EXPIRY_DAYS:
        raise ValueError(f"A link expires after one of {EXPIRY_DAYS} days.")
    token = secrets.token_urlsafe(32)
    now = utcnow().replace(microsecond=0)
    share = ReportShare(token_hash=_hash(token), label=label.strip() or "Dashboard", date_from=f.date_from,
                        date_to=f.date_to, venue_id=f.venue_id, event_id=f.event_id,
                        customer_type=f.customer_type, method_id=f.method_id, created_by=staff_id,
                        created_at=now, expires_at=now + dt.timedelta(days=days))
    with unit_of_work():
        db.session.add(share)
    return share, token


def open_share(token: str) -> tuple[ReportShare, ReportFilter]:
    """The link with this token and the filter it shows. Raises ShareLinkNotFound for a token no link has,
    ShareLinkGone for a revoked or expired link."""
    share = db.session.scalar(sa.select(ReportShare).where(ReportShare.token_hash == _hash(token))) \
        if TOKEN_FORMAT.fullmatch(token) else None
    if share is None:
        raise ShareLinkNotFound()
    if share.revoked_at is not None or share.expires_at <= utcnow():
        raise ShareLinkGone()
    return share, ReportFilter(share.date_from, share.date_to, share.venue_id, share.event_id, share.customer_type,
                               share.method_id)


def revoke_share(share_id: int | None) -> ReportShare:
    """Stop a link from opening (from now on; revoking twice keeps the first time). Raises ShareLinkNotFound."""
    share = db.session.get(ReportShare, share_id) if share_id is not None else None
    if share is None:
        raise ShareLinkNotFound()
    if share.revoked_at is None:
        with unit_of_work():
            share.revoked_at = utcnow().replace(microsecond=0)
    return share


def shares(limit: int = 50) -> list[ReportShare]:
    """The most recent links, newest first."""
    return list(db.session.scalars(
        sa.select(ReportShare).order_by(ReportShare.created_at.desc(), ReportShare.share_id.desc()).limit(limit)))


def is_open(share: ReportShare) -> bool:
    return share.revoked_at is None and share.expires_at > utcnow()
