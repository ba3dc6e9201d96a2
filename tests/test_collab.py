"""The shared notebook over real collaboration sockets: convergence, offline merge, and who may edit when."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from typing import Any

import pytest
from jupyter_ydoc import YNotebook
from pycrdt import (
    Decoder,
    Doc,
    Text,
    TransactionEvent,
    YMessageType,
    YSyncMessageType,
    create_sync_message,
    create_update_message,
    handle_sync_message,
    write_message,
)
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, websocket_connect

from jupyter_interview.pytest_plugin import Client
from jupyter_interview.server_ext.collab import CLOSE_ENDED, RoomDocSocketHandler

SYNC, STEP2 = YMessageType.SYNC, YSyncMessageType.SYNC_STEP2


class DocClient:
    """One collaborator: a pycrdt Doc with a YNotebook view, synced over the y-websocket protocol.

    Local edits are sent as SYNC_UPDATE messages while connected; while disconnected they stay
    local and reach the server in the SYNC_STEP2 that answers its SYNC_STEP1 on reconnect, as
    y-websocket does in a browser.
    """

    def __init__(self, client: Client, room_name: str, session_id: str) -> None:
        self.client = client
        self.room_name = room_name
        self.session_id = session_id
        self.doc = Doc()
        self.nb = YNotebook(self.doc)
        self.conn: WebSocketClientConnection | None = None
        self.closed: tuple[int | None, str | None] | None = None
        self.steps2 = 0
        self._step2 = asyncio.Event()
        self._remote = False
        self._reader: asyncio.Task[None] | None = None
        self._subscription = self.doc.observe(self._send_local)

    def request(self, origin: str | None = None) -> HTTPRequest:
        path = f"api/collaboration/room/{self.room_name}?sessionId={self.session_id}"
        url = self.client.url(path).replace("http://", "ws://")
        headers = {"Origin": origin or self.client.origin}
        if self.client.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.client.cookies.items())
        if self.client.token:
            headers["Authorization"] = f"token {self.client.token}"
        return HTTPRequest(url, headers=headers)

    async def connect(self) -> None:
        conn = await websocket_connect(self.request())
        self.conn, self.closed = conn, None
        self._reader = asyncio.create_task(self._read(conn))
        await self.round_trip()

    async def _read(self, conn: WebSocketClientConnection) -> None:
        while True:
            message = await conn.read_message()
            if message is None:
                self.closed = (conn.close_code, conn.close_reason)
                if self.conn is conn:
                    self.conn = None
                return
            assert isinstance(message, bytes)
            if message[0] != SYNC:
                continue  # awareness
            self._remote = True
            try:
                reply = handle_sync_message(message[1:], self.doc)
            finally:
                self._remote = False
            if reply is not None:
                await conn.write_message(reply, binary=True)
            if message[1] == STEP2:
                self.steps2 += 1
                self._step2.set()

    def _send_local(self, event: TransactionEvent) -> None:
        if self._remote or self.conn is None:
            return
        self.send(create_update_message(event.update))

    def send(self, message: bytes) -> None:
        assert self.conn is not None
        try:
            self.conn.write_message(message, binary=True)
        except WebSocketClosedError:
            self.conn = None

    async def round_trip(self, timeout: float = 10.0) -> None:
        """Ask for the server's missing updates and wait for the answer.

        The server handles one socket's messages in order, so once the reply to this SYNC_STEP1
        arrives, every message sent before it was applied or dropped.
        """
        seen = self.steps2
        self.send(create_sync_message(self.doc))
        deadline = time.monotonic() + timeout
        while self.steps2 == seen:
            self._step2.clear()
            left = deadline - time.monotonic()
            if left <= 0 or self.conn is None:
                raise TimeoutError(f"no SYNC_STEP2 from the server (closed: {self.closed})")
            try:
                await asyncio.wait_for(self._step2.wait(), left)
            except TimeoutError:
                continue

    async def disconnect(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            conn.close()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)

    async def wait_closed(self, timeout: float = 5.0) -> tuple[int | None, str | None]:
        assert self._reader is not None
        await asyncio.wait_for(asyncio.shield(self._reader), timeout)
        assert self.closed is not None
        return self.closed

    def source(self, index: int) -> Text:
        text = self.nb.ycells[index]["source"]
        assert isinstance(text, Text)
        return text

    def sources(self) -> list[str]:
        return [str(cell["source"]) for cell in self.nb.ycells]


async def open_document(client: Client, room_id: str) -> tuple[str, str]:
    """PUT the document session as the lab does; returns the collaboration room name and session id."""
    code, doc = await client.json(
        "PUT",
        f"api/collaboration/session/interviews/{room_id}/interview.ipynb",
        {"format": "json", "type": "notebook"},
    )
    assert code in (200, 201), doc
    return f"json:notebook:{doc['fileId']}", doc["sessionId"]


async def collaborator(client: Client, room_id: str) -> DocClient:
    name, session_id = await open_document(client, room_id)
    doc = DocClient(client, name, session_id)
    await doc.connect()
    return doc


async def server_sources(serverapp: Any, room_name: str) -> list[str]:
    """The cells' sources as the server's own shared document holds them."""
    ydoc_app = next(iter(serverapp.extension_manager.extension_apps["jupyter_server_ydoc"]))
    doc = await ydoc_app.get_document(room_id=room_name, copy=True)
    assert doc is not None
    return [str(cell["source"]) for cell in doc.get()["cells"]]


def state_vector(doc: Doc) -> dict[int, int]:
    """The clock each client reached in this document (the state vector, decoded: its byte order varies)."""
    decoder = Decoder(doc.get_state())
    return {decoder.read_var_uint(): decoder.read_var_uint() for _ in range(decoder.read_var_uint())}


async def converged(docs: list[DocClient], timeout: float = 20.0) -> list[str]:
    """Wait until every client holds every update of the others and the same sources."""
    deadline = time.monotonic() + timeout
    while True:
        sources = [d.sources() for d in docs]
        states = [state_vector(d.doc) for d in docs]
        if all(s == states[0] for s in states) and all(s == sources[0] for s in sources):
            return sources[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no convergence within {timeout} s: {sources}")
        await asyncio.sleep(0.02)


async def live_room(owner: Client, make_room: Any, make_client: Any) -> tuple[dict[str, Any], Client, Client]:
    room = await make_room(waiting_room=False)
    cand, iv = make_client(), make_client()
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    assert (await iv.join(room["invites"]["interviewer"])).code == 302
    assert (await owner.json("POST", f"interview/api/rooms/{room['id']}/start"))[0] == 200
    return room, iv, cand


def interview_app(serverapp: Any) -> Any:
    return next(iter(serverapp.extension_manager.extension_apps["jupyter_interview"]))



def test_collaboration_route_is_served_by_the_interview_handler(jp_serverapp: Any, jp_base_url: str) -> None:
    request = HTTPServerRequest(
        start_line=RequestStartLine("GET", f"{jp_base_url}api/collaboration/room/json:notebook:abc", "HTTP/1.1"),
        headers=HTTPHeaders({"Host": "localhost"}),
    )
    delegate: Any = jp_serverapp.web_app.find_handler(request)
    assert delegate.handler_class is RoomDocSocketHandler


async def test_concurrent_edits_of_one_cell_converge_for_every_reader(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room, iv, cand = await live_room(owner, make_room, make_client)
    a, b = await collaborator(iv, room["id"]), await collaborator(cand, room["id"])
    reader = await collaborator(owner, room["id"])
    before = a.sources()[1]
    # Both start typing at the same spot at once, each continuing after its own last character
    # (found in its local view, where the other's characters may or may not have arrived yet).
    words = {a: "interviewer_types_this", b: "candidate_types_that"}
    for i in range(max(len(w) for w in words.values())):
        for doc, word in words.items():
            if i < len(word):
                text = doc.source(1)
                at = str(text).index(word[:i]) + i if i else 0
                text.insert(at, word[i])
        await asyncio.sleep(0)
    final = await converged([a, b, reader])
    w1, w2 = words[a], words[b]
    assert final[1] in (w1 + w2 + before, w2 + w1 + before)
    assert (await server_sources(jp_serverapp, a.room_name)) == final
    # The server set TCP_NODELAY on the participants' sockets.
    sockets = interview_app(jp_serverapp).collab_sockets.by_room[room["id"]]
    assert len(sockets) == 2
    for handler in sockets:
        raw = handler.ws_connection.stream.socket
        assert raw.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


async def test_a_thousand_interleaved_random_edits_from_three_clients_converge(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room, iv, cand = await live_room(owner, make_room, make_client)
    docs = [await collaborator(c, room["id"]) for c in (iv, cand, owner)]
    rng = random.Random(6)
    alphabet = "abcdefghij \n()+=:"
    started = time.monotonic()
    for _ in range(1000):
        doc = rng.choice(docs)
        text = doc.source(rng.randrange(2))
        if len(text) > 3 and rng.random() < 0.3:
            start = rng.randrange(len(text) - 1)
            del text[start : min(len(text), start + rng.randint(1, 3))]
        else:
            text.insert(rng.randint(0, len(text)), "".join(rng.choices(alphabet, k=rng.randint(1, 3))))
        if rng.random() < 0.3:
            # Let updates cross in flight: edits keep landing on documents that lag behind.
            await asyncio.sleep(0)
    final = await converged(docs, timeout=30)
    elapsed = time.monotonic() - started
    assert elapsed < 30, elapsed
    assert (await server_sources(jp_serverapp, docs[0].room_name)) == final
    # A latecomer reads the same document, and the autosave writes it to disk.
    late = await collaborator(owner, room["id"])
    assert late.sources() == final
    assert await saved_sources(owner, room["id"], final) == final


async def saved_sources(owner: Client, room_id: str, expected: list[str], timeout: float = 15.0) -> list[str]:
    """The notebook's cells on disk, once the autosave (a quiet second after the last edit) wrote them."""
    deadline = time.monotonic() + timeout
    while True:
        code, model = await owner.json("GET", f"api/contents/interviews/{room_id}/interview.ipynb")
        assert code == 200, model
        got = [
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in model["content"]["cells"]
        ]
        if got == expected or time.monotonic() > deadline:
            return got
        await asyncio.sleep(0.2)


