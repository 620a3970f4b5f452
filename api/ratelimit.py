"""The public rate limit (``LICENSING_PUBLIC_RATE_LIMIT`` requests a minute per client address), counted
by the ``limits`` library: in this process's memory by default (one process, SQLite: nothing else to
run), in Redis when ``LICENSING_REDIS_URL`` is set, so that every worker and replica counts against one
window per address.

A fixed one-minute window: a burst at a window's edge may reach twice the limit, which is enough to stop
a script hammering the trial form or the sign-in link form (the forms also cap how much mail one
address gets). When Redis cannot be reached the process counts in its own memory meanwhile (each worker
its own window, so the limit is looser but a script is still stopped; refusing everyone because Redis is
down would be worse, letting everyone through would be no limit at all) and a warning is logged, at most
once a minute. Redis is asked again at most every few seconds (a Redis that does not answer must not cost
every request its timeout); once it answers, the counts are in Redis again.
"""

from __future__ import annotations

import logging
import math
import threading
import time

from limits import RateLimitItemPerMinute
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from starlette.concurrency import run_in_threadpool

from licensing.kit.errors import DomainError

log = logging.getLogger("licensing.api")
KEY_PREFIX = "licensing:ratelimit"
REDIS_TIMEOUT_SECONDS = 0.5  # a slow Redis must not hold up the public endpoints for long
WARN_EVERY_SECONDS = 60.0
RETRY_REDIS_SECONDS = 5.0  # while Redis is down, how often a request tries it again


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    title = "Too many requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def rate_limit_storage(redis_url: str | None, *, key_prefix: str = KEY_PREFIX) -> Storage:
    """Where the counts live: Redis at ``redis_url`` (redis://, rediss:// or unix://), else memory."""
    if not redis_url:
        return MemoryStorage()
    storage = storage_from_string(
        redis_url,
        key_prefix=key_prefix,
        wrap_exceptions=True,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )
    if not isinstance(storage, Storage):  # an async+ scheme: not for the synchronous limiter
        raise ValueError("LICENSING_REDIS_URL must be a redis://, rediss:// or unix:// address")
    return storage


class PublicRateLimit:
    """``per_minute`` requests a minute per client address; 0 turns the limit off."""

    def __init__(self, per_minute: int, storage: Storage, *, retry_seconds: float = RETRY_REDIS_SECONDS) -> None:
        self.per_minute = per_minute
        self.storage = storage
        self._item = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None
        self._limiter = FixedWindowRateLimiter(storage)
        # Counted where every worker sees it (Redis): a network round trip, kept off the event loop.
        self.shared = not isinstance(storage, MemoryStorage)
        # While the shared storage fails: this process's own counts, and when to try the storage again.
        self._fallback = FixedWindowRateLimiter(MemoryStorage()) if self.shared else self._limiter
        self._retry_seconds = retry_seconds
        self.degraded = False
        self._retry_at = -math.inf
        self._warned_at = -math.inf
        self._warn_lock = threading.Lock()

    async def hit(self, address: str) -> None:
        """Count a request from ``address``; :class:`RateLimited` when it is one too many."""
        if self._item is None:
            return
        retry_after = await run_in_threadpool(self._hit, address) if self.shared else self._hit(address)
        if retry_after is not None:
            raise RateLimited(
                f"More than {self.per_minute} requests a minute from {address}; wait a minute and try again.",
                retry_after=retry_after,
            )

    def _hit(self, address: str) -> int | None:
        """None when allowed, else the seconds until the window resets."""
        if self.degraded and time.monotonic() < self._retry_at:
            return self._count(self._fallback, address)  # Redis failed a moment ago: not asked again yet
        try:
            retry_after = self._count(self._limiter, address)
        except StorageError as exc:
            self._failed(exc)
            return self._count(self._fallback, address)
        if self.degraded:
            self._recovered()
        return retry_after

    def _count(self, limiter: FixedWindowRateLimiter, address: str) -> int | None:
        assert self._item is not None
        if limiter.hit(self._item, "public", address):
            return None
        reset_at = limiter.get_window_stats(self._item, "public", address).reset_time
        return max(1, math.ceil(reset_at - time.time()))

    def _failed(self, exc: StorageError) -> None:
        """Redis failed: count in memory, ask it again in a few seconds, warn at most once a minute."""
        with self._warn_lock:
            now = time.monotonic()
            self.degraded, self._retry_at = True, now + self._retry_seconds
            if now - self._warned_at < WARN_EVERY_SECONDS:
                return
            self._warned_at = now
        log.warning(
            "ratelimit.unavailable",
            extra={
                "error": f"{type(exc.storage_error).__name__}: {exc}"[:300],
                "detail": "Redis does not answer: counting in this process's memory until it does",
            },
        )

    def _recovered(self) -> None:
        with self._warn_lock:
            if not self.degraded:
                return
            self.degraded = False
        log.info("ratelimit.recovered", extra={"detail": "Redis answers again: counting in Redis"})

    def check(self) -> bool:
        """Whether the storage answers (for /readyz)."""
        try:
            return bool(self.storage.check())
        except Exception:  # any failure means not reachable
            return False
