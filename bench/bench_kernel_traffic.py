"""Benchmark: what the kernel traffic layer costs a `print(1)` round trip, against a kernel it leaves alone.

One real server (the production classes, bubblewrap sandbox) and two sandboxed `interview-python` kernels:
  plain  a kernel outside any room, reached with Jupyter's token: its socket passes straight through
         jupyter_server's connection (our class only checks that it is not a room kernel)
  room   a room's kernel, reached with the candidate's invite session: every message is checked
         (access, execute_request recorded, output budget) and the server's own watcher follows its iopub
Each round sends N sequential execute_requests `print(1)` per series over JupyterLab's v1 websocket
protocol and waits for the reply and the idle status; the series alternate and their order rotates.
Figures are medians over rounds of each round's p50/p90, and the median of per-round p50 differences;
the server process's CPU time per round trip (from /proc) is the steadier figure on a busy machine.
Run: .venv/bin/python bench/bench_kernel_traffic.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import HOST, BenchServer
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

V1 = "v1.kernel.websocket.jupyter.org"
SPEC = "interview-python"
TARGET_MS = 2.0  # the target: under 2 ms p50 sandbox overhead for a round trip


class Socket:
    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn
        self.session = uuid.uuid4().hex

    @classmethod
    async def open(cls, server: BenchServer, kernel_id: str, *, token: bool, cookie: str = "") -> Socket:
        url = f"ws://{HOST}:{server.port}{server.path(f'api/kernels/{kernel_id}/channels')}"
        headers = {"Origin": f"http://{HOST}:{server.port}"}
        if token:
            headers["Authorization"] = f"token {server.token}"
        if cookie:
            headers["Cookie"] = cookie
        conn = await websocket_connect(
            HTTPRequest(f"{url}?session_id={uuid.uuid4().hex}", headers=headers), subprotocols=[V1]
        )
        return cls(conn)

    async def round_trip(self, code: str) -> float:
        msg_id = uuid.uuid4().hex
        header = {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "",
            "session": self.session,
            "date": "2026-01-01T00:00:00.000000Z",
            "version": "5.3",
        }
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
        }
        frames = [json.dumps(p).encode() for p in (header, {}, {"cellId": "bench"}, content)]
        started = time.perf_counter()
        await self.conn.write_message(serialize_msg_to_ws_v1(frames, "shell"), binary=True)
        replied = idle = False
        while not (replied and idle):
            raw = await self.conn.read_message()
            if raw is None:
                raise ConnectionError("kernel socket closed")
            _, parts = deserialize_msg_from_ws_v1(raw)
            parent = json.loads(parts[1])
            if parent.get("msg_id") != msg_id:
                continue
            kind = json.loads(parts[0])["msg_type"]
            if kind == "execute_reply":
                replied = True
            elif kind == "status" and json.loads(parts[3])["execution_state"] == "idle":
                idle = True
        return (time.perf_counter() - started) * 1000


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in ms: less disturbed by other load than latency."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(server: BenchServer, rounds: int, n: int, warmup: int) -> dict[str, Any]:
    live = server.create_live_room()
    kernels = {}
    for name, path in (("plain", ""), ("room", f"interviews/{live.id}")):
        status, _, raw = server.request(
            "POST", "api/kernels", {"name": SPEC, "path": path}, token=True, timeout=60
        )
        if status != 201:
            raise RuntimeError(f"starting the {name} kernel gave {status}: {raw[:300]!r}")
        kernels[name] = json.loads(raw)["id"]
    sockets = {
        "plain": await Socket.open(server, kernels["plain"], token=True),
        "room": await Socket.open(server, kernels["room"], token=False, cookie=live.candidate_cookie),
    }
    for sock in sockets.values():
        for _ in range(warmup):
            await sock.round_trip("print(1)")
    per_round: dict[str, list[dict[str, float]]] = {"plain": [], "room": []}
    for r in range(rounds):
        order = ["plain", "room"] if r % 2 == 0 else ["room", "plain"]
        for name in order:
            cpu_before = cpu_ms(server.pid)
            times = [await sockets[name].round_trip("print(1)") for _ in range(n)]
            cpu = (cpu_ms(server.pid) - cpu_before) / n
            per_round[name].append({"p50": statistics.median(times), "p90": quantile(times, 0.9), "cpu": cpu})
    for sock in sockets.values():
        sock.conn.close()
    summary: dict[str, Any] = {}
    for name, rows in per_round.items():
        summary[name] = {
            "p50_ms": statistics.median(row["p50"] for row in rows),
            "p90_ms": statistics.median(row["p90"] for row in rows),
            "server_cpu_ms": statistics.median(row["cpu"] for row in rows),
        }
    diffs = [
        room["p50"] - plain["p50"] for room, plain in zip(per_round["room"], per_round["plain"], strict=True)
    ]
    summary["room_minus_plain_p50_ms"] = statistics.median(diffs)
    summary["ratio_p50"] = summary["room"]["p50_ms"] / summary["plain"]["p50_ms"]
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 rounds x 100 round trips")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--n", type=int)
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 6)
    n = args.n or (100 if args.quick else 400)
    with BenchServer() as server:
        summary = asyncio.run(measure(server, rounds, n, warmup=50))
    print(
        f"print(1) round trip over the kernel websocket, {rounds} rounds x {n} per series (medians of rounds)"
    )
    for name in ("plain", "room"):
        s = summary[name]
        print(
            f"  {name:<6} p50 {s['p50_ms']:.3f} ms   p90 {s['p90_ms']:.3f} ms"
            f"   server CPU {s['server_cpu_ms']:.3f} ms per round trip"
        )
    print(
        f"  room - plain p50: {summary['room_minus_plain_p50_ms']:+.3f} ms   ratio room/plain p50:"
        f" {summary['ratio_p50']:.3f}   (target for the whole sandbox overhead: < {TARGET_MS} ms)"
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
