"""Version history and session replay: snapshots, caps, thinning, diff, restore, replay, executions.

Store-level tests run on a real SQLite file; server tests use a real Jupyter server, real pycrdt
collaboration clients over real websockets (tests/test_collab.py's DocClient), and real sandboxed
kernels driven over the kernel websocket, whose executions the server records itself.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from jupyter_ydoc import YNotebook
from pycrdt import Doc, Map, Text, merge_updates
from test_collab import DocClient, collaborator, interview_app, server_sources
from test_openapi import SPEC, assert_fits, response_schema
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from jupyter_interview.pytest_plugin import Client
from jupyter_interview.rooms import history as h
from jupyter_interview.rooms.executions import EXECUTIONS_KEY, Execution

FRAME_S = 0.2


def fits(path: str, method: str, status: int, body: Any) -> Any:
    """The answer is what openapi.json documents for it."""
    assert_fits(body, response_schema(SPEC, path, method, status))
    return body


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {
        **jp_server_config,
        "HistoryRecorder": {
            "frame_interval_s": FRAME_S,
            "snapshot_interval_s": 1.0,
            "execution_snapshot_delay_s": 0.5,
        },
    }


def notebook(n: int, *, output: str = "") -> dict[str, Any]:
    cells = []
    for i in range(n):
        cells.append(
            {
                "cell_type": "code",
                "id": f"cell-{i}",
                "metadata": {},
                "source": f"x{i} = {i}\nprint(x{i})\n",
                "execution_count": i + 1,
                "outputs": [{"output_type": "stream", "name": "stdout", "text": output or f"{i}\n"}],
            }
        )
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


async def open_store(tmp_path: Path, **limits: Any) -> h.HistoryStore:
    store = h.HistoryStore(str(tmp_path / "history.sqlite"), h.Limits(**limits))
    await store.open()
    return store


# ------------------------------------------------------------------ the store, without a server


async def test_outputs_are_capped_per_output_and_per_snapshot(tmp_path: Path) -> None:
    store = await open_store(tmp_path, max_output_bytes=1000, max_outputs_bytes=5000)
    nb = notebook(3)
    nb["cells"][0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "a" * 50_000}]
    nb["cells"][1]["outputs"] = [
        {
            "output_type": "display_data",
            "data": {"image/png": "iVBOR" * 10_000, "text/plain": "<Figure>"},
            "metadata": {},
        },
        {
            "output_type": "error",
            "ename": "E",
            "evalue": "v",
            "traceback": [f"line {i}" for i in range(2000)],
        },
    ]
    nb["cells"][2]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "b" * 900}] * 20
    info = await store.add_snapshot("r1", nb, t=1.0, kind="auto")
    assert info is not None and info.capped
    got = await store.get_snapshot("r1", info.id)
    assert got is not None
    stored = got[1]
    stream = stored["cells"][0]["outputs"][0]
    assert stream["text"].startswith("a" * 900) and "cut at 1000 bytes" in stream["text"]
    assert len(stream["text"]) < 1200
    image, error = stored["cells"][1]["outputs"]
    assert set(image["data"]) == {"text/plain"} and "image/png" in image["data"]["text/plain"]
    assert error["traceback"][-1] == "line 1999" and "earlier traceback lines" in error["traceback"][0]
    # Over the snapshot's total: the rest of the outputs are replaced by one notice.
    outputs = stored["cells"][2]["outputs"]
    assert len(outputs) < 20 and "outputs not kept" in outputs[-1]["text"]
    total = sum(len(json.dumps(o)) for c in stored["cells"] for o in c["outputs"])
    assert total < 5000 + 1000
    # Sources are never cut.
    assert [c["source"] for c in stored["cells"]] == [c["source"] for c in nb["cells"]]
    await store.close()


async def test_unchanged_cells_are_stored_once_and_unchanged_notebooks_not_at_all(tmp_path: Path) -> None:
    store = await open_store(tmp_path)
    nb = notebook(100)
    first = await store.add_snapshot("r1", nb, t=1.0, kind="auto")
    nb["cells"][50]["source"] += "y = 1\n"
    second = await store.add_snapshot("r1", nb, t=2.0, kind="auto", skip_if_unchanged=True)
    assert first is not None and second is not None
    assert second.stored < first.stored / 10, (first.stored, second.stored)
    assert await store.add_snapshot("r1", nb, t=3.0, kind="auto", skip_if_unchanged=True) is None
    got = await store.get_snapshot("r1", second.id)
    assert got is not None and got[1]["cells"] == nb["cells"]
    # Snapshot ids are per room: another room's id is not found here.
    assert await store.get_snapshot("r2", second.id) is None
    await store.close()


def test_thinning_keeps_the_last_hour_then_one_per_tier_and_every_pinned_one() -> None:
    now = 100 * 86400.0

    def snap(i: int, age: float, pinned: bool = False) -> h.SnapshotInfo:
        return h.SnapshotInfo(i, "r", now - age, "auto", "", (), 1, 1, False, (), pinned, 1)

    snaps = [snap(i, age) for i, age in enumerate(range(30, 3 * 86400, 30))]
    snaps.append(snap(100_000, 2 * 86400 + 15, pinned=True))
    drop = set(h.to_thin(snaps, now, keep_all_s=3600))
    kept = [s for s in snaps if s.id not in drop]
    ages = sorted(now - s.t for s in kept)
    assert all(s.id not in drop for s in snaps if now - s.t < 3600)
    assert 100_000 not in drop
    hour_to_day = [a for a in ages if 3600 <= a < 86400]
    older = [a for a in ages if a >= 86400]
    # One per 10-minute bucket between an hour and a day, one per hour beyond (and the pinned one).
    assert 6 * 23 - 2 <= len(hour_to_day) <= 6 * 23 + 2, len(hour_to_day)
    assert 48 - 2 <= len(older) - 1 <= 48 + 2, len(older)
    assert h.to_thin(kept, now, keep_all_s=3600) == []


async def test_a_rooms_history_stays_within_its_bound_and_then_refuses_checkpoints(tmp_path: Path) -> None:
    store = await open_store(tmp_path, max_room_bytes=60_000, keep_all_s=10**9)
    rng = __import__("random").Random(1)

    def noisy(i: int) -> dict[str, Any]:
        nb = notebook(2)
        nb["cells"][0]["source"] = "".join(rng.choice("abcdefgh") for _ in range(8000)) + str(i)
        return nb

    first = await store.add_snapshot("r", noisy(0), t=0.0, kind="auto")
    assert first is not None
    for i in range(1, 30):
        await store.add_snapshot("r", noisy(i), t=float(i), kind="auto")
        assert (await store.room_bytes("r"))["snapshots"] <= 60_000
    ids = [s.id for s in await store.list_snapshots("r")]
    assert first.id not in ids and len(ids) < 29
    # Other rooms are untouched by one room's bound.
    other = await store.add_snapshot("other", notebook(1), t=0.0, kind="auto")
    # Checkpoints are never dropped: they push the unpinned snapshots out, then are refused.
    with pytest.raises(h.HistoryFull) as refused:
        for i in range(30, 130):
            await store.add_snapshot("r", noisy(i), t=float(i), kind="checkpoint", label=f"c{i}")
    assert all(s.pinned for s in await store.list_snapshots("r"))
    assert refused.value.code == "history_full" and "max_room_bytes" in refused.value.message
    assert (await store.room_bytes("r"))["snapshots"] <= 60_000
    assert other is not None and await store.get_snapshot("other", other.id) is not None
    await store.close()


def test_frames_rebuild_the_document_exactly_at_every_moment() -> None:
    """The tracker's frames, applied in order, give the live document's notebook at each frame."""
    doc: Doc[Any] = Doc()
    nb = YNotebook(doc)
    nb.set(notebook(5))
    tracker = h.DocTracker(doc, object())
    frames: list[h.Frame] = []
    expected: list[tuple[float, dict[str, Any]]] = []
    rng = __import__("random").Random(7)
    for step in range(40):
        for _ in range(rng.randint(0, 6)):
            cells = nb.ycells
            what = rng.random()
            if what < 0.5 and len(cells):
                text = cells[rng.randrange(len(cells))]["source"]
                text.insert(rng.randint(0, len(text)), rng.choice(["a", "bc", "\n", "def f():\n"]))
            elif what < 0.6 and len(cells):
                text = cells[rng.randrange(len(cells))]["source"]
                if len(text) > 2:
                    start = rng.randrange(len(text) - 1)
                    del text[start : start + 1]
            elif what < 0.75:
                nb.append_cell({"cell_type": "code", "id": uuid.uuid4().hex, "source": "new", "metadata": {}})
            elif what < 0.85 and len(cells) > 1:
                del cells[rng.randrange(len(cells))]
            elif len(cells):
                # Outputs as JupyterLab writes them: stream text appended, or all outputs replaced.
                outputs = cells[rng.randrange(len(cells))]["outputs"]
                if len(outputs) and rng.random() < 0.5 and outputs[0].get("output_type") == "stream":
                    outputs[0]["text"].insert(len(outputs[0]["text"]), f"{step}\n")
                else:
                    outputs.clear()
                    outputs.append(
                        Map({"output_type": "stream", "name": "stdout", "text": Text(f"{step}\n")})
                    )
        taken = tracker.take_frame()
        if taken is not None:
            kind, update, _ = taken
            frames.append(h.Frame(len(frames), float(step), kind, (), update))
        expected.append((float(step), nb.get(deduplicate=False)))
    assert frames[0].kind == "base" and all(f.kind == "update" for f in frames[1:])
    for t, wanted in expected:
        found = h.notebook_at(frames, t)
        assert found is not None and found[0] == wanted, t
    tracker.close()


def test_diff_summary_names_added_removed_and_modified_cells() -> None:
    from nbdime import diff_notebooks
    from nbformat import from_dict

    a = notebook(5)
    b = json.loads(json.dumps(a))
    b["cells"][1]["source"] += "more\n"
    del b["cells"][3]
    b["cells"].insert(0, {"cell_type": "markdown", "id": "md", "metadata": {}, "source": "# new"})
    b["cells"][-1]["outputs"] = []
    diff = json.loads(json.dumps(diff_notebooks(from_dict(a), from_dict(b))))
    summary = h.diff_summary(a, b, diff)
    assert [(e["status"], e["cell_id"]) for e in summary] == [
        ("added", "md"),
        ("unchanged", "cell-0"),
        ("modified", "cell-1"),
        ("unchanged", "cell-2"),
        ("removed", "cell-3"),
        ("modified", "cell-4"),
    ]
    assert summary[2]["changed"] == ["source"] and summary[5]["changed"] == ["outputs"]
    assert (summary[5]["a_index"], summary[5]["b_index"]) == (4, 4)


def test_kernel_outputs_are_compared_as_frontends_merge_them() -> None:
    e = Execution(
        "r",
        "k",
        "m",
        "p",
        "print(1)",
        "cell-0",
        "ok",
        0.0,
        outputs=(
            {"output_type": "stream", "name": "stdout", "text": "1"},
            {"output_type": "stream", "name": "stdout", "text": "\n"},
            {
                "output_type": "execute_result",
                "execution_count": 3,
                "data": {"text/plain": "2"},
                "metadata": {},
            },
        ),
    )
    nb = notebook(1)
    nb["cells"][0]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": ["1\n"]},
        {
            "output_type": "execute_result",
            "execution_count": 3,
            "data": {"text/plain": ["2"]},
            "metadata": {},
        },
    ]
    assert h.compare_execution(e, nb) == "same"
    nb["cells"][0]["outputs"][0]["text"] = "forged\n"
    assert h.compare_execution(e, nb) == "differ"
    nb["cells"][0]["id"] = "elsewhere"
    assert h.compare_execution(e, nb) == "missing"


WRITER = """
import asyncio, sys
sys.path.insert(0, {root!r})
from jupyter_interview.rooms import history as h
from test_history import notebook

