"""What the benchmarks' load clients share: the JSON-lines command loop, the open-loop schedule and a
small websocket client.

A load client runs as its own process (bench/_server.LoadProcess), so that the server, the client and
the orchestrator are three processes and the client's CPU is measured on its own: one JSON command
on a stdin line, one JSON result on a stdout line, and an exception becomes the result's "error"
(the orchestrator then stops the benchmark). Paced load is open loop: every sender keeps its own
schedule whatever the server's replies do, so a slow server shows as latency, not as less load. The
websocket client is an asyncio Protocol (RFC 6455
client frames, masked; no compression, which tornado only does when asked; TCP_NODELAY, as a
browser's small frames go out at once): tornado's own client costs several futures per message, and
the client's per-message cost should be small and the same for every server measured, so that the
servers are what differ.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import heapq
import json
import os
import random
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x2, 0x8, 0x9, 0xA

Command = dict[str, Any]
Result = dict[str, Any]


def _answer(result: Result) -> None:
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def _failed(e: Exception) -> Result:
    return {"error": f"{type(e).__name__}: {e}"}


def serve(handle: Callable[[Command], Result]) -> None:
    """Answer each command line on stdin with handle's result, until stdin ends."""
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            result = handle(json.loads(line))
        except Exception as e:
            result = _failed(e)
        _answer(result)


async def serve_async(handle: Callable[[Command], Awaitable[Result]]) -> None:
    """serve(), on the running event loop: what the commands set up outlives each of them."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if not line.strip():
            continue
        try:
            result = await handle(json.loads(line))
        except Exception as e:
            result = _failed(e)
        _answer(result)


async def open_loop(
    senders: int, rate: float, start: float, stop: float
) -> AsyncIterator[tuple[int, float, float]]:
    """Each sender due `rate` times a second from a random phase after start (loop time) until stop:
    (sender, when it was due, loop time now) as each comes due, in order."""
    loop = asyncio.get_running_loop()
    period = 1.0 / rate
    heap = [(start + random.random() * period, i) for i in range(senders)]
    heapq.heapify(heap)
    while heap:
        due, i = heap[0]
        if due >= stop:
            return
        now = loop.time()
        if due > now:
            await asyncio.sleep(due - now)
            continue
        heapq.heapreplace(heap, (due + period, i))
        yield i, due, now


def frame(opcode: int, data: bytes) -> bytes:
    """A final client frame, masked with a fresh key as RFC 6455 requires of clients."""
    n = len(data)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    key = random.getrandbits(32).to_bytes(4, "big")
    if n:
        keystream = (key * (n // 4 + 1))[:n]
        data = (int.from_bytes(data, "big") ^ int.from_bytes(keystream, "big")).to_bytes(n, "big")
    return head + key + data


class WebSocketClient(asyncio.Protocol):
    """One websocket: the upgrade (spec: "path", and "headers" to add), frames in and out.

    A subclass handles the frames (on_frame; pings are answered here) and may extend connection_lost.
    """

    def __init__(self, spec: dict[str, Any], host: str, port: int) -> None:
        self.spec = spec
        self.host = host
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.key = base64.b64encode(os.urandom(16))
        self.handshake: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_frame(self, opcode: int, payload: bytes) -> None:
        raise NotImplementedError

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
            if not self._upgrade(head):
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
            if opcode == OP_PING:
                self.write_frame(OP_PONG, payload)
            else:
                self.on_frame(opcode, payload)
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionError(f"closed during the handshake: {exc}"))
            self.handshake.exception()  # whoever awaits it still gets the error; nobody awaiting is no warning

    # ---------------- websocket ----------------
    def _upgrade(self, head: bytes) -> bool:
        lines = head.split(b"\r\n")
        if not lines[0].startswith(b"HTTP/1.1 101"):
            return self._refused(f"upgrade refused: {lines[0].decode('latin-1')}")
        expect = base64.b64encode(hashlib.sha1(self.key + WS_GUID).digest())
        accept = next(
            (
                ln.split(b":", 1)[1].strip()
                for ln in lines[1:]
                if ln.lower().startswith(b"sec-websocket-accept:")
            ),
            b"",
        )
        if accept != expect:
            return self._refused("bad Sec-WebSocket-Accept")
        self.upgraded = True
        self.handshake.set_result(None)
        return True

    def _refused(self, why: str) -> bool:
        self.handshake.set_exception(ConnectionError(why))
        assert self.transport is not None
        self.transport.close()
        return False

    def write_frame(self, opcode: int, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(opcode, data))
