"""Several server processes over one Redis: each room's hub runs in one process, the others relay.

A room is owned by the process holding its lease (a Redis key with a TTL that the owner renews).
A socket that lands on another process is proxied: its frames are published to the owner's
channel, and what the owner's hub sends to it comes back on the frontend's channel. Room changes
(start, admission, revocation, timer) made by any process are published so every process's
RoomService reloads them from the shared store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import asdict
from typing import Any

from jupyter_interview.rooms.service import Change
from jupyter_interview.signaling.hub import Actor, Hub, Socket

log = logging.getLogger(__name__)

CLOSE_RESTART = 1012  # "service restart": the client reconnects and resumes


class RemoteSocket:
    """The owner's handle on a socket held by another process."""

    def __init__(self, relay: RedisRelay, frontend: str, conn: str) -> None:
        self.relay, self.frontend, self.conn = relay, frontend, conn

    def send(self, text: str) -> None:
        self.relay.publish(self.frontend, {"op": "send", "conn": self.conn, "data": text})

    def close(self, code: int, reason: str) -> None:
        self.relay.publish(self.frontend, {"op": "close", "conn": self.conn, "code": code, "reason": reason})


class RedisRelay:
    def __init__(self, hub: Hub, url: str, *, lease_s: float = 15.0, prefix: str = "ji:") -> None:
        self.hub = hub
        self.url = url
        self.lease_s = lease_s
        self.prefix = prefix
        self.proc = secrets.token_hex(8)
        self.redis: Any = None
        self.owned: set[str] = set()
        self.local: dict[str, Socket] = {}  # frontend side: conn id -> the real socket
        self.owner_by_conn: dict[str, str] = {}  # frontend side: conn id -> the room's owner
        self.room_by_conn: dict[str, str] = {}
        self.remote: dict[tuple[str, str], tuple[Actor, RemoteSocket]] = {}  # owner side
        self._outbox: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []

    def channel(self, proc: str) -> str:
        return f"{self.prefix}proc:{proc}"

    def lease_key(self, room_id: str) -> str:
        return f"{self.prefix}room:{room_id}:owner"

    async def start(self) -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.from_url(self.url, decode_responses=True)
        await self.redis.ping()
        self.pubsub = self.redis.pubsub()
        await self.pubsub.subscribe(self.channel(self.proc), f"{self.prefix}changes")
        self.hub.owns = self.owns
        self.hub.service.publish = self._publish_change
        self._tasks = [
            asyncio.create_task(self._listen()),
            asyncio.create_task(self._send_loop()),
            asyncio.create_task(self._renew_loop()),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.redis is not None:
            for room_id in list(self.owned):
                await self._release(room_id)
            await self.pubsub.aclose()
            await self.redis.aclose()

    # ---------------------------------------------------------------- ownership
    def owns(self, room_id: str) -> bool:
        return room_id in self.owned

    async def owner_of(self, room_id: str) -> str:
        """The process that runs the room's hub; claims it for this process if nobody does."""
        key = self.lease_key(room_id)
        ttl_ms = int(self.lease_s * 1000)
        if await self.redis.set(key, self.proc, nx=True, px=ttl_ms):
            self.owned.add(room_id)
            self.hub.claimed(room_id)
            return self.proc
        owner = await self.redis.get(key)
        if owner == self.proc:
            self.owned.add(room_id)
        return str(owner) if owner else await self.owner_of(room_id)

    async def _release(self, room_id: str) -> None:
        key = self.lease_key(room_id)
        if await self.redis.get(key) == self.proc:
            await self.redis.delete(key)
        self.owned.discard(room_id)

    async def _renew_loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            await self._check_owners()
            for room_id in list(self.owned):
                ch = self.hub.channels.get(room_id)
                if ch is None or not ch.members:
                    await self._release(room_id)
                    continue
                ok = await self.redis.set(
                    self.lease_key(room_id), self.proc, xx=True, px=int(self.lease_s * 1000)
                )
                if not ok:
                    log.warning("lost the lease of room %s", room_id)
                    self.owned.discard(room_id)

    async def _check_owners(self) -> None:
        """Close relayed sockets whose room's owner is gone, so their clients reconnect and resume
        on whichever process takes the room over."""
        for conn, room_id in list(self.room_by_conn.items()):
            if await self.redis.get(self.lease_key(room_id)) != self.owner_by_conn.get(conn):
                socket = self.local.pop(conn, None)
                self.owner_by_conn.pop(conn, None)
                self.room_by_conn.pop(conn, None)
                if socket is not None:
                    socket.close(CLOSE_RESTART, "the process running this room went away; reconnect")

    # ---------------------------------------------------------------- messages
    def publish(self, proc: str, message: dict[str, Any]) -> None:
        # One queue keeps publish order, which per-socket ordering relies on.
        self._outbox.put_nowait((self.channel(proc), json.dumps(message)))

    def _publish_change(self, change: Change) -> None:
        self._outbox.put_nowait((f"{self.prefix}changes", json.dumps({"from": self.proc, **asdict(change)})))

    async def _send_loop(self) -> None:
        while True:
            channel, data = await self._outbox.get()
            batch = [(channel, data)]
            while not self._outbox.empty() and len(batch) < 256:
                batch.append(self._outbox.get_nowait())
            async with self.redis.pipeline(transaction=False) as pipe:
                for ch, payload in batch:
                    pipe.publish(ch, payload)
                await pipe.execute()

    async def _listen(self) -> None:
        async for message in self.pubsub.listen():
            if message.get("type") != "message":
                continue
            try:
                data = json.loads(message["data"])
                if message["channel"].endswith("changes"):
                    if data.pop("from") != self.proc:
                        await self.hub.service.apply_remote(Change(**data))
                else:
                    await self._on_op(data)
            except Exception:
                log.exception("relay message failed: %.200s", message.get("data"))

    async def _on_op(self, m: dict[str, Any]) -> None:
        op = m["op"]
        if op == "send":
            socket = self.local.get(m["conn"])
            if socket is not None:
                socket.send(m["data"])
        elif op == "close":
            socket = self.local.pop(m["conn"], None)
            if socket is not None:
                socket.close(m["code"], m["reason"])
        elif op == "attach":
            actor = Actor(**m["actor"])
            remote = RemoteSocket(self, m["from"], m["conn"])
            self.remote[(m["from"], m["conn"])] = (actor, remote)
            await self.owner_of(actor.room_id)
            self.hub.attach(actor, remote)
        elif op == "frame":
            found = self.remote.get((m["from"], m["conn"]))
            if found is not None:
                pending = self.hub.receive(found[0], found[1], b"" if m.get("binary") else m["data"])
                if pending is not None:
                    await pending
        elif op == "detach":
            found = self.remote.pop((m["from"], m["conn"]), None)
            if found is not None:
                self.hub.disconnect(found[0], found[1])

    # ---------------------------------------------------------------- frontend side
    async def open(self, actor: Actor, socket: Socket) -> str | None:
        """Route a new socket: None if this process owns the room (use the hub directly), else a conn id."""
        owner = await self.owner_of(actor.room_id)
        if owner == self.proc:
            return None
        conn = secrets.token_hex(8)
        self.local[conn] = socket
        self.publish(
            owner, {"op": "attach", "conn": conn, "from": self.proc, "owner": owner, "actor": asdict(actor)}
        )
        self.owner_by_conn[conn] = owner
        self.room_by_conn[conn] = actor.room_id
        return conn

    def frame(self, conn: str, data: str | bytes) -> None:
        owner = self.owner_by_conn.get(conn)
        if owner is not None:
            # Binary frames are refused by the hub; only the fact that one came travels.
            body = {"binary": True} if isinstance(data, bytes) else {"data": data}
            self.publish(owner, {"op": "frame", "conn": conn, "from": self.proc, **body})

    def closed(self, conn: str) -> None:
        self.local.pop(conn, None)
        owner = self.owner_by_conn.pop(conn, None)
        self.room_by_conn.pop(conn, None)
        if owner is not None:
            self.publish(owner, {"op": "detach", "conn": conn, "from": self.proc})
