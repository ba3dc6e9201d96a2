"""The server's own view of room kernels' messages: who ran what, capped output, the wall-clock limit, deaths.

Only kernels in `RoomKernelManager.kernel_rooms` are touched; every other kernel's traffic passes
through exactly as upstream. Two parts:

- `KernelTrafficConnection`, the kernel websocket connection (`ServerApp.kernel_websocket_connection_class`).
  It attributes each `execute_request` to the socket's participant (its `current_user`, never the
  message), refuses what the participant may not send now (a candidate after End is read-only, so a
  socket opened before End cannot execute after it), refuses messages a browser sends "as the kernel"
  (iopub) and reused msg_ids, caps each execution's output on its way to the browser with one
  truncation notice, and shows the server's notices (time limit, death) in the cell.
- `KernelTraffic`, one per server (built by InterviewApp), with a `KernelWatch` per room kernel: its own
  iopub subscription, independent of any browser, from which it assembles each execution's outputs
  (nbformat v4, capped the same way) and publishes `Execution`s on the ExecutionFeed; it enforces the
  room's wall-clock limit (interrupt, then restart) and reports a kernel that dies during an execution.

The record comes from the kernel's iopub, never from a browser, so outputs a client writes into the
shared document cannot enter it. The server's own notices (time limit, death, truncation) are part
of the recorded outputs, as browsers show them. Limits of this view: the kernel runs the candidate's
code, so a kernel can label its messages as it likes (fresh parent ids get fresh output budgets; a
kernel that stops announcing `busy` escapes the wall clock); jupyter_server's iopub rate limits and
the sandbox's CPU-time limit stay the backstop for those.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_client.session import DELIM, Session
from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.websocket import WebSocketClosedError
from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from jupyter_interview.errors import NotFound
from jupyter_interview.rooms.executions import Execution, ExecutionFeed, ExecutionStatus
from jupyter_interview.rooms.models import RoomState
from jupyter_interview.rooms.service import Access, RoomService
from jupyter_interview.server_ext.identity import SESSION_COOKIE, InterviewUser

TRAFFIC_KEY = "jupyter_interview.kernel_traffic"
V1_PROTOCOL = "v1.kernel.websocket.jupyter.org"
KERNEL_ACTIONS = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"

# Messages whose content counts against an execution's output budget.
OUTPUT_TYPES = frozenset({"stream", "display_data", "execute_result", "error", "update_display_data"})
# What the watcher reads from iopub; everything else (comms, debug events) it skips unparsed.
WATCHED_TYPES = OUTPUT_TYPES | {"status", "execute_input", "clear_output"}
# What a participant below `execute` may still send: nothing that runs code in the kernel. (Inspection
# and completion evaluate attribute access on user objects, so they are refused too.)
READ_ONLY_MESSAGES = frozenset({"kernel_info_request", "comm_info_request"})
ACCESS_RANK = {Access.NONE: 0, Access.READ: 1, Access.EXECUTE: 2, Access.WRITE: 3}
# Bounds on per-kernel bookkeeping: executions tracked at once, msg_ids remembered against reuse.
MAX_PENDING = 256
# Parts of a v1 websocket frame: channel, header, parent, metadata, content and buffers.
MAX_V1_PARTS = 1024
MAX_RECENT = 4096
# How long an execution interrupted by a shutdown or restart waits for it to be announced.
STOP_WAIT_S = 30.0
# Executions per kernel whose output the record holds at once, in units of output_limit_bytes.
HELD_EXECUTIONS = 4
# Executions nobody's socket asked for, followed per kernel: a burst, then so many per second.
DIRECT_BURST = 50
DIRECT_RATE_PER_S = 10.0


def size_text(n: int) -> str:
    """Bytes as a person reads them: 1 MiB, 64 KiB, 1.5 MiB, 300 B."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            value = n / scale
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} B"


def truncation_notice(limit: int, cut: int) -> str:
    return (
        f"Output truncated: this cell's output passed the {size_text(limit)} limit of this interview;"
        f" the remaining {size_text(cut)} were not shown.\n"
    )


def limit_notice(limit_s: float) -> str:
    return f"Execution stopped: it ran longer than the {limit_s:g} s limit of this interview.\n"


RESTART_NOTICE = "The kernel did not stop and was restarted; variables are lost.\n"


def died_notice(reason: str) -> str:
    return f"The kernel died: {reason}. It is restarted; variables are lost.\n"


