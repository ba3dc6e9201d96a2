"""Benchmark: room kernels, sandboxed against unsandboxed, and a candidate's first execution after admission.

Part 1, per interview language (in this process, through jupyter_client and the SandboxProvisioner,
no server): the time from starting a kernel to its first kernel_info reply, and the round trip of a
`print(1)`-style cell (execute_request to execute_reply and idle), with the bubblewrap sandbox and
with backend "none" in the same run, started back to back and alternating which goes first. The
overheads are medians of the paired differences (run i sandboxed minus run i bare).

Part 2, through a real server (subprocess): the time from an interviewer's admit of a candidate in
a room created a moment before, to the candidate's first `print(1)` answered, doing what JupyterLab
does: GET api/sessions, POST api/sessions when the notebook has none, the kernel websocket, then
the execute request. Modes: "cold" (no pre-start: the notebook's session starts the kernel),
"pre-start" (the kernel starts when the room is created), "pool" (the room takes a warm kernel), and
"pre-start, admitted later" (the usual case: the admission comes once the kernel is ready).

Run: .venv/bin/python bench/bench_kernels.py [--quick] [--languages python,javascript] [--json PATH]
Needs root (the sandbox's per-room uids) and the toolchains of the languages measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import HOST, BenchServer

START_TARGET_MS = 150.0  # sandboxed minus unsandboxed start, p50
ROUND_TRIP_TARGET_MS = 2.0  # sandboxed minus unsandboxed round trip, p50
FIRST_RUN_TARGET_MS = 300.0  # first execution after admission with the pool, p50

PRINT_ONE = {
    "python": "print(1)",
    "javascript": "console.log(1)",
    "typescript": "console.log(1)",
    "java": "System.out.println(1);",
    "ruby": "puts 1",
    "bash": "echo 1",
    "sql": "SELECT 1;",
    "c": '#include <stdio.h>\nint main(void) { puts("1"); }\n',
    "cpp": '#include <cstdio>\nint main() { std::puts("1"); }\n',
    "go": 'import "fmt"\nfunc main() { fmt.Println(1) }\n',
    "rust": 'fn main() { println!("1"); }\n',
}
COMPILED = frozenset({"c", "cpp", "go", "rust"})  # each cell is built and run: seconds, not ms


@dataclass(frozen=True)
class Plan:
    runs: int  # kernel starts per language and backend
    round_trips: int  # per started kernel, REPL languages
    compiled_round_trips: int  # per started kernel, compile-and-run languages
    trials: int  # admissions per server mode


FULL = Plan(runs=5, round_trips=100, compiled_round_trips=8, trials=7)
QUICK = Plan(runs=2, round_trips=20, compiled_round_trips=3, trials=3)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


@dataclass
class Backend:
    starts_ms: list[float] = field(default_factory=list)
    first_ms: list[float] = field(default_factory=list)  # the first cell after the start
    round_trips_ms: list[float] = field(default_factory=list)
    kernel_rt_p50_ms: list[float] = field(default_factory=list)  # each started kernel's median round trip


@dataclass
class Language:
    name: str
    sandboxed: Backend = field(default_factory=Backend)
    bare: Backend = field(default_factory=Backend)

    # Overheads as the median of paired differences (run i sandboxed against run i bare, started
    # back to back): on a shared machine this drifts less than a difference of two medians.
    @property
    def start_overhead_ms(self) -> float:
        return statistics.median(
            s - b for s, b in zip(self.sandboxed.starts_ms, self.bare.starts_ms, strict=True)
        )

    @property
    def round_trip_overhead_ms(self) -> float:
        pairs = zip(self.sandboxed.kernel_rt_p50_ms, self.bare.kernel_rt_p50_ms, strict=True)
        return statistics.median(s - b for s, b in pairs)


# ---------------------------------------------------------------- part 1: kernels


async def round_trip(client: Any, code: str, timeout: float = 120.0) -> float:
    t0 = time.perf_counter()
    msg_id = client.execute(code, store_history=False)
    replied = idle = False
    output = ""
    deadline = t0 + timeout
    while not (replied and idle):
        left = deadline - time.perf_counter()
        if left <= 0:
            raise TimeoutError(f"no reply to {code!r} within {timeout} s")
        if not replied:
            try:
                reply = await client.get_shell_msg(timeout=min(left, 0.05) if not idle else left)
            except Exception:  # queue.Empty: look at iopub meanwhile
                reply = None
            if reply is not None and reply["parent_header"].get("msg_id") == msg_id:
                replied = True
                if reply["content"]["status"] != "ok":
                    raise RuntimeError(f"{code!r} failed: {reply['content']}")
        if not idle:
            try:
                msg = await client.get_iopub_msg(timeout=min(left, 0.05) if not replied else left)
            except Exception:
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                output += msg["content"]["text"]
            elif msg["msg_type"] in ("execute_result", "display_data"):  # SQL answers with a table
                output += msg["content"]["data"].get("text/plain", "")
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
    if "1" not in output:
        raise RuntimeError(f"{code!r} printed {output!r}")
    return (time.perf_counter() - t0) * 1000


async def one_kernel(language: str, backend: str, root: Path, plan: Plan) -> tuple[float, float, list[float]]:
    from jupyter_client.manager import AsyncKernelManager
    from traitlets.config import Config

    from jupyter_interview.sandbox.provisioner import ROOM_ARG, ROOM_DIR_ARG
    from jupyter_interview.server_ext.kernelspecs import InterviewKernelSpecManager, spec_for_language

    room = uuid.uuid4().hex[:22]
    room_dir = root / "interviews" / room
    room_dir.mkdir(parents=True)
    config = Config({"SandboxProvisioner": {"backend": backend}})
    km = AsyncKernelManager(
        kernel_name=spec_for_language(language),
        kernel_spec_manager=InterviewKernelSpecManager(),
        config=config,
    )
    km.log.setLevel("ERROR")
    code = PRINT_ONE[language]
    t0 = time.perf_counter()
    await km.start_kernel(**{ROOM_ARG: room, ROOM_DIR_ARG: str(room_dir)}, cwd=str(room_dir))
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=120)
        start_ms = (time.perf_counter() - t0) * 1000
        first_ms = await round_trip(client, code)
        n = plan.compiled_round_trips if language in COMPILED else plan.round_trips
        trips = [await round_trip(client, code) for _ in range(n)]
    finally:
        client.stop_channels()
        await km.shutdown_kernel(now=True)
        shutil.rmtree(room_dir, ignore_errors=True)
    return start_ms, first_ms, trips


def available_languages() -> list[str]:
    from jupyter_interview.rooms.models import LANGUAGES
    from jupyter_interview.server_ext.kernelspecs import (
        InterviewKernelSpecManager,
        spec_for_language,
        unavailable_reason,
    )

    ksm = InterviewKernelSpecManager()
    found = []
    for language in LANGUAGES:
        try:
            reason = unavailable_reason(ksm.get_kernel_spec(spec_for_language(language)))
        except Exception as e:
            reason = str(e)
        if reason:
            print(f"  {language}: skipped ({reason})", flush=True)
        else:
            found.append(language)
    return found


async def measure_languages(languages: list[str], plan: Plan) -> list[Language]:
    root = Path(tempfile.mkdtemp(prefix="bench-kernels-"))
    os.chmod(root, 0o755)
    results = []
    try:
        for name in languages:
            lang = Language(name)
            for run in range(plan.runs):
                # Alternate which backend goes first, so drift on a shared machine hits both alike.
                order = [("bubblewrap", lang.sandboxed), ("none", lang.bare)]
                for backend, into in order if run % 2 == 0 else reversed(order):
                    start_ms, first_ms, trips = await one_kernel(name, backend, root, plan)
                    into.starts_ms.append(start_ms)
                    into.first_ms.append(first_ms)
                    into.round_trips_ms.extend(trips)
                    into.kernel_rt_p50_ms.append(statistics.median(trips))
            print(
                f"  {name:<10} start {statistics.median(lang.sandboxed.starts_ms):7.0f} /"
                f" {statistics.median(lang.bare.starts_ms):7.0f} ms, round trip"
                f" {statistics.median(lang.sandboxed.round_trips_ms):8.2f} /"
                f" {statistics.median(lang.bare.round_trips_ms):8.2f} ms (sandboxed / bare); overhead"
                f" {lang.start_overhead_ms:+.0f} ms start, {lang.round_trip_overhead_ms:+.2f} ms round trip",
                flush=True,
            )
            results.append(lang)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return results


# ---------------------------------------------------------------- part 2: first execution after admission


@dataclass
class Mode:
    name: str
    config: dict[str, Any]
    wait_for_kernel: bool = False  # admit only once the room's kernel is ready
    first_ms: list[float] = field(default_factory=list)
    warm_hits: int = 0


def modes() -> list[Mode]:
    return [
        Mode("cold: the notebook's session starts the kernel", {"prestart": "off", "pool_sizes": {}}),
        Mode("pre-start, admitted at once", {"prestart": "create", "pool_sizes": {}}),
        Mode("pool, admitted at once", {"prestart": "create", "pool_sizes": {"python": 1}}),
        Mode("pre-start, admitted once it is ready", {"prestart": "create", "pool_sizes": {}}, True),
    ]


def owner_json(server: BenchServer, method: str, rel: str, body: Any = None) -> Any:
    status, _, raw = server.request(method, rel, body, token=True)
    if status >= 300:
        raise RuntimeError(f"{method} {rel}: {status} {raw[:300]!r}")
    return json.loads(raw) if raw else None


def as_candidate(server: BenchServer, cookie: str, method: str, rel: str, body: Any = None) -> Any:
    xsrf = next((p.split("=", 1)[1] for p in cookie.split("; ") if p.startswith("_xsrf=")), None)
    headers = {"Accept": "application/json", "Cookie": cookie}
    if xsrf:
        headers["X-XSRFToken"] = xsrf
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    import http.client

    conn = http.client.HTTPConnection(HOST, server.port, timeout=60)
    try:
        conn.request(method, server.path(rel), body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {rel} as candidate: {r.status} {raw[:300]!r}")
        return json.loads(raw) if raw else None
    finally:
        conn.close()


async def first_execution(server: BenchServer, cookie: str, room: dict[str, Any]) -> str:
    """What JupyterLab does after admission: find (or make) the notebook's session, run print(1). Its kernel."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    path = room["notebook_path"]
    sessions = as_candidate(server, cookie, "GET", "api/sessions")
    session = next((s for s in sessions if s["path"] == path), None)
    if session is None:
        body = {
            "path": path,
            "type": "notebook",
            "name": "interview.ipynb",
            "kernel": {"name": "interview-python"},
        }
        session = as_candidate(server, cookie, "POST", "api/sessions", body)
    kernel_id = session["kernel"]["id"]
    url = f"ws://{HOST}:{server.port}{server.path(f'api/kernels/{kernel_id}/channels')}"
    headers = {"Cookie": cookie, "Origin": server.origin}
    conn = await websocket_connect(HTTPRequest(url, headers=headers, request_timeout=120))
    msg_id = uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": msg_id,
            "msg_type": "execute_request",
            "username": "",
            "session": uuid.uuid4().hex,
            "version": "5.3",
        },
        "parent_header": {},
        "metadata": {},
        "content": {
            "code": "print(1)",
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
        },
        "channel": "shell",
        "buffers": [],
    }
    await conn.write_message(json.dumps(request))
    replied = idle = False
    out = ""
    try:
        while not (replied and idle):
            raw = await asyncio.wait_for(conn.read_message(), 120)
            if raw is None:
                raise ConnectionError("the kernel socket closed")
            if isinstance(raw, bytes):
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "execute_reply":
                replied = True
            elif msg["msg_type"] == "stream":
                out += msg["content"]["text"]
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
    finally:
        conn.close()
    if out.strip() != "1":
        raise RuntimeError(f"print(1) printed {out!r}")
    return str(kernel_id)


