"""Who is asking: Jupyter's token or login cookie (the owner) or an interview session from an invite."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jupyter_server.auth.identity import PasswordIdentityProvider, User
from tornado import web

if TYPE_CHECKING:
    from jupyter_interview.rooms.service import Identity, RoomService

SESSION_COOKIE = "jupyter-interview-session"
SERVICE_KEY = "jupyter_interview.service"
ROLE_COLORS = {"owner": "#7b1fa2", "interviewer": "#1565c0", "candidate": "#2e7d32"}


@dataclass
class InterviewUser(User):
    """A Jupyter user that knows its interview role; the owner has no room."""

    role: str = "owner"
    room_id: str | None = None
    participant_id: str | None = None

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


def owner_from(user: User) -> InterviewUser:
    return InterviewUser(
        username=user.username,
        name=user.name,
        display_name=user.display_name,
        initials=user.initials,
        avatar_url=user.avatar_url,
        color=user.color or ROLE_COLORS["owner"],
        role="owner",
    )


def participant_user(identity: Identity) -> InterviewUser:
    p = identity.participant
    initials = "".join(part[0] for part in p.name.split()[:2]).upper() or p.role.value[0].upper()
    return InterviewUser(
        username=f"{p.role.value}-{p.id}",
        name=p.name,
        display_name=p.name,
        initials=initials,
        color=ROLE_COLORS[p.role.value],
        role=p.role.value,
        room_id=p.room_id,
        participant_id=p.id,
    )


class InterviewIdentityProvider(PasswordIdentityProvider):
    """Resolution order: Jupyter's token -> owner; interview session -> participant; login cookie -> owner.

    Invite identities then pass the Authorizer's route gate here, before any handler runs, so that
    Jupyter handlers which never call the Authorizer (settings and workspace writes, for example)
    cannot be reached by a participant either: deny by default.
    """

    def service(self, handler: web.RequestHandler) -> RoomService | None:
        service: RoomService | None = handler.settings.get(SERVICE_KEY)
        return service

    async def session_identity(self, handler: web.RequestHandler) -> Identity | None:
        service = self.service(handler)
        token = handler.get_cookie(SESSION_COOKIE)
        if service is None or not token:
            return None
        return await service.lookup(token)

    async def _get_user(self, handler: web.RequestHandler) -> User | None:
        cached = getattr(handler, "_jupyter_current_user", None)
        if cached:
            return cached  # type: ignore[no-any-return]
        user: InterviewUser | None = None
        token_user = await self.get_user_token(handler)
        if token_user is not None:
            user = owner_from(token_user)
            cookie_user = self.get_user_cookie(handler)
            if cookie_user is None or cookie_user.username != token_user.username:
                self.set_login_cookie(handler, token_user)
            handler._token_authenticated = True  # type: ignore[attr-defined]
            return user
        identity = await self.session_identity(handler)
        if identity is not None:
            # The gate reuses it rather than resolving the session again.
            handler._interview_identity = identity  # type: ignore[attr-defined]
            user = participant_user(identity)
            gate = handler.settings.get("authorizer")
            if gate is not None and hasattr(gate, "gate"):
                await gate.gate(handler, user)
            return user
        cookie_user = self.get_user_cookie(handler)
        if cookie_user is not None:
            return owner_from(cookie_user)
        return None

    def get_user_cookie(self, handler: web.RequestHandler) -> User | None:
        got: Any = super().get_user_cookie(handler)
        return got if isinstance(got, User) else None
