"""The lab page of a room's files, with the lobby first: a participant's device check shows from the
page's first script, while JupyterLab is still loading (src/lobby.ts, built into static/lobby.js).

The page is JupyterLab's own (jupyterlab_server's LabHandler: same page config, same template);
for an interviewer or a candidate, one script tag goes in ahead of the lab's bundle, and the page
config carries the participant's ICE servers (what `ice-servers` answers), so that Join goes
straight to the room socket and the call. Anyone else gets the page unchanged.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from jupyter_server.utils import url_path_join
from jupyterlab_server.handlers import LabHandler

from jupyter_interview.server_ext.handlers import CONFIG_KEY, ice_reply
from jupyter_interview.server_ext.identity import InterviewUser

LOBBY_FILE = Path(__file__).resolve().parents[1] / "static" / "lobby.js"

# The route: the lab's own `/lab/tree/<path>` for paths in a room folder (where the join link and a
# participant's reloads land). It is added before the lab's, so it matches first.
LOBBY_PAGE_ROUTE = r"/lab(?P<tree>/tree/interviews/[A-Za-z0-9_-]{1,64}(?:/.*)?)"

# Ahead of the first script of the page that is not the page config: the lobby then runs first
# (both are deferred, and deferred scripts run in document order).
_FIRST_BUNDLE = re.compile(r"<script(?![^>]*jupyter-config-data)[^>]*\bsrc=", re.IGNORECASE)


@lru_cache(maxsize=4)
def _version(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def lobby_version() -> str | None:
    """The lobby bundle's content hash (its URL's cache key), or None when it was not built."""
    try:
        return _version(LOBBY_FILE, LOBBY_FILE.stat().st_mtime_ns)
    except OSError:
        return None


def with_lobby(page: str, src: str) -> str:
    """`page` with a deferred script tag for `src` ahead of its first bundle (or at the end of <head>)."""
    tag = f'<script defer="defer" src="{src}"></script>'
    found = _FIRST_BUNDLE.search(page)
    if found is not None:
        return page[: found.start()] + tag + page[found.start() :]
    head = page.lower().find("</head>")
    return page[:head] + tag + page[head:] if head >= 0 else tag + page


class LobbyPageHandler(LabHandler):
    """JupyterLab's page for a room's path; a participant's carries the lobby script first."""

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
        version = lobby_version()
        if name != "index.html" or self.participant is None or version is None:
            return page
        static = url_path_join(self.base_url, "static", "jupyter_interview", "lobby.js")
        return with_lobby(page, f"{static}?v={version}")
