"""The one place that decides: owner allowed; invite identities confined to their room by the role matrix."""

from __future__ import annotations

import json
import posixpath
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.authorizer import Authorizer
from jupyter_server.auth.identity import User
from tornado import web
from tornado.escape import url_unescape

from jupyter_interview.rooms.models import ROOMS_FOLDER
from jupyter_interview.rooms.service import RoomService
from jupyter_interview.server_ext import matrix
from jupyter_interview.server_ext.identity import SERVICE_KEY, SESSION_COOKIE, InterviewUser

DECISION_ATTR = "_interview_decision"
GLOBAL_AWARENESS = "JupyterLab:globalAwareness"


def relative_path(handler: web.RequestHandler) -> str:
    """The request path below base_url, decoded as tornado decodes path arguments."""
    base = handler.settings.get("base_url", "/")
    raw = handler.request.path
    if raw.startswith(base):
        raw = raw[len(base) :]
    else:
        raw = raw.lstrip("/")
    return str(url_unescape(raw, encoding="utf-8", plus=False))


def in_room(path: str, room_id: str, *, or_ancestor: bool = False) -> bool:
    """Whether an API path lies in the room folder (or, if asked, is a folder above it)."""
    path = path.strip("/")
    if "\\" in path or "\x00" in path:
        return False
    parts = path.split("/") if path else []
    if any(p in ("", ".", "..") for p in parts):
        return False
    folder = [ROOMS_FOLDER, room_id]
    if parts[:2] == folder:
        return True
    return or_ancestor and parts == folder[: len(parts)]