class OutputBudget:
    """Output bytes let through per execution (keyed by the request's msg_id) for one consumer.

    Sizes are those of the packed content (plus buffers) as the kernel sent it, so every consumer
    counts the same bytes without parsing them. Once anything of an execution was cut, the rest of
    it is cut too: an output never appears after a gap.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._used: OrderedDict[str, list[int]] = OrderedDict()  # msg_id -> [passed, cut]
        self.cutting = 0  # executions with something cut: status messages are parsed only then

    def take(self, key: str, size: int, partial: bool) -> int:
        """How many of `size` bytes may pass now: all, a part (only if `partial`), or none."""
        if self.limit <= 0:
            return size
        entry = self._used.get(key)
        if entry is None:
            entry = self._used[key] = [0, 0]
            if len(self._used) > MAX_PENDING:
                _, dropped = self._used.popitem(last=False)
                self.cutting -= dropped[1] > 0
        allowed = 0 if entry[1] else min(size, self.limit - entry[0])
        if allowed < size and not partial:
            allowed = 0
        entry[0] += allowed
        if allowed < size:
            self.cutting += entry[1] == 0
            entry[1] += size - allowed
        return allowed

    def finish(self, key: str) -> int:
        """Forget an execution; how many bytes of it were cut."""
        entry = self._used.pop(key, None)
        if entry is None or not entry[1]:
            return 0
        self.cutting -= 1
        return entry[1]


def v1_frame_ok(frame: Any) -> bool:
    """Whether a v1 kernel websocket frame's part count fits its size (the offsets are read that many times)."""
    if not isinstance(frame, bytes) or len(frame) < 16:
        return False
    count = int.from_bytes(frame[:8], "little")
    return 2 <= count <= MAX_V1_PARTS and len(frame) >= 8 * (count + 1)


def legacy_frame_ok(frame: bytes) -> bool:
    """The same for the legacy binary frame (a 4-byte buffer count, then 4-byte offsets)."""
    if len(frame) < 8:
        return False
    count = int.from_bytes(frame[:4], "big", signed=True)
    return 1 <= count <= MAX_V1_PARTS and len(frame) >= 4 * (count + 1)


def cut_stream_text(content: dict[str, Any], size: int, allowed: int) -> bool:
    """Shorten a stream message's text so its content fits `allowed` of its `size` bytes; False: nothing fits."""
    text = content.get("text")
    if not isinstance(text, str):
        return False
    raw = text.encode("utf-8", "surrogatepass")
    keep = allowed - (size - len(raw))
    if keep <= 0:
        return False
    content["text"] = raw[:keep].decode("utf-8", "ignore")
    return True


# ---------------------------------------------------------------------------------------------
# The server-side record
# ---------------------------------------------------------------------------------------------


@dataclass(eq=False)
class Run:
    """One execute_request as the watcher follows it, from request to its end."""

    msg_id: str
    header: dict[str, Any]  # the request's header: parent of the server's notices in the cell
    participant_id: str | None
    code: str
    cell_id: str | None
    requested_at: float
    generation: int  # the kernel's restart count when it was requested
    silent: bool = False
    announced: bool = False  # "started" published
    began: bool = False  # the kernel said busy for it: its clock runs
    saw_input: bool = False
    failed: bool = False
    execution_count: int | None = None
    outputs: list[dict[str, Any]] = field(default_factory=list)
    display_index: dict[str, list[int]] = field(default_factory=dict)
    clear_on_next: bool = False
    passed: int = 0
    cut: int = 0
    limit_s: float | None = None
    stopping: str | None = None  # "interrupt", then "restart", once the wall-clock limit hit
    timer: asyncio.TimerHandle | None = None
    done: bool = False


def add_output(run: Run, output: dict[str, Any], display_id: str | None = None) -> None:
    if run.clear_on_next:
        run.outputs.clear()
        run.display_index.clear()
        run.clear_on_next = False
    last = run.outputs[-1] if run.outputs else None
    if (
        output["output_type"] == "stream"
        and last is not None
        and last["output_type"] == "stream"
        and last["name"] == output["name"]
    ):
        # As notebook frontends do: consecutive text on one stream is one output.
        last["text"] += output["text"]
        return
    if display_id:
        run.display_index.setdefault(display_id, []).append(len(run.outputs))
    run.outputs.append(output)


