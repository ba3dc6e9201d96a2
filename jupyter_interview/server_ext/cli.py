"""`jupyter interview`: the command line over the REST API (create) and a server launcher (serve)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from jupyter_server.utils import url_path_join

if TYPE_CHECKING:
    from jupyter_server.serverapp import ServerApp

ROOMS_API = "interview/api/rooms"
URL_ENV = "JUPYTER_INTERVIEW_URL"
TOKEN_ENV = "JUPYTER_TOKEN"  # noqa: S105 (the name of a variable, not a secret)
REQUEST_TIMEOUT_S = 30.0

HOW_TO_START = (
    "start one with `jupyter interview serve`, or point at a server with --url URL --token TOKEN"
    f" (or the environment variables {URL_ENV} and {TOKEN_ENV})"
)

DEMO_ROOM: dict[str, Any] = {
    "title": "Demo interview",
    "language": "python",
    "duration_minutes": 45,
    "problem": (
        "## Two sum\n\n"
        "Given a list of integers `nums` and an integer `target`, return the indices of the two numbers"
        " that add up to `target`. Each input has exactly one solution, and the same element may not be"
        " used twice.\n\n"
        "```\n"
        "two_sum([2, 7, 11, 15], 9)  ->  (0, 1)\n"
        "two_sum([3, 2, 4], 6)       ->  (1, 2)\n"
        "```\n\n"
        "Start with a solution that works, then make it run in linear time."
    ),
}


class CLIError(Exception):
    """A failure to report as `error: <code>: <message>` with exit status 1."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------- finding the server


@dataclass(frozen=True)
class Target:
    """The server a command talks to: its base URL (with base_url, ending in '/') and the owner token."""

    url: str
    token: str


def _normalise(url: str) -> str:
    return url if url.endswith("/") else url + "/"


def running_servers(runtime_dir: str | None = None) -> list[dict[str, Any]]:
    """Running Jupyter servers of this user, newest first (by the age of their server-info file)."""
    from jupyter_core.paths import jupyter_runtime_dir
    from jupyter_server.serverapp import list_running_servers

    folder = runtime_dir or jupyter_runtime_dir()
    servers = [s for s in list_running_servers(folder) if not s.get("sock")]

    def started(info: dict[str, Any]) -> float:
        try:
            return os.path.getmtime(os.path.join(folder, f"jpserver-{info['pid']}.json"))
        except (OSError, KeyError):
            return 0.0

    return sorted(servers, key=started, reverse=True)


def find_target(
    url: str | None,
    token: str | None,
    *,
    environ: dict[str, str] | None = None,
    runtime_dir: str | None = None,
) -> Target:
    """--url/--token win over the environment, which wins over the newest running server."""
    env = os.environ if environ is None else environ
    url = url or env.get(URL_ENV) or None
    token = token if token is not None else env.get(TOKEN_ENV)
    if url:
        if token is None:
            # A server of ours found by URL lends its token, so `--url` alone works locally.
            for info in running_servers(runtime_dir):
                if _normalise(str(info.get("url", ""))) == _normalise(url):
                    token = str(info.get("token") or "")
                    break
        return Target(_normalise(url), token or "")
    servers = running_servers(runtime_dir)
    if not servers:
        raise CLIError("no_server", f"no running Jupyter server was found; {HOW_TO_START}")
    newest = servers[0]
    return Target(
        _normalise(str(newest["url"])), token if token is not None else str(newest.get("token") or "")
    )


# ---------------------------------------------------------------- talking to it


