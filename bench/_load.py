"""Benchmark load client, run as its own process: closed-loop HTTP/1.1 keep-alive GETs over raw sockets.

Driven by JSON lines through bench/_load_driver.py. A raw-socket client rather than http.client: its
per-request cost is a few microseconds, small and equal for every series, so the series differ only
by what the server does.
"""

from __future__ import annotations

import resource
import selectors
import socket
import time
from typing import Any

from _load_driver import serve


class Connection:
    __slots__ = ("buf", "left", "need", "sent_ns", "sock")

    def __init__(self, host: str, port: int, left: int) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.buf = b""
        self.need = -1  # total bytes of the response once its headers are parsed
        self.sent_ns = 0
        self.left = left


def response_length(buf: bytes) -> int:
    """Header + body length of the response at the start of buf, -1 while the headers are incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return -1
    head = buf[:end].lower()
    if not head.startswith(b"http/1.1 200"):
        raise RuntimeError(f"unexpected response: {buf[:300]!r}")
    if b"transfer-encoding: chunked" in head:
        raise RuntimeError("chunked responses are not expected here")
    i = head.find(b"\r\ncontent-length:")
    if i < 0:
        raise RuntimeError(f"a response without Content-Length: {buf[:300]!r}")
    j = head.find(b"\r\n", i + 2)
    length = int(head[i + 17 : j if j >= 0 else len(head)])
    return end + 4 + length


def run(host: str, port: int, request: bytes, requests: int, connections: int) -> dict[str, Any]:
    """Send `requests` GETs spread over `connections` keep-alive connections, one in flight on each."""
    per_conn = [
        requests // connections + (1 if i < requests % connections else 0) for i in range(connections)
    ]
    conns = [Connection(host, port, n) for n in per_conn if n > 0]
    sel = selectors.DefaultSelector()
    latencies: list[int] = []
    clock = time.perf_counter_ns
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    start = clock()
    for c in conns:
        c.sent_ns = clock()
        c.sock.sendall(request)
        sel.register(c.sock, selectors.EVENT_READ, c)
    open_conns = len(conns)
    while open_conns:
        for key, _ in sel.select():
            c = key.data
            chunk = c.sock.recv(262144)
            if not chunk:
                raise RuntimeError("the server closed a keep-alive connection")
            c.buf += chunk
            if c.need < 0:
                c.need = response_length(c.buf)
            if c.need < 0 or len(c.buf) < c.need:
                continue
            now = clock()
            latencies.append(now - c.sent_ns)
            c.buf = c.buf[c.need :]
            c.need = -1
            c.left -= 1
            if c.left:
                c.sent_ns = clock()
                c.sock.sendall(request)
            else:
                sel.unregister(c.sock)
                open_conns -= 1
    wall_ns = clock() - start
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    for c in conns:
        c.sock.close()
    sel.close()
    cpu_s = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return {
        "requests": len(latencies),
        "connections": len(conns),
        "wall_s": wall_ns / 1e9,
        "client_cpu_s": cpu_s,
        "latencies_ns": latencies,
    }


def main() -> None:
    serve(
        lambda cmd: run(
            cmd["host"],
            int(cmd["port"]),
            cmd["request"].encode("latin-1"),
            int(cmd["requests"]),
            int(cmd["connections"]),
        )
    )


if __name__ == "__main__":
    main()
