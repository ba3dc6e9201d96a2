"""The Docker backend: one container per kernel launch, through any Docker-API engine (Docker, or podman's service).

A launch creates and starts a container with no network (`network_mode: none`: only a loopback
interface), a read-only root filesystem, every capability dropped, `no-new-privileges`, the room's
uid and gid, memory (no swap beyond it), pids and CPU limits, rlimits (file size, open files, CPU
seconds, processes of the uid), a private size-limited /tmp and /dev/shm, and an init process as
pid 1 (it reaps orphans and forwards signals). Bound into it, each at its own path:

    the room folder              read-write: the one writable volume of a room's kernel
    the connection folder        read-only (connection file, the sandbox's /etc/passwd, hosts, ...)
    the socket folder            the kernel's ipc sockets; root's (not writable) once they exist
    the kernelspec's folder      read-only, with SandboxProvisioner.extra_ro_paths
    DockerBackend.host_paths     read-only: only for images that borrow the host's system

The kernel runs the image's own `python3` (`DockerBackend.python`), or the server's interpreter
and packages, bound read-only, with `use_server_python`. The server talks to the kernel over the
ipc sockets in the bound folder, as with bubblewrap: no port is published.

The container is the kernel's process for the provisioner: `ContainerProcess` answers poll, wait,
signals and stdout like a Popen. A thread waits on the engine for the container's exit, so a death
is seen without polling the engine; the reason comes from the engine's `OOMKilled` and exit status
(and, where the engine does not report OOM kills, from an OOM watch on the container's cgroup).
The container is removed once its kernel is gone (`release`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import IO, Any

from traitlets import Bool, Float, List, Unicode
from traitlets.config import Configurable

from jupyter_interview.sandbox.backend import (
    KernelProcess,
    Launch,
    SandboxBackend,
    SandboxError,
    SandboxRequest,
    describe_returncode,
    kernel_environment,
    write_etc_files,
)
from jupyter_interview.sandbox.bubblewrap import python_paths
from jupyter_interview.sandbox.cgroups import OomWatch

MIB = 1024 * 1024
# Every kernel container carries its kernel id under this label (`docker ps --filter label=...`).
LABEL = "io.jupyter-interview.kernel"


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _docker() -> Any:
    """The docker SDK, imported on first use: servers with other backends do not need it."""
    docker: Any
    try:
        import docker
    except ImportError:
        docker = None
    # A checkout's own docker/ folder imports as an empty namespace package where the SDK is missing.
    if docker is None or not hasattr(docker, "DockerClient"):
        raise SandboxError(
            "the docker backend needs the docker Python package (pip install 'jupyter-interview[docker]')"
        )
    return docker


def _gone(docker: Any, error: Exception) -> bool:
    """Whether an engine error says the container does not exist (podman answers some calls about
    a removed container with 500 "no such container" rather than 404)."""
    if isinstance(error, docker.errors.NotFound):
        return True
    return isinstance(error, docker.errors.APIError) and "no such container" in str(error).lower()


class ContainerProcess:
    """A kernel's container seen as its process: polled, waited for, signalled and read like a Popen.

    `returncode` is set by a thread blocked in the engine's wait call, so `poll` asks nothing of the
    engine. The container's log (the kernel's own stdout and stderr) is copied into a pipe that the
    provisioner reads like a Popen's stdout; when the reader falls behind, output is dropped.
    """

    stdin: IO[bytes] | None = None
    stderr: IO[bytes] | None = None

    def __init__(self, container: Any, log: logging.Logger, oom: OomWatch | None = None) -> None:
        self.container = container
        self.log = log
        self.name = str(container.name)
        self.pid = int(container.attrs.get("State", {}).get("Pid") or 0)
        self.returncode: int | None = None
        self.oom_killed = False
        self.vanished = False  # the container went away without an exit status
        self._oom = oom
        self._exited = threading.Event()
        self._removed = False
        read_fd, write_fd = os.pipe()
        os.set_blocking(write_fd, False)
        self.stdout: IO[bytes] | None = os.fdopen(read_fd, "rb", buffering=0)
        threading.Thread(target=self._wait_for_exit, name=f"wait-{self.name}", daemon=True).start()
        threading.Thread(
            target=self._copy_log, args=(write_fd,), name=f"log-{self.name}", daemon=True
        ).start()

    # ---- threads ----

    def _wait_for_exit(self) -> None:
        docker = _docker()
        status: int | None = None
        delay = 0.5
        while not self._removed:
            try:
                status = int(self.container.wait().get("StatusCode", -1))
                break
            except Exception as e:  # the engine restarting, a dropped connection: ask again
                if self._removed or _gone(docker, e):
                    break
                self.log.debug("waiting for container %s: %s", self.name, e)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        oom = False
        if not self._removed:
            try:
                self.container.reload()
                state = self.container.attrs.get("State", {})
                oom = bool(state.get("OOMKilled"))
                if status is None and state.get("Status") in ("exited", "dead"):
                    status = int(state.get("ExitCode", -1))
            except Exception as e:
                self.log.debug("container %s after its exit: %s", self.name, e)
        self.oom_killed = oom or (self._oom is not None and self._oom.kills > 0)
        if status is None:
            self.vanished = not self._removed
            status = 128 + signal.SIGKILL
        self.returncode = status
        self._exited.set()
        self.log.debug("container %s exited: %s", self.name, status)

    def _copy_log(self, write_fd: int) -> None:
        try:
            for chunk in self.container.logs(stream=True, follow=True, stdout=True, stderr=True):
                try:
                    os.write(write_fd, chunk)
                except BlockingIOError:
                    continue  # the reader is behind: this is only the server log's copy
                except OSError:
                    break  # the reader is gone
        except Exception as e:
            self.log.debug("log of container %s: %s", self.name, e)
        finally:
            os.close(write_fd)

    # ---- the Popen part ----

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self._exited.wait(timeout):
            raise subprocess.TimeoutExpired(self.name, timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is not None:
            return  # like Popen: no signal to a process already reaped
        docker = _docker()
        try:
            self.container.kill(signal=int(sig))
        except docker.errors.APIError as e:
            # Gone, or exited before the waiting thread heard of it (engines answer 409 or 500).
            running = False
            if not _gone(docker, e):
                try:
                    self.container.reload()
                    running = self.container.status == "running"
                except docker.errors.APIError:
                    running = False
            if not running:
                raise ProcessLookupError(errno.ESRCH, f"container {self.name} is not running") from e
            raise OSError(f"container {self.name}: {e.explanation or e}") from e

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    # ---- the end ----

    def remove(self, attempts: int = 5) -> bool:
        """Remove the container (killing it first if it still runs); False if the engine refused."""
        docker = _docker()
        self._removed = True
        removed = False
        for i in range(attempts):
            try:
                self.container.remove(force=True)
                removed = True
                break
            except Exception as e:  # "removal already in progress", an engine hiccup
                if _gone(docker, e):
                    removed = True
                    break
                self.log.debug("removing container %s: %s", self.name, e)
                time.sleep(0.2 * (i + 1))
        if self._oom is not None:
            self._oom.close()
        if not self._exited.is_set() and self._exited.wait(5) is False:
            self.returncode = 128 + signal.SIGKILL
            self._exited.set()
        return removed


class DockerBackend(SandboxBackend, Configurable):
    """Runs each kernel launch in its own container. Settings: `c.DockerBackend.<name>`."""

    name = "docker"

    image = Unicode(
        "jupyter-interview-kernel:latest",
        config=True,
        help="The kernel image (docker/Dockerfile builds it). It must hold the kernel's Python, ipykernel,"
        " the interview kernel package and the toolchains; it is never pulled: it must be in the engine.",
    )
    engine_url = Unicode(
        "",
        config=True,
        help="The engine's API address, as DOCKER_HOST would give it: unix:///var/run/docker.sock,"
        " unix:///run/podman/podman.sock, tcp://host:2376. Empty: DOCKER_HOST from the server's"
        " environment, else the engine's default socket.",
    )
    python = Unicode(
        "python3",
        config=True,
        help="The interpreter inside the image that replaces the server's own one in a kernelspec's"
        " argv (the interview specs say `python`, which the server resolves to itself). Unused with"
        " use_server_python.",
    )
    use_server_python = Bool(
        False,
        config=True,
        help="Run kernels with the server's own interpreter, its installation and the packages a"
        " `python -m` kernel imports from outside it, all bound read-only at their host paths: for images"
        " that carry no Python of their own (the tests' image, or a host whose /usr is bound in).",
    )
    host_paths = List(
        Unicode(),
        default_value=[],
        config=True,
        help="Host paths (glob patterns) bound read-only at the same path into every kernel container,"
        " for images that borrow the host's system (e.g. /usr, /etc/ld.so.cache). The production"
        " image needs none. Never /, /etc as a whole, /home, /root or the server's data.",
    )
    cpus = Float(
        1.0,
        config=True,
        help="CPUs a kernel container may use (the engine's nano_cpus quota). 0: no limit.",
    )
    runtime = Unicode(
        "",
        config=True,
        help="The OCI runtime the engine uses for kernel containers (e.g. runsc for gVisor); empty: the"
        " engine's default.",
    )
    init = Bool(
        True,
        config=True,
        help="Run the engine's init as pid 1 of each container (it reaps orphaned processes and forwards"
        " signals to the kernel).",
    )
    api_version = Unicode(
        "1.41",
        config=True,
        help="The Engine API version spoken (1.41: Docker 20.10 and later, podman 4). 'auto' asks the"
        " engine at every kernel start, which podman answers slowly.",
    )
    api_timeout_s = Float(
        30.0,
        config=True,
        help="Longest wait for one call to the engine (create, start, kill, remove), in seconds.",
    )
    log_max_size = Unicode(
        "1m",
        config=True,
        help="Largest container log the engine keeps per kernel (its own stdout and stderr; cell output"
        " goes over ZMQ). The server log gets the first 64 KiB per launch.",
    )

    def __init__(self, log: logging.Logger | None = None, **kwargs: Any) -> None:
        Configurable.__init__(self, **kwargs)
        SandboxBackend.__init__(self, log)
        self._client: Any = None
        self._containers: dict[str, ContainerProcess] = {}
        self._launches = 0

    # ---- the engine ----

    @property
    def url(self) -> str:
        return self.engine_url or os.environ.get("DOCKER_HOST", "") or "the default socket"

    def client(self) -> Any:
        if self._client is None:
            docker = _docker()
            try:
                if self.engine_url:
                    self._client = docker.DockerClient(
                        base_url=self.engine_url, version=self.api_version, timeout=self.api_timeout_s
                    )
                else:
                    self._client = docker.from_env(version=self.api_version, timeout=self.api_timeout_s)
            except docker.errors.DockerException as e:
                raise SandboxError(f"cannot reach the container engine at {self.url}: {e}") from e
        return self._client

    def check(self) -> list[str]:
        if os.geteuid() != 0:
            # Room folders are handed to the rooms' uids, and the kernels' state folders are root's.
            return ["the docker backend needs the server to run as root (each room gets its own uid)"]
        try:
            docker = _docker()
            client = self.client()
            client.ping()
        except SandboxError as e:
            return [str(e)]
        except Exception as e:
            return [f"cannot reach the container engine at {self.url}: {e}"]
        try:
            client.images.get(self.image)
        except docker.errors.ImageNotFound:
            return [
                f"the kernel image {self.image!r} is not in the engine at {self.url}: build it"
                " (docker build -t jupyter-interview-kernel -f docker/Dockerfile .) or set DockerBackend.image"
            ]
        except Exception as e:
            return [f"cannot look up the kernel image {self.image!r} at {self.url}: {e}"]
        return []

    # ---- the container ----

    def command(self, request: SandboxRequest) -> Launch:
        """What runs inside the container: the kernel's argv and its environment (nothing of the server's)."""
        argv = list(request.argv)
        env = kernel_environment(request)
        if not self.use_server_python:
            if argv and os.path.realpath(argv[0]) == os.path.realpath(sys.executable):
                argv[0] = self.python
            # The image has its own packages: a PYTHONPATH into the server's install would shadow them.
            env.pop("PYTHONPATH", None)
        return Launch(argv, env)

    def _mounts(self, request: SandboxRequest) -> list[Any]:
        docker = _docker()
        mount = docker.types.Mount
        mounts: list[Any] = []
        bound: list[str] = []

        def ro(path: str, dest: str | None = None) -> None:
            dest = dest or path
            if not os.path.exists(path) or any(_under(dest, b) for b in bound):
                return
            mounts.append(mount(dest, path, type="bind", read_only=True))
            bound.append(dest)

        for pattern in self.host_paths:
            for path in sorted(glob.glob(pattern)):
                ro(os.path.realpath(path) if os.path.islink(path) else path, path)
        if self.use_server_python:
            for path in [*python_paths(), *request.python_paths]:
                ro(path)
        for path in request.ro_paths:
            ro(path)
        for dest, path in write_etc_files(request).items():
            mounts.append(mount(dest, path, type="bind", read_only=True))
        mounts.append(
            mount(request.work_dir, request.work_dir, type="bind", read_only=not request.work_writable)
        )
        for path in request.masked:
            mounts.append(mount(path, None, type="tmpfs", tmpfs_size=MIB))
        mounts.append(mount(request.conn_dir, request.conn_dir, type="bind", read_only=True))
        mounts.append(mount(request.socket_dir, request.socket_dir, type="bind", read_only=False))
        tmp_bytes = request.limits.tmp_mb * MIB
        mounts.append(mount("/tmp", None, type="tmpfs", tmpfs_size=tmp_bytes or None, tmpfs_mode=0o1777))  # noqa: S108
        return mounts

    def _ulimits(self, request: SandboxRequest) -> list[Any]:
        ulimit = _docker().types.Ulimit
        limits = request.limits
        out = [ulimit(name="core", soft=0, hard=0)]
        if limits.nproc:
            out.append(ulimit(name="nproc", soft=limits.nproc, hard=limits.nproc))
        if limits.nofile:
            out.append(ulimit(name="nofile", soft=limits.nofile, hard=limits.nofile))
        if limits.fsize_mb:
            out.append(ulimit(name="fsize", soft=limits.fsize_mb * MIB, hard=limits.fsize_mb * MIB))
        if limits.cpu_s:
            # SIGXCPU at the soft limit, SIGKILL a little later should it be caught.
            out.append(ulimit(name="cpu", soft=limits.cpu_s, hard=limits.cpu_s + 5))
        return out

    def create_options(self, request: SandboxRequest, launch: Launch) -> dict[str, Any]:
        """The engine's create options for one launch (keyword arguments of `containers.create`)."""
        docker = _docker()
        limits = request.limits
        self._launches += 1
        options: dict[str, Any] = {
            "image": self.image,
            "command": launch.argv,
            "environment": launch.env,
            "user": f"{request.uid}:{request.uid}",
            "working_dir": request.work_dir,
            "name": f"jupyter-interview-{request.kernel_id}-{self._launches}",
            "labels": {LABEL: request.kernel_id},
            "hostname": "sandbox",
            "network_mode": "none",
            "ipc_mode": "private",
            "read_only": True,
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "init": self.init,
            "mounts": self._mounts(request),
            "ulimits": self._ulimits(request),
            "shm_size": limits.tmp_mb * MIB if limits.tmp_mb else None,
            "log_config": docker.types.LogConfig(
                type="json-file", config={"max-size": self.log_max_size, "max-file": "1"}
            ),
            "detach": True,
        }
        if limits.memory_mb:
            options["mem_limit"] = options["memswap_limit"] = limits.memory_mb * MIB
        if limits.nproc:
            options["pids_limit"] = limits.nproc
        if self.cpus > 0:
            options["nano_cpus"] = int(self.cpus * 1e9)
        if self.runtime:
            options["runtime"] = self.runtime
        return {k: v for k, v in options.items() if v is not None}

    def launch(self, request: SandboxRequest, launch: Launch) -> KernelProcess:
        docker = _docker()
        self.release(request)  # a previous launch's container, if a restart left one
        client = self.client()
        options = self.create_options(request, launch)
        try:
            container = client.containers.create(**options)
        except docker.errors.ImageNotFound as e:
            raise SandboxError(f"the kernel image {self.image!r} is not in the engine at {self.url}") from e
        except docker.errors.APIError as e:
            raise SandboxError(f"the engine refused the kernel's container: {e.explanation or e}") from e
        try:
            container.start()
            container.reload()
        except docker.errors.APIError as e:
            with contextlib.suppress(Exception):
                container.remove(force=True)
            raise SandboxError(f"the kernel's container did not start: {e.explanation or e}") from e
        pid = int(container.attrs.get("State", {}).get("Pid") or 0)
        oom = OomWatch.start(pid, container.id, self.log) if pid else None
        process = ContainerProcess(container, self.log, oom)
        self._containers[request.kernel_id] = process
        self.log.debug("kernel %s: container %s (%s)", request.kernel_id, process.name, container.short_id)
        return process

    def exit_reason(self, request: SandboxRequest, returncode: int) -> str:
        process = self._containers.get(request.kernel_id)
        if process is not None and process.oom_killed:
            return f"killed: out of memory (limit {request.limits.memory_mb} MiB)"
        if process is not None and process.vanished:
            return "its container was removed by someone else"
        if returncode in (128 + 24, -24):
            return f"killed: CPU time limit ({request.limits.cpu_s} s of CPU)"
        return describe_returncode(returncode)

    def release(self, request: SandboxRequest) -> None:
        process = self._containers.pop(request.kernel_id, None)
        if process is not None and not process.remove():
            self.log.warning("kernel %s: container %s could not be removed", request.kernel_id, process.name)
