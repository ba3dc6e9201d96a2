"""Per-kernel memory and pids cgroups (v1 or v2), created under the server's own cgroup where the machine allows.

Nothing here is required: on a machine where no controller can be used, `Cgroups.create` returns a
handle with no paths and the backend falls back to rlimits (RLIMIT_AS for memory, RLIMIT_NPROC for
processes). The launch command joins the cgroups itself (`cgroup.procs` files) before it runs
bubblewrap, so every process of the sandbox is born inside them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass, field

PREFIX = "jupyter-interview-"


@dataclass(frozen=True)
class Mount:
    version: int  # 1 or 2
    path: str  # absolute path of the server's own cgroup in this hierarchy


@dataclass
class CgroupHandle:
    memory: str | None = None  # the kernel's memory cgroup directory
    memory_version: int = 0
    pids: str | None = None
    paths: list[str] = field(default_factory=list)  # every directory created, deepest last

    @property
    def procs_files(self) -> list[str]:
        return [
            os.path.join(p, "cgroup.procs") for p in dict.fromkeys(x for x in (self.memory, self.pids) if x)
        ]


def _own_mounts(
    proc_cgroup: str = "/proc/self/cgroup", mountinfo: str = "/proc/self/mountinfo"
) -> dict[str, Mount]:
    """Controller name -> where this process's cgroup of that controller is, for memory and pids."""
    own: dict[str, str] = {}
    with open(proc_cgroup, encoding="utf-8") as f:
        for line in f:
            hid, controllers, path = line.rstrip("\n").split(":", 2)
            if hid == "0" and controllers == "":
                own["@v2"] = path
            for c in controllers.split(","):
                if c:
                    own[c] = path
    found: dict[str, Mount] = {}
    with open(mountinfo, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            root, mount_point = fields[3], fields[4]
            fstype, options = fields[sep + 1], fields[sep + 3].split(",")

            def under(path: str, root: str = root, mount_point: str = mount_point) -> str | None:
                if root != "/" and not (path == root or path.startswith(root + "/")):
                    return None
                rel = path[len(root) :] if root != "/" else path
                return mount_point + rel.rstrip("/") if rel.strip("/") else mount_point

            if fstype == "cgroup":
                for c in ("memory", "pids"):
                    if c in options and c in own and c not in found:
                        p = under(own[c])
                        if p:
                            found[c] = Mount(1, p)
            elif fstype == "cgroup2" and "@v2" in own:
                p = under(own["@v2"])
                if p and os.path.exists(os.path.join(p, "cgroup.controllers")):
                    with open(os.path.join(p, "cgroup.controllers"), encoding="utf-8") as cf:
                        available = cf.read().split()
                    for c in ("memory", "pids"):
                        if c in available and c not in found:
                            found[c] = Mount(2, p)
    return found


def _write(path: str, value: str) -> None:
    with open(path, "w", encoding="ascii") as f:
        f.write(value)


class Cgroups:
    """Creates, reads and removes the per-kernel cgroups. One instance per provisioner; stateless otherwise."""

    def __init__(self, log: logging.Logger | None = None) -> None:
        self.log = log or logging.getLogger(__name__)
        try:
            self.mounts = _own_mounts()
        except OSError:
            self.mounts = {}

    def _make(self, mount: Mount, name: str, controller: str) -> str | None:
        if mount.version == 2:
            # v2 needs the controller enabled for the parent's children; a parent that holds
            # processes itself cannot enable it (no internal processes), so this may fail.
            try:
                with open(os.path.join(mount.path, "cgroup.subtree_control"), encoding="ascii") as f:
                    enabled = f.read().split()
                if controller not in enabled:
                    _write(os.path.join(mount.path, "cgroup.subtree_control"), f"+{controller}")
            except OSError as e:
                self.log.debug("cgroup v2 %s not usable under %s: %s", controller, mount.path, e)
                return None
        path = os.path.join(mount.path, name)
        try:
            os.mkdir(path, 0o755)
        except FileExistsError:
            pass
        except OSError as e:
            self.log.debug("cannot create cgroup %s: %s", path, e)
            return None
        return path

    def create(self, name: str, memory_bytes: int, pids_max: int) -> CgroupHandle:
        handle = CgroupHandle()
        name = PREFIX + name
        mem = self.mounts.get("memory")
        if mem is not None and memory_bytes > 0:
            path = self._make(mem, name, "memory")
            if path is not None:
                handle.paths.append(path)
                try:
                    if mem.version == 1:
                        _write(os.path.join(path, "memory.limit_in_bytes"), str(memory_bytes))
                        # No swap beyond the limit either, where swap is accounted.
                        memsw = os.path.join(path, "memory.memsw.limit_in_bytes")
                        if os.path.exists(memsw):
                            with contextlib.suppress(OSError):
                                _write(memsw, str(memory_bytes))
                    else:
                        _write(os.path.join(path, "memory.max"), str(memory_bytes))
                        swap = os.path.join(path, "memory.swap.max")
                        if os.path.exists(swap):
                            with contextlib.suppress(OSError):
                                _write(swap, "0")
                    handle.memory, handle.memory_version = path, mem.version
                except OSError as e:
                    self.log.warning("cannot set the memory limit on %s: %s", path, e)
        pids = self.mounts.get("pids")
        if pids is not None and pids_max > 0:
            path = self._make(pids, name, "pids")
            if path is not None:
                if path not in handle.paths:
                    handle.paths.append(path)
                try:
                    _write(os.path.join(path, "pids.max"), str(pids_max))
                    handle.pids = path
                except OSError as e:
                    self.log.warning("cannot set the pids limit on %s: %s", path, e)
        return handle

    def oom_killed(self, handle: CgroupHandle) -> bool:
        """Whether the kernel's memory cgroup has seen an OOM kill."""
        if handle.memory is None:
            return False
        name = "memory.oom_control" if handle.memory_version == 1 else "memory.events"
        try:
            with open(os.path.join(handle.memory, name), encoding="ascii") as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        except (OSError, ValueError):
            pass
        return False

    def remove(self, handle: CgroupHandle) -> bool:
        """Remove the kernel's cgroups; False (and the handle keeps them) while one is still busy."""
        left = []
        for path in reversed(handle.paths):
            try:
                os.rmdir(path)
            except FileNotFoundError:
                pass
            except OSError as e:
                # Processes of the sandbox are still on their way out: the caller tries again later.
                self.log.debug("cgroup %s not removed yet: %s", path, e)
                left.append(path)
        handle.paths[:] = list(reversed(left))
        if not left:
            handle.memory = handle.pids = None
        return not left


class OomWatch:
    """Notices OOM kills in another process's memory cgroup (a container's, cgroup v1), for engines
    that do not report them (podman 4.3's conmon on this kind of host). The engine removes that cgroup
    as soon as the container exits, so its counter cannot be read afterwards: an eventfd registered
    on memory.oom_control wakes a thread at the OOM, while the cgroup still exists. The kernel also
    signals the eventfd when the cgroup goes; that wake-up is told apart by the folder being gone."""

    def __init__(self, path: str, efd: int, ofd: int) -> None:
        self.path = path
        self.kills = 0
        self._efd, self._ofd = efd, ofd
        self._lock = threading.Lock()
        self._closing = False
        self._open = True
        threading.Thread(target=self._run, name="oom-watch", daemon=True).start()

    @classmethod
    def start(cls, pid: int, marker: str, log: logging.Logger) -> OomWatch | None:
        """Watch the memory cgroup of pid (seen through this process's mounts) if its path holds
        marker (the container's id: never another process's cgroup); None where that cannot be done."""
        try:
            mem = _own_mounts(f"/proc/{pid}/cgroup").get("memory")
        except (OSError, ValueError, IndexError):
            return None
        if mem is None or mem.version != 1 or marker not in mem.path:
            return None
        efd = ofd = -1
        try:
            efd = os.eventfd(0, os.EFD_CLOEXEC)
            ofd = os.open(os.path.join(mem.path, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
            _write(os.path.join(mem.path, "cgroup.event_control"), f"{efd} {ofd}")
        except OSError as e:
            log.debug("no OOM watch on %s: %s", mem.path, e)
            for fd in (efd, ofd):
                if fd >= 0:
                    os.close(fd)
            return None
        return cls(mem.path, efd, ofd)

    def _run(self) -> None:
        try:
            while True:
                try:
                    os.eventfd_read(self._efd)
                except OSError:
                    return
                if self._closing or not os.path.isdir(self.path):
                    return
                self.kills += 1
        finally:
            with self._lock:
                self._open = False
                os.close(self._efd)
                os.close(self._ofd)

    def close(self) -> None:
        """Stop watching (the thread also ends by itself when the cgroup is removed)."""
        with self._lock:
            self._closing = True
            if self._open:
                os.eventfd_write(self._efd, 1)