def request_json(target: Target, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One call of our REST API with the owner token; our JSON errors become CLIError."""
    url = url_path_join(target.url, path)
    if urlsplit(url).scheme not in ("http", "https"):
        raise CLIError("bad_url", f"'{target.url}' is not an http(s) URL of a Jupyter server")
    headers = {"Accept": "application/json"}
    if target.token:
        headers["Authorization"] = f"token {target.token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (scheme checked above)
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_S) as response:  # noqa: S310
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raise _http_error(e, target) from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise CLIError(
            "unreachable", f"cannot reach the Jupyter server at {target.url} ({reason}); {HOW_TO_START}"
        ) from None


def _http_error(e: urllib.error.HTTPError, target: Target) -> CLIError:
    raw = e.read()
    try:
        error = json.loads(raw)["error"]
        if isinstance(error, dict) and "code" in error:
            return CLIError(str(error["code"]), str(error.get("message", "")))
    except (ValueError, KeyError, TypeError):
        pass
    if e.code == 404:
        return CLIError(
            "no_interview_api",
            f"the server at {target.url} has no interview API; enable the extension"
            " (`jupyter server extension enable jupyter_interview`) or start `jupyter interview serve`",
        )
    if e.code in (401, 403):
        return CLIError(
            "unauthenticated", f"the server at {target.url} refused the token (HTTP {e.code}); pass --token"
        )
    return CLIError(f"http_{e.code}", f"the server at {target.url} answered {e.code} {e.reason}")


# ---------------------------------------------------------------- create


def room_request(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": args.title,
        "language": args.language,
        "duration_minutes": args.duration,
    }
    if args.waiting_room is not None:
        body["waiting_room"] = args.waiting_room
    if args.problem:
        try:
            if args.problem == "-":
                body["problem"] = sys.stdin.read()
            else:
                with open(args.problem, encoding="utf-8") as f:
                    body["problem"] = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise CLIError("problem_file", f"cannot read the problem statement {args.problem}: {e}") from None
    return body


def print_room(room: dict[str, Any], out: TextIO) -> None:
    invites = room.get("invites") or {}
    out.write(
        f'Created interview room "{room["title"]}" ({room["language"]}, {room["duration_minutes"]} min)\n'
        f"  Room id:           {room['id']}\n"
        f"  Notebook:          {room['notebook_path']}\n"
        f"  Interviewer link:  {invites.get('interviewer', '-')}\n"
        f"  Candidate link:    {invites.get('candidate', '-')}\n"
        "Send each link to one person only: it signs them in to this room until it expires,"
        " is revoked or the interview ends.\n"
    )


def cmd_create(args: argparse.Namespace) -> int:
    body = room_request(args)
    target = find_target(args.url, args.token)
    _, room = request_json(target, "POST", ROOMS_API, body)
    if args.json:
        sys.stdout.write(json.dumps(room, indent=2) + "\n")
    else:
        print_room(room, sys.stdout)
    return 0


# ---------------------------------------------------------------- serve


def server_argv(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    """ServerApp command line: our classes, address and root; the caller's extra args come last and win."""
    from jupyter_interview.server_ext.app import InterviewApp

    argv = [f"--ServerApp.{name}={value}" for name, value in InterviewApp.serverapp_config.items()]
    argv += [
        f"--ServerApp.ip={args.ip}",
        f"--ServerApp.port={args.port}",
        "--ServerApp.open_browser=False",
    ]
    if args.root_dir:
        argv.append(f"--ServerApp.root_dir={os.path.abspath(args.root_dir)}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--ServerApp.allow_root=True")
    return argv + list(extra)


@dataclass(frozen=True)
class Addresses:
    """Where the running server is reached from this process, and the origin its links should carry."""

    connect: str  # scheme://host:port, a loopback-reachable address
    host: str  # the Host header, so that invite links name the address people use
    owner_base: str  # base URL of the owner's link


def server_addresses(serverapp: ServerApp) -> Addresses:
    scheme = "https" if serverapp.certfile else "http"
    ip = serverapp.ip or ""
    if ip in ("", "0.0.0.0", "localhost", "*"):  # noqa: S104 (matching the wildcard, not binding it)
        connect_host = "127.0.0.1"
    elif ip == "::":
        connect_host = "[::1]"
    else:
        connect_host = f"[{ip}]" if ":" in ip else ip
    # connection_url names the machine for a wildcard address and keeps base_url.
    link = urlsplit(serverapp.connection_url)
    public = getattr(getattr(serverapp, "_starter_app", None), "public_url", "") or ""
    owner_base = public or f"{link.scheme}://{link.netloc}{serverapp.base_url}"
    return Addresses(f"{scheme}://{connect_host}:{serverapp.port}", link.netloc, _normalise(owner_base))


async def _server_call(
    serverapp: ServerApp, addresses: Addresses, method: str, path: str, body: Any = None
) -> Any:
    from tornado.httpclient import AsyncHTTPClient

    response = await AsyncHTTPClient().fetch(
        addresses.connect + url_path_join(serverapp.base_url, path),
        method=method,
        body=json.dumps(body) if body is not None else None,
        headers={
            "Authorization": f"token {serverapp.identity_provider.token}",
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Host": addresses.host,
        },
        # Loopback to this very process: a certificate for the public name cannot match here.
        validate_cert=False,
        raise_error=False,
        request_timeout=REQUEST_TIMEOUT_S,
    )
    text = response.body.decode() if response.body else ""
    if response.code >= 400:
        try:
            error = json.loads(text)["error"]
            raise CLIError(str(error["code"]), str(error["message"]))
        except (ValueError, KeyError, TypeError):
            raise CLIError(f"http_{response.code}", text[:200] or str(response.error)) from None
    return json.loads(text) if text else None


def owner_link(serverapp: ServerApp, addresses: Addresses) -> str:
    lab = url_path_join(addresses.owner_base, "lab")
    provider = serverapp.identity_provider
    if not provider.token:
        return f"{lab}  (sign in with the server's password)"
    # Like Jupyter itself: a token that came from configuration is not echoed.
    return f"{lab}?token={provider.token if provider.token_generated else '<your configured token>'}"


CREATE_HINT = 'jupyter interview create --title "Backend interview" --language python --duration 45'


def announcement(owner: str, demo: dict[str, Any] | None, rooms: list[dict[str, Any]], note: str = "") -> str:
    rule = "=" * 78
    lines = ["", rule, "jupyter-interview is running", ""]
    lines.append(f"  Owner link:        {owner}")
    lines.append("                     (you: JupyterLab with every room; keep this link to yourself)")
    if demo is not None:
        invites = demo.get("invites") or {}
        lines += [
            "",
            f'  Demo room "{demo["title"]}" ({demo["language"]}, {demo["duration_minutes"]} min),'
            f" id {demo['id']}",
            f"  Interviewer link:  {invites.get('interviewer')}",
            f"  Candidate link:    {invites.get('candidate')}",
            "",
            "  Open the interviewer link in one browser and the candidate link in another (or a private",
            "  window): each link signs in one participant.",
        ]
    elif rooms:
        lines += ["", "  Open interview rooms (invite links are shown only when a room is created):"]
        lines += [f"    {r['id']}  {r['state']:<9}  {r['title']}" for r in rooms]
    else:
        lines += ["", "  No open interview rooms."]
    if note:
        lines += ["", f"  {note}"]
    lines += ["", f"  New room with fresh links:  {CREATE_HINT}", rule, ""]
    return "\n".join(lines)


async def announce(serverapp: ServerApp, demo: bool) -> None:
    """Runs on the server's loop once it listens: make the demo room if there is none, print the links."""
    addresses = server_addresses(serverapp)
    owner = owner_link(serverapp, addresses)
    note = ""
    created: dict[str, Any] | None = None
    open_rooms: list[dict[str, Any]] = []
    try:
        listing = await _server_call(serverapp, addresses, "GET", ROOMS_API)
        rooms = list(listing["rooms"])
        open_rooms = [r for r in rooms if r.get("state") != "ended"]
        if demo and not rooms:
            created = await _server_call(serverapp, addresses, "POST", ROOMS_API, DEMO_ROOM)
    except CLIError as e:
        note = f"could not list or create rooms: error: {e.code}: {e.message}"
    except Exception as e:  # the server keeps running; the owner can still create rooms by hand
        note = f"could not list or create rooms: {e!r}"
    sys.stdout.write(announcement(owner, created, open_rooms, note) + "\n")
    sys.stdout.flush()


def cmd_serve(args: argparse.Namespace, extra: Sequence[str]) -> int:
    from jupyter_interview.server_ext.app import InterviewApp

    serverapp: ServerApp = InterviewApp.initialize_server(argv=server_argv(args, extra))  # type: ignore[no-untyped-call]
    if serverapp.sock:
        serverapp.log.warning("jupyter interview serve: on a UNIX socket no demo room or links are made")
    else:
        # Callbacks run in order: this one comes after the HTTP server's bind, queued in initialize().
        serverapp.io_loop.add_callback(announce, serverapp, not args.no_demo)
    serverapp.start()
    return 0


# ---------------------------------------------------------------- argument parsing


def build_parser() -> argparse.ArgumentParser:
    # allow_abbrev=False: `serve` passes unknown options on to Jupyter; none may be taken for ours.
    parser = argparse.ArgumentParser(
        prog="jupyter interview",
        allow_abbrev=False,
        description="Live technical interviews on Jupyter: serve a server with the extension, create rooms.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{create,serve}")

    create = sub.add_parser(
        "create",
        allow_abbrev=False,
        help="create an interview room on a running server and print its two invite links",
        description=(
            "Create an interview room on a running Jupyter server (the newest one found, unless --url or"
            f" {URL_ENV} names one) and print the interviewer and candidate invite links."
        ),
    )
    create.add_argument("--title", required=True, help="the room's title, shown to both sides")
    create.add_argument(
        "--language", default="python", help="the room's language, e.g. python (default: python)"
    )
    create.add_argument(
        "--duration", type=int, default=45, metavar="MINUTES", help="planned length in minutes (default: 45)"
    )
    create.add_argument(
        "--waiting-room",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="candidates wait until an interviewer admits them (server default: yes)",
    )
    create.add_argument(
        "--problem", metavar="FILE", help="a markdown file with the problem statement ('-': standard input)"
    )
    create.add_argument("--json", action="store_true", help="print the server's JSON answer as it is")
    create.add_argument("--url", help=f"the server's base URL (default: ${URL_ENV}, else the newest running)")
    create.add_argument(
        "--token", help=f"the server's token (default: ${TOKEN_ENV}, else the found server's)"
    )

    serve = sub.add_parser(
        "serve",
        allow_abbrev=False,
        help="start JupyterLab with the interview extension and print the owner and demo links",
        description=(
            "Start a Jupyter server (JupyterLab) with the interview extension, its identity provider,"
            " authorizer, contents and kernel managers. Once it listens, a demo room is created if there"
            " is no room yet, and the owner, interviewer and candidate links are printed. Other arguments"
            " go to the Jupyter server as they are, e.g. --ServerApp.certfile=cert.pem"
            " --InterviewApp.public_url=https://interviews.example.com/"
        ),
    )
    serve.add_argument("--port", type=int, default=8888, help="the port to listen on (default: 8888)")
    serve.add_argument("--ip", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1)")
    serve.add_argument(
        "--root-dir", metavar="DIR", help="the served folder; rooms live in DIR/interviews (default: here)"
    )
    serve.add_argument("--no-demo", action="store_true", help="do not create a demo room")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "serve":
            return cmd_serve(args, extra)
        if extra:
            parser.error(f"unrecognised arguments: {' '.join(extra)}")
        return cmd_create(args)
    except CLIError as e:
        sys.stderr.write(f"error: {e.code}: {e.message}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
