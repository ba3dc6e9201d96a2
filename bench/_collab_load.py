"""Benchmark load client for the shared notebook, run as its own process: pycrdt collaborators typing.

One JSON command on a stdin line, one JSON result on a stdout line (bench/_server.LoadProcess). Every
collaborator of a run lives here, so a keystroke's latency is perf_counter when a peer has applied it
minus perf_counter when its writer made it, on one clock. Each collaborator is a pycrdt Doc synced
over the y-websocket protocol (SYNC_STEP1/2 on connect, SYNC_UPDATE per edit), typing one character
per edit into its own cell and, as y-codemirror does after each keystroke, sending its cursor as an
awareness update. A peer knows a keystroke has arrived when its state vector passes the writer's
clock for it. The websocket is a small asyncio Protocol (masked binary frames, TCP_NODELAY), the
same for both servers, so that the servers are what differ.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import heapq
import json
import random
import resource
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pycrdt import (
    Array,
    Assoc,
    Decoder,
    Doc,
    Encoder,
    StickyIndex,
    Text,
    TransactionEvent,
    create_awareness_message,
    create_sync_message,
    create_update_message,
    handle_sync_message,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _signal_load import WS_GUID, frame

OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x2, 0x8, 0x9, 0xA
SYNC, AWARENESS = 0, 1
SYNC_STEP2, SYNC_UPDATE = 1, 2
CONNECT_TIMEOUT_S = 30.0


def state_vector(doc: Doc[Any]) -> dict[int, int]:
    decoder = Decoder(doc.get_state())
    return {decoder.read_var_uint(): decoder.read_var_uint() for _ in range(decoder.read_var_uint())}


class Collaborator(asyncio.Protocol):
    """One browser tab on the notebook: a Doc, a socket, a cell it types into."""

    def __init__(self, runner: Runner, idx: int, spec: dict[str, Any], host: str, port: int) -> None:
        self.runner, self.idx, self.spec, self.host, self.port = runner, idx, spec, host, port
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.key = base64.b64encode(random.randbytes(16))
        loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future[None] = loop.create_future()
        self.synced: asyncio.Future[None] = loop.create_future()
        self.doc: Doc[Any] = Doc()
        self.remote = False
        self.clock_seen: dict[int, int] = {}  # peers' clocks this collaborator has applied
        self.sent_at: dict[int, int] = {}  # own clock of each keystroke -> perf_counter_ns when typed
        self.awareness_clock = 0
        self.doc.observe(self._local)
        self.cell = int(spec.get("cell", 0))

    # ---------------- asyncio.Protocol ----------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        headers = {
            "Host": f"{self.host}:{self.port}",
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Key": self.key.decode(),
            "Sec-WebSocket-Version": "13",
            **self.spec.get("headers", {}),
        }
        head = f"GET {self.spec['path']} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        transport.write((head + "\r\n").encode("latin-1"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            if not self._accept(head):
                return
        pos, n = 0, len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, hdr = b1 & 0x7F, 2
            if length == 126:
                if n - pos < 4:
                    break
                length, hdr = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, hdr = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + hdr + length
            if end > n:
                break
            payload = bytes(buf[pos + hdr : end])
            pos = end
            opcode = b0 & 0x0F
            if opcode == OP_BINARY:
                self._message(payload)
            elif opcode == OP_PING:
                self.write(OP_PONG, payload)
            elif opcode == OP_CLOSE:
                self.runner.errors[f"closed {int.from_bytes(payload[:2], 'big') if payload else 1005}"] += 1
                if self.transport is not None:
                    self.transport.close()
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        for fut in (self.handshake, self.synced):
            if not fut.done():
                fut.set_exception(ConnectionError(f"closed: {exc}"))
                fut.exception()

    def _accept(self, head: bytes) -> bool:
        lines = head.split(b"\r\n")
        expect = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest())
        accept = next(
            (ln.split(b":", 1)[1].strip() for ln in lines if ln.lower().startswith(b"sec-websocket-accept:")),
            b"",
        )
        if not lines[0].startswith(b"HTTP/1.1 101") or accept != expect:
            self.handshake.set_exception(ConnectionError(f"upgrade refused: {lines[0].decode('latin-1')}"))
            assert self.transport is not None
            self.transport.close()
            return False
        self.upgraded = True
        self.handshake.set_result(None)
        return True

    def write(self, opcode: int, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(opcode, data))

    # ---------------- y-websocket ----------------
    def _message(self, message: bytes) -> None:
        if not message or message[0] != SYNC:
            return  # awareness of the others: not timed
        now = time.perf_counter_ns()
        self.remote = True
        try:
            reply = handle_sync_message(message[1:], self.doc)
        finally:
            self.remote = False
        if reply is not None:
            self.write(OP_BINARY, reply)
        if message[1] == SYNC_STEP2 and not self.synced.done():
            self.synced.set_result(None)
            self.clock_seen = state_vector(self.doc)
            return
        self.runner.arrived(self, now)

    def _local(self, event: TransactionEvent) -> None:
        if not self.remote and self.upgraded:
            self.write(OP_BINARY, create_update_message(event.update))

    def source(self) -> Text:
        cells = self.doc.get("cells", type=Array)
        text = cells[self.cell % len(cells)]["source"]
        assert isinstance(text, Text)
        return text

    def type_one(self, awareness: bool) -> int:
        """One keystroke (and the cursor after it); when it was typed, perf_counter_ns."""
        text = self.source()
        at = len(text)
        now = time.perf_counter_ns()
        self.sent_at[state_vector(self.doc).get(self.doc.client_id, 0)] = now
        text.insert(at, "\n" if random.random() < 0.05 else "x")
        if awareness:
            # y-codemirror's cursor after the keystroke: a Yjs relative position at the text's end.
            scope = StickyIndex.new(text, 0, Assoc.BEFORE).to_json()["type"]
            head = {"type": scope, "tname": None, "item": None, "assoc": 0}
            state = {
                "user": {"name": f"bench {self.idx}"},
                "cursors": [{"anchor": head, "head": head, "primary": True, "empty": True}],
            }
            self.awareness_clock += 1
            enc = Encoder()
            enc.write_var_uint(1)
            enc.write_var_uint(self.doc.client_id)
            enc.write_var_uint(self.awareness_clock)
            enc.write_var_string(json.dumps(state))
            self.write(OP_BINARY, create_awareness_message(enc.to_bytes()))
        return now

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.write(OP_CLOSE, (1000).to_bytes(2, "big"))
            self.transport.close()


class Runner:
    def __init__(self) -> None:
        self.collaborators: list[Collaborator] = []
        self.by_client: dict[int, Collaborator] = {}
        self.window = (0, 0)
        self.latencies: list[int] = []
        self.expected = 0  # keystrokes typed in the window times the peers that should see them
        self.errors: Counter[str] = Counter()
        self.lags: list[float] = []

    def arrived(self, at: Collaborator, now: int) -> None:
        sv = state_vector(at.doc)
        start, end = self.window
        for client, clock in sv.items():
            seen = at.clock_seen.get(client, 0)
            if clock <= seen:
                continue
            writer = self.by_client.get(client)
            if writer is not None and writer is not at:
                for c in range(seen, clock):
                    t = writer.sent_at.get(c)
                    if t is not None and start <= t < end:
                        self.latencies.append(now - t)
            at.clock_seen[client] = clock

    async def connect(self, host: str, port: int, specs: list[dict[str, Any]]) -> None:
        loop = asyncio.get_running_loop()
        for spec in specs:
            c = Collaborator(self, len(self.collaborators), spec, host, port)
            await loop.create_connection(lambda c=c: c, host, port)
            await asyncio.wait_for(c.handshake, CONNECT_TIMEOUT_S)
            c.write(OP_BINARY, create_sync_message(c.doc))
            await asyncio.wait_for(c.synced, CONNECT_TIMEOUT_S)
            self.collaborators.append(c)
            self.by_client[c.doc.client_id] = c

    async def type(self, rate: float, warmup_s: float, measure_s: float, awareness: bool) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        period = 1.0 / rate
        t0 = loop.time() + 0.2
        measure_from, stop = t0 + warmup_s, t0 + warmup_s + measure_s
        ns0, l0 = time.perf_counter_ns(), loop.time()
        self.window = (ns0 + int((measure_from - l0) * 1e9), ns0 + int((stop - l0) * 1e9))
        self.latencies = []
        heap = [(t0 + random.random() * period, i) for i in range(len(self.collaborators))]
        heapq.heapify(heap)
        typed = 0
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        while heap:
            due, i = heap[0]
            if due >= stop:
                break
            now = loop.time()
            if due > now:
                await asyncio.sleep(due - now)
                continue
            heapq.heapreplace(heap, (due + period, i))
            if due >= measure_from:
                self.lags.append(now - due)
            stamp = self.collaborators[i].type_one(awareness)
            if self.window[0] <= stamp < self.window[1]:
                typed += 1
        await asyncio.sleep(1.0)  # the tail arrives
        usage1 = resource.getrusage(resource.RUSAGE_SELF)
        peers = len(self.collaborators) - 1
        cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
        return {
            "latencies_ns": self.latencies,
            "expected": typed * peers,
            "received": len(self.latencies),
            "typed": typed,
            "client_cpu": cpu / (stop - t0 + 1.0),
            "max_lag_ms": max(self.lags, default=0.0) * 1000,
            "errors": dict(self.errors),
        }

    def close(self) -> None:
        for c in self.collaborators:
            c.close()
        self.collaborators, self.by_client = [], {}


async def main() -> None:
    runner = Runner()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            runner.close()
            return
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "connect":
                await runner.connect(cmd["host"], int(cmd["port"]), cmd["clients"])
                result: dict[str, Any] = {"connected": len(runner.collaborators)}
            elif cmd["cmd"] == "type":
                result = await runner.type(
                    cmd["rate"], cmd["warmup_s"], cmd["measure_s"], cmd.get("awareness", True)
                )
            elif cmd["cmd"] == "touch":
                # Memory runs: one keystroke and one cursor per collaborator, so every room is in use.
                for c in runner.collaborators:
                    c.type_one(True)
                await asyncio.sleep(0.5)
                result = {"touched": len(runner.collaborators)}
            elif cmd["cmd"] == "close":
                runner.close()
                await asyncio.sleep(0.2)
                result = {"closed": True}
            else:
                result = {"error": f"unknown command {cmd['cmd']!r}"}
        except Exception as e:
            result = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
