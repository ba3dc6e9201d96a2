"""The bubblewrap backend: own namespaces, a read-only system, one writable folder, an unprivileged uid, limits.

The command a kernel runs under, outermost first:

    sh -c '<join cgroups>' ... --            only when a memory or pids cgroup could be made
    bwrap <namespaces> <mounts> <env> --     as root: mounts need it
    prlimit <rlimits> --                     still root: set the limits the kernel inherits
    setpriv --reuid U --regid U ... --       drop to the room's uid, no capabilities, no new privileges
    <the kernel's own argv>

bubblewrap runs as root because it must mount, and bubblewrap as an unprivileged user did not
start here; setpriv inside it then leaves root for good (real, effective and saved ids).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import stat
import sys
from dataclasses import replace

from jupyter_interview.sandbox.backend import (
    KernelProcess,
    Launch,
    SandboxBackend,
    SandboxRequest,
    describe_returncode,
    kernel_environment,
    write_etc_files,
)
from jupyter_interview.sandbox.cgroups import CgroupHandle, Cgroups

# /etc entries a sandbox sees from the host: what dynamic linking, time zones and language
# toolchains (Java's jvm.cfg, /usr/bin/* alternatives) read. Not the rest: /etc can hold
# credentials (pip.conf, npmrc, database client files).
DEFAULT_ETC = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "mime.types",
    "os-release",
    "debian_version",
    "java-*",
    "ssl/openssl.cnf",
)

_JOIN_CGROUPS = 'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"'

MIB = 1024 * 1024


def python_paths() -> list[str]:
    """The server's Python as seen from inside: the venv and the installation behind its symlinks."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    real = os.path.realpath(sys.executable)
    paths.add(os.path.dirname(os.path.dirname(real)))
    return sorted(p for p in paths if p and not _under(p, "/usr"))


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _children(pid: int) -> list[int]:
    """Processes whose parent is pid (this kernel has no /proc/<pid>/task/*/children)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                data = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces: parse after the last ')'.
        fields = data[data.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry))
    return found


def _tool(name: str) -> str | None:
    return shutil.which(name, path="/usr/bin:/bin:/usr/sbin:/sbin")


class _Mounts:
    """bwrap's mount arguments in order. bwrap makes a missing parent folder 0700 root, which the
    kernel's uid could not cross: every parent is made first as a 0755 folder instead."""

    def __init__(self, args: list[str]) -> None:
        self.args = args
        self.made: set[str] = {"/"}

    def _parents(self, path: str) -> None:
        missing = []
        parent = os.path.dirname(path)
        while parent not in self.made:
            missing.append(parent)
            parent = os.path.dirname(parent)
        for folder in reversed(missing):
            self.args += ["--perms", "0755", "--dir", folder]
            self.made.add(folder)

    def bind(self, flag: str, src: str, dest: str | None = None) -> None:
        dest = dest or src
        self._parents(dest)
        self.args += [flag, src, dest]
        self.made.add(dest)

    def tmpfs(self, path: str, mode: str | None = None, size: int = 0) -> None:
        self._parents(path)
        if mode:
            self.args += ["--perms", mode]
        if size:
            self.args += ["--size", str(size)]
        self.args += ["--tmpfs", path]
        # What was made below it is hidden now.
        self.made = {m for m in self.made if not _under(m, path) or m == path}


