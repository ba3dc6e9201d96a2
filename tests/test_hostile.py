"""The hostile-code battery: room A's kernel tries to get out of its sandbox, under every backend.

One real server (a child process) per sandbox backend, with tight limits: bubblewrap, and Docker-API
containers on a real engine (podman's compatible service on a private socket, tests/docker_engine.py,
with a test image that borrows the host's /usr and the server's Python read-only; where no engine can
start here the docker cases are skipped with the reason). Room A is the attacker; room B is a
bystander with its own kernel. Every case runs in a freshly restarted kernel of room A (under docker a
new container each time) and ends with `contained()`: the server still answers the owner, and room
B's kernel still executes. Each case is written once for both backends; where a container differs
from bubblewrap, EXPECT says how (pid 1 is the engine's init running as the room's uid, so the kernel
may signal it, which ends at most its own container; /sys is the engine's read-only sysfs). The
checks of the containers themselves run with the docker world only.

Every hostile loop has a ceiling, so a broken sandbox fails a test, not the machine. Network
checks look at interfaces and routes or connect to this machine's own addresses: nothing is ever
sent off the machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from docker_engine import Engine, states
from test_sandbox import SPEC, KernelSocket, Reply, ws_request
from tornado.httpclient import HTTPClientError
from tornado.websocket import websocket_connect

from jupyter_interview.pytest_plugin import Client, ServerProcess, free_port
from jupyter_interview.sandbox.bubblewrap import DEFAULT_ETC
from jupyter_interview.sandbox.docker import LABEL

LIMITS = {
    "memory_limit_mb": 256,
    "nproc_limit": 64,
    "cpu_time_limit_s": 3,
    "file_size_limit_mb": 8,
    "tmp_size_mb": 32,
    "open_files_limit": 256,
}
CPUS = 1.0  # the docker backend's CPU share
MIB = 1 << 20
EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@dataclass(frozen=True)
class Expect:
    """What a case sees that differs between the backends; everything else holds for both."""

    pid1: str  # a regular expression that pid 1's argv[0] matches
    pid1_runs_as_the_room: bool  # the engine's init does: the kernel may signal and trace it
    sys_class_net: list[str] | None  # /sys/class/net's listing; None where there is no /sys
    var: tuple[Any, ...]  # what /var may list
    child_oom_returncodes: tuple[int, ...]
    cpu_spin_wall_s: float  # a child's 3 s of CPU end within this (wall time stretches under load)


EXPECT = {
    "bubblewrap": Expect(
        pid1="bwrap$",
        pid1_runs_as_the_room=False,
        sys_class_net=None,
        var=("FileNotFoundError",),
        # OOM-killed by the memory cgroup, or MemoryError under RLIMIT_AS.
        child_oom_returncodes=(-9, 1),
        cpu_spin_wall_s=60,
    ),
    "docker": Expect(
        pid1="init",
        pid1_runs_as_the_room=True,
        sys_class_net=["lo"],  # the engine's read-only sysfs: the container's own network namespace
        var=("FileNotFoundError", [], ["tmp"]),  # the image's own, empty
        child_oom_returncodes=(-9,),  # the container's memory cgroup
        cpu_spin_wall_s=45,
    ),
}


@dataclass
class Backend:
    name: str
    expect: Expect
    engine: Engine | None = None  # docker: the engine its kernels' containers run in

    def config(self) -> dict[str, dict[str, Any]]:
        """The server's configuration for this backend, with the battery's limits."""
        if self.engine is None:
            return {"SandboxProvisioner": dict(LIMITS)}
        return {
            "SandboxProvisioner": {"backend": "docker", **LIMITS},
            "DockerBackend": {
                "engine_url": self.engine.url,
                "image": self.engine.image,
                "use_server_python": True,
                "host_paths": [*self.engine.host_paths, *(f"/etc/{p}" for p in DEFAULT_ETC)],
                "cpus": CPUS,
            },
        }

    def sandbox(self, kernel_id: str) -> str | None:
        """The kernel's one running container, where the backend names its sandboxes."""
        return None if self.engine is None else str(self.engine.running_container(kernel_id)["Id"])

    def signal(self, sandbox: str, signal: str) -> None:
        """A signal as the provisioner forwards it (signal_kernel): the engine signals the container's
        init, which passes it to the kernel."""
        assert self.engine is not None
        with closing(self.engine.client()) as client:
            client.api.kill(sandbox, signal=signal)

    async def replaced(self, kernel_id: str, before: str | None) -> None:
        """Until the kernel runs in a new sandbox and the dead one is gone, where sandboxes are named."""
        if self.engine is None:
            return
        deadline = time.monotonic() + 30
        while True:
            rows = self.engine.kernel_containers(kernel_id)
            if [r["State"] for r in rows] == ["running"] and rows[0]["Id"] != before:
                return
            assert time.monotonic() < deadline, states(rows)
            await asyncio.sleep(0.2)


@dataclass
class World:
    server: ServerProcess
    victim: Path  # a host folder that links planted in the sandbox point at
    backend: Backend
    ids: dict[str, Any] = field(default_factory=dict)


