"""A participant reaches only its own room through Jupyter's kernels, sessions, contents and sockets."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect


async def live_room_with_candidate(
    owner: Any, make_room: Any, make_client: Any
) -> tuple[dict[str, Any], Any]:
    room = await make_room(waiting_room=False)
    cand = make_client()
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    assert (await owner.json("POST", f"interview/api/rooms/{room['id']}/start"))[0] == 200
    return room, cand


def ws_request(client: Any, path: str) -> HTTPRequest:
    url = client.url(path).replace("http://", "ws://")
    headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in client.cookies.items()), "Origin": client.origin}
    if client.token:
        headers["Authorization"] = f"token {client.token}"
    return HTTPRequest(url, headers=headers)


async def execute(ws: Any, code: str) -> str:
    msg_id = uuid.uuid4().hex
    msg = {
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "",
            "session": uuid.uuid4().hex,
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
        },
        "channel": "shell",
        "buffers": [],
    }
    await ws.write_message(json.dumps(msg))
    out = ""
    for _ in range(200):
        reply = json.loads(await ws.read_message())
        if reply.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        if reply["msg_type"] == "stream":
            out += reply["content"]["text"]
        if reply["msg_type"] == "status" and reply["content"]["execution_state"] == "idle":
            return out
    raise AssertionError("no idle status")


async def test_candidate_runs_code_in_its_room_kernel_but_not_another_rooms(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room, cand = await live_room_with_candidate(owner, make_room, make_client)
    other, _ = await live_room_with_candidate(owner, make_room, make_client)
    code, mine = await cand.json(
        "POST", "api/kernels", {"name": "interview-python", "path": f"interviews/{room['id']}"}
    )
    assert code == 201, mine
    code, theirs = await owner.json(
        "POST", "api/kernels", {"name": "interview-python", "path": f"interviews/{other['id']}"}
    )
    assert code == 201
    ws = await websocket_connect(ws_request(cand, f"api/kernels/{mine['id']}/channels"))
    try:
        assert (await execute(ws, "import os; print(os.getcwd().split('/')[-1])")).strip() == room["id"]
    finally:
        ws.close()
    try:
        await websocket_connect(ws_request(cand, f"api/kernels/{theirs['id']}/channels"))
        raise AssertionError("the other room's kernel socket opened")
    except HTTPClientError as e:
        assert e.code == 403
    # the listing shows only the room's kernel
    code, kernels = await cand.json("GET", "api/kernels")
    assert [k["id"] for k in kernels] == [mine["id"]]
    code, everything = await owner.json("GET", "api/kernels")
    assert {k["id"] for k in everything} == {mine["id"], theirs["id"]}


async def test_candidate_cannot_start_a_kernel_outside_its_room(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room, cand = await live_room_with_candidate(owner, make_room, make_client)
    other, _ = await live_room_with_candidate(owner, make_room, make_client)
    for body in (
        {"name": "interview-python"},
        {"name": "interview-python", "path": ""},
        {"name": "interview-python", "path": f"interviews/{other['id']}"},
        {"name": "interview-python", "path": f"interviews/{room['id']}/../{other['id']}"},
        {"name": "interview-python", "path": "/etc"},
    ):
        code, reply = await cand.json("POST", "api/kernels", body)
        assert code == 403, (body, reply)
    code, reply = await cand.json(
        "POST",
        "api/sessions",
        {
            "path": f"interviews/{other['id']}/x.ipynb",
            "type": "notebook",
            "name": "",
            "kernel": {"name": "interview-python"},
        },
    )
    assert code == 403
    code, kernels = await owner.json("GET", "api/kernels")
    assert kernels == []


async def test_sessions_listing_shows_only_the_room(owner: Any, make_room: Any, make_client: Any) -> None:
    room, cand = await live_room_with_candidate(owner, make_room, make_client)
    other, _ = await live_room_with_candidate(owner, make_room, make_client)
    code, k = await owner.json(
        "POST", "api/kernels", {"name": "interview-python", "path": f"interviews/{room['id']}"}
    )
    for rid in (room["id"], other["id"]):
        code, s = await owner.json(
            "POST",
            "api/sessions",
            {
                "path": f"interviews/{rid}/interview.ipynb",
                "type": "notebook",
                "name": "",
                "kernel": {"id": k["id"]},
            },
        )
        assert code == 201, s
    code, sessions = await cand.json("GET", "api/sessions")
    assert [s["path"] for s in sessions] == [f"interviews/{room['id']}/interview.ipynb"]
    # a session cannot be moved out of the room
    sid = sessions[0]["id"]
    code, _ = await cand.json(
        "PATCH", f"api/sessions/{sid}", {"path": f"interviews/{other['id']}/interview.ipynb"}
    )
    assert code == 403


async def test_directory_listings_above_the_room_show_only_the_way_in(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room, cand = await live_room_with_candidate(owner, make_room, make_client)
    await live_room_with_candidate(owner, make_room, make_client)
    code, root = await cand.json("GET", "api/contents")
    assert code == 200, root
    assert [c["path"] for c in root["content"]] == ["interviews"]
    code, folder = await cand.json("GET", "api/contents/interviews")
    assert [c["path"] for c in folder["content"]] == [f"interviews/{room['id']}"]
    code, mine = await cand.json("GET", f"api/contents/interviews/{room['id']}")
    assert "interview.ipynb" in [c["name"] for c in mine["content"]]
    code, everything = await owner.json("GET", "api/contents/interviews")
    assert len(everything["content"]) == 2
    # writing above the room is refused
    code, _ = await cand.json(
        "PUT", "api/contents/escape.txt", {"type": "file", "format": "text", "content": "x"}
    )
    assert code == 403
    code, _ = await cand.json("POST", f"api/contents/interviews/{room['id']}", {"copy_from": "../../secret"})
    assert code == 403


async def test_candidate_cannot_open_another_rooms_document_or_global_awareness(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room, cand = await live_room_with_candidate(owner, make_room, make_client)
    other, _ = await live_room_with_candidate(owner, make_room, make_client)
    code, doc = await owner.json(
        "PUT",
        f"api/collaboration/session/interviews/{other['id']}/interview.ipynb",
        {"format": "json", "type": "notebook"},
    )
    assert code in (200, 201)
    for target in (f"json:notebook:{doc['fileId']}", "JupyterLab:globalAwareness"):
        try:
            await websocket_connect(ws_request(cand, f"api/collaboration/room/{target}"))
            raise AssertionError(f"opened {target}")
        except HTTPClientError as e:
            assert e.code == 403
    code, mine = await cand.json(
        "PUT",
        f"api/collaboration/session/interviews/{room['id']}/interview.ipynb",
        {"format": "json", "type": "notebook"},
    )
    assert code in (200, 201), mine
    ws = await websocket_connect(ws_request(cand, f"api/collaboration/room/json:notebook:{mine['fileId']}"))
    ws.close()


async def test_workspaces_are_per_participant(owner: Any, make_room: Any, make_client: Any) -> None:
    room, cand = await live_room_with_candidate(owner, make_room, make_client)
    iv = make_client()
    await iv.join(room["invites"]["interviewer"])
    body = {"data": {"layout-restorer:data": {"main": "candidate-layout"}}, "metadata": {"id": "default"}}
    r = await cand.request("PUT", "lab/api/workspaces/default", body)
    assert r.code == 204, r.body
    code, got = await cand.json("GET", "lab/api/workspaces/default")
    assert code == 200 and got["data"] == body["data"]
    code, other = await iv.json("GET", "lab/api/workspaces/default")
    assert code == 200 and other["data"] == {}
    # the owner's own workspace store is untouched
    _, owners = await owner.json("GET", "lab/api/workspaces/default")
    assert owners["data"].get("layout-restorer:data") != {"main": "candidate-layout"}
    # settings stay read-only
    r = await cand.request("PUT", "lab/api/settings/@jupyterlab/apputils-extension:themes", {"raw": "{}"})
    assert r.code == 403


async def test_page_config_hides_what_participants_may_not_use(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room, cand = await live_room_with_candidate(owner, make_room, make_client)
    r = await cand.request(
        "GET", f"lab/tree/interviews/{room['id']}/interview.ipynb", headers={"Accept": "text/html"}
    )
    assert r.code == 200
    page = r.body.decode()
    assert "@jupyterlab/terminal-extension" in page
    assert f'"interviewRoom": "{room["id"]}"' in page or f'"interviewRoom":"{room["id"]}"' in page


async def test_collaboration_store_lives_in_the_data_dir_not_the_served_root(
    owner: Any, make_room: Any, make_client: Any, jp_root_dir: Any, jp_serverapp: Any
) -> None:
    import asyncio
    import os

    room, cand = await live_room_with_candidate(owner, make_room, make_client)
    code, doc = await cand.json(
        "PUT",
        f"api/collaboration/session/interviews/{room['id']}/interview.ipynb",
        {"format": "json", "type": "notebook"},
    )
    assert code in (200, 201)
    ws = await websocket_connect(ws_request(cand, f"api/collaboration/room/json:notebook:{doc['fileId']}"))
    app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_interview"]))
    expected = os.path.join(os.path.dirname(app.db_path), "ystore.db")
    sessions = os.path.join(os.path.dirname(app.db_path), "collaboration_sessions.json")
    # Both are written in the background after the socket opens: seconds on a loaded machine.
    for _ in range(150):
        if os.path.exists(expected) and os.path.exists(sessions):
            break
        await asyncio.sleep(0.1)
    ws.close()
    assert os.path.exists(expected)
    leaked = [str(p) for p in jp_root_dir.rglob("*ystore*")] + [
        str(p) for p in jp_root_dir.rglob("collaboration_sessions*")
    ]
    assert leaked == []
    assert os.path.exists(sessions)