async def main():
    store = h.HistoryStore({path!r})
    await store.open()
    for i in range(10_000):
        nb = notebook(3)
        nb["cells"][0]["source"] = f"step {{i}}"
        await store.add_snapshot("r", nb, t=float(i), kind="auto")
        await store.add_frame("r", float(i), "update", bytes([i % 256]) * 100)
        print(i, flush=True)

asyncio.run(main())
"""


def test_committed_history_survives_the_process_being_killed(tmp_path: Path) -> None:
    path = str(tmp_path / "history.sqlite")
    code = WRITER.format(root=str(Path(__file__).parent.parent), path=path)
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=str(Path(__file__).parent),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    done = -1
    deadline = time.monotonic() + 30
    while done < 50 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        done = int(line.split()[0])
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert done >= 50, proc.stderr.read() if proc.stderr else ""

    async def read() -> None:
        store = h.HistoryStore(path)
        await store.open()
        snaps = await store.list_snapshots("r")
        frames = await store.list_frames("r")
        # Everything the writer reported (each line follows a committed write) is there, readable.
        assert len(snaps) >= done + 1 and len(frames) >= done + 1
        got = await store.get_snapshot("r", snaps[-1].id)
        assert got is not None and got[1]["cells"][0]["source"].startswith("step ")
        await store.close()

    asyncio.run(read())
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


# ------------------------------------------------------------------ on a real server


async def live(owner: Client, make_room: Any, make_client: Any) -> tuple[dict[str, Any], Client, Client]:
    room = await make_room(waiting_room=False)
    cand, iv = make_client(), make_client()
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    assert (await iv.join(room["invites"]["interviewer"])).code == 302
    assert (await owner.json("POST", f"interview/api/rooms/{room['id']}/start"))[0] == 200
    return room, iv, cand


async def pid_of(client: Client, room_id: str) -> str:
    code, me = await client.json("GET", f"interview/api/rooms/{room_id}/me")
    assert code == 200, me
    return str(me["participant_id"])


async def settle(seconds: float = FRAME_S * 3) -> None:
    """Let the recorder's tick store what just changed (a few frame intervals)."""
    await asyncio.sleep(seconds)


