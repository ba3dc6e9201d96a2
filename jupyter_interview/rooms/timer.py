"""The interview's server-authoritative timer: pure state and arithmetic, persisted by the store."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from jupyter_interview.errors import Conflict

IDLE, RUNNING, PAUSED, EXPIRED = "idle", "running", "paused", "expired"


@dataclass(frozen=True)
class Timer:
    status: str = IDLE
    duration_s: float = 0.0
    elapsed_s: float = 0.0  # time run before the current run started
    started_at: float | None = None  # wall time the current run started, while running

    def elapsed(self, now: float) -> float:
        running = now - self.started_at if self.status == RUNNING and self.started_at is not None else 0.0
        return min(self.duration_s, self.elapsed_s + max(0.0, running))

    def remaining(self, now: float) -> float:
        return max(0.0, self.duration_s - self.elapsed(now))

    def ends_at(self) -> float | None:
        if self.status != RUNNING or self.started_at is None:
            return None
        return self.started_at + self.duration_s - self.elapsed_s

    def start(self, now: float, duration_s: float) -> Timer:
        if self.status in (RUNNING, PAUSED):
            raise Conflict(f"the timer is {self.status}; start it once", code="timer_already_started")
        return Timer(RUNNING, float(duration_s), 0.0, now)

    def pause(self, now: float) -> Timer:
        if self.status != RUNNING:
            raise Conflict(
                f"the timer is {self.status}; only a running timer pauses", code="timer_not_running"
            )
        return Timer(PAUSED, self.duration_s, self.elapsed(now), None)

    def resume(self, now: float) -> Timer:
        if self.status != PAUSED:
            raise Conflict(
                f"the timer is {self.status}; only a paused timer resumes", code="timer_not_paused"
            )
        return Timer(RUNNING, self.duration_s, self.elapsed_s, now)

    def extend(self, now: float, minutes: int) -> Timer:
        if self.status == IDLE:
            raise Conflict("the timer has not started; start it first", code="timer_not_started")
        if self.status == EXPIRED:
            # Extending after time ran out restarts the clock for the extra minutes.
            return Timer(RUNNING, self.duration_s + minutes * 60, self.duration_s, now)
        return replace(self, duration_s=self.duration_s + minutes * 60)

    def expire(self, now: float) -> Timer:
        return Timer(EXPIRED, self.duration_s, self.duration_s, None)

    def is_due(self, now: float) -> bool:
        return self.status == RUNNING and self.remaining(now) <= 0

    def to_json(self, now: float) -> dict[str, Any]:
        return {
            "status": self.status,
            "duration_s": self.duration_s,
            "elapsed_s": round(self.elapsed(now), 3),
            "started_at": self.started_at,
            "ends_at": self.ends_at(),
            "server_now": now,
        }

    def to_store(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "duration_s": self.duration_s,
            "elapsed_s": self.elapsed_s,
            "started_at": self.started_at,
        }

    @classmethod
    def from_store(cls, data: dict[str, Any]) -> Timer:
        return cls(data["status"], data["duration_s"], data["elapsed_s"], data.get("started_at"))
