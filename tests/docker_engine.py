"""A real Docker-API engine for tests: podman's compatible service on a private socket, with a local image.

Docker itself does not run on these machines, and no registry can be reached. `start_engine` runs
`podman system service` with its own containers.conf and storage under a temp folder (never the
machine's global configuration), on a unix socket there, and imports a test image from a rootfs
tar made on the spot: an almost empty tree (the host's top-level symlinks such as bin -> usr/bin,
and mount points), which the kernel containers complete with read-only binds of the host's /usr and
the server's Python (`DockerBackend.host_paths`, `use_server_python`), as the bubblewrap sandbox does.
So the image takes well under a second to make and holds nothing worth caching; the production
image (docker/Dockerfile) carries its own system instead.

What podman needs here (docs/sandbox.md): runc as the runtime, cgroup_manager cgroupfs, and default
ulimits for nofile and nproc (without them a container given any ulimit fails to start).
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tarfile
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_interview.sandbox.docker import LABEL

IMAGE = "localhost/jupyter-interview-test-kernel:latest"
TOP_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


class EngineUnavailable(Exception):
    """No engine can run here; the message says why (tests skip with it)."""


@dataclass
class Engine:
    dir: Path
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    url: str
    image: str = IMAGE
    # Host paths the test image borrows (read-only): /usr, and top-level folders that are not links.
    host_paths: list[str] = field(default_factory=list)

    def client(self) -> Any:
        import docker

        # An explicit API version: podman answers the SDK's version probe slowly.
        return docker.DockerClient(base_url=self.url, version="1.41", timeout=30)

    def podman(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman", *args],
            env=self.env,
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def kernel_containers(self, kernel_id: str | None = None) -> list[dict[str, Any]]:
        """The list entries (Id, Names, State, Labels) of kernel containers, all states; one kernel's if named."""
        label = f"{LABEL}={kernel_id}" if kernel_id else LABEL
        with closing(self.client()) as client:
            return list(client.api.containers(all=True, filters={"label": label}))

    def running_container(self, kernel_id: str) -> dict[str, Any]:
        """The inspection of the kernel's one running container."""
        rows = self.kernel_containers(kernel_id)
        running = [r for r in rows if r["State"] == "running"]
        assert len(running) == 1, states(rows)
        with closing(self.client()) as client:
            return dict(client.api.inspect_container(running[0]["Id"]))

    def stop(self) -> None:
        """Remove every container (their monitors outlive the service), stop the service, drop the folder."""
        try:
            with closing(self.client()) as client:
                for container in client.containers.list(all=True):
                    try:
                        container.remove(force=True)
                    except Exception:
                        self.podman("rm", "-f", container.id)
        except Exception:
            self.podman("rm", "-af")
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def states(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Container list entries as (name, state), for assertion messages."""
    return [(r["Names"][0], r["State"]) for r in rows]


def _rootfs_tar() -> tuple[bytes, list[str]]:
    """An image tree with the host's top-level links and the mount points; the host folders to bind."""
    buf = io.BytesIO()
    binds = ["/usr"]
    with tarfile.open(fileobj=buf, mode="w") as tar:

        def add(name: str, *, link: str | None = None, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if link is not None:
                info.type, info.linkname = tarfile.SYMTYPE, link
            else:
                info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        for name in ("usr", "etc", "proc", "sys", "dev", "run", "var"):
            add(name)
        add("tmp", mode=0o1777)
        for name in TOP_LINKS:
            path = "/" + name
            if os.path.islink(path):
                add(name, link=os.readlink(path))
            elif os.path.isdir(path):
                binds.append(path)
    return buf.getvalue(), binds


def start_engine(base: Path, timeout_s: float = 30) -> Engine:
    """Start podman's Docker-compatible service under base and import the test image; raise
    EngineUnavailable with the reason when this machine cannot run it."""
    for tool, package in (("podman", "podman"), ("runc", "runc")):
        if shutil.which(tool) is None:
            raise EngineUnavailable(f"{tool} is not installed (apt-get install {package})")
    try:
        import docker  # noqa: F401
    except ImportError as e:
        raise EngineUnavailable("the docker Python package is not installed") from e
    base.mkdir(parents=True, exist_ok=True)
    for sub in ("root", "runroot", "tmp", "net", "volumes"):
        (base / sub).mkdir(exist_ok=True)
    (base / "containers.conf").write_text(
        "[containers]\n"
        'default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]\n'
        'log_driver = "k8s-file"\n'
        "[engine]\n"
        'runtime = "runc"\n'
        'cgroup_manager = "cgroupfs"\n'
        'events_logger = "file"\n'
        f'tmp_dir = "{base / "tmp"}"\n'
        f'volume_path = "{base / "volumes"}"\n'
        "[network]\n"
        f'network_config_dir = "{base / "net"}"\n'
    )
    # vfs: nothing to mount for the image (it is a handful of links), and it works where overlay does not.
    (base / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{base / "root"}"\nrunroot = "{base / "runroot"}"\n'
    )
    (base / "registries.conf").write_text("unqualified-search-registries = []\n")
    env = dict(os.environ)
    env.update(
        {
            "CONTAINERS_CONF": str(base / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(base / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(base / "registries.conf"),
        }
    )
    env.pop("DOCKER_HOST", None)
    sock = base / "podman.sock"
    if len(str(sock)) > 100:
        raise EngineUnavailable(f"the socket path {sock} is too long for a unix socket")
    log = open(base / "service.log", "wb")
    proc = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        env=env,
        # conmon drops files (an "oom" marker) into its working folder: keep them in ours.
        cwd=base,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    engine = Engine(base, env, proc, f"unix://{sock}")
    try:
        _wait_ready(engine, timeout_s)
        tar, engine.host_paths = _rootfs_tar()
        (base / "rootfs.tar").write_bytes(tar)
        done = engine.podman("import", str(base / "rootfs.tar"), IMAGE)
        if done.returncode != 0:
            raise EngineUnavailable(f"podman import failed: {done.stderr.strip()[-500:]}")
        _smoke(engine)
    except BaseException:
        engine.stop()
        raise
    return engine


def _wait_ready(engine: Engine, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        if engine.proc.poll() is not None:
            tail = (engine.dir / "service.log").read_text(errors="replace")[-800:]
            raise EngineUnavailable(f"podman system service exited ({engine.proc.returncode}): {tail}")
        try:
            with closing(engine.client()) as client:
                if client.ping():
                    return
        except Exception as e:
            last = str(e)
        time.sleep(0.1)
    raise EngineUnavailable(f"podman's API socket did not answer within {timeout_s} s: {last}")


def _smoke(engine: Engine) -> None:
    """One container with the options kernels get: where this fails, the reason is the engine's."""
    import docker

    with closing(engine.client()) as client:
        try:
            out = client.containers.run(
                engine.image,
                ["/bin/true"],
                remove=True,
                network_mode="none",
                read_only=True,
                cap_drop=["ALL"],
                mounts=[docker.types.Mount(p, p, type="bind", read_only=True) for p in engine.host_paths],
                mem_limit=64 << 20,
                pids_limit=16,
            )
        except Exception as e:
            raise EngineUnavailable(f"podman cannot run a container here: {e}") from e
    assert out == b"", out
