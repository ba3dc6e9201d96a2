"""The seam between the kernel provisioner and a way of isolating a kernel: what a backend is given and returns.

A backend turns a plain kernel command into one that runs isolated. It is given a `SandboxRequest`
(the command, the kernel's environment, the folder it may write, the directories of its sockets and
connection file, the uid to run as and the limits) and returns a `Launch`: the command and
environment that `subprocess.Popen` runs. Backends that need more than a command (a cgroup, a
container) do their setup in `prepare` and undo it in `release`; `exit_reason` explains a death.

Backends are named in `BACKENDS` ("bubblewrap", "none"); a deployment may name its own class by
its import path instead.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar

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
    cgroup_procs: list[str] = field(default_factory=list)  # cgroup.procs files the launch joins first


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]


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

    def exit_reason(self, request: SandboxRequest, returncode: int) -> str:
        """A sentence on why the kernel ended, for logs and for the people in the room."""
        return describe_returncode(returncode)

    def release(self, request: SandboxRequest) -> None:
        """Undo `prepare` once the kernel is gone for good (not between restarts)."""


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