def _json_body(handler: web.RequestHandler) -> dict[str, Any] | None:
    """The request's JSON object, parsed once per request (several scope checks read it); None if
    it is not a JSON object."""
    cached: dict[str, Any] | bool | None = getattr(handler, "_interview_body", False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    try:
        model = json.loads(handler.request.body)
    except ValueError:
        model = None
    parsed = model if isinstance(model, dict) else None
    handler._interview_body = parsed  # type: ignore[attr-defined]
    return parsed


class InterviewAuthorizer(Authorizer):
    """Owner: everything. Interviewer and candidate: what matrix.RULES grants, nothing else."""

    def is_authorized(self, handler: web.RequestHandler, user: User, action: str, resource: str) -> Any:
        if not isinstance(user, InterviewUser):
            # A user this provider did not make (another identity provider is configured): only an
            # owner-equivalent can come from there, as invite sessions are ours alone.
            return True
        if user.is_owner:
            return True
        decided = getattr(handler, DECISION_ATTR, None)
        if decided is not None:
            # Already decided by the gate before the handler ran: answer synchronously, so that a
            # caller which forgets to await still gets a real bool.
            return decided
        return self.decide(handler, user)

    async def gate(self, handler: web.RequestHandler, user: InterviewUser) -> None:
        """Run for every request of an invite identity, from the IdentityProvider, before the handler."""
        allowed = await self.decide(handler, user)
        if not allowed:
            reason = getattr(handler, "_interview_reason", "not allowed")
            # Record who was refused, so that logging the 403 does not ask for the user again.
            handler.current_user = handler._jupyter_current_user = user  # type: ignore[attr-defined]
            raise web.HTTPError(403, reason, reason=None)

    async def decide(self, handler: web.RequestHandler, user: InterviewUser) -> bool:
        ok, reason = await self._decide(handler, user)
        setattr(handler, DECISION_ATTR, ok)
        handler._interview_reason = reason  # type: ignore[attr-defined]
        return ok

    async def _decide(self, handler: web.RequestHandler, user: InterviewUser) -> tuple[bool, str]:
        method = handler.request.method or "GET"
        if method == "HEAD":
            method = "GET"
        path = relative_path(handler)
        found = matrix.match(method, path)
        if found is None:
            return False, f"{user.role}s may not use {method} /{path[:80]}"
        rule, groups = found
        requirement = rule.requirement(user.role)
        if requirement is None:
            return False, f"{user.role}s may not {rule.name}"
        service: RoomService | None = handler.settings.get(SERVICE_KEY)
        if service is None or user.room_id is None or user.participant_id is None:
            return False, "the interview service is not running"
        identity = getattr(handler, "_interview_identity", None) or service.resolve(
            handler.get_cookie(SESSION_COOKIE) or ""
        )
        if identity is None or identity.participant.id != user.participant_id:
            return False, "the interview session is no longer valid"
        room, participant = identity.room, identity.participant
        if rule.scope in (matrix.WORKSPACE, matrix.GLOBAL):
            pass
        elif rule.scope == matrix.API_ROOM:
            if groups.get("room") != room.id:
                return False, "this is another interview's room"
        elif not await self._scope_ok(handler, rule, groups, room.id, method):
            return False, "outside this interview's room"
        if requirement == matrix.PARTICIPANT:
            return True, ""
        level = service.access(room, participant)
        if matrix.LEVELS[level] < matrix.LEVELS[requirement]:
            return False, f"{rule.name} needs {requirement} access; this {user.role} has {level} now"
        return True, ""

    async def _scope_ok(
        self,
        handler: web.RequestHandler,
        rule: matrix.Rule,
        groups: dict[str, str],
        room_id: str,
        method: str,
    ) -> bool:
        settings = handler.settings
        scope = rule.scope
        if scope in (matrix.PATH, matrix.PATH_OR_ANCESTOR):
            if not in_room(groups.get("path", ""), room_id, or_ancestor=scope == matrix.PATH_OR_ANCESTOR):
                return False
            if method in ("POST", "PATCH") and rule.pattern.pattern.startswith("api/contents"):
                return self._body_paths_ok(handler, room_id, ("copy_from", "path"), required=False)
            return True
        if scope == matrix.BODY_PATH:
            return self._body_paths_ok(handler, room_id, ("path",), required=True) and self._body_kernel_ok(
                handler, room_id
            )
        if scope == matrix.KERNEL:
            km = settings.get("kernel_manager")
            rooms: dict[str, str] = getattr(km, "kernel_rooms", {})
            return rooms.get(groups.get("kernel_id", "")) == room_id
        if scope == matrix.SESSION:
            sm = settings.get("session_manager")
            if sm is None:
                return False
            try:
                model = await ensure_async(sm.get_session(session_id=groups.get("session_id")))
            except web.HTTPError:
                return False
            if not in_room(str(model.get("path", "")), room_id):
                return False
            if method == "PATCH":
                return self._body_paths_ok(
                    handler, room_id, ("path",), required=False
                ) and self._body_kernel_ok(handler, room_id)
            return True
        if scope == matrix.COLLAB_ROOM:
            return self._collab_room_ok(handler, groups.get("room", ""), room_id)
        return False

    @staticmethod
    def _body_paths_ok(
        handler: web.RequestHandler, room_id: str, keys: tuple[str, ...], *, required: bool
    ) -> bool:
        if not handler.request.body:
            return not required
        model = _json_body(handler)
        if model is None:
            return False
        paths = [model[k] for k in keys if k in model]
        session_path = (
            model.get("notebook", {}).get("path") if isinstance(model.get("notebook"), dict) else None
        )
        if session_path is not None:
            paths.append(session_path)
        if required and not paths:
            return False
        return all(isinstance(p, str) and in_room(p, room_id) for p in paths)

    @staticmethod
    def _body_kernel_ok(handler: web.RequestHandler, room_id: str) -> bool:
        """A kernel named in a body (POST api/kernels `kernel_id`, a session's `kernel.id`) that exists
        must be the room's: a session bound to another room's kernel would let its DELETE shut it down."""
        model = _json_body(handler) if handler.request.body else {}
        if model is None:
            return False
        kernel = model.get("kernel")
        ids = [model.get("kernel_id"), kernel.get("id") if isinstance(kernel, dict) else None]
        km = handler.settings.get("kernel_manager")
        rooms: dict[str, str] = getattr(km, "kernel_rooms", {})
        for kid in ids:
            if kid is None:
                continue
            if not isinstance(kid, str):
                return False
            if (km is not None and kid in km) and rooms.get(kid) != room_id:
                return False
        return True

    @staticmethod
    def _collab_room_ok(handler: web.RequestHandler, collab_room: str, room_id: str) -> bool:
        if collab_room == GLOBAL_AWARENESS:
            return False
        parts = collab_room.split(":", 2)
        if len(parts) != 3:
            return False
        fim = handler.settings.get("file_id_manager")
        if fim is None:
            return False
        try:
            path = fim.get_path(parts[2])
        except Exception:
            return False
        if not path:
            return False
        path = posixpath.normpath(str(path)).lstrip("/")
        return in_room(path, room_id)
