"""Benchmark load client for the shared notebook, run as its own process: pycrdt collaborators typing.

Driven by JSON lines and speaking websocket through bench/_load_driver.py. Every collaborator of a
run lives here, so a keystroke's latency is perf_counter when a peer has applied it minus
perf_counter when its writer made it, on one clock. Each collaborator is a pycrdt Doc synced
over the y-websocket protocol (SYNC_STEP1/2 on connect, SYNC_UPDATE per edit), typing one character
per edit into its own cell and, as y-codemirror does after each keystroke, sending its cursor as an
awareness update. A peer knows a keystroke has arrived when its state vector passes the writer's
clock for it.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import time
from collections import Counter
from typing import Any

from _load_driver import OP_BINARY, OP_CLOSE, WebSocketClient, open_loop, serve_async
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

SYNC, AWARENESS = 0, 1
SYNC_STEP2, SYNC_UPDATE = 1, 2
CONNECT_TIMEOUT_S = 30.0


def state_vector(doc: Doc[Any]) -> dict[int, int]:
    decoder = Decoder(doc.get_state())
    return {decoder.read_var_uint(): decoder.read_var_uint() for _ in range(decoder.read_var_uint())}


class Collaborator(WebSocketClient):
    """One browser tab on the notebook: a Doc, a socket, a cell it types into."""

    def __init__(self, runner: Runner, idx: int, spec: dict[str, Any], host: str, port: int) -> None:
        super().__init__(spec, host, port)
        self.runner, self.idx = runner, idx
        self.synced: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.doc: Doc[Any] = Doc()
        self.remote = False
        self.clock_seen: dict[int, int] = {}  # peers' clocks this collaborator has applied
        self.sent_at: dict[int, int] = {}  # own clock of each keystroke -> perf_counter_ns when typed
        self.awareness_clock = 0
        self.doc.observe(self._local)
        self.cell = int(spec.get("cell", 0))

    def on_frame(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_BINARY:
            self._message(payload)
        elif opcode == OP_CLOSE:
            self.runner.errors[f"closed {int.from_bytes(payload[:2], 'big') if payload else 1005}"] += 1
            if self.transport is not None:
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.synced.done():
            self.synced.set_exception(ConnectionError(f"closed before the sync: {exc}"))
            self.synced.exception()

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
            self.write_frame(OP_BINARY, reply)
        if message[1] == SYNC_STEP2 and not self.synced.done():
            self.synced.set_result(None)
            self.clock_seen = state_vector(self.doc)
            return
        self.runner.arrived(self, now)

    def _local(self, event: TransactionEvent) -> None:
        if not self.remote and self.upgraded:
            self.write_frame(OP_BINARY, create_update_message(event.update))

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
            self.write_frame(OP_BINARY, create_awareness_message(enc.to_bytes()))
        return now

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.write_frame(OP_CLOSE, (1000).to_bytes(2, "big"))
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
            c.write_frame(OP_BINARY, create_sync_message(c.doc))
            await asyncio.wait_for(c.synced, CONNECT_TIMEOUT_S)
            self.collaborators.append(c)
            self.by_client[c.doc.client_id] = c

    async def type(self, rate: float, warmup_s: float, measure_s: float, awareness: bool) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        t0 = loop.time() + 0.2
        measure_from, stop = t0 + warmup_s, t0 + warmup_s + measure_s
        ns0, l0 = time.perf_counter_ns(), loop.time()
        self.window = (ns0 + int((measure_from - l0) * 1e9), ns0 + int((stop - l0) * 1e9))
        self.latencies = []
        typed = 0
        usage0 = resource.getrusage(resource.RUSAGE_SELF)
        async for i, due, now in open_loop(len(self.collaborators), rate, t0, stop):
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

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        if cmd["cmd"] == "connect":
            await self.connect(cmd["host"], int(cmd["port"]), cmd["clients"])
            return {"connected": len(self.collaborators)}
        if cmd["cmd"] == "type":
            return await self.type(cmd["rate"], cmd["warmup_s"], cmd["measure_s"], cmd.get("awareness", True))
        if cmd["cmd"] == "touch":
            # Memory runs: one keystroke and one cursor per collaborator, so every room is in use.
            for c in self.collaborators:
                c.type_one(True)
            await asyncio.sleep(0.5)
            return {"touched": len(self.collaborators)}
        if cmd["cmd"] == "close":
            self.close()
            await asyncio.sleep(0.2)
            return {"closed": True}
        return {"error": f"unknown command {cmd['cmd']!r}"}


async def main() -> None:
    # One event loop for all commands: the collaborators a "connect" opens serve the later ones.
    runner = Runner()
    try:
        await serve_async(runner.handle)
    finally:
        runner.close()


if __name__ == "__main__":
    asyncio.run(main())
