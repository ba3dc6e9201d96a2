"""Kernel manager that remembers which interview room each kernel belongs to, and runs room kernels sandboxed only."""

from __future__ import annotations

import os
from typing import Any, Protocol

from jupyter_client.kernelspec import NoSuchKernel
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web

from jupyter_interview.rooms.models import ROOMS_FOLDER
from jupyter_interview.sandbox.provisioner import ROOM_ARG, ROOM_DIR_ARG
from jupyter_interview.server_ext.kernelspecs import (
    DEFAULT_SPEC,
    is_sandboxed,
    spec_for_language,
    unavailable_reason,
)


class KernelWatcher(Protocol):
    """Told of room kernels' lives (server_ext/kernel_lifecycle.py turns them into status events)."""

    def kernel_event(self, kernel_id: str, event: str, detail: Any = None) -> None:
        """event: "started", "restarting", "restarted" (detail: the future of its first reply),
        "restart-failed" (detail: the exception) or "removed"."""

    async def kernel_starting(self, room: str, kernel_name: str, env: Any) -> str | None:
        """A kernel already starting for this room's notebook with this spec, to hand out instead of a
        second one (the pre-started kernel, when the notebook is opened while it starts)."""


def room_of_path(path: str | None) -> str | None:
    parts = (path or "").strip("/").split("/")
    if len(parts) >= 2 and parts[0] == ROOMS_FOLDER and parts[1] not in ("", ".", ".."):
        return parts[1]
    return None