async def test_a_client_offline_with_local_edits_merges_on_reconnect_with_nothing_lost(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room, iv, cand = await live_room(owner, make_room, make_client)
    online, offline = await collaborator(iv, room["id"]), await collaborator(cand, room["id"])
    await offline.disconnect()
    # Offline for 3 s rather than the 30 s: the merge works on state vectors, not time, and
    # nothing on the server's side expires in between while another client keeps the room open (this
    # socket has no ping, and the room outlives its last client by document_cleanup_delay, 60 s).
    # The case where the offline time does matter, everyone gone past the cleanup delay so the room
    # is rebuilt from the update store, is the next test, with that delay shortened.
    for i in range(20):
        offline.source(1).insert(len(offline.source(1)), f"offline_{i} = {i}\n")
        online.source(1).insert(0, f"online_{i} = {i}\n")
        online.source(0).insert(len(online.source(0)), f"\nnote {i}")
        await asyncio.sleep(0.15)
    await offline.connect()
    final = await converged([online, offline])
    for i in range(20):
        assert f"offline_{i} = {i}\n" in final[1]
        assert f"online_{i} = {i}\n" in final[1]
        assert f"\nnote {i}" in final[0]
    assert (await server_sources(jp_serverapp, online.room_name)) == final


# Longer than the autosave delay (1 s): removing a room from memory cancels a pending save, and a room
# rebuilt from a stale file applies the file over the update store's document (edits lost). collab.py
# warns when a deployment configures it so.
@pytest.mark.parametrize("cleanup_delay", [2.0])
async def test_offline_edits_merge_after_the_server_dropped_the_room_from_memory(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room, iv, cand = await live_room(owner, make_room, make_client)
    a, b = await collaborator(iv, room["id"]), await collaborator(cand, room["id"])
    a.source(1).insert(0, "shared = 1\n")
    base = await converged([a, b])
    await a.disconnect()
    await b.disconnect()
    for i in range(10):
        a.source(1).insert(len(a.source(1)), f"a_{i} = {i}\n")
        b.source(1).insert(0, f"b_{i} = {i}\n")
        await asyncio.sleep(0.4)
    server = interview_app(jp_serverapp).collab_sockets.ydoc_handler_kwargs()["ywebsocket_server"]
    assert not server.room_exists(a.room_name), "the room should have been cleaned up"
    await a.connect()
    await b.connect()
    final = await converged([a, b])
    for i in range(10):
        assert final[1].count(f"a_{i} = {i}\n") == 1
        assert final[1].count(f"b_{i} = {i}\n") == 1
    assert final[1].count("shared = 1\n") == 1
    assert final[0] == base[0]
    assert (await server_sources(jp_serverapp, a.room_name)) == final


async def test_a_candidates_update_after_end_is_refused_and_its_socket_closed(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room, iv, cand = await live_room(owner, make_room, make_client)
    staff, candidate = await collaborator(iv, room["id"]), await collaborator(cand, room["id"])
    candidate.source(1).insert(0, "answer = 42\n")
    before = await converged([staff, candidate])
    assert before[1].startswith("answer = 42\n")

    assert (await owner.json("POST", f"interview/api/rooms/{room['id']}/end"))[0] == 200
    code, _ = await candidate.wait_closed()
    assert code == CLOSE_ENDED
    assert staff.conn is not None and staff.closed is None

    # An edit made while disconnected reaches the server in the SYNC_STEP2 of the reconnect...
    candidate.source(1).insert(0, "edited_offline_after_end = 1\n")
    await candidate.connect()  # a candidate who took part still reads the notebook
    # ...one made online as a SYNC_UPDATE, and the whole local state once more as a SYNC_STEP2.
    candidate.source(1).insert(0, "edited_online_after_end = 1\n")
    step2 = bytes([YMessageType.SYNC, YSyncMessageType.SYNC_STEP2])
    candidate.send(step2 + write_message(candidate.doc.get_update()))
    await candidate.round_trip()

    assert (await server_sources(jp_serverapp, staff.room_name)) == before
    await staff.round_trip()
    assert staff.sources() == before
    assert (await collaborator(owner, room["id"])).sources() == before
    handlers = interview_app(jp_serverapp).collab_sockets.by_room[room["id"]]
    reopened = [h for h in handlers if h.participant.role == "candidate"]
    assert len(reopened) == 1 and reopened[0].refused_updates >= 2

    # The candidate keeps reading: the interviewer's edits still reach it.
    staff.source(1).insert(0, "# reviewed\n")
    deadline = time.monotonic() + 5
    while "# reviewed\n" not in candidate.sources()[1]:
        assert time.monotonic() < deadline, candidate.sources()
        await asyncio.sleep(0.02)


async def test_a_candidate_not_yet_admitted_cannot_open_the_document(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room = await make_room()  # with a waiting room
    cand = make_client()
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    name, session_id = await open_document(owner, room["id"])
    doc = DocClient(cand, name, session_id)
    for _ in ("waiting", "live"):
        with pytest.raises(HTTPClientError) as refused:
            await doc.connect()
        assert refused.value.code == 403
        code, _ = await cand.json(
            "PUT",
            f"api/collaboration/session/interviews/{room['id']}/interview.ipynb",
            {"format": "json", "type": "notebook"},
        )
        assert code == 403
        assert (await owner.json("POST", f"interview/api/rooms/{room['id']}/start"))[0] in (200, 409)
    _, me = await cand.json("GET", f"interview/api/rooms/{room['id']}/me")
    admit = f"interview/api/rooms/{room['id']}/admit/{me['participant_id']}"
    assert (await owner.json("POST", admit))[0] == 200
    await doc.connect()
    doc.source(1).insert(0, "admitted = True\n")
    await doc.round_trip()
    assert (await server_sources(jp_serverapp, name))[1].startswith("admitted = True\n")


async def test_interviewers_still_edit_after_end(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room, iv, _ = await live_room(owner, make_room, make_client)
    staff, reader = await collaborator(iv, room["id"]), await collaborator(owner, room["id"])
    assert (await owner.json("POST", f"interview/api/rooms/{room['id']}/end"))[0] == 200
    staff.source(1).insert(0, "# strong on complexity\n")
    final = await converged([staff, reader])
    assert final[1].startswith("# strong on complexity\n")
    # A socket opened after End writes too.
    later = await collaborator(iv, room["id"])
    later.source(0).insert(len(later.source(0)), "\n\nReviewed.")
    final = await converged([staff, reader, later])
    assert final[0].endswith("\n\nReviewed.")
    assert (await server_sources(jp_serverapp, staff.room_name)) == final
    assert staff.closed is None and later.closed is None


async def test_a_cross_site_origin_cannot_open_the_document(
    owner: Client, make_room: Any, make_client: Any
) -> None:
    room, _, cand = await live_room(owner, make_room, make_client)
    name, session_id = await open_document(cand, room["id"])
    doc = DocClient(cand, name, session_id)
    with pytest.raises(HTTPClientError) as refused:
        await websocket_connect(doc.request(origin="https://evil.example"))
    assert refused.value.code == 403
    await doc.connect()  # the same request from the server's own origin opens


async def test_revoking_the_candidates_invite_closes_its_document_socket(
    owner: Client, make_room: Any, make_client: Any
) -> None:
    room, _, cand = await live_room(owner, make_room, make_client)
    doc = await collaborator(cand, room["id"])
    code, detail = await owner.json("GET", f"interview/api/rooms/{room['id']}")
    jti = next(i["jti"] for i in detail["invites"] if i["role"] == "candidate")
    assert (await owner.json("DELETE", f"interview/api/rooms/{room['id']}/invites/{jti}"))[0] in (200, 204)
    code, _ = await doc.wait_closed()
    assert code == 4003


async def test_a_percent_encoded_room_name_is_refused_to_participants(
    owner: Client, make_room: Any, make_client: Any
) -> None:
    # The gate decodes the name; jupyter-collaboration would use the raw one and open a transient room.
    room, _, cand = await live_room(owner, make_room, make_client)
    name, session_id = await open_document(cand, room["id"])
    doc = DocClient(cand, name.replace(":", "%3A"), session_id)
    with pytest.raises(HTTPClientError) as refused:
        await doc.connect()
    assert refused.value.code == 403
