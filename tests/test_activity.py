"""The activity feed on a real server: real pycrdt collaborators edit, move cursors and run cells; interviewers hear it."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import time
from typing import Any

import pytest
from pycrdt import Assoc, Encoder, StickyIndex, create_awareness_message
from test_collab import DocClient, collaborator, converged

from jupyter_interview.pytest_plugin import Client, Signal
from jupyter_interview.rooms.executions import EXECUTIONS_KEY, Execution
from jupyter_interview.server_ext.identity import ROLE_COLORS
from jupyter_interview.signaling.protocol import validate_payload


async def live_room(owner: Client, make_room: Any, make_client: Any) -> dict[str, Any]:
    """A live room; a named candidate and an interviewer joined, each with a greeted real-time socket."""
    room = await make_room(waiting_room=False)
    rid = room["id"]
    _, invite = await owner.json(
        "POST", f"interview/api/rooms/{rid}/invites", {"role": "candidate", "name": "Ada Lovelace"}
    )
    iv, cand = make_client(), make_client()
    assert (await iv.join(room["invites"]["interviewer"])).code == 302
    assert (await cand.join(invite["url"])).code == 302
    assert (await owner.json("POST", f"interview/api/rooms/{rid}/start"))[0] == 200
    room["iv_client"], room["cand_client"] = iv, cand
    room["iv"] = await Signal.open(iv, rid, hello={})
    room["cand"] = await Signal.open(cand, rid, hello={})
    room["cand_id"] = (await cand.json("GET", f"interview/api/rooms/{rid}/me"))[1]["participant_id"]
    room["iv_id"] = (await iv.json("GET", f"interview/api/rooms/{rid}/me"))[1]["participant_id"]
    return room


async def activities(sig: Signal, quiet_s: float = 0.3) -> list[dict[str, Any]]:
    """The activity payloads that arrive until the socket is quiet, each checked against the schema."""
    got = [m["payload"] for m in await sig.drain(quiet_s) if m["type"] == "activity"]
    for payload in got:
        validate_payload("activity", payload, None)
    return got


async def wait_activity(sig: Signal, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
    msg = await sig.wait("activity", timeout=timeout, **match)
    validate_payload("activity", msg["payload"], None)
    return dict(msg["payload"])


def awareness(doc: DocClient, head: dict[str, Any] | None, anchor: dict[str, Any] | None = None) -> bytes:
    """An awareness message as y-codemirror sends it: the state JSON with `cursors` of RelativePositions."""
    state: dict[str, Any] = {"user": {"name": "forged name", "color": "#000"}}
    if head is not None:
        state["cursors"] = [
            {"anchor": anchor or head, "head": head, "primary": True, "empty": anchor is None}
        ]
    doc.clock = getattr(doc, "clock", 0) + 1
    enc = Encoder()
    enc.write_var_uint(1)
    enc.write_var_uint(doc.doc.client_id)
    enc.write_var_uint(doc.clock)
    enc.write_var_string(json.dumps(state))
    return create_awareness_message(enc.to_bytes())


def position(doc: DocClient, cell: int, index: int) -> dict[str, Any]:
    """A JSON.stringify'd Yjs RelativePosition of `index` in a cell's source, as a browser makes it."""
    text = doc.source(cell)
    if index < len(text):
        item = StickyIndex.new(text, index, Assoc.AFTER).to_json()["item"]
        return {"type": None, "tname": None, "item": item, "assoc": 0}
    # At the end Yjs names the text itself (its own id: the scope of a sticky index before 0).
    scope = StickyIndex.new(text, 0, Assoc.BEFORE).to_json()["type"]
    return {"type": scope, "tname": None, "item": None, "assoc": 0}


def cell_id(doc: DocClient, index: int) -> str:
    return str(doc.nb.ycells[index]["id"])


def activity_feed(serverapp: Any) -> Any:
    return next(iter(serverapp.extension_manager.extension_apps["jupyter_interview"])).activity


async def test_interviewers_hear_who_edited_which_cell_and_candidates_hear_nothing(
    owner: Client, make_room: Any, make_client: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    cand = await collaborator(room["cand_client"], room["id"])
    staff = await collaborator(room["iv_client"], room["id"])
    # Both type at once, each in their own cell: each cell is attributed to its writer.
    for i in range(10):
        cand.source(1).insert(len(cand.source(1)), f"x{i} = {i}\n")
        staff.source(0).insert(len(staff.source(0)), ".")
        await asyncio.sleep(0)
    await converged([cand, staff])
    got = await activities(room["iv"], quiet_s=2.5)
    changes = [a for a in got if a["kind"] == "code-change"]
    by_cell = {a["cell"]: a for a in changes}
    assert set(by_cell) == {cell_id(cand, 0), cell_id(cand, 1)}, changes
    mine = [a for a in changes if a["cell"] == cell_id(cand, 1)]
    assert {a["participant_id"] for a in mine} == {room["cand_id"]}
    assert mine[0]["name"] == "Ada Lovelace" and mine[0]["role"] == "candidate" and mine[0]["index"] == 1
    assert "Ada Lovelace edited cell 2" in mine[0]["summary"]
    # Ten edits, at most two events (the first at once, the rest summed at the interval's end).
    assert len(mine) <= 2 and sum(a["count"] for a in mine) == 10
    assert sum(int(a["summary"].split("(+")[1].split(" ")[0]) for a in mine) == len(
        "".join(f"x{i} = {i}\n" for i in range(10))
    )
    theirs = [a for a in changes if a["cell"] == cell_id(cand, 0)]
    assert {(a["participant_id"], a["role"]) for a in theirs} == {(room["iv_id"], "interviewer")}
    # The candidate's real-time socket got none of it.
    assert not [m for m in await room["cand"].drain(0.3) if m["type"] == "activity"]


async def test_adding_and_deleting_cells_is_reported(owner: Client, make_room: Any, make_client: Any) -> None:
    room = await live_room(owner, make_room, make_client)
    cand = await collaborator(room["cand_client"], room["id"])
    from pycrdt import Map, Text

    cand.nb.ycells.append(
        Map(
            {
                "id": "added-cell",
                "cell_type": "code",
                "source": Text("y = 2"),
                "metadata": Map(),
                "outputs": [],
            }
        )
    )
    added = await wait_activity(room["iv"], kind="code-change", cell="added-cell")
    assert added["index"] == 2 and "added 1 cell" in added["summary"], added
    del cand.nb.ycells[0]
    gone = await wait_activity(room["iv"], kind="code-change")
    assert "deleted 1 cell" in gone["summary"] and gone["participant_id"] == room["cand_id"], gone


async def test_cursor_moves_reach_interviewers_as_cell_and_line(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    cand = await collaborator(room["cand_client"], room["id"])
    cand.source(1).insert(0, "a = 1\nb = 2\nc = 3\n")
    await cand.round_trip()
    await activities(room["iv"])  # the edit's own event
    # Inside the text: line 2 of cell 2 (0-based index 1).
    cand.send(awareness(cand, position(cand, 1, 8)))
    moved = await wait_activity(room["iv"], kind="cursor-move")
    assert moved == {
        "kind": "cursor-move",
        "participant_id": room["cand_id"],
        "name": "Ada Lovelace",  # from the invite, not the awareness state's forged name
        "role": "candidate",
        "cell": cell_id(cand, 1),
        "index": 1,
        "line": 2,
        "summary": "Ada Lovelace is in cell 2, line 2",
        "count": 1,
    }
    # At the very end of the first cell, where Yjs names the cell's text itself.
    await asyncio.sleep(1.0)
    cand.send(awareness(cand, position(cand, 0, len(cand.source(0)))))
    end = await wait_activity(room["iv"], kind="cursor-move")
    assert (end["cell"], end["index"], end["line"]) == (
        cell_id(cand, 0),
        0,
        str(cand.source(0)).count("\n") + 1,
    )
    # Moving along the same line says nothing new; a burst of moves is one event a second at most.
    started = time.monotonic()
    for i in range(30):
        cand.send(awareness(cand, position(cand, 1, 12 + (i % 3))))  # line 3, columns 1-3
        await asyncio.sleep(0.02)
    got = [a for a in await activities(room["iv"], quiet_s=1.5) if a["kind"] == "cursor-move"]
    elapsed = time.monotonic() - started
    assert [(a["index"], a["line"]) for a in got] == [(1, 3)]
    assert len(got) <= elapsed / 1.0 + 1
    # A blurred editor (no cursors) says nothing.
    cand.send(awareness(cand, None))
    assert not [a for a in await activities(room["iv"], quiet_s=1.3) if a["kind"] == "cursor-move"]
    assert activity_feed(jp_serverapp).errors == 0


async def test_cell_executions_are_reported_with_who_and_status(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    cand = await collaborator(room["cand_client"], room["id"])
    cid = cell_id(cand, 1)
    cand.source(1).insert(0, "1 + 1")
    await cand.round_trip()
    await activities(room["iv"])
    feed = jp_serverapp.web_app.settings[EXECUTIONS_KEY]
    now = time.time()
    common = {"room_id": room["id"], "kernel_id": "k", "participant_id": room["cand_id"], "code": "1 + 1"}
    feed.publish(Execution(msg_id="m1", cell_id=cid, status="started", started_at=now, **common))
    feed.publish(
        Execution(
            msg_id="m1", cell_id=cid, status="ok", started_at=now, ended_at=now, execution_count=3, **common
        )
    )
    ran = await wait_activity(room["iv"], kind="cell-executed")
    assert ran == {
        "kind": "cell-executed",
        "participant_id": room["cand_id"],
        "name": "Ada Lovelace",
        "role": "candidate",
        "cell": cid,
        "index": 1,
        "status": "ok",
        "execution_count": 3,
        "count": 1,
        "summary": "Ada Lovelace ran cell 2: ok",
    }
    assert not [
        a for a in await activities(room["iv"]) if a["kind"] == "cell-executed"
    ]  # "started" is silent
    assert not [m for m in await room["cand"].drain(0.3) if m["type"] == "activity"]


# The kernel side (server_ext.kernel_traffic) publishes executions from the kernel's own replies.
KERNEL_TRAFFIC = importlib.util.find_spec("jupyter_interview.server_ext.kernel_traffic") is not None


@pytest.mark.skipif(not KERNEL_TRAFFIC, reason="server_ext.kernel_traffic is not installed")
async def test_a_real_kernel_execution_is_reported_with_who_which_cell_and_how_it_ended(
    owner: Client, make_room: Any, make_client: Any
) -> None:
    from test_history import Kernel

    room = await live_room(owner, make_room, make_client)
    cand = await collaborator(room["cand_client"], room["id"])
    cid = cell_id(cand, 1)
    kernel, _ = await Kernel.open(room["cand_client"], room["id"])
    try:
        outputs = await kernel.run("print(6 * 7)", cid, timeout=60)
        assert outputs == [{"output_type": "stream", "name": "stdout", "text": "42\n"}]
        ran = await wait_activity(room["iv"], timeout=10, kind="cell-executed")
        assert (ran["participant_id"], ran["name"], ran["cell"], ran["index"], ran["status"]) == (
            room["cand_id"],
            "Ada Lovelace",
            cid,
            1,
            "ok",
        ), ran
        assert "Ada Lovelace ran cell 2: ok" in ran["summary"]
        await asyncio.sleep(0.6)  # past the execution interval: the next run is its own event
        await kernel.run("1 / 0", cid, timeout=60)
        failed = await wait_activity(room["iv"], timeout=10, kind="cell-executed")
        assert failed["status"] == "error" and failed["cell"] == cid, failed
    finally:
        kernel.close()
    assert not [m for m in await room["cand"].drain(0.3) if m["type"] == "activity"]


@pytest.mark.parametrize("cells", [1, 40])
async def test_a_burst_of_200_edits_is_a_bounded_number_of_events_summing_all(
    owner: Client, make_room: Any, make_client: Any, cells: int
) -> None:
    room = await live_room(owner, make_room, make_client)
    cand = await collaborator(room["cand_client"], room["id"])
    from pycrdt import Map, Text

    for i in range(cells - 2):  # the template has two cells
        cand.nb.ycells.append(
            Map({"id": f"c{i}", "cell_type": "code", "source": Text(""), "metadata": Map(), "outputs": []})
        )
    await cand.round_trip()
    await asyncio.sleep(2.1)  # the set-up's own events are out and every interval is over
    await activities(room["iv"])
    started = time.monotonic()
    for i in range(200):
        cand.source(i % cells).insert(0, "z")
        if i % 20 == 0:
            await asyncio.sleep(0.05)
    await cand.round_trip()
    got = [a for a in await activities(room["iv"], quiet_s=2.5) if a["kind"] == "code-change"]
    elapsed = time.monotonic() - started
    windows = elapsed // 2.0 + 1  # code-change intervals of 2 s that the burst and its tail spanned
    assert sum(a["count"] for a in got) == 200  # merged, not lost
    if cells == 1:
        assert len(got) <= windows + 1, got
    else:
        # 8 cells named per participant and interval, the rest summed in one event without a cell.
        assert len(got) <= windows * (8 + 1) + 9, len(got)
        assert any("cell" not in a and "several cells" in a["summary"] for a in got), got


async def test_hostile_awareness_and_unknown_positions_are_ignored(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    cand = await collaborator(room["cand_client"], room["id"])
    staff = await collaborator(room["iv_client"], room["id"])
    bogus_item = {"type": None, "tname": None, "item": {"client": 12345, "clock": 99}, "assoc": 0}
    bogus_type = {"type": {"client": 1, "clock": 1}, "tname": None, "item": None, "assoc": 0}
    for raw in (
        b"\x01",  # no payload
        b"\x01\x05\x01",  # truncated
        b"\x01\x03\xff\xff\xff",  # a varint that never ends
        awareness(cand, bogus_item),  # an item the server never saw (would panic in Rust if resolved)
        awareness(cand, bogus_type),
        awareness(cand, {"item": "nope"}),  # type: ignore[dict-item]
        create_awareness_message(b"\x01\x01\x01" + b"\x05[1,2"),  # state that is not JSON
    ):
        cand.send(raw)
        await asyncio.sleep(1.05)  # past the cursor interval, so each one is decoded
    assert not [a for a in await activities(room["iv"]) if a["kind"] == "cursor-move"]
    # The document still syncs, and the feed still works.
    cand.source(1).insert(0, "still = 'fine'\n")
    await converged([cand, staff])
    await wait_activity(room["iv"], kind="code-change", participant_id=room["cand_id"])
    assert activity_feed(jp_serverapp).errors == 0


@pytest.mark.parametrize("cleanup_delay", [2.0])
async def test_a_notebook_dropped_from_memory_is_forgotten_and_followed_again_when_rebuilt(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    feed = activity_feed(jp_serverapp)
    first = await live_room(owner, make_room, make_client)
    doc = await collaborator(first["cand_client"], first["id"])
    doc.source(1).insert(0, "a = 1\n")
    await wait_activity(first["iv"], kind="code-change")
    assert doc.room_name in feed.notebooks
    await doc.disconnect()
    server = feed.sockets.ydoc_handler_kwargs()["ywebsocket_server"]
    deadline = time.monotonic() + 15
    while server.room_exists(doc.room_name):
        assert time.monotonic() < deadline, "jupyter-collaboration kept the room"
        await asyncio.sleep(0.2)
    # Another room's first edit: the dropped document is let go.
    second = await live_room(owner, make_room, make_client)
    other = await collaborator(second["cand_client"], second["id"])
    other.source(1).insert(0, "b = 2\n")
    await wait_activity(second["iv"], kind="code-change")
    assert doc.room_name not in feed.notebooks and other.room_name in feed.notebooks
    # Back in the first room (rebuilt from the update store): followed again, still attributed.
    await asyncio.sleep(2.1)  # past the first room's code-change interval
    await doc.connect()
    doc.source(1).insert(0, "c = 3\n")
    again = await wait_activity(first["iv"], kind="code-change")
    assert (again["participant_id"], again["index"]) == (first["cand_id"], 1), again
    assert feed.notebooks[doc.room_name].yroom is server.rooms[doc.room_name]
    assert feed.errors == 0


@pytest.mark.parametrize("role", ["interviewer", "candidate"])
async def test_api_me_gives_the_invite_name_initials_and_a_role_colour(
    owner: Client, make_room: Any, make_client: Any, role: str
) -> None:
    # JupyterLab puts this identity into the document's awareness: remote cursors show it.
    room = await make_room(waiting_room=False)
    _, invite = await owner.json(
        "POST", f"interview/api/rooms/{room['id']}/invites", {"role": role, "name": "Grace Brewster Hopper"}
    )
    client = make_client()
    assert (await client.join(invite["url"])).code == 302
    code, me = await client.json("GET", "api/me")
    assert code == 200, me
    identity = me["identity"]
    assert identity["name"] == identity["display_name"] == "Grace Brewster Hopper"
    assert identity["initials"] == "GB"
    assert identity["color"] == ROLE_COLORS[role]
    assert identity["role"] == role and identity["room_id"] == room["id"]
    assert identity["username"].startswith(f"{role}-")
    assert ROLE_COLORS["interviewer"] != ROLE_COLORS["candidate"]