class KernelWatch:
    """One room kernel's iopub, read by the server itself: executions, their outputs, limits, deaths."""

    def __init__(self, traffic: KernelTraffic, kernel_id: str, room_id: str) -> None:
        self.traffic = traffic
        self.kernel_id = kernel_id
        self.room_id = room_id
        self.runs: OrderedDict[str, Run] = OrderedDict()
        self.recent: OrderedDict[str, None] = OrderedDict()
        self.generation = 0
        self.stream: Any = None
        self.ports: list[int] = []
        self.session: Session | None = None
        self.restarting = False
        self.held = 0  # output bytes kept for executions still running
        self.unreadable = 0
        # Executions nobody's socket asked for are counted against a bucket: a kernel could announce
        # them by the thousand, and each one is published and stored by history.
        self.direct_tokens = float(DIRECT_BURST)
        self.direct_refilled = time.monotonic()

    @property
    def log(self) -> Any:
        return self.traffic.log

    # ---- life ----

    def start(self) -> None:
        mkm = self.traffic.kernel_manager
        km = mkm.get_kernel(self.kernel_id)
        self.session = km.session
        self._connect(km)
        # Registered when the kernel joins its room, before any browser connects: our "the kernel died"
        # notice reaches the cell before jupyter_server's "restarting" status clears the frontend's state.
        mkm.add_restart_callback(self.kernel_id, self._on_restarter, "restart")
        mkm.add_restart_callback(self.kernel_id, self._on_dead, "dead")

    def _connect(self, km: Any) -> None:
        self.ports = list(km.ports)
        self.stream = km.connect_iopub()
        self.stream.on_recv(self.on_iopub)

    def reconnect_if_moved(self) -> None:
        """After a restart that chose new ports, subscribe again where the kernel now publishes."""
        try:
            km = self.traffic.kernel_manager.get_kernel(self.kernel_id)
        except KeyError:
            return
        if list(km.ports) != self.ports:
            self._close_stream()
            self._connect(km)

    def _close_stream(self) -> None:
        if self.stream is not None and not self.stream.closed():
            self.stream.on_recv(None)
            self.stream.close()
        self.stream = None

    def stop(self) -> None:
        """The kernel left its room (shut down, or dropped after failed restarts)."""
        self._close_stream()
        mkm = self.traffic.kernel_manager
        died = self._death_reason()
        for run in list(self.runs.values()):
            if died is not None and run.began:
                self._finish(run, "died", died)
            else:
                self._finish(run, "aborted", "the kernel was shut down before it finished")
        if self.kernel_id in mkm:
            mkm.remove_restart_callback(self.kernel_id, self._on_restarter, "restart")
            mkm.remove_restart_callback(self.kernel_id, self._on_dead, "dead")

    def _death_reason(self) -> str | None:
        """Why the kernel died, if it died after the oldest execution still tracked began."""
        mkm = self.traffic.kernel_manager
        try:
            provisioner = mkm.get_kernel(self.kernel_id).provisioner
        except KeyError:
            return None
        when = getattr(provisioner, "last_exit_time", None)
        oldest = min((r.requested_at for r in self.runs.values()), default=None)
        if when is None or oldest is None or when < oldest:
            return None
        reason = getattr(mkm, "sandbox_exit_reason", lambda _k: None)(self.kernel_id)
        return str(reason) if reason else "it stopped unexpectedly"

    # ---- requests ----

    def known(self, msg_id: str) -> bool:
        return msg_id in self.runs or msg_id in self.recent

    def requested(
        self,
        header: dict[str, Any],
        content: dict[str, Any],
        metadata: dict[str, Any],
        participant_id: str | None,
    ) -> bool:
        """A participant's execute_request is about to reach the kernel. False: its msg_id was used."""
        msg_id = str(header.get("msg_id") or "")
        if not msg_id or self.known(msg_id):
            return False
        cell_id = metadata.get("cellId") if isinstance(metadata, dict) else None
        code = content.get("code") if isinstance(content, dict) else None
        run = Run(
            msg_id=msg_id,
            header=header,
            participant_id=participant_id,
            code=code if isinstance(code, str) else "",
            cell_id=cell_id if isinstance(cell_id, str) else None,
            requested_at=time.time(),
            generation=self.generation,
            silent=bool(content.get("silent")) if isinstance(content, dict) else False,
        )
        self._track(run)
        self._announce(run)
        return True

    def _track(self, run: Run) -> None:
        self.runs[run.msg_id] = run
        while len(self.runs) > MAX_PENDING:
            oldest = next(iter(self.runs.values()))
            self._finish(oldest, "aborted", "the server stopped following it (too many executions at once)")

    def _announce(self, run: Run) -> None:
        run.announced = True
        self.traffic.publish(self._execution(run, "started"))

    # ---- the kernel's iopub ----

    def on_iopub(self, msg_list: list[Any]) -> None:
        session = self.session
        if session is None:
            return
        try:
            _, fed = session.feed_identities(msg_list)
            header = session.unpack(fed[1])
            msg_type = header.get("msg_type")
            if msg_type not in WATCHED_TYPES:
                return
            parent = session.unpack(fed[2])
            if not isinstance(parent, dict) or parent.get("msg_type") != "execute_request":
                return
            msg_id = str(parent.get("msg_id") or "")
            run = self.runs.get(msg_id)
            if run is None:
                if msg_type not in ("status", "execute_input") or not msg_id or msg_id in self.recent:
                    return
                if not self._direct_allowed():
                    return
                run = self._direct(parent)
            self._handle(run, msg_type, session, fed[4], fed[5:])
        except Exception:
            self.unreadable += 1
            if self.unreadable == 1 or self.unreadable % 1000 == 0:
                self.log.warning(
                    "jupyter_interview: unreadable iopub message of kernel %s (%d so far)",
                    self.kernel_id,
                    self.unreadable,
                    exc_info=True,
                )

    def _direct_allowed(self) -> bool:
        now = time.monotonic()
        self.direct_tokens = min(
            DIRECT_BURST, self.direct_tokens + (now - self.direct_refilled) * DIRECT_RATE_PER_S
        )
        self.direct_refilled = now
        if self.direct_tokens < 1:
            return False
        self.direct_tokens -= 1
        return True

    def _direct(self, parent: dict[str, Any]) -> Run:
        """An execution nobody asked for through a participant's socket (the owner's tools, a client on the kernel)."""
        run = Run(
            msg_id=str(parent["msg_id"]),
            header=parent,
            participant_id=None,
            code="",
            cell_id=None,
            requested_at=time.time(),
            generation=self.generation,
        )
        self._track(run)
        return run

    def _handle(self, run: Run, msg_type: str, session: Session, raw: Any, buffers: list[Any]) -> None:
        if msg_type in OUTPUT_TYPES:
            self._output(run, msg_type, session, raw, buffers)
            return
        content = session.unpack(raw)
        if msg_type == "status":
            state = content.get("execution_state")
            if state == "busy" and not run.began:
                self._begin(run)
            elif state == "idle":
                self._ended(run)
        elif msg_type == "execute_input":
            run.saw_input = True
            if not run.code and isinstance(content.get("code"), str):
                run.code = content["code"]
            if isinstance(content.get("execution_count"), int):
                run.execution_count = content["execution_count"]
            if not run.announced:
                self._announce(run)
        elif msg_type == "clear_output":
            if content.get("wait"):
                run.clear_on_next = True
            else:
                run.outputs.clear()
                run.display_index.clear()
                run.clear_on_next = False

    def _output(self, run: Run, msg_type: str, session: Session, raw: Any, buffers: list[Any]) -> None:
        size = len(raw) + sum(len(b) for b in buffers)
        limit = self.traffic.output_limit_bytes
        allowed = size
        if limit > 0:
            # Also bounded per kernel: a kernel that keeps many executions open (it can announce
            # executions nobody asked for) holds at most a few executions' worth of output here.
            room = min(limit - run.passed, HELD_EXECUTIONS * limit - self.held)
            allowed = 0 if run.cut else max(min(size, room), 0)
            if allowed < size and msg_type != "stream":
                allowed = 0
            run.passed += allowed
            self.held += allowed
            run.cut += size - allowed
            if allowed == 0:
                return
        content = session.unpack(raw)
        if allowed < size and not cut_stream_text(content, size, allowed):
            return
        if msg_type == "stream":
            add_output(
                run, {"output_type": "stream", "name": content.get("name"), "text": content.get("text", "")}
            )
        elif msg_type == "error":
            run.failed = True
            add_output(
                run,
                {
                    "output_type": "error",
                    "ename": content.get("ename", ""),
                    "evalue": content.get("evalue", ""),
                    "traceback": content.get("traceback", []),
                },
            )
        elif msg_type == "execute_result":
            if isinstance(content.get("execution_count"), int):
                run.execution_count = content["execution_count"]
            add_output(
                run,
                {
                    "output_type": "execute_result",
                    "execution_count": content.get("execution_count"),
                    "data": content.get("data", {}),
                    "metadata": content.get("metadata", {}),
                },
            )
        else:
            display_id = (content.get("transient") or {}).get("display_id")
            data = {"data": content.get("data", {}), "metadata": content.get("metadata", {})}
            if msg_type == "update_display_data":
                for index in run.display_index.get(display_id or "", []):
                    if index < len(run.outputs):
                        run.outputs[index].update(data)
                return
            add_output(
                run,
                {"output_type": "display_data", **data},
                display_id if isinstance(display_id, str) else None,
            )

    # ---- the wall clock ----

    def _begin(self, run: Run) -> None:
        run.began = True
        # Kernels run a client's requests in order: one asked before this one and never begun, from
        # before the last restart, was lost with the old kernel.
        for other in list(self.runs.values()):
            if other is run:
                break
            if not other.began and other.generation < self.generation:
                self._finish(other, "restarted", "the kernel was restarted before it ran")
        limit = self.traffic.kernel_manager.exec_time_limit_s(self.kernel_id)
        if limit:
            run.limit_s = float(limit)
            run.timer = asyncio.get_running_loop().call_later(run.limit_s, self._on_limit, run)

    def _on_limit(self, run: Run) -> None:
        if run.done or run.limit_s is None:
            return
        run.stopping = "interrupt"
        self._notice(run, limit_notice(run.limit_s))
        self.traffic.spawn(self._interrupt())
        run.timer = asyncio.get_running_loop().call_later(self.traffic.interrupt_grace_s, self._on_grace, run)

    async def _interrupt(self) -> None:
        try:
            await self.traffic.kernel_manager.interrupt_kernel(self.kernel_id)
        except Exception:
            self.log.warning(
                "jupyter_interview: interrupting kernel %s failed", self.kernel_id, exc_info=True
            )

    def _on_grace(self, run: Run) -> None:
        if run.done:
            return
        run.stopping = "restart"
        self._notice(run, RESTART_NOTICE)
        self._finish(
            run,
            "timeout",
            f"it ran longer than the {run.limit_s:g} s limit; the kernel did not stop when interrupted and"
            " was restarted",
        )
        for other in list(self.runs.values()):
            self._finish(
                other, "restarted", "the kernel was restarted after another execution passed the time limit"
            )
        self.generation += 1
        self.traffic.send_status(self.kernel_id, "restarting")
        self.traffic.spawn(self._restart())

    async def _restart(self) -> None:
        self.restarting = True
        try:
            await self.traffic.kernel_manager.restart_kernel(self.kernel_id, now=True)
        except Exception:
            self.log.warning("jupyter_interview: restarting kernel %s failed", self.kernel_id, exc_info=True)
        finally:
            self.restarting = False

    # ---- ends ----

    def _ended(self, run: Run) -> None:
        if run.stopping is not None:
            self._finish(
                run, "timeout", f"it ran longer than the {run.limit_s:g} s limit and was interrupted"
            )
        elif self._being_stopped():
            # jupyter_client interrupts a kernel before it shuts it down or restarts it: the end
            # comes with the restart event ("restarted") or the kernel's removal ("aborted").
            run.timer = asyncio.get_running_loop().call_later(
                STOP_WAIT_S, self._finish, run, "aborted", "the kernel was stopped while it ran"
            )
        elif run.failed:
            self._finish(run, "error")
        elif not run.saw_input and not run.silent:
            # ipykernel answers a request it skips (after an earlier error) with busy and idle only.
            self._finish(run, "aborted")
        else:
            self._finish(run, "ok")

    def _being_stopped(self) -> bool:
        try:
            return bool(
                getattr(self.traffic.kernel_manager.get_kernel(self.kernel_id), "shutting_down", False)
            )
        except KeyError:
            return True

    def restarted(self) -> None:
        """Someone restarted the kernel (a user, or the restarter after a death we already reported)."""
        self.generation += 1
        if self.restarting:
            return
        for run in list(self.runs.values()):
            if run.began:
                self._finish(run, "restarted", "the kernel was restarted while it ran")

    def _on_restarter(self) -> None:
        """jupyter_client's restarter found the kernel dead and is about to start it again."""
        reason = self.traffic.kernel_manager.sandbox_exit_reason(self.kernel_id) or "it stopped unexpectedly"
        for run in list(self.runs.values()):
            self._notice(run, died_notice(reason))
            self._finish(run, "died", reason)
        self.generation += 1

    def _on_dead(self) -> None:
        """The restarter gave up: the kernel stays dead (and is removed)."""
        reason = (
            self.traffic.kernel_manager.sandbox_exit_reason(self.kernel_id) or "it could not be restarted"
        )
        for run in list(self.runs.values()):
            self._finish(run, "died", reason)

    def _notice(self, run: Run, text: str) -> None:
        """A message of the server in the execution's cell, for every browser on the kernel, and in the record."""
        self.traffic.send_stream(self.kernel_id, run.header, text)
        add_output(run, {"output_type": "stream", "name": "stderr", "text": text})

    def _finish(self, run: Run, status: ExecutionStatus, reason: str | None = None) -> None:
        if run.done:
            return
        run.done = True
        if run.timer is not None:
            run.timer.cancel()
            run.timer = None
        self.runs.pop(run.msg_id, None)
        self.held -= run.passed
        self.recent[run.msg_id] = None
        while len(self.recent) > MAX_RECENT:
            self.recent.popitem(last=False)
        if run.cut:
            add_output(
                run,
                {
                    "output_type": "stream",
                    "name": "stderr",
                    "text": truncation_notice(self.traffic.output_limit_bytes, run.cut),
                },
            )
        if not run.announced:
            self._announce(run)
        self.traffic.publish(self._execution(run, status, reason, ended=True))

    def _execution(
        self, run: Run, status: ExecutionStatus, reason: str | None = None, ended: bool = False
    ) -> Execution:
        return Execution(
            room_id=self.room_id,
            kernel_id=self.kernel_id,
            msg_id=run.msg_id,
            participant_id=run.participant_id,
            code=run.code,
            cell_id=run.cell_id,
            status=status,
            started_at=run.requested_at,
            ended_at=time.time() if ended else None,
            execution_count=run.execution_count if ended else None,
            outputs=tuple(dict(o) for o in run.outputs) if ended else (),
            truncated=bool(run.cut) if ended else False,
            reason=reason,
        )


