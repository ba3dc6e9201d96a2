"""The execution loop shared by every process-backed adapter: moves a running program's stdout and stderr
to the frontend (batched, rewritten to cell-relative names, capped), feeds its stdin from input_requests
and reads its driver's events, until the adapter says the cell is done.
"""

from __future__ import annotations

import codecs
import os
import re
import selectors
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .stdin import StdinFeed, blocked_reading

INPUT_PROMPT = "stdin (an empty line ends the input): "
_FLUSH_S = 0.05
_PARTIAL_LINE_S = 0.1
_STDIN_POLL_S = 0.03


@dataclass
class CellError:
    """What an `error` reply and iopub message carry."""

    ename: str
    evalue: str
    traceback: list[str] = field(default_factory=list)


class Frontend(Protocol):
    """What an adapter may do to the notebook during one execution (implemented by the kernel)."""

    def stream(self, name: str, text: str) -> None: ...

    def publish(self, msg_type: str, data: dict[str, Any]) -> None:
        """msg_type: "execute_result" or "display_data"; data: a mimebundle."""

    def input(self, prompt: str) -> str | None:
        """A line from the user, or None for end of input (empty reply, or stdin not allowed)."""


class OutputSink:
    """One execution's output on its way to the frontend.

    Text is held per stream until a line ends (or a partial line has waited 0.1 s, so prompts show), so
    that path rewriting sees whole lines. On stderr, from the first line matching `crash` on, the text is
    diverted into `crash_text` (it becomes the error's traceback instead of being printed twice).
    """

    def __init__(
        self,
        frontend: Frontend,
        rewrite: Callable[[str], str] = lambda text: text,
        crash: re.Pattern[str] | None = None,
        max_chars: int = 2_000_000,
    ) -> None:
        self._frontend = frontend
        self._rewrite = rewrite
        self._crash = crash
        self._buffers: dict[str, str] = {"stdout": "", "stderr": ""}
        self._since: dict[str, float] = {}
        self._left = max_chars
        self._max = max_chars
        self._truncated = False
        self.crash_text = ""

    def feed(self, name: str, text: str) -> None:
        if not text:
            return
        if not self._buffers[name]:
            self._since[name] = time.monotonic()
        self._buffers[name] += text

    def flush(self, force: bool = False) -> None:
        now = time.monotonic()
        for name in ("stdout", "stderr"):
            buf = self._buffers[name]
            if not buf:
                continue
            cut = buf.rfind("\n") + 1
            if force or now - self._since.get(name, now) >= _PARTIAL_LINE_S:
                cut = len(buf)
            if cut == 0:
                continue
            self._buffers[name] = buf[cut:]
            self._since[name] = now
            self._emit(name, self._rewrite(buf[:cut]))

    def _emit(self, name: str, text: str) -> None:
        if name == "stderr" and self._crash is not None:
            if self.crash_text:
                self.crash_text += text
                return
            match = self._crash.search(text)
            if match:
                self.crash_text = text[match.start() :]
                text = text[: match.start()]
        if not text:
            return
        if self._left <= 0:
            return
        if len(text) > self._left:
            text = text[: self._left]
            self._truncated = True
        self._left -= len(text)
        self._frontend.stream(name, text)
        if self._truncated:
            self._frontend.stream(
                "stderr", f"\n[output truncated: this cell printed more than {self._max} characters]\n"
            )

    def release_crash_text(self) -> None:
        """The program did not fail after all: print what was held back."""
        text, self.crash_text = self.crash_text, ""
        crash, self._crash = self._crash, None
        self._emit("stderr", text)
        self._crash = crash


