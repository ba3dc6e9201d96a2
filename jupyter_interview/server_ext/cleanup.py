"""What deleting a room removes besides its store rows: Jupyter sessions, kernels and document history."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from typing import Any

from jupyter_core.utils import ensure_async

from jupyter_interview.rooms.models import ROOMS_FOLDER


def _in_folder(path: str, room_id: str) -> bool:
    return path.strip("/").split("/")[:2] == [ROOMS_FOLDER, room_id]


async def forget_room(settings: dict[str, Any], room_id: str, notebook_paths: list[str]) -> None:
    """Shut down the room's sessions and kernels and drop its documents' update history.

    Call before the folder is removed: the file-id manager still knows the room's files then.
    """
    sm = settings.get("session_manager")
    if sm is not None:
        for session in await ensure_async(sm.list_sessions()):
            if _in_folder(str(session.get("path", "")), room_id):
                await ensure_async(sm.delete_session(session["id"]))
    km = settings.get("kernel_manager")
    rooms: dict[str, str] = getattr(km, "kernel_rooms", {})
    for kernel_id in [k for k, r in rooms.items() if r == room_id]:
        if km is not None and kernel_id in km:
            await ensure_async(km.shutdown_kernel(kernel_id))
    fim = settings.get("file_id_manager")
    serverapp = settings.get("serverapp")
    db_path = serverapp.config.SQLiteYStore.get("db_path") if serverapp is not None else None
    if fim is None or not isinstance(db_path, str):
        return
    file_ids = [fid for fid in (fim.get_id(p) for p in notebook_paths) if fid]
    if file_ids:
        await asyncio.to_thread(_delete_updates, db_path, file_ids)


def _delete_updates(db_path: str, file_ids: list[str]) -> None:
    if not os.path.exists(db_path):
        return
    conn = sqlite3.connect(db_path)
    try:
        with conn:
            for fid in file_ids:
                # Collaboration rooms are named "<format>:<type>:<file id>".
                conn.execute("DELETE FROM yupdates WHERE path LIKE ?", (f"%:{fid}",))
                conn.execute("DELETE FROM ycheckpoints WHERE path LIKE ?", (f"%:{fid}",))
    except sqlite3.OperationalError:
        # No collaboration table yet: nothing was ever edited together.
        return
    finally:
        conn.close()
