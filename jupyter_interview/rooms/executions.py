"""What the server itself saw a room's kernel execute: the seam between the kernel side and history.

The outputs that a browser writes into the shared notebook can be forged by any client, so history,
replay and the activity feed take executions from the server's own view of the kernel's messages.
The kernel side (`server_ext.kernel_traffic`) publishes an `Execution` when a participant's
`execute_request` reaches a room kernel and again when the kernel answers it (or a limit or a death
ends it); history (`rooms.history`) and the activity feed subscribe. No tornado, no ZMQ here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

# started: the request reached the kernel; the rest end an execution.
#   ok / error: the kernel's execute_reply said so; aborted: the kernel skipped it (an earlier error);
#   timeout: the wall-clock limit stopped it; died: the kernel died (OOM kill, crash) while it ran;
#   restarted: the kernel was restarted (by a user, or after an interrupt did not stop it).
ExecutionStatus = Literal["started", "ok", "error", "aborted", "timeout", "died", "restarted"]


@dataclass(frozen=True)
class Execution:
    room_id: str
    kernel_id: str
    msg_id: str  # the execute_request's msg_id: one execution, two events (started, then its end)
    participant_id: str | None  # who asked; None when nobody of the room did (the owner, a tool)
    code: str
    cell_id: str | None  # the request's metadata.cellId where the frontend sent one
    status: ExecutionStatus
    started_at: float  # time.time() when the request reached the kernel
    ended_at: float | None = None
    execution_count: int | None = None
    # nbformat v4 outputs (stream, execute_result, display_data, error), as the kernel sent them,
    # capped at the server's output limit: `truncated` says when the cap cut them.
    outputs: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    truncated: bool = False
    reason: str | None = None  # a human sentence for timeout / died / restarted


# Where InterviewApp puts the one ExecutionFeed of the server, in the tornado settings.
EXECUTIONS_KEY = "jupyter_interview.executions"

Listener = Callable[[Execution], None]


class ExecutionFeed:
    """A synchronous fan-out: listeners are called in order, on the event loop, and must not block."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def publish(self, execution: Execution) -> None:
        for listener in list(self._listeners):
            listener(execution)
