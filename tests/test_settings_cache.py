"""The lab's settings listing from memory (server_ext/settings_cache.py): the lab's own answer, kept
only while the files it is made from stay as they were."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jupyterlab_server.settings_handler import SettingsHandler
from jupyterlab_server.settings_utils import get_settings

from jupyter_interview.server_ext.settings_cache import CachedSettingsHandler

PLUGIN = "@jupyterlab/notebook-extension:tracker"


def settings_routes(serverapp: Any) -> list[Any]:
    """The server's rules for the lab's settings routes (whatever handler class they have now)."""
    found, pending = [], [serverapp.web_app.default_router]
    while pending:
        router = pending.pop()
        for rule in getattr(router, "rules", []):
            if isinstance(rule.target, type) and issubclass(rule.target, SettingsHandler):
                found.append(rule)
            elif hasattr(rule.target, "rules"):
                pending.append(rule.target)
    return found


def labs_own_listing(serverapp: Any, ids_only: bool = False) -> Any:
    """What jupyterlab_server computes from disk now, with the route's own arguments."""
    kw = settings_routes(serverapp)[0].target_kwargs
    result, _ = get_settings(
        kw["app_settings_dir"],
        kw["schemas_dir"],
        kw["settings_dir"],
        labextensions_path=kw["labextensions_path"],
        overrides=kw.get("overrides"),
        ids_only=ids_only,
    )
    return result


def plugin_raw(listing: dict[str, Any]) -> str:
    return next(s["raw"] for s in listing["settings"] if s["id"] == PLUGIN)


async def test_the_lab_settings_routes_are_served_by_the_cache(jp_serverapp: Any) -> None:
    routes = settings_routes(jp_serverapp)
    assert len(routes) == 2  # the listing and one plugin's settings
    assert all(rule.target is CachedSettingsHandler for rule in routes)


async def test_the_listing_is_the_labs_own_answer_and_follows_a_write(owner: Any, jp_serverapp: Any) -> None:
    code, first = await owner.json("GET", "lab/api/settings")
    assert code == 200
    # Titles are translated per locale by the handler, as the lab's does; the content is the lab's.
    assert [s["id"] for s in first["settings"]] == [
        s["id"] for s in labs_own_listing(jp_serverapp)["settings"]
    ]
    code, again = await owner.json("GET", "lab/api/settings")
    assert again == first
    raw = json.dumps({"kernelShutdown": True})
    r = await owner.request("PUT", f"lab/api/settings/{PLUGIN}", {"raw": raw})
    assert r.code == 204
    code, after = await owner.json("GET", "lab/api/settings")
    assert plugin_raw(after) == raw != plugin_raw(first)
    assert plugin_raw(after) == plugin_raw(labs_own_listing(jp_serverapp))


async def test_a_settings_file_changed_on_disk_shows_at_once(owner: Any, jp_serverapp: Any) -> None:
    code, first = await owner.json("GET", "lab/api/settings")
    assert code == 200
    settings_dir = Path(settings_routes(jp_serverapp)[0].target_kwargs["settings_dir"])
    package, name = PLUGIN.split(":")
    path = settings_dir / package / f"{name}.jupyterlab-settings"
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = '{"recordTiming": true}'
    path.write_text(raw)  # by hand, not through the API
    code, after = await owner.json("GET", "lab/api/settings")
    assert plugin_raw(after) == raw != plugin_raw(first)


async def test_ids_only_is_answered_apart(owner: Any, jp_serverapp: Any) -> None:
    code, full = await owner.json("GET", "lab/api/settings")
    code, ids = await owner.json("GET", "lab/api/settings?ids_only=true")
    assert code == 200
    assert ids == labs_own_listing(jp_serverapp, ids_only=True)
    assert "schema" in full["settings"][0] and "schema" not in ids["settings"][0]
    code, full_again = await owner.json("GET", "lab/api/settings")
    assert full_again == full


async def test_a_participant_reads_the_cached_listing_and_still_may_not_write(
    make_room: Any, make_client: Any, owner: Any
) -> None:
    room = await make_room()
    cand = make_client()
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    code, theirs = await cand.json("GET", "lab/api/settings")
    code_owner, owners = await owner.json("GET", "lab/api/settings")
    assert code == code_owner == 200 and theirs == owners
    r = await cand.request("PUT", f"lab/api/settings/{PLUGIN}", {"raw": "{}"})
    assert r.code == 403


async def test_a_second_listing_is_not_rebuilt(owner: Any, monkeypatch: Any) -> None:
    import jupyter_interview.server_ext.settings_cache as cache

    builds: list[bool] = []

    def counted(*args: Any, **kw: Any) -> Any:
        builds.append(kw.get("ids_only", False))
        return get_settings(*args, **kw)

    monkeypatch.setattr(cache, "get_settings", counted)
    monkeypatch.setattr(CachedSettingsHandler, "_listing", None)
    for _ in range(3):
        assert (await owner.request("GET", "lab/api/settings")).code == 200
    assert builds == [False]  # built once; the locale lookup is jupyterlab_server's own call
