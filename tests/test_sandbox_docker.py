"""Room kernels in Docker-API containers: the hostile battery's cases that apply, against a real engine.

The engine is podman's Docker-compatible service on a private socket (tests/docker_engine.py), with
a test image that borrows the host's /usr and the server's Python read-only; where no engine can
start here the module is skipped with the reason. One real server (a child process) runs with
`SandboxProvisioner.backend = "docker"` and the hostile battery's limits; the battery's Harness
drives it: room A attacks from a freshly restarted kernel (a new container each time), room B's
kernel (another container) must keep working, and every case ends with `contained()`.

Where a container differs from bubblewrap the case says so: pid 1 is the engine's init running as
the room's uid (so the kernel may signal it; that ends only its own container), and /sys is the
engine's read-only sysfs (its network view shows only the container's loopback).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from docker_engine import Engine, EngineUnavailable, start_engine
from test_hostile import CONNECTION, LIMITS, MIB, Harness, World, attempts, host_addresses
from test_sandbox import KernelSocket

from jupyter_interview.pytest_plugin import ServerProcess, free_port
from jupyter_interview.sandbox.bubblewrap import DEFAULT_ETC
from jupyter_interview.sandbox.docker import LABEL

CPUS = 1.0


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    try:
        e = start_engine(tmp_path_factory.mktemp("engine"))
    except EngineUnavailable as reason:
        print(f"Docker backend tests skipped: {reason}")
        pytest.skip(f"no Docker-API engine can run here: {reason}")
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture(scope="module")
def world(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("docker-hostile")
    server = ServerProcess(workdir, free_port())
    server.start(
        extra={
            "SandboxProvisioner": {"backend": "docker", **LIMITS},
            "DockerBackend": {
                "engine_url": engine.url,
                "image": engine.image,
                "use_server_python": True,
                "host_paths": [*engine.host_paths, *(f"/etc/{p}" for p in DEFAULT_ETC)],
                "cpus": CPUS,
            },
        }
    )
    victim = workdir / "victim"
    victim.mkdir()
    (server.root / "owner-only.txt").write_text("the owner's")
    try:
        yield World(server, victim)
    finally:
        server.stop()


async def harness(world: World) -> Harness:
    h = await Harness(world).setup()
    if not h.ids.get("unhurried"):
        # The cases bound themselves (CPU seconds, memory, pids); the rooms' wall-clock limit per
        # execution would cut the slow ones short on a busy machine.
        for room in (h.ids["room_a"], h.ids["room_b"]):
            code, body = await h.owner.json(
                "PATCH", f"interview/api/rooms/{room}", {"exec_time_limit_s": 120}
            )
            assert code == 200, body
        h.ids["unhurried"] = True
    return h


def kernel_containers(engine: Engine, kernel_id: str | None = None) -> list[dict[str, Any]]:
    """The engine's list entries (Id, Names, State, Labels) of kernel containers, all states."""
    label = f"{LABEL}={kernel_id}" if kernel_id else LABEL
    with closing(engine.client()) as client:
        return list(client.api.containers(all=True, filters={"label": label}))


def states(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(r["Names"][0], r["State"]) for r in rows]


def running_container(engine: Engine, kernel_id: str) -> dict[str, Any]:
    """The inspection of the kernel's one running container."""
    rows = kernel_containers(engine, kernel_id)
    running = [r for r in rows if r["State"] == "running"]
    assert len(running) == 1, states(rows)
    with closing(engine.client()) as client:
        return dict(client.api.inspect_container(running[0]["Id"]))


def server_log(world: World) -> str:
    return (world.server.workdir / "server.log").read_text(errors="replace")


# ---- the container itself ----


async def test_a_room_kernel_runs_in_a_locked_down_container(world: World, engine: Engine) -> None:
    h = await harness(world)
    kid = h.ids["kernel_a"]
    c = running_container(engine, kid)
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