async def until(check: Any, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def rebuild(frames: list[dict[str, Any]], t: float) -> dict[str, Any]:
    """What the replay UI does with the frames (here with pycrdt instead of yjs)."""
    upto = [f for f in frames if f["t"] <= t]
    start = max(i for i, f in enumerate(upto) if f["kind"] == "base")
    update = merge_updates(*(base64.b64decode(f["update"]) for f in upto[start:]))
    return h.notebook_from_update(update)


async def server_notebook(serverapp: Any, name: str) -> dict[str, Any]:
    ydoc_app = next(iter(serverapp.extension_manager.extension_apps["jupyter_server_ydoc"]))
    doc = await ydoc_app.get_document(room_id=name, copy=True)
    return dict(doc.get())


ROUTES = (
    ("GET", "snapshots"),
    ("POST", "snapshots"),
    ("GET", "snapshots/{sid}"),
    ("GET", "snapshots/{sid}/diff"),
    ("POST", "snapshots/{sid}/restore"),
    ("POST", "snapshots/undo"),
    ("GET", "replay"),
    ("GET", "replay?at=1"),
)


async def test_candidates_get_403_on_history_and_replay_and_nobody_reaches_another_room(
    owner: Client, make_room: Any, make_client: Any
) -> None:
    room, iv, cand = await live(owner, make_room, make_client)
    other, other_iv, _ = await live(owner, make_room, make_client)
    code, snap = await owner.json("POST", f"interview/api/rooms/{other['id']}/snapshots", {"label": "b"})
    assert code == 201, snap
    code, mine = await iv.json("POST", f"interview/api/rooms/{room['id']}/snapshots", {"label": "a"})
    assert code == 201, mine
    for method, path in ROUTES:
        for rid, sid in ((room["id"], mine["id"]), (other["id"], snap["id"])):
            url = f"interview/api/rooms/{rid}/" + path.format(sid=sid)
            code, body = await cand.json(method, url)
            assert code == 403, (method, url, body)
            if rid == other["id"]:
                code, body = await iv.json(method, url)
                assert code == 403, (method, url, body)
    # Another room's snapshot id through this room's URL: not found here.
    code, body = await iv.json("GET", f"interview/api/rooms/{room['id']}/snapshots/{snap['id']}")
    assert code == 404 and body["error"]["code"] == "snapshot_not_found"
    # After End the candidate still cannot; the interviewer still can.
    assert (await owner.json("POST", f"interview/api/rooms/{room['id']}/end"))[0] == 200
    assert (await cand.json("GET", f"interview/api/rooms/{room['id']}/replay"))[0] == 403
    assert (await iv.json("GET", f"interview/api/rooms/{room['id']}/replay"))[0] == 200
    assert (await other_iv.json("GET", f"interview/api/rooms/{other['id']}/snapshots"))[0] == 200


async def test_bad_history_requests_are_refused_with_what_is_accepted(
    owner: Client, make_room: Any, make_client: Any
) -> None:
    room, iv, _ = await live(owner, make_room, make_client)
    base = f"interview/api/rooms/{room['id']}"
    cases = [
        ("POST", "snapshots", {"label": "x" * 201}, "invalid_field", "1 to 200"),
        ("POST", "snapshots", {"label": "a\x00b"}, "invalid_field", "printable"),
        ("POST", "snapshots", {"label": 5}, "invalid_field", "label"),
        ("POST", "snapshots", {"name": "x"}, "unknown_field", "accepted: label"),
        ("POST", "snapshots", [1], "invalid_body", "JSON object"),
        ("GET", "snapshots/1/diff?against=yesterday", None, "invalid_field", "or current"),
        ("GET", "replay?at=nan", None, "invalid_field", "seconds since the epoch"),
        ("GET", "replay?since=-5", None, "invalid_field", "seconds since the epoch"),
    ]
    for method, path, body, code_name, words in cases:
        code, reply = await iv.json(method, f"{base}/{path}", body)
        assert code == 400, (path, reply)
        assert reply["error"]["code"] == code_name and words in reply["error"]["message"], reply
        documented = path.split("?")[0].replace("/1/", "/{sid}/")
        fits("/rooms/{room_id}/" + documented, method.lower(), 400, reply)
    bad = await iv.request(
        "POST", f"{base}/snapshots", raw=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.code == 400 and json.loads(bad.body)["error"]["code"] == "invalid_json"
    code, listed = await iv.json("GET", f"{base}/snapshots")
    assert code == 200 and [s for s in listed["snapshots"] if s["kind"] == "checkpoint"] == []
    code, reply = await iv.json("POST", f"{base}/snapshots/undo")
    assert code == 409 and reply["error"]["code"] == "nothing_to_undo"
    code, reply = await iv.json("POST", f"{base}/snapshots/424242/restore")
    assert code == 404 and reply["error"]["code"] == "snapshot_not_found"


async def test_snapshot_diff_and_restore_round_trip_reaches_the_candidate_and_can_be_undone(
    jp_serverapp: Any, owner: Client, make_room: Any, make_client: Any
) -> None:
    room, iv, cand = await live(owner, make_room, make_client)
    base = f"interview/api/rooms/{room['id']}"
    a, b = await collaborator(iv, room["id"]), await collaborator(cand, room["id"])
    original = a.sources()
    a.source(1).insert(0, "# version one\n")
    await a.round_trip()
    await settle()
    code, first = await iv.json("POST", f"{base}/snapshots", {"label": "version one"})
    assert code == 201 and first["kind"] == "checkpoint" and first["pinned"], first
    fits("/rooms/{room_id}/snapshots", "post", 201, first)
    # The candidate rewrites the cell and adds one.
    b.source(1).clear()
    b.source(1).insert(0, "def solve():\n    return 42\n")
    b.nb.append_cell({"cell_type": "code", "id": "added", "source": "solve()", "metadata": {}, "outputs": []})
    await b.round_trip()
    await settle()
    code, diff = await iv.json("GET", f"{base}/snapshots/{first['id']}/diff")
    assert code == 200, diff
    fits("/rooms/{room_id}/snapshots/{sid}/diff", "get", 200, diff)
    assert diff["b"]["id"] == "current"
    statuses = {(c["status"], c["cell_id"]) for c in diff["cells"]}
    cell1 = a.nb.ycells[1]["id"]
    assert ("modified", cell1) in statuses and ("added", "added") in statuses
    assert any(d["key"] == "cells" for d in diff["diff"])  # nbdime's own format
    code, viewed = await iv.json("GET", f"{base}/snapshots/{first['id']}")
    assert code == 200 and viewed["notebook"]["cells"][1]["source"].startswith("# version one")
    fits("/rooms/{room_id}/snapshots/{sid}", "get", 200, viewed)

    code, restored = await iv.json("POST", f"{base}/snapshots/{first['id']}/restore")
    assert code == 200, restored
    fits("/rooms/{room_id}/snapshots/{sid}/restore", "post", 200, restored)
    before = restored["before"]
    assert before["kind"] == "restore" and before["pinned"]
    wanted = [c["source"] for c in viewed["notebook"]["cells"]]

    async def candidate_sees(sources: list[str]) -> bool:
        return b.sources() == sources and a.sources() == sources

    await until(lambda: candidate_sees(wanted))
    assert await server_sources(jp_serverapp, a.room_name) == wanted
    # Undo: back to what the candidate had, for everyone.
    code, undone = await iv.json("POST", f"{base}/snapshots/undo")
    assert code == 200 and undone["undone"] == first["id"], undone
    fits("/rooms/{room_id}/snapshots/undo", "post", 200, undone)
    code, pre = await iv.json("GET", f"{base}/snapshots/{before['id']}")
    await until(lambda: candidate_sees([c["source"] for c in pre["notebook"]["cells"]]))
    assert b.sources()[1] == "def solve():\n    return 42\n" and b.sources()[-1] == "solve()"
    code, again = await iv.json("POST", f"{base}/snapshots/undo")
    assert code == 409 and again["error"]["code"] == "nothing_to_undo"
    fits("/rooms/{room_id}/snapshots/undo", "post", 409, again)
    # The candidate's own editing goes on normally after a restore and its undo.
    b.source(0).insert(0, "ok ")

    async def interviewer_sees_it() -> bool:
        return a.sources()[0] == "ok " + original[0]

    await until(interviewer_sees_it)
    code, listed = await iv.json("GET", f"{base}/snapshots")
    fits("/rooms/{room_id}/snapshots", "get", 200, listed)
    kinds = [s["kind"] for s in listed["snapshots"]]
    assert "checkpoint" in kinds and "restore" in kinds
    for client in (a, b):
        await client.disconnect()


async def test_snapshots_are_taken_while_the_notebook_changes_and_attributed_to_their_authors(
    owner: Client, make_room: Any, make_client: Any
) -> None:
    room, iv, cand = await live(owner, make_room, make_client)
    base = f"interview/api/rooms/{room['id']}"
    cand_id, iv_id = await pid_of(cand, room["id"]), await pid_of(iv, room["id"])
    a, b = await collaborator(iv, room["id"]), await collaborator(cand, room["id"])

    async def snapshots() -> list[dict[str, Any]]:
        code, listed = await iv.json("GET", f"{base}/snapshots")
        assert code == 200
        return list(listed["snapshots"])

    # Opening the document took the first snapshot (nobody's edits yet).
    first = await until(snapshots)
    assert first[-1]["kind"] == "auto" and first[-1]["authors"] == []
    b.source(1).insert(0, "candidate was here\n")
    await b.round_trip()

    async def by(author: str) -> dict[str, Any] | None:
        return next((s for s in await snapshots() if author in {x["id"] for x in s["authors"]}), None)

    snap = await until(lambda: by(cand_id))
    assert snap["kind"] == "auto" and {x["id"] for x in snap["authors"]} == {cand_id}
    assert {x["role"] for x in snap["authors"]} == {"candidate"}
    a.source(0).insert(0, "# interviewer\n")
    await a.round_trip()
    snap = await until(lambda: by(iv_id))
    assert {x["id"] for x in snap["authors"]} == {iv_id}
    # Quiet: no new snapshots while nothing changes.
    count = len(await snapshots())
    await asyncio.sleep(1.5)
    assert len(await snapshots()) == count
    for client in (a, b):
        await client.disconnect()


class Kernel:
    """A room kernel's channels socket as a participant's browser opens it (legacy JSON protocol)."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn
        self.session = uuid.uuid4().hex

    @classmethod
    async def open(cls, client: Client, room_id: str) -> tuple[Kernel, str]:
        code, kernel = await client.json(
            "POST", "api/kernels", {"name": "interview-python", "path": f"interviews/{room_id}"}
        )
        assert code == 201, kernel
        url = client.url(f"api/kernels/{kernel['id']}/channels?session_id={uuid.uuid4().hex}")
        headers = {
            "Origin": client.origin,
            "Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items()),
        }
        conn = await websocket_connect(HTTPRequest(url.replace("http://", "ws://"), headers=headers))
        return cls(conn), str(kernel["id"])

    async def run(self, code: str, cell_id: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Execute as JupyterLab does; the outputs as nbformat, the way the browser would store them."""
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "execute_request", "username": "b", "session": self.session}
        header.update({"date": "2026-01-01T00:00:00Z", "version": "5.3"})
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}}
        content.update({"allow_stdin": False, "stop_on_error": True})
        message = {"header": header, "parent_header": {}, "metadata": {"cellId": cell_id}, "content": content}
        await self.conn.write_message(json.dumps({**message, "channel": "shell", "buffers": []}))
        outputs: list[dict[str, Any]] = []
        replied = idle = False
        deadline = time.monotonic() + timeout
        while not (replied and idle):
            raw = await asyncio.wait_for(self.conn.read_message(), deadline - time.monotonic())
            assert raw is not None, "the kernel socket closed"
            msg = json.loads(raw)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, c = msg["header"]["msg_type"], msg["content"]
            if kind == "execute_reply":
                replied = True
            elif kind == "status":
                idle = idle or c["execution_state"] == "idle"
            elif kind == "stream":
                outputs.append({"output_type": "stream", "name": c["name"], "text": c["text"]})
            elif kind in ("execute_result", "display_data"):
                out = {"output_type": kind, "data": c["data"], "metadata": c.get("metadata", {})}
                if kind == "execute_result":
                    out["execution_count"] = c["execution_count"]
                outputs.append(out)
            elif kind == "error":
                outputs.append(
                    {"output_type": "error", **{k: c[k] for k in ("ename", "evalue", "traceback")}}
                )
        return outputs

    def close(self) -> None:
        self.conn.close()