def wait_until(check: Any, what: str, timeout: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (got := check()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"gave up waiting for {what}")
        time.sleep(0.1)
    return got


def kernels_settled(server: BenchServer, want_warm: int) -> bool:
    """No kernel starting, and at least want_warm idle kernels outside any session (the pool's)."""
    kernels = owner_json(server, "GET", "api/kernels")
    in_sessions = {s["kernel"]["id"] for s in owner_json(server, "GET", "api/sessions")}
    warm = [k for k in kernels if k["id"] not in in_sessions]
    return len(warm) >= want_warm and all(k["execution_state"] == "idle" for k in kernels)


def has_session(server: BenchServer, path: str) -> bool:
    return any(s["path"] == path for s in owner_json(server, "GET", "api/sessions"))


async def measure_admission(mode: Mode, plan: Plan) -> None:
    extra = {"KernelLifecycle": mode.config}
    with BenchServer(extra_config=extra) as server:
        slots = sum(mode.config["pool_sizes"].values())
        wait_until(lambda: kernels_settled(server, slots), "the warm pool")
        for _ in range(plan.trials):
            warm = {k["id"] for k in owner_json(server, "GET", "api/kernels")}  # the pool's, if any
            room = server.create_room(waiting_room=True)
            cookie = server.join(room["invites"]["candidate"])
            me = as_candidate(server, cookie, "GET", f"interview/api/rooms/{room['id']}/me")
            owner_json(server, "POST", f"interview/api/rooms/{room['id']}/start", {})
            if mode.wait_for_kernel:
                path = room["notebook_path"]
                wait_until(lambda: has_session(server, path) and kernels_settled(server, 0), "the kernel")  # noqa: B023
            t0 = time.perf_counter()
            owner_json(server, "POST", f"interview/api/rooms/{room['id']}/admit/{me['participant_id']}", {})
            kernel_id = await first_execution(server, cookie, room)
            mode.first_ms.append((time.perf_counter() - t0) * 1000)
            if kernel_id in warm:
                mode.warm_hits += 1
            owner_json(server, "DELETE", f"interview/api/rooms/{room['id']}")
            wait_until(lambda: kernels_settled(server, slots), "the pool's refill")
        print(
            f"  {mode.name:<45} p50 {statistics.median(mode.first_ms):7.0f} ms"
            f"  p90 {pct(mode.first_ms, 90):7.0f} ms  (n={len(mode.first_ms)})",
            flush=True,
        )


# ---------------------------------------------------------------- report


def report(languages: list[Language], admissions: list[Mode]) -> str:
    lines = []
    if languages:
        lines += [
            "| language | start sandboxed / bare p50 (ms) | start overhead, paired (ms) | round trip sandboxed p50 / p99 (ms)"
            " | bare p50 / p99 (ms) | round-trip overhead p50, paired (ms) | first cell sandboxed / bare (ms) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for lang in languages:
            s, b = lang.sandboxed, lang.bare
            s_start, b_start = statistics.median(s.starts_ms), statistics.median(b.starts_ms)
            s_rt, b_rt = statistics.median(s.round_trips_ms), statistics.median(b.round_trips_ms)
            lines.append(
                f"| {lang.name} | {s_start:.0f} / {b_start:.0f} | {lang.start_overhead_ms:+.0f} |"
                f" {s_rt:.2f} / {pct(s.round_trips_ms, 99):.2f} | {b_rt:.2f} / {pct(b.round_trips_ms, 99):.2f} |"
                f" {lang.round_trip_overhead_ms:+.2f} | {statistics.median(s.first_ms):.0f} / {statistics.median(b.first_ms):.0f} |"
            )
        lines.append("")
    if admissions:
        lines += [
            "| first `print(1)` after admission | p50 (ms) | p90 (ms) | trials | warm kernel taken |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for mode in admissions:
            hits = f"{mode.warm_hits}/{len(mode.first_ms)}" if mode.config["pool_sizes"] else "—"
            lines.append(
                f"| {mode.name} | {statistics.median(mode.first_ms):.0f} | {pct(mode.first_ms, 90):.0f} |"
                f" {len(mode.first_ms)} | {hits} |"
            )
    return "\n".join(lines)


def verdicts(languages: list[Language], admissions: list[Mode]) -> list[str]:
    out = []
    repl = [lang for lang in languages if lang.name not in COMPILED]
    if languages:
        worst_start = max(lang.start_overhead_ms for lang in languages)
        out.append(
            f"sandbox start overhead, worst language: {worst_start:+.0f} ms (target < {START_TARGET_MS:.0f}):"
            f" {'met' if worst_start < START_TARGET_MS else 'NOT met'}"
        )
    if repl:
        worst_rt = max(lang.round_trip_overhead_ms for lang in repl)
        out.append(
            f"round-trip overhead p50, worst REPL language: {worst_rt:+.2f} ms (target < {ROUND_TRIP_TARGET_MS:g}):"
            f" {'met' if worst_rt < ROUND_TRIP_TARGET_MS else 'NOT met'}"
        )
    pool = next((m for m in admissions if m.config["pool_sizes"] and not m.wait_for_kernel), None)
    if pool is not None:
        p50 = statistics.median(pool.first_ms)
        out.append(
            f"first execution after admission with the pool, p50: {p50:.0f} ms (target < {FIRST_RUN_TARGET_MS:.0f}):"
            f" {'met' if p50 < FIRST_RUN_TARGET_MS else 'NOT met'}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="fewer runs: 2 starts per language and backend, 3 admissions"
    )
    parser.add_argument("--languages", help="comma-separated languages (default: every available one)")
    parser.add_argument("--runs", type=int, help="kernel starts per language and backend")
    parser.add_argument("--trials", type=int, help="admissions per server mode")
    parser.add_argument("--skip-languages", action="store_true", help="only the admission part")
    parser.add_argument("--skip-admission", action="store_true", help="only the per-language part")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_kernels needs root: the bubblewrap sandbox gives each room its own uid", file=sys.stderr)
        return 2
    plan = QUICK if args.quick else FULL
    plan = Plan(
        runs=args.runs or plan.runs,
        round_trips=plan.round_trips,
        compiled_round_trips=plan.compiled_round_trips,
        trials=args.trials or plan.trials,
    )
    print(f"{platform.node()}: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; plan {plan}", flush=True)
    languages: list[Language] = []
    admissions: list[Mode] = []
    if not args.skip_languages:
        names = args.languages.split(",") if args.languages else available_languages()
        print("part 1: kernel start and print(1) round trip, sandboxed / bare", flush=True)
        languages = asyncio.run(measure_languages(names, plan))
    if not args.skip_admission:
        print("part 2: first execution after admission", flush=True)
        for mode in modes():
            asyncio.run(measure_admission(mode, plan))
            admissions.append(mode)
    print()
    print(report(languages, admissions))
    print()
    for line in verdicts(languages, admissions):
        print(line)
    print(f"load at the end: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "plan": asdict(plan),
                    "languages": [asdict(x) for x in languages],
                    "admissions": [asdict(m) for m in admissions],
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