async def test_a_restart_replaces_the_container_and_a_shutdown_removes_it(
    world: World, engine: Engine
) -> None:
    h = await harness(world)
    kid = h.ids["kernel_a"]
    first = running_container(engine, kid)["Id"]
    assert (await h.owner.json("POST", f"api/kernels/{kid}/restart"))[0] == 200
    second = running_container(engine, kid)["Id"]
    assert second != first and [c["Id"] for c in kernel_containers(engine, kid)] == [second]
    # A kernel of its own, shut down through the API: its container goes with it.
    code, k = await h.cand_a.json(
        "POST", "api/kernels", {"name": "interview-python", "path": f"interviews/{h.ids['room_a']}"}
    )
    assert code == 201, k
    assert len(kernel_containers(engine, k["id"])) == 1
    assert (await h.cand_a.json("DELETE", f"api/kernels/{k['id']}"))[0] == 204
    assert kernel_containers(engine, k["id"]) == []
    await h.contained()


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


async def test_this_machines_other_addresses_are_unreachable(world: World) -> None:
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
        " r('route', 'show', 'default'), 'sys_net': sorted(os.listdir('/sys/class/net')),"
        " 'resolv': open('/etc/resolv.conf').read()}))"
    )
    # /sys is the engine's read-only sysfs: its network view is the container's own namespace.
    assert net == {
        "dev": ["lo"],
        "route": "",
        "route6": "",
        "rules_default": "",
        "sys_net": ["lo"],
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
        s.workdir / "server_config.json",
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


async def test_the_server_process_is_out_of_reach(world: World) -> None:
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
        f"print(json.dumps({{'cmd1': try_(lambda: open('/proc/1/cmdline').read()),"
        f" 'server': try_(lambda: os.readlink('/proc/{s.proc.pid}/cwd')),"
        f" 'server_env': try_(lambda: open('/proc/{s.proc.pid}/environ').read()),"
        " 'env': env, 'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit())}))"
    )
    assert "init" in seen["cmd1"].split("\x00")[0], seen["cmd1"]  # the engine's init, the room's uid
    assert seen["server"] in ("FileNotFoundError", "PermissionError"), seen["server"]
    assert seen["server_env"] in ("FileNotFoundError", "PermissionError")
    assert all(s.token not in str(v) for v in seen["env"].values())
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
    # Only the folders on the way to the bound Python installation exist under /root.
    assert root_listing in ("FileNotFoundError", [".pyenv"], []), root_listing
    assert home_listing == server_home == ssh == opt == "FileNotFoundError", got
    assert var in ("FileNotFoundError", [], ["tmp"]), var  # the image's own, empty
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
    venv = os.path.dirname(os.path.dirname(os.path.realpath(__file__))) + "/.venv"
    targets = [
        "/usr/evil",
        "/etc/evil",
        "/evil",
        f"{venv}/evil",
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
    assert not Path(venv, "evil").exists()
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
        "for n in range(32):\n"
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
        "    for i in range(64):\n"
        "        try:\n            f.write(chunk); f.flush()\n"
        "        except OSError as e:\n            err = e.errno; break\n"
        "print(json.dumps([err, os.path.getsize('big.bin')]))"
    )
    assert got[0] == 27, got  # EFBIG
    big = h.room_a_dir / "big.bin"
    assert big.stat().st_size <= LIMITS["file_size_limit_mb"] * MIB
    big.unlink()
    await h.contained()


async def test_connection_file_and_sockets_cannot_be_swapped_for_links(world: World) -> None:
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
    assert "ok" not in got, got
    code, _ = await h.owner.json("POST", f"api/kernels/{h.ids['kernel_a']}/restart")
    assert code == 200
    h.a = await KernelSocket.open(h.cand_a, h.ids["kernel_a"])
    assert (await h.run("print(1)")).out == "1"
    await h.contained()


async def test_links_planted_in_the_room_are_refused_by_contents_and_files(world: World) -> None:
    h = await harness(world)
    s = world.server
    rid = h.ids["room_a"]
    await h.run(
        "import os\n"
        f"os.symlink({str(s.data / 'invite_secret')!r}, 'leak')\n"
        "open('mine.txt', 'w').write('x'); os.link('mine.txt', 'mine-too.txt')"
    )
    for path in ("leak", "mine.txt", "mine-too.txt"):
        code, body = await h.cand_a.json("GET", f"api/contents/interviews/{rid}/{path}")
        assert code == 403, (path, code, body)
    got = await h.json(attempts("os.link('interview.ipynb', 'nb-link')"))
    assert got[0].startswith("PermissionError"), got  # a root-written file (protected_hardlinks)
    await h.run("import os\nfor p in ('leak', 'mine.txt', 'mine-too.txt'): os.unlink(p)")
    await h.contained()


