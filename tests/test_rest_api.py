"""The REST contract: validation that names the field and loses nothing, transitions, notes, limits."""

from __future__ import annotations

import os
from typing import Any

import pytest

GOOD = {"title": "Two sum", "language": "python", "duration_minutes": 45}


async def rooms_snapshot(owner: Any) -> Any:
    code, body = await owner.json("GET", "interview/api/rooms")
    assert code == 200
    return body


@pytest.mark.parametrize(
    ("raw", "status", "code", "field"),
    [
        (b"{not json", 400, "invalid_json", None),
        (b"[1, 2]", 400, "invalid_body", None),
        (b'{"language": "python", "duration_minutes": 45}', 400, "missing_field", "title"),
        (b'{"title": "T", "duration_minutes": 45}', 400, "missing_field", "language"),
        (b'{"title": "T", "language": "cobol", "duration_minutes": 45}', 400, "invalid_field", "language"),
        (
            b'{"title": "T", "language": "python", "duration_minutes": "45"}',
            400,
            "invalid_field",
            "duration_minutes",
        ),
        (
            b'{"title": "T", "language": "python", "duration_minutes": true}',
            400,
            "invalid_field",
            "duration_minutes",
        ),
        (
            b'{"title": "T", "language": "python", "duration_minutes": 0}',
            400,
            "invalid_field",
            "duration_minutes",
        ),
        (b'{"title": 5, "language": "python", "duration_minutes": 45}', 400, "invalid_field", "title"),
        (
            b'{"title": "T", "language": "python", "duration_minutes": 45, "waiting_room": "yes"}',
            400,
            "invalid_field",
            "waiting_room",
        ),
        (
            b'{"title": "T", "language": "python", "duration_minutes": 45, "exec_time_limit_s": 0}',
            400,
            "invalid_field",
            "exec_time_limit_s",
        ),
        (
            b'{"title": "T", "language": "python", "duration_minutes": 45, "owner": "me"}',
            400,
            "unknown_field",
            "owner",
        ),
        (
            b'{"title": "' + b"x" * 300 + b'", "language": "python", "duration_minutes": 45}',
            400,
            "invalid_field",
            "title",
        ),
    ],
)
async def test_bad_room_body_is_rejected_naming_the_field_and_store_unchanged(
    owner: Any, raw: bytes, status: int, code: str, field: str | None
) -> None:
    before = await rooms_snapshot(owner)
    got, body = await owner.json(
        "POST", "interview/api/rooms", raw=raw, headers={"Content-Type": "application/json"}
    )
    assert got == status, body
    assert body["error"]["code"] == code
    if field:
        assert body["error"].get("field") == field
        assert field in body["error"]["message"]
    assert await rooms_snapshot(owner) == before


async def test_body_over_64_kib_gives_413_and_store_unchanged(owner: Any) -> None:
    before = await rooms_snapshot(owner)
    raw = (
        b'{"title": "T", "language": "python", "duration_minutes": 45, "problem": "'
        + b"x" * (70 * 1024)
        + b'"}'
    )
    got, body = await owner.json(
        "POST", "interview/api/rooms", raw=raw, headers={"Content-Type": "application/json"}
    )
    assert got == 413, body
    assert body["error"]["code"] == "payload_too_large"
    assert await rooms_snapshot(owner) == before


async def test_created_room_has_folder_notebook_and_invites(
    owner: Any, make_room: Any, jp_root_dir: Any
) -> None:
    room = await make_room(problem="Find two numbers that add up to a target.", waiting_room=False)
    assert len(room["id"]) >= 22  # 128 bits, URL-safe
    assert room["settings"]["waiting_room"] is False
    assert room["notebook_path"] == f"interviews/{room['id']}/interview.ipynb"
    assert os.path.isfile(jp_root_dir / room["notebook_path"])
    assert "/jp/interview/join/" in room["invites"]["candidate"] and "invite=" in room["invites"]["candidate"]
    code, nb = await owner.json("GET", "api/contents/" + room["notebook_path"])
    assert code == 200 and "two numbers" in nb["content"]["cells"][0]["source"]


