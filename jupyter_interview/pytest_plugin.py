"""Pytest fixtures for a real interview server: server config, a room factory and participant clients.

Use with `pytest_plugins = ["pytest_jupyter.jupyter_server", "jupyter_interview.pytest_plugin"]`.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPResponse

INTERVIEW_SERVER_CONFIG: dict[str, Any] = {
    "ServerApp": {
        "identity_provider_class": "jupyter_interview.server_ext.identity.InterviewIdentityProvider",
        "authorizer_class": "jupyter_interview.server_ext.authorizer.InterviewAuthorizer",
        "contents_manager_class": "jupyter_interview.server_ext.contents.SafeContentsManager",
        "kernel_manager_class": "jupyter_interview.server_ext.kernels.RoomKernelManager",
        "kernel_spec_manager_class": "jupyter_interview.server_ext.kernelspecs.InterviewKernelSpecManager",
        "jpserver_extensions": {
            "jupyter_interview": True,
            "jupyterlab": True,
            "jupyter_server_fileid": True,
            "jupyter_server_ydoc": True,
        },
        "allow_root": True,
    },
    # Tests start the kernels they need: no room kernel starts by itself and no warm pool runs
    # (tests/test_kernel_lifecycle.py turns both on).
    "KernelLifecycle": {"prestart": "off", "pool_sizes": {}},
}


class Client:
    """An HTTP client with its own cookie jar: one browser of one participant, no Jupyter token."""

    def __init__(self, port: int, base_url: str, token: str | None = None) -> None:
        self.origin = f"http://localhost:{port}"
        self.base_url = base_url
        self.token = token
        self.cookies: dict[str, str] = {}
        self.http = AsyncHTTPClient()

    def url(self, path: str) -> str:
        if path.startswith("http"):
            return path
        return self.origin + self.base_url + path.lstrip("/")

    def _remember(self, response: HTTPResponse) -> None:
        for header in response.headers.get_list("Set-Cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel.value == "" or morsel["max-age"] == "0":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> HTTPResponse:
        h = {"Accept": "application/json", **(headers or {})}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if "_xsrf" in self.cookies:
            h["X-XSRFToken"] = self.cookies["_xsrf"]
        if self.token:
            h["Authorization"] = f"token {self.token}"
        data: bytes | None = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        try:
            response = await self.http.fetch(
                self.url(path), method=method, body=data, headers=h, follow_redirects=False, raise_error=False
            )
        except HTTPClientError as e:  # pragma: no cover - raise_error=False returns responses
            assert e.response is not None
            response = e.response
        self._remember(response)
        return response

    async def json(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        r = await self.request(method, path, body, **kw)
        text = r.body.decode() if r.body else ""
        try:
            return r.code, json.loads(text) if text else None
        except ValueError:
            return r.code, text

    async def join(self, invite_url: str) -> HTTPResponse:
        parts = urlsplit(invite_url)
        return await self.request("GET", self.origin + parts.path + "?" + parts.query)


def invite_token(invite_url: str) -> str:
    return parse_qs(urlsplit(invite_url).query)["invite"][0]


@pytest.fixture
def cleanup_delay() -> float:
    """jupyter-collaboration's document_cleanup_delay; its default unless a test parametrises it."""
    return 60.0


@pytest.fixture
def jp_server_config(tmp_path_factory: pytest.TempPathFactory, cleanup_delay: float) -> dict[str, Any]:
    config: dict[str, Any] = json.loads(json.dumps(INTERVIEW_SERVER_CONFIG))
    data = tmp_path_factory.mktemp("interview-data")
    config["InterviewApp"] = {
        "db_path": str(data / "rooms.sqlite"),
        "invite_secret_path": str(data / "invite_secret"),
    }
    config.setdefault("YDocExtension", {})["document_cleanup_delay"] = cleanup_delay
    return config


@pytest.fixture
def jp_base_url() -> str:
    return "/jp/"


@pytest.fixture
def owner(jp_serverapp: Any, http_server_client: Any, jp_http_port: int, jp_base_url: str) -> Client:
    return Client(jp_http_port, jp_base_url, token=jp_serverapp.identity_provider.token)


@pytest.fixture
def make_client(
    jp_serverapp: Any, http_server_client: Any, jp_http_port: int, jp_base_url: str
) -> Callable[[], Client]:
    return lambda: Client(jp_http_port, jp_base_url)


@pytest.fixture
def make_room(owner: Client) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def make(**fields: Any) -> dict[str, Any]:
        body = {"title": "Two sum", "language": "python", "duration_minutes": 45, **fields}
        code, room = await owner.json("POST", "interview/api/rooms", body)
        assert code == 201, room
        assert isinstance(room, dict)
        return room

    return make


