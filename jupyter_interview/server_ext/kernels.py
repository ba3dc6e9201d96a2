"""Kernel manager that remembers which interview room each kernel belongs to."""

from __future__ import annotations

from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

from jupyter_interview.rooms.models import ROOMS_FOLDER


def room_of_path(path: str | None) -> str | None:
    parts = (path or "").strip("/").split("/")
    if len(parts) >= 2 and parts[0] == ROOMS_FOLDER and parts[1] not in ("", ".", ".."):
        return parts[1]
    return None


class RoomKernelManager(AsyncMappingKernelManager):
    """Records the room of each kernel from the path it was started for; the Authorizer reads it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.kernel_rooms: dict[str, str] = {}

    async def start_kernel(  # type: ignore[override]
        self, *, kernel_id: str | None = None, path: Any = None, **kwargs: Any
    ) -> str:
        kid: str = await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        room = room_of_path(path)
        if room is not None:
            self.kernel_rooms[kid] = room
        return kid

    def remove_kernel(self, kernel_id: str) -> Any:
        self.kernel_rooms.pop(kernel_id, None)
        return super().remove_kernel(kernel_id)