class BubblewrapBackend(SandboxBackend):
    name = "bubblewrap"

    def __init__(
        self, log: object = None, *, etc: tuple[str, ...] = DEFAULT_ETC, use_cgroups: bool = True
    ) -> None:
        super().__init__(log)  # type: ignore[arg-type]
        self.etc = etc
        self.cgroups = Cgroups(self.log) if use_cgroups else None
        self._handles: dict[str, CgroupHandle] = {}
        self._stale: list[CgroupHandle] = []
        self._launches = 0

    def check(self) -> list[str]:
        problems = []
        for tool, package in (("bwrap", "bubblewrap"), ("setpriv", "util-linux"), ("prlimit", "util-linux")):
            if _tool(tool) is None:
                problems.append(f"{tool} is not installed (apt-get install {package})")
        if sys.platform != "linux":
            problems.append("bubblewrap needs Linux")
        elif os.geteuid() != 0:
            problems.append(
                "the bubblewrap backend runs as root to give each room its own uid; run the server as"
                " root (in its container or VM)"
            )
        return problems

    # ---- resources ----

    def prepare(self, request: SandboxRequest) -> SandboxRequest:
        if self.cgroups is None:
            return request
        # A fresh cgroup per launch: its OOM counter then speaks of this launch only.
        self.release(request)
        self._launches += 1
        handle = self.cgroups.create(
            f"{request.kernel_id[:13]}{self._launches}", request.limits.memory_mb * MIB, request.limits.nproc
        )
        self._handles[request.kernel_id] = handle
        if handle.memory is None and request.limits.memory_mb:
            self.log.info("no memory cgroup available: kernel %s is limited by RLIMIT_AS", request.kernel_id)
        return replace(request, cgroup_procs=handle.procs_files)

    def release(self, request: SandboxRequest) -> None:
        if self.cgroups is None:
            return
        handle = self._handles.pop(request.kernel_id, None)
        if handle is not None:
            self._stale.append(handle)
        # A cgroup whose processes are still exiting is kept and tried again at the next release.
        self._stale = [h for h in self._stale if not self.cgroups.remove(h)]

    def signal_kernel(self, process: KernelProcess, signum: int) -> None:
        # Never to bubblewrap itself (SIGINT would kill it: it does not forward signals): to the
        # kernel's process group inside, found as bwrap -> its init (pid 1 inside) -> the kernel.
        for pid in [p for init in _children(process.pid) for p in _children(init)]:
            try:
                os.killpg(pid, signum)
            except OSError:
                with contextlib.suppress(OSError):
                    os.kill(pid, signum)

    def exit_reason(self, request: SandboxRequest, returncode: int) -> str:
        handle = self._handles.get(request.kernel_id)
        if handle is not None and self.cgroups is not None and self.cgroups.oom_killed(handle):
            return f"killed: out of memory (limit {request.limits.memory_mb} MiB)"
        if returncode in (128 + 24, -24):
            return f"killed: CPU time limit ({request.limits.cpu_s} s of CPU)"
        return describe_returncode(returncode)

    # ---- the command ----

    def _system_binds(self, mounts: _Mounts) -> None:
        mounts.bind("--ro-bind", "/usr")
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            try:
                st = os.lstat(top)
            except FileNotFoundError:
                continue
            if stat.S_ISLNK(st.st_mode):
                mounts.args += ["--symlink", os.readlink(top), top]
            else:
                mounts.bind("--ro-bind", top)
        for pattern in self.etc:
            for path in sorted(glob.glob(os.path.join("/etc", pattern))):
                mounts.bind("--ro-bind", path)

    def _etc_files(self, request: SandboxRequest, mounts: _Mounts) -> None:
        for dest, path in write_etc_files(request).items():
            mounts.bind("--ro-bind", path, dest)

    def command(self, request: SandboxRequest) -> Launch:
        limits = request.limits
        bwrap = _tool("bwrap") or "bwrap"
        mounts = _Mounts(
            [
                bwrap,
                "--die-with-parent",
                "--unshare-net",
                "--unshare-pid",
                "--unshare-ipc",
                "--unshare-uts",
                "--unshare-cgroup-try",
                "--new-session",
                "--hostname",
                "sandbox",
                "--clearenv",
            ]
        )
        self._system_binds(mounts)
        self._etc_files(request, mounts)
        mounts.args += ["--proc", "/proc", "--dev", "/dev"]
        mounts.made.update({"/proc", "/dev"})
        # POSIX semaphores and shared memory (Python's multiprocessing) need a writable /dev/shm.
        mounts.tmpfs("/dev/shm", mode="1777", size=limits.tmp_mb * MIB)  # noqa: S108 (the sandbox's own)
        mounts.tmpfs("/tmp", mode="1777", size=limits.tmp_mb * MIB)  # noqa: S108 (the sandbox's own)
        # After the private /tmp: an install that lives under /tmp (a CI checkout, say) stays visible.
        for path in [*python_paths(), *request.python_paths, *request.ro_paths]:
            if os.path.exists(path) and not _under(path, "/usr"):
                mounts.bind("--ro-bind", path)
        mounts.bind("--bind" if request.work_writable else "--ro-bind", request.work_dir)
        for path in request.masked:
            mounts.tmpfs(path)
        mounts.bind("--ro-bind", request.conn_dir)
        mounts.bind("--bind", request.socket_dir)
        args = mounts.args
        args += ["--chdir", request.work_dir]
        env = kernel_environment(request)
        for key, value in sorted(env.items()):
            args += ["--setenv", key, value]
        args.append("--")
        prlimit = [_tool("prlimit") or "prlimit", "--core=0"]
        if limits.nproc:
            prlimit.append(f"--nproc={limits.nproc}")
        if limits.cpu_s:
            # SIGXCPU at the soft limit, SIGKILL a little later should it be caught.
            prlimit.append(f"--cpu={limits.cpu_s}:{limits.cpu_s + 5}")
        if limits.fsize_mb:
            prlimit.append(f"--fsize={limits.fsize_mb * MIB}")
        if limits.nofile:
            prlimit.append(f"--nofile={limits.nofile}")
        handle = self._handles.get(request.kernel_id)
        if limits.memory_mb and (handle is None or handle.memory is None):
            prlimit.append(f"--as={limits.memory_mb * MIB}")
        args += [*prlimit, "--"]
        uid = str(request.uid)
        args += [
            _tool("setpriv") or "setpriv",
            "--reuid",
            uid,
            "--regid",
            uid,
            "--clear-groups",
            "--inh-caps=-all",
            "--bounding-set=-all",
            "--no-new-privs",
            "--",
            *request.argv,
        ]
        if request.cgroup_procs:
            args = ["/bin/sh", "-c", _JOIN_CGROUPS, "sh", *request.cgroup_procs, "--", *args]
        # bwrap itself gets a minimal environment: it needs none of the server's variables.
        return Launch(args, {"PATH": "/usr/bin:/bin"})
