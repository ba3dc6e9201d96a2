"""Two real server processes over one real redis-server: participants on different processes talk."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest
import requests
import websocket

from jupyter_interview.pytest_plugin import ServerProcess, free_port


class Socket:
    """A participant's real-time socket to one of the processes (websocket-client, blocking)."""

    def __init__(self, server: ServerProcess, session: requests.Session, room_id: str) -> None:
        url = server.url.replace("http://", "ws://") + f"interview/api/rooms/{room_id}/ws"
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        self.ws = websocket.create_connection(
            url, header=[f"Cookie: {cookie}"], origin=f"http://127.0.0.1:{server.port}", timeout=10
        )
        self.n = 0
        self.inbox: list[dict[str, Any]] = []

    def send(self, etype: str, payload: dict[str, Any], **extra: Any) -> None:
        self.n += 1
        self.ws.send(json.dumps({"v": 1, "type": etype, "id": f"m{self.n}", "payload": payload, **extra}))

    def wait(self, etype: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        """The first message of a type (and payload values), earlier ones kept for later waits."""

        def fits(msg: dict[str, Any]) -> bool:
            return msg["type"] == etype and all(msg["payload"].get(k) == v for k, v in match.items())

        for msg in self.inbox:
            if fits(msg):
                self.inbox.remove(msg)
                return msg
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if fits(msg):
                return dict(msg)
            self.inbox.append(msg)
        raise TimeoutError(f"no {etype} {match}")


@pytest.fixture
def two_servers(tmp_path: Any, redis_url: str) -> Any:
    secret = secrets.token_hex(32)
    servers = []
    for name in ("a", "b"):
        workdir = tmp_path / name
        workdir.mkdir()
        server = ServerProcess(workdir, free_port())
        server.token = "shared-" + secret[:16]
        server.start(
            extra={"InterviewApp": {"redis_url": redis_url, "invite_secret": secret, "redis_lease_s": 2.0}}
        )
        servers.append(server)
    yield servers
    for server in servers:
        server.stop(kill=True)


def join(server: ServerProcess, invite_url: str) -> requests.Session:
    # The invite names whichever process made it; any process can take it.
    path = invite_url.split("/interview/join/", 1)[1]
    session = requests.Session()
    r = session.get(server.url + "interview/join/" + path, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    return session


def create_room(server: ServerProcess) -> tuple[requests.Session, dict[str, Any]]:
    """The owner's session on one process and a room it made there (no waiting room)."""
    owner = requests.Session()
    owner.headers["Authorization"] = f"token {server.token}"
    room = owner.post(
        server.url + "interview/api/rooms",
        json={"title": "T", "language": "python", "duration_minutes": 30, "waiting_room": False},
        timeout=10,
    ).json()
    return owner, room


def test_participants_on_two_processes_talk_through_redis(two_servers: Any) -> None:
    a, b = two_servers
    owner, room = create_room(a)
    rid = room["id"]
    iv_http = join(a, room["invites"]["interviewer"])
    cand_http = join(b, room["invites"]["candidate"])  # session made by process b, stored in Redis
    # both processes see the same room, whichever wrote it
    assert (
        requests.get(
            b.url + f"interview/api/rooms/{rid}", headers={"Authorization": f"token {b.token}"}, timeout=10
        ).json()["id"]
        == rid
    )
    iv = Socket(a, iv_http, rid)
    iv.send("hello", {})
    assert iv.wait("welcome")["payload"]["role"] == "interviewer"
    cand = Socket(b, cand_http, rid)
    cand.send("hello", {})
    welcome = cand.wait("welcome")["payload"]
    cand_id = welcome["participant_id"]
    assert iv.wait("user-joined")["payload"]["participant"]["id"] == cand_id
    # Start over REST on process b: the room's hub (on whichever process owns it) announces it to both
    r = requests.post(
        b.url + f"interview/api/rooms/{rid}/start", headers={"Authorization": f"token {b.token}"}, timeout=10
    )
    assert r.status_code == 200, r.text
    assert iv.wait("interview-state", state="live")
    assert cand.wait("interview-state", state="live")
    timer = cand.wait("timer", status="running")["payload"]
    assert timer["duration_s"] == 30 * 60
    # chat both ways and a targeted offer across processes
    cand.send("chat-message", {"text": "from process b"})
    assert iv.wait("chat-message")["payload"]["text"] == "from process b"
    iv.send("sdp-offer", {"sdp": "v=0 offer", "type": "offer"}, to=cand_id)
    offer = cand.wait("sdp-offer")
    assert offer["payload"]["sdp"] == "v=0 offer" and offer["to"] == cand_id
    cand.send("sdp-answer", {"sdp": "v=0 answer", "type": "answer"}, to=offer["from"])
    assert iv.wait("sdp-answer")["payload"]["sdp"] == "v=0 answer"
    # a violation on the remote process is answered on that socket
    cand.ws.send("{not json")
    assert cand.wait("error")["payload"]["code"] == "bad_json"
    # revocation on process a closes the socket held by process b
    info = owner.get(a.url + f"interview/api/rooms/{rid}", timeout=10).json()
    jti = next(i["jti"] for i in info["invites"] if i["participant_id"] == cand_id)
    assert owner.delete(a.url + f"interview/api/rooms/{rid}/invites/{jti}", timeout=10).status_code == 204
    assert iv.wait("user-left")["payload"]["participant_id"] == cand_id
    iv.ws.close()
    cand.ws.close()


def test_when_the_owning_process_dies_the_room_moves_and_clients_resume(two_servers: Any) -> None:
    a, b = two_servers
    owner, room = create_room(b)
    rid = room["id"]
    iv_http = join(a, room["invites"]["interviewer"])
    cand_http = join(b, room["invites"]["candidate"])
    iv = Socket(a, iv_http, rid)  # first socket: process a owns the room
    iv.send("hello", {})
    iv.wait("welcome")
    assert owner.post(b.url + f"interview/api/rooms/{rid}/start", timeout=10).status_code == 200
    cand = Socket(b, cand_http, rid)  # relayed through b to a
    cand.send("hello", {})
    cand.wait("welcome")
    cand.send("chat-message", {"text": "before"})
    assert iv.wait("chat-message")["payload"]["text"] == "before"
    a.stop(kill=True)
    # b notices the owner's lease lapse and closes the relayed socket with 1012 (service restart)
    cand.ws.settimeout(15)
    while True:
        opcode, frame = cand.ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            break
    assert int.from_bytes(frame[:2], "big") == 1012
    # the client reconnects to b, which now claims the room; the interviewer comes back through b too
    cand = Socket(b, cand_http, rid)
    cand.send("hello", {"resume": 1})
    assert cand.wait("welcome")["payload"]["resumed"] is False
    iv = Socket(b, iv_http, rid)
    iv.send("hello", {})
    history = iv.wait("welcome")["payload"]["chat"]
    assert [m["text"] for m in history] == ["before"]
    cand.send("chat-message", {"text": "after"})
    assert iv.wait("chat-message", text="after")