async def test_illegal_transitions_give_409(owner: Any, make_room: Any) -> None:
    room = await make_room()
    rid = room["id"]
    assert (await owner.json("POST", f"interview/api/rooms/{rid}/start"))[0] == 200
    code, body = await owner.json("POST", f"interview/api/rooms/{rid}/start")
    assert code == 409 and body["error"]["code"] == "illegal_transition"
    assert (await owner.json("POST", f"interview/api/rooms/{rid}/end"))[0] == 200
    for action in ("start", "end"):
        code, body = await owner.json("POST", f"interview/api/rooms/{rid}/{action}")
        assert code == 409, body
    code, body = await owner.json("PATCH", f"interview/api/rooms/{rid}", {"auto_end": True})
    assert code == 409 and body["error"]["code"] == "room_ended"


async def test_interviewer_patches_settings_and_language(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await make_room()
    iv = make_client()
    await iv.join(room["invites"]["interviewer"])
    code, body = await iv.json(
        "PATCH", f"interview/api/rooms/{room['id']}", {"language": "go", "settings": {"auto_end": True}}
    )
    assert code == 200, body
    assert body["language"] == "go" and body["settings"]["auto_end"] is True
    code, body = await iv.json("PATCH", f"interview/api/rooms/{room['id']}", {"settings": {"colour": "red"}})
    assert code == 400 and body["error"]["field"] == "colour"


async def test_waiting_room_admit_and_deny(owner: Any, make_room: Any, make_client: Any) -> None:
    room = await make_room()
    rid = room["id"]
    cand, iv = make_client(), make_client()
    await cand.join(room["invites"]["candidate"])
    await iv.join(room["invites"]["interviewer"])
    me = (await cand.json("GET", f"interview/api/rooms/{rid}/me"))[1]
    pid = me["participant_id"]
    assert me["status"] == "waiting" and "files:read" not in me["permissions"]
    assert (await iv.json("POST", f"interview/api/rooms/{rid}/start"))[0] == 200
    assert (await cand.json("GET", "api/contents/" + room["notebook_path"]))[0] == 403
    code, p = await iv.json("POST", f"interview/api/rooms/{rid}/admit/{pid}")
    assert code == 200 and p["status"] == "admitted"
    me = (await cand.json("GET", f"interview/api/rooms/{rid}/me"))[1]
    assert "files:write" in me["permissions"]
    assert (await cand.json("GET", "api/contents/" + room["notebook_path"]))[0] == 200
    assert (await iv.json("POST", f"interview/api/rooms/{rid}/deny/{pid}"))[0] == 200
    assert (await cand.json("GET", "api/contents/" + room["notebook_path"]))[0] == 403
    code, _body = await iv.json("POST", f"interview/api/rooms/{rid}/admit/not-a-participant")
    assert code == 404


async def test_notes_are_private_per_interviewer_with_etags(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await make_room()
    rid = room["id"]
    iv1, iv2, cand = make_client(), make_client(), make_client()
    await iv1.join(room["invites"]["interviewer"])
    code, inv = await owner.json(
        "POST", f"interview/api/rooms/{rid}/invites", {"role": "interviewer", "name": "Second"}
    )
    assert code == 201
    await iv2.join(inv["url"])
    await cand.join(room["invites"]["candidate"])
    code, notes = await iv1.json("GET", f"interview/api/rooms/{rid}/notes")
    assert code == 200 and notes["text"] == ""
    code, saved = await iv1.json(
        "PUT",
        f"interview/api/rooms/{rid}/notes",
        {"text": "strong on **graphs**"},
        headers={"If-Match": notes["etag"]},
    )
    assert code == 200, saved
    # a second tab with the old etag cannot silently overwrite
    code, body = await iv1.json(
        "PUT", f"interview/api/rooms/{rid}/notes", {"text": "overwrite"}, headers={"If-Match": notes["etag"]}
    )
    assert code == 409 and body["error"]["code"] in ("stale_etag", "etag_required")
    code, body = await iv1.json("PUT", f"interview/api/rooms/{rid}/notes", {"text": "overwrite"})
    assert code == 409 and body["error"]["code"] == "etag_required"
    # a tab that read the notes before anything was saved is stale as well
    code, body = await iv1.json(
        "PUT", f"interview/api/rooms/{rid}/notes", {"text": "overwrite"}, headers={"If-Match": '"new"'}
    )
    assert code == 409 and body["error"]["code"] == "stale_etag"
    code, ok = await iv1.json(
        "PUT", f"interview/api/rooms/{rid}/notes", {"text": "v2"}, headers={"If-Match": saved["etag"]}
    )
    assert code == 200
    # the other interviewer sees only its own (empty) notes
    code, other = await iv2.json("GET", f"interview/api/rooms/{rid}/notes")
    assert code == 200 and other["text"] == ""
    # candidates get 403
    code, body = await cand.json("GET", f"interview/api/rooms/{rid}/notes")
    assert code == 403
    assert (await cand.json("PUT", f"interview/api/rooms/{rid}/notes", {"text": "x"}))[0] == 403
    # the owner reads everyone's, with authors
    code, everything = await owner.json("GET", f"interview/api/rooms/{rid}/notes")
    assert code == 200
    assert [(n["author"]["name"], n["text"]) for n in everything["notes"]] == [("Interviewer", "v2")]
    code, body = await iv1.json(
        "PUT", f"interview/api/rooms/{rid}/notes", {"txt": "typo"}, headers={"If-Match": ok["etag"]}
    )
    assert code == 400 and body["error"]["field"] == "txt"


async def test_delete_room_removes_folder_sessions_and_notes(
    owner: Any, make_room: Any, make_client: Any, jp_root_dir: Any
) -> None:
    room = await make_room()
    rid = room["id"]
    iv = make_client()
    await iv.join(room["invites"]["interviewer"])
    n = (await iv.json("GET", f"interview/api/rooms/{rid}/notes"))[1]
    await iv.json("PUT", f"interview/api/rooms/{rid}/notes", {"text": "x"}, headers={"If-Match": n["etag"]})
    code, kernel = await owner.json(
        "POST", "api/kernels", {"name": "interview-python", "path": f"interviews/{rid}"}
    )
    assert code == 201
    code, _ = await owner.json(
        "PUT",
        f"api/collaboration/session/interviews/{rid}/interview.ipynb",
        {"format": "json", "type": "notebook"},
    )
    assert code in (200, 201)
    assert (await owner.json("DELETE", f"interview/api/rooms/{rid}"))[0] == 204
    assert not os.path.exists(jp_root_dir / "interviews" / rid)
    code, kernels = await owner.json("GET", "api/kernels")
    assert kernel["id"] not in [k["id"] for k in kernels]
    assert (await owner.json("GET", f"interview/api/rooms/{rid}"))[0] == 404
    assert (await iv.json("GET", f"interview/api/rooms/{rid}/me"))[0] == 401


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    jp_server_config["InterviewApp"]["rate_limits"] = {
        "create_room": "3/minute",
        "invite": "2/minute",
        "join": "4/minute",
    }
    return jp_server_config


async def test_rate_limits_give_429_with_retry_after(owner: Any, make_client: Any) -> None:
    for _ in range(3):
        assert (await owner.json("POST", "interview/api/rooms", GOOD))[0] == 201
    r = await owner.request("POST", "interview/api/rooms", GOOD)
    assert r.code == 429
    assert int(r.headers["Retry-After"]) >= 1
    rooms = (await owner.json("GET", "interview/api/rooms"))[1]["rooms"]
    rid = rooms[0]["id"]
    for _ in range(2):
        assert (await owner.json("POST", f"interview/api/rooms/{rid}/invites", {"role": "candidate"}))[
            0
        ] == 201
    code, body = await owner.json("POST", f"interview/api/rooms/{rid}/invites", {"role": "candidate"})
    assert code == 429 and body["error"]["code"] == "rate_limited"
    attacker = make_client()
    codes = [(await attacker.request("GET", f"interview/join/{rid}?invite=guess{i}")).code for i in range(6)]
    assert codes[:4] == [401] * 4 and codes[4:] == [429, 429]
