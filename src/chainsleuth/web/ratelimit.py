"""Rate limits per client address: sign-in attempts and API calls.

Kept in process memory (moving windows from the ``limits`` library): one server process
serves the embedded default; a deployment with several processes puts its reverse proxy's
limits in front as well.
"""

from __future__ import annotations

import math
import time

from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from chainsleuth.core.config import Settings
from chainsleuth.core.errors import ConfigurationError, RateLimited


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        try:
            self.signin = parse(settings.rate_limit_signin)
            self.api = parse(settings.rate_limit_api)
        except ValueError as exc:
            raise ConfigurationError(f"invalid rate limit: {exc}") from exc
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

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
