"""A RoomStore in Redis, for several server processes (or machines) sharing the same rooms."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from jupyter_interview.rooms.models import (
    ChatMessage,
    Invite,
    Notes,
    Participant,
    ParticipantStatus,
    Role,
    Room,
    RoomSettings,
    RoomState,
    Session,
)
from jupyter_interview.rooms.store import RoomStore
from jupyter_interview.rooms.timer import Timer

# Compare-and-set of notes: write only if the stored version is still the expected one.
PUT_NOTES = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
local version = 0
if current then version = cjson.decode(current)['version'] end
if version ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""


def _room_json(room: Room) -> str:
    data = asdict(room)
    data["state"] = room.state.value
    return json.dumps(data)


def _room(raw: str | bytes) -> Room:
    data = json.loads(raw)
    data["settings"] = RoomSettings.from_json(data["settings"])
    data["state"] = RoomState(data["state"])
    return Room(**data)


def _participant(raw: str | bytes) -> Participant:
    data = json.loads(raw)
    return Participant(**{**data, "role": Role(data["role"]), "status": ParticipantStatus(data["status"])})


def _invite(raw: str | bytes) -> Invite:
    data = json.loads(raw)
    return Invite(**{**data, "role": Role(data["role"])})


def _dump(obj: Any) -> str:
    data = asdict(obj)
    for key, value in data.items():
        if hasattr(value, "value"):
            data[key] = value.value
    return json.dumps(data)


class RedisRoomStore(RoomStore):
    """Rooms and everything of theirs as JSON in Redis hashes and lists, under one key prefix.

    `path` is a redis:// URL (the store is built from the same setting as the SQLite file's path).
    """

    def __init__(self, path: str, prefix: str = "ji:") -> None:
        self.url = path
        self.p = prefix
        self._client: Any = None
        self._loop: Any = None

    @property
    def redis(self) -> Any:
        """A client for the running event loop: start-up runs on its own loop, the server on another."""
        import asyncio

        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = aioredis.from_url(self.url, decode_responses=True)
            self._loop = loop
            self._put_notes = self._client.register_script(PUT_NOTES)
        return self._client

    def k(self, *parts: str) -> str:
        return self.p + ":".join(parts)

    async def open(self) -> None:
        await self.redis.ping()

    async def close(self) -> None:
        if self._client is not None:
            import asyncio

            if self._loop is asyncio.get_running_loop():
                await self._client.aclose()
            self._client = None

    # ---- rooms ----
    async def put_room(self, room: Room) -> None:
        await self.redis.hset(self.k("rooms"), room.id, _room_json(room))

    async def get_room(self, room_id: str) -> Room | None:
        raw = await self.redis.hget(self.k("rooms"), room_id)
        return _room(raw) if raw else None

    async def list_rooms(self) -> list[Room]:
        rooms = [_room(v) for v in (await self.redis.hgetall(self.k("rooms"))).values()]
        return sorted(rooms, key=lambda r: r.created_at)

    async def delete_room(self, room_id: str) -> None:
        r = self.redis
        pids = await r.smembers(self.k("room", room_id, "participants"))
        jtis = await r.smembers(self.k("room", room_id, "invites"))
        hashes = await r.smembers(self.k("room", room_id, "sessions"))
        async with r.pipeline(transaction=True) as pipe:
            pipe.hdel(self.k("rooms"), room_id)
            if pids:
                pipe.hdel(self.k("participants"), *pids)
                pipe.hdel(self.k("workspaces"), *pids)
            if jtis:
                pipe.hdel(self.k("invites"), *jtis)
            if hashes:
                pipe.hdel(self.k("sessions"), *hashes)
            pipe.hdel(self.k("timers"), room_id)
            for part in ("participants", "invites", "sessions"):
                pipe.delete(self.k("room", room_id, part))
            pipe.delete(self.k("notes", room_id), self.k("chat", room_id))
            await pipe.execute()

    # ---- participants ----
    async def put_participant(self, p: Participant) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.k("participants"), p.id, _dump(p))
            pipe.sadd(self.k("room", p.room_id, "participants"), p.id)
            await pipe.execute()

    async def list_participants(self, room_id: str | None = None) -> list[Participant]:
        if room_id is None:
            values = list((await self.redis.hgetall(self.k("participants"))).values())
        else:
            ids = list(await self.redis.smembers(self.k("room", room_id, "participants")))
            values = [v for v in (await self.redis.hmget(self.k("participants"), ids) if ids else []) if v]
        return sorted((_participant(v) for v in values), key=lambda p: p.created_at)

    # ---- invites ----
    async def put_invite(self, i: Invite) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.k("invites"), i.jti, _dump(i))
            pipe.sadd(self.k("room", i.room_id, "invites"), i.jti)
            await pipe.execute()

    async def list_invites(self, room_id: str | None = None) -> list[Invite]:
        if room_id is None:
            values = list((await self.redis.hgetall(self.k("invites"))).values())
        else:
            ids = list(await self.redis.smembers(self.k("room", room_id, "invites")))
            values = [v for v in (await self.redis.hmget(self.k("invites"), ids) if ids else []) if v]
        return [_invite(v) for v in values]

    # ---- sessions ----
    async def put_session(self, s: Session) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.k("sessions"), s.token_hash, _dump(s))
            pipe.sadd(self.k("room", s.room_id, "sessions"), s.token_hash)
            await pipe.execute()

    async def get_session(self, token_hash: str) -> Session | None:
        raw = await self.redis.hget(self.k("sessions"), token_hash)
        return Session(**json.loads(raw)) if raw else None

    async def list_sessions(self) -> list[Session]:
        return [Session(**json.loads(v)) for v in (await self.redis.hgetall(self.k("sessions"))).values()]

    async def delete_sessions(self, token_hashes: list[str]) -> None:
        if token_hashes:
            await self.redis.hdel(self.k("sessions"), *token_hashes)

    # ---- notes ----
    async def get_notes(self, room_id: str, author_id: str) -> Notes | None:
        raw = await self.redis.hget(self.k("notes", room_id), author_id)
        return Notes(**json.loads(raw)) if raw else None

    async def list_notes(self, room_id: str) -> list[Notes]:
        values = (await self.redis.hgetall(self.k("notes", room_id))).values()
        return sorted((Notes(**json.loads(v)) for v in values), key=lambda n: n.author_name)

    async def put_notes(self, notes: Notes, expected_version: int) -> bool:
        self.redis  # noqa: B018  (binds the script to this loop's client)
        ok = await self._put_notes(
            keys=[self.k("notes", notes.room_id)], args=[notes.author_id, expected_version, _dump(notes)]
        )
        return bool(ok)

    # ---- chat and timer ----
    async def add_chat(self, m: ChatMessage) -> None:
        await self.redis.rpush(self.k("chat", m.room_id), _dump(m))

    async def list_chat(self, room_id: str, limit: int) -> list[ChatMessage]:
        values = await self.redis.lrange(self.k("chat", room_id), -limit, -1)
        return [ChatMessage(**json.loads(v)) for v in values]

    async def get_timer(self, room_id: str) -> Timer | None:
        raw = await self.redis.hget(self.k("timers"), room_id)
        return Timer.from_store(json.loads(raw)) if raw else None

    async def put_timer(self, room_id: str, timer: Timer) -> None:
        await self.redis.hset(self.k("timers"), room_id, json.dumps(timer.to_store()))

    async def list_timers(self) -> dict[str, Timer]:
        values = await self.redis.hgetall(self.k("timers"))
        return {k: Timer.from_store(json.loads(v)) for k, v in values.items()}

    # ---- workspaces ----
    async def get_workspace(self, participant_id: str) -> str | None:
        raw = await self.redis.hget(self.k("workspaces"), participant_id)
        return str(raw) if raw is not None else None

    async def put_workspace(self, participant_id: str, room_id: str, data: str) -> None:
        await self.redis.hset(self.k("workspaces"), participant_id, data)
