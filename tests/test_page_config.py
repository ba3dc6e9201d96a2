"""The lab page an invite identity gets: no server token, its own room and role, no leak into other pages."""

from __future__ import annotations

import json
import re
from typing import Any


def page_config(body: bytes) -> dict[str, Any]:
    found = re.search(rb'<script id="jupyter-config-data" type="application/json">(.*?)</script>', body, re.S)
    assert found is not None, "the lab page has no jupyter-config-data"
    config: dict[str, Any] = json.loads(found.group(1))
    return config


async def test_participant_page_carries_no_server_token_and_owner_page_stays_plain(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await make_room()
    cand = make_client()
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    iv = make_client()
    assert (await iv.join(room["invites"]["interviewer"])).code == 302

    nb = f"lab/tree/interviews/{room['id']}/interview.ipynb"
    pages = {}
    for name, client in (("candidate", cand), ("interviewer", iv), ("candidate again", cand)):
        r = await client.request("GET", nb, headers={"Accept": "text/html"})
        assert r.code == 200
        pages[name] = page_config(r.body)
    r = await owner.request("GET", "lab", headers={"Accept": "text/html"})
    assert r.code == 200
    owners = page_config(r.body)

    # A waiting candidate may open nothing yet; an interviewer prepares the notebook.
    assert pages["candidate"]["interviewAccess"] == "none"
    assert pages["interviewer"]["interviewAccess"] == "write"
    for name in ("candidate", "interviewer"):
        cfg = pages[name]
        # The lab sends page config's token with every request; the server's token is the owner's.
        assert cfg["token"] == "", name
        assert owner.token not in json.dumps(cfg)
        assert cfg["interviewRoom"] == room["id"]
        assert cfg["interviewRole"] == name
        assert cfg["terminalsAvailable"] is False
        assert cfg["buildCheck"] is False  # lab/api/build is refused to participants
        # The lab extension replaces the connection-lost dialog on these pages only because the
        # hub extension, the other provider of that service, is off here.
        assert "@jupyterlab/hub-extension" in cfg["disabledExtensions"]
    # One request's values do not pile up in the next one's page (the dict is shared server-wide).
    assert pages["candidate again"]["disabledExtensions"] == pages["candidate"]["disabledExtensions"]
    assert "interviewRoom" not in owners and "interviewRole" not in owners and "interviewAccess" not in owners
    assert owners["token"] == owner.token
    assert "@jupyterlab/terminal-extension" not in owners.get("disabledExtensions", [])


async def test_participant_loads_the_lab_assets(owner: Any, make_room: Any, make_client: Any) -> None:
    room = await make_room()
    cand = make_client()
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    r = await cand.request(
        "GET", f"lab/tree/interviews/{room['id']}/interview.ipynb", headers={"Accept": "text/html"}
    )
    cfg = page_config(r.body)
    base = cfg["baseUrl"]
    scripts = [s.decode() for s in re.findall(rb'<script defer="defer" src="([^"]+)"', r.body)]
    assert scripts, "the lab page loads no script"
    paths = [s.split("?")[0][len(base) :] for s in scripts]
    for path in paths:
        got = await cand.request("GET", path)
        assert got.code == 200, (path, got.code)
