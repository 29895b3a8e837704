"""Trying a unit of work again when it failed without writing anything. Outside core.store (no
imports: the GUI's labelling path imports it at start-up."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from core.errors import RetryableStoreError

T = TypeVar("T")


def retrying(fn: Callable[[], T], *, attempts: int = 3, pause_s: float = 0.2) -> T:
    """Run one whole unit of work again when it failed in a way that left nothing written (a lost
    connection, a deadlock, a lock timeout). The caller's work must be safe to repeat: label writes
    are (they are conditional on the version the user saw, so a repeat after a commit that did get
    through is a no-op or a reported conflict, never a second change)."""
    for attempt in range(attempts):
        try:
            return fn()
        except RetryableStoreError:
            if attempt == attempts - 1:
                raise
            time.sleep(pause_s * (attempt + 1))
    raise AssertionError("unreachable")
