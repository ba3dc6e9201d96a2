"""One unprivileged uid per room, recorded as the owner of the room's folder.

RLIMIT_NPROC counts processes per uid across the machine, so rooms sharing a uid would share one
process budget (and could signal each other's processes). The folder's owner is the allocation:
it survives restarts of the server with no table to keep, and a room keeps its uid for life. A
new room gets the first free uid from a starting point derived from its id.
"""

from __future__ import annotations

import hashlib
import os
import stat

from jupyter_interview.sandbox.backend import SandboxError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _in_range(uid: int, first: int, last: int) -> bool:
    return first <= uid <= last


def room_uid(room_dir: str, first: int, last: int) -> int:
    """The room's uid, allocating one (and handing it the folder) on first use.

    Synchronous on purpose: called from the event loop, the scan and the chown happen with no
    other start in between. `first` itself is kept for kernels outside rooms.
    """
    if last <= first:
        raise SandboxError(f"the sandbox uid range {first}-{last} is empty")
    # The folder is opened without following links: a room folder that is a link is refused,
    # and the chown below acts on the directory opened, not on whatever a path names later.
    try:
        fd = os.open(room_dir, _DIR_FLAGS)
    except OSError as e:
        raise SandboxError(f"the room folder {room_dir} cannot be opened as a directory: {e}") from e
    try:
        st = os.fstat(fd)
        if _in_range(st.st_uid, first + 1, last):
            return st.st_uid
        parent = os.path.dirname(room_dir.rstrip("/"))
        used: set[int] = set()
        with os.scandir(parent) as entries:
            for entry in entries:
                try:
                    s = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(s.st_mode) and _in_range(s.st_uid, first + 1, last):
                    used.add(s.st_uid)
        size = last - first
        if len(used) >= size:
            raise SandboxError(f"every uid of the sandbox range {first + 1}-{last} is taken by a room")
        name = os.path.basename(room_dir.rstrip("/"))
        start = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % size
        for i in range(size):
            uid = first + 1 + (start + i) % size
            if uid not in used:
                break
        os.fchown(fd, uid, uid)
        return uid
    finally:
        os.close(fd)
