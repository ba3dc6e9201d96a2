"""SandboxProvisioner: the jupyter_client kernel provisioner (entry point `interview-sandbox`) for every room kernel.

It keeps LocalProvisioner's process handling (one process handle per kernel: a Popen, or the
handle of a container a backend started itself) and changes what is launched and how the server
reaches it:

- The kernel speaks ZMQ over ipc sockets in a per-kernel folder, since it has no network. The
  connection file sits in a root-owned folder the kernel sees read-only, so nothing in the sandbox
  can plant a link where the server writes it. Once the kernel has bound its sockets the socket
  folder is handed back to root, so the kernel cannot swap a socket for a link to a host socket.
- The command is wrapped by a `SandboxBackend` (bubblewrap by default, or a Docker-API container;
  "none" only by explicit choice, with a warning at every start) with the room folder as the only
  writable place, the room's own uid and the limits configured here.
- SIGINT and other non-fatal signals go to the kernel process inside the sandbox (the backend's
  `signal_kernel`), never to bubblewrap, which does not forward them and dies of them.
- A kernel that dies is noticed within `death_poll_interval_s` and the reason (out of memory, CPU
  limit, a signal, an exit status) is kept in `last_exit_reason` and logged.

Settings are traitlets of this class (`c.SandboxProvisioner.memory_limit_mb = 512`, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time
from typing import Any

from jupyter_client.connect import KernelConnectionInfo
from jupyter_client.provisioning.local_provisioner import LocalProvisioner
from traitlets import Float, Integer, List, Unicode, default
from traitlets.config import Configurable

from jupyter_interview.sandbox.backend import (
    KernelProcess,
    Launch,
    Limits,
    SandboxBackend,
    SandboxError,
    SandboxRequest,
    backend_class,
)
from jupyter_interview.sandbox.bubblewrap import DEFAULT_ETC, BubblewrapBackend, python_paths
from jupyter_interview.sandbox.uids import room_uid

PROVISIONER_NAME = "interview-sandbox"
# Keyword arguments the kernel manager passes to start_kernel for a room kernel; they reach
# pre_launch (and are kept for restarts) and are removed before Popen sees them.
ROOM_ARG = "interview_room"
ROOM_DIR_ARG = "interview_room_dir"
ROOMS_FOLDER_NAME = "interviews"

# How much of a kernel's own stdout/stderr (not its cell output) reaches the server log per launch.
LOG_CAP_BYTES = 64 * 1024
_SOCKET_PREFIX = "k"


def _default_state_dir() -> str:
    if os.geteuid() == 0:
        return "/run/jupyter-interview"
    return os.path.join(tempfile.gettempdir(), f"jupyter-interview-{os.geteuid()}")


def _ensure_private_dir(path: str) -> str:
    """Create (or check) a directory only this user can write, not through a link; return its real path."""
    os.makedirs(path, mode=0o711, exist_ok=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise SandboxError(
            f"the sandbox state folder {path} must be a directory owned by uid {os.geteuid()} and writable"
            " by it alone"
        )
    return os.path.realpath(path)


class SandboxProvisioner(LocalProvisioner):
    """Launches a kernel inside the configured sandbox backend, reached over ipc sockets."""

    backend = Unicode(
        "bubblewrap",
        config=True,
        help="How kernels are isolated: 'bubblewrap' (Linux namespaces, the default), 'docker' (one"
        " container per kernel through a Docker-API engine; settings under DockerBackend), 'none' (no"
        " isolation at all: only for trusted single-user set-ups; a warning is logged at every kernel"
        " start), or the import path of a SandboxBackend subclass.",
    )
    uid_min = Integer(
        200000,
        config=True,
        help="First uid of the range sandboxed kernels run as. uid_min itself is used by sandboxed"
        " kernels outside rooms; each room gets its own uid above it, recorded as its folder's owner.",
    )
    uid_max = Integer(299999, config=True, help="Last uid of the sandbox range (see uid_min).")
    memory_limit_mb = Integer(
        1024,
        config=True,
        help="Memory per kernel in MiB (all its processes): a memory cgroup where the machine allows,"
        " else RLIMIT_AS per process. 0: no limit.",
    )
    nproc_limit = Integer(
        256,
        config=True,
        help="Processes and threads per room (RLIMIT_NPROC of the room's uid; also a pids cgroup per"
        " kernel where available). 0: no limit.",
    )
    cpu_time_limit_s = Integer(
        1800,
        config=True,
        help="CPU seconds per process (RLIMIT_CPU): a runaway process is killed with SIGXCPU. The"
        " wall-clock limit per execution is the room's exec_time_limit_s. 0: no limit.",
    )
    file_size_limit_mb = Integer(
        64, config=True, help="Largest file a kernel may write, in MiB (RLIMIT_FSIZE). 0: no limit."
    )
    open_files_limit = Integer(1024, config=True, help="Open files per process (RLIMIT_NOFILE). 0: no limit.")
    tmp_size_mb = Integer(256, config=True, help="Size of the kernel's private /tmp (a tmpfs), in MiB.")
    etc_paths = List(
        Unicode(),
        default_value=list(DEFAULT_ETC),
        config=True,
        help="Entries of /etc (glob patterns) a sandbox sees; passwd, group, hosts and nsswitch.conf are"
        " written for each sandbox instead.",
    )
    extra_ro_paths = List(
        Unicode(),
        default_value=[],
        config=True,
        help="More host paths visible read-only in every sandbox (e.g. a toolchain outside /usr).",
    )
    state_dir = Unicode(
        config=True,
        help="Where per-kernel connection files and sockets live (root-only; short, as socket paths"
        " are limited to 107 bytes). Default: /run/jupyter-interview as root.",
    )
    death_poll_interval_s = Float(
        0.5,
        config=True,
        help="How often the kernel's restarter checks that a sandboxed kernel is alive, in seconds: a"
        " kernel killed for memory or CPU is noticed (and restarted) this fast.",
    )
    socket_wait_s = Float(60.0, config=True, help="Longest wait for a new kernel to bind its sockets.")

    @default("state_dir")
    def _state_dir_default(self) -> str:
        return _default_state_dir()

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._backend: SandboxBackend | None = None
        self._request: SandboxRequest | None = None
        self._kernel_dir: str | None = None
        self._noted: object | None = None  # the process whose exit was noted (a pid can be reused)
        # release() runs in worker threads; poll() and wait() can overlap during a shutdown.
        self._release_lock = threading.Lock()
        self._log_reader: int | None = None
        self._log_bytes = 0
        # The last unexpected death of this kernel's process (not a requested shutdown or restart).
        self.last_exit_reason: str | None = None
        self.last_exit_time: float | None = None
        self.uid: int | None = None
        self.room: str | None = None

    # ---- set-up ----

    @property
    def sandbox(self) -> SandboxBackend:
        if self._backend is None:
            cls = backend_class(self.backend)
            if issubclass(cls, BubblewrapBackend):
                self._backend = cls(self.log, etc=tuple(self.etc_paths))
            elif issubclass(cls, Configurable):
                # Its settings come from the server's config, through this provisioner.
                self._backend = cls(self.log, parent=self)  # type: ignore[call-arg]
            else:
                self._backend = cls(self.log)
        return self._backend

    @property
    def limits(self) -> Limits:
        return Limits(
            memory_mb=self.memory_limit_mb,
            nproc=self.nproc_limit,
            cpu_s=self.cpu_time_limit_s,
            fsize_mb=self.file_size_limit_mb,
            nofile=self.open_files_limit,
            tmp_mb=self.tmp_size_mb,
        )

    def _dirs(self, uid: int | None) -> tuple[str, str]:
        """The kernel's connection folder (root's, read-only inside) and socket folder (the uid's while starting)."""
        if self._kernel_dir is None:
            base = _ensure_private_dir(self.state_dir)
            self._kernel_dir = tempfile.mkdtemp(prefix="", dir=base)
            os.chmod(self._kernel_dir, 0o711)  # noqa: S103 (traversable, not listable: the socket paths run through it)
        conn = os.path.join(self._kernel_dir, "c")
        sock = os.path.join(self._kernel_dir, "s")
        os.makedirs(conn, mode=0o755, exist_ok=True)
        os.makedirs(sock, mode=0o700, exist_ok=True)
        if len(os.path.join(sock, f"{_SOCKET_PREFIX}-99999")) > 100:
            raise SandboxError(f"SandboxProvisioner.state_dir {self.state_dir} is too long for socket paths")
        # A restart: the previous kernel's sockets go (jupyter_client removes the ones it knows).
        for name in os.listdir(sock):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(sock, name))
        if uid is not None:
            os.chown(sock, uid, uid)
            os.chmod(sock, 0o700)
        return conn, sock

    def _module_paths(self, argv: list[str]) -> tuple[list[str], list[str]]:
        """For `python -m pkg`: the package folder to show read-only and the entry for PYTHONPATH,
        when the package lives outside the Python installation (an editable install)."""
        if "-m" not in argv[:-1]:
            return [], []
        top = argv[argv.index("-m") + 1].split(".")[0]
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            return [], []
        if spec is None:
            return [], []
        if spec.submodule_search_locations:
            location = os.path.realpath(next(iter(spec.submodule_search_locations)))
        elif spec.origin:
            location = os.path.realpath(spec.origin)
        else:
            return [], []
        bound = [os.path.realpath(p) for p in python_paths()] + ["/usr"]
        if any(location == b or location.startswith(b + "/") for b in bound):
            return [], []
        return [location], [os.path.dirname(location)]

    def _place(self, cwd: Any, room_dir: Any, isolated: bool) -> tuple[str, bool, list[str], int | None]:
        """The kernel's folder, whether it may write there, the paths to hide and its uid."""
        masked: list[str] = []
        if room_dir:
            work = os.path.realpath(str(room_dir))
            if os.path.islink(str(room_dir)) or not os.path.isdir(work):
                raise SandboxError(f"the room folder {room_dir} is missing or is a link")
            uid = room_uid(work, self.uid_min, self.uid_max) if isolated else None
            return work, True, masked, uid
        # Not a room's kernel (the owner's): its folder read-only, the rooms hidden.
        work = os.path.realpath(str(cwd or os.getcwd()))
        rooms = os.path.join(work, ROOMS_FOLDER_NAME)
        if os.path.isdir(rooms) and not os.path.islink(rooms):
            masked.append(rooms)
        return work, False, masked, self.uid_min if isolated else None

    def _spec_paths(self) -> list[str]:
        resource_dir = getattr(self.kernel_spec, "resource_dir", "")
        paths = [os.path.realpath(resource_dir)] if resource_dir and os.path.isdir(resource_dir) else []
        return paths + [p for p in self.extra_ro_paths if p]

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        room = kwargs.pop(ROOM_ARG, None)
        room_dir = kwargs.pop(ROOM_DIR_ARG, None)
        backend = self.sandbox
        # A container backend asks its engine: not on the event loop.
        problems = await asyncio.to_thread(backend.check)
        if problems:
            raise SandboxError("the kernel sandbox cannot start: " + "; ".join(problems))
        isolated = backend.isolated
        if not isolated:
            self.log.warning(
                "Kernel %s starts WITHOUT a sandbox (SandboxProvisioner.backend = %r): its code can read"
                " and write everything the server can, including other rooms and the server's secrets.",
                self.kernel_id,
                self.backend,
            )
        work, writable, masked, uid = self._place(kwargs.get("cwd"), room_dir, isolated)
        self.uid, self.room = uid, room
        conn, sock = self._dirs(uid)

        km = self.parent
        if km is not None:
            # ipc transport with the sockets in the folder the sandbox shares; no tcp ports at all.
            km.transport = "ipc"
            km.ip = os.path.join(sock, _SOCKET_PREFIX)
            km.cache_ports = False
            km.connection_file = os.path.join(conn, "kernel.json")
        kwargs = await super().pre_launch(**kwargs)
        if km is not None and uid is not None:
            # Readable by the kernel alone; its folder is root's and read-only inside the sandbox.
            os.chown(km.connection_file, uid, uid)
            os.chmod(km.connection_file, 0o400)

        cmd: list[str] = list(kwargs.pop("cmd"))
        env: dict[str, str] = dict(kwargs.pop("env"))
        module_paths, pythonpath = self._module_paths(cmd)
        if isolated:
            # None of the server's variables: only what the kernelspec sets and the session name.
            kernel_env = {k: env[k] for k in getattr(self.kernel_spec, "env", {}) if k in env}
            if "JPY_SESSION_NAME" in env:
                kernel_env["JPY_SESSION_NAME"] = env["JPY_SESSION_NAME"]
            if pythonpath:
                kernel_env["PYTHONPATH"] = os.pathsep.join(pythonpath)
        else:
            kernel_env = env
        request = SandboxRequest(
            kernel_id=str(self.kernel_id),
            argv=cmd,
            env=kernel_env,
            work_dir=work,
            work_writable=writable,
            masked=masked,
            uid=uid if uid is not None else os.geteuid(),
            conn_dir=conn,
            socket_dir=sock,
            limits=self.limits,
            ro_paths=self._spec_paths(),
            python_paths=module_paths,
        )
        request = backend.prepare(request)
        self._request = request
        launch = backend.command(request)
        kwargs["cmd"] = launch.argv
        kwargs["env"] = launch.env
        kwargs["cwd"] = work if not isolated else "/"
        return kwargs

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> KernelConnectionInfo:
        kwargs["stdout"] = subprocess.PIPE
        kwargs["stderr"] = subprocess.STDOUT
        started = time.monotonic()
        request = self._request
        process: KernelProcess | None = None
        if request is not None:
            launch = Launch(list(cmd), dict(kwargs.get("env") or {}))
            process = await asyncio.to_thread(self.sandbox.launch, request, launch)
        if process is None:
            info: KernelConnectionInfo = await super().launch_kernel(cmd, **kwargs)
        else:
            # The backend started the kernel (a container): its handle stands in for the Popen.
            self.process = process  # type: ignore[assignment]
            self.pid, self.pgid = process.pid, None
            self.cwd = request.work_dir if request is not None else None
            info = self.connection_info
        self._noted = None
        self._watch_output()
        self.log.debug(
            "Kernel %s launched in %s sandbox as uid %s (%.0f ms)",
            self.kernel_id,
            self.backend,
            self.uid,
            (time.monotonic() - started) * 1000,
        )
        return info

    def _watch_output(self) -> None:
        """Forward the kernel's own stdout/stderr to the log, capped; drain the rest so it never blocks."""
        proc = self.process
        if proc is None or proc.stdout is None:
            return
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        self._log_bytes = 0
        loop = asyncio.get_running_loop()

        def readable() -> None:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(fd)
                self._log_reader = None
                return
            if self._log_bytes < LOG_CAP_BYTES:
                text = data[: LOG_CAP_BYTES - self._log_bytes].decode("utf-8", "replace").rstrip()
                if text:
                    self.log.info("[kernel %s] %s", str(self.kernel_id)[:8], text)
                self._log_bytes += len(data)
                if self._log_bytes >= LOG_CAP_BYTES:
                    self.log.warning(
                        "[kernel %s] further output to its stdout/stderr is dropped", self.kernel_id
                    )

        loop.add_reader(fd, readable)
        self._log_reader = fd

    def _stop_watching_output(self) -> None:
        if self._log_reader is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._log_reader)
            self._log_reader = None

    async def post_launch(self, **kwargs: Any) -> None:
        await super().post_launch(**kwargs)
        if self.sandbox.isolated and self.uid is not None:
            await self._lock_socket_dir()
        restarter = getattr(self.parent, "_restarter", None)
        interval = self.death_poll_interval_s
        if restarter is not None and interval > 0 and restarter.time_to_dead > interval:
            restarter.stop()
            restarter.time_to_dead = interval
            restarter.start()

    async def _lock_socket_dir(self) -> None:
        """Once the kernel's sockets exist, make their folder root's: nothing inside can replace them."""
        km = self.parent
        request = self._request
        if km is None or request is None:
            return
        sock = request.socket_dir
        expected = {f"{_SOCKET_PREFIX}-{port}" for port in km.ports}
        deadline = time.monotonic() + self.socket_wait_s
        while True:
            try:
                names = set(os.listdir(sock))
            except OSError:
                names = set()
            if expected <= names:
                break
            if self.process is None or self.process.poll() is not None or time.monotonic() > deadline:
                self.log.warning("Kernel %s did not bind its sockets; it is not running", self.kernel_id)
                return
            await asyncio.sleep(0.01)
        os.chown(sock, 0, 0)
        os.chmod(sock, 0o755)  # noqa: S103 (root's now; the kernel may still reach its sockets)
        for name in os.listdir(sock):
            st = os.lstat(os.path.join(sock, name))
            if name not in expected or not stat.S_ISSOCK(st.st_mode) or st.st_uid != request.uid:
                self.log.error(
                    "Kernel %s left %r in its socket folder (not one of its sockets): stopping it",
                    self.kernel_id,
                    name,
                )
                await self.kill()
                raise SandboxError(f"kernel {self.kernel_id} tampered with its socket folder")

    # ---- signals and death ----

    async def send_signal(self, signum: int) -> None:
        process = self.process
        if process is None:
            return
        if not self.sandbox.isolated:
            await super().send_signal(signum)
            return
        if signum in (signal.SIGKILL, signal.SIGTERM):
            # The whole sandbox goes: bubblewrap's child dies with it (--die-with-parent), and all
            # processes of its pid namespace with that child; a container is killed by its engine.
            with contextlib.suppress(ProcessLookupError):
                await asyncio.to_thread(process.send_signal, signum)
            return
        await asyncio.to_thread(self.sandbox.signal_kernel, process, signum)

    def _note_exit(self, returncode: int) -> None:
        proc = self.process
        if proc is None or proc is self._noted:
            return
        self._noted = proc
        if getattr(self.parent, "shutting_down", False):
            return  # a shutdown or restart someone asked for: not a death
        request = self._request
        reason = (
            self.sandbox.exit_reason(request, returncode)
            if request is not None
            else f"exited with status {returncode}"
        )
        self.last_exit_reason = reason
        self.last_exit_time = time.time()
        self.log.warning("Kernel %s (room %s) died: %s", self.kernel_id, self.room or "-", reason)

    async def poll(self) -> int | None:
        proc = self.process
        ret: int | None = await super().poll()
        if proc is not None and ret is not None:
            self._note_exit(ret)
            await asyncio.to_thread(self._release)
        return ret

    async def wait(self) -> int | None:
        proc = self.process
        if proc is not None and proc.poll() is not None:
            self._note_exit(proc.returncode)
        ret: int | None = await super().wait()
        await asyncio.to_thread(self._release)
        return ret

    def _release(self) -> None:
        """Give back the launch's resources (cgroups, a container) once its process is gone; safe to repeat."""
        with self._release_lock:
            if self._request is not None and self._backend is not None:
                self._backend.release(self._request)

    def discard(self) -> None:
        """Free everything this kernel held on the host: for a kernel dropped without a cleanup
        (Jupyter removes a kernel whose restarts all failed without shutting it down)."""
        self._stop_watching_output()
        self._release()
        if self._kernel_dir is not None:
            shutil.rmtree(self._kernel_dir, ignore_errors=True)
            self._kernel_dir = None

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        self._stop_watching_output()
        await asyncio.to_thread(self._release)
        if not restart:
            self.discard()

    def resolve_path(self, path_str: str) -> str | None:
        """Resolve only inside the kernel's folder: a kernel must not make the server stat paths elsewhere."""
        request = self._request
        if request is None:
            return None
        path = os.path.realpath(os.path.join(request.work_dir, os.path.expanduser(path_str)))
        if path != request.work_dir and not path.startswith(request.work_dir + os.sep):
            return None
        return path if os.path.exists(path) else None

    async def get_provisioner_info(self) -> dict[str, Any]:
        info: dict[str, Any] = await super().get_provisioner_info()
        info.update({"uid": self.uid, "room": self.room, "backend": self.backend})
        return info


def preflight(parent: Any) -> tuple[str, bool, list[str]]:
    """The configured backend's name, whether it isolates, and what stops it from running here."""
    probe = SandboxProvisioner(parent=parent)
    try:
        backend = probe.sandbox
    except SandboxError as e:
        return probe.backend, True, [str(e)]
    return probe.backend, backend.isolated, backend.check()
