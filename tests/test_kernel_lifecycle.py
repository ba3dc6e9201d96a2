"""Room kernels before admission, the warm pool, the language switch, status events, and the end.

Real server, real bubblewrap, real kernels over Jupyter's REST and websocket routes, real
signaling sockets. The lifecycle is on here (the shared fixtures turn it off for other tests).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from test_sandbox import SPEC, KernelSocket

from jupyter_interview.pytest_plugin import Client, Signal
from jupyter_interview.rooms.executions import EXECUTIONS_KEY, Execution

NB = "interview.ipynb"


@pytest.fixture
def lifecycle() -> dict[str, Any]:
    """KernelLifecycle settings of the test's server, unless a test parametrises them."""
    return {"prestart": "create", "pool_sizes": {}}


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], lifecycle: dict[str, Any]) -> dict[str, Any]:
    settings = {"sweep_interval_s": 0.3, "status_interval_s": 0.25, **lifecycle}
    interview = {**jp_server_config["InterviewApp"], **settings.pop("interview", {})}
    return {**jp_server_config, "KernelLifecycle": settings, "InterviewApp": interview}


def app_of(serverapp: Any) -> Any:
    return next(iter(serverapp.extension_manager.extension_apps["jupyter_interview"]))


@pytest.fixture(autouse=True)
def started(jp_serverapp: Any, jp_asyncio_loop: Any) -> Any:
    """What the server's start does for the lifecycle (pytest-jupyter never runs extensions' start)."""
    lifecycle = app_of(jp_serverapp).kernel_lifecycle

    async def start() -> None:
        lifecycle.start()

    jp_asyncio_loop.run_until_complete(start())
    return lifecycle


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 30.0, what: str = "") -> Any:
    """Poll an async check until it returns something truthy (bounded in time)."""
    deadline = time.monotonic() + timeout
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what or check}")
        await asyncio.sleep(0.1)


async def notebook_session(who: Client, room: dict[str, Any]) -> dict[str, Any] | None:
    code, sessions = await who.json("GET", "api/sessions")
    assert code == 200, sessions
    found = [s for s in sessions if s["path"] == room["notebook_path"]]
    assert len(found) <= 1, found
    return found[0] if found else None


def room_kernels(serverapp: Any, room_id: str) -> list[str]:
    return sorted(k for k, r in serverapp.kernel_manager.kernel_rooms.items() if r == room_id)


async def participant_id(who: Client, room_id: str) -> str:
    code, me = await who.json("GET", f"interview/api/rooms/{room_id}/me")
    assert code == 200, me
    return str(me["participant_id"])


async def open_notebook_session(who: Client, room: dict[str, Any], kernel: str = SPEC) -> dict[str, Any]:
    """What JupyterLab sends when it opens the room's notebook and finds no session."""
    body = {"path": room["notebook_path"], "type": "notebook", "name": NB, "kernel": {"name": kernel}}
    code, session = await who.json("POST", "api/sessions", body)
    assert code == 201, session
    assert isinstance(session, dict)
    return session


async def kernel_events(sig: Signal, quiet_s: float = 0.3) -> list[dict[str, Any]]:
    return [m["payload"] for m in await sig.drain(quiet_s) if m["type"] == "kernel"]


async def wait_kernel(sig: Signal, timeout: float = 20.0, **match: Any) -> dict[str, Any]:
    return (await sig.wait("kernel", timeout, **match))["payload"]


# ---------------------------------------------------------------- pre-start


