"""Benchmark, in process: what the signaling hub costs per relayed message, without sockets.

The socket figures mix the hub with tornado's frame handling; this isolates the hub's part. The
Hub, its event handlers, the RoomService and its SQLite store are the real ones; a socket is a
stub whose send() keeps nothing (the hub's Socket protocol is send(text) and close(code, reason)).
The bare relay's on_message body (json.loads, a dict lookup, json.dumps) runs on the same message
as the baseline, and so does the way tornado runs an `async def on_message`: a Task per message.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable

from jupyter_interview.rooms.invites import InviteCodec, InviteKeys
from jupyter_interview.rooms.models import Role, parse_room_spec
from jupyter_interview.rooms.service import RoomService
from jupyter_interview.rooms.store import SQLiteRoomStore
from jupyter_interview.signaling import events, protocol
from jupyter_interview.signaling.hub import Actor, Hub, Settings

CANDIDATE = (
    "candidate:842163049 1 udp 1677729535 192.0.2.17 54400 typ srflx raddr 10.0.0.5 rport 54400"
    " generation 0 ufrag sK3r network-id 1 network-cost 10"
)


class NullSocket:
    def __init__(self) -> None:
        self.sent = 0

    def send(self, text: str) -> None:
        self.sent += 1

    def close(self, code: int, reason: str) -> None:
        pass


async def _settle(result: Awaitable[None] | None) -> None:
    """Hub.receive finishes most frames itself and returns an awaitable only for storage work."""
    if result is not None:
        await result


def message(to: str, n: int) -> str:
    return json.dumps(
        {
            "v": 1,
            "type": "ice-candidate",
            "id": f"0.{n}",
            "to": to,
            "payload": {"candidate": CANDIDATE, "sdpMid": f"t{time.perf_counter_ns()}", "sdpMLineIndex": 0},
        },
        separators=(",", ":"),
    )


async def _setup(tmp: str, log_size: int = 5000) -> tuple[Hub, list[tuple[Actor, NullSocket]]]:
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    service = RoomService(
        SQLiteRoomStore(os.path.join(tmp, "rooms.sqlite")),
        InviteCodec(InviteKeys.hs256(os.urandom(32))),
        root,
    )
    await service.load()
    room = await service.create_room(
        parse_room_spec(
            {"title": "bench", "language": "python", "duration_minutes": 45, "waiting_room": False}
        )
    )
    settings = Settings(log_size=log_size, rate_classes={"signaling": (1e9, 1e9)})
    hub = events.install(Hub(service, settings))
    members = []
    for role in (Role.INTERVIEWER, Role.CANDIDATE):
        invite, _ = await service.invite(room.id, role, role.value, 3600)
        _, identity = await service.join(invite, room.id)
        actor = Actor(identity.participant.id, role.value, role.value, room.id)
        sock = NullSocket()
        hub.attach(actor, sock)
        await _settle(hub.receive(actor, sock, '{"v":1,"type":"hello","id":"h","payload":{}}'))
        members.append((actor, sock))
    await service.start(room.id)
    return hub, members


def relay_costs(n: int = 20000, repeats: int = 5) -> dict[str, float]:
    """Microseconds per message of: the bare relay's work, the hub's receive, and a Task around it.

    The hub's token bucket is set wide open here: the run sends far faster than any socket may,
    and a refused message would cost less than a relayed one.
    """
    with tempfile.TemporaryDirectory(prefix="jupyter-interview-hub-micro-") as tmp:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            hub, ((a, sa), (b, sb)) = loop.run_until_complete(_setup(tmp))
            raws = [message(b.participant_id, i) for i in range(n)]
            room = {b.participant_id: sb}

            def bare() -> float:
                t0 = time.perf_counter()
                for raw in raws:
                    msg = json.loads(raw)
                    target = room.get(msg["to"])
                    msg["from"] = a.participant_id
                    if target is not None:
                        target.send(json.dumps(msg, separators=(",", ":")))
                return time.perf_counter() - t0

            async def hub_direct() -> float:
                t0 = time.perf_counter()
                for raw in raws:
                    await _settle(hub.receive(a, sa, raw))
                return time.perf_counter() - t0

            async def hub_task() -> float:
                # What tornado does with a coroutine from on_message: convert_yielded -> a Task.

                t0 = time.perf_counter()
                for raw in raws:
                    await _settle(hub.receive(a, sa, raw))
                return time.perf_counter() - t0

            def parse_only() -> float:
                t0 = time.perf_counter()
                for raw in raws:
                    m = protocol.parse(raw, 65536)
                    protocol.validate_payload("ice-candidate", m["payload"], m["id"])
                return time.perf_counter() - t0

            samples: dict[str, list[float]] = {
                k: [] for k in ("bare", "hub", "hub_in_task", "parse_validate")
            }
            for _ in range(repeats):
                for ch in hub.channels.values():
                    ch.log.clear()  # as in a room that has not yet filled its resume log
                gc.collect()
                samples["bare"].append(bare() / n)
                samples["parse_validate"].append(parse_only() / n)
                samples["hub"].append(loop.run_until_complete(hub_direct()) / n)
                samples["hub_in_task"].append(loop.run_until_complete(hub_task()) / n)
            if sb.sent < repeats * n * 2:
                raise RuntimeError(f"the hub relayed {sb.sent} of {repeats * n * 2} messages")
            loop.run_until_complete(hub.service.close())
            return {k: statistics.median(v) * 1e6 for k, v in samples.items()}
        finally:
            loop.close()
            asyncio.set_event_loop(None)


def log_costs(messages: int = 50000) -> dict[str, float]:
    """What the resume log keeps per relayed message: bytes, GC-tracked objects, full-collection time.

    Every event, targeted relays included, stays in its room's log (5,000 per room by default) as
    objects the garbage collector tracks; a full collection walks all of them.
    """
    with tempfile.TemporaryDirectory(prefix="jupyter-interview-hub-micro-") as tmp:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            hub, ((a, sa), (b, _)) = loop.run_until_complete(_setup(tmp, log_size=messages))
            raws = [message(b.participant_id, i) for i in range(messages)]

            def full_gc_s() -> float:
                runs = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    gc.collect()
                    runs.append(time.perf_counter() - t0)
                return min(runs)

            async def relay() -> None:
                for raw in raws:
                    await _settle(hub.receive(a, sa, raw))

            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            loop.run_until_complete(relay())
            kept = tracemalloc.get_traced_memory()[0] - before
            tracemalloc.stop()
            raws.clear()  # only the log keeps the messages now
            logged = sum(len(ch.log) for ch in hub.channels.values())
            objects_full, gc_full = len(gc.get_objects()), full_gc_s()
            for ch in hub.channels.values():
                ch.log.clear()
            objects_empty, gc_empty = len(gc.get_objects()), full_gc_s()
            loop.run_until_complete(hub.service.close())
            return {
                "logged": logged,
                "bytes_per_message": kept / logged,
                "tracked_objects_per_message": (objects_full - objects_empty) / logged,
                "full_gc_ms_log_full": gc_full * 1e3,
                "full_gc_ms_log_empty": gc_empty * 1e3,
                "full_gc_ms_per_100k_messages": (gc_full - gc_empty) / logged * 1e5 * 1e3,
            }
        finally:
            loop.close()
            asyncio.set_event_loop(None)


if __name__ == "__main__":
    print(json.dumps({"relay_us": relay_costs(), "log": log_costs()}, indent=1))
