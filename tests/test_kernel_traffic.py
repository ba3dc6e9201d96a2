"""The server's view of room kernels' traffic: wall-clock limit, output cap, deaths, the execution record.

Real server (pytest-jupyter), real bubblewrap kernels (`interview-python`), real kernel websockets
speaking JupyterLab's v1 binary protocol (and the legacy JSON one where said), real jupyter_client
for a client on the kernel itself. The record is read from the app's own ExecutionFeed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from test_sandbox import live_room, start_kernel, ws_request
from tornado.httpclient import HTTPClientError
from tornado.websocket import WebSocketClientConnection, websocket_connect

from jupyter_interview.pytest_plugin import Client
from jupyter_interview.rooms.executions import EXECUTIONS_KEY, Execution
from jupyter_interview.server_ext.kernel_traffic import (
    DIRECT_BURST,
    DIRECT_RATE_PER_S,
    RESTART_NOTICE,
    TRAFFIC_KEY,
    V1_PROTOCOL,
    KernelTrafficConnection,
    OutputBudget,
    install,
    size_text,
)

CAP = 64 * 1024
MEMORY_MB = 256


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    config = json.loads(json.dumps(jp_server_config))
    config["KernelTraffic"] = {"output_limit_bytes": CAP, "interrupt_grace_s": 2.0}
    config["SandboxProvisioner"] = {"memory_limit_mb": MEMORY_MB}
    return config


@dataclass
class Result:
    """What one socket saw of one execution."""

    msgs: list[dict[str, Any]] = field(default_factory=list)
    reply: dict[str, Any] | None = None
    restarting: bool = False

    def texts(self, name: str) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.msgs
            if m["msg_type"] == "stream" and m["content"]["name"] == name
        )

    @property
    def stdout(self) -> str:
        return self.texts("stdout")

    @property
    def stderr(self) -> str:
        return self.texts("stderr")

    @property
    def ename(self) -> str | None:
        errors = [m["content"]["ename"] for m in self.msgs if m["msg_type"] == "error"]
        return errors[0] if errors else None


class Channels:
    """A kernel's channels websocket, as JupyterLab speaks it (v1 binary) or the legacy JSON protocol."""

    def __init__(self, conn: WebSocketClientConnection, v1: bool) -> None:
        self.conn = conn
        self.v1 = v1
        self.session = uuid.uuid4().hex
        self.backlog: list[tuple[str, dict[str, Any]]] = []

    @classmethod
    async def open(cls, client: Any, kernel_id: str, v1: bool = True) -> Channels:
        request = ws_request(client, f"api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}")
        conn = await websocket_connect(request, subprotocols=[V1_PROTOCOL] if v1 else None)
        assert (conn.selected_subprotocol == V1_PROTOCOL) is v1
        return cls(conn, v1)

    def header(self, msg_type: str, **extra: Any) -> dict[str, Any]:
        return {
            "msg_id": uuid.uuid4().hex,
            "msg_type": msg_type,
            "username": "browser",
            "session": self.session,
            "date": "2026-01-01T00:00:00.000000Z",
            "version": "5.3",
            **extra,
        }

    async def send(
        self,
        channel: str,
        header: dict[str, Any],
        content: dict[str, Any],
        parent: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        parts = [header, parent or {}, metadata or {}, content]
        if self.v1:
            frames = [json.dumps(p).encode() for p in parts]
            await self.conn.write_message(serialize_msg_to_ws_v1(frames, channel), binary=True)
        else:
            msg = dict(zip(("header", "parent_header", "metadata", "content"), parts, strict=True))
            await self.conn.write_message(json.dumps({**msg, "channel": channel, "buffers": []}))

    async def execute(
        self, code: str, *, cell_id: str | None = None, header: dict[str, Any] | None = None
    ) -> str:
        header = header or self.header("execute_request")
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        }
        await self.send("shell", header, content, metadata={"cellId": cell_id} if cell_id else None)
        return str(header["msg_id"])

    async def read(self, timeout: float) -> tuple[str, dict[str, Any]]:
        raw = await asyncio.wait_for(self.conn.read_message(), timeout)
        if raw is None:
            raise ConnectionError("the kernel socket closed")
        if isinstance(raw, bytes) and self.v1:
            channel, frames = deserialize_msg_from_ws_v1(raw)
            header, parent, metadata, content = (json.loads(f) for f in frames[:4])
            msg = {"header": header, "parent_header": parent, "metadata": metadata, "content": content}
        else:
            msg = json.loads(raw)
            channel = msg.pop("channel")
        msg["msg_type"] = msg["header"]["msg_type"]
        return channel, msg

    async def wait(
        self, msg_id: str, timeout: float = 30.0, until_restarting: bool = False, mine: bool = True
    ) -> Result:
        """Everything of one execution until its reply and idle (or the server's 'restarting').

        Only the socket that sent the request gets its reply; another socket (`mine=False`) sees iopub.
        """
        result = Result()
        idle = False
        deadline = time.monotonic() + timeout
        # Another execution's messages read here are kept for its own wait: shell and iopub are not
        # ordered with each other, so its idle may come before this one's reply.
        mine_first = [item for item in self.backlog if item[1]["parent_header"].get("msg_id") == msg_id]
        self.backlog = [item for item in self.backlog if item not in mine_first]
        while True:
            if mine_first:
                channel, msg = mine_first.pop(0)
            else:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(
                        f"execution {msg_id} did not end; saw {[m['msg_type'] for m in result.msgs]}"
                    )
                channel, msg = await self.read(left)
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "restarting":
                result.restarting = True
                if until_restarting:
                    return result
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                self.backlog = [*self.backlog[-999:], (channel, msg)]
                continue
            if channel in ("shell", "control") and msg["msg_type"] == "execute_reply":
                result.reply = msg["content"]
            elif msg["msg_type"] == "status":
                idle = idle or msg["content"]["execution_state"] == "idle"
            else:
                result.msgs.append(msg)
            if idle and (result.reply is not None or not mine):
                return result

    async def wait_for_busy(self, msg_id: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            _, msg = await self.read(max(deadline - time.monotonic(), 0.01))
            if msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "execute_input":
                return

    async def run(self, code: str, timeout: float = 30.0) -> Result:
        return await self.wait(await self.execute(code), timeout)

    def close(self) -> None:
        self.conn.close()


class Record:
    """The app's ExecutionFeed, as history would see it."""

    def __init__(self, serverapp: Any) -> None:
        self.events: list[Execution] = []
        self.unsubscribe = serverapp.web_app.settings[EXECUTIONS_KEY].subscribe(self.events.append)

    def of(self, msg_id: str) -> list[Execution]:
        return [e for e in self.events if e.msg_id == msg_id]

    async def final(self, msg_id: str, timeout: float = 15.0) -> Execution:
        deadline = time.monotonic() + timeout
        while True:
            ends = [e for e in self.of(msg_id) if e.status != "started"]
            if ends:
                assert len(ends) == 1, ends
                return ends[0]
            assert time.monotonic() < deadline, f"no end recorded for {msg_id}: {self.of(msg_id)}"
            await asyncio.sleep(0.05)


@dataclass
class LiveKernel:
    """A started room, its candidate, a kernel the candidate started in it, and the app's record."""

    record: Record
    owner: Client
    room: dict[str, Any]
    cand: Client
    kernel_id: str
    folder: Path  # the room's folder on the host
    make_client: Callable[[], Client]
    sockets: list[Channels] = field(default_factory=list)

    async def interviewer(self) -> Client:
        """A second participant, who joined by the interviewer's invite."""
        iv = self.make_client()
        assert (await iv.join(self.room["invites"]["interviewer"])).code == 302
        return iv

    async def socket(self, client: Client | None = None, v1: bool = True) -> Channels:
        """A channels socket on the kernel (the candidate's unless said), closed at the latest by the fixture."""
        ks = await Channels.open(client or self.cand, self.kernel_id, v1=v1)
        self.sockets.append(ks)
        return ks

    async def participant_id(self, client: Client) -> str:
        code, me = await client.json("GET", f"interview/api/rooms/{self.room['id']}/me")
        assert code == 200, me
        return str(me["participant_id"])

    def close(self) -> None:
        for ks in self.sockets:
            ks.close()
        self.record.unsubscribe()


class StartLiveKernel(Protocol):
    def __call__(self, limit_s: int | None = None) -> Awaitable[LiveKernel]: ...


@pytest.fixture
def live_kernel(
    jp_serverapp: Any, owner: Client, make_room: Any, make_client: Callable[[], Client], jp_root_dir: Path
) -> Iterator[StartLiveKernel]:
    """Starts a room (its wall-clock limit per execution set when limit_s is given), lets a candidate
    in, and the candidate starts a kernel there; the record follows from before the room exists."""
    started: list[LiveKernel] = []

    async def start(limit_s: int | None = None) -> LiveKernel:
        record = Record(jp_serverapp)
        room, cand = await live_room(owner, make_room, make_client)
        if limit_s is not None:
            body = {"exec_time_limit_s": limit_s}
            code, reply = await owner.json("PATCH", f"interview/api/rooms/{room['id']}", body)
            assert code == 200, reply
        kernel = await start_kernel(cand, room["id"])
        folder = jp_root_dir / "interviews" / room["id"]
        live = LiveKernel(record, owner, room, cand, kernel["id"], folder, make_client)
        started.append(live)
        return live

    yield start
    for live in started:
        live.close()


def stream_of(execution: Execution, name: str) -> str:
    return "".join(o["text"] for o in execution.outputs if o["output_type"] == "stream" and o["name"] == name)


# ---- the wall-clock limit ----


async def run_past_the_limit(
    ks: Channels, code: str, cell_id: str | None = None, **wait: Any
) -> tuple[str, Result, float]:
    """`x = 5`, then code that runs past the room's 2 s limit, stopped with the limit's message: its
    msg_id, what the socket saw, and the seconds it took."""
    assert (await ks.run("x = 5")).reply["status"] == "ok"  # type: ignore[index]
    started = time.monotonic()
    msg_id = await ks.execute(code, cell_id=cell_id)
    r = await ks.wait(msg_id, **wait)
    took = time.monotonic() - started
    assert "Execution stopped: it ran longer than the 2 s limit of this interview." in r.stderr, r
    return msg_id, r, took


async def test_cpu_spin_is_stopped_at_the_rooms_limit_and_the_kernel_keeps_its_state(
    live_kernel: StartLiveKernel,
) -> None:
    k = await live_kernel(limit_s=2)
    ks = await k.socket()
    spin, r, took = await run_past_the_limit(ks, "while True: pass", cell_id="spin-cell", timeout=20)
    assert r.ename == "KeyboardInterrupt", r
    assert r.reply is not None and r.reply["status"] == "error"
    assert 2 <= took < 6, took
    assert (await ks.run("print(x)")).stdout == "5\n"
    ks.close()
    execution = await k.record.final(spin)
    assert execution.status == "timeout"
    assert execution.participant_id == await k.participant_id(k.cand)
    assert (execution.code, execution.cell_id) == ("while True: pass", "spin-cell")
    assert (
        execution.reason is not None and "2 s limit" in execution.reason and "interrupted" in execution.reason
    )
    assert "Execution stopped" in stream_of(execution, "stderr")
    assert any(o["output_type"] == "error" and o["ename"] == "KeyboardInterrupt" for o in execution.outputs)
    assert execution.ended_at is not None and execution.ended_at - execution.started_at >= 2


async def test_a_kernel_that_ignores_interrupts_is_restarted_with_a_notice(
    live_kernel: StartLiveKernel,
) -> None:
    k = await live_kernel(limit_s=2)
    ks = await k.socket()
    # The interrupt reaches the kernel as a SIGINT it sends itself; the cell ignores SIGINT.
    stubborn, r, took = await run_past_the_limit(
        ks,
        "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True: pass",
        timeout=30,
        until_restarting=True,
    )
    assert r.restarting
    assert RESTART_NOTICE.strip() in r.stderr, r
    assert 4 <= took < 9, took
    ks.close()
    execution = await k.record.final(stubborn)
    assert execution.status == "timeout"
    assert execution.reason is not None and "restarted" in execution.reason
    assert RESTART_NOTICE in stream_of(execution, "stderr")
    # The frontend reconnects after "restarting": a fresh kernel, usable, its variables gone.
    ks = await k.socket()
    r = await ks.run("print(x)", timeout=60)
    assert r.ename == "NameError", r
    assert (await ks.run("print(1)")).stdout == "1\n"


# ---- output ----


async def test_an_output_flood_is_capped_per_socket_with_one_notice_and_the_server_stays_responsive(
    live_kernel: StartLiveKernel,
) -> None:
    k = await live_kernel()
    ks = await k.socket()
    watcher = await k.socket(await k.interviewer(), v1=False)
    # About 3 MB, in writes that the kernel batches into large stream messages; then a picture.
    flood = await ks.execute(
        "import sys\nfor i in range(300): sys.stdout.write('z' * 9999 + '\\n')\n"
        "from IPython.display import display\ndisplay({'text/plain': 'late'}, raw=True)"
    )
    latencies = []
    waiting = asyncio.ensure_future(ks.wait(flood, timeout=60))
    seen_by_iv = asyncio.ensure_future(watcher.wait(flood, timeout=60, mine=False))
    while not waiting.done():
        t = time.monotonic()
        assert (await k.owner.json("GET", "api/status"))[0] == 200
        latencies.append(time.monotonic() - t)
        await asyncio.sleep(0.1)
    r, r_iv = await waiting, await seen_by_iv
    ks.close()
    watcher.close()
    assert max(latencies) < 1, latencies
    assert r.reply is not None and r.reply["status"] == "ok"
    for seen in (r, r_iv):
        assert 0 < len(seen.stdout) <= CAP, len(seen.stdout)
        assert set(seen.stdout) <= {"z", "\n"}
        notices = [m for m in seen.msgs if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"]
        assert len(notices) == 1, notices
        text = notices[0]["content"]["text"]
        assert text.startswith("Output truncated:") and f"the {size_text(CAP)} limit" in text, text
        assert "MiB were not shown" in text, text  # about 2.8 MiB cut
        assert not [m for m in seen.msgs if m["msg_type"] == "display_data"]  # nothing after the cut
    execution = await k.record.final(flood)
    assert execution.status == "ok" and execution.truncated
    assert 0 < len(stream_of(execution, "stdout")) <= CAP
    assert stream_of(execution, "stderr").startswith("Output truncated:")
    assert [o["output_type"] for o in execution.outputs] == ["stream", "stream"]
    # The next execution has its own budget.
    ks = await k.socket()
    assert (await ks.run("print('after')")).stdout == "after\n"


# ---- deaths ----


async def test_a_memory_bomb_is_reported_as_died_out_of_memory_at_once(live_kernel: StartLiveKernel) -> None:
    k = await live_kernel()
    ks = await k.socket()
    started = time.monotonic()
    bomb = await ks.execute("a = []\nfor i in range(64): a.append(b'x' * (32 << 20))")
    r = await ks.wait(bomb, timeout=30, until_restarting=True)
    took = time.monotonic() - started
    assert f"The kernel died: killed: out of memory (limit {MEMORY_MB} MiB)" in r.stderr, r
    assert took < 10, took
    ks.close()
    execution = await k.record.final(bomb)
    assert execution.status == "died"
    assert execution.reason == f"killed: out of memory (limit {MEMORY_MB} MiB)"
    ks = await k.socket()
    assert (await ks.run("print('back')", timeout=60)).stdout == "back\n"


async def test_a_restart_or_shutdown_during_an_execution_ends_it_in_the_record(
    live_kernel: StartLiveKernel,
) -> None:
    k = await live_kernel()
    ks = await k.socket()
    slow = await ks.execute("import time; time.sleep(60)")
    await ks.wait_for_busy(slow)
    code, _ = await k.cand.json("POST", f"api/kernels/{k.kernel_id}/restart")
    assert code == 200
    restarted = await k.record.final(slow)
    assert restarted.status == "restarted" and restarted.reason == "the kernel was restarted while it ran"
    ks.close()
    ks = await k.socket()
    slow = await ks.execute("import time; time.sleep(60)")
    await ks.wait_for_busy(slow)
    ks.close()
    assert (await k.cand.json("DELETE", f"api/kernels/{k.kernel_id}"))[0] == 204
    shut = await k.record.final(slow)
    assert (shut.status, shut.reason) == ("aborted", "the kernel was shut down before it finished")


# ---- the record ----


async def test_executions_are_recorded_with_who_asked_the_code_and_the_kernels_outputs(
    jp_serverapp: Any, live_kernel: StartLiveKernel
) -> None:
    k = await live_kernel()
    iv = await k.interviewer()
    cand_ks = await k.socket()
    iv_ks = await k.socket(iv, v1=False)
    owner_ks = await k.socket(k.owner)
    asked = await cand_ks.execute("print('hi')\n1 + 1", cell_id="cell-1")
    assert (await cand_ks.wait(asked)).reply["status"] == "ok"  # type: ignore[index]
    # The error comes after a pause, so the next request is surely queued: ipykernel skips it.
    failed = await iv_ks.execute("import time; time.sleep(0.3); raise ValueError('bad')")
    skipped = await iv_ks.execute("print('never')")
    assert (await iv_ks.wait(failed)).ename == "ValueError"
    assert (await iv_ks.wait(skipped)).reply["status"] == "aborted"  # type: ignore[index]
    by_owner = await owner_ks.execute("print('owner')")
    await owner_ks.wait(by_owner)
    for ks in (cand_ks, iv_ks, owner_ks):
        ks.close()
    # A client on the kernel itself, through no participant's socket (jupyter_client, as a tool would).
    client = jp_serverapp.kernel_manager.get_kernel(k.kernel_id).client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=30)
        direct = client.execute("print('direct')")
        reply = await client.get_shell_msg(timeout=30)
        assert reply["parent_header"]["msg_id"] == direct and reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()

    record = k.record
    cand_id, iv_id = await k.participant_id(k.cand), await k.participant_id(iv)
    first = await record.final(asked)
    assert [e.status for e in record.of(asked)] == ["started", "ok"]
    assert (first.room_id, first.kernel_id, first.participant_id) == (k.room["id"], k.kernel_id, cand_id)
    assert (first.code, first.cell_id) == ("print('hi')\n1 + 1", "cell-1")
    n = first.execution_count
    assert isinstance(n, int) and n >= 1
    assert first.outputs == (
        {"output_type": "stream", "name": "stdout", "text": "hi\n"},
        {"output_type": "execute_result", "execution_count": n, "data": {"text/plain": "2"}, "metadata": {}},
    )
    assert not first.truncated and first.reason is None and first.ended_at is not None
    error = await record.final(failed)
    assert (error.status, error.participant_id, error.cell_id) == ("error", iv_id, None)
    assert error.outputs[0]["output_type"] == "error" and error.outputs[0]["ename"] == "ValueError"
    assert error.outputs[0]["evalue"] == "bad" and error.execution_count == n + 1
    assert error.code == "import time; time.sleep(0.3); raise ValueError('bad')"
    # Queued behind the error: ipykernel skips it (stop_on_error).
    aborted = await record.final(skipped)
    assert (aborted.status, aborted.participant_id, aborted.outputs) == ("aborted", iv_id, ())
    mine = await record.final(by_owner)
    assert (mine.status, mine.participant_id, stream_of(mine, "stdout")) == ("ok", None, "owner\n")
    tool = await record.final(direct)
    assert [e.status for e in record.of(direct)] == ["started", "ok"]
    assert (tool.participant_id, tool.code, stream_of(tool, "stdout")) == (
        None,
        "print('direct')",
        "direct\n",
    )


async def test_forged_outputs_identities_and_reused_ids_cannot_enter_the_record(
    live_kernel: StartLiveKernel,
) -> None:
    k = await live_kernel()
    ks = await k.socket()
    iv_ks = await k.socket(await k.interviewer())
    # The candidate claims to be the interviewer in the message, then speaks for the kernel on iopub.
    header = ks.header("execute_request", username="interviewer")
    msg_id = await ks.execute("import time; time.sleep(0.5); print('real')", header=header)
    forged = ks.header("stream")
    await ks.send("iopub", forged, {"name": "stdout", "text": "FORGED\n"}, parent=header)
    await ks.send("iopub", ks.header("status"), {"execution_state": "idle"}, parent=header)
    r = await ks.wait(msg_id)
    seen_by_iv = await iv_ks.wait(msg_id, mine=False)
    assert r.stdout == seen_by_iv.stdout == "real\n", (r, seen_by_iv)
    # The same msg_id again: refused in the cell, never run, nothing recorded.
    again = ks.header("execute_request", msg_id=msg_id)
    await ks.execute("open('reused.txt', 'w').write('x')", header=again)
    refused = await ks.wait(msg_id)
    assert "Execution refused: its msg_id was used before" in refused.stderr, refused
    assert refused.reply is not None and refused.reply["status"] == "error"
    # Garbage and a request without a msg_id: dropped, the socket keeps working.
    await ks.conn.write_message(b"\x00\x01garbage", binary=True)
    await ks.send("shell", {"msg_type": "execute_request"}, {"code": "open('no-id.txt', 'w')"})
    assert (await ks.run("print('still')")).stdout == "still\n"
    # ipykernel executes a request on the control channel too: it is recorded as the candidate's.
    sideways = ks.header("execute_request")
    await ks.send("control", sideways, {"code": "print('via control')", "silent": False})
    assert (await ks.wait(sideways["msg_id"])).reply["status"] == "ok"  # type: ignore[index]
    ks.close()
    iv_ks.close()
    control = await k.record.final(sideways["msg_id"])
    assert (control.participant_id, control.code) == (await k.participant_id(k.cand), "print('via control')")
    execution = await k.record.final(msg_id)
    assert execution.participant_id == await k.participant_id(k.cand)
    assert execution.outputs == ({"output_type": "stream", "name": "stdout", "text": "real\n"},)
    assert [e.status for e in k.record.of(msg_id)] == ["started", "ok"]
    assert not (k.folder / "reused.txt").exists()
    assert not (k.folder / "no-id.txt").exists()


async def test_executions_a_kernel_invents_are_bounded(live_kernel: StartLiveKernel) -> None:
    # The candidate's code speaks for the kernel on iopub: 200 executions nobody asked for, each
    # would be published and stored. Only a burst and a trickle of them are followed.
    k = await live_kernel()
    ks = await k.socket()
    started = time.monotonic()
    r = await ks.run(
        # 200, paced at 2 ms: 500 unpaced (1,500 iopub messages at once) could pass the iopub
        # socket's high-water mark, and ZMQ then drops messages, this cell's own reply among them.
        "import time, uuid\n"
        "k = get_ipython().kernel\n"
        "for i in range(200):\n"
        "    time.sleep(0.002)\n"
        "    p = {'msg_id': uuid.uuid4().hex, 'msg_type': 'execute_request', 'session': 's',"
        " 'username': 'u', 'date': '2026-01-01T00:00:00Z', 'version': '5.3'}\n"
        "    k.session.send(k.iopub_socket, 'status', {'execution_state': 'busy'}, parent=p)\n"
        "    k.session.send(k.iopub_socket, 'execute_input', {'code': 'invented', 'execution_count': 1}, parent=p)\n"
        "    k.session.send(k.iopub_socket, 'status', {'execution_state': 'idle'}, parent=p)\n"
        "print('done')"
    )
    assert r.stdout == "done\n", r
    assert (await ks.run("print(2)")).stdout == "2\n"
    ks.close()
    took = time.monotonic() - started
    invented = {e.msg_id for e in k.record.events if e.code == "invented"}
    assert 0 < len(invented) <= min(DIRECT_BURST + DIRECT_RATE_PER_S * took + 1, 150), (len(invented), took)
    assert (await k.owner.json("GET", "api/status"))[0] == 200


async def test_a_candidate_socket_opened_before_end_cannot_execute_after_end(
    live_kernel: StartLiveKernel,
) -> None:
    k = await live_kernel()
    record = k.record
    ks = await k.socket()
    iv_ks = await k.socket(await k.interviewer())
    assert (await ks.run("print('live')")).stdout == "live\n"
    assert (await k.owner.json("POST", f"interview/api/rooms/{k.room['id']}/end"))[0] == 200
    before = len(record.events)
    late = await ks.execute("open('after-end.txt', 'w').write('x')")
    r = await ks.wait(late, timeout=10)
    assert "Execution refused: the interview has ended; the notebook is read-only now." in r.stderr, r
    assert r.reply is not None and r.reply["status"] == "error" and r.reply["ename"] == "PermissionError"
    # Nor through a comm or the stdin channel: nothing but kernel info passes.
    await ks.send("shell", ks.header("comm_open"), {"comm_id": "c", "target_name": "x", "data": {}})
    await ks.send("stdin", ks.header("input_reply"), {"value": "x"})
    info = ks.header("kernel_info_request")
    await ks.send("shell", info, {})
    while True:
        _, msg = await ks.read(10)
        if msg["parent_header"].get("msg_id") == info["msg_id"] and msg["msg_type"] == "kernel_info_reply":
            break
    # The interviewer keeps executing after End.
    assert (await iv_ks.run("print('still')")).stdout == "still\n"
    assert not (k.folder / "after-end.txt").exists()
    assert record.of(late) == [] and len(record.events) == before + 2  # the interviewer's start and end
    ks.close()
    iv_ks.close()
    # A new socket is refused at the upgrade already (the Authorizer: `execute` needed, `read` held).
    with pytest.raises(HTTPClientError) as refused:
        await k.socket()
    assert refused.value.code == 403


# ---- wiring ----


async def test_a_kernel_outside_rooms_is_not_recorded_and_a_forged_frame_header_is_dropped(
    jp_serverapp: Any, owner: Any
) -> None:
    record = Record(jp_serverapp)
    code, kernel = await owner.json("POST", "api/kernels", {"name": "interview-python", "path": ""})
    assert code == 201, kernel
    ks = await Channels.open(owner, kernel["id"])
    try:
        # A v1 frame whose first 8 bytes claim 2**56 parts: jupyter_server would build that many offsets.
        started = time.monotonic()
        await ks.conn.write_message((1 << 56).to_bytes(8, "little") + b"\x00" * 64, binary=True)
        assert (await ks.run("print('plain')")).stdout == "plain\n"
        assert time.monotonic() - started < 10
    finally:
        ks.close()
    legacy = await Channels.open(owner, kernel["id"], v1=False)
    try:
        # The legacy binary frame: a 4-byte buffer count, which jupyter_server turns into a format string.
        await legacy.conn.write_message((2**31 - 1).to_bytes(4, "big") + b"\x00" * 64, binary=True)
        assert (await legacy.run("print('legacy')")).stdout == "legacy\n"
    finally:
        legacy.close()
    assert record.events == []


async def test_a_plain_config_uses_the_traffic_connection_and_another_choice_is_warned_about(
    jp_serverapp: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The fixture's config names no connection class, as a plain `jupyter lab` would not.
    assert jp_serverapp.web_app.settings["kernel_websocket_connection_class"] is KernelTrafficConnection
    assert jp_serverapp.kernel_websocket_connection_class is KernelTrafficConnection
    assert jp_serverapp.web_app.settings[TRAFFIC_KEY] is not None
    app = jp_serverapp.web_app.settings["jupyter_interview"]
    jp_serverapp.config.ServerApp.kernel_websocket_connection_class = ZMQChannelsWebsocketConnection
    jp_serverapp.kernel_websocket_connection_class = ZMQChannelsWebsocketConnection
    settings: dict[str, Any] = {}
    with caplog.at_level(logging.WARNING):
        traffic = install(jp_serverapp, settings, app.executions, app.service, app)
    try:
        assert "kernel_websocket_connection_class" not in settings
        assert settings[TRAFFIC_KEY] is traffic
        assert any("not attributed to participants" in r.getMessage() for r in caplog.records)
    finally:
        traffic.close()
        jp_serverapp.kernel_websocket_connection_class = KernelTrafficConnection


def test_output_budget_cuts_the_rest_of_an_execution_once_anything_was_cut() -> None:
    budget = OutputBudget(100)
    assert budget.take("a", 60, partial=False) == 60
    assert budget.take("a", 60, partial=False) == 0  # a display does not fit: dropped whole
    assert budget.take("a", 10, partial=True) == 0  # and nothing after it passes
    assert budget.take("b", 150, partial=True) == 100  # a stream is cut to what is left
    assert budget.cutting == 2
    assert (budget.finish("a"), budget.finish("b"), budget.finish("c")) == (70, 50, 0)
    assert budget.cutting == 0
    assert OutputBudget(0).take("a", 10**9, partial=False) == 10**9
    assert [size_text(n) for n in (300, 64 * 1024, 1 << 20, 3 << 19)] == [
        "300 B",
        "64 KiB",
        "1 MiB",
        "1.5 MiB",
    ]
