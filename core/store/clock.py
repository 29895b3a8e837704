"""One notion of time for the store: naive UTC datetimes in the database, aware UTC in records.

Naive because SQLite has no time zone type and SQLAlchemy would silently drop one; every value
written goes through `utcnow()` so comparisons in SQL are consistent.
"""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def to_db(t: datetime) -> datetime:
    """Accept aware (any zone) or naive-UTC datetimes from callers."""
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc).replace(tzinfo=None)
    return t


def from_db(t: datetime | None) -> datetime | None:
    return None if t is None else t.replace(tzinfo=timezone.utc)
