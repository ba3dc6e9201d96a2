"""REST handlers of interview/api and the invite join route: HTTP in, RoomService calls, JSON out."""

from __future__ import annotations

import functools
import html
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from jupyter_interview.errors import (
    BadRequest,
    Forbidden,
    InterviewError,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
)
from jupyter_interview.rooms import ice, models
from jupyter_interview.rooms.invites import InviteError
from jupyter_interview.rooms.models import NEW_NOTES_ETAG, Role, Room
from jupyter_interview.rooms.service import Access, RoomService
from jupyter_interview.server_ext.cleanup import forget_room
from jupyter_interview.server_ext.identity import SERVICE_KEY, SESSION_COOKIE, InterviewUser
from jupyter_interview.server_ext.ratelimit import RateLimits

CONFIG_KEY = "jupyter_interview.config"
LIMITS_KEY = "jupyter_interview.limits"
OPENAPI_PATH = os.path.join(os.path.dirname(__file__), "openapi.json")

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
}

F = TypeVar("F", bound=Callable[..., Awaitable[None]])


@functools.cache
def load_openapi() -> dict[str, Any]:
    with open(OPENAPI_PATH, encoding="utf-8") as f:
        return cast(dict[str, Any], json.load(f))


def api(method: F) -> F:
    """Every API method: an identity is required (401), and expected failures become our JSON errors."""

    @functools.wraps(method)
    async def wrapper(self: InterviewHandler, *args: Any, **kwargs: Any) -> None:
        if self.current_user is None:
            raise Unauthenticated(
                "no identity: open your invite link, or send the server's token", code="no_identity"
            )
        await method(self, *args, **kwargs)

    return cast(F, wrapper)