class Channels:
    """Non-blocking readers over a process's stdout, stderr and (for drivers) its event pipe; they outlive
    one execution when the process does."""

    def __init__(self, stdout: int, stderr: int, events: int | None = None) -> None:
        self.names: dict[int, str] = {stdout: "stdout", stderr: "stderr"}
        self.events = events
        self._decoders = {
            fd: codecs.getincrementaldecoder("utf-8")(errors="replace")
            for fd in ([stdout, stderr] + ([events] if events is not None else []))
        }
        self._event_tail = ""
        self.open: set[int] = set(self._decoders)
        for fd in self.open:
            os.set_blocking(fd, False)

    def read(self, fd: int) -> tuple[str, bool]:
        """Everything readable now from fd, and whether it reached end-of-file."""
        chunks: list[str] = []
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return "".join(chunks), False
            except OSError:
                data = b""
            if not data:
                chunks.append(self._decoders[fd].decode(b"", final=True))
                self.open.discard(fd)
                return "".join(chunks), True
            chunks.append(self._decoders[fd].decode(data))

    def event_lines(self, text: str) -> list[str]:
        self._event_tail += text
        *lines, self._event_tail = self._event_tail.split("\n")
        return lines

    def drain_into(self, sink: OutputSink) -> None:
        for fd, name in self.names.items():
            if fd in self.open:
                sink.feed(name, self.read(fd)[0])

    def close(self) -> None:
        for fd in list(self._decoders):
            try:
                os.close(fd)
            except OSError:
                pass
        self.open.clear()


@dataclass
class PumpResult:
    exited: bool
    events_closed: bool


def pump(
    frontend: Frontend,
    sink: OutputSink,
    channels: Channels,
    *,
    cancel: threading.Event,
    on_event: Callable[[str], bool] = lambda line: False,
    proc: subprocess.Popen[bytes] | None = None,
    stdin: StdinFeed | None = None,
    roots: list[int] | None = None,
    stuck: Callable[[], None] | None = None,
    stuck_after: float = 3.0,
    nudge: Callable[[], None] | None = None,
) -> PumpResult:
    """Runs until on_event returns True (a driver said the cell is done), proc exits, or the event pipe
    closes (the driver died). An interrupt (cancel set) closes stdin so that a blocked read returns; the
    adapter has already told the program to stop, and `stuck` runs if it is still going stuck_after
    seconds later."""
    selector = selectors.DefaultSelector()
    for fd in channels.open:
        selector.register(fd, selectors.EVENT_READ)
    last_flush = last_poll = time.monotonic()
    result = PumpResult(exited=False, events_closed=False)
    cancelled_at: float | None = None
    last_nudge = 0.0
    try:
        while True:
            for key, _ in selector.select(_STDIN_POLL_S):
                fd = int(key.fd)
                text, eof = channels.read(fd)
                if eof:
                    selector.unregister(fd)
                if fd == channels.events:
                    for line in channels.event_lines(text):
                        if on_event(line):
                            channels.drain_into(sink)
                            return result
                    if eof:
                        result.events_closed = True
                        channels.drain_into(sink)
                        return result
                else:
                    sink.feed(channels.names[fd], text)
            if proc is not None and proc.poll() is not None:
                result.exited = True
                channels.drain_into(sink)
                return result
            now = time.monotonic()
            if cancel.is_set():
                if stdin is not None:
                    stdin.close()
                if cancelled_at is None:
                    cancelled_at = last_nudge = now
                elif nudge is not None and now - last_nudge >= 0.25:
                    nudge()
                    last_nudge = now
                if stuck is not None and now - cancelled_at > stuck_after:
                    stuck()
                    stuck = None
            if now - last_flush >= _FLUSH_S:
                sink.flush()
                last_flush = now
            if stdin is not None and not stdin.closed and roots and now - last_poll >= _STDIN_POLL_S:
                last_poll = now
                if stdin.pending() == 0 and blocked_reading(roots, stdin.ident):
                    channels.drain_into(sink)
                    sink.flush(force=True)
                    reply = frontend.input(INPUT_PROMPT)
                    if reply is None or cancel.is_set():
                        stdin.close()
                    else:
                        stdin.write(reply if reply.endswith("\n") else reply + "\n")
    finally:
        selector.close()
        sink.flush(force=True)
