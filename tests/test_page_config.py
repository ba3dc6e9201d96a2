"""The lab page an invite identity gets: no server token, its own room and role, no leak into other pages."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest


def _fake_labextension(root: Path, name: str) -> None:
    """A federated extension as the lab lists it (its package.json), enough for the page config."""
    folder = root / name
    folder.mkdir(parents=True)
    package = {
        "name": name,
        "version": "1.0.0",
        "jupyterlab": {"_build": {"load": "static/remoteEntry.0.js", "extension": "./extension"}},
    }
    (folder / "package.json").write_text(json.dumps(package))


@pytest.fixture
def participant_app() -> bool:
    """InterviewApp.participant_app; a test parametrizes it to False."""
    return True


@pytest.fixture
def jp_server_config(
    jp_server_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory, participant_app: bool
) -> dict[str, Any]:
    # The plugin's config, plus a labextensions folder of the test's own: the page config lists its two.
    config = jp_server_config
    config.setdefault("InterviewApp", {})["participant_app"] = participant_app
    labext = tmp_path_factory.mktemp("labextensions")
    for name in ("nbdime-jupyterlab", "jupyter-interview"):
        _fake_labextension(labext, name)
    config.setdefault("LabApp", {})["extra_labextensions_path"] = [str(labext)]
    return config


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
        # An extension disabled whole is not even listed for download.
        listed = {ext["name"] for ext in cfg["federated_extensions"]}
        assert "nbdime-jupyterlab" not in listed and "jupyter-interview" in listed, listed
    # One request's values do not pile up in the next one's page (the dict is shared server-wide).
    assert pages["candidate again"]["disabledExtensions"] == pages["candidate"]["disabledExtensions"]
    assert "interviewRoom" not in owners and "interviewRole" not in owners and "interviewAccess" not in owners
    assert owners["token"] == owner.token
    assert "@jupyterlab/terminal-extension" not in owners.get("disabledExtensions", [])
    assert "nbdime-jupyterlab" in {ext["name"] for ext in owners["federated_extensions"]}


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


def lobby_src(body: bytes) -> str | None:
    found = re.search(
        rb'<script defer="defer" src="([^"]*static/jupyter_interview/lobby\.js\?v=[0-9a-f]+)"', body
    )
    return found.group(1).decode() if found else None


LAB_BUNDLE = re.compile(rb'<script[^>]*\bsrc="[^"]*/static/lab/main\.[0-9a-f]+\.js')
APP_BUNDLE = rb"static/jupyter_interview/app/bundle.js?v="


async def test_participant_page_runs_the_lobby_first_and_the_owner_page_has_none(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room = await make_room()
    nb = f"lab/tree/interviews/{room['id']}/interview.ipynb"
    for role in ("candidate", "interviewer"):
        client = make_client()
        assert (await client.join(room["invites"][role])).code == 302
        r = await client.request("GET", nb, headers={"Accept": "text/html"})
        assert r.code == 200
        src = lobby_src(r.body)
        assert src is not None, f"the {role}'s page has no lobby script"
        # First of the page's scripts: deferred scripts run in document order.
        scripts = re.findall(rb'<script[^>]*\bsrc="([^"]+)"', r.body)
        assert scripts[0].decode() == src, scripts
        cfg = page_config(r.body)
        # What the lobby shows before the lab can ask the server anything.
        assert cfg["interviewTitle"] == room["title"]
        # The room's state now (a participant joining moves a scheduled room to waiting).
        assert cfg["interviewState"] in ("scheduled", "waiting"), cfg["interviewState"]
        # The participant's own ICE servers, as `ice-servers` answers them: Join need not ask.
        code, ice = await client.json("GET", f"interview/api/rooms/{room['id']}/ice-servers")
        assert code == 200
        assert set(cfg["interviewIce"]) == set(ice) and cfg["interviewIce"]["ttl_s"] == ice["ttl_s"]
        assert r.headers.get("Cache-Control") == "no-store"  # it may carry TURN credentials
        got = await client.request("GET", src[len(cfg["baseUrl"]) :])
        assert got.code == 200
        assert b"jupyter-interview.lobby" in got.body  # the bundle that publishes the lobby
        # The participant app in place of JupyterLab's bundle: fetched at once, run after the
        # lobby has painted (an inline script adds it), with the extensions' remote entries.
        assert LAB_BUNDLE.search(r.body) is None
        app = re.search(
            rb'<link rel="preload" as="script" href="([^"]*app/bundle\.js\?v=[0-9a-f]+)">', r.body
        )
        assert app is not None, r.body[:3000]
        assert json.dumps(app.group(1).decode()).encode() in r.body  # the inline script's URL
        assert re.search(
            rb'<link rel="preload" as="script" href="[^"]*/jupyter-interview/static/remoteEntry', r.body
        )
        got = await client.request("GET", app.group(1).decode()[len(cfg["baseUrl"]) :])
        assert got.code == 200
        assert b"_JUPYTERLAB" in got.body  # the federated extensions' containers
    r = await owner.request("GET", nb, headers={"Accept": "text/html"})
    assert r.code == 200
    assert lobby_src(r.body) is None
    assert LAB_BUNDLE.search(r.body) is not None and APP_BUNDLE not in r.body  # JupyterLab's own
    owners = page_config(r.body)
    assert "interviewTitle" not in owners and "interviewIce" not in owners
    # A room page is interview mode for the owner too: no news or update pop-ups (the lab's own
    # page elsewhere keeps the owner's settings).
    assert owners["news"] == {"disabled": True} and owners["checkForUpdates"] is False
    elsewhere = page_config((await owner.request("GET", "lab", headers={"Accept": "text/html"})).body)
    assert elsewhere.get("news") != {"disabled": True}


async def test_lobby_page_needs_a_session_like_the_lab_page(make_room: Any, make_client: Any) -> None:
    room = await make_room()
    stranger = make_client()  # no invite used: no session cookie
    r = await stranger.request(
        "GET", f"lab/tree/interviews/{room['id']}/interview.ipynb", headers={"Accept": "text/html"}
    )
    assert r.code in (302, 403), r.code
    assert lobby_src(r.body or b"") is None


@pytest.mark.parametrize("participant_app", [False])
async def test_without_the_participant_app_participants_get_jupyterlabs_page(
    make_room: Any, make_client: Any, participant_app: bool
) -> None:
    room = await make_room()
    cand = make_client()
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    r = await cand.request(
        "GET", f"lab/tree/interviews/{room['id']}/interview.ipynb", headers={"Accept": "text/html"}
    )
    assert r.code == 200
    assert LAB_BUNDLE.search(r.body) is not None and APP_BUNDLE not in r.body
    src = lobby_src(r.body)
    assert src is not None  # the lobby still runs first
    assert r.body.index(src.encode()) < LAB_BUNDLE.search(r.body).start()  # type: ignore[union-attr]


def test_participant_page_puts_the_lobby_first_and_the_app_in_place_of_the_lab() -> None:
    from jupyter_interview.server_ext.lobby import participant_page

    page = (
        '<html><head><script id="jupyter-config-data" type="application/json">{}</script>'
        '<script defer="defer" src="/static/lab/main.js"></script></head><body></body></html>'
    )
    lobby_only = participant_page(page, "/l.js?v=1")
    assert lobby_only.index('src="/l.js?v=1"') < lobby_only.index('src="/static/lab/main.js"')
    assert lobby_only.index('src="/l.js?v=1"') > lobby_only.index("jupyter-config-data")
    both = participant_page(page, "/l.js?v=1", "/app.js?v=2", ["/ext/remoteEntry.js"])
    assert "/static/lab/main.js" not in both
    assert both.index('<link rel="preload" as="script" href="/app.js?v=2">') < both.index('src="/l.js?v=1"')
    assert '<link rel="preload" as="script" href="/ext/remoteEntry.js">' in both
    assert both.index('src="/l.js?v=1"') < both.index('s.src="/app.js?v=2"')  # run after the lobby
    bare = participant_page("<html><head><title>x</title></head></html>", "/l.js")
    assert bare.index('src="/l.js"') < bare.index("</head>")
    # A base URL is the operator's, but stays inert in the attribute and in the inline script.
    odd = participant_page(page, None, '/a"b</script>.js')
    assert '"b</script>' not in odd and 'href="/a&quot;b&lt;/script&gt;.js"' in odd
    assert "\\u003c/script>" in odd


async def test_a_hostile_room_title_stays_data_in_the_lobby_page(make_room: Any, make_client: Any) -> None:
    title = "</script><script>window.pwned=1</script><!--"
    room = await make_room(title=title)
    cand = make_client()
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    r = await cand.request(
        "GET", f"lab/tree/interviews/{room['id']}/interview.ipynb", headers={"Accept": "text/html"}
    )
    assert r.code == 200
    assert b"<script>window.pwned" not in r.body  # escaped inside the page config's JSON
    assert page_config(r.body)["interviewTitle"] == title