# ---- interrupt ----


async def test_interrupting_a_busy_kernel_keeps_its_container(world: World, engine: Engine) -> None:
    h = await harness(world)
    assert h.a is not None
    kid = h.ids["kernel_a"]
    before = running_container(engine, kid)["Id"]
    await h.run("x = 5")
    msg = await h.a.send_execute("import time\nwhile True: time.sleep(0.1)")
    await asyncio.sleep(0.5)
    assert (await h.cand_a.json("POST", f"api/kernels/{kid}/interrupt"))[0] == 204
    r = await h.a.wait(msg, timeout=10)
    assert r.ename == "KeyboardInterrupt", r
    assert (await h.run("print(x)")).out == "5"
    # A SIGINT the provisioner forwards (signal_kernel: the engine signals the container's init,
    # which passes it to the kernel) interrupts too, and the container stays.
    msg = await h.a.send_execute("import time\nwhile True: time.sleep(0.1)")
    await asyncio.sleep(0.5)
    with closing(engine.client()) as client:
        client.api.kill(before, signal="SIGINT")
    r = await h.a.wait(msg, timeout=10)
    assert r.ename == "KeyboardInterrupt", r
    assert (await h.run("print(x)")).out == "5"
    assert running_container(engine, kid)["Id"] == before
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


