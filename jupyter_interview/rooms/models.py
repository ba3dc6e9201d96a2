"""The interview's data: rooms, their state machine, participants, invites, sessions and notes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from jupyter_interview.errors import BadRequest, Conflict

ROOMS_FOLDER = "interviews"
NOTEBOOK_NAME = "interview.ipynb"

LANGUAGES = (
    "python",
    "javascript",
    "typescript",
    "java",
    "cpp",
    "c",
    "go",
    "rust",
    "ruby",
    "bash",
    "sql",
)


class RoomState(StrEnum):
    SCHEDULED = "scheduled"
    WAITING = "waiting"
    LIVE = "live"
    ENDED = "ended"


# Start is allowed before anyone opened the room (an owner may start from the CLI);
# End is allowed from any open state so an interview can be called off; ended is final.
TRANSITIONS: dict[RoomState, frozenset[RoomState]] = {
    RoomState.SCHEDULED: frozenset({RoomState.WAITING, RoomState.LIVE, RoomState.ENDED}),
    RoomState.WAITING: frozenset({RoomState.LIVE, RoomState.ENDED}),
    RoomState.LIVE: frozenset({RoomState.ENDED}),
    RoomState.ENDED: frozenset(),
}


def check_transition(current: RoomState, target: RoomState) -> None:
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (ended is final)"
        raise Conflict(
            f"the room is {current}; it cannot become {target} (from {current}: {allowed})",
            code="illegal_transition",
        )


class Role(StrEnum):
    OWNER = "owner"
    INTERVIEWER = "interviewer"
    CANDIDATE = "candidate"


INVITE_ROLES = (Role.INTERVIEWER.value, Role.CANDIDATE.value)


class ParticipantStatus(StrEnum):
    INVITED = "invited"  # has a link, has not opened it
    WAITING = "waiting"  # candidate in the waiting room
    ADMITTED = "admitted"  # may work in the room
    DENIED = "denied"  # turned away by an interviewer
    LEFT = "left"  # invite revoked


def new_id() -> str:
    """128 random bits, URL-safe: room, participant and session ids."""
    return secrets.token_urlsafe(16)


@dataclass(frozen=True)
class RoomSettings:
    waiting_room: bool = True
    exec_time_limit_s: int = 10
    allow_candidate_screen_share: bool = True
    auto_end: bool = False
    problem: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "waiting_room": self.waiting_room,
            "exec_time_limit_s": self.exec_time_limit_s,
            "allow_candidate_screen_share": self.allow_candidate_screen_share,
            "auto_end": self.auto_end,
            "problem": self.problem,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoomSettings:
        known = cls().to_json().keys()
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Room:
    id: str
    title: str
    language: str
    duration_minutes: int
    settings: RoomSettings
    state: RoomState
    created_at: float
    updated_at: float
    started_at: float | None = None
    ended_at: float | None = None

    @property
    def folder(self) -> str:
        """The room's working folder, relative to the server root (API path form)."""
        return f"{ROOMS_FOLDER}/{self.id}"

    @property
    def notebook_path(self) -> str:
        return f"{self.folder}/{NOTEBOOK_NAME}"

    def with_state(self, state: RoomState, now: float) -> Room:
        check_transition(self.state, state)
        changes: dict[str, Any] = {"state": state, "updated_at": now}
        if state is RoomState.LIVE:
            changes["started_at"] = now
        if state is RoomState.ENDED:
            changes["ended_at"] = now
        return replace(self, **changes)


@dataclass(frozen=True)
class Participant:
    id: str
    room_id: str
    name: str
    role: Role
    status: ParticipantStatus
    created_at: float
    joined_at: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "role": self.role.value, "status": self.status.value}


@dataclass(frozen=True)
class Invite:
    jti: str
    room_id: str
    participant_id: str
    role: Role
    created_at: float
    expires_at: float
    revoked_at: float | None = None


@dataclass(frozen=True)
class Session:
    """A browser's sign-in through an invite. Only the hash of its token is stored."""

    token_hash: str
    room_id: str
    participant_id: str
    jti: str
    created_at: float
    expires_at: float


NEW_NOTES_ETAG = '"new"'  # the etag of notes not written yet


@dataclass(frozen=True)
class Notes:
    room_id: str
    author_id: str
    author_name: str
    text: str
    version: int
    updated_at: float

    @property
    def etag(self) -> str:
        return f'"{self.author_id}.{self.version}"'


@dataclass(frozen=True)
class ChatMessage:
    room_id: str
    id: str
    author_id: str
    author_name: str
    text: str
    ts: float

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from": self.author_id,
            "name": self.author_name,
            "text": self.text,
            "ts": self.ts,
        }


@dataclass(frozen=True)
class RoomSpec:
    """A validated request to create a room."""

    title: str
    language: str
    duration_minutes: int
    settings: RoomSettings = field(default_factory=RoomSettings)


# ---- validation of client input: every message names the field and what is accepted ----

MAX_TITLE = 200
MAX_PROBLEM = 32 * 1024
MAX_NAME = 100


