"""Joining through an invite link: every rejection reason gives 401 naming it; sessions behave."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from jupyter_interview.pytest_plugin import invite_token


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


def secret_of(serverapp: Any) -> bytes:
    app = serverapp.extension_manager.extension_apps["jupyter_interview"]
    path = next(iter(app)).invite_secret_path
    with open(path, "rb") as f:
        return f.read()


async def join_code(client: Any, room_id: str, token: str) -> tuple[int, dict[str, Any]]:
    r = await client.request("GET", f"interview/join/{room_id}?invite={token}")
    body = json.loads(r.body) if r.body and r.code != 302 else {}
    return r.code, body


def forged(serverapp: Any, base: dict[str, Any], **changes: Any) -> str:
    payload = {**base, **changes}
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, secret_of(serverapp), algorithm="HS256")


async def test_candidate_join_sets_session_and_strips_invite(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await make_room()
    client = make_client()
    r = await client.join(room["invites"]["candidate"])
    assert r.code == 302
    location = r.headers["Location"]
    assert location.endswith(f"/jp/lab/tree/interviews/{room['id']}/interview.ipynb")
    assert "invite" not in location
    cookie = next(h for h in r.headers.get_list("Set-Cookie") if h.startswith("jupyter-interview-session="))
    lowered = cookie.lower()
    assert "httponly" in lowered and "samesite=lax" in lowered and "path=/jp/" in lowered
    assert invite_token(room["invites"]["candidate"]) not in cookie
    code, me = await client.json("GET", f"interview/api/rooms/{room['id']}/me")
    assert code == 200 and me["role"] == "candidate" and me["status"] == "waiting"
    code, info = await owner.json("GET", f"interview/api/rooms/{room['id']}")
    assert info["state"] == "waiting"


async def test_second_click_on_an_invite_works(make_room: Any, make_client: Any) -> None:
    room = await make_room()
    first, second = make_client(), make_client()
    assert (await first.join(room["invites"]["interviewer"])).code == 302
    assert (await second.join(room["invites"]["interviewer"])).code == 302
    for client in (first, second):
        code, me = await client.json("GET", f"interview/api/rooms/{room['id']}/me")
        assert code == 200 and me["role"] == "interviewer"


async def test_joining_another_invite_replaces_the_session(make_room: Any, make_client: Any) -> None:
    room_a, room_b = await make_room(), await make_room()
    client = make_client()
    await client.join(room_a["invites"]["candidate"])
    await client.join(room_b["invites"]["interviewer"])
    code, _ = await client.json("GET", f"interview/api/rooms/{room_a['id']}/me")
    assert code == 403
    code, me = await client.json("GET", f"interview/api/rooms/{room_b['id']}/me")
    assert code == 200 and me["role"] == "interviewer"


REASONS = [
    "alg_none",
    "unexpected_alg",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "wrong_issuer",
    "room_mismatch",
    "revoked",
    "room_ended",
    "malformed",
    "missing_claim",
]


@pytest.mark.parametrize("reason", REASONS)
async def test_rejected_invite_gives_401_naming_the_reason(
    reason: str, jp_serverapp: Any, owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await make_room()
    good = invite_token(room["invites"]["candidate"])
    base = claims_of(good)
    now = int(time.time())
    room_id = room["id"]
    if reason == "alg_none":
        token = b64({"alg": "none", "typ": "JWT"}) + "." + b64(base) + "."
    elif reason == "unexpected_alg":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        token = jwt.encode(base, pem, algorithm="RS256")
    elif reason == "bad_signature":
        head, _payload, _sig = good.split(".")
        token = f"{head}.{b64({**base, 'role': 'interviewer'})}.{_sig}"
    elif reason == "expired":
        token = forged(jp_serverapp, base, iat=now - 7200, exp=now - 3600)
    elif reason == "not_yet_valid":
        token = forged(jp_serverapp, base, nbf=now + 3600, iat=now + 3600, exp=now + 7200)
    elif reason == "wrong_audience":
        token = forged(jp_serverapp, base, aud="someone-else")
    elif reason == "wrong_issuer":
        token = forged(jp_serverapp, base, iss="someone-else")
    elif reason == "room_mismatch":
        other = await make_room()
        token = good
        room_id = other["id"]
    elif reason == "revoked":
        code, _ = await owner.json("DELETE", f"interview/api/rooms/{room_id}/invites/{base['jti']}")
        assert code == 204
        token = good
    elif reason == "room_ended":
        assert (await owner.json("POST", f"interview/api/rooms/{room_id}/end"))[0] == 200
        token = good
    elif reason == "malformed":
        token = "definitely.not.a-jwt"
    else:
        token = forged(jp_serverapp, base, jti=None)
    code, body = await join_code(make_client(), room_id, token)
    assert code == 401, body
    assert body["error"]["code"] == reason, body
    assert body["error"]["message"]


async def test_rejection_page_is_html_for_browsers(make_room: Any, make_client: Any) -> None:
    room = await make_room()
    r = await make_client().request(
        "GET", f"interview/join/{room['id']}?invite=x.y.z", headers={"Accept": "text/html"}
    )
    assert r.code == 401
    assert b"malformed" in r.body and b"<html" in r.body
    assert b"<h1>This invite cannot be used</h1>" in r.body


async def test_rejection_page_names_an_ended_interview(owner: Any, make_room: Any, make_client: Any) -> None:
    room = await make_room()
    assert (await owner.json("POST", f"interview/api/rooms/{room['id']}/end"))[0] == 200
    token = invite_token(room["invites"]["candidate"])
    r = await make_client().request(
        "GET", f"interview/join/{room['id']}?invite={token}", headers={"Accept": "text/html"}
    )
    assert r.code == 401
    assert (
        b"<title>This interview has ended</title>" in r.body
        and b"<h1>This interview has ended</h1>" in r.body
    )
    assert b"its links no longer open it" in r.body and b"<code>room_ended</code>" in r.body
    assert r.headers.get("Cache-Control") == "no-store"


async def test_revoking_an_invite_ends_its_sessions(owner: Any, make_room: Any, make_client: Any) -> None:
    room = await make_room()
    client = make_client()
    await client.join(room["invites"]["candidate"])
    jti = claims_of(invite_token(room["invites"]["candidate"]))["jti"]
    assert (await client.json("GET", f"interview/api/rooms/{room['id']}/me"))[0] == 200
    assert (await owner.json("DELETE", f"interview/api/rooms/{room['id']}/invites/{jti}"))[0] == 204
    code, body = await client.json("GET", f"interview/api/rooms/{room['id']}/me")
    assert code == 401, body
    code, info = await owner.json("GET", f"interview/api/rooms/{room['id']}")
    statuses = {p["role"]: p["status"] for p in info["participants"]}
    assert statuses["candidate"] == "left"


async def test_no_identity_gets_401(make_room: Any, make_client: Any) -> None:
    room = await make_room()
    code, body = await make_client().json("GET", f"interview/api/rooms/{room['id']}")
    assert code == 401 and body["error"]["code"] == "no_identity"


async def test_invite_never_reaches_the_access_log(make_room: Any, make_client: Any, caplog: Any) -> None:
    import logging

    room = await make_room()
    token = invite_token(room["invites"]["candidate"])
    with caplog.at_level(logging.DEBUG):
        assert (await make_client().join(room["invites"]["candidate"])).code == 302
        assert (
            await make_client().request("GET", f"interview/join/{room['id']}?invite={token}x")
        ).code == 401
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "interview/join" in logged
    assert token not in logged and token[:40] not in logged
