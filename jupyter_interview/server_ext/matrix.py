"""The role matrix: every route an invite identity may reach, with the access it needs. Deny by default.

One table drives the Authorizer, the documentation (docs/role-matrix.md is generated from it) and
the parametrised test. The owner (Jupyter's token or login cookie) is allowed everything and is not
listed. Anything an interviewer or a candidate asks for that no row names is refused with 403.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Requirements, weakest first. "participant": any participant of the room, whatever its state;
# the access levels come from RoomService.access (room state, admission, role).
PARTICIPANT = "participant"
READ = "read"
EXECUTE = "execute"
WRITE = "write"
LEVELS = {"none": 0, READ: 1, EXECUTE: 2, WRITE: 3}

# Scopes say which room a request concerns:
GLOBAL = "global"  # no room: the lab page, its assets, read-only settings
API_ROOM = "api_room"  # our REST route, `room` group
PATH = "path"  # a server path, `path` group, must lie in the room folder
PATH_OR_ANCESTOR = "path_or_ancestor"  # like PATH, but the folders above the room list only the way down
KERNEL = "kernel"  # `kernel_id` group, a kernel started for the room
SESSION = "session"  # `session_id` group, a session whose path is in the room
COLLAB_ROOM = "collab_room"  # `room` group: a collaboration room id "format:type:fileid"
BODY_PATH = "body_path"  # a JSON body naming `path` (kernels, sessions): in the room
WORKSPACE = "workspace"  # the participant's own workspace (our handler stores it per participant)


@dataclass(frozen=True)
class Rule:
    name: str
    methods: frozenset[str]
    pattern: re.Pattern[str]
    scope: str
    interviewer: str | None  # requirement, or None: refused
    candidate: str | None
    note: str = ""

    def requirement(self, role: str) -> str | None:
        return self.interviewer if role == "interviewer" else self.candidate if role == "candidate" else None


def _rule(
    name: str,
    methods: str,
    pattern: str,
    scope: str,
    interviewer: str | None,
    candidate: str | None,
    note: str = "",
) -> Rule:
    return Rule(name, frozenset(methods.split()), re.compile(pattern), scope, interviewer, candidate, note)


ROOM = r"(?P<room>[A-Za-z0-9_-]{1,64})"
IV = "interview/api/rooms/" + ROOM
CONTENT_PATH = r"(?P<path>.*)"
KID = r"(?P<kernel_id>[0-9a-f-]{36})"
SID = r"(?P<session_id>[0-9a-f-]{36})"
P, R, E, W = PARTICIPANT, READ, EXECUTE, WRITE

RULES: tuple[Rule, ...] = (
    # ---- our API ----
    _rule("list or create rooms", "GET POST", r"interview/api/rooms/?", GLOBAL, None, None, "owner only"),
    _rule("read the room", "GET", IV + "/?", API_ROOM, P, P),
    _rule("change the room's settings", "PATCH", IV + "/?", API_ROOM, P, None),
    _rule("delete the room", "DELETE", IV + "/?", API_ROOM, None, None, "owner only"),
    _rule("issue an invite", "POST", IV + r"/invites/?", API_ROOM, P, None),
    _rule("revoke an invite", "DELETE", IV + r"/invites/[^/]+", API_ROOM, P, None),
    _rule("start or end", "POST", IV + r"/(start|end)", API_ROOM, P, None),
    _rule("admit or deny", "POST", IV + r"/(admit|deny)/[^/]+", API_ROOM, P, None),
    _rule("own notes", "GET PUT", IV + r"/notes", API_ROOM, P, None),
    _rule("who am I", "GET", IV + r"/me", API_ROOM, P, P),
    _rule("real-time socket", "GET", IV + r"/ws", API_ROOM, P, P, "events filtered by role and admission"),
    _rule("ICE servers", "GET", IV + "/ice-servers", API_ROOM, P, P),
    _rule("version history", "GET POST", IV + r"/snapshots/?", API_ROOM, P, None, "list; checkpoint"),
    _rule("read or diff a snapshot", "GET", IV + r"/snapshots/[^/]+(/diff)?", API_ROOM, P, None),
    _rule("restore a snapshot", "POST", IV + r"/snapshots/([^/]+/restore|undo)", API_ROOM, P, None, "+ undo"),
    _rule("session replay", "GET", IV + r"/replay", API_ROOM, P, None),
    _rule("API description", "GET", r"interview/api/openapi\.json", GLOBAL, P, P),
    # ---- JupyterLab: page, assets, read-only settings, own workspace ----
    _rule(
        "lab page",
        "GET",
        r"lab(/tree/.*|/workspaces/.*)?/?",
        GLOBAL,
        P,
        P,
        "a room path's page: the lobby first, the participant app, the caller's own ICE servers",
    ),
    _rule("lab assets", "GET", r"(static|lab/extensions)/.+", GLOBAL, P, P, "static files"),
    _rule("settings (read)", "GET", r"lab/api/settings(/.*)?", GLOBAL, P, P, "writes refused"),
    _rule(
        "translations, themes, listings", "GET", r"lab/api/(translations|themes|listings)(/.*)?", GLOBAL, P, P
    ),
    _rule("own workspace", "GET PUT", r"lab/api/workspaces(/.*)?", WORKSPACE, P, P, "per participant"),
    _rule("identity", "GET", r"api/me", GLOBAL, P, P),
    _rule("server version", "GET", r"api/?", GLOBAL, P, P),
    _rule("logout", "GET POST", r"logout", GLOBAL, P, P),
    _rule("join with another invite", "GET", r"interview/join/[^/]+", GLOBAL, P, P),
    # ---- kernels: read kernelspecs; run kernels of the room's files ----
    _rule("kernelspecs (read)", "GET", r"api/kernelspecs(/[^/]+)?/?", GLOBAL, P, P, "sandboxed specs only"),
    _rule("kernelspec resources", "GET", r"kernelspecs/[^/]+/[^/]+", GLOBAL, P, P, "sandboxed specs only"),
    _rule("list kernels", "GET", r"api/kernels/?", GLOBAL, P, P, "filtered to the room"),
    _rule("start a kernel", "POST", r"api/kernels/?", BODY_PATH, E, W, "path in the room; sandboxed spec"),
    _rule("kernel model", "GET", r"api/kernels/" + KID + "/?", KERNEL, R, R),
    _rule("shut down a kernel", "DELETE", r"api/kernels/" + KID + "/?", KERNEL, E, W),
    _rule("interrupt or restart", "POST", r"api/kernels/" + KID + "/(interrupt|restart)/?", KERNEL, E, W),
    _rule("kernel channels", "GET", r"api/kernels/" + KID + "/channels", KERNEL, E, W),
    _rule("list sessions", "GET", r"api/sessions/?", GLOBAL, P, P, "filtered to the room"),
    _rule(
        "create a session", "POST", r"api/sessions/?", BODY_PATH, E, W, "path and named kernel in the room"
    ),
    _rule("session model", "GET", r"api/sessions/" + SID + "/?", SESSION, R, R),
    _rule(
        "change a session", "PATCH", r"api/sessions/" + SID + "/?", SESSION, E, W, "new path in the room too"
    ),
    _rule("end a session", "DELETE", r"api/sessions/" + SID + "/?", SESSION, E, W),
    # ---- files of the room folder ----
    _rule("read files", "GET", r"api/contents/?" + CONTENT_PATH, PATH_OR_ANCESTOR, R, R, "listings filtered"),
    _rule("write files", "PUT PATCH POST DELETE", r"api/contents/" + CONTENT_PATH, PATH, W, W),
    _rule("download files", "GET", r"files/" + CONTENT_PATH, PATH, R, R),
    _rule("export the room's notebooks", "GET", r"nbconvert/[^/]+/" + CONTENT_PATH, PATH, R, R),
    # ---- collaboration (Yjs) on the room's files ----
    _rule("open a shared document", "PUT", r"api/collaboration/session/" + CONTENT_PATH, PATH, R, R),
    _rule("shared document socket", "GET", r"api/collaboration/room/(?P<room>[^/]+)", COLLAB_ROOM, R, R),
    _rule(
        "fork a shared document",
        "GET PUT DELETE",
        r"api/collaboration/fork/(?P<room>[^/]+)",
        COLLAB_ROOM,
        W,
        W,
    ),
    _rule("timeline", "GET", r"api/collaboration/timeline/" + CONTENT_PATH, PATH, R, None),
    _rule("undo or redo", "PUT", r"api/collaboration/undo_redo/(?P<room>[^/]+)", COLLAB_ROOM, W, W),
)

# Routes refused to every invite identity, listed so the documentation and the tests name them;
# anything absent from RULES is refused anyway.
REFUSED_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("GET", "api/terminals"),
    ("POST", "api/terminals"),
    ("GET", "terminals/websocket/1"),
    ("GET", "api/config/notebook"),
    ("PATCH", "api/config/notebook"),
    ("GET", "api/events/subscribe"),
    ("POST", "api/events"),
    ("GET", "api/nbconvert"),
    ("POST", "api/shutdown"),
    ("GET", "api/status"),
    ("GET", "api/spec.yaml"),
    ("PUT", "lab/api/settings/@jupyterlab/apputils-extension:themes"),
    ("POST", "api/kernelspecs"),
    ("GET", "lsp/status"),
    ("GET", "api/fileid/id"),
    ("GET", "lab/api/extensions"),
)


def match(method: str, path: str) -> tuple[Rule, dict[str, str]] | None:
    """The first row for a request (path relative to base_url, URL-decoded)."""
    for rule in RULES:
        if method in rule.methods:
            m = rule.pattern.fullmatch(path)
            if m:
                return rule, {k: v for k, v in m.groupdict().items() if v is not None}
    return None


# ---- the matrix expanded over room states, for docs/role-matrix.md and the parametrised test ----

# A room is scheduled only until its first participant opens it, so no invite session ever meets
# a scheduled room: the states an invite identity can see are these three.
STATES = ("waiting", "live", "ended")


def access_in(role: str, state: str) -> str:
    """Access to the room's files and kernels, for an interviewer, or a candidate admitted once live.

    Mirrors RoomService.access for the common case; the test checks the server against this table.
    """
    if role == "interviewer":
        return EXECUTE if state == "ended" else WRITE
    return {"live": WRITE, "ended": READ}.get(state, "none")


def allowed(rule: Rule, role: str, state: str) -> bool:
    need = rule.requirement(role)
    if need is None:
        return False
    if need == PARTICIPANT:
        return True
    return LEVELS[access_in(role, state)] >= LEVELS[need]


def markdown() -> str:
    lines = [
        "# Role matrix",
        "",
        "Generated from `jupyter_interview/server_ext/matrix.py` by",
        "`python -m jupyter_interview.server_ext.matrix > docs/role-matrix.md`; `tests/test_role_matrix.py`",
        "checks this file is current and sends every row's request, in every room state, to a real server.",
        "",
        "The **owner** (Jupyter's token or login cookie) may do everything and is not listed. An",
        "**interviewer** or **candidate** (an invite session) reaches only what a row grants, and only in",
        "its own room: the same request against another room's id, path, kernel, session or document is",
        "refused with 403. Everything not listed is refused with 403 (deny by default).",
        "",
        "Access levels: `participant` (any participant of the room, whatever the state), `read`,",
        "`execute` (read and run code), `write` (read, write and run). A candidate has no access before",
        "admission (or before Start when the room has no waiting room), `write` while live, `read` after",
        "End; an interviewer has `write` until End and `execute` after it.",
        "",
        "Columns: I = interviewer, C = candidate (admitted when live); states w = waiting, l = live,",
        "e = ended (a room is `scheduled` only until its first participant opens it, so no invite",
        "session meets a scheduled room). ✓ allowed, ✗ refused (403).",
        "",
        "| request | methods | path (below base_url) | scope | needs (I / C) | I w l e | C w l e | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rule in RULES:
        marks = {
            role: " ".join("✓" if allowed(rule, role, s) else "✗" for s in STATES)
            for role in ("interviewer", "candidate")
        }
        needs = f"{rule.interviewer or '—'} / {rule.candidate or '—'}"
        path = rule.pattern.pattern.replace("|", "\\|")
        lines.append(
            f"| {rule.name} | {' '.join(sorted(rule.methods))} | `{path}` | {rule.scope} | {needs} "
            f"| {marks['interviewer']} | {marks['candidate']} | {rule.note} |"
        )
    lines += ["", "Examples of refused routes (any state, both roles):", ""]
    lines += [f"- `{method} {path}`" for method, path in REFUSED_EXAMPLES]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