def write_outputs(client: DocClient, index: int, outputs: list[dict[str, Any]], count: int | None) -> None:
    """Put outputs into a cell of the shared document as JupyterLab's notebook model does."""
    cell = client.nb.ycells[index]
    with client.doc.transaction():
        youtputs = cell["outputs"]
        youtputs.clear()
        for out in outputs:
            out = dict(out)
            if out["output_type"] == "stream":
                out["text"] = Text(out["text"])
            youtputs.append(Map(out))
        cell["execution_count"] = count


async def test_replay_reproduces_the_exact_notebook_at_five_moments_with_executions_and_events(
    jp_serverapp: Any, owner: Client, make_room: Any, make_client: Any
) -> None:
    room, iv, cand = await live(owner, make_room, make_client)
    rid = room["id"]
    base = f"interview/api/rooms/{rid}"
    cand_id, iv_id = await pid_of(cand, rid), await pid_of(iv, rid)
    a, b = await collaborator(iv, rid), await collaborator(cand, rid)
    kernel, _ = await Kernel.open(cand, rid)
    moments: list[tuple[float, dict[str, Any]]] = []

    async def moment() -> None:
        await settle()
        moments.append((time.time(), await server_notebook(jp_serverapp, a.room_name)))
        await asyncio.sleep(0.05)

    try:
        # 1. The interviewer writes the problem; the candidate starts typing.
        a.source(0).insert(0, "# Problem: add two numbers\n")
        b.source(1).clear()
        b.source(1).insert(0, "print(6 * 7)\n")
        await a.round_trip()
        await b.round_trip()
        await moment()
        # 2. The candidate runs the cell (a real sandboxed kernel); its browser writes the outputs.
        cell1 = str(b.nb.ycells[1]["id"])
        outputs = await kernel.run("print(6 * 7)", cell1)
        assert outputs == [{"output_type": "stream", "name": "stdout", "text": "42\n"}]
        write_outputs(b, 1, outputs, 1)
        await b.round_trip()
        await moment()
        # 3. A new cell whose run the candidate's browser misreports (forged output).
        b.nb.append_cell(
            {"cell_type": "code", "id": "forged", "source": "1 + 1", "metadata": {}, "outputs": []}
        )
        await b.round_trip()
        forged_out = await kernel.run("1 + 1", "forged")
        assert forged_out[0]["data"]["text/plain"] == "2"
        write_outputs(
            b, 2, [{**forged_out[0], "data": {"text/plain": "3"}}], forged_out[0]["execution_count"]
        )
        await b.round_trip()
        assert (await iv.json("POST", f"{base}/snapshots", {"label": "after the runs"}))[0] == 201
        await moment()
        # 4. A restore of the first snapshot (a server-side change), then more typing.
        code, listed = await iv.json("GET", f"{base}/snapshots")
        oldest = listed["snapshots"][-1]
        assert (await iv.json("POST", f"{base}/snapshots/{oldest['id']}/restore"))[0] == 200
        code, restored = await iv.json("GET", f"{base}/snapshots/{oldest['id']}")
        wanted = [c["source"] for c in restored["notebook"]["cells"]]

        async def both_see_it() -> bool:
            return a.sources() == wanted and b.sources() == wanted

        await until(both_see_it)
        a.source(0).insert(0, "# restored\n")
        await a.round_trip()
        await moment()
        # 5. End: the candidate is read-only; the interviewer annotates.
        assert (await owner.json("POST", f"{base}/end"))[0] == 200
        a.nb.append_cell({"cell_type": "markdown", "id": "verdict", "source": "Solid.", "metadata": {}})
        await a.round_trip()
        await moment()
    finally:
        kernel.close()
        for client in (a, b):
            await client.disconnect()

    code, replay = await iv.json("GET", f"{base}/replay")
    assert code == 200, replay
    fits("/rooms/{room_id}/replay", "get", 200, replay)
    assert replay["frames"][0]["kind"] == "base" and not replay["replay_truncated"]
    for t, wanted in moments:
        assert rebuild(replay["frames"], t) == wanted, t
        code, at = await iv.json("GET", f"{base}/replay?at={t}")
        assert code == 200 and at["source"] == "frames" and at["notebook"] == wanted
        fits("/rooms/{room_id}/replay", "get", 200, at)
    # The five moments really differ from each other.
    assert len({json.dumps(nb, sort_keys=True) for _, nb in moments}) == 5
    # Frames name who edited where the updates tell it.
    authors = {x for f in replay["frames"] for x in f["authors"]}
    assert {cand_id, iv_id} <= authors

    events = replay["events"]
    runs = [e for e in events if e["type"] == "execution"]
    assert [r["code"] for r in runs] == ["print(6 * 7)", "1 + 1"]
    assert all(r["participant_id"] == cand_id and r["status"] == "ok" for r in runs)
    assert runs[0]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "42\n"}]
    assert runs[1]["outputs"][0]["data"]["text/plain"] == "2"  # what the kernel sent, not the forgery
    assert [r["document_outputs"] for r in runs] == ["same", "differ"]
    types = {e["type"] for e in events}
    assert {"interview-state", "timer", "participant", "snapshot", "checkpoint", "restore"} <= types
    states = [e["state"] for e in events if e["type"] == "interview-state"]
    assert states[-1] == "ended" and "live" in states
    times = [e["t"] for e in events]
    assert times == sorted(times)
    snaps = [e["snapshot"] for e in events if e["type"] == "snapshot"]
    assert any(s["kind"] == "execution" and len(s["executions"]) >= 1 for s in snaps)


