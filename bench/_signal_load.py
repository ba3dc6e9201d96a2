"""Benchmark load client for real-time sockets, run as its own process: paced or windowed ICE relays.

One JSON command on a stdin line, one JSON result on a stdout line, so the server, this client and
the orchestrator are three processes and this client's CPU is measured on its own. Both
participants of a room live here, so a message's latency is perf_counter at the receiver minus
perf_counter at the sender, on one clock. The websocket client is a small asyncio Protocol (RFC
6455 client frames, masked; no compression, which tornado only does when asked): tornado's own
client costs several futures per message, and the client's per-message cost should be small and
the same for both servers, so that the servers are what differ.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import heapq
import json
import os
import random
import resource
import socket
import sys
import time
from collections import Counter
from typing import Any

import psutil

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA
CONNECT_TIMEOUT_S = 20.0
CLOSE_TIMEOUT_S = 3.0
CONNECT_CONCURRENCY = 32
# What a browser trickles: a server-reflexive candidate. The send stamp rides in sdpMid.
CANDIDATE = (
    "candidate:842163049 1 udp 1677729535 192.0.2.17 54400 typ srflx raddr 10.0.0.5 rport 54400"
    " generation 0 ufrag sK3r network-id 1 network-cost 10"
)
ICE_TEMPLATE = (
    '{"v":1,"type":"ice-candidate","id":"%s","to":"%s",'
    '"payload":{"candidate":"' + CANDIDATE + '","sdpMid":"t%d","sdpMLineIndex":0}}'
)
CHAT_TEMPLATE = '{"v":1,"type":"chat-message","id":"%s","to":"%s","payload":{"text":"flood %d"}}'


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


class Conn(asyncio.Protocol):
    """One participant's socket: handshake, frames in and out, close."""

    def __init__(self, runner: Runner, idx: int, spec: dict[str, Any], host: str, port: int) -> None:
        self.runner = runner
        self.idx = idx
        self.spec = spec
        self.host = host
        self.port = port
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.key = base64.b64encode(os.urandom(16))
        loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future[None] = loop.create_future()
        self.welcomed: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()
        self.pid: str = spec.get("pid", "")
        self.peer: Conn | None = None
        self.open = False
        self.close_sent = False
        self.close_code: int | None = None
        self.close_reason = ""
        self.n = 0  # messages sent
        self.got = 0  # relayed messages received inside the windows
        self.role = "honest"

    # ---------------- asyncio.Protocol ----------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        # As a browser does: a small frame goes out at once, not after the previous one's ACK.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
            self._check_handshake(head)
            if not self.upgraded:
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
            if opcode == OP_TEXT:
                self.runner.on_text(self, payload)
            elif opcode == OP_CLOSE:
                self._on_close_frame(payload)
            elif opcode == OP_PING:
                self.write_frame(OP_PONG, payload)
        del buf[:pos]

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        for fut, why in (
            (self.handshake, f"closed during the handshake: {exc}"),
            (self.welcomed, "closed before welcome"),
        ):
            if not fut.done():
                fut.set_exception(ConnectionError(why))
                fut.exception()  # whoever awaits it still gets the error; nobody awaiting is no warning
        if not self.lost.done():
            self.lost.set_result(None)
        self.runner.on_lost(self)

    # ---------------- websocket ----------------
    def _check_handshake(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        if not lines[0].startswith(b"HTTP/1.1 101"):
            self.handshake.set_exception(ConnectionError(f"upgrade refused: {lines[0].decode('latin-1')}"))
            assert self.transport is not None
            self.transport.close()
            return
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
            self.handshake.set_exception(ConnectionError("bad Sec-WebSocket-Accept"))
            assert self.transport is not None
            self.transport.close()
            return
        self.upgraded = True
        self.open = True
        self.handshake.set_result(None)

    def write_frame(self, opcode: int, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(frame(opcode, data))

    def send_text(self, text: str) -> None:
        if self.open and not self.close_sent:
            self.write_frame(OP_TEXT, text.encode())

    def _on_close_frame(self, payload: bytes) -> None:
        if len(payload) >= 2:
            self.close_code = int.from_bytes(payload[:2], "big")
            self.close_reason = payload[2:].decode(errors="replace")
        else:
            self.close_code = 1005
        self.open = False
        if not self.close_sent:
            self.close_sent = True
            self.write_frame(OP_CLOSE, payload[:2])
        self.runner.on_closed(self)
        assert self.transport is not None
        self.transport.close()

    def start_close(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if self.upgraded and not self.close_sent:
            self.close_sent = True
            self.write_frame(OP_CLOSE, (1000).to_bytes(2, "big"))
        else:
            self.transport.close()


class Window:
    """A named stretch of the run: sends stamped in it are its latency samples."""

    def __init__(self, name: str, start_ns: int, end_ns: int) -> None:
        self.name = name
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.sent = 0
        self.delivered = 0  # of the messages sent in this window, how many arrived
        self.received = 0  # messages that arrived in this window, whenever sent
        self.latencies: list[int] = []
        self.stamps: list[int] = []  # send time of each latency sample
        self.lags: list[int] = []  # paced mode: how late the client sent against its schedule
        self.marks: dict[str, Any] = {}


class Runner:
    def __init__(self, cmd: dict[str, Any]) -> None:
        self.cmd = cmd
        self.host = cmd["host"]
        self.port = int(cmd["port"])
        self.kind = cmd["kind"]  # "ours" speaks hello/welcome first; "bare" does not
        self.window_mode = int(cmd.get("window") or 0)  # >0: keep this many in flight per socket
        self.conns: list[Conn] = []
        self.flooder: Conn | None = None
        self.flood_peer: Conn | None = None
        self.windows: list[Window] = []
        self.sending = False
        self.errors: Counter[str] = Counter()
        self.flood_errors: Counter[str] = Counter()
        self.types: Counter[str] = Counter()
        self.closes: Counter[str] = Counter()
        self.flood_chat_seen = 0
        self.flood_sent = 0
        self.flood_first_ns = 0
        self.flood_closed_ns = 0
        self.outstanding = 0  # messages stamped inside a window and not yet received
        self.drained: asyncio.Event | None = None

    # ---------------- messages in ----------------
    def on_text(self, conn: Conn, raw: bytes) -> None:
        now = time.perf_counter_ns()
        msg = json.loads(raw)
        etype = msg.get("type")
        if etype == "ice-candidate":
            sent = int(msg["payload"]["sdpMid"][1:])
            for w in self.windows:
                if w.start_ns <= now < w.end_ns:
                    w.received += 1
                    conn.got += 1
                if w.start_ns <= sent < w.end_ns:
                    w.delivered += 1
                    w.latencies.append(now - sent)
                    w.stamps.append(sent)
                    self.outstanding -= 1
                    if self.outstanding == 0 and self.drained is not None and not self.sending:
                        self.drained.set()
            if self.window_mode and self.sending and conn.peer is not None:
                self.send_ice(conn.peer)  # the sender's message arrived: it may send the next
            return
        self.types[etype] += 1
        if etype == "welcome":
            conn.pid = msg["payload"]["participant_id"]
            if not conn.welcomed.done():
                conn.welcomed.set_result(None)
        elif etype == "error":
            code = str(msg["payload"].get("code"))
            (self.flood_errors if conn is self.flooder else self.errors)[code] += 1
        elif etype == "chat-message" and conn is self.flood_peer:
            self.flood_chat_seen += 1

    def on_closed(self, conn: Conn) -> None:
        key = "flooder" if conn is self.flooder else conn.role
        self.closes[f"{key}:{conn.close_code}"] += 1
        if conn is self.flooder:
            self.flood_closed_ns = time.perf_counter_ns()

    def on_lost(self, conn: Conn) -> None:
        if conn is self.flooder and not self.flood_closed_ns:
            self.flood_closed_ns = time.perf_counter_ns()

    # ---------------- messages out ----------------
    def send_ice(self, conn: Conn) -> None:
        assert conn.peer is not None
        conn.n += 1
        now = time.perf_counter_ns()
        conn.send_text(ICE_TEMPLATE % (f"{conn.idx}.{conn.n}", conn.peer.pid, now))
        for w in self.windows:
            if w.start_ns <= now < w.end_ns:
                w.sent += 1
                self.outstanding += 1

    async def pace(self, rate: float, start: float, stop: float, t_ns0: int, t_loop0: float) -> None:
        """Open loop: each socket sends `rate` a second from a random phase, on its own schedule."""
        loop = asyncio.get_running_loop()
        period = 1.0 / rate
        heap = [(start + random.random() * period, i) for i in range(len(self.conns))]
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
            lag_ns = int((now - due) * 1e9)
            self.send_ice(self.conns[i])
            stamp = t_ns0 + int((now - t_loop0) * 1e9)
            for w in self.windows:
                if w.start_ns <= stamp < w.end_ns:
                    w.lags.append(lag_ns)

    async def flood(self, rate: float, start: float, stop: float) -> None:
        """One socket sending chat-message at `rate` a second in bursts of rate/100 every 10 ms."""
        loop = asyncio.get_running_loop()
        assert self.flooder is not None and self.flood_peer is not None
        f = self.flooder
        burst = max(1, round(rate / 100))
        await asyncio.sleep(max(0.0, start - loop.time()))
        self.flood_first_ns = time.perf_counter_ns()
        tick = start
        while loop.time() < stop and f.open and not f.close_sent:
            for _ in range(burst):
                f.n += 1
                f.send_text(CHAT_TEMPLATE % (f"f{f.n}", self.flood_peer.pid, f.n))
                self.flood_sent += 1
            tick += 0.01
            await asyncio.sleep(max(0.0, tick - loop.time()))

    # ---------------- set-up and the run ----------------
    async def connect(self, spec: dict[str, Any], idx: int, sem: asyncio.Semaphore) -> Conn:
        loop = asyncio.get_running_loop()
        async with sem:
            _, conn = await loop.create_connection(
                lambda: Conn(self, idx, spec, self.host, self.port), self.host, self.port
            )
            await conn.handshake
            if self.kind == "ours":
                conn.send_text('{"v":1,"type":"hello","id":"hello","payload":{"client":"bench"}}')
                await conn.welcomed
        return conn

    def snapshot(self, server: psutil.Process) -> dict[str, Any]:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        try:
            st = server.cpu_times()
            server_cpu = st.user + st.system
            rss = server.memory_info().rss
        except psutil.Error:
            server_cpu, rss = float("nan"), 0
        total = psutil.cpu_times()
        return {
            "ns": time.perf_counter_ns(),
            "client_cpu_s": ru.ru_utime + ru.ru_stime,
            "server_cpu_s": server_cpu,
            "server_rss": rss,
            # Every CPU's busy time: what the server and this client did not use went to others.
            "busy_s": sum(total) - total.idle - getattr(total, "iowait", 0.0),
        }

    async def run(self) -> dict[str, Any]:
        cmd = self.cmd
        loop = asyncio.get_running_loop()
        server = psutil.Process(int(cmd["server_pid"]))
        sem = asyncio.Semaphore(CONNECT_CONCURRENCY)
        t_connect = time.perf_counter()
        specs = [s for pair in cmd["pairs"] for s in pair]
        if cmd.get("flood"):
            specs += cmd["flood"]
        conns = await asyncio.wait_for(
            asyncio.gather(*(self.connect(s, i, sem) for i, s in enumerate(specs))), CONNECT_TIMEOUT_S
        )
        connect_s = time.perf_counter() - t_connect
        honest = conns[: 2 * len(cmd["pairs"])]
        for a, b in zip(honest[::2], honest[1::2], strict=True):
            a.peer, b.peer = b, a
        self.conns = honest
        if cmd.get("flood"):
            self.flooder, self.flood_peer = conns[-2], conns[-1]
            self.flooder.role = self.flood_peer.role = "flood"
        await asyncio.sleep(0.2)  # the server's join announcements go by before anything is timed
        self.types.clear()

        t_loop0, t_ns0 = loop.time(), time.perf_counter_ns()
        start = t_loop0 + 0.05
        warmup = float(cmd["warmup_s"])
        edges: list[float] = []
        for name, a, b in cmd["windows"]:
            ns_a = t_ns0 + int((start + warmup + a - t_loop0) * 1e9)
            ns_b = t_ns0 + int((start + warmup + b - t_loop0) * 1e9)
            self.windows.append(Window(name, ns_a, ns_b))
            edges += [a, b]
        stop = start + warmup + max(edges)
        stop_ns = t_ns0 + int((stop - t_loop0) * 1e9)
        marks: dict[float, dict[str, Any]] = {}

        def mark(edge: float) -> None:
            marks[edge] = self.snapshot(server)

        for edge in sorted(set(edges)):
            loop.call_at(start + warmup + edge, mark, edge)

        self.sending = True
        tasks = []
        if self.window_mode:
            for _ in range(self.window_mode):
                for c in self.conns:
                    self.send_ice(c)
        else:
            tasks.append(asyncio.ensure_future(self.pace(float(cmd["rate"]), start, stop, t_ns0, t_loop0)))
        if self.flooder is not None:
            f = cmd["flood_at"]
            tasks.append(
                asyncio.ensure_future(self.flood(float(cmd["flood_rate"]), start + warmup + f, stop))
            )
        await asyncio.sleep(max(0.0, stop - loop.time()) + 0.01)
        self.sending = False
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Whatever was stamped inside a window and is still on its way gets drain_s to arrive.
        self.drained = asyncio.Event()
        if self.outstanding > 0:
            try:
                await asyncio.wait_for(self.drained.wait(), float(cmd.get("drain_s", 2.0)))
            except TimeoutError:
                pass
        for edge in sorted(set(edges)):
            marks.setdefault(edge, self.snapshot(server))
        for c in conns:
            c.start_close()
        try:
            await asyncio.wait_for(asyncio.gather(*(c.lost for c in conns)), CLOSE_TIMEOUT_S)
        except TimeoutError:
            for c in conns:
                if c.transport is not None:
                    c.transport.abort()

        out_windows = {}
        for (name, a, b), w in zip(cmd["windows"], self.windows, strict=True):
            m0, m1 = marks[a], marks[b]
            out_windows[name] = {
                "start_ns": w.start_ns,
                "end_ns": w.end_ns,
                "duration_s": (m1["ns"] - m0["ns"]) / 1e9,
                "sent": w.sent,
                "received": w.received,
                "delivered": w.delivered,
                "latencies_ns": w.latencies,
                "lag_ns": sorted(w.lags)[int(0.99 * (len(w.lags) - 1))] if w.lags else 0,
                "lag_max_ns": max(w.lags) if w.lags else 0,
                "client_cpu_s": m1["client_cpu_s"] - m0["client_cpu_s"],
                "server_cpu_s": m1["server_cpu_s"] - m0["server_cpu_s"],
                "server_rss": m1["server_rss"],
                "other_cpu_s": (m1["busy_s"] - m0["busy_s"])
                - (m1["client_cpu_s"] - m0["client_cpu_s"])
                - (m1["server_cpu_s"] - m0["server_cpu_s"]),
            }
        flood = None
        if self.flooder is not None:
            f = self.flooder
            # The honest messages sent while the flooder's socket was open (until the server closed it).
            t_end = self.flood_closed_ns or stop_ns
            during = sorted(
                lat
                for w in self.windows
                for sent, lat in zip(w.stamps, w.latencies, strict=True)
                if self.flood_first_ns <= sent < t_end
            )
            flood = {
                "honest_while_open": {
                    "samples": len(during),
                    "p50_ns": during[len(during) // 2] if during else None,
                    "max_ns": during[-1] if during else None,
                },
                "sent": self.flood_sent,
                "errors": dict(self.flood_errors),
                "close_code": f.close_code,
                "close_reason": f.close_reason,
                "open_s": (self.flood_closed_ns - self.flood_first_ns) / 1e9
                if self.flood_closed_ns and self.flood_first_ns
                else None,
                "chat_delivered_to_peer": self.flood_chat_seen,
            }
        got = sorted(c.got for c in self.conns)
        return {
            "sockets": len(conns),
            # How evenly the server served the sockets: relayed messages each received, all windows.
            "per_socket": {"min": got[0], "median": got[len(got) // 2], "max": got[-1]} if got else None,
            "connect_s": connect_s,
            "windows": out_windows,
            "errors": dict(self.errors),
            "other_types": dict(self.types),
            "closes": dict(self.closes),
            "flood": flood,
        }


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            result = asyncio.run(Runner(json.loads(line)).run())
        except Exception as e:  # reported to the orchestrator, which stops the benchmark
            result = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
