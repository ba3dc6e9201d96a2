"""Every row of the role matrix, in every room state, for both invite roles, against a real server.

Each row's request is sent for the participant's own room (expected as docs/role-matrix.md says)
and, where the row concerns a room, for another room (always 403).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from jupyter_interview.server_ext import matrix

NB = "interviews/{room}/interview.ipynb"

# One concrete request per row: method, path template, body. Placeholders are filled per room.
EXAMPLES: dict[str, tuple[str, str, Any]] = {
    "list or create rooms": ("GET", "interview/api/rooms", None),
    "read the room": ("GET", "interview/api/rooms/{room}", None),
    "change the room's settings": ("PATCH", "interview/api/rooms/{room}", {"auto_end": False}),
    "delete the room": ("DELETE", "interview/api/rooms/{room}", None),
    "issue an invite": ("POST", "interview/api/rooms/{room}/invites", {"role": "candidate", "name": "Extra"}),
    "revoke an invite": ("DELETE", "interview/api/rooms/{room}/invites/{spare_jti_role}", None),
    "start or end": ("POST", "interview/api/rooms/{room}/start", None),
    "admit or deny": ("POST", "interview/api/rooms/{room}/admit/{candidate}", None),
    "own notes": ("GET", "interview/api/rooms/{room}/notes", None),
    "who am I": ("GET", "interview/api/rooms/{room}/me", None),
    "real-time socket": ("GET", "interview/api/rooms/{room}/ws", None),
    "ICE servers": ("GET", "interview/api/rooms/{room}/ice-servers", None),
    "version history": ("GET", "interview/api/rooms/{room}/snapshots", None),
    # Snapshot ids are per room: an unknown one answers 404 once the matrix let the request through.
    "read or diff a snapshot": ("GET", "interview/api/rooms/{room}/snapshots/999999/diff", None),
    "restore a snapshot": ("POST", "interview/api/rooms/{room}/snapshots/999999/restore", None),
    "session replay": ("GET", "interview/api/rooms/{room}/replay", None),
    "API description": ("GET", "interview/api/openapi.json", None),
    "lab page": ("GET", "lab/tree/" + NB, None),
    "lab assets": ("GET", "static/lab/package.json", None),
    "settings (read)": ("GET", "lab/api/settings", None),
    "translations, themes, listings": ("GET", "lab/api/translations", None),
    "own workspace": ("GET", "lab/api/workspaces/default", None),
    "identity": ("GET", "api/me", None),
    "server version": ("GET", "api", None),
    "logout": ("GET", "logout", None),
    "join with another invite": ("GET", "interview/join/{room}?invite=not-a-jwt", None),
    "kernelspecs (read)": ("GET", "api/kernelspecs", None),
    "kernelspec resources": ("GET", "kernelspecs/interview-python/kernel.json", None),
    "list kernels": ("GET", "api/kernels", None),
    "start a kernel": ("POST", "api/kernels", {"name": "interview-python", "path": "interviews/{room}"}),
    "kernel model": ("GET", "api/kernels/{kernel}", None),
    "shut down a kernel": ("DELETE", "api/kernels/{spare_kernel_role}", None),
    "interrupt or restart": ("POST", "api/kernels/{kernel}/interrupt", None),
    "kernel channels": ("GET", "api/kernels/{kernel}/channels", None),
    "list sessions": ("GET", "api/sessions", None),
    "create a session": (
        "POST",
        "api/sessions",
        {"path": "interviews/{room}/s.ipynb", "type": "notebook", "name": "", "kernel": {"id": "{kernel}"}},
    ),
    "session model": ("GET", "api/sessions/{session}", None),
    "change a session": ("PATCH", "api/sessions/{session}", {"path": NB}),
    "end a session": ("DELETE", "api/sessions/{spare_session_role}", None),
    "read files": ("GET", "api/contents/" + NB, None),
    "write files": (
        "PUT",
        "api/contents/interviews/{room}/scratch.txt",
        {"type": "file", "format": "text", "content": "x"},
    ),
    "download files": ("GET", "files/" + NB, None),
    "export the room's notebooks": ("GET", "nbconvert/script/" + NB, None),
    "open a shared document": (
        "PUT",
        "api/collaboration/session/" + NB,
        {"format": "json", "type": "notebook"},
    ),
    "shared document socket": ("GET", "api/collaboration/room/{collab}", None),
    "fork a shared document": ("GET", "api/collaboration/fork/{collab}", None),
    "timeline": ("GET", "api/collaboration/timeline/" + NB, None),
    "undo or redo": ("PUT", "api/collaboration/undo_redo/{collab}", {"action": "undo", "steps": 1}),
}
# What a granted request may answer besides success: joining with a bad invite reaches the join
# handler, which refuses the invite itself (401 naming the reason), not the Authorizer (403).
ALLOWED_ANSWERS = {"join with another invite": {401}}
# Rows that change the room's state run last, after every other row of that state.
LAST = ("start or end",)
ROOM_SCOPES = {
    matrix.API_ROOM,
    matrix.PATH,
    matrix.PATH_OR_ANCESTOR,
    matrix.KERNEL,
    matrix.SESSION,
    matrix.COLLAB_ROOM,
    matrix.BODY_PATH,
}


def test_every_row_has_an_example_request() -> None:
    assert set(EXAMPLES) == {rule.name for rule in matrix.RULES}


def test_docs_role_matrix_is_current() -> None:
    doc = Path(__file__).parent.parent / "docs" / "role-matrix.md"
    assert doc.read_text(encoding="utf-8") == matrix.markdown(), (
        "docs/role-matrix.md is stale: run python -m jupyter_interview.server_ext.matrix > docs/role-matrix.md"
    )


def fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


async def room_resources(owner: Any, room: dict[str, Any], spares: tuple[str, ...]) -> dict[str, str]:
    """Kernels, sessions, a shared-document id and spare invites of a room, made by the owner."""
    rid = room["id"]
    ids = {"room": rid}

    async def kernel() -> str:
        code, k = await owner.json(
            "POST", "api/kernels", {"name": "interview-python", "path": f"interviews/{rid}"}
        )
        assert code == 201, k
        return str(k["id"])

    async def session(kid: str, name: str) -> str:
        code, s = await owner.json(
            "POST",
            "api/sessions",
            {"path": f"interviews/{rid}/{name}.ipynb", "type": "notebook", "name": "", "kernel": {"id": kid}},
        )
        assert code == 201, s
        return str(s["id"])

    ids["kernel"] = await kernel()
    ids["session"] = await session(ids["kernel"], "main")
    for role in spares:
        ids[f"spare_kernel_{role}"] = await kernel()
        ids[f"spare_session_{role}"] = await session(await kernel(), f"spare-{role}")
        code, inv = await owner.json(
            "POST", f"interview/api/rooms/{rid}/invites", {"role": "candidate", "name": "Spare"}
        )
        assert code == 201, inv
        ids[f"spare_jti_{role}"] = inv["jti"]
    code, doc = await owner.json(
        "PUT",
        f"api/collaboration/session/interviews/{rid}/interview.ipynb",
        {"format": "json", "type": "notebook"},
    )
    assert code in (200, 201), doc
    ids["collab"] = f"json:notebook:{doc['fileId']}"
    participants = (await owner.json("GET", f"interview/api/rooms/{rid}"))[1]["participants"]
    ids["candidate"] = next(p["id"] for p in participants if p["role"] == "candidate")
    return ids


def for_role(ids: dict[str, str], role: str) -> dict[str, str]:
    out = dict(ids)
    for key in list(ids):
        if key.endswith("_" + role):
            out[key.removesuffix("_" + role) + "_role"] = ids[key]
    return out


@pytest.mark.parametrize("state", matrix.STATES)
async def test_role_matrix_in_every_state_and_across_rooms(
    state: str, owner: Any, make_room: Any, make_client: Any
) -> None:
    room_a = await make_room(title="A")
    room_b = await make_room(title="B")
    people = {}
    for role in ("interviewer", "candidate"):
        people[role] = make_client()
        r = await people[role].join(room_a["invites"][role])
        assert r.code == 302, r.body
    # Room B is live with an admitted candidate: the most open state, and still out of reach.
    ids_b = await room_resources(owner, room_b, ("interviewer", "candidate"))
    cand_b = make_client()
    assert (await cand_b.join(room_b["invites"]["candidate"])).code == 302
    assert (await owner.json("POST", f"interview/api/rooms/{room_b['id']}/admit/{ids_b['candidate']}"))[
        0
    ] == 200
    assert (await owner.json("POST", f"interview/api/rooms/{room_b['id']}/start"))[0] == 200
    ids_a = await room_resources(owner, room_a, ("interviewer", "candidate"))
    assert (await owner.json("POST", f"interview/api/rooms/{room_a['id']}/admit/{ids_a['candidate']}"))[
        0
    ] == 200
    if state in ("live", "ended"):
        assert (await owner.json("POST", f"interview/api/rooms/{room_a['id']}/start"))[0] == 200
    if state == "ended":
        assert (await owner.json("POST", f"interview/api/rooms/{room_a['id']}/end"))[0] == 200
    code, info = await owner.json("GET", f"interview/api/rooms/{room_a['id']}")
    assert info["state"] == state

    failures = []
    rules = sorted(matrix.RULES, key=lambda r: r.name in LAST)
    for rule in rules:
        method, template, body = EXAMPLES[rule.name]
        for role in ("candidate", "interviewer"):
            client = people[role]
            expected = matrix.allowed(rule, role, state)
            own = for_role(ids_a, role)
            code, reply = await client.json(method, fill(template, own), fill(body, own))
            granted = code not in (401, 403) or code in ALLOWED_ANSWERS.get(rule.name, set())
            ok = granted if expected else code == 403
            if not ok:
                failures.append(
                    f"{role} {method} {rule.name} own room: {code} (expected {'allowed' if expected else '403'}) {str(reply)[:160]}"
                )
            if rule.scope in ROOM_SCOPES and rule.name not in LAST:
                other = for_role(ids_b, role)
                code, reply = await client.json(method, fill(template, other), fill(body, other))
                if code != 403:
                    failures.append(f"{role} {method} {rule.name} OTHER room: {code} {str(reply)[:160]}")
    for method, path in matrix.REFUSED_EXAMPLES:
        for role in ("candidate", "interviewer"):
            code, reply = await people[role].json(
                method, path, {} if method in ("POST", "PUT", "PATCH") else None
            )
            if code != 403:
                failures.append(f"{role} {method} {path} (refused example): {code} {str(reply)[:120]}")
    assert not failures, "\n".join(failures)