# ---------------------------------------------------------------------------------------------
# The layer: one per server
# ---------------------------------------------------------------------------------------------


class WatchedRooms(dict[str, str]):
    """`RoomKernelManager.kernel_rooms`, telling the traffic layer when a kernel joins or leaves a room.

    Observing the one map the Authorizer already trusts means every way a kernel gets its room
    (a start for a room path, a kernel taken from a pool) is seen, with no hook to remember.
    """

    def __init__(self, initial: dict[str, str], traffic: KernelTraffic) -> None:
        super().__init__(initial)
        self._traffic = traffic

    def __setitem__(self, kernel_id: str, room_id: str) -> None:
        super().__setitem__(kernel_id, room_id)
        self._traffic.kernel_joined(kernel_id, room_id)

    def __delitem__(self, kernel_id: str) -> None:
        super().__delitem__(kernel_id)
        self._traffic.kernel_left(kernel_id)

    def pop(self, kernel_id: str, *default: Any) -> Any:
        had = kernel_id in self
        value = super().pop(kernel_id, *default)
        if had:
            self._traffic.kernel_left(kernel_id)
        return value

    def setdefault(self, kernel_id: str, room_id: str) -> str:
        if kernel_id not in self:
            self[kernel_id] = room_id
        return self[kernel_id]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for kernel_id, room_id in dict(*args, **kwargs).items():
            self[kernel_id] = room_id


