"""Stop the server and start it again on the same data dir: nothing of the interview is lost."""

from __future__ import annotations

from typing import Any

import pytest
import requests


def owner_session(server: Any) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"token {server.token}"
    return s


def participant(server: Any, invite_url: str) -> requests.Session:
    s = requests.Session()
    r = s.get(invite_url, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    return s


def xsrf(s: requests.Session) -> dict[str, str]:
    return {"X-XSRFToken": s.cookies.get("_xsrf", "")}


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_restart_keeps_rooms_invites_revocations_sessions_and_notes(server_process: Any, how: str) -> None:
    server = server_process
    server.start()
    api = server.url + "interview/api/"
    owner = owner_session(server)
    room = owner.post(
        api + "rooms", json={"title": "T", "language": "python", "duration_minutes": 30}, timeout=10
    ).json()
    rid = room["id"]
    iv = participant(server, room["invites"]["interviewer"])
    cand = participant(server, room["invites"]["candidate"])
    notes = iv.get(api + f"rooms/{rid}/notes", timeout=10).json()
    r = iv.put(
        api + f"rooms/{rid}/notes",
        json={"text": "before restart"},
        headers={"If-Match": notes["etag"], **xsrf(iv)},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    extra = owner.post(
        api + f"rooms/{rid}/invites", json={"role": "candidate", "name": "Revoked"}, timeout=10
    ).json()
    assert owner.delete(api + f"rooms/{rid}/invites/{extra['jti']}", timeout=10).status_code == 204
    assert owner.post(api + f"rooms/{rid}/start", timeout=10).status_code == 200
    before = owner.get(api + f"rooms/{rid}", timeout=10).json()

    server.stop(kill=how == "kill")
    server.start()

    after = owner.get(api + f"rooms/{rid}", timeout=10).json()
    assert after == before
    # sessions survive: no new click needed
    assert iv.get(api + f"rooms/{rid}/notes", timeout=10).json()["text"] == "before restart"
    assert cand.get(api + f"rooms/{rid}/me", timeout=10).json()["role"] == "candidate"
    # the revocation survives
    r = requests.get(extra["url"], allow_redirects=False, headers={"Accept": "application/json"}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "revoked"
    # and the original invite still works for a second browser
    participant(server, room["invites"]["candidate"])
