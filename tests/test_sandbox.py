"""Room kernels run in bubblewrap: their room folder, their own uid, no capabilities, no network, interruptible.

Real server, real bubblewrap, real ipykernel (the `interview-python` spec) over the kernel websocket.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import uuid
from dataclasses import dataclass, field
from typing import Any

from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

SPEC = "interview-python"


def ws_request(client: Any, path: str) -> HTTPRequest:
    url = client.url(path).replace("http://", "ws://")
    headers = {"Origin": client.origin}
    if client.cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    if client.token:
        headers["Authorization"] = f"token {client.token}"
    return HTTPRequest(url, headers=headers, request_timeout=30)


@dataclass
class Reply:
    stdout: str = ""
    stderr: str = ""
    status: str = ""
    ename: str = ""
    evalue: str = ""
    results: list[str] = field(default_factory=list)

    @property
    def out(self) -> str:
        return self.stdout.strip()


class KernelSocket:
    """One kernel's channels websocket: send execute requests and interrupts, read until idle."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn
        self.session = uuid.uuid4().hex

    @classmethod
    async def open(cls, client: Any, kernel_id: str) -> KernelSocket:
        return cls(await websocket_connect(ws_request(client, f"api/kernels/{kernel_id}/channels")))

    def _msg(self, msg_type: str, content: dict[str, Any], channel: str = "shell") -> dict[str, Any]:
        return {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "msg_type": msg_type,
                "username": "",
                "session": self.session,
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": channel,
            "buffers": [],
        }

    async def send_execute(self, code: str) -> str:
        msg = self._msg(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
            },
        )
        await self.conn.write_message(json.dumps(msg))
        return str(msg["header"]["msg_id"])

    async def wait(self, msg_id: str, timeout: float = 30.0, max_output: int = 1 << 20) -> Reply:
        reply = Reply()
        idle = got_reply = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (idle and got_reply):
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"no reply within {timeout} s; so far: {reply}")
            raw = await asyncio.wait_for(self.conn.read_message(), left)
            if raw is None:
                raise ConnectionError("the kernel socket closed")
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if content["name"] == "stdout":
                    if len(reply.stdout) < max_output:
                        reply.stdout += content["text"]
                elif len(reply.stderr) < max_output:
                    reply.stderr += content["text"]
            elif kind in ("execute_result", "display_data"):
                reply.results.append(str(content.get("data", {}).get("text/plain", "")))
            elif kind == "error":
                reply.ename, reply.evalue = content["ename"], content["evalue"]
            elif kind == "execute_reply":
                reply.status = content["status"]
                got_reply = True
                if content["status"] == "error" and not reply.ename:
                    reply.ename, reply.evalue = content.get("ename", ""), content.get("evalue", "")
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        return reply

    async def run(self, code: str, timeout: float = 30.0) -> Reply:
        return await self.wait(await self.send_execute(code), timeout)

    def close(self) -> None:
        self.conn.close()


STATUS_CODE = "import json; print(json.dumps(dict(l.split(':', 1) for l in open('/proc/self/status').read().splitlines())))"


async def kernel_json(ks: KernelSocket, code: str) -> Any:
    """Run code that prints one JSON document; return it."""
    r = await ks.run(code)
    assert r.status == "ok", r
    return json.loads(r.stdout)


async def start_kernel(client: Any, room_id: str, name: str = SPEC) -> dict[str, Any]:
    code, kernel = await client.json("POST", "api/kernels", {"name": name, "path": f"interviews/{room_id}"})
    assert code == 201, kernel
    assert isinstance(kernel, dict)
    return kernel


async def live_room(owner: Any, make_room: Any, make_client: Any) -> tuple[dict[str, Any], Any]:
    room = await make_room(waiting_room=False)
    cand = make_client()
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    assert (await owner.json("POST", f"interview/api/rooms/{room['id']}/start"))[0] == 200
    return room, cand


