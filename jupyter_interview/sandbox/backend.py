"""The seam between the kernel provisioner and a way of isolating a kernel: what a backend is given and returns.

A backend turns a plain kernel command into one that runs isolated. It is given a `SandboxRequest`
(the command, the kernel's environment, the folder it may write, the directories of its sockets and
connection file, the uid to run as and the limits) and returns a `Launch`: the command and
environment the kernel runs with. A backend that only wraps a command (bubblewrap) lets the
provisioner run the `Launch` with `subprocess.Popen`; one that starts the kernel itself (a container
engine) does so in `launch` and hands back a `KernelProcess`, the part of Popen's interface the
provisioner uses (poll, wait, signals, stdout), so the provisioner polls, signals and reaps a
container exactly as it does a local process. Resources are set up in `prepare` and given back in
`release`; `signal_kernel` delivers an interrupt to the kernel inside, not to its wrapper;
`exit_reason` explains a death.

Backends are named in `BACKENDS` ("bubblewrap", "docker", "none"); a deployment may name its own
class by its import path instead. A backend that is also a traitlets `Configurable` gets the
server's config (`c.DockerBackend.image = ...`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import IO, ClassVar, Protocol

from traitlets.utils.importstring import import_item

# PATH inside a sandbox: system toolchains only, never the server's own PATH.
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"


class SandboxError(Exception):
    """A kernel cannot be started in its sandbox (a missing tool, a bad setting): the message says why."""


@dataclass(frozen=True)
class Limits:
    """Per-kernel resource limits; 0 means no limit for that resource."""

    memory_mb: int = 1024
    nproc: int = 256
    cpu_s: int = 1800
    fsize_mb: int = 64
    nofile: int = 1024
    tmp_mb: int = 256


@dataclass(frozen=True)
class SandboxRequest:
    """Everything a backend needs to know about one kernel launch."""

    kernel_id: str
    argv: list[str]
    env: dict[str, str]  # the kernel's own variables (never the server's environment)
    work_dir: str  # absolute; the kernel's cwd, at the same path inside
    work_writable: bool  # a room folder: read-write; anything else: read-only
    masked: list[str]  # paths under work_dir hidden behind an empty tmpfs (other rooms' folders)
    uid: int  # unprivileged uid (and gid) the kernel runs as
    conn_dir: str  # root-owned; holds the connection file; read-only inside
    socket_dir: str  # the kernel's ipc sockets; writable inside while the kernel starts
    limits: Limits
    ro_paths: list[str] = field(default_factory=list)  # extra host paths visible read-only
    # Packages a `python -m pkg` kernel imports from outside the server's Python (an editable
    # install): needed when the kernel runs the server's own interpreter, not an image's.
    python_paths: list[str] = field(default_factory=list)
    cgroup_procs: list[str] = field(default_factory=list)  # cgroup.procs files the launch joins first


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]


class KernelProcess(Protocol):
    """What the provisioner uses of a running kernel: the part of `subprocess.Popen` a backend that
    starts kernels itself (a container) provides. `returncode` stays None while the kernel runs."""

    pid: int
    returncode: int | None
    stdin: IO[bytes] | None
    stdout: IO[bytes] | None  # the kernel's own stdout and stderr, read by the provisioner for its log
    stderr: IO[bytes] | None

    def poll(self) -> int | None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def send_signal(self, sig: int) -> None: ...

    def kill(self) -> None: ...

    def terminate(self) -> None: ...


class SandboxBackend:
    """Isolates a kernel. Subclasses override `command` and, when they hold resources, `prepare`/`release`."""

    name: ClassVar[str] = "abstract"
    isolated: ClassVar[bool] = True  # False only for the explicit no-sandbox backend

    def __init__(self, log: logging.Logger | None = None) -> None:
        self.log = log or logging.getLogger(__name__)

    def check(self) -> list[str]:
        """Reasons this backend cannot run on this machine (empty: it can)."""
        return []

    def prepare(self, request: SandboxRequest) -> SandboxRequest:
        """Set up resources before the launch (e.g. cgroups); may return an amended request."""
        return request

    def command(self, request: SandboxRequest) -> Launch:
        raise NotImplementedError

    def launch(self, request: SandboxRequest, launch: Launch) -> KernelProcess | None:
        """Start the kernel when the backend runs it itself, returning its handle; None (the
        default): the provisioner runs `launch` with Popen. Called in a worker thread: it may block."""
        return None

    def signal_kernel(self, process: KernelProcess, signum: int) -> None:
        """Deliver a signal other than SIGTERM/SIGKILL (an interrupt) to the kernel inside the sandbox."""
        process.send_signal(signum)

    def exit_reason(self, request: SandboxRequest, returncode: int) -> str:
        """A sentence on why the kernel ended, for logs and for the people in the room."""
        return describe_returncode(returncode)

    def release(self, request: SandboxRequest) -> None:
        """Give back what the launch held (cgroups, a container) once its process is gone; safe to repeat.
        Called in a worker thread where the provisioner can (it may block), inline from `discard`."""


def kernel_environment(request: SandboxRequest) -> dict[str, str]:
    """The environment inside a sandbox: a fixed base (the sandbox's own /tmp as home) and the
    kernel's own variables; never the server's."""
    return {
        "PATH": SANDBOX_PATH,
        "HOME": "/tmp",  # noqa: S108 (the sandbox's private /tmp)
        "TMPDIR": "/tmp",  # noqa: S108
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "USER": "sandbox",
        "LOGNAME": "sandbox",
        "SHELL": "/bin/sh",
        "PYTHONDONTWRITEBYTECODE": "1",
        "IPYTHONDIR": "/tmp/.ipython",  # noqa: S108
        "MPLCONFIGDIR": "/tmp/.matplotlib",  # noqa: S108
        "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter-runtime",  # noqa: S108
        **request.env,
    }


def write_etc_files(request: SandboxRequest) -> dict[str, str]:
    """Small /etc files for one sandbox (its uid as the only user, localhost only, no DNS), written
    into the kernel's root-owned connection folder: /etc/<name> -> the host file to bind there."""
    uid = request.uid
    files = {
        "passwd": f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nsandbox:x:{uid}:{uid}:sandbox:/tmp:/bin/sh\n",
        "group": f"root:x:0:\nsandbox:x:{uid}:\n",
        "hosts": "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n",
        "hostname": "sandbox\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\nhosts: files\n",
        "resolv.conf": "",
    }
    etc = os.path.join(request.conn_dir, "etc")
    os.makedirs(etc, mode=0o755, exist_ok=True)
    written = {}
    for name, text in files.items():
        path = os.path.join(etc, name)
        tmp = path + ".new"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        written[os.path.join("/etc", name)] = path
    return written


def describe_returncode(returncode: int) -> str:
    # bwrap reports a child killed by signal N as exit status 128 + N, like a shell.
    if returncode < 0:
        return f"killed by signal {-returncode}"
    if returncode > 128:
        return f"killed by signal {returncode - 128}"
    return f"exited with status {returncode}"


class NoSandbox(SandboxBackend):
    """Runs the kernel as the server's user with the server's view of everything. Explicit opt-in only."""

    name = "none"
    isolated = False

    def command(self, request: SandboxRequest) -> Launch:
        return Launch(list(request.argv), dict(request.env))


BACKENDS: dict[str, str] = {
    "bubblewrap": "jupyter_interview.sandbox.bubblewrap.BubblewrapBackend",
    "docker": "jupyter_interview.sandbox.docker.DockerBackend",
    "none": "jupyter_interview.sandbox.backend.NoSandbox",
}


def backend_class(name: str) -> type[SandboxBackend]:
    """The class of a backend named in BACKENDS or by its import path (package.module.Class)."""
    path = BACKENDS.get(name, name)
    if "." not in path:
        raise SandboxError(f"unknown sandbox backend {name!r}; known: {', '.join(sorted(BACKENDS))}")
    try:
        cls = import_item(path)
    except (ImportError, AttributeError) as e:
        raise SandboxError(f"sandbox backend {name!r} cannot be imported: {e}") from e
    if not (isinstance(cls, type) and issubclass(cls, SandboxBackend)):
        raise SandboxError(f"sandbox backend {name!r} is not a SandboxBackend subclass")
    return cls