class InterviewHandler(APIHandler):
    """Base of our REST handlers: errors in one format, body limits, room and role helpers."""

    @property
    def service(self) -> RoomService:
        return cast(RoomService, self.settings[SERVICE_KEY])

    @property
    def config_values(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.settings[CONFIG_KEY])

    @property
    def limits(self) -> RateLimits:
        return cast(RateLimits, self.settings[LIMITS_KEY])

    @property
    def user(self) -> InterviewUser:
        return cast(InterviewUser, self.current_user)

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        length = self.request.headers.get("Content-Length")
        limit = int(self.config_values["max_body_bytes"])
        if (length and length.isdigit() and int(length) > limit) or len(self.request.body or b"") > limit:
            raise PayloadTooLarge(f"the body is over {limit // 1024} KiB; at most {limit} bytes are accepted")

    # ---- errors: InterviewError and tornado's HTTPError both leave as {"error": {...}} ----
    def _handle_request_exception(self, e: BaseException) -> None:
        if isinstance(e, InterviewError):
            if self._finished:
                return
            self.clear()
            self.set_status(e.status)
            retry = getattr(e, "retry_after_s", None)
            if retry is not None:
                self.set_header("Retry-After", str(retry))
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(e.to_json()))
            return
        super()._handle_request_exception(e)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "application/json")
        exc = kwargs.get("exc_info", (None, None, None))[1]
        message = self._reason
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message % exc.args if exc.args else exc.log_message
        code = HTTP_CODES.get(status_code, "internal_error" if status_code >= 500 else "error")
        self.finish(json.dumps({"error": {"code": code, "message": message}}))

    def json_body(self) -> Any:
        if not self.request.body:
            raise BadRequest("a JSON body is required", code="invalid_json")
        try:
            return json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise BadRequest(f"the body is not valid JSON: {e}", code="invalid_json") from e

    async def authorize(self, action: str, resource: str) -> None:
        allowed = await ensure_async(self.authorizer.is_authorized(self, self.user, action, resource))
        if not allowed:
            raise Forbidden(
                f"{self.user.role}s may not {action} {resource.removeprefix('interview:')} here",
                code="forbidden",
            )

    def room_for_request(self, room_id: str) -> Room:
        room = self.service.get_room(room_id)
        if not self.user.is_owner and self.user.room_id != room.id:
            raise Forbidden("this is another interview's room", code="wrong_room")
        return room

    def require_role(self, *roles: Role) -> None:
        allowed = {r.value for r in roles} | {Role.OWNER.value}
        if self.user.role not in allowed:
            raise Forbidden(
                f"this needs the role {' or '.join(sorted(allowed))}; you are {self.user.role}",
                code="wrong_role",
            )

    def client_address(self) -> str:
        return str(self.request.remote_ip or "unknown")

    def rate_limit(self, name: str) -> None:
        self.limits.hit(name, f"user:{self.user.username}", f"addr:{self.client_address()}")

    def invite_url(self, room_id: str, token: str) -> str:
        public = self.config_values.get("public_url") or ""
        path = url_path_join("interview/join", room_id) + f"?invite={token}"
        if public:
            return url_path_join(public, path)
        return f"{self.request.protocol}://{self.request.host}{url_path_join(self.base_url, path)}"

    def room_json(self, room: Room, *, with_participants: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": room.id,
            "title": room.title,
            "language": room.language,
            "state": room.state.value,
            "duration_minutes": room.duration_minutes,
            "settings": room.settings.to_json(),
            "created_at": room.created_at,
            "updated_at": room.updated_at,
            "started_at": room.started_at,
            "ended_at": room.ended_at,
            "notebook_path": room.notebook_path,
        }
        if with_participants:
            body["participants"] = [p.to_json() for p in self.service.participants(room.id)]
        if self.user.role in (Role.OWNER.value, Role.INTERVIEWER.value):
            body["invites"] = [
                {
                    "jti": i.jti,
                    "role": i.role.value,
                    "participant_id": i.participant_id,
                    "expires_at": i.expires_at,
                    "revoked": i.revoked_at is not None,
                }
                for i in self.service.invites(room.id)
            ]
        return body

    def reply(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


class RoomsHandler(InterviewHandler):
    @api
    async def get(self) -> None:
        await self.authorize("read", "interview:rooms")
        self.require_role()
        self.reply({"rooms": [self.room_json(r, with_participants=False) for r in self.service.list_rooms()]})

    @api
    async def post(self) -> None:
        await self.authorize("write", "interview:rooms")
        self.require_role()
        spec = models.parse_room_spec(self.json_body())
        self.rate_limit("create_room")
        room = await self.service.create_room(spec)
        expires = int(self.config_values["invite_expires_in_s"])
        urls = {}
        for role in (Role.INTERVIEWER, Role.CANDIDATE):
            token, _ = await self.service.invite(room.id, role, role.value.capitalize(), expires)
            urls[role.value] = self.invite_url(room.id, token)
        body = self.room_json(room)
        body["invites_issued"] = body.pop("invites", [])
        body["invites"] = urls
        self.set_header("Location", url_path_join(self.base_url, "interview/api/rooms", room.id))
        self.reply(body, 201)


class RoomHandler(InterviewHandler):
    @api
    async def get(self, room_id: str) -> None:
        await self.authorize("read", "interview:rooms")
        self.reply(self.room_json(self.room_for_request(room_id)))

    @api
    async def patch(self, room_id: str) -> None:
        await self.authorize("write", "interview:rooms")
        self.room_for_request(room_id)
        self.require_role(Role.INTERVIEWER)
        changes = models.parse_room_patch(self.json_body())
        room = await self.service.update_room(room_id, changes)
        self.reply(self.room_json(room))

    @api
    async def delete(self, room_id: str) -> None:
        await self.authorize("write", "interview:rooms")
        self.require_role()
        room = self.service.get_room(room_id)
        await forget_room(self.settings, room.id, [room.notebook_path])
        await self.service.delete_room(room_id)
        self.set_status(204)
        self.finish()


class InvitesHandler(InterviewHandler):
    @api
    async def post(self, room_id: str) -> None:
        await self.authorize("write", "interview:invites")
        self.room_for_request(room_id)
        self.require_role(Role.INTERVIEWER)
        role, name, expires_in = models.parse_invite_request(
            self.json_body(), int(self.config_values["invite_expires_in_s"])
        )
        self.rate_limit("invite")
        token, invite = await self.service.invite(room_id, role, name, expires_in)
        self.reply(
            {
                "jti": invite.jti,
                "participant_id": invite.participant_id,
                "role": role.value,
                "name": name,
                "expires_at": invite.expires_at,
                "url": self.invite_url(room_id, token),
            },
            201,
        )


class InviteHandler(InterviewHandler):
    @api
    async def delete(self, room_id: str, jti: str) -> None:
        await self.authorize("write", "interview:invites")
        self.room_for_request(room_id)
        self.require_role(Role.INTERVIEWER)
        await self.service.revoke_invite(room_id, jti)
        self.set_status(204)
        self.finish()


class StateHandler(InterviewHandler):
    @api
    async def post(self, room_id: str, action: str) -> None:
        await self.authorize("write", "interview:state")
        self.room_for_request(room_id)
        self.require_role(Role.INTERVIEWER)
        room = await (self.service.start(room_id) if action == "start" else self.service.end(room_id))
        self.reply(self.room_json(room))


class AdmissionHandler(InterviewHandler):
    @api
    async def post(self, room_id: str, action: str, participant_id: str) -> None:
        await self.authorize("write", "interview:admission")
        self.room_for_request(room_id)
        self.require_role(Role.INTERVIEWER)
        p = await self.service.set_admission(room_id, participant_id, admit=action == "admit")
        self.reply(p.to_json())


class NotesHandler(InterviewHandler):
    def _author(self) -> tuple[str, str]:
        if self.user.is_owner:
            return "owner", self.user.name
        return str(self.user.participant_id), self.user.name

    @api
    async def get(self, room_id: str) -> None:
        await self.authorize("read", "interview:notes")
        self.room_for_request(room_id)
        self.require_role(Role.INTERVIEWER)
        if self.user.is_owner:
            notes = await self.service.read_notes(room_id, None)
            self.reply(
                {
                    "notes": [
                        {
                            "author": {"id": n.author_id, "name": n.author_name},
                            "text": n.text,
                            "etag": n.etag,
                            "updated_at": n.updated_at,
                        }
                        for n in notes
                    ]
                }
            )
            return
        p = self.service.get_participant(room_id, str(self.user.participant_id))
        found = await self.service.read_notes(room_id, p)
        etag = found[0].etag if found else NEW_NOTES_ETAG
        self.set_header("ETag", etag)
        self.reply(
            {
                "text": found[0].text if found else "",
                "etag": etag,
                "updated_at": found[0].updated_at if found else None,
            }
        )

    @api
    async def put(self, room_id: str) -> None:
        await self.authorize("write", "interview:notes")
        self.room_for_request(room_id)
        self.require_role(Role.INTERVIEWER)
        text = models.parse_notes(self.json_body(), int(self.config_values["notes_max_chars"]))
        author_id, author_name = self._author()
        if_match = self.request.headers.get("If-Match")
        notes = await self.service.write_notes(room_id, author_id, author_name, text, if_match)
        self.set_header("ETag", notes.etag)
        self.reply({"text": notes.text, "etag": notes.etag, "updated_at": notes.updated_at})


def permissions(role: str, access: str) -> list[str]:
    perms = ["room:read"]
    if role in ("owner", "interviewer"):
        perms += ["room:update", "invites:manage", "state:control", "admission:manage", "notes:own"]
    if role == "owner":
        perms += ["rooms:create", "rooms:delete", "notes:all"]
    level = {Access.NONE: 0, Access.READ: 1, Access.EXECUTE: 2, Access.WRITE: 3}[access]
    if level >= 1:
        perms.append("files:read")
    if level >= 2:
        perms.append("kernels:execute")
    if level >= 3:
        perms.append("files:write")
    return perms


class MeHandler(InterviewHandler):
    @api
    async def get(self, room_id: str) -> None:
        await self.authorize("read", "interview:me")
        room = self.room_for_request(room_id)
        if self.user.is_owner:
            self.reply(
                {
                    "participant_id": None,
                    "name": self.user.name,
                    "role": "owner",
                    "status": None,
                    "room_state": room.state.value,
                    "permissions": permissions("owner", Access.WRITE),
                }
            )
            return
        p = self.service.get_participant(room_id, str(self.user.participant_id))
        self.reply(
            {
                "participant_id": p.id,
                "name": p.name,
                "role": p.role.value,
                "status": p.status.value,
                "room_state": room.state.value,
                "permissions": permissions(p.role.value, self.service.access(room, p)),
            }
        )


def ice_reply(config: dict[str, Any], participant_id: str) -> dict[str, Any]:
    """What `ice-servers` answers (and a participant's lobby page carries): servers, TURN credentials."""
    ttl = int(config["turn_ttl_s"])
    servers = ice.ice_servers(
        config["stun_urls"], config["turn_urls"], config["turn_secret"], participant_id, ttl, time.time()
    )
    return {"ice_servers": servers, "ttl_s": ttl, "ice_transport_policy": config["ice_transport_policy"]}


class IceServersHandler(InterviewHandler):
    """STUN/TURN servers for the caller; TURN credentials are minted per participant and expire."""

    @api
    async def get(self, room_id: str) -> None:
        await self.authorize("read", "interview:ice-servers")
        self.room_for_request(room_id)
        # Credentials: no shared or browser cache may keep them.
        self.set_header("Cache-Control", "no-store")
        self.reply(ice_reply(self.config_values, self.user.participant_id or "owner"))


class OpenAPIHandler(InterviewHandler):
    @api
    async def get(self) -> None:
        spec = dict(load_openapi())
        spec["servers"] = [{"url": url_path_join(self.base_url, "interview/api")}]
        self.reply(spec)


JOIN_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title>
<style>:root{{color-scheme:light dark}}
body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5}}
code{{background:rgba(128,128,128,.2);padding:0 .3em}}.reason{{opacity:.7;font-size:.9em}}</style></head>
<body><h1>{title}</h1><p>{message}</p><p class="reason">Reason: <code>{code}</code></p></body></html>"""

# The join page's title for the reasons a candidate meets most; others by status.
JOIN_TITLES = {
    "room_ended": "This interview has ended",
    "expired": "This invite has expired",
    "revoked": "This invite was withdrawn",
}


class JoinHandler(JupyterHandler):
    """`interview/join/{room}?invite=<jwt>`: verify, open a session, drop the JWT from the URL, enter the lab."""

    @property
    def service(self) -> RoomService:
        return cast(RoomService, self.settings[SERVICE_KEY])

    def _fail(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        self.set_status(status)
        if retry_after is not None:
            self.set_header("Retry-After", str(retry_after))
        self.set_header("Cache-Control", "no-store")
        if "application/json" in self.request.headers.get("Accept", ""):
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps({"error": {"code": code, "message": message}}))
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        title = JOIN_TITLES.get(code) or ("This invite cannot be used" if status == 401 else "Cannot join")
        self.finish(JOIN_PAGE.format(title=title, message=html.escape(message), code=html.escape(code)))

    @allow_unauthenticated
    async def get(self, room_id: str) -> None:
        token = self.get_argument("invite", "")
        limits = cast(RateLimits, self.settings[LIMITS_KEY])
        try:
            limits.hit("join", f"room:{room_id}", f"addr:{self.request.remote_ip}")
        except InterviewError as e:
            self._fail(e.status, e.code, e.message, getattr(e, "retry_after_s", None))
            return
        if not token:
            self._fail(401, "missing_invite", "this link has no invite; use the full link you were sent")
            return
        try:
            session_token, identity = await self.service.join(token, room_id)
        except InviteError as e:
            self._fail(401, e.code, e.message)
            return
        except InterviewError as e:
            self._fail(401 if e.status in (401, 404) else e.status, e.code, e.message)
            return
        config = cast(dict[str, Any], self.settings[CONFIG_KEY])
        self.set_cookie(
            SESSION_COOKIE,
            session_token,
            path=self.base_url,
            httponly=True,
            samesite="Lax",
            secure=self.request.protocol == "https",
            expires_days=None,
            max_age=int(config["session_max_age_s"]),
        )
        self.xsrf_token  # noqa: B018  (sets the _xsrf cookie the lab's POSTs need)
        self.set_header("Cache-Control", "no-store")
        self.set_header("Referrer-Policy", "no-referrer")
        self.redirect(url_path_join(self.base_url, "lab/tree", identity.room.notebook_path))


def default_handlers(base: str) -> list[tuple[str, type[web.RequestHandler]]]:
    from jupyter_interview.server_ext.history import history_handlers  # it builds on this module

    room = r"(?P<room_id>[A-Za-z0-9_-]{1,64})"
    api_base = url_path_join(base, "interview/api")
    return [
        *history_handlers(base),
        (url_path_join(api_base, r"rooms/?"), RoomsHandler),
        (url_path_join(api_base, "rooms", room + "/?"), RoomHandler),
        (url_path_join(api_base, "rooms", room, "invites/?"), InvitesHandler),
        (url_path_join(api_base, "rooms", room, r"invites/(?P<jti>[A-Za-z0-9_-]{1,64})"), InviteHandler),
        (url_path_join(api_base, "rooms", room, r"(?P<action>start|end)"), StateHandler),
        (
            url_path_join(
                api_base, "rooms", room, r"(?P<action>admit|deny)/(?P<participant_id>[A-Za-z0-9_-]{1,64})"
            ),
            AdmissionHandler,
        ),
        (url_path_join(api_base, "rooms", room, "notes"), NotesHandler),
        (url_path_join(api_base, "rooms", room, "me"), MeHandler),
        (url_path_join(api_base, "rooms", room, "ice-servers"), IceServersHandler),
        (url_path_join(api_base, r"openapi\.json"), OpenAPIHandler),
        (url_path_join(base, "interview/join", room), JoinHandler),
    ]


__all__ = ["NotFound", "default_handlers"]