async def test_chat_joins_and_leaves_are_in_the_replay(
    jp_serverapp: Any, owner: Client, make_room: Any, make_client: Any
) -> None:
    from jupyter_interview.pytest_plugin import Signal

    room, iv, cand = await live(owner, make_room, make_client)
    rid = room["id"]
    cand_id = await pid_of(cand, rid)
    sig = await Signal.open(cand, rid, hello={})
    await sig.send("chat-message", {"text": "hello there"})
    await sig.wait("chat-message")
    await settle()
    sig.close()
    await settle()

    async def replay_events() -> list[dict[str, Any]] | None:
        code, replay = await iv.json("GET", f"interview/api/rooms/{rid}/replay")
        assert code == 200
        events = replay["events"]
        types = [e["type"] for e in events]
        return events if "chat" in types and "joined" in types and "presence" in types else None

    events = await until(replay_events)
    chat = next(e for e in events if e["type"] == "chat")
    assert chat["text"] == "hello there" and chat["from"] == cand_id
    joined = next(e for e in events if e["type"] == "joined")
    assert joined["actor"] == cand_id
    assert any(e["type"] == "presence" and e.get("status") == "reconnecting" for e in events)


async def test_deleting_a_room_deletes_its_history(
    jp_serverapp: Any, owner: Client, make_room: Any, make_client: Any
) -> None:
    room, iv, _ = await live(owner, make_room, make_client)
    base = f"interview/api/rooms/{room['id']}"
    assert (await iv.json("POST", f"{base}/snapshots", {"label": "keep?"}))[0] == 201
    store = interview_app(jp_serverapp).history.store
    assert await store.list_snapshots(room["id"])
    assert (await owner.request("DELETE", base)).code == 204

    async def gone() -> bool:
        usage = await store.room_bytes(room["id"])
        return not await store.list_snapshots(room["id"]) and not any(usage.values())

    await until(gone)


