"""Rate limits on room creation, invite issuing and join attempts, per identity and per client address."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from jupyter_interview.errors import RateLimited


class RateLimits:
    """Named limits ("create_room": "30/minute") checked against several keys at once.

    A moving window of N hits per period behaves as a token bucket of capacity N refilled
    over the period: bursts up to N pass, sustained excess is refused with a Retry-After.
    """

    def __init__(self, limits: dict[str, str], storage: Storage | None = None) -> None:
        self.items: dict[str, RateLimitItem] = {}
        for name, text in limits.items():
            try:
                self.items[name] = parse(text)
            except ValueError as e:
                raise ValueError(f"rate limit '{name}': '{text}' is not like '30/minute' ({e})") from e
        self.limiter = MovingWindowRateLimiter(storage or MemoryStorage())

    def hit(self, name: str, *keys: str) -> None:
        """Count one attempt for every key; refuse if any key is over its limit."""
        item = self.items.get(name)
        if item is None:
            return
        for key in keys:
            if not self.limiter.hit(item, name, key):
                stats = self.limiter.get_window_stats(item, name, key)
                retry = max(1, math.ceil(stats.reset_time - time.time()))
                raise RateLimited(
                    f"too many {name.replace('_', ' ')} requests ({item}); retry in {retry} s",
                    retry_after_s=retry,
                )