class KernelTraffic(LoggingConfigurable):
    """Room kernels' traffic as the server sees it: the browsers' sockets and a watcher per kernel."""

    output_limit_bytes = Integer(
        1 << 20,
        config=True,
        help="Most output (stream text, displays, results, errors; bytes as the kernel sent them) one"
        " execution of a room kernel sends to each browser and keeps in the record; the rest is dropped"
        " with one notice in the cell. 0: no limit.",
    )
    interrupt_grace_s = Float(
        2.0,
        config=True,
        help="After the room's wall-clock limit interrupts an execution, how long the kernel has to stop"
        " before the server restarts it, in seconds.",
    )

    def __init__(self, kernel_manager: Any, feed: ExecutionFeed, service: RoomService, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_manager = kernel_manager
        self.feed = feed
        self.service = service
        self.watches: dict[str, KernelWatch] = {}
        self.sockets: dict[str, set[KernelTrafficConnection]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._event_logger: Any = None

    # ---- wiring ----

    def link(self, event_logger: Any) -> None:
        """Follow the kernel manager's room map and jupyter_server's kernel action events."""
        rooms = getattr(self.kernel_manager, "kernel_rooms", None)
        if not isinstance(rooms, dict):
            return
        if not isinstance(rooms, WatchedRooms):
            rooms = WatchedRooms(rooms, self)
            self.kernel_manager.kernel_rooms = rooms
        for kernel_id, room_id in list(rooms.items()):
            self.kernel_joined(kernel_id, room_id)
        if event_logger is not None:
            event_logger.add_listener(schema_id=KERNEL_ACTIONS, listener=self._on_kernel_action)
            self._event_logger = event_logger

    def close(self) -> None:
        for kernel_id in list(self.watches):
            self.kernel_left(kernel_id)
        if self._event_logger is not None:
            self._event_logger.remove_listener(schema_id=KERNEL_ACTIONS, listener=self._on_kernel_action)
            self._event_logger = None

    def kernel_joined(self, kernel_id: str, room_id: str) -> None:
        watch = self.watches.get(kernel_id)
        if watch is not None and watch.room_id == room_id:
            return
        if watch is not None:
            self.kernel_left(kernel_id)
        try:
            self.service.get_room(room_id)
        except NotFound:
            return  # a warm-pool slot (`.pool-*`): followed once it is given to a room
        watch = KernelWatch(self, kernel_id, room_id)
        try:
            watch.start()
        except Exception:
            self.log.error(
                "jupyter_interview: cannot follow kernel %s of room %s", kernel_id, room_id, exc_info=True
            )
            return
        self.watches[kernel_id] = watch

    def kernel_left(self, kernel_id: str) -> None:
        watch = self.watches.pop(kernel_id, None)
        if watch is not None:
            watch.stop()

    async def _on_kernel_action(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        if data.get("action") != "restart" or data.get("status") != "success":
            return
        watch = self.watches.get(str(data.get("kernel_id")))
        if watch is not None:
            watch.reconnect_if_moved()
            watch.restarted()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ---- used by the sockets ----

    def room_of(self, kernel_id: str) -> str | None:
        rooms = getattr(self.kernel_manager, "kernel_rooms", None) or {}
        room: str | None = rooms.get(kernel_id)
        return room

    def attach(self, conn: KernelTrafficConnection) -> None:
        self.sockets.setdefault(conn.kernel_id, set()).add(conn)

    def detach(self, conn: KernelTrafficConnection, kernel_id: str) -> None:
        conns = self.sockets.get(kernel_id)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self.sockets[kernel_id]

    def requested(
        self,
        kernel_id: str,
        header: dict[str, Any],
        content: dict[str, Any],
        metadata: dict[str, Any],
        participant_id: str | None,
    ) -> bool:
        watch = self.watches.get(kernel_id)
        if watch is None:
            room = self.room_of(kernel_id)
            if room is None:
                return True
            self.kernel_joined(kernel_id, room)
            watch = self.watches.get(kernel_id)
            if watch is None:
                return True
        return watch.requested(header, content, metadata, participant_id)

    # ---- to the browsers and the feed ----

    def send_stream(self, kernel_id: str, parent: dict[str, Any], text: str) -> None:
        for conn in list(self.sockets.get(kernel_id, ())):
            conn.send_to_browser("iopub", "stream", {"name": "stderr", "text": text}, parent)

    def send_status(self, kernel_id: str, state: str) -> None:
        for conn in list(self.sockets.get(kernel_id, ())):
            conn.send_to_browser("iopub", "status", {"execution_state": state}, None)

    def publish(self, execution: Execution) -> None:
        try:
            self.feed.publish(execution)
        except Exception:
            self.log.error("jupyter_interview: an execution listener failed", exc_info=True)


# ---------------------------------------------------------------------------------------------
# A browser's kernel socket
# ---------------------------------------------------------------------------------------------


class KernelTrafficConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's kernel websocket connection, room-aware for room kernels; unchanged for others."""

    _traffic: KernelTraffic | None = None
    _participant: InterviewUser | None = None
    _session_token = ""
    _budget: OutputBudget | None = None
    _attached_kernel: str | None = None
    _refused = 0

    # ---- lifecycle ----

    def connect(self) -> Any:
        # Tornado leaves Nagle on: each execution answers with several small frames (busy, input,
        # output, reply, idle), and every one after the first waited for the browser's delayed ACK
        # (about 40 ms per round trip, measured by bench/bench_kernel_traffic.py).
        handler = self.websocket_handler
        if handler is not None and handler.ws_connection is not None:
            handler.set_nodelay(True)
        self._attach()
        return super().connect()

    def _attach(self) -> None:
        handler = self.websocket_handler
        traffic = handler.settings.get(TRAFFIC_KEY) if handler is not None else None
        if not isinstance(traffic, KernelTraffic) or traffic.room_of(self.kernel_id) is None:
            return
        self._traffic = traffic
        user = handler.current_user
        if isinstance(user, InterviewUser) and not user.is_owner:
            self._participant = user
            self._session_token = handler.get_cookie(SESSION_COOKIE) or ""
        self._budget = OutputBudget(traffic.output_limit_bytes)
        self._attached_kernel = self.kernel_id
        traffic.attach(self)

    def disconnect(self) -> Any:
        if self._traffic is not None and self._attached_kernel is not None:
            self._traffic.detach(self, self._attached_kernel)
            self._attached_kernel = None
        return super().disconnect()  # type: ignore[no-untyped-call]

    # ---- browser -> kernel ----

    def handle_incoming_message(self, incoming_msg: Any) -> None:
        if isinstance(incoming_msg, bytes) and not (
            v1_frame_ok(incoming_msg) if self.subprotocol == V1_PROTOCOL else legacy_frame_ok(incoming_msg)
        ):
            # jupyter_server reads the frame's part count from its first 8 bytes and builds that many
            # offsets (0.26 s per million): a forged count of 2**56 stalls the server until its memory
            # runs out. Checked for every kernel's socket, a candidate's included.
            self._note_refusal("a malformed frame")
            return
        traffic = self._traffic
        if traffic is None or not self.channels:
            super().handle_incoming_message(incoming_msg)
            return
        try:
            if self.subprotocol == V1_PROTOCOL:
                channel, msg_list = deserialize_msg_from_ws_v1(incoming_msg)  # type: ignore[no-untyped-call]
                header = self.session.unpack(msg_list[0])
                msg: dict[str, Any] | None = None
            else:
                msg_list = []
                msg = (
                    deserialize_binary_message(incoming_msg)  # type: ignore[no-untyped-call]
                    if isinstance(incoming_msg, bytes)
                    else json.loads(incoming_msg)
                )
                channel = msg.get("channel") or "shell"
                header = msg["header"]
            msg_type = header.get("msg_type")
        except Exception:
            self.log.warning("jupyter_interview: unreadable message on kernel socket %s", self.kernel_id)
            return
        if channel == "iopub":
            # iopub is the kernel's voice: a browser writing to it would speak for the kernel.
            self._note_refusal("a message on the iopub channel")
            return
        refusal = self._refusal(msg_type)
        if refusal is not None:
            if msg_type == "execute_request":
                self._refuse_execution(header, refusal)
            else:
                self._note_refusal(str(msg_type))
            return
        # ipykernel also executes an execute_request that comes on the control channel.
        if msg_type == "execute_request":
            try:
                if msg is None:
                    content, metadata = self.session.unpack(msg_list[3]), self.session.unpack(msg_list[2])
                else:
                    content, metadata = msg.get("content") or {}, msg.get("metadata") or {}
            except Exception:
                self.log.warning("jupyter_interview: unreadable execute_request on kernel %s", self.kernel_id)
                return
            participant = self._participant.participant_id if self._participant is not None else None
            if not traffic.requested(self.kernel_id, header, content, metadata, participant):
                self._refuse_execution(header, "its msg_id was used before; send each request with a new one")
                return
        super().handle_incoming_message(incoming_msg)

    def _access(self) -> str:
        traffic, user = self._traffic, self._participant
        if traffic is None or user is None:
            return Access.WRITE
        identity = traffic.service.resolve(self._session_token)
        if identity is None or identity.participant.id != user.participant_id:
            return Access.NONE
        return traffic.service.access(identity.room, identity.participant)

    def _refusal(self, msg_type: Any) -> str | None:
        """Why this participant may not send this message now; None: it may."""
        if self._participant is None or msg_type in READ_ONLY_MESSAGES:
            return None
        if ACCESS_RANK.get(self._access(), 0) >= ACCESS_RANK[Access.EXECUTE]:
            return None
        traffic = self._traffic
        try:
            ended = (
                traffic is not None
                and traffic.service.get_room(self._participant.room_id or "").state is RoomState.ENDED
            )
        except NotFound:
            ended = False
        if ended:
            return "the interview has ended; the notebook is read-only now"
        return "you may not run code in this interview now"

    def _note_refusal(self, what: str) -> None:
        self._refused += 1
        if self._refused == 1 or self._refused % 100 == 0:
            user = self._participant
            self.log.info(
                "jupyter_interview: refused %s from %s on kernel %s (%d refused on this socket)",
                what,
                f"{user.role} {user.participant_id}" if user is not None else "the owner",
                self.kernel_id,
                self._refused,
            )

    def _refuse_execution(self, header: dict[str, Any], reason: str) -> None:
        """Answer the request ourselves, so the cell shows why and does not wait forever."""
        self._note_refusal("an execute_request")
        self.send_to_browser("iopub", "status", {"execution_state": "busy"}, header)
        self.send_to_browser(
            "iopub", "stream", {"name": "stderr", "text": f"Execution refused: {reason}.\n"}, header
        )
        self.send_to_browser(
            "shell",
            "execute_reply",
            {
                "status": "error",
                "ename": "PermissionError",
                "evalue": reason,
                "traceback": [],
                "execution_count": None,
            },
            header,
        )
        self.send_to_browser("iopub", "status", {"execution_state": "idle"}, header)

    # ---- kernel -> browser ----

    def handle_outgoing_message(self, stream: Any, outgoing_msg: list[Any]) -> None:
        budget = self._budget
        channel = stream if isinstance(stream, str) else getattr(stream, "channel", None)
        if budget is None or channel != "iopub":
            super().handle_outgoing_message(stream, outgoing_msg)
            return
        session = self.session
        try:
            idents, fed = session.feed_identities(outgoing_msg)
            parts = fed[1:]  # header, parent header, metadata, content, buffers
            msg_type = session.unpack(parts[0]).get("msg_type")
            if msg_type in OUTPUT_TYPES:
                parent = session.unpack(parts[1])
                key = str(parent.get("msg_id") or "") if isinstance(parent, dict) else ""
                size = len(parts[3]) + sum(len(b) for b in parts[4:])
                allowed = budget.take(key, size, partial=msg_type == "stream")
                if allowed == 0:
                    return
                if allowed < size:
                    content = session.unpack(parts[3])
                    if not cut_stream_text(content, size, allowed):
                        return
                    packed = session.pack(content)
                    signature = session.sign([parts[0], parts[1], parts[2], packed])
                    outgoing_msg = [*idents, DELIM, signature, *parts[:3], packed, *parts[4:]]
            elif msg_type == "status" and budget.cutting:
                content = session.unpack(parts[3])
                if content.get("execution_state") == "idle":
                    parent = session.unpack(parts[1])
                    cut = budget.finish(str(parent.get("msg_id") or ""))
                    if cut:
                        notice = {"name": "stderr", "text": truncation_notice(budget.limit, cut)}
                        self.send_to_browser("iopub", "stream", notice, parent)
        except Exception:
            self.log.warning("jupyter_interview: unreadable iopub message of kernel %s", self.kernel_id)
            return
        super().handle_outgoing_message(stream, outgoing_msg)

    def send_to_browser(
        self, channel: str, msg_type: str, content: dict[str, Any], parent: dict[str, Any] | None
    ) -> None:
        """A message from the server, in this socket's protocol (JupyterLab's v1 binary, or JSON)."""
        if self.websocket_handler is None:
            return
        try:
            msg = self.session.msg(msg_type, content=content, parent=parent)
        except Exception:
            return  # a request header without a msg_id: there is no cell to answer in
        try:
            if self.subprotocol == V1_PROTOCOL:
                self.write_message(
                    serialize_msg_to_ws_v1(msg, channel, self.session.pack),  # type: ignore[no-untyped-call]
                    binary=True,
                )
            else:
                msg["channel"] = channel
                self.write_message(json.dumps(msg, default=json_default))
        except WebSocketClosedError:
            pass


def install(
    serverapp: Any, settings: dict[str, Any], feed: ExecutionFeed, service: RoomService, parent: Any
) -> KernelTraffic:
    """Build the traffic layer for InterviewApp and make room kernels' sockets go through it.

    In a plain `jupyter server` / `jupyter lab` configuration nobody chose a kernel websocket
    connection class, and jupyter_server's default is replaced by ours; a deployment that chose
    another class keeps it, with a warning (the server-side record and limits still work).
    """
    log = parent.log
    chosen = "kernel_websocket_connection_class" in serverapp.config.ServerApp
    current = serverapp.kernel_websocket_connection_class
    if isinstance(current, type) and issubclass(current, KernelTrafficConnection):
        pass
    elif current is ZMQChannelsWebsocketConnection and not chosen:
        serverapp.kernel_websocket_connection_class = KernelTrafficConnection
        settings["kernel_websocket_connection_class"] = KernelTrafficConnection
    else:
        log.warning(
            "jupyter_interview: ServerApp.kernel_websocket_connection_class is %s, not KernelTrafficConnection:"
            " room kernels' executions are not attributed to participants, a candidate's socket opened"
            " before End can still execute, and output to browsers is not capped.",
            getattr(current, "__name__", current),
        )
    traffic = KernelTraffic(serverapp.kernel_manager, feed, service, parent=parent)
    traffic.link(getattr(serverapp, "event_logger", None))
    settings[TRAFFIC_KEY] = traffic
    return traffic
