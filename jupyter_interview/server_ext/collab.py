"""The shared notebook's Yjs socket: jupyter-collaboration's own handler, made to know who is writing.

jupyter-collaboration authorises its socket once, at upgrade, as a read of `contents`, and its
YRoom applies whatever bytes arrive. `RoomDocSocketHandler` takes over the same route (our
extension's handlers are added first, so they match first) and, for an invite identity, drops the
Yjs messages that would change the document whenever that participant may not edit, closes
candidates' sockets at End, and sets TCP_NODELAY. The owner's sockets behave exactly as upstream.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, cast
from urllib.parse import urlparse

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server_ydoc.handlers import YDocWebSocketHandler
from tornado import web

from jupyter_interview.errors import NotFound
from jupyter_interview.rooms.models import RoomState
from jupyter_interview.rooms.service import Access, Change, RoomService
from jupyter_interview.server_ext.authorizer import InterviewAuthorizer
from jupyter_interview.server_ext.identity import SESSION_COOKIE, InterviewUser
from jupyter_interview.server_ext.ws import ORIGINS_KEY
from jupyter_interview.signaling.hub import CLOSE_FORBIDDEN, CLOSE_GONE

log = logging.getLogger(__name__)

YDOC_EXTENSION = "jupyter_server_ydoc"
ROUTE = r"/api/collaboration/room/(.*)"
# A candidate's socket at End. y-websocket reconnects by itself after any close; the new socket is
# read-only (the gate grants a candidate who took part `read` after End). Not 4400/4404/4500 or 1003:
# the docprovider treats those as fatal and disposes the document.
CLOSE_ENDED = 4005

# y-protocols message types (first byte) and sync steps (second byte), as pycrdt's YRoom reads them.
SYNC = 0
SYNC_STEP1 = 0
AWARENESS = b"\x01"


def changes_document(message: bytes | str) -> bool:
    """Whether the server would apply this message to the document.

    YRoom dispatches on the first byte: SYNC (0) carries a step in the second byte, and every step
    but STEP1 (a state-vector request) is applied as an update; AWARENESS (1) and Jupyter's RAW (2)
    never touch the document. A text frame is never a valid Yjs message.
    """
    if not isinstance(message, bytes):
        return True
    if not message or message[0] != SYNC:
        return False
    return len(message) < 2 or message[1] != SYNC_STEP1


def may_edit(role: str, access: str) -> bool:
    """Whether a participant's edits to the room's documents are applied.

    A candidate edits only with `write` (live and admitted). An interviewer keeps editing after End
    (`execute`): the issue makes only the candidate read-only, and an interviewer annotating the
    finished notebook is expected.
    """
    if role == "candidate":
        return access == Access.WRITE
    return access in (Access.WRITE, Access.EXECUTE)


class CollabSockets:
    """The open collaboration sockets of invite identities, per interview room, and what may pass them.

    Built by InterviewApp and handed to every RoomDocSocketHandler; listens to RoomService so that
    End, admission changes, revocation and deletion reach open sockets at once.
    """

    def __init__(self, service: RoomService, serverapp: Any) -> None:
        self.service = service
        self.serverapp = serverapp
        self.by_room: dict[str, set[RoomDocSocketHandler]] = {}
        self._ydoc_kwargs: dict[str, Any] | None = None
        # Called for each document update a participant's socket lets through, before the room
        # applies it: (interview room id, participant id, collaboration room name, the raw message).
        # History attributes snapshots with it; the activity feed summarises it. Must not block.
        self.edit_listeners: list[Callable[[str, str, str, bytes], None]] = []
        # Called, the same way, for each awareness message (cursors, selections) of a participant.
        self.awareness_listeners: list[Callable[[str, str, str, bytes], None]] = []
        # The participant whose socket's messages the running task applies. jupyter-collaboration
        # applies a socket's messages in a task created while the socket opens, which copies the
        # context set there: observers of the server's document read the writer from here.
        self.writer: ContextVar[InterviewUser | None] = ContextVar("interview_collab_writer", default=None)
        service.add_listener(self.on_change)

    def ydoc_handler_kwargs(self) -> dict[str, Any]:
        """The kwargs jupyter-collaboration registered for its own socket handler on this route.

        Looked up at the first request: jupyter_server_ydoc builds its websocket server, file loaders
        and room locks after our extension has registered its handlers.
        """
        if self._ydoc_kwargs is None:
            apps = self.serverapp.extension_manager.extension_apps.get(YDOC_EXTENSION) or set()
            for app in apps:
                for route in getattr(app, "handlers", []):
                    handler = route[1] if len(route) > 2 else None
                    if (
                        isinstance(handler, type)
                        and issubclass(handler, YDocWebSocketHandler)
                        and not issubclass(handler, RoomDocSocketHandler)
                    ):
                        self._ydoc_kwargs = dict(route[2])
            if self._ydoc_kwargs is None:
                raise LookupError(f"{YDOC_EXTENSION} (jupyter-collaboration) is not loaded")
            cleanup = self._ydoc_kwargs.get("document_cleanup_delay")
            save = self._ydoc_kwargs.get("document_save_delay")
            if cleanup is not None and save is not None and cleanup <= save:
                # Dropping a room cancels its pending save; the room rebuilt later applies the stale
                # file over the update store's document, which deletes the unsaved edits for everyone.
                log.warning(
                    "YDocExtension.document_cleanup_delay (%s s) is not longer than document_save_delay"
                    " (%s s): edits made just before the last client leaves can be lost",
                    cleanup,
                    save,
                )
        return self._ydoc_kwargs

    def may_edit(self, user: InterviewUser) -> bool:
        """Per message of a participant's socket: dict reads only."""
        try:
            room = self.service.get_room(user.room_id or "")
            participant = self.service.get_participant(room.id, user.participant_id or "")
        except NotFound:
            return False
        return may_edit(user.role, self.service.access(room, participant))

    def add(self, socket: RoomDocSocketHandler) -> None:
        assert socket.participant is not None and socket.participant.room_id is not None
        self.by_room.setdefault(socket.participant.room_id, set()).add(socket)

    def discard(self, socket: RoomDocSocketHandler) -> None:
        if socket.participant is None or socket.participant.room_id is None:
            return
        sockets = self.by_room.get(socket.participant.room_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self.by_room[socket.participant.room_id]

    def on_change(self, change: Change) -> None:
        if change.kind == "timer":
            return
        sockets = list(self.by_room.get(change.room_id, ()))
        if not sockets:
            return
        if change.kind == "deleted":
            for socket in sockets:
                socket.close(CLOSE_GONE, "the interview was deleted")
            return
        for socket in sockets:
            verdict = self._verdict(socket)
            if verdict is not None:
                socket.close(*verdict)

    def _verdict(self, socket: RoomDocSocketHandler) -> tuple[int, str] | None:
        """Why an open socket must close now, if it must."""
        assert socket.participant is not None
        identity = self.service.resolve(socket.session_token)
        if identity is None:
            return CLOSE_FORBIDDEN, "the interview session ended"
        access = self.service.access(identity.room, identity.participant)
        if access == Access.NONE:
            return CLOSE_FORBIDDEN, "no access to this interview's documents"
        ended = identity.room.state is RoomState.ENDED
        if socket.participant.role == "candidate" and ended and not socket.opened_after_end:
            return CLOSE_ENDED, "the interview ended; the notebook is read-only now"
        return None


class RoomDocSocketHandler(YDocWebSocketHandler):  # type: ignore[misc]
    """`api/collaboration/room/{format:type:fileid}` for everyone; role-aware for invite identities."""

    sockets: CollabSockets
    participant: InterviewUser | None = None  # None: the owner, or an identity another provider made
    session_token = ""
    opened_after_end = False
    refused_updates = 0
    _unavailable: str | None = None

    def initialize(self, sockets: CollabSockets) -> None:
        self.sockets = sockets
        try:
            kwargs = sockets.ydoc_handler_kwargs()
        except LookupError as e:
            self._unavailable = str(e)
            return
        super().initialize(**kwargs)

    async def prepare(self) -> None:
        if self._unavailable is not None:
            raise web.HTTPError(503, self._unavailable)
        # The identity provider runs the Authorizer's gate here (a `read` of the document's room),
        # before jupyter-collaboration creates any room.
        await super().prepare()

    def check_origin(self, origin: str) -> bool:
        # Upstream accepts every origin; a cookie-holding browser must not be steered here from
        # another site. Same rule as our real-time socket.
        allowed = cast(list[str], self.settings.get(ORIGINS_KEY) or [])
        if origin and allowed and urlparse(origin.lower())._replace(path="").geturl() in allowed:
            return True
        return bool(WebSocketMixin.check_origin(self, origin))

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        user = self.current_user
        if isinstance(user, InterviewUser) and not user.is_owner:
            # The gate checked the URL-decoded room name; jupyter-collaboration names its room from
            # the raw path. Check that one too, so both name a document in the participant's room.
            if user.room_id is None or not InterviewAuthorizer._collab_room_ok(
                self, self._room_id, user.room_id
            ):
                raise web.HTTPError(403, "this document is not in your interview's room")
            self.participant = user
            self.session_token = self.get_cookie(SESSION_COOKIE) or ""
        await super().get(*args, **kwargs)

    async def open(self, *args: Any, **kwargs: Any) -> None:
        # Tornado leaves Nagle on: each keystroke's small update would wait for the peer's ACK.
        self.set_nodelay(True)
        if self.participant is not None:
            room = self.sockets.service.get_room(self.participant.room_id or "")
            self.opened_after_end = room.state is RoomState.ENDED
            self.sockets.add(self)
            self.sockets.writer.set(self.participant)
        await super().open(*args, **kwargs)

    async def on_message(self, message: bytes | str) -> None:
        user = self.participant
        if user is not None and changes_document(message) and not self.sockets.may_edit(user):
            self.refused_updates += 1
            if self.refused_updates == 1:
                self.log.info(
                    "Refusing document updates of %s %s in room %s: read-only for them now",
                    user.role,
                    user.participant_id,
                    user.room_id,
                )
            return
        if user is not None and self.sockets.edit_listeners and changes_document(message):
            raw = message if isinstance(message, bytes) else message.encode()
            for listener in self.sockets.edit_listeners:
                listener(user.room_id or "", user.participant_id or "", self._room_id, raw)
        elif user is not None and isinstance(message, bytes) and message[:1] == AWARENESS:
            for listener in self.sockets.awareness_listeners:
                listener(user.room_id or "", user.participant_id or "", self._room_id, message)
        await super().on_message(message)

    def on_close(self) -> None:
        self.sockets.discard(self)
        super().on_close()