class ServerProcess:
    """A real `jupyter server` in a child process, for tests that stop, kill and restart it."""

    def __init__(self, workdir: Any, port: int, token: str = "", base_url: str = "/jp/") -> None:
        self.workdir = workdir
        self.port = port
        self.token = token or secrets.token_hex(16)
        self.base_url = base_url
        self.proc: Any = None
        self.root = workdir / "root"
        self.data = workdir / "data"
        self.root.mkdir(exist_ok=True)
        self.data.mkdir(exist_ok=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_url}"

    def env(self) -> dict[str, str]:
        import os

        env = dict(os.environ)
        home = self.workdir / "home"
        for name, sub in (
            ("HOME", "home"),
            ("JUPYTER_CONFIG_DIR", "config"),
            ("JUPYTER_DATA_DIR", "jdata"),
            ("JUPYTER_RUNTIME_DIR", "runtime"),
            ("IPYTHONDIR", "ipython"),
        ):
            path = self.workdir / sub
            path.mkdir(exist_ok=True)
            env[name] = str(path)
        env["HOME"] = str(home)
        return env

    def start(self, timeout_s: float = 60, extra: dict[str, dict[str, Any]] | None = None) -> None:
        import subprocess
        import sys
        import time
        import urllib.request

        config = json.loads(json.dumps(INTERVIEW_SERVER_CONFIG))
        config["ServerApp"].update(
            {
                "port": self.port,
                "ip": "127.0.0.1",
                "base_url": self.base_url,
                "root_dir": str(self.root),
                "open_browser": False,
            }
        )
        config["IdentityProvider"] = {"token": self.token}
        config["InterviewApp"] = {
            "db_path": str(self.data / "rooms.sqlite"),
            "invite_secret_path": str(self.data / "invite_secret"),
        }
        for section, values in (extra or {}).items():
            config.setdefault(section, {}).update(values)
        config_file = self.workdir / "server_config.json"
        config_file.write_text(json.dumps(config))
        self.log = open(self.workdir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--config={config_file}"],
            env=self.env(),
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {(self.workdir / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}api/status?token={self.token}", timeout=2):  # noqa: S310
                    return
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("the server did not answer within the time limit")

    def stop(self, *, kill: bool = False) -> None:
        import signal

        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except Exception:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server_process(tmp_path: Any) -> Any:
    server = ServerProcess(tmp_path, free_port())
    yield server
    server.stop(kill=True)


@pytest.fixture
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real redis-server on a loopback port, private to the test, nothing written to disk."""
    import os
    import shutil
    import subprocess
    import time

    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is missing; scripts/test installs it")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    client.close()
    proc.terminate()
    proc.wait(timeout=10)


class Signal:
    """A participant's real-time socket: send events, wait for the ones that matter."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.inbox: list[dict[str, Any]] = []
        self.closed: tuple[int | None, str | None] | None = None
        self.last_seq = 0
        self._n = 0

    @classmethod
    async def open(
        cls, client: Client, room_id: str, *, hello: dict[str, Any] | None = None, origin: str | None = None
    ) -> Signal:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = client.url(f"interview/api/rooms/{room_id}/ws").replace("http://", "ws://")
        headers = {"Origin": origin or client.origin}
        if client.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        if client.token:
            headers["Authorization"] = f"token {client.token}"
        conn = await websocket_connect(HTTPRequest(url, headers=headers))
        sig = cls(conn)
        if hello is not None:
            await sig.send("hello", hello)
            await sig.wait("welcome")
        return sig

    async def send(self, etype: str, payload: dict[str, Any], **extra: Any) -> str:
        self._n += 1
        msg_id = f"c{self._n}"
        await self.conn.write_message(
            json.dumps({"v": 1, "type": etype, "id": msg_id, "payload": payload, **extra})
        )
        return msg_id

    async def send_raw(self, raw: str | bytes) -> None:
        await self.conn.write_message(raw, binary=isinstance(raw, bytes))

    async def _read(self, timeout: float) -> dict[str, Any] | None:
        import asyncio

        raw = await asyncio.wait_for(self.conn.read_message(), timeout)
        if raw is None:
            self.closed = (self.conn.close_code, self.conn.close_reason)
            return None
        msg = json.loads(raw)
        if isinstance(msg.get("seq"), int) and msg["type"] not in ("welcome", "error"):
            self.last_seq = max(self.last_seq, msg["seq"])
        self.inbox.append(msg)
        return dict(msg)

    async def wait(self, etype: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The next message of a type (and payload values), reading on until it comes."""
        import time

        deadline = time.monotonic() + timeout
        for i, queued in enumerate(self.inbox):
            if queued["type"] == etype and all(queued["payload"].get(k) == v for k, v in match.items()):
                return dict(self.inbox.pop(i))
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {etype} {match}; got {[m['type'] for m in self.inbox]}")
            msg = await self._read(left)
            if msg is None:
                raise ConnectionError(f"socket closed {self.closed} while waiting for {etype}")
            if msg["type"] == etype and all(msg["payload"].get(k) == v for k, v in match.items()):
                self.inbox.remove(msg)
                return msg

    async def drain(self, quiet_s: float = 0.3) -> list[dict[str, Any]]:
        """Everything that arrives until the socket is quiet for quiet_s."""

        got = list(self.inbox)
        self.inbox.clear()
        while True:
            try:
                msg = await self._read(quiet_s)
            except TimeoutError:
                return got
            if msg is None:
                return got
            self.inbox.remove(msg)
            got.append(msg)

    async def wait_closed(self, timeout: float = 5.0) -> tuple[int | None, str | None]:
        import time

        deadline = time.monotonic() + timeout
        while self.closed is None:
            if time.monotonic() > deadline:
                raise TimeoutError("socket still open")
            await self._read(deadline - time.monotonic())
        return self.closed

    def close(self) -> None:
        self.conn.close()
