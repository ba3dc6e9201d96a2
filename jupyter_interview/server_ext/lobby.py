"""The lab page of a room's files, with the lobby first: a participant's device check shows from the
page's first script, while JupyterLab is still loading (src/lobby.ts, built into static/lobby.js).

The page is JupyterLab's own (jupyterlab_server's LabHandler: same page config, same template). For
an interviewer or a candidate, one script tag goes in ahead of the lab's bundle, and the lab's bundle
is swapped for the participant app (src/app, built into static/app/): JupyterLab with only the
plugins an interview uses, so the page loads less. The page config carries the participant's ICE
servers (what `ice-servers` answers), so that Join goes straight to the room socket and the call.
Anyone else gets the page unchanged.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join
from jupyterlab_server.handlers import LabHandler

from jupyter_interview.server_ext.handlers import CONFIG_KEY, ice_reply
from jupyter_interview.server_ext.identity import InterviewUser

STATIC = Path(__file__).resolve().parents[1] / "static"
LOBBY_FILE = STATIC / "lobby.js"
APP_FILE = STATIC / "app" / "bundle.js"

# The route: the lab's own `/lab/tree/<path>` for paths in a room folder (where the join link and a
# participant's reloads land). It is added before the lab's, so it matches first.
LOBBY_PAGE_ROUTE = r"/lab(?P<tree>/tree/interviews/[A-Za-z0-9_-]{1,64}(?:/.*)?)"

# The first script of the page that is not the page config: the lab's bundle. The lobby goes in
# ahead of it, so it runs first (both are deferred, and deferred scripts run in document order).
_FIRST_BUNDLE = re.compile(r"<script(?![^>]*jupyter-config-data)[^>]*\bsrc=[^>]*>\s*</script>", re.IGNORECASE)


@lru_cache(maxsize=4)
def _version(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def bundle_version(path: Path) -> str | None:
    """A bundle's content hash (its URL's cache key), or None when it was not built."""
    try:
        return _version(path, path.stat().st_mtime_ns)
    except OSError:
        return None


def lobby_version() -> str | None:
    """The lobby bundle's content hash, or None when it was not built."""
    return bundle_version(LOBBY_FILE)


def _script(src: str) -> str:
    return f'<script defer="defer" src="{html.escape(src)}"></script>'


def _preload(src: str) -> str:
    return f'<link rel="preload" as="script" href="{html.escape(src)}">'


def _after_first_paint(src: str) -> str:
    """An inline script that adds `src`'s script once the page has painted after its deferred
    scripts: the lobby shows before the app's large bundle is compiled and run."""
    url = json.dumps(src).replace("<", "\\u003c")
    return (
        "<script>addEventListener('DOMContentLoaded',function(){requestAnimationFrame(function(){"
        "setTimeout(function(){var s=document.createElement('script');"
        f"s.src={url};document.head.appendChild(s)}})}})}});</script>"
    )


def participant_page(
    page: str, lobby: str | None, app: str | None = None, preload: Iterable[str] = ()
) -> str:
    """`page` with a deferred script for `lobby` ahead of its first bundle, and `app` in place of
    that bundle (each when given). The app is fetched at once (with `preload`, the scripts it loads
    first) and run after the page has painted the lobby. With no bundle in the page, the tags go at
    the end of <head>."""
    first = _script(lobby) if lobby else ""
    if app:
        hints = "".join(_preload(src) for src in (app, *preload))
        first, bundle = hints + first, _after_first_paint(app)
    found = _FIRST_BUNDLE.search(page)
    if found is not None:
        return page[: found.start()] + first + (bundle if app else found.group(0)) + page[found.end() :]
    tags = first + (bundle if app else "")
    head = page.lower().find("</head>")
    return page[:head] + tags + page[head:] if head >= 0 else tags + page


def remote_entries(page_config: dict[str, Any]) -> list[str]:
    """The URLs of the federated extensions' remote entries, which the app loads first."""
    base = str(page_config.get("fullLabextensionsUrl", ""))
    return [
        url_path_join(base, ext["name"], ext["load"])
        for ext in page_config.get("federated_extensions", [])
        if isinstance(ext, dict) and isinstance(ext.get("name"), str) and isinstance(ext.get("load"), str)
    ]


class LobbyPageHandler(LabHandler):
    """JupyterLab's page for a room's path; a participant's carries the lobby script first and,
    with `participant_app` (InterviewApp.participant_app) and the app built, the participant app."""

    def initialize(self, *args: Any, participant_app: bool = True, **kwargs: Any) -> None:
        super().initialize(*args, **kwargs)
        self.participant_app = participant_app

    @property
    def participant(self) -> InterviewUser | None:
        user = self.current_user
        return user if isinstance(user, InterviewUser) and not user.is_owner else None

    # The lab's is an lru_cache wrapper (per handler, that is per request): a plain method here.
    def get_page_config(self) -> dict[str, Any]:  # type: ignore[override]
        # A room page is interview mode for anyone, the owner too: no news or update pop-ups.
        config: dict[str, Any] = {
            **super().get_page_config(),
            "news": {"disabled": True},
            "checkForUpdates": False,
        }
        participant = self.participant
        if participant is None or participant.participant_id is None:
            return config
        # TURN credentials: neither a shared nor the browser's cache may keep the page.
        self.set_header("Cache-Control", "no-store")
        return {**config, "interviewIce": ice_reply(self.settings[CONFIG_KEY], participant.participant_id)}

    def render_template(self, name: str, **ns: Any) -> str:
        page: str = super().render_template(name, **ns)
        if name != "index.html" or self.participant is None:
            return page
        static = url_path_join(self.base_url, "static", "jupyter_interview")
        lobby, app = lobby_version(), bundle_version(APP_FILE) if self.participant_app else None
        return participant_page(
            page,
            f"{static}/lobby.js?v={lobby}" if lobby else None,
            f"{static}/app/bundle.js?v={app}" if app else None,
            remote_entries(ns.get("page_config", {})),
        )
