"""Rate limits per client address: sign-in attempts and API calls.

Kept in process memory (moving windows from the ``limits`` library): one server process
serves the embedded default; a deployment with several processes puts its reverse proxy's
limits in front as well.
"""

from __future__ import annotations

import math
import threading
import time

from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from chainsleuth.core.config import Settings
from chainsleuth.core.errors import ConfigurationError, RateLimited

#: how often expired entries are swept from memory (``limits``' own is every 10 ms)
SWEEP_SECONDS = 1.0


class _Storage(MemoryStorage):
    """``limits``' memory storage, its expired entries swept once a second.

    The library starts a new timer thread 10 ms after the last sweep whenever a hit
    arrives: under steady API traffic, a thread (about 65 us of CPU) per request. The
    sweep only frees memory: the moving window compares each entry's time on every hit,
    so a slower sweep keeps a second's entries longer and decides the same."""

    # the name ``MemoryStorage`` calls (``self.__schedule_expiry`` in its own methods)
    def _MemoryStorage__schedule_expiry(self) -> None:
        if not self.timer.is_alive():
            sweep = getattr(self, "_MemoryStorage__expire_events")  # noqa: B009 - private
            self.timer = threading.Timer(SWEEP_SECONDS, sweep)
            self.timer.daemon = True
            self.timer.start()


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        try:
            self.signin = parse(settings.rate_limit_signin)
            self.api = parse(settings.rate_limit_api)
        except ValueError as exc:
            raise ConfigurationError(f"invalid rate limit: {exc}") from exc
        self._limiter = MovingWindowRateLimiter(_Storage())

    def hit(self, item: RateLimitItem, scope: str, key: str) -> None:
        if self._limiter.hit(item, scope, key):
            return
        reset = self._limiter.get_window_stats(item, scope, key).reset_time
        retry_after = max(1, math.ceil(reset - time.time()))
        raise RateLimited(
            f"too many requests: try again in {retry_after} seconds", retry_after=retry_after
        )


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def limit_signin(request: Request) -> None:
    """For the sign-in, second-factor and enrolment forms (POST only)."""
    if request.method == "POST":
        limits: RateLimits = request.app.state.rate_limits
        limits.hit(limits.signin, "signin", _client(request))


def limit_api(request: Request) -> None:
    limits: RateLimits = request.app.state.rate_limits
    limits.hit(limits.api, "api", _client(request))
