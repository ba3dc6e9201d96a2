"""The RoomStore contract, run against both implementations: SQLite and a real redis-server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

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
from jupyter_interview.rooms.redis_store import RedisRoomStore
from jupyter_interview.rooms.store import RoomStore, SQLiteRoomStore
from jupyter_interview.rooms.timer import RUNNING, Timer


@pytest.fixture(params=["sqlite", "redis"])
def store_factory(request: Any, tmp_path: Any) -> Iterator[Any]:
    if request.param == "sqlite":
        yield lambda: SQLiteRoomStore(str(tmp_path / "rooms.sqlite"))
    else:
        url = request.getfixturevalue("redis_url")
        yield lambda: RedisRoomStore(url)


def room(room_id: str = "r1", state: RoomState = RoomState.SCHEDULED) -> Room:
    now = time.time()
    return Room(room_id, "Title", "python", 45, RoomSettings(problem="p"), state, now, now)


async def opened(factory: Any) -> RoomStore:
    store: RoomStore = factory()
    await store.open()
    return store


async def test_rooms_and_their_people_round_trip_and_survive_reopening(store_factory: Any) -> None:
    store = await opened(store_factory)
    r = room()
    await store.put_room(r)
    p = Participant("p1", r.id, "Ada", Role.CANDIDATE, ParticipantStatus.WAITING, 1.0, 2.0)
    i = Invite("j1", r.id, "p1", Role.CANDIDATE, 1.0, 9e9)
    s = Session("h1", r.id, "p1", "j1", 1.0, 9e9)
    await store.put_participant(p)
    await store.put_invite(i)
    await store.put_session(s)
    await store.put_room(r.with_state(RoomState.LIVE, 5.0))
    await store.close()
    store = await opened(store_factory)
    got = await store.get_room(r.id)
    assert (
        got is not None
        and got.state is RoomState.LIVE
        and got.settings.problem == "p"
        and got.started_at == 5.0
    )
    assert await store.list_participants(r.id) == [p]
    assert await store.list_invites(r.id) == [i]
    assert await store.get_session("h1") == s
    assert await store.list_sessions() == [s]
    await store.delete_sessions(["h1"])
    assert await store.get_session("h1") is None
    await store.close()


async def test_notes_write_only_over_the_expected_version(store_factory: Any) -> None:
    store = await opened(store_factory)
    await store.put_room(room())
    first = Notes("r1", "iv", "Ivy", "one", 1, 1.0)
    assert await store.put_notes(first, 0)
    assert not await store.put_notes(Notes("r1", "iv", "Ivy", "stale", 1, 2.0), 0)
    assert await store.put_notes(Notes("r1", "iv", "Ivy", "two", 2, 3.0), 1)
    assert [n.text for n in await store.list_notes("r1")] == ["two"]
    await store.close()


async def test_chat_timer_and_workspace(store_factory: Any) -> None:
    store = await opened(store_factory)
    await store.put_room(room())
    for n in range(5):
        await store.add_chat(ChatMessage("r1", f"m{n}", "p1", "Ada", f"text {n}", float(n)))
    assert [m.text for m in await store.list_chat("r1", 3)] == ["text 2", "text 3", "text 4"]
    t = Timer(RUNNING, 2700.0, 10.0, 100.0)
    await store.put_timer("r1", t)
    assert await store.get_timer("r1") == t
    assert await store.list_timers() == {"r1": t}
    await store.put_workspace("p1", "r1", '{"data": {}}')
    assert await store.get_workspace("p1") == '{"data": {}}'
    await store.close()


async def test_deleting_a_room_removes_everything_it_had(store_factory: Any) -> None:
    store = await opened(store_factory)
    await store.put_room(room("gone"))
    await store.put_room(room("kept"))
    for rid in ("gone", "kept"):
        await store.put_participant(
            Participant(f"p-{rid}", rid, "A", Role.CANDIDATE, ParticipantStatus.ADMITTED, 1.0)
        )
        await store.put_invite(Invite(f"j-{rid}", rid, f"p-{rid}", Role.CANDIDATE, 1.0, 9e9))
        await store.put_session(Session(f"h-{rid}", rid, f"p-{rid}", f"j-{rid}", 1.0, 9e9))
        await store.put_notes(Notes(rid, "iv", "Ivy", "x", 1, 1.0), 0)
        await store.add_chat(ChatMessage(rid, "m", "p", "A", "hi", 1.0))
        await store.put_timer(rid, Timer())
    await store.delete_room("gone")
    assert [r.id for r in await store.list_rooms()] == ["kept"]
    assert [p.room_id for p in await store.list_participants()] == ["kept"]
    assert [i.room_id for i in await store.list_invites()] == ["kept"]
    assert [s.room_id for s in await store.list_sessions()] == ["kept"]
    assert await store.list_notes("gone") == [] and await store.list_chat("gone", 10) == []
    assert list(await store.list_timers()) == ["kept"]
    await store.close()


async def test_concurrent_writers_do_not_lose_chat(store_factory: Any) -> None:
    store = await opened(store_factory)
    await store.put_room(room())
    await asyncio.gather(
        *(store.add_chat(ChatMessage("r1", f"m{n}", "p", "A", str(n), float(n))) for n in range(50))
    )
    assert len(await store.list_chat("r1", 100)) == 50
    await store.close()
