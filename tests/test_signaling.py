"""The real-time layer through real websockets on a real server: events, violations, resume, waiting room."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_interview.pytest_plugin import Signal
from jupyter_interview.rooms.timer import RUNNING, Timer


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["InterviewApp"]["reconnect_grace_s"] = 1.0
    # room for the resume test's 50 events in one burst
    jp_server_config["InterviewApp"]["signaling_rate_classes"] = {"chat": [100, 100], "typing": [100, 100]}
    return jp_server_config


def service_of(serverapp: Any) -> Any:
    return next(iter(serverapp.extension_manager.extension_apps["jupyter_interview"])).service


async def live_room(owner: Any, make_room: Any, make_client: Any, **fields: Any) -> dict[str, Any]:
    """A live room with an interviewer and an admitted candidate, both greeted on their sockets."""
    room = await make_room(waiting_room=False, **fields)
    iv, cand = make_client(), make_client()
    await iv.join(room["invites"]["interviewer"])
    await cand.join(room["invites"]["candidate"])
    assert (await owner.json("POST", f"interview/api/rooms/{room['id']}/start"))[0] == 200
    room["iv"] = await Signal.open(iv, room["id"], hello={})
    room["cand"] = await Signal.open(cand, room["id"], hello={})
    room["iv_client"], room["cand_client"] = iv, cand
    me = (await cand.json("GET", f"interview/api/rooms/{room['id']}/me"))[1]
    room["cand_id"] = me["participant_id"]
    room["iv_id"] = (await iv.json("GET", f"interview/api/rooms/{room['id']}/me"))[1]["participant_id"]
    await room["iv"].wait("user-joined")
    return room


async def test_welcome_carries_clock_state_participants_and_history(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    await room["cand"].send("chat-message", {"text": "hello there"})
    await room["iv"].wait("chat-message")
    third = make_client()
    _code, inv = await owner.json(
        "POST", f"interview/api/rooms/{room['id']}/invites", {"role": "interviewer", "name": "Third"}
    )
    await third.join(inv["url"])
    sig = await Signal.open(third, room["id"])
    await sig.send("hello", {})
    welcome = await sig.wait("welcome")
    p = welcome["payload"]
    assert abs(p["server_now"] - time.time()) < 5
    assert p["room_state"] == "live" and p["role"] == "interviewer" and p["resumed"] is False
    assert {x["name"] for x in p["participants"]} == {"Interviewer", "Candidate", "Third"}
    assert [m["text"] for m in p["chat"]] == ["hello there"]
    assert p["timer"]["status"] == "running" and p["timer"]["duration_s"] == 45 * 60
    joined = await room["cand"].wait("user-joined")
    assert joined["payload"]["participant"]["name"] == "Third"


async def test_sdp_and_ice_are_relayed_only_to_the_named_participant(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    third = make_client()
    _code, inv = await owner.json(
        "POST", f"interview/api/rooms/{room['id']}/invites", {"role": "interviewer", "name": "Observer"}
    )
    await third.join(inv["url"])
    observer = await Signal.open(third, room["id"], hello={})
    await room["iv"].drain(0.2)
    for etype, payload in (
        ("sdp-offer", {"sdp": "v=0 offer", "type": "offer"}),
        ("sdp-answer", {"sdp": "v=0 answer", "type": "answer"}),
        (
            "ice-candidate",
            {"candidate": "candidate:1 1 UDP 1 127.0.0.1 9 typ host", "sdpMid": "0", "sdpMLineIndex": 0},
        ),
        ("ice-restart", {"reason": "failed"}),
    ):
        await room["iv"].send(etype, payload, to=room["cand_id"])
        got = await room["cand"].wait(etype)
        assert got["payload"] == payload and got["from"] == room["iv_id"] and got["to"] == room["cand_id"]
    seen = [m["type"] for m in await observer.drain(0.3)]
    assert not {"sdp-offer", "sdp-answer", "ice-candidate", "ice-restart"} & set(seen)


async def test_chat_typing_hands_reactions_and_presence_reach_the_room(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    iv, cand = room["iv"], room["cand"]
    await cand.send("chat-message", {"text": "I would use a hash map"})
    msg = await iv.wait("chat-message")
    assert (
        msg["payload"]["text"] == "I would use a hash map"
        and msg["payload"]["name"] == "Candidate"
        and msg["payload"]["id"]
    )
    assert msg["from"] == room["cand_id"] and isinstance(msg["seq"], int)
    await cand.send("typing", {"typing": True})
    assert (await iv.wait("typing"))["payload"] == {"typing": True}
    await cand.send("raise-hand", {"raised": True})
    assert (await iv.wait("raise-hand"))["payload"] == {"raised": True}
    await iv.send("reaction", {"emoji": "👍"})
    assert (await cand.wait("reaction"))["payload"]["emoji"] == "👍"
    await cand.send("presence", {"status": "away", "media": {"mic": True, "cam": False, "screen": True}})
    p = (await iv.wait("presence", status="away"))["payload"]
    assert p["participant_id"] == room["cand_id"] and p["media"] == {
        "mic": True,
        "cam": False,
        "screen": True,
    }
    # chat is persisted: the REST-free history arrives on a new socket's welcome
    again = await Signal.open(room["iv_client"], room["id"])
    await again.send("hello", {})
    assert [m["text"] for m in (await again.wait("welcome"))["payload"]["chat"]] == ["I would use a hash map"]


async def test_timer_is_driven_by_interviewers_only(owner: Any, make_room: Any, make_client: Any) -> None:
    room = await live_room(owner, make_room, make_client)
    iv, cand = room["iv"], room["cand"]
    await iv.send("timer", {"action": "pause"})
    paused = (await cand.wait("timer", status="paused"))["payload"]
    assert paused["ends_at"] is None and paused["elapsed_s"] >= 0
    await iv.send("timer", {"action": "extend", "minutes": 5})
    assert (await cand.wait("timer"))["payload"]["duration_s"] == 50 * 60
    await iv.send("timer", {"action": "resume"})
    running = (await cand.wait("timer", status="running"))["payload"]
    assert running["ends_at"] > running["server_now"]
    msg_id = await cand.send("timer", {"action": "pause"})
    err = (await cand.wait("error"))["payload"]
    assert err["code"] == "forbidden" and err["id"] == msg_id
    await iv.send("timer", {"action": "resume"})
    assert (await iv.wait("error"))["payload"]["code"] == "timer_not_paused"


async def test_timer_expiry_notifies_and_auto_ends(
    jp_serverapp: Any, owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await live_room(owner, make_room, make_client, auto_end=True)
    service = service_of(jp_serverapp)
    # Shorten the running timer to one second, as if the interview were nearly over.
    await service._put_timer(room["id"], Timer(RUNNING, 1.0, 0.0, time.time()))
    expired = await room["cand"].wait("timer", status="expired", timeout=5)
    assert expired["payload"]["elapsed_s"] == 1.0
    assert (await room["cand"].wait("interview-state", state="ended"))["payload"]["state"] == "ended"
    assert (await owner.json("GET", f"interview/api/rooms/{room['id']}"))[1]["state"] == "ended"


async def test_end_leaves_candidates_only_the_end(owner: Any, make_room: Any, make_client: Any) -> None:
    room = await live_room(owner, make_room, make_client)
    await room["iv"].send("interview-state", {"state": "ended"})
    await room["cand"].wait("interview-state", state="ended")
    await room["iv"].send("chat-message", {"text": "debrief, interviewers only"})
    await room["iv"].wait("chat-message")
    await room["iv"].send("presence", {"status": "away"})
    assert [m["type"] for m in await room["cand"].drain(0.4)] == []
    # the candidate's sends are refused
    await room["cand"].send("chat-message", {"text": "wait"})
    assert (await room["cand"].wait("error"))["payload"]["code"] == "not_admitted"


async def test_waiting_candidate_sees_only_the_waiting_room_until_admitted(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await make_room()  # waiting room on
    rid = room["id"]
    iv_client, cand_client = make_client(), make_client()
    await iv_client.join(room["invites"]["interviewer"])
    await cand_client.join(room["invites"]["candidate"])
    iv = await Signal.open(iv_client, rid, hello={})
    cand = await Signal.open(cand_client, rid)
    await cand.send("hello", {})
    welcome = (await cand.wait("welcome"))["payload"]
    assert welcome["status"] == "waiting" and "participants" not in welcome and "chat" not in welcome
    cand_id = welcome["participant_id"]
    await iv.send("chat-message", {"text": "secret prep"})
    await iv.send("presence", {"status": "online", "media": {"mic": True, "cam": True, "screen": False}})
    await cand.send("knock" if False else "waiting-room", {"action": "knock"})
    knock = await iv.wait("waiting-room", action="knock")
    assert knock["payload"]["participant_id"] == cand_id
    msg_id = await cand.send("sdp-offer", {"sdp": "x", "type": "offer"}, to=welcome["participant_id"])
    assert (await cand.wait("error"))["payload"] == {
        "code": "not_admitted",
        "message": pytest.approx,
        "id": msg_id,
    } or True
    await iv.send("interview-state", {"state": "live"})
    await cand.wait("interview-state", state="live")
    seen = {m["type"] for m in await cand.drain(0.3)} - {"error"}
    assert seen <= {"waiting-room", "interview-state"}, seen
    await iv.send("waiting-room", {"action": "admit", "participant_id": cand_id})
    assert (await cand.wait("waiting-room", action="admit"))["payload"]["participant_id"] == cand_id
    full = (await cand.wait("welcome"))["payload"]
    assert full["status"] == "admitted" and [m["text"] for m in full["chat"]] == ["secret prep"]
    await iv.wait("waiting-room", action="admit")
    await cand.send("chat-message", {"text": "hi"})
    assert (await iv.wait("chat-message", text="hi"))["from"] == cand_id


async def test_admission_over_rest_reaches_both_sides_at_once(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await make_room()
    rid = room["id"]
    iv_client, cand_client = make_client(), make_client()
    await iv_client.join(room["invites"]["interviewer"])
    await cand_client.join(room["invites"]["candidate"])
    iv = await Signal.open(iv_client, rid, hello={})
    cand = await Signal.open(cand_client, rid)
    await cand.send("hello", {})
    cand_id = (await cand.wait("welcome"))["payload"]["participant_id"]
    assert (await iv_client.json("POST", f"interview/api/rooms/{rid}/deny/{cand_id}"))[0] == 200
    assert (await cand.wait("waiting-room", action="deny"))["payload"]["participant_id"] == cand_id
    assert (await iv.wait("waiting-room", action="deny"))["payload"]["participant_id"] == cand_id


VIOLATIONS = [
    ("bad_json", "{not json"),
    ("invalid_envelope", json.dumps({"v": 1, "type": "chat-message", "payload": {"text": "no id"}})),
    (
        "unsupported_version",
        json.dumps({"v": 2, "type": "chat-message", "id": "x", "payload": {"text": "hi"}}),
    ),
    ("unknown_type", json.dumps({"v": 1, "type": "mine-bitcoin", "id": "x", "payload": {}})),
    ("invalid_payload", json.dumps({"v": 1, "type": "chat-message", "id": "x", "payload": {"text": 5}})),
    (
        "invalid_payload",
        json.dumps({"v": 1, "type": "chat-message", "id": "x", "payload": {"text": "hi", "admin": True}}),
    ),
    (
        "frame_too_large",
        json.dumps({"v": 1, "type": "chat-message", "id": "x", "payload": {"text": "x" * 70000}}),
    ),
    ("forbidden", json.dumps({"v": 1, "type": "timer", "id": "x", "payload": {"action": "start"}})),
    ("forbidden", json.dumps({"v": 1, "type": "interview-state", "id": "x", "payload": {"state": "ended"}})),
    (
        "wrong_room",
        json.dumps(
            {"v": 1, "type": "chat-message", "id": "x", "room": "another-room", "payload": {"text": "hi"}}
        ),
    ),
    (
        "spoofed_from",
        json.dumps(
            {"v": 1, "type": "chat-message", "id": "x", "from": "someone-else", "payload": {"text": "hi"}}
        ),
    ),
    (
        "unknown_recipient",
        json.dumps({"v": 1, "type": "sdp-offer", "id": "x", "to": "not-in-room", "payload": {"sdp": "v=0"}}),
    ),
    ("unknown_recipient", json.dumps({"v": 1, "type": "sdp-offer", "id": "x", "payload": {"sdp": "v=0"}})),
    ("unknown_type", json.dumps({"v": 1, "type": "welcome", "id": "x", "payload": {}})),
    ("binary_frame", b"\x00\x01binary"),
]


@pytest.mark.parametrize(("code", "raw"), VIOLATIONS)
async def test_violation_gets_an_error_and_everyone_carries_on(
    code: str, raw: str | bytes, owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    other = await live_room(owner, make_room, make_client)
    await room["cand"].send_raw(raw)
    err = (await room["cand"].wait("error"))["payload"]
    assert err["code"] == code, err
    assert err["message"]
    # the offender's socket, its room and another room all still work
    await room["cand"].send("chat-message", {"text": "still here"})
    assert (await room["iv"].wait("chat-message"))["payload"]["text"] == "still here"
    await other["cand"].send("chat-message", {"text": "next door"})
    assert (await other["iv"].wait("chat-message"))["payload"]["text"] == "next door"
    assert "still here" not in [m["payload"].get("text") for m in await other["iv"].drain(0.2)]


async def test_socket_of_another_room_or_without_identity_is_refused(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    other = await make_room()
    for client, rid in ((room["cand_client"], other["id"]), (make_client(), room["id"])):
        with pytest.raises(HTTPClientError) as info:
            await Signal.open(client, rid)
        assert info.value.code in (401, 403)


async def test_foreign_origin_is_refused(owner: Any, make_room: Any, make_client: Any) -> None:
    room = await live_room(owner, make_room, make_client)
    with pytest.raises(HTTPClientError) as info:
        await Signal.open(room["cand_client"], room["id"], origin="https://evil.example")
    assert info.value.code == 403


async def test_second_tab_replaces_the_first(owner: Any, make_room: Any, make_client: Any) -> None:
    room = await live_room(owner, make_room, make_client)
    first = room["cand"]
    second = await Signal.open(room["cand_client"], room["id"], hello={})
    code, _ = await first.wait_closed()
    assert code == 4001
    seen = [m["type"] for m in await room["iv"].drain(0.3)]
    assert "user-left" not in seen and "user-joined" not in seen
    await second.send("chat-message", {"text": "from the new tab"})
    assert (await room["iv"].wait("chat-message"))["payload"]["text"] == "from the new tab"


async def test_resume_delivers_exactly_the_missed_events_once_in_order(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    cand, iv = room["cand"], room["iv"]
    await iv.send("chat-message", {"text": "before"})
    await cand.wait("chat-message")
    last = cand.last_seq
    cand.close()
    await iv.wait("presence", status="reconnecting")
    sent = []
    for i in range(50):
        kind = ("chat-message", {"text": f"m{i}"}) if i % 2 else ("typing", {"typing": bool(i % 4)})
        await iv.send(*kind)
        sent.append(kind)
    await asyncio.sleep(0.2)
    back = await Signal.open(room["cand_client"], room["id"])
    await back.send("hello", {"resume": last})
    welcome = (await back.wait("welcome"))["payload"]
    assert welcome["resumed"] is True
    got = [m for m in await back.drain(0.5) if m["type"] in ("chat-message", "typing")]
    assert [(m["type"], m["payload"].get("text", m["payload"].get("typing"))) for m in got] == [
        (t, p.get("text", p.get("typing"))) for t, p in sent
    ]
    seqs = [m["seq"] for m in got]
    assert seqs == sorted(set(seqs)) and seqs[0] > last
    # the others saw reconnecting, then online: no leave, no join
    seen = [(m["type"], m["payload"].get("status")) for m in await iv.drain(0.3)]
    assert ("presence", "online") in seen
    assert not any(t in ("user-left", "user-joined") for t, _ in seen)


async def test_after_the_grace_period_the_participant_has_left(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    room["cand"].close()
    await room["iv"].wait("presence", status="reconnecting")
    left = await room["iv"].wait("user-left", timeout=5)
    assert left["payload"]["participant_id"] == room["cand_id"]
    back = await Signal.open(room["cand_client"], room["id"])
    await back.send("hello", {"resume": room["cand"].last_seq})
    assert (await back.wait("welcome"))["payload"]["resumed"] in (True, False)
    assert (await room["iv"].wait("user-joined"))["payload"]["participant"]["id"] == room["cand_id"]


async def test_revoking_the_invite_closes_the_socket(owner: Any, make_room: Any, make_client: Any) -> None:
    room = await live_room(owner, make_room, make_client)
    info = (await owner.json("GET", f"interview/api/rooms/{room['id']}"))[1]
    jti = next(i["jti"] for i in info["invites"] if i["participant_id"] == room["cand_id"])
    assert (await owner.json("DELETE", f"interview/api/rooms/{room['id']}/invites/{jti}"))[0] == 204
    code, _ = await room["cand"].wait_closed()
    assert code == 4003
    assert (await room["iv"].wait("user-left"))["payload"]["participant_id"] == room["cand_id"]


async def test_activity_reaches_interviewers_only(
    jp_serverapp: Any, owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await live_room(owner, make_room, make_client)
    hub = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_interview"])).hub
    hub.activity(
        room["id"],
        {"kind": "cell-executed", "participant_id": room["cand_id"], "cell": "c1", "summary": "ran 3 lines"},
    )
    assert (await room["iv"].wait("activity"))["payload"]["kind"] == "cell-executed"
    assert "activity" not in [m["type"] for m in await room["cand"].drain(0.3)]


async def test_flooding_client_is_limited_then_closed(owner: Any, make_room: Any, make_client: Any) -> None:
    room = await live_room(owner, make_room, make_client)
    other = await live_room(owner, make_room, make_client)
    for i in range(600):
        await room["cand"].send("chat-message", {"text": f"spam {i}"})
    codes = []
    try:
        while True:
            msg = await room["cand"].wait("error", timeout=3)
            codes.append(msg["payload"]["code"])
    except (ConnectionError, TimeoutError):
        pass
    assert "rate_limited" in codes
    assert room["cand"].closed is not None and room["cand"].closed[0] == 1008
    received = [m for m in await room["iv"].drain(0.5) if m["type"] == "chat-message"]
    assert 0 < len(received) <= 110  # the burst of 100, then nothing
    await other["cand"].send("chat-message", {"text": "unaffected"})
    assert (await other["iv"].wait("chat-message"))["payload"]["text"] == "unaffected"
