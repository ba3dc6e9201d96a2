"""Benchmark: keystroke-to-remote-update latency on the shared notebook, against plain jupyter-collaboration.

Two servers in one run, each in its own process, and the load client in a third:
  ours   a real Jupyter server with jupyter_interview (production classes): each interview room's
         notebook, participants who opened invite links (session cookies), the role-aware socket,
         the activity feed (edits attributed, cursors throttled) and the update store in WAL mode
  plain  the same Jupyter server without jupyter_interview: jupyter-collaboration as it ships,
         token auth, the same notebook file; its update store in WAL mode like ours unless
         --plain-journal delete (SQLite's default, which falls behind a few typists: see docs)
The load (bench/_collab_load.py): 2, 4 and 8 pycrdt collaborators in one 100-cell notebook, each
typing 10 characters a second into its own cell (open loop, random phase) and sending its cursor as
awareness after each keystroke, as y-codemirror does. Latency: from a keystroke to a peer having
applied it. Then server memory per open room, and in process what the activity feed adds per update.
Run: .venv/bin/python bench/bench_collab.py [--quick] [--json PATH] [--check]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import HOST, BenchServer, LoadProcess

from jupyter_interview.server_ext.app import InterviewApp
from jupyter_interview.server_ext.collab import use_wal

HERE = Path(__file__).resolve().parent
LOAD_CLIENT = HERE / "_collab_load.py"
CELLS = 100
TARGET_RATIO = 1.10  # ours' p99 within 10% of plain jupyter-collaboration's
TARGET_P99_MS = 50.0
IDLE_S = 2.0
SETUP_REST_LIMITS = {"create_room": "100000/minute", "invite": "100000/minute", "join": "100000/minute"}
OURS_CONFIG = {
    "InterviewApp": {"rate_limits": SETUP_REST_LIMITS},
    # Kernels are bench_kernels' subject: a kernel started with every room (and a warm pool) would
    # load the machine during ours' phases only and add the kernel's session to ours' memory per room.
    "KernelLifecycle": {"prestart": "off", "pool_sizes": {}},
}
# jupyter_server's own classes, in place of ours, for the plain server.
PLAIN_CLASSES = {
    "identity_provider_class": "jupyter_server.auth.identity.PasswordIdentityProvider",
    "authorizer_class": "jupyter_server.auth.authorizer.AllowAllAuthorizer",
    "contents_manager_class": "jupyter_server.services.contents.largefilemanager.AsyncLargeFileManager",
    "kernel_manager_class": "jupyter_server.services.kernels.kernelmanager.AsyncMappingKernelManager",
    "kernel_spec_manager_class": "jupyter_client.kernelspec.KernelSpecManager",
    "kernel_websocket_connection_class": (
        "jupyter_server.services.kernels.connection.channels.ZMQChannelsWebsocketConnection"
    ),
}


@dataclass(frozen=True)
class Plan:
    clients: tuple[int, ...]
    rate: float
    warmup_s: float
    measure_s: float
    rounds: int
    memory_rooms: int  # rooms opened per memory step (two steps)
    micro_updates: int


FULL = Plan(
    clients=(2, 4, 8), rate=10.0, warmup_s=1.0, measure_s=5.0, rounds=5, memory_rooms=20, micro_updates=3000
)
QUICK = Plan(
    clients=(2, 4, 8), rate=10.0, warmup_s=0.5, measure_s=3.0, rounds=1, memory_rooms=8, micro_updates=1000
)


def notebook() -> dict[str, Any]:
    """100 code cells of a few lines each: an interview notebook late in the session."""
    cells = [
        {
            "cell_type": "code",
            "id": f"cell-{i:03d}",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": f"def step_{i}(values):\n    total = sum(v * {i} for v in values)\n    return total % 97\n",
        }
        for i in range(CELLS)
    ]
    return {
        "cells": cells,
        "metadata": {"language_info": {"name": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def plain_server(store_dir: Path, wal: bool) -> BenchServer:
    unknown = set(InterviewApp.serverapp_config) - set(PLAIN_CLASSES)
    if unknown:
        raise RuntimeError(f"plain server: no jupyter_server default known for {sorted(unknown)}")
    db_path = store_dir / "ystore.db"
    if wal:
        use_wal(str(db_path))  # as InterviewApp does for ours: see --plain-journal
    return BenchServer(
        extra_config={
            "SQLiteYStore": {"db_path": str(db_path)},
            "ServerApp": {
                **PLAIN_CLASSES,
                "jpserver_extensions": {
                    "jupyter_interview": False,
                    "jupyterlab": True,
                    "jupyter_server_ydoc": True,
                    "jupyter_server_fileid": True,
                },
            },
        }
    )


def check(status: int, raw: bytes, what: str, ok: tuple[int, ...] = (200, 201)) -> dict[str, Any]:
    if status not in ok:
        raise RuntimeError(f"{what} gave {status}: {raw[:300]!r}")
    got: dict[str, Any] = json.loads(raw) if raw else {}
    return got


def open_document(server: BenchServer, path: str) -> tuple[str, str]:
    """As the owner: put the 100-cell notebook at `path` and open its collaboration session."""
    check(
        *server.request(
            "PUT",
            f"api/contents/{path}",
            {"type": "notebook", "format": "json", "content": notebook()},
            token=True,
        )[::2],
        f"writing {path}",
    )
    status, _, raw = server.request(
        "PUT", f"api/collaboration/session/{path}", {"format": "json", "type": "notebook"}, token=True
    )
    doc = check(status, raw, "opening the collaboration session")
    return f"json:notebook:{doc['fileId']}", doc["sessionId"]


def ours_clients(server: BenchServer, n: int) -> list[dict[str, Any]]:
    """A live interview room whose notebook has 100 cells; n browsers (interviewers and candidates)."""
    room = server.create_room(waiting_room=False)
    name, session = open_document(server, f"interviews/{room['id']}/interview.ipynb")
    cookies = [server.join(room["invites"]["interviewer" if i % 2 == 0 else "candidate"]) for i in range(n)]
    check(*server.request("POST", f"interview/api/rooms/{room['id']}/start", {}, token=True)[::2], "start")
    path = server.path(f"api/collaboration/room/{name}?sessionId={session}")
    return [
        {"path": path, "headers": {"Cookie": c, "Origin": server.origin}, "cell": 7 + 12 * i}
        for i, c in enumerate(cookies)
    ]


def plain_clients(server: BenchServer, n: int, k: int) -> list[dict[str, Any]]:
    name, session = open_document(server, f"bench-{k}.ipynb")
    path = server.path(f"api/collaboration/room/{name}?sessionId={session}")
    headers = {"Authorization": f"token {server.token}", "Origin": server.origin}
    return [{"path": path, "headers": headers, "cell": 7 + 12 * i} for i in range(n)]


def percentile_ms(values: list[int], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))] / 1e6


def cpu_s(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return float(t.user + t.system)


def machine_busy_s() -> float:
    t = psutil.cpu_times()
    return float(t.user + t.nice + t.system + t.irq + t.softirq + getattr(t, "steal", 0.0))


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


# ---------------------------------------------------------------- phases
def latency_phase(
    kind: str, server: BenchServer, load: LoadProcess, n: int, plan: Plan, k: int
) -> dict[str, Any]:
    specs = ours_clients(server, n) if kind == "ours" else plain_clients(server, n, k)
    load.call({"cmd": "connect", "host": HOST, "port": server.port, "clients": specs}, timeout_s=120)
    # The server's CPU with everyone connected and nobody typing (file polling, history, timers):
    # subtracted, so that the per-keystroke figure is the keystrokes' own.
    idle0, i0 = cpu_s(server.pid), time.monotonic()
    time.sleep(IDLE_S)
    idle_rate = (cpu_s(server.pid) - idle0) / (time.monotonic() - i0)
    busy0, load0 = machine_busy_s(), cpu_s(load.proc.pid)
    cpu0, t0 = cpu_s(server.pid), time.monotonic()
    got = load.call(
        {"cmd": "type", "rate": plan.rate, "warmup_s": plan.warmup_s, "measure_s": plan.measure_s},
        timeout_s=plan.warmup_s + plan.measure_s + 60,
    )
    cpu = cpu_s(server.pid) - cpu0
    elapsed = time.monotonic() - t0
    others = machine_busy_s() - busy0 - cpu - (cpu_s(load.proc.pid) - load0)
    load.call({"cmd": "close"}, timeout_s=30)
    lat = got.pop("latencies_ns")
    return {
        "server": kind,
        "clients": n,
        "p50_ms": percentile_ms(lat, 50),
        "p99_ms": percentile_ms(lat, 99),
        "max_ms": max(lat, default=0) / 1e6,
        "samples": len(lat),
        "missing": got["expected"] - got["received"],
        "server_cpu": cpu / elapsed,
        "server_idle_cpu": idle_rate,
        # every keystroke of the run, the warm-up's too, counted by the rate
        "server_cpu_us_per_keystroke": max(0.0, cpu - idle_rate * elapsed)
        / max(1, n * plan.rate * (elapsed - 1.0))
        * 1e6,
        "client_cpu": got["client_cpu"],
        "other_cpu": max(0.0, others / elapsed),  # everything else on the machine, in cores
        "client_max_lag_ms": got["max_lag_ms"],
        "errors": got["errors"],
    }


def memory_phase(kind: str, server: BenchServer, load: LoadProcess, rooms: int) -> dict[str, Any]:
    """RSS growth per open room: rooms opened in two steps, one collaborator typing once in each."""
    steps = []
    before = rss_mb(server.pid)
    for step in range(2):
        for r in range(rooms):
            specs = (
                ours_clients(server, 1)
                if kind == "ours"
                else plain_clients(server, 1, 10_000 + step * rooms + r)
            )
            load.call({"cmd": "connect", "host": HOST, "port": server.port, "clients": specs}, timeout_s=60)
        load.call({"cmd": "touch"}, timeout_s=60)
        time.sleep(2.0)
        after = rss_mb(server.pid)
        steps.append((after - before) / rooms)
        before = after
    load.call({"cmd": "close"}, timeout_s=60)
    return {"server": kind, "mb_per_room": steps, "rss_mb": before}


# ---------------------------------------------------------------- in process
def activity_micro(updates: int) -> dict[str, Any]:
    """What the activity feed adds to applying a keystroke in the server's document, in process.

    The document is a 100-cell YNotebook with jupyter_ydoc's own observer attached, as jupyter-
    collaboration's room has it. The feed is the real ActivityFeed with the real Hub, RoomService
    and SQLite store; jupyter-collaboration's room is a stub holding the document (there is no
    websocket server here), and the writer is set as the socket's task sets it.
    """
    from jupyter_ydoc import YNotebook
    from pycrdt import Doc, Encoder, create_awareness_message

    from jupyter_interview.rooms.executions import ExecutionFeed
    from jupyter_interview.rooms.invites import InviteCodec, InviteKeys
    from jupyter_interview.rooms.models import Role, parse_room_spec
    from jupyter_interview.rooms.service import RoomService
    from jupyter_interview.rooms.store import SQLiteRoomStore
    from jupyter_interview.server_ext.activity import ActivityFeed
    from jupyter_interview.server_ext.collab import CollabSockets
    from jupyter_interview.server_ext.identity import InterviewUser
    from jupyter_interview.signaling import events
    from jupyter_interview.signaling.hub import Hub, Settings

    source = Doc()
    YNotebook(source).set(notebook())
    writer_doc: Doc[Any] = Doc()
    writer_doc.apply_update(source.get_update())
    writer_nb = YNotebook(writer_doc)
    stream: list[bytes] = []
    writer_doc.observe(lambda e: stream.append(e.update))
    for i in range(updates):
        text = writer_nb.ycells[7 + 12 * (i % 8)]["source"]
        text.insert(len(text), "x")

    class Room:
        ready = True

        def __init__(self, doc: Doc[Any]) -> None:
            self.ydoc = doc

    class Server:
        def __init__(self) -> None:
            self.rooms: dict[str, Room] = {}

    async def run() -> dict[str, Any]:
        with tempfile.TemporaryDirectory() as tmp:
            os.mkdir(os.path.join(tmp, "root"))
            service = RoomService(
                SQLiteRoomStore(os.path.join(tmp, "rooms.sqlite")),
                InviteCodec(InviteKeys.hs256(os.urandom(32))),
                os.path.join(tmp, "root"),
            )
            await service.load()
            room = await service.create_room(
                parse_room_spec(
                    {"title": "bench", "language": "python", "duration_minutes": 45, "waiting_room": False}
                )
            )
            _, invite = await service.invite(room.id, Role.CANDIDATE, "Ada", 3600)
            hub = events.install(Hub(service, Settings()))
            sockets = CollabSockets(service, None)
            server = Server()
            sockets._ydoc_kwargs = {"ywebsocket_server": server}
            feed = ActivityFeed(hub, service, sockets, ExecutionFeed())
            pid = invite.participant_id
            user = InterviewUser(username="c", role="candidate", room_id=room.id, participant_id=pid)

            def apply(doc: Doc[Any], batch: list[bytes]) -> float:
                # CPU time of this process: other work on a shared machine does not count, and the
                # minimum over rounds is the figure least disturbed by it.
                t0 = time.process_time()
                for u in batch:
                    doc.apply_update(u)
                return (time.process_time() - t0) / len(batch) * 1e6

            base, with_feed = [], []
            for rnd in range(9):
                for watched in (False, True):
                    doc: Doc[Any] = Doc()
                    doc.apply_update(source.get_update())
                    ynb = YNotebook(doc)
                    ynb.observe(lambda *_: None)
                    name = f"json:notebook:bench-{rnd}-{watched}"
                    if watched:
                        server.rooms[name] = Room(doc)
                        feed.on_edit(room.id, pid, name, b"")
                        sockets.writer.set(user)
                    else:
                        sockets.writer.set(None)
                    (with_feed if watched else base).append(apply(doc, stream))
                    await asyncio.sleep(0)
            # A cursor: kept raw per message; decoded once a second at most.
            enc = Encoder()
            for value in (1, writer_doc.client_id, 1):
                enc.write_var_uint(value)
            head = {"type": {"client": 1, "clock": 1}, "tname": None, "item": None, "assoc": 0}
            enc.write_var_string(
                json.dumps(
                    {
                        "user": {"name": "x"},
                        "cursors": [{"anchor": head, "head": head, "primary": True, "empty": True}],
                    }
                )
            )
            msg = create_awareness_message(enc.to_bytes())
            t0 = time.process_time()
            for _ in range(updates):
                feed.on_awareness(room.id, pid, "json:notebook:x", msg)
            aware = (time.process_time() - t0) / updates * 1e6
            for slot in feed.slots.values():
                if slot.handle is not None:
                    slot.handle.cancel()
            return {
                "apply_us": min(base),
                "apply_with_feed_us": min(with_feed),
                "feed_us": min(with_feed) - min(base),
                "apply_median_us": statistics.median(base),
                "apply_with_feed_median_us": statistics.median(with_feed),
                "awareness_listener_us": aware,
                "errors": feed.errors,
            }

    return asyncio.run(run())


# ---------------------------------------------------------------- run and report
def run(plan: Plan, plain_wal: bool) -> dict[str, Any]:
    results: dict[str, Any] = {"phases": [], "memory": [], "plan": plan.__dict__, "plain_wal": plain_wal}
    with (
        tempfile.TemporaryDirectory(prefix="bench-collab-plain-store-") as store_dir,
        BenchServer(extra_config=OURS_CONFIG) as ours,
        plain_server(Path(store_dir), plain_wal) as plain,
    ):
        load = LoadProcess(LOAD_CLIENT)
        try:
            servers = {"ours": ours, "plain": plain}
            k = 0
            for rnd in range(plan.rounds):
                for n in plan.clients:
                    order = ("ours", "plain") if (rnd + n) % 2 == 0 else ("plain", "ours")
                    for kind in order:
                        k += 1
                        phase = latency_phase(kind, servers[kind], load, n, plan, k)
                        phase["round"] = rnd
                        results["phases"].append(phase)
                        print(
                            f"  round {rnd} {kind:5} {n} clients: p50 {phase['p50_ms']:.2f} ms"
                            f" p99 {phase['p99_ms']:.2f} ms ({phase['samples']} samples,"
                            f" {phase['missing']} missing; other processes {phase['other_cpu']:.2f} cores)",
                            file=sys.stderr,
                        )
            for kind in ("ours", "plain"):
                results["memory"].append(memory_phase(kind, servers[kind], load, plan.memory_rooms))
        finally:
            load.close()
    results["micro"] = activity_micro(plan.micro_updates)
    results["machine"] = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    return results


def summary(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for n in sorted({p["clients"] for p in results["phases"]}):
        row: dict[str, Any] = {"clients": n}
        for kind in ("ours", "plain"):
            ps = [p for p in results["phases"] if p["clients"] == n and p["server"] == kind]
            for key in ("p50_ms", "p99_ms", "server_cpu_us_per_keystroke", "missing", "other_cpu"):
                row[f"{kind}_{key}"] = statistics.median(p[key] for p in ps)
        pairs = [
            (o, p)
            for o in results["phases"]
            for p in results["phases"]
            if o["server"] == "ours"
            and p["server"] == "plain"
            and o["clients"] == p["clients"] == n
            and o["round"] == p["round"]
        ]
        row["p50_ratio"] = statistics.median(o["p50_ms"] / p["p50_ms"] for o, p in pairs)
        row["p99_ratio"] = statistics.median(o["p99_ms"] / p["p99_ms"] for o, p in pairs)
        cpu_pairs = [(o, p) for o, p in pairs if p["server_cpu_us_per_keystroke"] > 0]
        row["cpu_ratio"] = (
            statistics.median(
                o["server_cpu_us_per_keystroke"] / p["server_cpu_us_per_keystroke"] for o, p in cpu_pairs
            )
            if cpu_pairs
            else float("nan")
        )
        rows.append(row)
    return rows


def report(results: dict[str, Any]) -> tuple[str, bool]:
    rows = summary(results)
    journal = "WAL, as ours" if results["plain_wal"] else "SQLite's default rollback journal"
    out = [
        f"plain jupyter-collaboration's update store: {journal}.",
        "",
        "| clients | ours p50 ms | plain p50 ms | ours p99 ms | plain p99 ms | p50 ours/plain | p99 ours/plain"
        " | server CPU µs/keystroke ours | plain | missing ours/plain | other processes, cores |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    ok = True
    for r in rows:
        out.append(
            f"| {r['clients']} | {r['ours_p50_ms']:.2f} | {r['plain_p50_ms']:.2f} | {r['ours_p99_ms']:.2f} |"
            f" {r['plain_p99_ms']:.2f} | {r['p50_ratio']:.2f} | {r['p99_ratio']:.2f} |"
            f" {r['ours_server_cpu_us_per_keystroke']:.0f} | {r['plain_server_cpu_us_per_keystroke']:.0f} |"
            f" {r['ours_missing']:.0f}/{r['plain_missing']:.0f} |"
            f" {(r['ours_other_cpu'] + r['plain_other_cpu']) / 2:.2f} |"
        )
        ok = ok and r["p99_ratio"] <= TARGET_RATIO and r["ours_p99_ms"] < TARGET_P99_MS
    out.append("")
    out.append("| server | MB per room (first step) | MB per room (second step) | RSS after, MB |")
    out.append("| --- | ---: | ---: | ---: |")
    for m in results["memory"]:
        out.append(
            f"| {m['server']} | {m['mb_per_room'][0]:.2f} | {m['mb_per_room'][1]:.2f} | {m['rss_mb']:.0f} |"
        )
    mi = results["micro"]
    out.append("")
    out.append(
        f"In process, CPU per keystroke applied to a 100-cell notebook (minimum of 9 rounds; medians in"
        f" brackets): {mi['apply_us']:.1f} µs ({mi['apply_median_us']:.1f}) without the activity feed,"
        f" {mi['apply_with_feed_us']:.1f} µs ({mi['apply_with_feed_median_us']:.1f}) with it"
        f" (+{mi['feed_us']:.1f} µs); awareness listener"
        f" {mi['awareness_listener_us']:.2f} µs per message; feed errors {mi['errors']}."
    )
    worst = max(rows, key=lambda r: r["p99_ratio"])
    out.append("")
    out.append(
        f"Target: p99 within {TARGET_RATIO:.2f}x of plain and under {TARGET_P99_MS:.0f} ms at every size:"
        f" {'PASS' if ok else 'FAIL'} (worst p99 ratio {worst['p99_ratio']:.2f} at {worst['clients']} clients)."
    )
    return "\n".join(out), ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one round of short phases (~1 minute)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    parser.add_argument(
        "--plain-journal",
        choices=("wal", "delete"),
        default="wal",
        help="the plain server's update store: in WAL mode as ours (default: the comparison is then of"
        " the request path alone), or in SQLite's default rollback journal, as jupyter-collaboration ships",
    )
    args = parser.parse_args(argv)
    results = run(QUICK if args.quick else FULL, args.plain_journal == "wal")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    text, ok = report(results)
    print(text)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