def _require_obj(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_body")
    return body


def _reject_unknown(body: dict[str, Any], accepted: tuple[str, ...]) -> None:
    for key in body:
        if key not in accepted:
            raise BadRequest(
                f"unknown field '{key}'; accepted fields: {', '.join(accepted)}",
                code="unknown_field",
                field=key,
            )


def _string(
    body: dict[str, Any], key: str, *, max_len: int, required: bool, allow_empty: bool = False
) -> str:
    if key not in body:
        if required:
            raise BadRequest(f"field '{key}' is required (a string)", code="missing_field", field=key)
        return ""
    value = body[key]
    if not isinstance(value, str):
        raise BadRequest(f"field '{key}' must be a string", code="invalid_field", field=key)
    value = value.strip() if not allow_empty else value
    if not value and not allow_empty:
        raise BadRequest(f"field '{key}' must not be empty", code="invalid_field", field=key)
    if len(value) > max_len:
        raise BadRequest(
            f"field '{key}' is {len(value)} characters; at most {max_len} are accepted",
            code="invalid_field",
            field=key,
        )
    if any(ord(c) < 32 and c not in "\n\t\r" for c in value):
        raise BadRequest(f"field '{key}' contains control characters", code="invalid_field", field=key)
    return value


def _int(body: dict[str, Any], key: str, lo: int, hi: int) -> int:
    value = body[key]
    # bool is an int in Python; JSON true is not a number of minutes
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise BadRequest(
            f"field '{key}' must be a whole number from {lo} to {hi}", code="invalid_field", field=key
        )
    return value


def _bool(body: dict[str, Any], key: str) -> bool:
    value = body[key]
    if not isinstance(value, bool):
        raise BadRequest(f"field '{key}' must be true or false", code="invalid_field", field=key)
    return value


def _language(body: dict[str, Any], key: str = "language") -> str:
    value = body[key]
    if not isinstance(value, str) or value not in LANGUAGES:
        raise BadRequest(
            f"field '{key}' must be one of: {', '.join(LANGUAGES)}", code="invalid_field", field=key
        )
    return value


SETTINGS_FIELDS = ("waiting_room", "exec_time_limit_s", "allow_candidate_screen_share", "auto_end", "problem")
CREATE_FIELDS = ("title", "language", "duration_minutes", *SETTINGS_FIELDS)
PATCH_FIELDS = ("title", "language", "duration_minutes", "settings", *SETTINGS_FIELDS)


def _settings_changes(body: dict[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for key in ("waiting_room", "allow_candidate_screen_share", "auto_end"):
        if key in body:
            changes[key] = _bool(body, key)
    if "exec_time_limit_s" in body:
        changes["exec_time_limit_s"] = _int(body, "exec_time_limit_s", 1, 600)
    if "problem" in body:
        changes["problem"] = _string(body, "problem", max_len=MAX_PROBLEM, required=False, allow_empty=True)
    return changes


def parse_room_spec(body: Any) -> RoomSpec:
    body = _require_obj(body)
    _reject_unknown(body, CREATE_FIELDS)
    title = _string(body, "title", max_len=MAX_TITLE, required=True)
    if "language" not in body:
        raise BadRequest(
            f"field 'language' is required (one of: {', '.join(LANGUAGES)})",
            code="missing_field",
            field="language",
        )
    language = _language(body)
    if "duration_minutes" not in body:
        raise BadRequest(
            "field 'duration_minutes' is required (a whole number from 1 to 480)",
            code="missing_field",
            field="duration_minutes",
        )
    duration = _int(body, "duration_minutes", 1, 480)
    return RoomSpec(title, language, duration, RoomSettings(**_settings_changes(body)))


def parse_room_patch(body: Any) -> dict[str, Any]:
    """Validated changes: keys among title, language, duration_minutes, settings (a RoomSettings delta)."""
    body = _require_obj(body)
    _reject_unknown(body, PATCH_FIELDS)
    flat = dict(body)
    nested = flat.pop("settings", None)
    if nested is not None:
        nested = _require_obj(nested)
        _reject_unknown(nested, SETTINGS_FIELDS)
        flat.update(nested)
    changes: dict[str, Any] = {}
    if "title" in flat:
        changes["title"] = _string(flat, "title", max_len=MAX_TITLE, required=True)
    if "language" in flat:
        changes["language"] = _language(flat)
    if "duration_minutes" in flat:
        changes["duration_minutes"] = _int(flat, "duration_minutes", 1, 480)
    settings = _settings_changes(flat)
    if settings:
        changes["settings"] = settings
    if not changes:
        raise BadRequest(f"nothing to change; accepted fields: {', '.join(PATCH_FIELDS)}", code="empty_patch")
    return changes


INVITE_FIELDS = ("role", "name", "expires_in")
MAX_INVITE_S = 30 * 24 * 3600


def parse_invite_request(body: Any, default_expires_in: int) -> tuple[Role, str, int]:
    body = _require_obj(body)
    _reject_unknown(body, INVITE_FIELDS)
    role = body.get("role")
    if role not in INVITE_ROLES:
        raise BadRequest(
            f"field 'role' must be one of: {', '.join(INVITE_ROLES)}", code="invalid_field", field="role"
        )
    name = _string(body, "name", max_len=MAX_NAME, required=False) or role.capitalize()
    expires_in = default_expires_in
    if "expires_in" in body:
        expires_in = _int(body, "expires_in", 60, MAX_INVITE_S)
    return Role(role), name, expires_in


def parse_notes(body: Any, max_len: int) -> str:
    body = _require_obj(body)
    _reject_unknown(body, ("text",))
    if "text" not in body:
        raise BadRequest("field 'text' is required (markdown)", code="missing_field", field="text")
    return _string(body, "text", max_len=max_len, required=True, allow_empty=True)
