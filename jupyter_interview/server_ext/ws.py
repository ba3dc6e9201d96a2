"""The websocket adapter: one authenticated socket per participant, fed into the signaling hub."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, cast
from urllib.parse import urlparse

from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from tornado import web
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from jupyter_interview.server_ext.identity import InterviewUser
from jupyter_interview.signaling.hub import Actor, Hub
from jupyter_interview.signaling.relay import RedisRelay

HUB_KEY = "jupyter_interview.hub"
RELAY_KEY = "jupyter_interview.relay"
ORIGINS_KEY = "jupyter_interview.ws_origins"
# Frames past this are cut by tornado with close code 1009; the hub refuses smaller oversized ones
# (over its per-message limit) with an error event and keeps the socket.
HARD_FRAME_LIMIT = 1024 * 1024


class RoomSocketHandler(WebSocketMixin, WebSocketHandler, JupyterHandler):
    """`interview/api/rooms/{room}/ws`. Identity comes from the session cookie (or the owner's
    token) on upgrade, never from a message."""

    actor: Actor | None = None
    relay_conn: str | None = None  # set when another process runs this room's hub

    @property
    def hub(self) -> Hub:
        return cast(Hub, self.settings[HUB_KEY])

    @property
    def max_message_size(self) -> int:
        return HARD_FRAME_LIMIT

    def set_default_headers(self) -> None:
        """No JupyterHandler headers on a websocket upgrade."""

    def check_origin(self, origin: str | None = None) -> bool:
        allowed = cast(list[str], self.settings.get(ORIGINS_KEY) or [])
        if origin and allowed and urlparse(origin.lower())._replace(path="").geturl() in allowed:
            return True
        return bool(super().check_origin(origin))

    @ws_authenticated
    async def get(self, room_id: str) -> None:
        user = self.current_user
        if not isinstance(user, InterviewUser):
            raise web.HTTPError(403, "unknown identity")
        if user.is_owner:
            self.hub.service.get_room(room_id)  # 404 for a room that does not exist
            pid = f"owner-{user.username}"
        elif user.room_id != room_id or user.participant_id is None:
            raise web.HTTPError(403, "this is another interview's room")
        else:
            pid = user.participant_id
        self.actor = Actor(pid, user.name, user.role, room_id)
        await super().get(room_id)

    @property
    def relay(self) -> RedisRelay | None:
        return cast("RedisRelay | None", self.settings.get(RELAY_KEY))

    async def open(self, *args: Any, **kwargs: Any) -> None:
        super().open(*args, **kwargs)
        # Tornado leaves Nagle on: small signaling frames would wait for ACKs.
        self.set_nodelay(True)
        assert self.actor is not None
        if self.relay is not None:
            self.relay_conn = await self.relay.open(self.actor, self)
        if self.relay_conn is None:
            self.hub.attach(self.actor, self)

    def on_message(self, message: str | bytes) -> Awaitable[None] | None:
        # Not async: tornado wraps a coroutine in a Task per frame; the hub hands back an awaitable
        # only for the events that wait for storage, and tornado awaits that before the next frame.
        if self.relay is not None and self.relay_conn is not None:
            self.relay.frame(self.relay_conn, message)
        elif self.actor is not None:
            return self.hub.receive(self.actor, self, message)
        return None

    def on_close(self) -> None:
        if self.relay is not None and self.relay_conn is not None:
            self.relay.closed(self.relay_conn)
        elif self.actor is not None:
            self.hub.disconnect(self.actor, self)
        super().on_close()

    # ---- the hub's Socket protocol ----
    def send(self, text: str) -> None:
        conn = self.ws_connection
        if conn is None or conn.is_closing():
            return
        write_frame = getattr(conn, "_write_frame", None)
        if write_frame is not None and getattr(conn, "_compressor", None) is None:
            # tornado's write_message wraps every frame's write in a coroutine run as a Task, only
            # to turn its error into WebSocketClosedError for a caller who awaits it. The hub never
            # awaits a send: the frame goes straight to the stream, sparing a Task, a Context and
            # their handles per relayed message (a third of the relay's cost at saturation, and
            # most of what the garbage collector then walks). IOStream marks the futures of writes
            # cut by a closed stream as retrieved, so nothing is logged for them.
            data = text.encode()
            cast(Any, conn)._message_bytes_out += len(data)
            try:
                write_frame(True, 0x1, data)
            except (StreamClosedError, WebSocketClosedError):
                pass
            return
        try:
            self.write_message(text)
        except WebSocketClosedError:
            pass

    def close(self, code: int | None = None, reason: str | None = None) -> None:
        if self.ws_connection is not None:
            super().close(code, reason)