async def test_executions_published_on_the_feed_are_stored_and_snapshotted(
    jp_serverapp: Any, owner: Client, make_room: Any, make_client: Any
) -> None:
    """The feed contract itself (the kernel side is exercised in the replay test above)."""
    room, iv, cand = await live(owner, make_room, make_client)
    feed = jp_serverapp.web_app.settings[EXECUTIONS_KEY]
    cand_id = await pid_of(cand, room["id"])
    now = time.time()
    started = Execution(room["id"], "k", "m1", cand_id, "print(1)", "cell-x", "started", now)
    feed.publish(started)
    feed.publish(Execution(room["id"], "k", "m1", cand_id, "print(1)", "cell-x", "ok", now, now + 0.1, 1))

    async def snapshot_after() -> dict[str, Any] | None:
        code, listed = await iv.json("GET", f"interview/api/rooms/{room['id']}/snapshots")
        assert code == 200, listed
        return next((s for s in listed["snapshots"] if s["kind"] == "execution"), None)

    snap = await until(snapshot_after)
    assert snap["executions"] == ["m1"]
    code, replay = await iv.json("GET", f"interview/api/rooms/{room['id']}/replay")
    assert code == 200, replay
    run = next(e for e in replay["events"] if e["type"] == "execution")
    assert (run["msg_id"], run["status"], run["document_outputs"]) == ("m1", "ok", "missing")