async def test_fork_bomb_stops_at_the_pids_limit(world: World) -> None:
    h = await harness(world)
    got = await h.json(
        "import os, time, json\n"
        "pids, err = [], None\n"
        "for i in range(1000):\n"
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
    assert returncode == -9 and took < 30, got  # the container's memory cgroup
    assert (await h.run("print('kernel alive')")).out == "kernel alive"
    await h.contained()


async def test_memory_bomb_in_the_kernel_is_killed_and_reported(world: World, engine: Engine) -> None:
    h = await harness(world)
    assert h.a is not None
    kid = h.ids["kernel_a"]
    before = running_container(engine, kid)["Id"]
    count = server_log(world).count("died: killed: out of memory")
    await h.a.send_execute("a = []\nfor i in range(64): a.append(b'x' * (32 << 20))")
    deadline = time.monotonic() + 20
    while server_log(world).count("died: killed: out of memory") == count:
        assert time.monotonic() < deadline, "the OOM kill was not reported"
        await asyncio.sleep(0.1)
    assert f"limit {LIMITS['memory_limit_mb']} MiB" in server_log(world)
    # The restarter brings the kernel back in a new container; the dead one is removed.
    deadline = time.monotonic() + 30
    while True:
        rows = kernel_containers(engine, kid)
        if [r["State"] for r in rows] == ["running"] and rows[0]["Id"] != before:
            break
        assert time.monotonic() < deadline, states(rows)
        await asyncio.sleep(0.2)
    # Answering again (the next case's restart must not race the restarter's).
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
    # SIGXCPU after 3 s of CPU, well before the 60-s timeout (wall time stretches on a busy machine).
    assert returncode == -24 and took < 45, got
    await h.contained()


# ---- processes and privileges ----


async def test_signalling_pid_1_ends_at_most_its_own_kernel(world: World, engine: Engine) -> None:
    h = await harness(world)
    got = await h.json(attempts("os.kill(os.getppid(), 9)", "os.kill(1, 9)", "assert os.getppid() == 1"))
    # SIGKILL to its pid namespace's init from inside is dropped by the kernel: nothing happens.
    assert got == ["ok", "ok", "ok"], got
    assert (await h.run("print('alive')")).out == "alive"
    assert running_container(engine, h.ids["kernel_a"])["State"]["Running"]
    await h.contained()


async def test_kill_minus_one_reaches_only_its_own_container(world: World) -> None:
    h = await harness(world)
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
        assert host.poll() is None, "kill -1 in the container reached a host process"
    finally:
        host.kill()
        host.wait()
    assert (await h.run("print('alive')")).out == "alive"
    await h.contained()


async def test_ptrace_of_the_server_is_refused(world: World) -> None:
    h = await harness(world)
    pid = world.server.proc.pid
    got = await h.json(
        "import ctypes, json, os\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"r = libc.ptrace(16, {pid}, 0, 0)\n"  # PTRACE_ATTACH
        "print(json.dumps([r, ctypes.get_errno()]))"
    )
    assert got[0] == -1 and got[1] in (1, 3), got  # not even visible (ESRCH), or EPERM
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


async def test_no_kernel_container_is_left_behind(world: World, engine: Engine) -> None:
    """Last: every container of the module belongs to a kernel the server still has."""
    h = await harness(world)
    code, kernels = await h.owner.json("GET", "api/kernels")
    assert code == 200
    live = {k["id"] for k in kernels}
    labelled = kernel_containers(engine)
    assert {c["Labels"][LABEL] for c in labelled} == live, states(labelled)
    assert all(c["State"] == "running" for c in labelled), states(labelled)
    await h.contained()


# ---- the backend on its own ----


def test_check_names_an_unreachable_engine_and_a_missing_image(engine: Engine, tmp_path: Path) -> None:
    from jupyter_interview.sandbox.docker import DockerBackend

    gone = DockerBackend(engine_url=f"unix://{tmp_path}/nothing.sock").check()
    assert len(gone) == 1 and "cannot reach the container engine" in gone[0] and "nothing.sock" in gone[0], (
        gone
    )
    missing = DockerBackend(engine_url=engine.url, image="localhost/no-such-image:1").check()
    assert len(missing) == 1 and "no-such-image" in missing[0] and "docker build" in missing[0], missing
    assert DockerBackend(engine_url=engine.url, image=engine.image).check() == []


def test_with_its_own_image_a_kernel_gets_the_images_python_and_nothing_of_the_servers(
    tmp_path: Path,
) -> None:
    """The production set-up (no engine needed: the options the backend would send)."""
    import sys

    from test_sandbox import _request

    from jupyter_interview.sandbox.bubblewrap import python_paths
    from jupyter_interview.sandbox.docker import DockerBackend

    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    request = _request(
        tmp_path,
        argv=[sys.executable, "-m", "interview_kernel", "-f", "k.json"],
        env={"PYTHONPATH": "/work/main/kernels", "JPY_SESSION_NAME": "s"},
        ro_paths=[str(spec_dir)],
        python_paths=["/work/main/kernels"],
    )
    backend = DockerBackend(image="jupyter-interview-kernel:test")
    launch = backend.command(request)
    assert launch.argv == ["python3", "-m", "interview_kernel", "-f", "k.json"]
    assert "PYTHONPATH" not in launch.env and launch.env["JPY_SESSION_NAME"] == "s"
    assert launch.env["PATH"] == "/usr/local/bin:/usr/bin:/bin" and launch.env["HOME"] == "/tmp"
    options = backend.create_options(request, launch)
    assert options["network_mode"] == "none" and options["read_only"] is True
    assert options["cap_drop"] == ["ALL"] and options["security_opt"] == ["no-new-privileges"]
    assert options["user"] == "200123:200123" and options["working_dir"] == str(tmp_path / "room")
    assert options["mem_limit"] == options["memswap_limit"] == 300 * MIB and options["pids_limit"] == 50
    limits = {u["Name"]: (u["Soft"], u["Hard"]) for u in options["ulimits"]}
    assert limits == {
        "core": (0, 0),
        "nproc": (50, 50),
        "nofile": (99, 99),
        "fsize": (2 * MIB,) * 2,
        "cpu": (7, 12),
    }
    mounts = {m["Target"]: m for m in options["mounts"]}
    writable = {t for t, m in mounts.items() if m["Type"] == "bind" and not m["ReadOnly"]}
    assert writable == {str(tmp_path / "room"), str(tmp_path / "s")}
    assert mounts[str(spec_dir)]["ReadOnly"] and mounts[str(tmp_path / "c")]["ReadOnly"]
    assert mounts["/tmp"]["Type"] == "tmpfs" and mounts["/etc/passwd"]["ReadOnly"]
    # Neither the server's Python nor its editable packages: the image has its own.
    assert not any(p in mounts for p in [*python_paths(), "/work/main/kernels"])
    assert (
        (tmp_path / "c" / "etc" / "passwd")
        .read_text()
        .endswith("sandbox:x:200123:200123:sandbox:/tmp:/bin/sh\n")
    )