async def test_the_rooms_kernel_runs_before_admission_and_is_the_one_the_candidates_notebook_gets(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room = await make_room()  # with a waiting room
    rid = room["id"]
    session = await until(lambda: notebook_session(owner, room), what="the pre-started session")
    kernel_id = session["kernel"]["id"]
    assert session["kernel"]["name"] == SPEC and session["type"] == "notebook"
    assert room_kernels(jp_serverapp, rid) == [kernel_id]

    cand, iv = make_client(), make_client()
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    assert (await iv.join(room["invites"]["interviewer"])).code == 302
    assert (await cand.json("POST", "api/sessions", {"path": room["notebook_path"], "type": "notebook"}))[
        0
    ] == 403  # waiting: no kernel for the candidate yet
    assert (await iv.json("POST", f"interview/api/rooms/{rid}/start"))[0] == 200
    pid = await participant_id(cand, rid)
    assert (await iv.json("POST", f"interview/api/rooms/{rid}/admit/{pid}"))[0] == 200

    # JupyterLab looks the notebook's path up first; were it to POST, it gets the same session.
    assert (await notebook_session(cand, room) or {}).get("kernel", {}).get("id") == kernel_id
    got = await open_notebook_session(cand, room)
    assert got["id"] == session["id"] and got["kernel"]["id"] == kernel_id
    ks = await KernelSocket.open(cand, kernel_id)
    try:
        r = await ks.run("print(1)")
        assert r.out == "1", r
    finally:
        ks.close()
    assert room_kernels(jp_serverapp, rid) == [kernel_id]
    cand_sig = await Signal.open(cand, rid)
    await cand_sig.send("hello", {})
    welcome = (await cand_sig.wait("welcome"))["payload"]
    assert welcome["kernel"]["kernel_id"] == kernel_id and welcome["kernel"]["language"] == "python"
    assert welcome["kernel"]["status"] in ("idle", "busy")
    cand_sig.close()

    # Deleting the room stops its kernel and its session.
    assert (await owner.json("DELETE", f"interview/api/rooms/{rid}"))[0] == 204
    assert room_kernels(jp_serverapp, rid) == [] and kernel_id not in jp_serverapp.kernel_manager


async def test_a_notebook_opened_while_its_kernel_starts_gets_that_kernel_not_a_second(
    owner: Client, make_room: Any, jp_serverapp: Any
) -> None:
    room = await make_room()
    lifecycle = app_of(jp_serverapp).kernel_lifecycle
    # The pre-start is under way (its kernel is not ready yet): JupyterLab opens the notebook now.
    assert lifecycle._rooms[room["id"]].pending is not None
    session = await open_notebook_session(owner, room)
    assert room_kernels(jp_serverapp, room["id"]) == [session["kernel"]["id"]]
    task = lifecycle._rooms[room["id"]].task

    async def prestart_done() -> bool:
        return bool(task.done())

    await until(prestart_done, what="the pre-start")  # which must not add a session of its own
    code, sessions = await owner.json("GET", "api/sessions")
    assert code == 200
    assert [s["id"] for s in sessions if s["path"] == room["notebook_path"]] == [session["id"]]
    assert room_kernels(jp_serverapp, room["id"]) == [session["kernel"]["id"]]


async def test_a_room_deleted_while_its_kernel_starts_leaves_no_kernel(
    owner: Client, make_room: Any, jp_serverapp: Any
) -> None:
    room = await make_room()
    assert (await owner.json("DELETE", f"interview/api/rooms/{room['id']}"))[0] == 204

    async def gone() -> bool:
        lifecycle = app_of(jp_serverapp).kernel_lifecycle
        return not room_kernels(jp_serverapp, room["id"]) and not [
            t for t in lifecycle._tasks if not t.done()
        ]

    await until(gone, what="no kernel of the deleted room")
    assert jp_serverapp.kernel_manager.list_kernel_ids() == []


# ---------------------------------------------------------------- warm pool

POOL = {"prestart": "create", "pool_sizes": {"python": 1}}
LOOK_AROUND = (
    "import json, os\n"
    "here = os.getcwd()\n"
    "print(json.dumps({'here': sorted(os.listdir('.')), 'up': sorted(os.listdir('..')), 'uid': os.getuid(),\n"
    "  'room': json.load(open('interview.ipynb'))['metadata']['jupyter_interview']['room']}))"
)


async def warm_slot(lifecycle: Any, timeout: float = 40.0) -> Any:
    async def ready() -> Any:
        queue = lifecycle.pool.ready["python"]
        return queue[0] if queue else None

    return await until(ready, timeout, "a warm python kernel")


async def look_around(who: Client, kernel_id: str) -> dict[str, Any]:
    ks = await KernelSocket.open(who, kernel_id)
    try:
        r = await ks.run(LOOK_AROUND)
        assert r.status == "ok", r
        return dict(json.loads(r.stdout))
    finally:
        ks.close()


@pytest.mark.parametrize("lifecycle", [POOL])
async def test_a_warm_kernel_becomes_the_new_rooms_kernel_sees_only_its_files_and_the_pool_refills(
    owner: Client, make_room: Any, jp_serverapp: Any, jp_root_dir: Any, started: Any
) -> None:
    slot = await warm_slot(started)
    assert os.path.isdir(slot.folder) and 200000 < slot.uid <= 299999
    t0 = time.monotonic()
    room = await make_room()
    session = await until(lambda: notebook_session(owner, room), 5, "the room's session")
    taken_in = time.monotonic() - t0
    assert session["kernel"]["id"] == slot.kernel_id, "the room did not take the warm kernel"
    assert taken_in < 2.0, taken_in  # no kernel start in between
    folder = jp_root_dir / "interviews" / room["id"]
    assert not os.path.exists(slot.folder) and folder.stat().st_uid == slot.uid
    seen = await look_around(owner, slot.kernel_id)
    assert seen["here"] == [NB] and seen["room"] == room["id"] and seen["uid"] == slot.uid
    assert len(seen["up"]) == 1, seen  # its own folder: no other room, no other slot
    # What the kernel writes lands in the room's folder.
    ks = await KernelSocket.open(owner, slot.kernel_id)
    try:
        assert (await ks.run("open('answer.txt', 'w').write('42')")).status == "ok"
    finally:
        ks.close()
    assert (folder / "answer.txt").read_text() == "42"
    assert room_kernels(jp_serverapp, room["id"]) == [slot.kernel_id]

    refill = await warm_slot(started)
    assert refill.kernel_id != slot.kernel_id and refill.folder != slot.folder and refill.uid != slot.uid
    second = await make_room()
    session = await until(lambda: notebook_session(owner, second), 5, "the second room's session")
    assert session["kernel"]["id"] == refill.kernel_id
    seen = await look_around(owner, refill.kernel_id)
    assert seen["here"] == [NB] and seen["room"] == second["id"] and seen["uid"] == refill.uid
    # A restart launches the kernel again at the room folder's own path, with the room's uid.
    code, _ = await owner.json("POST", f"api/kernels/{refill.kernel_id}/restart")
    assert code == 200
    ks = await KernelSocket.open(owner, refill.kernel_id)
    try:
        r = await ks.run("import os; print(os.getcwd(), os.getuid())")
    finally:
        ks.close()
    assert r.out == f"{(jp_root_dir / 'interviews' / second['id']).resolve()} {refill.uid}", r


@pytest.mark.parametrize("lifecycle", [POOL])
async def test_rooms_created_at_once_never_share_a_warm_kernel(
    owner: Client, make_room: Any, jp_serverapp: Any, started: Any
) -> None:
    slot = await warm_slot(started)
    rooms = await asyncio.gather(make_room(), make_room())
    sessions = [await until(lambda r=r: notebook_session(owner, r), 40, "each room's session") for r in rooms]
    kernels = [s["kernel"]["id"] for s in sessions]
    assert len(set(kernels)) == 2 and slot.kernel_id in kernels, kernels
    uids = set()
    for room, kernel_id in zip(rooms, kernels, strict=True):
        assert room_kernels(jp_serverapp, room["id"]) == [kernel_id]
        seen = await look_around(owner, kernel_id)
        assert seen["here"] == [NB] and seen["room"] == room["id"] and len(seen["up"]) == 1, seen
        uids.add(seen["uid"])
    assert len(uids) == 2


@pytest.mark.parametrize("lifecycle", [POOL])
async def test_a_slot_whose_folder_was_touched_is_never_handed_out(
    owner: Client, make_room: Any, jp_serverapp: Any, started: Any
) -> None:
    slot = await warm_slot(started)
    with open(os.path.join(slot.folder, "planted.py"), "w") as f:
        f.write("secret = 1\n")
    room = await make_room()
    session = await until(lambda: notebook_session(owner, room), 40, "the room's session")
    assert session["kernel"]["id"] != slot.kernel_id
    seen = await look_around(owner, session["kernel"]["id"])
    assert seen["here"] == [NB], seen

    async def discarded() -> bool:
        return slot.kernel_id not in jp_serverapp.kernel_manager and not os.path.exists(slot.folder)

    await until(discarded, 20, "the touched slot to go")


# ---------------------------------------------------------------- language switch


async def test_changing_the_language_switches_the_notebooks_kernel_and_its_metadata(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any, jp_root_dir: Any
) -> None:
    room = await make_room(waiting_room=False)
    rid = room["id"]
    before = await until(lambda: notebook_session(owner, room), what="the pre-started session")
    old = before["kernel"]["id"]
    iv = make_client()
    assert (await iv.join(room["invites"]["interviewer"])).code == 302
    sig = await Signal.open(iv, rid, hello={})
    await kernel_events(sig)

    code, body = await iv.json("PATCH", f"interview/api/rooms/{rid}", {"language": "javascript"})
    assert code == 200 and body["language"] == "javascript", body
    starting = await wait_kernel(sig, status="starting", language="javascript")
    assert starting.get("kernel_id") != old
    idle = await wait_kernel(sig, 40, status="idle", language="javascript")
    new = idle["kernel_id"]
    assert new != old and old not in jp_serverapp.kernel_manager
    after = await notebook_session(owner, room)
    assert after is not None and after["id"] == before["id"]
    assert after["kernel"]["id"] == new and after["kernel"]["name"] == "interview-javascript"
    assert room_kernels(jp_serverapp, rid) == [new]
    # The old kernel's shutdown is no news to the room: only the new kernel's status came.
    assert all(e.get("kernel_id") != old for e in await kernel_events(sig))

    notebook = json.loads((jp_root_dir / "interviews" / rid / NB).read_text())
    meta = notebook["metadata"]
    assert meta["kernelspec"]["name"] == "interview-javascript"
    assert meta["language_info"]["name"] == "javascript"
    assert meta["jupyter_interview"] == {"room": rid, "language": "javascript"}
    ks = await KernelSocket.open(iv, new)
    try:
        assert (await ks.run("console.log(6 * 7)")).out == "42"
    finally:
        ks.close()
    sig.close()


async def test_a_language_switch_changes_the_shared_document_when_it_is_open(
    owner: Client, make_room: Any, jp_serverapp: Any, jp_root_dir: Any
) -> None:
    room = await make_room()
    await until(lambda: notebook_session(owner, room), what="the pre-started session")
    ydoc = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_server_ydoc"]))
    doc = await ydoc.get_document(
        path=room["notebook_path"], content_type="notebook", file_format="json", copy=False, create=True
    )
    assert doc.get()["metadata"]["language_info"]["name"] == "python"
    code, _ = await owner.json("PATCH", f"interview/api/rooms/{room['id']}", {"language": "bash"})
    assert code == 200

    async def switched() -> bool:
        meta = doc.get()["metadata"]
        return bool(
            meta["kernelspec"]["name"] == "interview-bash"
            and meta["language_info"]["name"] == "bash"
            and meta["jupyter_interview"]["language"] == "bash"
        )

    await until(switched, 20, "the shared document's metadata")

    async def bash_session() -> bool:
        s = await notebook_session(owner, room)
        return bool(s and s["kernel"]["name"] == "interview-bash")

    await until(bash_session, 40, "the bash kernel in the session")

    async def old_one_gone() -> bool:
        return len(room_kernels(jp_serverapp, room["id"])) == 1

    await until(old_one_gone, 20, "the python kernel to stop")

    # jupyter-collaboration saves the document itself.
    async def saved() -> bool:
        text = (jp_root_dir / "interviews" / room["id"] / NB).read_text()
        return bool(json.loads(text)["metadata"].get("kernelspec", {}).get("name") == "interview-bash")

    await until(saved, 20, "the file saved by jupyter-collaboration")


# ---------------------------------------------------------------- status events


async def test_kernel_status_reaches_admitted_members_busy_idle_coalesced_dead_and_limit(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room = await make_room()  # with a waiting room
    rid = room["id"]
    session = await until(lambda: notebook_session(owner, room), what="the pre-started session")
    kernel_id = session["kernel"]["id"]
    iv, cand = make_client(), make_client()
    assert (await iv.join(room["invites"]["interviewer"])).code == 302
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    iv_sig = await Signal.open(iv, rid)
    await iv_sig.send("hello", {})
    welcome = (await iv_sig.wait("welcome"))["payload"]
    assert welcome["kernel"] == {"status": "idle", "language": "python", "kernel_id": kernel_id}
    waiting = await Signal.open(cand, rid)
    await waiting.send("hello", {})
    assert "kernel" not in (await waiting.wait("welcome"))["payload"]

    # The interviewer prepares before the start: busy, then idle; the waiting candidate hears nothing.
    ks = await KernelSocket.open(iv, kernel_id)
    try:
        assert (await ks.run("import time; time.sleep(0.6)")).status == "ok"
        assert (await wait_kernel(iv_sig, status="busy"))["kernel_id"] == kernel_id
        await wait_kernel(iv_sig, status="idle")
        assert [m for m in await waiting.drain(0.3) if m["type"] == "kernel"] == []

        # A burst of short executions is coalesced: at most one event per status_interval_s.
        t0 = time.monotonic()
        for _ in range(40):
            await ks.run("pass")
        await asyncio.sleep(0.4)
        took = time.monotonic() - t0
        burst = await kernel_events(iv_sig)
        assert 0 < len(burst) <= took / 0.25 + 2, (len(burst), took)
        assert burst[-1]["status"] == "idle"
    finally:
        ks.close()

    # Admitted: the candidate gets the status in its welcome and then the events.
    assert (await iv.json("POST", f"interview/api/rooms/{rid}/start"))[0] == 200
    pid = await participant_id(cand, rid)
    assert (await iv.json("POST", f"interview/api/rooms/{rid}/admit/{pid}"))[0] == 200
    welcome = (await waiting.wait("welcome"))["payload"]
    assert welcome["kernel"]["kernel_id"] == kernel_id and welcome["kernel"]["status"] == "idle"
    await kernel_events(iv_sig)

    # The kernel dies: dead with the sandbox's reason, restarting, then idle again.
    ks = await KernelSocket.open(cand, kernel_id)
    try:
        await ks.send_execute("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
        for sig in (iv_sig, waiting):
            dead = await wait_kernel(sig, 10, status="dead")
            assert dead["kernel_id"] == kernel_id and "signal 9" in dead["reason"], dead
            await wait_kernel(sig, 10, status="restarting")
            await wait_kernel(sig, 40, status="idle")
    finally:
        ks.close()

    # A limit hit, as the execution side publishes it.
    feed = jp_serverapp.web_app.settings[EXECUTIONS_KEY]
    now = time.time()
    feed.publish(
        Execution(
            rid,
            kernel_id,
            "m1",
            pid,
            "while True: pass",
            None,
            "timeout",
            now - 10,
            now,
            reason="it ran longer than the 10 s limit of this interview",
        )
    )
    limit = await wait_kernel(iv_sig, status="limit")
    assert limit["kernel_id"] == kernel_id and "10 s limit" in limit["reason"]
    iv_sig.close()
    waiting.close()


# ---------------------------------------------------------------- interrupt, restart, End


async def test_the_candidate_interrupts_and_restarts_its_kernel_until_the_end(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    room = await make_room(waiting_room=False)
    rid = room["id"]
    session = await until(lambda: notebook_session(owner, room), what="the pre-started session")
    kernel_id = session["kernel"]["id"]
    iv, cand = make_client(), make_client()
    assert (await iv.join(room["invites"]["interviewer"])).code == 302
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    assert (await iv.json("POST", f"interview/api/rooms/{rid}/start"))[0] == 200
    iv_sig = await Signal.open(iv, rid, hello={})
    ks = await KernelSocket.open(cand, kernel_id)
    try:
        assert (await ks.run("x = 41")).status == "ok"
        msg_id = await ks.send_execute("import time; time.sleep(30)")
        await wait_kernel(iv_sig, status="busy")
        assert (await cand.json("POST", f"api/kernels/{kernel_id}/interrupt"))[0] == 204
        assert (await ks.wait(msg_id, 10)).ename == "KeyboardInterrupt"
        assert (await ks.run("print(x + 1)")).out == "42"
    finally:
        ks.close()
    await kernel_events(iv_sig)
    code, model = await cand.json("POST", f"api/kernels/{kernel_id}/restart")
    assert code == 200 and model["id"] == kernel_id
    await wait_kernel(iv_sig, status="restarting")
    await wait_kernel(iv_sig, 30, status="idle")
    ks = await KernelSocket.open(cand, kernel_id)
    try:
        assert (await ks.run("print('x' in dir())")).out == "False"
    finally:
        ks.close()

    assert (await iv.json("POST", f"interview/api/rooms/{rid}/end"))[0] == 200
    nb = {"path": room["notebook_path"], "type": "notebook", "name": NB, "kernel": {"name": SPEC}}
    for method, path, body in (
        ("POST", f"api/kernels/{kernel_id}/interrupt", None),
        ("POST", f"api/kernels/{kernel_id}/restart", None),
        ("DELETE", f"api/kernels/{kernel_id}", None),
        ("POST", "api/kernels", {"name": SPEC, "path": f"interviews/{rid}"}),
        ("POST", "api/sessions", nb),
    ):
        code, body = await cand.json(method, path, body)
        assert code == 403, (method, path, code, body)
    # Interviewers keep the kernel for evaluation.
    assert (await iv.json("POST", f"api/kernels/{kernel_id}/interrupt"))[0] == 204
    assert room_kernels(jp_serverapp, rid) == [kernel_id]
    iv_sig.close()


@pytest.mark.parametrize(
    "lifecycle",
    [
        {
            "prestart": "create",
            "pool_sizes": {},
            "ended_idle_timeout_s": 2.0,
            "interview": {"reconnect_grace_s": 0.3},
        }
    ],
)
async def test_after_the_end_kernels_stop_when_idle_or_when_no_interviewer_is_left(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any
) -> None:
    rooms, kernels, sigs = [], [], []
    for _ in range(2):
        room = await make_room(waiting_room=False)
        session = await until(lambda r=room: notebook_session(owner, r), what="the pre-started session")
        iv = make_client()
        assert (await iv.join(room["invites"]["interviewer"])).code == 302
        sigs.append(await Signal.open(iv, room["id"], hello={}))
        rooms.append(room)
        kernels.append(session["kernel"]["id"])
    for room in rooms:
        assert (await owner.json("POST", f"interview/api/rooms/{room['id']}/end"))[0] == 200
    ended = time.monotonic()
    sigs[1].close()  # the second room's interviewer leaves

    km = jp_serverapp.kernel_manager

    async def gone(i: int) -> bool:
        return kernels[i] not in km

    await until(lambda: gone(1), 10, "the kernel of the room its interviewer left")
    assert time.monotonic() - ended < 1.9
    assert kernels[0] in km  # its interviewer is still there, and 2 s have not passed
    dead = await wait_kernel(sigs[0], 10, status="dead")
    assert dead["kernel_id"] == kernels[0] and "idle" in dead["reason"], dead
    assert time.monotonic() - ended >= 1.9
    await until(lambda: gone(0), 10, "the idle kernel of the ended room")
    sigs[0].close()


def test_a_restarted_server_starts_open_rooms_kernels_and_clears_the_old_pool(server_process: Any) -> None:
    import requests

    server = server_process
    config = {"KernelLifecycle": {"prestart": "create", "pool_sizes": {"python": 1}}}
    server.start(extra=config)
    owner = requests.Session()
    owner.headers["Authorization"] = f"token {server.token}"
    api = server.url + "interview/api/"

    def create() -> dict[str, Any]:
        body = {"title": "T", "language": "python", "duration_minutes": 30}
        r = owner.post(api + "rooms", json=body, timeout=10)
        assert r.status_code == 201, r.text
        return dict(r.json())

    def sessions() -> dict[str, str]:
        r = owner.get(server.url + "api/sessions", timeout=10)
        assert r.status_code == 200, r.text
        return {s["path"]: s["kernel"]["id"] for s in r.json()}

    def slots() -> list[str]:
        return sorted(p.name for p in (server.root / "interviews").glob(".pool-*"))

    def wait(check: Callable[[], Any], what: str, timeout: float = 40.0) -> Any:
        deadline = time.monotonic() + timeout
        while not (got := check()):
            assert time.monotonic() < deadline, f"gave up waiting for {what}"
            time.sleep(0.2)
        return got

    wait(slots, "a warm slot")
    open_room, ended_room = create(), create()
    assert (
        owner.post(api + f"rooms/{ended_room['id']}/end", timeout=10).status_code == 200
    )  # its kernel stops at the next sweep; gone anyway after the kill below
    wait(lambda: open_room["notebook_path"] in sessions(), "the open room's session")
    old_slots = wait(slots, "the pool's refill")
    server.stop(kill=True)  # the kernels die with it (bubblewrap's --die-with-parent)
    assert slots() == old_slots  # left behind by the killed server

    server.start(extra=config)
    found = wait(lambda: open_room["notebook_path"] in sessions() and sessions(), "the open room's kernel")
    assert ended_room["notebook_path"] not in found
    new_slots = wait(lambda: [s for s in slots() if s not in old_slots], "a new warm slot")
    assert not set(old_slots) & set(slots()) and len(new_slots) == 1


async def test_a_switch_to_a_language_without_its_toolchain_keeps_the_old_kernel_and_says_why(
    owner: Client, make_room: Any, make_client: Any, jp_serverapp: Any, tmp_path: Any
) -> None:
    room = await make_room(waiting_room=False)
    rid = room["id"]
    session = await until(lambda: notebook_session(owner, room), what="the pre-started session")
    old = session["kernel"]["id"]
    iv = make_client()
    assert (await iv.join(room["invites"]["interviewer"])).code == 302
    sig = await Signal.open(iv, rid, hello={})
    # Ruby's interpreter is not on the sandbox's PATH any more.
    jp_serverapp.kernel_spec_manager.toolchain_path = str(tmp_path)
    code, _ = await iv.json("PATCH", f"interview/api/rooms/{rid}", {"language": "ruby"})
    assert code == 200
    dead = await wait_kernel(sig, status="dead", language="ruby")
    assert "ruby" in dead["reason"] and "not installed" in dead["reason"], dead
    after = await notebook_session(owner, room)
    assert after is not None and after["kernel"]["id"] == old and room_kernels(jp_serverapp, rid) == [old]
    sig.close()