class RoomKernelManager(AsyncMappingKernelManager):
    """Records the room of each kernel from the path it was started for; the Authorizer reads it.

    A room's kernel must use a sandboxed kernelspec (provisioner `interview-sandbox`), whoever
    starts it: Jupyter adds a native `python3` spec by itself, and a default provisioner would
    apply only to specs that name none.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.kernel_rooms: dict[str, str] = {}
        # Set by InterviewApp: reads rooms' languages and time limits.
        self.room_service: Any = None
        self.watcher: KernelWatcher | None = None

    def _sandboxed_names(self) -> list[str]:
        ksm = self.kernel_spec_manager
        if ksm is None:
            return []
        try:
            specs = ksm.get_all_specs()
        except Exception:
            return []
        return sorted(name for name, info in specs.items() if is_sandboxed(info.get("spec") or {}))

    def _room_default_spec(self, room: str) -> str:
        service = self.room_service
        try:
            return spec_for_language(service.get_room(room).language) if service is not None else DEFAULT_SPEC
        except Exception:
            return DEFAULT_SPEC  # a room deleted meanwhile: its folder check refuses the start below

    def _check_spec(self, kernel_name: str, room: str | None) -> None:
        ksm = self.kernel_spec_manager
        if ksm is None:
            return
        try:
            spec = ksm.get_kernel_spec(kernel_name)
        except NoSuchKernel:
            if room is None:
                return  # Jupyter's own error for a missing spec
            spec = None
        if room is not None and (spec is None or not is_sandboxed(spec)):
            allowed = ", ".join(self._sandboxed_names()) or "none installed"
            raise web.HTTPError(
                403,
                f"kernelspec {kernel_name!r} does not run in the sandbox; an interview room's kernels use a"
                f" sandboxed kernelspec ({allowed})",
            )
        reason = unavailable_reason(spec) if spec is not None else None
        if reason:
            raise web.HTTPError(503, f"kernelspec {kernel_name!r} is unavailable on this server: {reason}")

    def _room_dir(self, room: str) -> str:
        room_dir = os.path.join(self.root_dir, ROOMS_FOLDER, room)
        if not os.path.isdir(room_dir) or os.path.islink(room_dir):
            raise web.HTTPError(404, f"the room folder {ROOMS_FOLDER}/{room} does not exist")
        return room_dir

    async def start_kernel(  # type: ignore[override]
        self, *, kernel_id: str | None = None, path: Any = None, **kwargs: Any
    ) -> str:
        room = room_of_path(path)
        if kernel_id is not None and kernel_id in self:
            # Jupyter hands back an existing kernel when its id is named: never across rooms, and
            # never moved into another room.
            if self.kernel_rooms.get(kernel_id) != room:
                raise web.HTTPError(403, f"kernel {kernel_id} belongs to another room")
            kid: str = await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
            return kid
        kernel_name = kwargs.get("kernel_name") or (
            self._room_default_spec(room) if room is not None else self.default_kernel_name
        )
        kwargs["kernel_name"] = kernel_name
        self._check_spec(kernel_name, room)
        if room is not None:
            if kernel_id is None and self.watcher is not None:
                pending = await self.watcher.kernel_starting(room, kernel_name, kwargs.get("env"))
                if pending is not None and pending in self:
                    return pending
            kwargs[ROOM_ARG] = room
            kwargs[ROOM_DIR_ARG] = self._room_dir(room)
        kid = await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        # Restarted on its own after a death (jupyter_client's restarter): see _mark_restarting.
        self.add_restart_callback(kid, lambda: self._mark_restarting(kid), "restart")
        if room is not None:
            self.kernel_rooms[kid] = room
            if self.watcher is not None:
                self.watcher.kernel_event(kid, "started")
        return kid

    def _mark_restarting(self, kernel_id: str) -> None:
        """A kernel being restarted is `starting`, whatever its last status was.

        Its last status is often `busy` (it died, or ran past the time limit, mid-execution). For a
        `busy` kernel jupyter_server skips the kernel_info "nudge" that makes a new websocket wait
        until the kernel's iopub reaches it; a socket opened during the restart then sends its
        first execution before its iopub subscription is live, and never sees the output.
        """
        kernel = self._kernels.get(kernel_id)
        if kernel is not None:
            kernel.execution_state = "starting"

    def assign_room(self, kernel_id: str, from_room: str, room: str) -> None:
        """Move a kernel started in a warm-pool slot's folder to the room that folder became.

        Only from the named slot: a kernel already given to a room is never moved again. Restarts
        then launch in the room's folder (the running sandbox kept its bind, which followed the
        renamed folder).
        """
        if self.kernel_rooms.get(kernel_id) != from_room or kernel_id not in self:
            raise KeyError(f"kernel {kernel_id} is not the kernel of {from_room}")
        km = self.get_kernel(kernel_id)
        launch_args = getattr(km, "_launch_args", None)
        if isinstance(launch_args, dict):
            launch_args[ROOM_ARG] = room
            launch_args[ROOM_DIR_ARG] = self._room_dir(room)
            launch_args["cwd"] = launch_args[ROOM_DIR_ARG]
        provisioner = getattr(km, "provisioner", None)
        if provisioner is not None and hasattr(provisioner, "room"):
            provisioner.room = room
        self.kernel_rooms[kernel_id] = room

    async def restart_kernel(self, kernel_id: str, now: bool = False) -> Any:  # type: ignore[override]
        self._mark_restarting(kernel_id)
        watcher = self.watcher if kernel_id in self.kernel_rooms else None
        if watcher is not None:
            watcher.kernel_event(kernel_id, "restarting")
        try:
            replied = await super().restart_kernel(kernel_id, now=now)  # type: ignore[no-untyped-call]
        except Exception as e:
            if watcher is not None:
                watcher.kernel_event(kernel_id, "restart-failed", e)
            raise
        if watcher is not None:
            watcher.kernel_event(kernel_id, "restarted", replied)
        return replied

    def remove_kernel(self, kernel_id: str) -> Any:
        if self.kernel_rooms.pop(kernel_id, None) is not None and self.watcher is not None:
            self.watcher.kernel_event(kernel_id, "removed")
        # A kernel whose restarts all failed is dropped without a shutdown: free its sandbox too.
        km = self._kernels.get(kernel_id)
        discard = getattr(getattr(km, "provisioner", None), "discard", None)
        if callable(discard):
            discard()
        return super().remove_kernel(kernel_id)

    # ---- read by the execution side (wall-clock limit, reporting a dead kernel) ----

    def exec_time_limit_s(self, kernel_id: str) -> float | None:
        """The wall-clock limit per execution for a room's kernel (the room's setting), else None."""
        room = self.kernel_rooms.get(kernel_id)
        if room is None or self.room_service is None:
            return None
        try:
            return float(self.room_service.get_room(room).settings.exec_time_limit_s)
        except Exception:
            return None

    def sandbox_exit_reason(self, kernel_id: str) -> str | None:
        """Why the kernel last died unexpectedly (e.g. 'killed: out of memory (limit 1024 MiB)'), if it did.

        Set before the restarter's "restart" callbacks run; the provisioner's `last_exit_time` says when.
        """
        try:
            km = self.get_kernel(kernel_id)
        except KeyError:
            return None
        return getattr(km.provisioner, "last_exit_reason", None)
