"""The one clock: aware UTC datetimes, whole seconds. Services read the time from ``Core.now()``, which
calls the clock it was given (this one, or a test's)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