async def test_room_kernel_runs_in_its_folder_as_the_rooms_uid_without_privileges(
    owner: Any, make_room: Any, make_client: Any, jp_root_dir: Any
) -> None:
    room, cand = await live_room(owner, make_room, make_client)
    kernel = await start_kernel(cand, room["id"])
    assert kernel["name"] == SPEC
    ks = await KernelSocket.open(cand, kernel["id"])
    try:
        folder = str((jp_root_dir / "interviews" / room["id"]).resolve())
        r = await ks.run("import os; print(os.getcwd()); open('made-here.txt', 'w').write('x')")
        assert r.status == "ok", r
        assert r.out == folder
        made = jp_root_dir / "interviews" / room["id"] / "made-here.txt"
        assert made.read_text() == "x"
        uid = made.stat().st_uid
        assert 200000 < uid <= 299999
        status = await kernel_json(ks, STATUS_CODE)
        assert status["Uid"].split() == [str(uid)] * 4, status
        assert status["Gid"].split() == [str(uid)] * 4, status
        assert status["Groups"].strip() == ""
        for cap in ("CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"):
            assert int(status[cap], 16) == 0, (cap, status[cap])
        assert status["NoNewPrivs"].strip() == "1"
    finally:
        ks.close()


async def test_sandbox_network_is_its_own_loopback_with_no_route(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    # Looked at, never tried: nothing here sends a packet anywhere.
    room, cand = await live_room(owner, make_room, make_client)
    ks = await KernelSocket.open(cand, (await start_kernel(cand, room["id"]))["id"])
    try:
        net = await kernel_json(
            ks,
            "import json, os, subprocess\n"
            "dev = [l.split(':')[0].strip() for l in open('/proc/net/dev').read().splitlines()[2:]]\n"
            "routes = open('/proc/net/route').read().splitlines()[1:]\n"
            "routes6 = [l for l in open('/proc/net/ipv6_route').read().splitlines() if not l.endswith('lo')]\n"
            "links = json.loads(subprocess.run(['ip', '-j', 'link'], capture_output=True, text=True).stdout)\n"
            "ip_routes = subprocess.run(['ip', 'route'], capture_output=True, text=True).stdout.strip()\n"
            "print(json.dumps({'dev': dev, 'routes': routes, 'routes6': routes6,\n"
            "  'links': [l['ifname'] for l in links], 'ip_route': ip_routes,\n"
            "  'sys_net': os.path.exists('/sys/class/net'), 'hostname': os.uname().nodename}))",
        )
    finally:
        ks.close()
    assert net["dev"] == ["lo"], net
    assert net["links"] == ["lo"], net
    assert net["routes"] == [] and net["ip_route"] == "", net
    assert net["routes6"] == [], net
    assert net["sys_net"] is False, net  # /sys is not mounted at all
    assert net["hostname"] == "sandbox"


async def test_kernel_environment_is_clean_and_tmp_private(
    owner: Any, make_room: Any, make_client: Any, jp_serverapp: Any, tmp_path: Any
) -> None:
    host_marker = tmp_path / "host-only"
    host_marker.write_text("host")
    room, cand = await live_room(owner, make_room, make_client)
    ks = await KernelSocket.open(cand, (await start_kernel(cand, room["id"]))["id"])
    try:
        seen = await kernel_json(
            ks,
            "import json, os; open('/tmp/sandbox-only', 'w').write('s');"
            f"print(json.dumps({{'env': dict(os.environ), 'marker': os.path.exists({str(host_marker)!r}),"
            " 'tmp': sorted(os.listdir('/tmp'))}))",
        )
    finally:
        ks.close()
    env = seen["env"]
    token = jp_serverapp.identity_provider.token
    assert not any(token in v for v in env.values())
    # The server's own variables stay outside (pytest sets PYTEST_CURRENT_TEST in this very process).
    assert "PYTEST_CURRENT_TEST" in os.environ and "PYTEST_CURRENT_TEST" not in env
    assert not {k for k in env if k.startswith(("JUPYTER_", "JPY_", "IPYTHON"))} - {
        "JUPYTER_RUNTIME_DIR",
        "JPY_SESSION_NAME",
        "IPYTHONDIR",
    }, sorted(env)
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin"
    assert env["HOME"] == "/tmp" and "JPY_PARENT_PID" not in env
    assert seen["marker"] is False
    assert not os.path.exists("/tmp/sandbox-only")


async def kernel_pid(ks: KernelSocket) -> int:
    r = await ks.run("import os; print(os.getpid())")
    return int(r.out)


async def test_interrupt_of_a_busy_kernel_answers_keyboardinterrupt_and_keeps_the_sandbox(
    owner: Any, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room, cand = await live_room(owner, make_room, make_client)
    kernel = await start_kernel(cand, room["id"])
    ks = await KernelSocket.open(cand, kernel["id"])
    km = jp_serverapp.kernel_manager.get_kernel(kernel["id"])
    bwrap_pid = km.provisioner.process.pid
    try:
        await ks.run("x = 41")
        pid = await kernel_pid(ks)
        # Through the REST API (interrupt_mode "message": an interrupt_request on the control channel)...
        msg_id = await ks.send_execute("import time; time.sleep(100)")
        await asyncio.sleep(0.5)
        code, _ = await cand.json("POST", f"api/kernels/{kernel['id']}/interrupt")
        assert code == 204
        r = await ks.wait(msg_id, timeout=10)
        assert r.ename == "KeyboardInterrupt", r
        # ... and a SIGINT from the provisioner, which is forwarded inside instead of killing bubblewrap.
        msg_id = await ks.send_execute("time.sleep(100)")
        await asyncio.sleep(0.5)
        await km.signal_kernel(signal.SIGINT)
        r = await ks.wait(msg_id, timeout=10)
        assert r.ename == "KeyboardInterrupt", r
        assert (await ks.run("print(x + 1)")).out == "42"
        assert await kernel_pid(ks) == pid
        assert km.provisioner.process.pid == bwrap_pid and km.provisioner.process.poll() is None
    finally:
        ks.close()


async def test_restart_gives_a_fresh_kernel_in_the_same_room_and_uid(
    owner: Any, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room, cand = await live_room(owner, make_room, make_client)
    kernel = await start_kernel(cand, room["id"])
    ks = await KernelSocket.open(cand, kernel["id"])
    try:
        await ks.run("x = 1")
        before = await kernel_json(
            ks, "import os, json; print(json.dumps([os.getuid(), os.getcwd(), os.getpid()]))"
        )
    finally:
        ks.close()
    code, _ = await cand.json("POST", f"api/kernels/{kernel['id']}/restart")
    assert code == 200
    ks = await KernelSocket.open(cand, kernel["id"])
    try:
        r = await ks.run("print('x' in dir())")
        assert r.out == "False"
        after = await kernel_json(
            ks, "import os, json; print(json.dumps([os.getuid(), os.getcwd(), os.getpid()]))"
        )
    finally:
        ks.close()
    assert after[:2] == before[:2]
    # The socket folder is root's again once the new kernel has bound its sockets.
    km = jp_serverapp.kernel_manager.get_kernel(kernel["id"])
    sock = os.path.dirname(km.ip)
    assert os.stat(sock).st_uid == 0 and km.transport == "ipc"
    assert os.stat(km.connection_file).st_uid == before[0]


async def test_native_python3_is_refused_for_a_room_as_owner_and_candidate(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room, cand = await live_room(owner, make_room, make_client)
    for who in (owner, cand):
        code, body = await who.json(
            "POST", "api/kernels", {"name": "python3", "path": f"interviews/{room['id']}"}
        )
        assert code == 403, body
        assert "interview-python" in body["message"] and "sandbox" in body["message"]
        code, body = await who.json(
            "POST",
            "api/sessions",
            {
                "path": f"interviews/{room['id']}/interview.ipynb",
                "type": "notebook",
                "name": "",
                "kernel": {"name": "python3"},
            },
        )
        assert code == 403, body
    code, kernels = await owner.json("GET", "api/kernels")
    assert kernels == []
    # The owner keeps Jupyter's own kernel for notebooks outside the rooms.
    code, k = await owner.json("POST", "api/kernels", {"name": "python3", "path": ""})
    assert code == 201, k


async def test_invite_identities_list_only_sandboxed_kernelspecs(
    owner: Any, make_room: Any, make_client: Any
) -> None:
    room, cand = await live_room(owner, make_room, make_client)
    iv = make_client()
    assert (await iv.join(room["invites"]["interviewer"])).code == 302
    code, everything = await owner.json("GET", "api/kernelspecs")
    assert code == 200 and {"python3", SPEC} <= set(everything["kernelspecs"])
    for who in (cand, iv):
        code, listing = await who.json("GET", "api/kernelspecs")
        assert code == 200
        assert SPEC in listing["kernelspecs"] and listing["default"] == SPEC
        for name, model in listing["kernelspecs"].items():
            provisioner = model["spec"]["metadata"]["kernel_provisioner"]
            assert provisioner == {"provisioner_name": "interview-sandbox"}, name
        assert (await who.json("GET", "api/kernelspecs/python3"))[0] == 404
        assert (await who.request("GET", "kernelspecs/python3/logo-64x64.png")).code == 404
        assert (await who.json("GET", f"api/kernelspecs/{SPEC}"))[0] == 200
        assert (await who.request("GET", f"kernelspecs/{SPEC}/kernel.json")).code == 200
    assert (await owner.json("GET", "api/kernelspecs/python3"))[0] == 200


async def test_each_room_has_its_own_uid(owner: Any, make_room: Any, make_client: Any) -> None:
    uids = []
    for _ in range(2):
        room, cand = await live_room(owner, make_room, make_client)
        for _ in range(2):  # a second kernel of a room shares the room's uid
            ks = await KernelSocket.open(cand, (await start_kernel(cand, room["id"]))["id"])
            try:
                uids.append(int((await ks.run("import os; print(os.getuid())")).out))
            finally:
                ks.close()
    assert uids[0] == uids[1] and uids[2] == uids[3] and uids[0] != uids[2], uids
    assert all(200000 < u <= 299999 for u in uids)


async def test_a_missing_toolchain_marks_its_language_unavailable(
    owner: Any, make_room: Any, make_client: Any, jp_serverapp: Any, tmp_path: Any
) -> None:
    ksm = jp_serverapp.kernel_spec_manager
    specs = tmp_path / "specs"
    shutil.copytree(ksm.interview_specs_dir, specs)
    (specs / "interview-cobol").mkdir()
    (specs / "interview-cobol" / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [
                    "python",
                    "-m",
                    "interview_kernel",
                    "--language",
                    "cobol",
                    "-f",
                    "{connection_file}",
                ],
                "display_name": "COBOL (interview)",
                "language": "cobol",
                "interrupt_mode": "message",
                "metadata": {
                    "kernel_provisioner": {"provisioner_name": "interview-sandbox"},
                    "jupyter_interview": {"language": "cobol", "requires": ["cobc-not-installed", "sh"]},
                },
            }
        )
    )
    ksm.interview_specs_dir = str(specs)
    room, cand = await live_room(owner, make_room, make_client)
    code, listing = await cand.json("GET", "api/kernelspecs")
    meta = listing["kernelspecs"]["interview-cobol"]["spec"]["metadata"]["jupyter_interview"]
    assert "cobc-not-installed" in meta["unavailable"] and "sh" not in meta["unavailable"].split(",")[0]
    assert "unavailable" not in listing["kernelspecs"][SPEC]["spec"]["metadata"]["jupyter_interview"]
    code, body = await cand.json(
        "POST", "api/kernels", {"name": "interview-cobol", "path": f"interviews/{room['id']}"}
    )
    assert code == 503 and "cobc-not-installed" in body["message"], body


async def test_a_kernel_that_dies_is_noticed_with_its_reason_and_restarted(
    owner: Any, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room, cand = await live_room(owner, make_room, make_client)
    kernel = await start_kernel(cand, room["id"])
    km = jp_serverapp.kernel_manager
    ks = await KernelSocket.open(cand, kernel["id"])
    first = km.get_kernel(kernel["id"]).provisioner.process.pid  # bubblewrap's pid on the host
    try:
        await kernel_pid(ks)
        await ks.send_execute("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 3
        while km.sandbox_exit_reason(kernel["id"]) is None:
            assert loop.time() < deadline, "the death went unnoticed"
            await asyncio.sleep(0.05)
        assert km.sandbox_exit_reason(kernel["id"]) == "killed by signal 9"
    finally:
        ks.close()
    # The restarter brings up a new kernel in the same sandbox set-up.
    for _ in range(50):
        ks = await KernelSocket.open(cand, kernel["id"])
        try:
            assert (await asyncio.wait_for(ks.run("print(6 * 7)"), 5)).out == "42"
            break
        except (TimeoutError, ConnectionError):
            await asyncio.sleep(0.2)
        finally:
            ks.close()
    assert km.get_kernel(kernel["id"]).provisioner.process.pid != first


async def test_a_sandboxed_kernel_outside_rooms_sees_its_folder_read_only_and_no_rooms(
    owner: Any, make_room: Any, make_client: Any, jp_root_dir: Any
) -> None:
    await live_room(owner, make_room, make_client)
    (jp_root_dir / "owner-notes.txt").write_text("owner")
    code, kernel = await owner.json("POST", "api/kernels", {"name": SPEC, "path": ""})
    assert code == 201, kernel
    ks = await KernelSocket.open(owner, kernel["id"])
    try:
        seen = await kernel_json(
            ks,
            "import json, os\n"
            "try:\n    open('x.txt', 'w'); w = 'written'\nexcept OSError as e:\n    w = e.errno\n"
            "print(json.dumps([os.getcwd(), os.getuid(), w, open('owner-notes.txt').read(),"
            " os.listdir('interviews')]))",
        )
    finally:
        ks.close()
    cwd, uid, written, notes, rooms = seen
    assert cwd == str(jp_root_dir.resolve()) and uid == 200000
    assert written == 30 and notes == "owner" and rooms == []  # EROFS; the rooms hidden


async def test_backend_none_runs_unsandboxed_only_when_chosen_and_warns_at_every_start(
    owner: Any, make_room: Any, make_client: Any, jp_serverapp: Any, caplog: Any
) -> None:
    jp_serverapp.config.SandboxProvisioner.backend = "none"
    room, cand = await live_room(owner, make_room, make_client)
    for _ in range(2):
        caplog.clear()
        kernel = await start_kernel(cand, room["id"])
        assert any("WITHOUT a sandbox" in r.getMessage() for r in caplog.records)
    ks = await KernelSocket.open(cand, kernel["id"])
    try:
        assert (await ks.run("import os; print(os.getuid())")).out == str(os.getuid())
    finally:
        ks.close()


def _request(tmp_path: Any, **changes: Any) -> Any:
    from jupyter_interview.sandbox.backend import Limits, SandboxRequest

    (tmp_path / "room").mkdir(exist_ok=True)
    (tmp_path / "c").mkdir(exist_ok=True)
    (tmp_path / "s").mkdir(exist_ok=True)
    fields: dict[str, Any] = {
        "kernel_id": "k" * 36,
        "argv": ["/usr/bin/python3", "-c", "pass"],
        "env": {},
        "work_dir": str(tmp_path / "room"),
        "work_writable": True,
        "masked": [],
        "uid": 200123,
        "conn_dir": str(tmp_path / "c"),
        "socket_dir": str(tmp_path / "s"),
        "limits": Limits(memory_mb=300, nproc=50, cpu_s=7, fsize_mb=2, nofile=99, tmp_mb=16),
    }
    fields.update(changes)
    return SandboxRequest(**fields)


def test_bubblewrap_command_namespaces_uid_and_limits(tmp_path: Any) -> None:
    from jupyter_interview.sandbox.bubblewrap import BubblewrapBackend

    backend = BubblewrapBackend(use_cgroups=False)
    argv = backend.command(_request(tmp_path)).argv
    bwrap_end = argv.index("--")
    flags = argv[:bwrap_end]
    for flag in (
        "--die-with-parent",
        "--unshare-net",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--new-session",
        "--clearenv",
    ):
        assert flag in flags
    assert ["--bind", str(tmp_path / "room"), str(tmp_path / "room")] == flags[
        flags.index(str(tmp_path / "room")) - 1 : flags.index(str(tmp_path / "room")) + 2
    ]
    rest = argv[bwrap_end + 1 :]
    assert rest[0].endswith("prlimit")
    limits = rest[: rest.index("--")]
    # Without a memory cgroup, memory falls back to RLIMIT_AS.
    assert {"--nproc=50", "--cpu=7:12", f"--fsize={2 << 20}", "--nofile=99", f"--as={300 << 20}"} <= set(
        limits
    )
    setpriv = rest[rest.index("--") + 1 :]
    assert setpriv[0].endswith("setpriv") and setpriv[setpriv.index("--") + 1 :] == [
        "/usr/bin/python3",
        "-c",
        "pass",
    ]
    for flag in ("--clear-groups", "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"):
        assert flag in setpriv
    assert setpriv[setpriv.index("--reuid") + 1] == setpriv[setpriv.index("--regid") + 1] == "200123"
    # The server's environment never reaches bubblewrap's child: --clearenv, then only --setenv.
    assert "--setenv" in flags and not any(
        k.startswith("JUPYTER") for k in flags[flags.index("--setenv") :: 3]
    )


def test_an_install_under_tmp_stays_visible_over_the_private_tmp(tmp_path: Any) -> None:
    """A checkout (and its venv) under /tmp is bound after the sandbox's own /tmp tmpfs, not hidden by it."""
    from jupyter_interview.sandbox.bubblewrap import BubblewrapBackend

    venv = tmp_path / "checkout" / ".venv"
    venv.mkdir(parents=True)
    argv = BubblewrapBackend(use_cgroups=False).command(_request(tmp_path, ro_paths=[str(venv)])).argv
    flags = argv[: argv.index("--")]
    tmpfs_at = max(i for i, f in enumerate(flags) if f == "--tmpfs" and flags[i + 1] == "/tmp")
    bind_at = next(i for i, f in enumerate(flags) if f == "--ro-bind" and flags[i + 1] == str(venv))
    assert str(tmp_path).startswith("/tmp/") and bind_at > tmpfs_at


def test_room_uids_are_distinct_and_kept_by_the_folder(tmp_path: Any) -> None:
    from jupyter_interview.sandbox.backend import SandboxError
    from jupyter_interview.sandbox.uids import room_uid

    rooms = tmp_path / "interviews"
    for name in ("a", "b", "c"):
        (rooms / name).mkdir(parents=True)
    uids = [room_uid(str(rooms / n), 300000, 300002) for n in ("a", "b")]
    assert len(set(uids)) == 2 and all(300000 < u <= 300002 for u in uids)
    assert room_uid(str(rooms / "a"), 300000, 300002) == uids[0]  # kept: the folder's owner
    assert (rooms / "a").stat().st_uid == uids[0]
    try:
        room_uid(str(rooms / "c"), 300000, 300002)
        raise AssertionError("a third room got a uid from a range of two")
    except SandboxError as e:
        assert "taken" in str(e)
    (rooms / "link").symlink_to(rooms / "a")
    try:
        room_uid(str(rooms / "link"), 300000, 300002)
        raise AssertionError("a linked room folder was accepted")
    except SandboxError:
        pass


async def test_a_kernel_leaves_no_cgroup_or_state_folder_behind(
    owner: Any, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room, cand = await live_room(owner, make_room, make_client)
    kernel = await start_kernel(cand, room["id"])
    prov = jp_serverapp.kernel_manager.get_kernel(kernel["id"]).provisioner
    first = list(prov.sandbox._handles[kernel["id"]].paths)
    state = prov._kernel_dir
    assert state and os.path.isdir(state)
    code, _ = await cand.json("POST", f"api/kernels/{kernel['id']}/restart")
    assert code == 200
    second = list(prov.sandbox._handles[kernel["id"]].paths)
    assert second != first and not any(os.path.exists(p) for p in first)
    assert (await cand.json("DELETE", f"api/kernels/{kernel['id']}"))[0] == 204
    assert not os.path.exists(state)
    assert not any(os.path.exists(p) for p in second)
