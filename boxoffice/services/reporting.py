"""Reporting queries. Every one runs on the `reports` bind: the read-only database user, which can read
the views and call GetEventRevenueByMonth, and can write nothing."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from ..extensions import db


def _reports_rows(sql: str, **params: Any) -> list[dict[str, Any]]:
    with db.engines["reports"].connect() as connection:
        return [dict(row) for row in connection.execute(sa.text(sql), params).mappings()]


def top_revenue_events(limit: int = 10) -> list[dict[str, Any]]:
    """The best-earning events by net revenue, from the TopRevenueEvents view."""
    return _reports_rows(
        """SELECT event_id, title, venue_name, city, starts_at, tickets_sold, seats_total, occupancy_pct,
                  gross_revenue, refunded, net_revenue, revenue_rank
             FROM TopRevenueEvents
            WHERE net_revenue > 0
            ORDER BY revenue_rank, event_id
            LIMIT :limit""",
        limit=limit,
    )


def chart_data(rows: list[dict[str, Any]], label: str, value: str) -> dict[str, list]:
    """Labels and values for a Chart.js chart, money as plain numbers."""
    return {
        "labels": [row[label] for row in rows],
        "values": [float(row[value]) if isinstance(row[value], Decimal) else row[value] for row in rows],
    }
