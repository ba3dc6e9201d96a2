"""Languages with a REPL: a persistent driver process (Node, Ruby, the JShell API) that keeps the session's
state, fed one cell at a time.

Protocol: commands go to the driver's command pipe framed as "<op>\\t<arg>\\t<byte length>\\n<payload>"
(exec: arg is the cell's stdin FIFO, payload the code; complete: arg is the cursor; interrupt). The driver
answers on its event pipe with JSON lines: ready, result, display, error, completions and done. User
output is the driver's own stdout and stderr. A driver that dies is started again at the next cell, with
a notice that the earlier state is gone.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import threading
import time
from typing import Any

from ..languages import LanguageSpec
from ..pump import CellError, Channels, Frontend, OutputSink, pump
from ..stdin import StdinFeed
from .base import INTERRUPTED, Adapter, kill_group, spawn

_READY_TIMEOUT_S = 120.0
# After an interrupt, how long the driver gets to stop the cell itself before it is killed and restarted.
_STOP_GRACE_S = 3.0


class _Null:
    """A frontend for output nobody asked for (a driver's start-up)."""

    def stream(self, name: str, text: str) -> None:
        pass

    def publish(self, msg_type: str, data: dict[str, Any]) -> None:
        pass

    def input(self, prompt: str) -> str | None:
        return None


class ReplAdapter(Adapter):
    def __init__(self, spec: LanguageSpec) -> None:
        super().__init__(spec)
        self._proc: subprocess.Popen[bytes] | None = None
        self._channels: Channels | None = None
        self._cmd: int | None = None
        self._cmd_lock = threading.Lock()
        self._exec_lock = threading.Lock()
        self._ready = threading.Event()
        self._start_error: str | None = None
        self._restarted = False

    # -- per language ---------------------------------------------------------------------------------------
    def driver_argv(self, cmd_fd: int, evt_fd: int) -> list[str]:
        raise NotImplementedError

    def hello(self, evt_fd: int) -> str:
        """Text written to the command pipe right after the driver starts (a shell's set-up)."""
        return ""

    def exec_command(self, fifo: str, code: str, count: int) -> bytes:
        return self.frame("exec", fifo, code)

    def complete_command(self, code: str, cursor: int) -> bytes:
        return self.frame("complete", str(cursor), code)

    def parse_event(self, line: str) -> list[dict[str, Any]]:
        event: dict[str, Any] = json.loads(line)
        return [event]

    def nudge(self, proc: subprocess.Popen[bytes]) -> None:
        """Called every 0.25 s after an interrupt until the cell ends: the first request may have reached
        the driver before it began the cell (drivers ignore interrupts between cells)."""
        self.stop_running_cell(proc)

    def stop_running_cell(self, proc: subprocess.Popen[bytes]) -> None:
        """Asks the driver to abandon the running cell (default: SIGINT to the driver alone)."""
        try:
            os.kill(proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass

    # -- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        # Spawned on this (long-lived) thread, since the driver's parent-death signal follows the thread
        # that forked it; only the wait for its "ready" runs in the background.
        self._ready.clear()
        if self._spawn():
            threading.Thread(target=self._await_ready, name="driver-ready", daemon=True).start()

    def _launch(self) -> None:
        self._ready.clear()
        if self._spawn():
            self._await_ready()

    def _spawn(self) -> bool:
        self._start_error = None
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()
        try:
            proc = spawn(self.driver_argv(cmd_r, evt_w), self.env, pass_fds=(cmd_r, evt_w), cwd=os.getcwd())
        except OSError as exc:
            for fd in (cmd_r, cmd_w, evt_r, evt_w):
                os.close(fd)
            self._start_error = f"cannot start {self.spec.display_name}: {exc}"
            self._ready.set()
            return False
        os.close(cmd_r)
        os.close(evt_w)
        os.set_inheritable(cmd_w, False)
        assert proc.stdout is not None and proc.stderr is not None
        channels = Channels(proc.stdout.fileno(), proc.stderr.fileno(), events=evt_r)
        self._proc, self._channels, self._cmd = proc, channels, cmd_w
        greeting = self.hello(evt_w)
        if greeting:
            self.write(greeting.encode())
        return True

    def _await_ready(self) -> None:
        proc, channels = self._proc, self._channels
        assert proc is not None and channels is not None
        error = self._wait_ready(proc, channels)
        if error is not None:
            self._start_error = error
            kill_group(proc)
        self._ready.set()

    def _wait_ready(self, proc: subprocess.Popen[bytes], channels: Channels) -> str | None:
        sink = OutputSink(_Null())
        stderr: list[str] = []
        selector = selectors.DefaultSelector()
        for fd in channels.open:
            selector.register(fd, selectors.EVENT_READ)
        deadline = time.monotonic() + _READY_TIMEOUT_S
        try:
            while time.monotonic() < deadline:
                for key, _ in selector.select(0.1):
                    fd = int(key.fd)
                    text, eof = channels.read(fd)
                    if eof:
                        selector.unregister(fd)
                    if fd == channels.events:
                        for line in channels.event_lines(text):
                            if line.strip() and any(e.get("ev") == "ready" for e in self.parse_event(line)):
                                return None
                        if eof:
                            proc.wait()
                            detail = "".join(stderr).strip()[-2000:]
                            return f"{self.spec.display_name} exited at start (status {proc.returncode}): {detail}"
                    elif channels.names[fd] == "stderr":
                        stderr.append(text)
                    else:
                        sink.feed("stdout", text)
            return f"{self.spec.display_name} did not start within {_READY_TIMEOUT_S:.0f}s"
        finally:
            selector.close()

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _discard(self) -> None:
        proc, channels, cmd = self._proc, self._channels, self._cmd
        self._proc = self._channels = self._cmd = None
        if proc is not None:
            kill_group(proc)
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        if channels is not None and channels.events is not None:
            os.close(channels.events)
        if cmd is not None:
            os.close(cmd)

    @staticmethod
    def frame(op: str, arg: str, payload: str = "") -> bytes:
        data = payload.encode()
        return f"{op}\t{arg}\t{len(data)}\n".encode() + data

    def send(self, op: str, arg: str, payload: str = "") -> None:
        self.write(self.frame(op, arg, payload))

    def write(self, data: bytes) -> None:
        with self._cmd_lock:
            if self._cmd is None:
                return
            try:
                while data:
                    data = data[os.write(self._cmd, data) :]
            except BrokenPipeError:
                pass

    def shutdown(self) -> None:
        self._discard()
        super().shutdown()

    # -- cells ----------------------------------------------------------------------------------------------
    def execute(self, code: str, frontend: Frontend, count: int) -> CellError | None:
        self._ready.wait()
        with self._exec_lock:
            if self.cancel.is_set():
                return INTERRUPTED
            if not self._alive():
                self._discard()
                self._launch()
                if self._start_error is None:
                    frontend.stream(
                        "stderr",
                        f"[{self.spec.display_name} had stopped and was started again: earlier definitions are gone]\n",
                    )
            if self._start_error is not None:
                return CellError("KernelError", self._start_error, [self._start_error])
            proc, channels = self._proc, self._channels
            assert proc is not None and channels is not None
            sink = OutputSink(frontend, self.rewrite)
            channels.drain_into(sink)  # output that arrived between cells
            sink.flush(force=True)
            feed = StdinFeed.fifo(self.scratch, f"stdin-{count}")
            state: dict[str, Any] = {"error": None}

            def on_event(line: str) -> bool:
                if not line.strip():
                    return False
                channels.drain_into(sink)  # the driver flushed its output before this event
                sink.flush(force=True)
                done = False
                for event in self.parse_event(line):
                    kind = event.get("ev")
                    if kind in ("result", "display"):
                        frontend.publish(
                            "execute_result" if kind == "result" else "display_data", event["data"]
                        )
                    elif kind == "error":
                        state["error"] = CellError(
                            event["ename"], event["evalue"], list(event.get("traceback", []))
                        )
                    done = done or kind == "done"
                return done

            try:
                self.write(self.exec_command(feed.path or "", code, count))
                result = pump(
                    frontend,
                    sink,
                    channels,
                    cancel=self.cancel,
                    on_event=on_event,
                    stdin=feed,
                    roots=[proc.pid],
                    stuck=lambda: kill_group(proc),
                    stuck_after=_STOP_GRACE_S,
                    nudge=lambda: self.nudge(proc),
                )
            finally:
                feed.close()
            if result.events_closed:
                proc.wait()
                self._discard()
                if self.cancel.is_set():
                    return INTERRUPTED
                status = proc.returncode
                message = (
                    f"{self.spec.display_name} exited (status {status}); the next cell starts a fresh session"
                )
                return CellError("KernelDied", message, [message])
            error: CellError | None = state["error"]
            if error is not None and error.ename == "KeyboardInterrupt":
                return INTERRUPTED
            return error

    def rewrite(self, text: str) -> str:
        return text.replace(str(self.scratch) + "/", "")

    def interrupt(self) -> None:
        self.cancel.set()
        proc = self._proc
        if self._exec_lock.locked() and proc is not None and proc.poll() is None:
            self.stop_running_cell(proc)

    def complete(self, code: str, cursor: int) -> tuple[list[str], int, int]:
        """Asks the driver when it is idle; falls back to keywords and the cell's words."""
        fallback = super().complete(code, cursor)
        if not self._ready.is_set() or not self._alive() or not self._exec_lock.acquire(timeout=0.05):
            return fallback
        try:
            channels = self._channels
            assert channels is not None and channels.events is not None
            self.write(self.complete_command(code, cursor))
            deadline = time.monotonic() + 2
            selector = selectors.DefaultSelector()
            selector.register(channels.events, selectors.EVENT_READ)
            try:
                while time.monotonic() < deadline:
                    if not selector.select(0.05):
                        continue
                    text, _ = channels.read(channels.events)
                    for line in channels.event_lines(text):
                        if not line.strip():
                            continue
                        for event in self.parse_event(line):
                            if event.get("ev") == "completions":
                                matches = list(event["matches"]) or fallback[0]
                                return matches, int(event["start"]), int(event["end"])
            finally:
                selector.close()
            return fallback
        finally:
            self._exec_lock.release()
