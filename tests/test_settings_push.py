"""A change to a room's settings (screen sharing allowed or not) reaches the open sockets at once."""

from __future__ import annotations

from typing import Any

from jupyter_interview.pytest_plugin import Signal


async def test_settings_change_reaches_interviewer_and_admitted_candidate_not_a_waiting_one(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await make_room()  # waiting room on
    rid = room["id"]
    iv_client, cand_client = make_client(), make_client()
    await iv_client.join(room["invites"]["interviewer"])
    await cand_client.join(room["invites"]["candidate"])
    iv = await Signal.open(iv_client, rid)
    cand = await Signal.open(cand_client, rid)
    await iv.send("hello", {})
    await cand.send("hello", {})
    first = (await iv.wait("welcome"))["payload"]
    assert first["settings"]["allow_candidate_screen_share"] is True
    waiting = (await cand.wait("welcome"))["payload"]
    assert waiting["status"] == "waiting" and "settings" not in waiting

    code, _ = await iv_client.json(
        "PATCH", f"interview/api/rooms/{rid}", {"allow_candidate_screen_share": False}
    )
    assert code == 200
    again = (await iv.wait("welcome"))["payload"]
    assert again["settings"]["allow_candidate_screen_share"] is False
    assert again["resumed"] is False and again["participant_id"] == first["participant_id"]
    # A waiting candidate is told nothing of the room.
    assert [m for m in await cand.drain(0.3) if m["type"] == "welcome"] == []

    cand_id = waiting["participant_id"]
    assert (await owner.json("POST", f"interview/api/rooms/{rid}/start"))[0] == 200
    assert (await iv_client.json("POST", f"interview/api/rooms/{rid}/admit/{cand_id}"))[0] == 200
    admitted = (await cand.wait("welcome"))["payload"]
    assert admitted["settings"]["allow_candidate_screen_share"] is False
    await cand.drain(0.3)
    await iv.drain(0.1)

    code, _ = await iv_client.json(
        "PATCH", f"interview/api/rooms/{rid}", {"allow_candidate_screen_share": True}
    )
    assert code == 200
    assert (await cand.wait("welcome"))["payload"]["settings"]["allow_candidate_screen_share"] is True

    # Other changes (the title) send no welcome.
    await cand.drain(0.3)
    code, _ = await iv_client.json("PATCH", f"interview/api/rooms/{rid}", {"title": "Renamed"})
    assert code == 200
    assert [m for m in await cand.drain(0.3) if m["type"] == "welcome"] == []