async def test_a_restore_with_nobody_connected_reaches_the_file_and_the_next_reader(
    owner: Client, make_room: Any, make_client: Any
) -> None:
    room, iv, _ = await live(owner, make_room, make_client)
    base = f"interview/api/rooms/{room['id']}"
    path = f"api/contents/interviews/{room['id']}/interview.ipynb"
    # Nobody has the notebook open: the checkpoint is read from the file.
    code, checkpoint = await iv.json("POST", f"{base}/snapshots", {"label": "as created"})
    assert code == 201, checkpoint
    code, model = await owner.json("GET", path)
    original = [c["source"] for c in model["content"]["cells"]]
    model["content"]["cells"][0]["source"] = "overwritten on disk"
    code, saved = await owner.json(
        "PUT", path, {"type": "notebook", "format": "json", "content": model["content"]}
    )
    assert code == 200, saved
    code, restored = await iv.json("POST", f"{base}/snapshots/{checkpoint['id']}/restore")
    assert code == 200, restored
    assert restored["before"]["kind"] == "restore"
    code, before = await iv.json("GET", f"{base}/snapshots/{restored['before']['id']}")
    assert before["notebook"]["cells"][0]["source"] == "overwritten on disk"
    reader = await collaborator(iv, room["id"])
    assert reader.sources() == original

    async def saved_to_disk() -> bool:
        code, model = await owner.json("GET", path)
        return code == 200 and [c["source"] for c in model["content"]["cells"]] == original

    await until(saved_to_disk, timeout=15)
    await reader.disconnect()
