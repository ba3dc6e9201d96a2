"""The shared notebook's Yjs socket: jupyter-collaboration's own handler, made to know who is writing.

jupyter-collaboration authorises its socket once, at upgrade, as a read of `contents`, and its
YRoom applies whatever bytes arrive. `RoomDocSocketHandler` takes over the same route (our
extension's handlers are added first, so they match first) and, for an invite identity, drops the
Yjs messages that would change the document whenever that participant may not edit, closes
candidates' sockets at End, and sets TCP_NODELAY. The owner's sockets behave exactly as upstream.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from contextlib import closing
from contextvars import ContextVar
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.websocket import WebSocketMixin
from jupyter_server_ydoc.handlers import YDocWebSocketHandler
from jupyter_server_ydoc.rooms import DocumentRoom
from jupyter_server_ydoc.utils import decode_file_path
from jupyter_ydoc import ydocs
from pycrdt import Doc
from pycrdt.store import YDocNotFound
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


def use_wal(db_path: str) -> None:
    """Put jupyter-collaboration's update store in WAL mode (the mode stays with the file).

    The store commits every update as its own SQLite transaction. In the default rollback journal a
    commit costs several fsyncs (8 ms each here), slower than people type: updates queue up in the
    server, and a crash loses the queue (about a second of typing, measured). In WAL a commit is one
    append (0.5 ms with the store's default synchronous=FULL), so the queue stays empty.
    """
    Path(db_path).parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(sqlite3.connect(db_path, timeout=5)) as db:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()
    except sqlite3.Error as e:
        log.warning("Could not put the update store %s in WAL mode: %s", db_path, e)
        return
    if not mode or str(mode[0]).lower() != "wal":
        log.warning("The update store %s stays in journal mode %s, not WAL", db_path, mode)


def newest_update(db_path: str, doc_path: str) -> float | None:
    """When the update store last wrote a document (its index is on path and timestamp)."""
    if not Path(db_path).is_file():
        return None
    try:
        with closing(sqlite3.connect(f"{Path(db_path).as_uri()}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT MAX(timestamp) FROM yupdates WHERE path = ?", (doc_path,)).fetchone()
    except sqlite3.Error:
        return None
    return float(row[0]) if row and row[0] is not None else None


def typed(content: Any) -> Any:
    """What people type into a document: a text file's text; a notebook's cells (id, type, source).

    Saving normalises a notebook (cell `trusted` flags, empty kernelspecs), so a store and its file
    are never equal as wholes; after every autosave the store also writes one more update (the
    document's `dirty` flag), so "written after the file" alone does not mean typing was lost.
    """
    if not isinstance(content, dict):
        return content
    return [(c.get("id"), c.get("cell_type"), c.get("source")) for c in content.get("cells") or []]


async def recover_from_store(room: Any, serverapp: Any) -> bool:
    """Before a document room loads: if the update store is ahead of the file, save its document first.

    jupyter-collaboration loads a room from its update store only when the store's document equals
    the file; otherwise it sets the document to the file's content. The file is saved a quiet second
    after the last edit, so after a crash during typing the file is older than the store, and that
    rule deletes everything typed since the last save, for reconnecting clients too (the deletions
    reach them when they resync). Here, when the store wrote the document after the file's last
    change and holds a different document, the store's document is saved to the file first, so the
    room loads it. A file changed while its room was not loaded is newer than the store and wins.
    """
    ystore = getattr(room, "ystore", None)
    db_path = getattr(ystore, "db_path", None)
    if ystore is None or not isinstance(db_path, str):
        return False
    file_format, file_type, file_id = decode_file_path(room.room_id)
    path = serverapp.web_app.settings["file_id_manager"].get_path(file_id)
    newest = await asyncio.to_thread(newest_update, db_path, ystore.path)
    if path is None or newest is None:
        return False
    cm = serverapp.contents_manager
    if newest <= (await ensure_async(cm.get(path, content=False)))["last_modified"].timestamp():
        return False
    async with ystore.start_lock:
        if not ystore.started.is_set():
            room.create_task(ystore.start())
            await ystore.started.wait()
    document = ydocs.get(file_type, ydocs["file"])(Doc())
    try:
        await ystore.apply_updates(document.ydoc)
    except YDocNotFound:
        return False
    stored = await document.aget()
    model = await ensure_async(cm.get(path, format=file_format, type=file_type, content=True))
    if typed(stored) == typed(model["content"]):
        return False
    await ensure_async(cm.save({"format": file_format, "type": file_type, "content": stored}, path))
    log.warning(
        "%s was older than its update store (a crash before the autosave?): saved the store's document", path
    )
    return True


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
        if isinstance(self.room, DocumentRoom) and not self.room.ready:
            async with self._room_lock(self._room_id):  # the lock the room's initialisation takes
                if not self.room.ready:
                    try:
                        await recover_from_store(self.room, self.sockets.serverapp)
                    except Exception:
                        self.log.exception("Could not compare %s with its update store", self._room_id)
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
