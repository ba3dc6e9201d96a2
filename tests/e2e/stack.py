"""The real stack the browser tests and the UI benchmark drive: interview server, coturn over TCP, Node runner.

Everything listens on 127.0.0.1. The candidate's browser reaches the server and the TURN relay only
through loopback TCP proxies that the Node runner (`tests/e2e/lib.mjs`) owns and can sever; the
server hands out the proxied TURN url, so the candidate uses exactly the ICE settings the server
sends. The interviewer's browser is pointed at coturn directly (the runner rewrites the port in its
copy of `ice-servers`), so a cut on the candidate's side leaves the interviewer's path up.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from turn_helpers import Coturn, free_udp_port  # noqa: E402

from jupyter_interview.pytest_plugin import ServerProcess, free_port  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
NODE = shutil.which("node") or "node"
# Room creation and joins from one address: the tests and the bench join more often than a person.
RATE_LIMITS = {"create_room": "600/minute", "invite": "600/minute", "join": "600/minute"}


def missing_tools() -> list[str]:
    """What this machine lacks to run the browser tests: empty when they can run."""
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (Debian package chromium)")
    if shutil.which("turnserver") is None:
        missing.append("turnserver (Debian package coturn)")
    if shutil.which("node") is None:
        missing.append("node")
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        missing.append("node_modules/playwright-core (npm ci)")
    if not (REPO / "jupyter_interview" / "labext" / "package.json").exists():
        missing.append("the built lab extension (npm run build)")
    return missing


class TcpCoturn(Coturn):
    """coturn that also listens on TCP, so a TCP proxy in front of it can carry a browser's relay."""

    def command(self, binary: str) -> list[str]:
        return [arg for arg in super().command(binary) if arg != "--no-tcp"]

    def tcp_url(self, port: int | None = None) -> str:
        return f"turn:127.0.0.1:{port or self.port}?transport=tcp"


@dataclass
class Invites:
    room: str
    interviewer: str
    candidate: str
    candidate_id: str
    interviewer_id: str
    notebook_path: str


class Stack:
    """coturn + one interview server in child processes; `with Stack(workdir) as s:` stops both."""

    def __init__(self, workdir: Path, extra: dict[str, dict[str, Any]] | None = None) -> None:
        self.workdir = workdir
        low = random.randrange(50000, 59000, 50)
        turn_dir = workdir / "coturn"
        turn_dir.mkdir(parents=True, exist_ok=True)
        self.coturn = TcpCoturn(turn_dir, free_udp_port(), secrets.token_hex(16), (low, low + 49))
        # Picked here, listened on by the Node runner: the url the server hands out must name it.
        self.http_proxy_port = free_port()
        self.turn_proxy_port = free_port()
        server_dir = workdir / "server"
        server_dir.mkdir(parents=True, exist_ok=True)
        self.server = ServerProcess(server_dir, free_port())
        self.extra = extra or {}

    def __enter__(self) -> Stack:
        try:
            self.coturn.start()
            config: dict[str, dict[str, Any]] = {
                "InterviewApp": {
                    "turn_urls": [self.coturn.tcp_url(self.turn_proxy_port)],
                    "turn_secret": self.coturn.secret,
                    "ice_transport_policy": "relay",
                    "rate_limits": RATE_LIMITS,
                },
                "ServerApp": {"log_level": "WARN"},
            }
            for section, values in self.extra.items():
                config.setdefault(section, {}).update(values)
            self.server.start(extra=config)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.stop(kill=False)
        self.coturn.stop()

    def server_log(self, tail: int = 4000) -> str:
        try:
            return (self.server.workdir / "server.log").read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """The owner's REST call (Jupyter's token) to interview/api/<path>."""
        data = json.dumps(body).encode() if body is not None else (b"" if method != "GET" else None)
        request = urllib.request.Request(
            f"{self.server.url}interview/api/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.server.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as r:
                text = r.read().decode()
                return r.status, json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            text = e.read().decode()
            return e.code, json.loads(text) if text.startswith("{") else text

    def create_room(self, **fields: Any) -> Invites:
        body = {"title": "E2E: two sum", "language": "python", "duration_minutes": 30, **fields}
        code, room = self.api("POST", "rooms", body)
        if code != 201:
            raise RuntimeError(f"creating a room gave {code}: {room}")
        by_role = {p["role"]: p["id"] for p in room["participants"]}
        direct = f"http://127.0.0.1:{self.server.port}"
        proxied = f"http://127.0.0.1:{self.http_proxy_port}"
        candidate = room["invites"]["candidate"]
        if not candidate.startswith(direct):
            raise RuntimeError(f"unexpected invite url {candidate!r}: expected it under {direct}")
        return Invites(
            room=room["id"],
            interviewer=room["invites"]["interviewer"],
            candidate=proxied + candidate[len(direct) :],
            candidate_id=by_role["candidate"],
            interviewer_id=by_role["interviewer"],
            notebook_path=room["notebook_path"],
        )

    def runner_config(self) -> dict[str, Any]:
        """What every Node runner needs to know about the stack."""
        return {
            "chromium": CHROMIUM,
            "baseUrl": self.server.base_url,
            "serverPort": self.server.port,
            "httpProxyPort": self.http_proxy_port,
            "turnPort": self.coturn.port,
            "turnProxyPort": self.turn_proxy_port,
        }


def run_node(script: Path, config: dict[str, Any], timeout_s: float, log_path: Path) -> dict[str, Any]:
    """Runs a Node runner with its JSON config on stdin; returns the JSON object on its last stdout line.

    The runner's stderr (its step log) goes to log_path; on a failure its tail is in the error.
    """
    env = {**os.environ, "NODE_PATH": str(REPO / "node_modules")}
    t0 = time.monotonic()
    with open(log_path, "wb") as log:
        # Its own process group: on a timeout the browsers it started go with it.
        proc = subprocess.Popen(
            [NODE, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=REPO,
            env=env,
            start_new_session=True,
        )
        try:
            out, _ = proc.communicate(json.dumps(config).encode(), timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever of the group outlived the runner
    lines = [line for line in out.decode(errors="replace").splitlines() if line.strip()]
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(
            f"{script.name} exited with {proc.returncode} after {time.monotonic() - t0:.0f} s"
            f" without a JSON result; its log ends:\n{tail}"
        ) from None
    result.setdefault("exit_code", proc.returncode)
    return result


def observed(result: dict[str, Any], name: str) -> dict[str, Any]:
    """A runner's observation `name` (its `checks`), failing with what went wrong when it is missing or failed."""
    import pytest

    got = result["checks"].get(name)
    if got is None:
        pytest.fail(
            f"the scenario never reached {name!r}: it stopped at {result.get('error') or result.get('step')}"
            f"\nbrowser console: {json.dumps(result.get('console', {}))[:3000]}"
        )
    assert got["ok"], f"{name}: {got.get('error')}"
    return dict(got)


# Screenshots, logs and the runners' JSON of the browser tests.
ARTIFACTS = Path(os.environ.get("E2E_ARTIFACTS") or REPO / "test-artifacts" / "e2e")


def require_browser() -> None:
    """Skip without Debian's Chromium; fail when it is there but another tool the browser tests use is not."""
    import pytest

    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} is missing (Debian package chromium): browser tests skipped"
        print(reason)
        pytest.skip(reason)
    missing = missing_tools()
    if missing:
        pytest.fail(f"the browser tests need: {', '.join(missing)} (scripts/test installs them)")
