"""Jupyter's own list and workspace routes, narrowed to the caller's room for invite identities.

The Authorizer answers yes or no and cannot filter a list, and jupyterlab_server's workspace
handlers do not call it at all; these subclasses sit on the same routes (an extension's handlers
match before the core's) and change only what an interviewer or candidate receives.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

from jupyter_core.utils import ensure_async
from jupyter_server.services.contents.handlers import ContentsHandler
from jupyter_server.services.kernels.handlers import MainKernelHandler
from jupyter_server.services.sessions.handlers import SessionRootHandler
from jupyter_server.utils import url_path_join
from jupyterlab_server.workspaces_handler import WorkspacesHandler
from tornado import web

from jupyter_interview.rooms.models import ROOMS_FOLDER
from jupyter_interview.rooms.service import RoomService
from jupyter_interview.server_ext.authorizer import in_room
from jupyter_interview.server_ext.identity import SERVICE_KEY, InterviewUser


def _participant(handler: web.RequestHandler) -> InterviewUser | None:
    user = handler.current_user
    if isinstance(user, InterviewUser) and not user.is_owner:
        return user
    return None


class RoomKernelsHandler(MainKernelHandler):
    async def get(self) -> None:
        user = _participant(self)
        if user is None:
            await super().get()  # type: ignore[misc]
            return
        km = self.kernel_manager
        rooms: dict[str, str] = getattr(km, "kernel_rooms", {})
        kernels = await ensure_async(km.list_kernels())  # type: ignore[no-untyped-call]
        mine = [k for k in kernels if rooms.get(k["id"]) == user.room_id]
        self.finish(json.dumps(mine, default=str))


class RoomSessionsHandler(SessionRootHandler):
    async def get(self) -> None:
        user = _participant(self)
        if user is None:
            await super().get()  # type: ignore[misc]
            return
        sessions: list[dict[str, Any]] = await ensure_async(self.session_manager.list_sessions())  # type: ignore[no-untyped-call]
        mine = [s for s in sessions if in_room(str(s.get("path", "")), str(user.room_id))]
        self.finish(json.dumps(mine, default=str))

    async def post(self) -> None:
        # Jupyter turns any failure to start the session's kernel into a 500; a refusal of the
        # kernel manager (a room kernel with an unsandboxed kernelspec: 403) keeps its own status.
        try:
            await super().post()  # type: ignore[misc]
        except web.HTTPError as e:
            if e.status_code == 500 and isinstance(e.__cause__, web.HTTPError):
                raise e.__cause__ from None
            raise


class RoomContentsHandler(ContentsHandler):
    """Above the room folder, a participant sees only the way down to its own room."""

    async def get(self, path: str = "") -> None:
        user = _participant(self)
        path = (path or "").strip("/")
        if user is None or in_room(path, str(user.room_id)):
            await super().get(path)  # type: ignore[misc]
            return
        parts = path.split("/") if path else []
        way = [ROOMS_FOLDER, str(user.room_id)]
        child = "/".join(way[: len(parts) + 1])
        cm = self.contents_manager
        model = await ensure_async(cm.get(path, type="directory", content=False))  # type: ignore[no-untyped-call]
        if self.get_query_argument("content", "1") == "1":
            model["content"] = [await ensure_async(cm.get(child, content=False))]  # type: ignore[no-untyped-call]
            model["format"] = "json"
        self.finish(json.dumps(model, default=str))


class ParticipantWorkspacesHandler(WorkspacesHandler):
    """Each participant has one workspace of its own, stored with the room, whatever name the lab asks for."""

    def _service(self) -> RoomService:
        return cast(RoomService, self.settings[SERVICE_KEY])

    async def get(self, space_name: str = "") -> Any:
        user = _participant(self)
        if user is None:
            return await super().get(space_name)  # type: ignore[misc]
        raw = await self._service().store.get_workspace(str(user.participant_id))
        name = space_name or "default"
        if raw is None:
            data: dict[str, Any] = {"data": {}, "metadata": {"id": name}}
        else:
            data = json.loads(raw)
            data.setdefault("metadata", {})["id"] = name
        if not space_name:
            return self.finish(json.dumps({"workspaces": {"ids": [name], "values": [data]}}))
        return self.finish(json.dumps(data))

    async def put(self, space_name: str = "") -> None:
        user = _participant(self)
        if user is None:
            super().put(space_name)
            return
        try:
            data = json.loads(self.request.body or b"{}")
        except ValueError as e:
            raise web.HTTPError(400, f"the workspace is not valid JSON: {e}") from e
        if not isinstance(data, dict):
            raise web.HTTPError(400, "a workspace is a JSON object with data and metadata")
        data.setdefault("metadata", {})["last_modified"] = time.time()
        await self._service().store.put_workspace(
            str(user.participant_id), str(user.room_id), json.dumps(data)
        )
        self.set_status(204)
        self.finish()


def scoped_handlers(
    base_url: str, workspaces_api_url: str, workspaces_manager: Any
) -> list[tuple[str, Any, Any]]:
    from jupyter_server.services.contents.handlers import (  # type: ignore[attr-defined]
        CheckpointsHandler,
        ModifyCheckpointsHandler,
        _checkpoint_id_regex,
        path_regex,
    )

    contents = url_path_join(base_url, r"/api/contents" + path_regex)
    handlers: list[tuple[str, Any, Any]] = [
        (url_path_join(base_url, r"/api/kernels/?"), RoomKernelsHandler, {}),
        (url_path_join(base_url, r"/api/sessions/?"), RoomSessionsHandler, {}),
        # Jupyter's checkpoint routes lie under the contents route: listed first, or the contents
        # route below would take them. (Its /trust route stays shadowed on purpose: a participant
        # must not sign a notebook whose outputs then run as trusted in other people's browsers.)
        (contents + "/checkpoints", CheckpointsHandler, {}),
        (contents + "/checkpoints/" + _checkpoint_id_regex, ModifyCheckpointsHandler, {}),
        (contents, RoomContentsHandler, {}),
    ]
    if workspaces_manager is not None:
        config = {"name": "lab", "manager": workspaces_manager}
        handlers += [
            (url_path_join(workspaces_api_url, "?"), ParticipantWorkspacesHandler, config),
            (url_path_join(workspaces_api_url, "(?P<space_name>.+)"), ParticipantWorkspacesHandler, config),
        ]
    return handlers