@pytest.fixture(scope="module", params=sorted(EXPECT))
def backend(request: pytest.FixtureRequest) -> Backend:
    # The docker world skips with the engine fixture's reason where no engine can run here.
    engine = request.getfixturevalue("engine") if request.param == "docker" else None
    return Backend(request.param, EXPECT[request.param], engine)


# The checks of a container itself: with the docker world only, after its cases' sandboxes.
containers_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)


@pytest.fixture(scope="module")
def world(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp(f"hostile-{backend.name}")
    server = ServerProcess(workdir, free_port())
    server.start(extra=backend.config())
    victim = workdir / "victim"
    victim.mkdir()
    (server.root / "owner-only.txt").write_text("the owner's")
    try:
        yield World(server, victim, backend)
    finally:
        server.stop()


class Harness:
    """This test's clients (a loop's own HTTP client) over the module's rooms and kernels."""

    def __init__(self, world: World) -> None:
        self.world = world
        s = world.server
        self.owner = Client(s.port, s.base_url, token=s.token)
        self.cand_a = Client(s.port, s.base_url)
        self.cand_b = Client(s.port, s.base_url)
        self.a: KernelSocket | None = None

    @property
    def ids(self) -> dict[str, Any]:
        return self.world.ids

    @property
    def expect(self) -> Expect:
        return self.world.backend.expect

    @property
    def engine(self) -> Engine:
        """The docker world's engine: only the containers' own checks ask for it."""
        assert self.world.backend.engine is not None
        return self.world.backend.engine

    @property
    def room_a_dir(self) -> Path:
        return self.world.server.root / "interviews" / self.ids["room_a"]

    async def _room(self, cand: Client) -> str:
        code, room = await self.owner.json(
            "POST",
            "interview/api/rooms",
            # The battery tests the sandbox's own limits (CPU time, memory, processes...): the server's
            # wall-clock limit per execution (tests/test_kernel_traffic.py) must not cut a case first
            # on a loaded machine, where 3 s of CPU can take over 10 s.
            {
                "title": "Hostile",
                "language": "python",
                "duration_minutes": 45,
                "waiting_room": False,
                "exec_time_limit_s": 120,
            },
        )
        assert code == 201, room
        assert (await cand.join(room["invites"]["candidate"])).code == 302
        assert (await self.owner.json("POST", f"interview/api/rooms/{room['id']}/start"))[0] == 200
        return str(room["id"])

    async def _kernel(self, cand: Client, room: str) -> str:
        code, k = await cand.json("POST", "api/kernels", {"name": SPEC, "path": f"interviews/{room}"})
        assert code == 201, k
        return str(k["id"])

    async def setup(self) -> Harness:
        ids = self.ids
        if not ids:
            ids["room_a"] = await self._room(self.cand_a)
            ids["room_b"] = await self._room(self.cand_b)
            ids["cookies_a"], ids["cookies_b"] = dict(self.cand_a.cookies), dict(self.cand_b.cookies)
            ids["kernel_b"] = await self._kernel(self.cand_b, ids["room_b"])
        self.cand_a.cookies = dict(ids["cookies_a"])
        self.cand_b.cookies = dict(ids["cookies_b"])
        kid = ids.get("kernel_a")
        restarted = False
        if kid is not None:
            code, _ = await self.owner.json("POST", f"api/kernels/{kid}/restart")
            restarted = code == 200
        if not restarted:
            ids["kernel_a"] = await self._kernel(self.cand_a, ids["room_a"])
        self.a = await KernelSocket.open(self.cand_a, ids["kernel_a"])
        if "uid_a" not in ids:
            ids["uid_a"] = int((await self.run("import os; print(os.getuid())")).out)
        return self

    async def run(self, code: str, timeout: float = 30) -> Reply:
        assert self.a is not None
        return await self.a.run(code, timeout)

    async def json(self, code: str, timeout: float = 30) -> Any:
        r = await self.run(code, timeout)
        assert r.status == "ok" and r.stdout, r
        return json.loads(r.stdout.strip().splitlines()[-1])

    async def contained(self) -> None:
        """The server answers and the other room's kernel works, whatever room A just did."""
        if self.a is not None:
            self.a.close()
        started = time.monotonic()
        code, status = await self.owner.json("GET", "api/status")
        assert code == 200, status
        assert time.monotonic() - started < 5
        b = await KernelSocket.open(self.cand_b, self.ids["kernel_b"])
        try:
            assert (await b.run("print(6 * 7)", timeout=30)).out == "42"
        finally:
            b.close()


async def harness(world: World) -> Harness:
    return await Harness(world).setup()


def attempts(*lines: str) -> str:
    """Kernel code: run each expression, report 'ok' or the error's class and errno, as JSON."""
    body = "\n".join(
        f"try:\n    {line}\n    out.append('ok')\nexcept Exception as e:\n    out.append(f'{{type(e).__name__}}:{{getattr(e, \"errno\", None)}}')"
        for line in lines
    )
    return f"import json, os, socket\nout = []\n{body}\nprint(json.dumps(out))"


# ---- network ----


async def test_tcp_to_the_servers_own_port_is_refused(world: World) -> None:
    h = await harness(world)
    port = world.server.port
    got = await h.json(
        attempts(
            f"socket.create_connection(('127.0.0.1', {port}), timeout=2).close()",
            f"socket.create_connection(('localhost', {port}), timeout=2).close()",
            f"socket.create_connection(('::1', {port}), timeout=2).close()",
        )
    )
    assert all(r.startswith(("ConnectionRefusedError", "OSError")) for r in got), got
    await h.contained()


async def test_tcp_to_another_loopback_port_is_refused(world: World) -> None:
    accepted = []

    async def on_connect(reader: Any, writer: Any) -> None:
        accepted.append(1)
        writer.close()

    listener = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        h = await harness(world)
        got = await h.json(attempts(f"socket.create_connection(('127.0.0.1', {port}), timeout=2).close()"))
        assert got == ["ConnectionRefusedError:111"], got
    finally:
        listener.close()
    assert accepted == []
    await h.contained()


def host_addresses() -> list[str]:
    out = subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout
    return [
        a["local"]
        for link in json.loads(out)
        for a in link.get("addr_info", [])
        if a.get("scope") == "global" and a.get("family") == "inet"
    ]


async def test_this_machines_other_addresses_are_unreachable(world: World) -> None:
    # The host's own addresses: with no route in the sandbox nothing leaves it, and nothing leaves the host.
    addresses = host_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address")
    h = await harness(world)
    got = await h.json(
        attempts(
            *(f"socket.create_connection(({a!r}, {world.server.port}), timeout=2).close()" for a in addresses)
        )
    )
    assert all(r == "OSError:101" for r in got), got  # ENETUNREACH
    await h.contained()


async def test_only_loopback_and_no_routes(world: World) -> None:
    h = await harness(world)
    net = await h.json(
        "import json, os, subprocess\n"
        "dev = [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]\n"
        "r = lambda *a: subprocess.run(['ip', *a], capture_output=True, text=True).stdout.strip()\n"
        "print(json.dumps({'dev': dev, 'route': r('route'), 'route6': r('-6', 'route'), 'rules_default':"
        " r('route', 'show', 'default'),"
        " 'sys_net': sorted(os.listdir('/sys/class/net')) if os.path.exists('/sys/class/net') else None,"
        " 'resolv': open('/etc/resolv.conf').read()}))"
    )
    assert net == {
        "dev": ["lo"],
        "route": "",
        "route6": "",
        "rules_default": "",
        "sys_net": h.expect.sys_class_net,
        "resolv": "",
    }
    await h.contained()


# ---- the server's secrets and other rooms ----


async def test_server_data_and_runtime_files_are_invisible(world: World) -> None:
    s = world.server
    secrets = [
        s.data / "invite_secret",
        s.data / "rooms.sqlite",
        s.data / "ystore.db",
        s.workdir / "server_config.json",  # holds the owner's token
        s.workdir / "jdata",
        s.workdir / "runtime",
        s.workdir / "server.log",
    ]
    assert (s.data / "invite_secret").exists() and (s.data / "rooms.sqlite").exists()
    h = await harness(world)
    got = await h.json(
        attempts(*(f"open({str(p)!r}).read()" for p in secrets), f"os.listdir({str(s.data)!r})")
    )
    assert all(r.startswith("FileNotFoundError") for r in got), got
    await h.contained()


async def test_pid_1_is_the_sandboxs_init_and_the_server_process_is_out_of_reach(world: World) -> None:
    s = world.server
    h = await harness(world)
    seen = await h.json(
        "import json, os\n"
        "def try_(f):\n"
        "    try:\n        return f()\n    except Exception as e:\n        return type(e).__name__\n"
        "env = {}\n"
        "for p in os.listdir('/proc'):\n"
        "    if p.isdigit():\n"
        "        env[p] = try_(lambda: open(f'/proc/{p}/environ', 'rb').read().decode(errors='replace'))\n"
        f"print(json.dumps({{'environ1': try_(lambda: open('/proc/1/environ').read()),"
        f" 'cmd1': try_(lambda: open('/proc/1/cmdline').read()),"
        f" 'server': try_(lambda: os.readlink('/proc/{s.proc.pid}/cwd')),"
        f" 'server_env': try_(lambda: open('/proc/{s.proc.pid}/environ').read()),"
        " 'env': env, 'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}))"
    )
    assert re.search(h.expect.pid1, seen["cmd1"].split("\x00")[0]), seen["cmd1"]
    if not h.expect.pid1_runs_as_the_room:
        assert seen["environ1"] == "PermissionError"
    assert seen["server"] in ("FileNotFoundError", "PermissionError"), seen["server"]
    assert seen["server_env"] in ("FileNotFoundError", "PermissionError")
    assert all(s.token not in str(v) for v in seen["env"].values())
    # Of the server's paths only the room's own folder shows (as PWD): not its data dir, config or home.
    assert all(
        str(s.workdir / d) not in str(v) for v in seen["env"].values() for d in ("data", "home", "jdata")
    )
    assert max(seen["pids"]) < 1000  # its own pid namespace: a handful of processes
    await h.contained()


async def test_another_rooms_folder_and_the_served_root_are_invisible(world: World) -> None:
    h = await harness(world)
    root = world.server.root
    b = root / "interviews" / h.ids["room_b"]
    assert b.is_dir()
    got = await h.json(
        "import json, os\n"
        f"print(json.dumps([os.listdir({str(root)!r}), os.listdir({str(root / 'interviews')!r}),"
        f" os.path.exists({str(b)!r}), os.path.exists({str(root / 'owner-only.txt')!r})]))"
    )
    assert got == [["interviews"], [h.ids["room_a"]], False, False], got
    await h.contained()


async def test_the_hosts_home_folders_are_invisible(world: World) -> None:
    home = world.server.workdir / "home"
    (home / "notes.txt").write_text("private")
    h = await harness(world)
    got = await h.json(
        "import json, os\n"
        "def ls(p):\n"
        "    try:\n        return sorted(os.listdir(p))\n    except Exception as e:\n        return type(e).__name__\n"
        f"print(json.dumps([ls('/root'), ls('/home'), ls({str(home)!r}), ls('/root/.ssh'), ls('/opt'), ls('/var')]))"
    )
    root_listing, home_listing, server_home, ssh, opt, var = got
    # Only the folders on the way to the (bound) Python installation exist under /root, empty but for it.
    assert root_listing in ("FileNotFoundError", [".pyenv"], []), root_listing
    assert home_listing == server_home == ssh == opt == "FileNotFoundError", got
    assert var in h.expect.var, var
    await h.contained()


async def test_other_kernels_state_folders_are_invisible(world: World) -> None:
    h = await harness(world)
    on_host = sorted(os.listdir("/run/jupyter-interview"))
    got = await h.json("import json, os; print(json.dumps(sorted(os.listdir('/run/jupyter-interview'))))")
    assert len(got) == 1 and len(on_host) >= 2 and set(got) < set(on_host), (got, on_host)
    await h.contained()


# ---- writes ----


async def test_writes_outside_the_room_folder_fail(world: World) -> None:
    h = await harness(world)
    root = world.server.root
    venv = Path(__file__).resolve().parent.parent / ".venv"
    targets = [
        "/usr/evil",
        "/etc/evil",
        "/evil",
        str(venv / "evil"),
        str(root / "evil"),
        str(root / "interviews" / "evil"),
        "/dev/evil",
        "/proc/sys/kernel/hostname",
        "/etc/passwd",
    ]
    got = await h.json(
        attempts(*(f"open({t!r}, 'w').write('x')" for t in targets), "open('inside.txt', 'w').write('x')")
    )
    assert all(r.startswith(("PermissionError", "OSError", "FileNotFoundError")) for r in got[:-1]), got
    assert got[-1] == "ok"
    assert not (root / "evil").exists() and not (root / "interviews" / "evil").exists()
    assert not (venv / "evil").exists()
    assert (h.room_a_dir / "inside.txt").read_text() == "x"
    await h.contained()


async def test_the_root_filesystem_is_read_only(world: World) -> None:
    h = await harness(world)
    got = await h.json(attempts("os.mkdir('/newdir')", "open('/run/evil', 'w')", "open('/var/evil', 'w')"))
    assert all(r.startswith(("OSError:30", "PermissionError", "FileNotFoundError")) for r in got), got
    await h.contained()


async def test_tmp_is_private_and_bounded(world: World) -> None:
    h = await harness(world)
    got = await h.json(
        "import json, os, errno\n"
        "open('/tmp/hostile-marker', 'w').write('x')\n"
        "chunk, err, size = b'x' * (1 << 20), None, 0\n"
        "for n in range(32):\n"  # ceiling: 32 files of 4 MiB (each under the file size limit)
        "    try:\n"
        "        with open(f'/tmp/fill{n}', 'wb') as f:\n"
        "            for i in range(4):\n                f.write(chunk); f.flush(); size += len(chunk)\n"
        "    except OSError as e:\n        err = e.errno; break\n"
        "for n in range(32):\n    os.path.exists(f'/tmp/fill{n}') and os.unlink(f'/tmp/fill{n}')\n"
        "print(json.dumps([err, size]))"
    )
    err, size = got
    assert err == 28 and size <= LIMITS["tmp_size_mb"] * MIB, got  # ENOSPC at the tmpfs size
    assert not os.path.exists("/tmp/hostile-marker")
    await h.contained()


async def test_disk_fill_stops_at_the_file_size_limit(world: World) -> None:
    h = await harness(world)
    got = await h.json(
        "import json, os\n"
        "chunk, err = b'x' * (1 << 20), None\n"
        "with open('big.bin', 'wb') as f:\n"
        "    for i in range(64):\n"  # ceiling: 64 MiB
        "        try:\n            f.write(chunk); f.flush()\n"
        "        except OSError as e:\n            err = e.errno; break\n"
        "print(json.dumps([err, os.path.getsize('big.bin')]))"
    )
    assert got[0] == 27, got  # EFBIG
    big = h.room_a_dir / "big.bin"
    assert big.stat().st_size <= LIMITS["file_size_limit_mb"] * MIB
    big.unlink()
    await h.contained()


# ---- files the server writes, and links ----


CONNECTION = (
    "import json\n"
    "from ipykernel.kernelapp import IPKernelApp\n"
    "cf = IPKernelApp.instance().abs_connection_file\n"
    "info = json.load(open(cf))\n"
)


async def test_connection_file_and_sockets_cannot_be_swapped_for_links(world: World) -> None:
    # The Judge0 CVE-2024-28185 pattern: plant a link where the server writes or connects.
    h = await harness(world)
    got = await h.json(
        CONNECTION + "import os\n"
        "d, sock = os.path.dirname(cf), info['ip'] + '-' + str(info['shell_port'])\n"
        "out = []\n"
        "for f in (lambda: open(cf, 'w'), lambda: os.unlink(cf), lambda: os.symlink('/etc/passwd', d + '/evil'),\n"
        "          lambda: os.rename(cf, cf + '.old'), lambda: os.chmod(cf, 0o666), lambda: os.unlink(sock),\n"
        "          lambda: os.symlink('/run/docker.sock', info['ip'] + '-99'), lambda: os.rename(sock, sock + 'x')):\n"
        "    try:\n        f(); out.append('ok')\n"
        "    except OSError as e:\n        out.append(e.errno)\n"
        "print(json.dumps(out))"
    )
    assert "ok" not in got, got  # EROFS for the connection folder, EACCES for the socket folder
    # The kernel still restarts cleanly: what the server wrote and connects to is untouched.
    code, _ = await h.owner.json("POST", f"api/kernels/{h.ids['kernel_a']}/restart")
    assert code == 200
    h.a = await KernelSocket.open(h.cand_a, h.ids["kernel_a"])
    assert (await h.run("print(1)")).out == "1"
    await h.contained()


async def test_notebook_replaced_by_a_link_is_not_written_through(world: World) -> None:
    h = await harness(world)
    target = world.victim / "written-through.ipynb"
    await h.run(
        "import os\n"
        "os.rename('interview.ipynb', 'interview.orig')\n"
        f"os.symlink({str(target)!r}, 'interview.ipynb')"
    )
    rid = h.ids["room_a"]
    for who in (h.owner, h.cand_a):
        code, body = await who.json(
            "PUT",
            f"api/contents/interviews/{rid}/interview.ipynb",
            {"type": "notebook", "format": "json", "content": EMPTY_NOTEBOOK},
        )
        assert code == 403, body
    assert not target.exists()
    await h.run("import os; os.unlink('interview.ipynb'); os.rename('interview.orig', 'interview.ipynb')")
    await h.contained()


async def test_checkpoint_folder_replaced_by_a_link_is_not_written_through(world: World) -> None:
    h = await harness(world)
    rid = h.ids["room_a"]
    await h.run(
        "import os, time\n"
        "if os.path.isdir('.ipynb_checkpoints') and not os.path.islink('.ipynb_checkpoints'):\n"
        "    os.rename('.ipynb_checkpoints', f'.old-checkpoints-{time.time()}')\n"
        f"os.symlink({str(world.victim)!r}, '.ipynb_checkpoints')"
    )
    for who in (h.owner, h.cand_a):
        code, body = await who.json("POST", f"api/contents/interviews/{rid}/interview.ipynb/checkpoints")
        assert code in (403, 500), body
    assert list(world.victim.iterdir()) == []
    await h.run("import os; os.unlink('.ipynb_checkpoints')")
    await h.contained()


async def test_links_planted_in_the_room_are_refused_by_contents_and_files(world: World) -> None:
    h = await harness(world)
    s = world.server
    secret = (s.data / "invite_secret").read_bytes()
    rid = h.ids["room_a"]
    await h.run(
        "import os\n"
        f"os.symlink({str(s.data / 'invite_secret')!r}, 'leak')\n"
        f"os.symlink({str(s.root)!r}, 'up')\n"
        "open('mine.txt', 'w').write('x'); os.link('mine.txt', 'mine-too.txt')"
    )
    for path in ("leak", "up", "mine.txt", "mine-too.txt"):
        code, body = await h.cand_a.json("GET", f"api/contents/interviews/{rid}/{path}")
        assert code == 403, (path, code, body)
        assert (await h.cand_a.request("GET", f"files/interviews/{rid}/{path}")).code == 403, path
    code, body = await h.cand_a.json(
        "PUT", f"api/contents/interviews/{rid}/leak", {"type": "file", "format": "text", "content": "pwned"}
    )
    assert code == 403, body
    assert (s.data / "invite_secret").read_bytes() == secret
    code, listing = await h.cand_a.json("GET", f"api/contents/interviews/{rid}")
    names = {c["name"] for c in listing["content"]}
    assert not names & {"leak", "up", "mine.txt", "mine-too.txt"}, names
    got = await h.json(attempts("os.link('interview.ipynb', 'nb-link')"))
    assert got[0].startswith("PermissionError"), (
        got
    )  # a root-written file cannot be hard-linked (protected_hardlinks)
    await h.run("import os\nfor p in ('leak', 'up', 'mine.txt', 'mine-too.txt'): os.unlink(p)")
    await h.contained()


# ---- kernels it may not start or reach ----


async def test_candidate_cannot_start_the_native_python3_kernel(world: World) -> None:
    h = await harness(world)
    rid = h.ids["room_a"]
    code, body = await h.cand_a.json("POST", "api/kernels", {"name": "python3", "path": f"interviews/{rid}"})
    assert code == 403, body
    code, body = await h.cand_a.json(
        "POST",
        "api/sessions",
        {"path": f"interviews/{rid}/x.ipynb", "type": "notebook", "name": "", "kernel": {"name": "python3"}},
    )
    assert code == 403, body
    code, specs = await h.cand_a.json("GET", "api/kernelspecs")
    assert "python3" not in specs["kernelspecs"]
    # Switching a session's kernel to python3 is refused too (Jupyter reports it as 501).
    code, session = await h.cand_a.json(
        "POST",
        "api/sessions",
        {"path": f"interviews/{rid}/switch.ipynb", "type": "notebook", "name": "", "kernel": {"name": SPEC}},
    )
    assert code == 201, session
    code, body = await h.cand_a.json(
        "PATCH", f"api/sessions/{session['id']}", {"kernel": {"name": "python3"}}
    )
    assert code in (403, 501) and "sandbox" in body["message"], body
    code, kernels = await h.owner.json("GET", "api/kernels")
    assert "python3" not in {k["name"] for k in kernels}
    await h.cand_a.json("DELETE", f"api/sessions/{session['id']}")
    await h.contained()


async def test_candidate_cannot_reach_another_rooms_kernel(world: World) -> None:
    h = await harness(world)
    kb, rid = h.ids["kernel_b"], h.ids["room_a"]
    try:
        await websocket_connect(ws_request(h.cand_a, f"api/kernels/{kb}/channels"))
        raise AssertionError("opened room B's kernel")
    except HTTPClientError as e:
        assert e.code == 403
    for method, path, body in (
        ("GET", f"api/kernels/{kb}", None),
        ("POST", f"api/kernels/{kb}/interrupt", None),
        ("POST", f"api/kernels/{kb}/restart", None),
        ("DELETE", f"api/kernels/{kb}", None),
        ("POST", "api/kernels", {"name": SPEC, "path": f"interviews/{rid}", "kernel_id": kb}),
        (
            "POST",
            "api/sessions",
            {"path": f"interviews/{rid}/steal.ipynb", "type": "notebook", "name": "", "kernel": {"id": kb}},
        ),
    ):
        code, reply = await h.cand_a.json(method, path, body)
        assert code == 403, (method, path, code, reply)
    code, kernels = await h.cand_a.json("GET", "api/kernels")
    assert kb not in [k["id"] for k in kernels]
    await h.contained()


# ---- interrupt and hangs ----


async def test_interrupting_a_busy_kernel_keeps_the_sandbox(world: World) -> None:
    h = await harness(world)
    assert h.a is not None
    kid = h.ids["kernel_a"]
    before = world.backend.sandbox(kid)

    async def through_the_api() -> None:
        assert (await h.cand_a.json("POST", f"api/kernels/{kid}/interrupt"))[0] == 204

    async def as_the_provisioner_forwards_it() -> None:
        assert before is not None
        world.backend.signal(before, "SIGINT")

    await h.run("x = 5")
    for interrupt in (through_the_api, *([as_the_provisioner_forwards_it] if before else [])):
        msg = await h.a.send_execute("import time\nwhile True: time.sleep(0.1)")
        await asyncio.sleep(0.5)
        await interrupt()
        r = await h.a.wait(msg, timeout=10)
        assert r.ename == "KeyboardInterrupt", r
        assert (await h.run("print(x)")).out == "5"
    assert world.backend.sandbox(kid) == before
    await h.contained()


async def test_sleeping_forever_after_printing_stays_interruptible(world: World) -> None:
    h = await harness(world)
    assert h.a is not None
    msg = await h.a.send_execute("print('ready', flush=True)\nimport time\ntime.sleep(10**6)")
    await asyncio.sleep(1)
    assert (await h.cand_a.json("POST", f"api/kernels/{h.ids['kernel_a']}/interrupt"))[0] == 204
    r = await h.a.wait(msg, timeout=10)
    assert r.out == "ready" and r.ename == "KeyboardInterrupt", r
    assert (await h.run("print(1)")).out == "1"
    await h.contained()


# ---- resources ----


async def test_fork_bomb_stops_at_the_process_limit(world: World) -> None:
    h = await harness(world)
    got = await h.json(
        "import os, time, json\n"
        "pids, err = [], None\n"
        "for i in range(1000):\n"  # ceiling: 1000 processes
        "    try:\n        pid = os.fork()\n"
        "    except OSError as e:\n        err = e.errno; break\n"
        "    if pid == 0:\n        time.sleep(2); os._exit(0)\n"
        "    pids.append(pid)\n"
        "for p in pids: os.waitpid(p, 0)\n"
        "print(json.dumps([len(pids), err]))",
        timeout=60,
    )
    forked, err = got
    assert err == 11 and forked < LIMITS["nproc_limit"], got  # EAGAIN
    await h.contained()


async def test_memory_bomb_in_a_child_is_killed_at_the_limit(world: World) -> None:
    h = await harness(world)
    got = await h.json(
        "import json, subprocess, sys, time\n"
        "t = time.monotonic()\n"
        "r = subprocess.run([sys.executable, '-c', \"a = []\\nfor i in range(64): a.append(b'x' * (32 << 20))\"])\n"
        "print(json.dumps([r.returncode, time.monotonic() - t]))",
        timeout=60,
    )
    returncode, took = got
    assert returncode in h.expect.child_oom_returncodes and took < 30, got
    assert (await h.run("print('kernel alive')")).out == "kernel alive"
    await h.contained()


async def test_memory_bomb_in_the_kernel_is_killed_reported_and_restarted(world: World) -> None:
    h = await harness(world)
    assert h.a is not None
    kid = h.ids["kernel_a"]
    sandbox = world.backend.sandbox(kid)
    log = world.server.workdir / "server.log"
    before = log.read_text(errors="replace").count("died: killed: out of memory")
    await h.a.send_execute("a = []\nfor i in range(64): a.append(b'x' * (32 << 20))")
    deadline = time.monotonic() + 20
    while log.read_text(errors="replace").count("died: killed: out of memory") == before:
        assert time.monotonic() < deadline, "the OOM kill was not reported"
        await asyncio.sleep(0.1)
    assert f"limit {LIMITS['memory_limit_mb']} MiB" in log.read_text(errors="replace")
    # The restarter brings the kernel back (under docker in a new container, the dead one removed),
    # answering again before the next case's restart, which must not race the restarter's.
    await world.backend.replaced(kid, sandbox)
    h.a.close()
    h.a = await KernelSocket.open(h.cand_a, kid)
    assert (await h.run("print('back')", timeout=60)).out == "back"
    await h.contained()


async def test_cpu_spin_is_killed_by_the_cpu_limit(world: World) -> None:
    h = await harness(world)
    got = await h.json(
        "import json, subprocess, sys, time\n"
        "t = time.monotonic()\n"
        "r = subprocess.run([sys.executable, '-c', 'while True: pass'], timeout=60)\n"
        "print(json.dumps([r.returncode, time.monotonic() - t]))",
        timeout=90,
    )
    returncode, took = got
    # SIGXCPU: the CPU-time limit stopped it, before the 60-s timeout (a tight wall-clock bound would
    # only measure the machine's load: 3 s of CPU took 17 s while other suites ran).
    assert returncode == -24 and took < h.expect.cpu_spin_wall_s, got
    await h.contained()


async def test_ten_million_lines_of_output_leave_the_server_responsive(world: World) -> None:
    h = await harness(world)
    assert h.a is not None
    msg = await h.a.send_execute("for i in range(10**7): print(i)")
    latencies = []
    for _ in range(4):
        await asyncio.sleep(0.5)
        t = time.monotonic()
        assert (await h.owner.json("GET", "api/status"))[0] == 200
        latencies.append(time.monotonic() - t)
    await h.cand_a.json("POST", f"api/kernels/{h.ids['kernel_a']}/interrupt")
    # Interrupted, or killed by its CPU limit: either way the cell ends within a bounded time.
    try:
        r = await h.a.wait(msg, timeout=30, max_output=1 << 16)
        assert r.ename == "KeyboardInterrupt" or r.stdout, r
    except ConnectionError:
        pass
    except TimeoutError:
        pass  # the kernel died of its CPU limit mid-stream: no reply comes; the restarter takes over
    assert max(latencies) < 2, latencies
    await h.contained()


# ---- processes ----


async def test_killing_its_parent_and_pid_1_leaves_the_kernel_and_its_sandbox_alive(world: World) -> None:
    h = await harness(world)
    sandbox = world.backend.sandbox(h.ids["kernel_a"])
    own = h.expect.pid1_runs_as_the_room
    # SIGTERM only to another uid's init: the engine's init would pass it on and end the container.
    kills = ["os.kill(os.getppid(), 9)", "os.kill(1, 9)", *([] if own else ["os.kill(1, 15)"])]
    got = await h.json(attempts(*kills, "assert os.getppid() == 1"))
    # bubblewrap's init is another uid's: EPERM. The engine's init is the room's own, and SIGKILL to
    # its pid namespace's init from inside is dropped by the kernel: nothing happens.
    assert got == ["ok" if own else "PermissionError:1"] * len(kills) + ["ok"], got
    assert (await h.run("print('alive')")).out == "alive"
    assert world.backend.sandbox(h.ids["kernel_a"]) == sandbox
    await h.contained()


async def test_kill_minus_one_reaches_only_its_own_sandbox(world: World) -> None:
    h = await harness(world)
    # A process on the host with room A's very uid: outside the sandbox's pid namespace.
    uid = str(h.ids["uid_a"])
    host = subprocess.Popen(["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "sleep", "60"])  # noqa: ASYNC220
    try:
        got = await h.json(
            "import json, os, subprocess\n"
            "child = subprocess.Popen(['sleep', '60'])\n"
            "os.kill(-1, 9)\n"
            "print(json.dumps(child.wait(timeout=10)))"
        )
        assert got == -9
        assert host.poll() is None, "kill -1 in the sandbox reached a host process"
    finally:
        host.kill()
        host.wait()
    assert (await h.run("print('alive')")).out == "alive"
    await h.contained()


async def test_ptrace_of_other_processes_is_refused(world: World) -> None:
    h = await harness(world)
    # The server, and bubblewrap's init; not the engine's init, which runs as the room's uid (a kernel
    # attached to it would stop its own container).
    own = h.expect.pid1_runs_as_the_room
    targets = [world.server.proc.pid, *([] if own else [1])]
    got = await h.json(
        "import ctypes, json\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"out = [[libc.ptrace(16, p, 0, 0), ctypes.get_errno()] for p in {targets}]\n"  # PTRACE_ATTACH
        "try:\n    open('/proc/1/mem', 'rb').read(1); out.append('read')\n"
        "except OSError as e:\n    out.append(e.errno)\n"
        "print(json.dumps(out))"
    )
    assert got[0][0] == -1 and got[0][1] in (1, 3), got  # the server: not even visible (ESRCH), or EPERM
    if not own:
        assert got[1] == [-1, 1], got  # EPERM on bubblewrap's init
        assert got[2] in (1, 13), got  # and on its memory
    await h.contained()


async def test_no_way_back_to_root(world: World) -> None:
    h = await harness(world)
    got = await h.json(
        attempts(
            "os.setuid(0)",
            "os.setgid(0)",
            "os.setgroups([0])",
            "os.seteuid(0)",
            "os.chown('.', 0, 0)",
            "os.mknod('dev-null', 0o20666, os.makedev(1, 3))",
            "open('/proc/sys/vm/drop_caches', 'w').write('1')",
            "os.unshare(os.CLONE_NEWUSER)" if hasattr(os, "unshare") else "raise PermissionError()",
        )
    )
    assert all(r.startswith(("PermissionError", "OSError")) for r in got), got
    await h.contained()


# ---- the container itself (docker) ----


@containers_only
async def test_a_room_kernel_runs_in_a_locked_down_container(world: World) -> None:
    h = await harness(world)
    c = h.engine.running_container(h.ids["kernel_a"])
    host = c["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    # Docker reports ["ALL"], podman the default set it expanded to; the kernel's own sets are checked below.
    assert host["CapDrop"] and not host.get("CapAdd"), host["CapDrop"]
    assert any(o.startswith("no-new-privileges") for o in host["SecurityOpt"]), host["SecurityOpt"]
    assert host["Memory"] == LIMITS["memory_limit_mb"] * MIB
    assert host["PidsLimit"] == LIMITS["nproc_limit"]
    assert host["NanoCpus"] == int(CPUS * 1e9)
    assert c["Config"]["User"] == f"{h.ids['uid_a']}:{h.ids['uid_a']}"
    # Writable binds: the room folder, and the socket folder (root's once the sockets exist).
    binds = [m for m in c["Mounts"] if m.get("Type") == "bind"]
    writable = {m["Destination"] for m in binds if m.get("RW")}
    sockets = [w for w in writable if w.startswith("/run/jupyter-interview/") and w.endswith("/s")]
    assert writable == {str(h.room_a_dir), *sockets} and len(sockets) == 1, writable
    inside = await h.json(
        "import json, os\n"
        "st = dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())\n"
        "print(json.dumps({'uid': os.getuid(), 'gid': os.getgid(), 'groups': os.getgroups(), 'cwd': os.getcwd(),"
        " 'caps': [st[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb')],"
        " 'nnp': st['NoNewPrivs'].strip(), 'host': os.uname().nodename, 'ppid': os.getppid(),"
        " 'env': sorted(os.environ)}))"
    )
    assert inside["uid"] == inside["gid"] == h.ids["uid_a"] and inside["groups"] in ([], [h.ids["uid_a"]])
    assert inside["cwd"] == str(h.room_a_dir)
    assert inside["caps"] == ["0000000000000000"] * 5 and inside["nnp"] == "1"
    assert inside["host"] == "sandbox" and inside["ppid"] == 1  # the engine's init is pid 1
    assert not any(k.startswith(("JUPYTER_CONFIG", "JUPYTER_DATA", "DOCKER")) for k in inside["env"]), inside
    await h.contained()


@containers_only
async def test_a_restart_replaces_the_container_and_a_shutdown_removes_it(world: World) -> None:
    h = await harness(world)
    kid = h.ids["kernel_a"]
    first = h.engine.running_container(kid)["Id"]
    assert (await h.owner.json("POST", f"api/kernels/{kid}/restart"))[0] == 200
    second = h.engine.running_container(kid)["Id"]
    assert second != first and [c["Id"] for c in h.engine.kernel_containers(kid)] == [second]
    # A kernel of its own, shut down through the API: its container goes with it.
    code, k = await h.cand_a.json(
        "POST", "api/kernels", {"name": SPEC, "path": f"interviews/{h.ids['room_a']}"}
    )
    assert code == 201, k
    assert len(h.engine.kernel_containers(k["id"])) == 1
    assert (await h.cand_a.json("DELETE", f"api/kernels/{k['id']}"))[0] == 204
    assert h.engine.kernel_containers(k["id"]) == []
    await h.contained()


@containers_only
async def test_no_kernel_container_is_left_behind(world: World) -> None:
    """Last: every container of the docker world belongs to a kernel the server still has."""
    h = await harness(world)
    code, kernels = await h.owner.json("GET", "api/kernels")
    assert code == 200
    live = {k["id"] for k in kernels}
    labelled = h.engine.kernel_containers()
    assert {c["Labels"][LABEL] for c in labelled} == live, states(labelled)
    assert all(c["State"] == "running" for c in labelled), states(labelled)
    await h.contained()
