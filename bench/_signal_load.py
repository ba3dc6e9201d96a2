"""Benchmark load client for real-time sockets, run as its own process: paced or windowed ICE relays.

Driven by JSON lines and speaking websocket through bench/_load_driver.py. Both participants of a
room live here, so a message's latency is perf_counter at the receiver minus perf_counter at the
sender, on one clock.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections import Counter
from typing import Any

import psutil
from _load_driver import OP_CLOSE, OP_TEXT, WebSocketClient, open_loop, serve

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


class Conn(WebSocketClient):
    """One participant's socket: handshake, frames in and out, close."""

    def __init__(self, runner: Runner, idx: int, spec: dict[str, Any], host: str, port: int) -> None:
        super().__init__(spec, host, port)
        self.runner = runner
        self.idx = idx
        loop = asyncio.get_running_loop()
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

    def on_frame(self, opcode: int, payload: bytes) -> None:
        if opcode == OP_TEXT:
            self.runner.on_text(self, payload)
        elif opcode == OP_CLOSE:
            self._on_close_frame(payload)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        super().connection_lost(exc)
        if not self.welcomed.done():
            self.welcomed.set_exception(ConnectionError("closed before welcome"))
            self.welcomed.exception()
        if not self.lost.done():
            self.lost.set_result(None)
        self.runner.on_lost(self)

    def _upgrade(self, head: bytes) -> bool:
        self.open = super()._upgrade(head)
        return self.open

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
        async for i, due, now in open_loop(len(self.conns), rate, start, stop):
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
    # A fresh event loop for each command: nothing of one run carries over to the next.
    serve(lambda cmd: asyncio.run(Runner(cmd).run()))


if __name__ == "__main__":
    main()
