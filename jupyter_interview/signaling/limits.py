"""Per-socket token buckets, one per rate class of events."""

from __future__ import annotations


class TokenBucket:
    """`rate` tokens a second, up to `burst`; a message takes one."""

    __slots__ = ("burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp: float | None = None

    def take(self, now: float) -> bool:
        if self.stamp is not None:
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


# (rate per second, burst) per class. Signaling is generous: a call's ICE trickle comes in bursts,
# and a busy interview sends a few messages a second at most.
DEFAULT_RATE_CLASSES: dict[str, tuple[float, float]] = {
    "control": (10.0, 20.0),
    "signaling": (200.0, 400.0),
    "chat": (5.0, 20.0),
    "typing": (10.0, 20.0),
    "reactions": (5.0, 10.0),
}
