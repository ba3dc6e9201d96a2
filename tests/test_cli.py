"""`jupyter interview create` against a real test server, and `jupyter interview serve` end to end."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from jupyter_interview.pytest_plugin import Client
from jupyter_interview.server_ext.cli import CLIError, find_target

CLI = [sys.executable, "-m", "jupyter_interview.server_ext.cli"]
ROOM_KEYS = {"id", "title", "language", "state", "duration_minutes", "settings", "created_at"} | {
    "notebook_path"
}
LINK = re.compile(r"^\s*(Owner|Interviewer|Candidate) link:\s+(\S+)", re.MULTILINE)
SERVE_TIMEOUT_S = 90


def isolated_env(tmp: Path) -> dict[str, str]:
    """An environment whose Jupyter and IPython state all lives under tmp."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "IPYTHON"))}
    for name, sub in [
        ("HOME", "home"),
        ("JUPYTER_CONFIG_DIR", "config"),
        ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"),
        ("IPYTHONDIR", "ipython"),
    ]:
        (tmp / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(tmp / sub)
    return env


async def run_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run the CLI in a child process; the test server shares this loop, so the wait must not block it."""
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def server_args(owner: Client) -> list[str]:
    assert owner.token
    return ["--url", owner.origin + owner.base_url, "--token", owner.token]


async def test_create_json_prints_the_rest_answer(owner: Client, tmp_path: Path) -> None:
    problem = tmp_path / "problem.md"
    problem.write_text("## Reverse a list\n\nIn place, please.\n", encoding="utf-8")
    code, out, err = await run_cli(
        "create",
        "--title",
        "Backend",
        "--language",
        "python",
        "--duration",
        "30",
        "--no-waiting-room",
        "--problem",
        str(problem),
        "--json",
        *server_args(owner),
    )
    assert code == 0, err
    room = json.loads(out)
    assert ROOM_KEYS <= room.keys()
    assert room["title"] == "Backend"
    assert room["duration_minutes"] == 30
    assert room["settings"]["waiting_room"] is False
    assert room["settings"]["problem"].startswith("## Reverse a list")
    assert set(room["invites"]) == {"interviewer", "candidate"}
    status, stored = await owner.json("GET", f"interview/api/rooms/{room['id']}")
    assert status == 200
    for key in ROOM_KEYS:
        assert stored[key] == room[key], key


async def test_create_prints_both_links_that_sign_in(
    owner: Client, make_client: Any, jp_base_url: str
) -> None:
    code, out, err = await run_cli("create", "--title", "Frontend", *server_args(owner))
    assert code == 0, err
    links = dict(LINK.findall(out))
    assert set(links) == {"Interviewer", "Candidate"}, out
    room_id = re.search(r"Room id:\s+(\S+)", out)
    assert room_id is not None, out
    for role, url in links.items():
        assert url.startswith(owner.origin + jp_base_url + "interview/join/" + room_id.group(1) + "?invite=")
        browser = make_client()
        r = await browser.join(url)
        assert r.code == 302, (role, r.body)
        status, me = await browser.json("GET", f"interview/api/rooms/{room_id.group(1)}/me")
        assert status == 200, me
        assert me["role"] == role.lower()


async def test_create_with_bad_language_exits_1_naming_the_field(owner: Client) -> None:
    code, out, err = await run_cli("create", "--title", "T", "--language", "cobol", *server_args(owner))
    assert code == 1
    assert out == ""
    assert err.startswith("error: invalid_field: "), err
    assert "'language'" in err and "python" in err
    status, listing = await owner.json("GET", "interview/api/rooms")
    assert status == 200 and listing["rooms"] == []


async def test_create_with_wrong_token_exits_1(owner: Client) -> None:
    url = owner.origin + owner.base_url
    code, _, err = await run_cli("create", "--title", "T", "--url", url, "--token", "not-the-token")
    assert code == 1
    assert err.startswith("error: "), err


async def test_create_reads_url_and_token_from_the_environment(owner: Client, tmp_path: Path) -> None:
    env = isolated_env(tmp_path)
    env["JUPYTER_INTERVIEW_URL"] = owner.origin + owner.base_url
    env["JUPYTER_TOKEN"] = str(owner.token)
    code, out, err = await run_cli("create", "--title", "From env", "--json", env=env)
    assert code == 0, err
    assert json.loads(out)["title"] == "From env"


async def test_create_without_a_server_says_how_to_start_one(tmp_path: Path) -> None:
    code, _, err = await run_cli("create", "--title", "T", env=isolated_env(tmp_path))
    assert code == 1
    assert err.startswith("error: no_server: "), err
    assert "jupyter interview serve" in err and "--url" in err


def test_find_target_picks_the_newest_running_server(tmp_path: Path) -> None:
    # Two live processes (this one and its parent) stand in for two servers' info files.
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    older, newer = os.getppid(), os.getpid()
    for pid, port, stamp in [(older, 1111, 1_000_000), (newer, 2222, 2_000_000)]:
        info = runtime / f"jpserver-{pid}.json"
        info.write_text(
            json.dumps({"url": f"http://127.0.0.1:{port}/x/", "token": f"tok{port}", "pid": pid}),
            encoding="utf-8",
        )
        os.utime(info, (stamp, stamp))
    target = find_target(None, None, environ={}, runtime_dir=str(runtime))
    assert (target.url, target.token) == ("http://127.0.0.1:2222/x/", "tok2222")
    # --url of a known server borrows its token; --token and the environment override.
    assert (
        find_target("http://127.0.0.1:1111/x", None, environ={}, runtime_dir=str(runtime)).token == "tok1111"
    )
    env = {"JUPYTER_TOKEN": "from-env"}
    assert find_target(None, None, environ=env, runtime_dir=str(runtime)).token == "from-env"
    assert find_target(None, "flag", environ=env, runtime_dir=str(runtime)).token == "flag"
    with pytest.raises(CLIError) as e:
        find_target(None, None, environ={}, runtime_dir=str(tmp_path / "none"))
    assert e.value.code == "no_server"


# ---------------------------------------------------------------- serve, in its own process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """`jupyter interview serve` in a child process, its stdout collected by a thread."""

    def __init__(self, tmp: Path, port: int, *args: str) -> None:
        self.lines: list[str] = []
        self.stderr = (tmp / f"serve-{port}-{time.monotonic_ns()}.log").open("w+", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "interview", "serve", "--port", str(port), *args],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            stdin=subprocess.DEVNULL,
            env=isolated_env(tmp),
            cwd=tmp,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    def announcement(self) -> str:
        """The block of links, once printed: it ends with the `jupyter interview create` hint and a rule."""
        deadline = time.monotonic() + SERVE_TIMEOUT_S
        while time.monotonic() < deadline:
            text = "".join(self.lines)
            if "New room with fresh links:" in text and text.rstrip().endswith("=" * 78):
                return text
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stderr.seek(0)
        pytest.fail(
            f"no links within {SERVE_TIMEOUT_S} s; stdout:\n{''.join(self.lines)}\n{self.stderr.read()}"
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.stderr.close()


def get(url: str) -> http.client.HTTPResponse:
    """A GET with no cookies and no redirect following: a fresh browser's first request."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request("GET", parts.path + ("?" + parts.query if parts.query else ""))
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@pytest.mark.timeout(300)
def test_serve_makes_a_demo_room_whose_candidate_link_opens_its_notebook(tmp_path: Path) -> None:
    root = tmp_path / "served"
    root.mkdir()
    port = free_port()
    served = Served(tmp_path, port, "--root-dir", str(root))
    try:
        text = served.announcement()
        links = dict(LINK.findall(text))
        assert set(links) == {"Owner", "Interviewer", "Candidate"}, text
        origin = f"http://127.0.0.1:{port}/"
        assert links["Owner"].startswith(origin + "lab?token=")
        room = urlsplit(links["Candidate"]).path.rstrip("/").split("/")[-1]
        assert links["Candidate"].startswith(origin + f"interview/join/{room}?invite=")

        r = get(links["Candidate"])
        assert r.status == 302
        assert r.headers["Location"].endswith(f"/lab/tree/interviews/{room}/interview.ipynb")
        assert (root / "interviews" / room / "interview.ipynb").is_file()
        assert "Two sum" in (root / "interviews" / room / "interview.ipynb").read_text(encoding="utf-8")
        assert get(links["Owner"]).status == 200
    finally:
        served.stop()
    # The room store lives in the data dir, not under the served root.
    assert not list(root.glob("*.sqlite")) and list((tmp_path / "data").rglob("rooms.sqlite"))

    # A second start over the same data lists the room instead of making another.
    again = Served(tmp_path, free_port(), "--root-dir", str(root))
    try:
        text = again.announcement()
        assert "Owner link:" in text
        assert "Candidate link:" not in text
        assert room in text and "Demo interview" in text
        # Beside it only the warm pool's hidden slot folders (`.pool-*`, renamed into place as new
        # rooms' folders), never a second room.
        rooms = [p.name for p in (root / "interviews").iterdir() if not p.name.startswith(".pool-")]
        assert rooms == [room]
    finally:
        again.stop()
