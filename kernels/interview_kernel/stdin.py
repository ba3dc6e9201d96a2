"""Program stdin fed from Jupyter `input_request`s: the kernel asks the frontend for a line only when the
program is blocked reading it.

Every execution gets a fresh pipe (compiled programs) or FIFO (REPL processes, which reopen it per cell),
so an end-of-input in one cell never closes stdin for the next. "Blocked reading it" is read off
/proc: a task of the program's process tree sits in read(2)/readv(2)/pread(2) on a descriptor that is this
pipe, and the pipe holds no unread bytes. Linux only; needs ptrace-read access to the tree, which a
process has to its own descendants.
"""

from __future__ import annotations

import array
import fcntl
import os
import platform
import termios
from pathlib import Path

# read, pread64, readv, preadv, preadv2 by architecture (asm/unistd.h).
_READ_SYSCALLS: dict[str, frozenset[int]] = {
    "x86_64": frozenset({0, 17, 19, 295, 327}),
    "aarch64": frozenset({63, 65, 67, 69, 286}),
}
_READS = _READ_SYSCALLS.get(platform.machine(), _READ_SYSCALLS["x86_64"])


class StdinFeed:
    """The kernel's end of one execution's stdin."""

    def __init__(self, fd: int, path: str | None) -> None:
        self._fd: int | None = fd
        st = os.fstat(fd)
        self.ident = (st.st_dev, st.st_ino)
        self.path = path

    @classmethod
    def pipe(cls) -> tuple[StdinFeed, int]:
        """A pipe: returns the feed and the read end to hand to the child (close it after the spawn)."""
        read_fd, write_fd = os.pipe()
        os.set_inheritable(read_fd, True)
        return cls(write_fd, None), read_fd

    @classmethod
    def fifo(cls, directory: Path, name: str) -> StdinFeed:
        """A FIFO a long-lived process opens by path. Opened read-write here, so the reader's open(2)
        never blocks, and the reader sees end-of-file once this end closes."""
        path = directory / name
        if path.exists():
            path.unlink()
        os.mkfifo(path, 0o600)
        return cls(os.open(path, os.O_RDWR | os.O_CLOEXEC), str(path))

    @property
    def closed(self) -> bool:
        return self._fd is None

    def pending(self) -> int:
        """Bytes written but not yet read."""
        if self._fd is None:
            return 0
        buf = array.array("i", [0])
        fcntl.ioctl(self._fd, termios.FIONREAD, buf, True)
        return buf[0]

    def write(self, text: str) -> None:
        if self._fd is None:
            return
        data = text.encode()
        try:
            while data:
                written = os.write(self._fd, data)
                data = data[written:]
        except BrokenPipeError:
            self.close()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self.path is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            self.path = None


def process_tree(root: int) -> list[int]:
    """root and its descendants, through /proc/<pid>/task/<tid>/children."""
    seen: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                children = Path(f"/proc/{pid}/task/{tid}/children").read_text().split()
            except OSError:
                continue
            todo.extend(int(child) for child in children)
    return seen


def blocked_reading(roots: list[int], ident: tuple[int, int]) -> bool:
    """True when some task under roots is inside a read syscall on the pipe or FIFO `ident`."""
    for pid in (p for root in roots for p in process_tree(root)):
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                fields = Path(f"/proc/{pid}/task/{tid}/syscall").read_text().split()
            except OSError:
                continue
            if len(fields) < 2 or not fields[0].isdigit() or int(fields[0]) not in _READS:
                continue
            try:
                st = os.stat(f"/proc/{pid}/fd/{int(fields[1], 16)}")
            except (OSError, ValueError):
                continue
            if (st.st_dev, st.st_ino) == ident:
                return True
    return False
