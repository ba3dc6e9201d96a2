"""Benchmark harness: a real interview-enabled Jupyter server in a subprocess, and the room and invite it serves."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jupyter_interview.server_ext.app import InterviewApp
from jupyter_interview.server_ext.identity import SESSION_COOKIE

HOST = "127.0.0.1"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def server_config(data_dir: Path) -> dict[str, Any]:
    """The production server classes (what `jupyter interview serve` uses), state kept in the temp data dir."""
    return {
        "ServerApp": {
            **InterviewApp.serverapp_config,
            # The same extensions the test servers load: the lab and collaboration add their own
            # per-request work (hooks, settings), which a deployment pays too.
            "jpserver_extensions": {
                "jupyter_interview": True,
                "jupyterlab": True,
                "jupyter_server_ydoc": True,
            },
            "allow_root": True,
            "open_browser": False,
        },
        "InterviewApp": {
            "db_path": str(data_dir / "interview" / "rooms.sqlite"),
            "invite_secret_path": str(data_dir / "interview" / "invite_secret"),
        },
        "YDocExtension": {"ystore_class": "jupyter_server_ydoc.stores.SQLiteYStore"},
        "SQLiteYStore": {"db_path": str(data_dir / "ystore.db")},
    }


@dataclass
class Room:
    id: str
    candidate_cookie: str  # the value of the Cookie header a joined candidate's browser sends


@dataclass
class LiveRoom:
    """A started room whose interviewer and candidate both opened their invites."""

    id: str
    interviewer_cookie: str
    candidate_cookie: str


def merge_config(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`base` with `extra`'s sections merged in, one level deep (ServerApp, InterviewApp, ...)."""
    merged = {section: dict(values) for section, values in base.items()}
    for section, values in extra.items():
        merged.setdefault(section, {}).update(values)
    return merged


class BenchServer:
    """Start with `with BenchServer(...) as server:`; everything it writes lives in one temp dir."""

    def __init__(
        self,
        base_url: str = "/bench/",
        token: str = "bench-token-0123456789abcdef",
        extra_config: dict[str, Any] | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.base_url = base_url
        self.token = token
        self.extra_config = extra_config or {}
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.tmp = Path(tempfile.mkdtemp(prefix="jupyter-interview-bench-"))
        self.log_path = self.tmp / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    # ---------------- lifecycle ----------------
    def __enter__(self) -> BenchServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        dirs = {name: self.tmp / name for name in ("home", "config", "data", "runtime", "ipython", "root")}
        for d in dirs.values():
            d.mkdir()
        (dirs["config"] / "jupyter_server_config.json").write_text(
            json.dumps(merge_config(server_config(dirs["data"]), self.extra_config), indent=2),
            encoding="utf-8",
        )
        env = {
            **os.environ,
            "HOME": str(dirs["home"]),
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "IPYTHONDIR": str(dirs["ipython"]),
            "JUPYTER_PLATFORM_DIRS": "1",
            **self.extra_env,
        }
        args = [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--ServerApp.ip={HOST}",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.base_url={self.base_url}",
            f"--ServerApp.root_dir={dirs['root']}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.log_level=WARN",
            "--no-browser",
            "--allow-root",
        ]
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                status, _, _ = self.request("GET", "api/status", token=True, timeout=2.0)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"the server did not answer api/status within {START_TIMEOUT_S:.0f} s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT_S)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # ---------------- requests of the set-up phase ----------------
    def path(self, rel: str) -> str:
        return self.base_url + rel.lstrip("/")

    def request(
        self,
        method: str,
        rel_or_path: str,
        body: Any = None,
        *,
        token: bool = False,
        cookie: str | None = None,
        timeout: float = 10.0,
    ) -> tuple[int, dict[str, list[str]], bytes]:
        path = rel_or_path if rel_or_path.startswith("/") else self.path(rel_or_path)
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"token {self.token}"
        if cookie:
            headers["Cookie"] = cookie
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            got: dict[str, list[str]] = {}
            for k, v in r.getheaders():
                got.setdefault(k.lower(), []).append(v)
            return r.status, got, r.read()
        finally:
            conn.close()

    def create_room(self, **fields: Any) -> dict[str, Any]:
        """As the owner: the new room's JSON, with its interviewer and candidate invite links."""
        body = {"title": "bench", "language": "python", "duration_minutes": 45, **fields}
        status, _, raw = self.request("POST", "interview/api/rooms", body, token=True)
        if status != 201:
            raise RuntimeError(f"creating the room gave {status}: {raw[:300]!r}")
        room: dict[str, Any] = json.loads(raw)
        return room

    def join(self, invite_url: str) -> str:
        """Open an invite link without following the redirect; the Cookie header the browser then sends."""
        invite = urlsplit(invite_url)
        status, headers, raw = self.request("GET", f"{invite.path}?{invite.query}")
        if status != 302:
            raise RuntimeError(f"joining gave {status}: {raw[:300]!r}")
        jar: SimpleCookie = SimpleCookie()
        for header in headers.get("set-cookie", []):
            jar.load(header)
        if SESSION_COOKIE not in jar:
            raise RuntimeError(f"joining set no {SESSION_COOKIE} cookie: {headers.get('set-cookie')}")
        return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())

    def create_room_and_join(self) -> Room:
        """As the owner, create a room; as a candidate, open its invite link and keep the browser's cookies."""
        room = self.create_room()
        return Room(id=room["id"], candidate_cookie=self.join(room["invites"]["candidate"]))

    def create_live_room(self) -> LiveRoom:
        """A room without a waiting room, both invites opened, started: ready for calls."""
        room = self.create_room(waiting_room=False)
        interviewer = self.join(room["invites"]["interviewer"])
        candidate = self.join(room["invites"]["candidate"])
        status, _, raw = self.request("POST", f"interview/api/rooms/{room['id']}/start", {}, token=True)
        if status != 200:
            raise RuntimeError(f"starting the room gave {status}: {raw[:300]!r}")
        return LiveRoom(id=room["id"], interviewer_cookie=interviewer, candidate_cookie=candidate)

    def ws_path(self, room_id: str) -> str:
        return self.path(f"interview/api/rooms/{room_id}/ws")

    @property
    def origin(self) -> str:
        """What a browser on this server's own pages sends as Origin."""
        return f"http://{HOST}:{self.port}"


class LoadProcess:
    """A load client in its own process, driven by one JSON command and one JSON result a line."""

    def __init__(self, script: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def call(self, cmd: dict[str, Any], timeout_s: float | None = None) -> dict[str, Any]:
        import select

        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        if timeout_s is not None:
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout_s)
            if not ready:
                raise RuntimeError(f"the load client gave no result within {timeout_s:.0f} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the load client died")
        result: dict[str, Any] = json.loads(line)
        if "error" in result:
            raise RuntimeError(f"load client: {result['error']}")
        return result

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
