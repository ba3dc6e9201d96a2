"""Benchmark, in process: the identity step alone (IdentityProvider._get_user, and the Authorizer's gate).

The HTTP series measure whole requests, where the token baseline pays for signing a login cookie
on every request; this isolates what each way of being identified costs. The classes, the room
service and its SQLite store are the real ones; only the TCP connection under the tornado request
is a stub (no socket is needed to identify a request).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from jupyter_server.auth.identity import PasswordIdentityProvider
from jupyter_server.base.handlers import JupyterHandler
from tornado import httputil, web

from jupyter_interview.rooms.invites import InviteCodec, InviteKeys
from jupyter_interview.rooms.models import Role, parse_room_spec
from jupyter_interview.rooms.service import RoomService
from jupyter_interview.rooms.store import SQLiteRoomStore
from jupyter_interview.server_ext.authorizer import InterviewAuthorizer
from jupyter_interview.server_ext.identity import (
    SERVICE_KEY,
    SESSION_COOKIE,
    InterviewIdentityProvider,
    InterviewUser,
)

BASE_URL = "/bench/"
HOST = "127.0.0.1:8888"
TOKEN = "bench-token-0123456789abcdef"


class _Connection:
    """Stands in for tornado's HTTP1Connection: a handler only registers a close callback on it."""

    context = None

    def set_close_callback(self, callback: Any) -> None:
        pass


class Fixture:
    def __init__(self, service: RoomService, room_id: str, session_token: str) -> None:
        self.service = service
        self.room_id = room_id
        self.ours = InterviewIdentityProvider(token=TOKEN)
        self.stock = PasswordIdentityProvider(token=TOKEN)
        self.authorizer = InterviewAuthorizer(identity_provider=self.ours)
        settings: dict[str, Any] = {
            "base_url": BASE_URL,
            "cookie_secret": os.urandom(32),
            "authorizer": self.authorizer,
            "identity_provider": self.ours,
            SERVICE_KEY: service,
        }
        self.app = web.Application(**settings)
        self.room_path = f"{BASE_URL}interview/api/rooms/{room_id}"
        self.session_cookie = f"{SESSION_COOKIE}={session_token}"

    def handler(self, path: str, headers: dict[str, str]) -> JupyterHandler:
        request = httputil.HTTPServerRequest(
            method="GET",
            uri=path,
            headers=httputil.HTTPHeaders({"Host": HOST, "Accept": "application/json", **headers}),
            connection=_Connection(),  # type: ignore[arg-type]
        )
        return JupyterHandler(self.app, request)

    async def login_cookie(self) -> str:
        """The login cookie Jupyter sets on a token request, as a browser would send it back."""
        h = self.handler(self.room_path, {"Authorization": f"token {TOKEN}"})
        await self.ours._get_user(h)
        morsel = next(iter(h._new_cookie.values()))
        return f"{morsel.key}={morsel.coded_value}"


async def _fixture(tmp: str) -> Fixture:
    codec = InviteCodec(InviteKeys.hs256(os.urandom(32)))
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    service = RoomService(SQLiteRoomStore(os.path.join(tmp, "rooms.sqlite")), codec, root)
    await service.load()
    room = await service.create_room(
        parse_room_spec({"title": "bench", "language": "python", "duration_minutes": 45})
    )
    invite, _ = await service.invite(room.id, Role.CANDIDATE, "Candidate", 3600)
    session_token, _ = await service.join(invite, room.id)
    return Fixture(service, room.id, session_token)


def _time_per_call(
    loop: asyncio.AbstractEventLoop,
    make: Callable[[], JupyterHandler],
    step: Callable[[JupyterHandler], Awaitable[Any]] | None,
    n: int,
) -> float:
    """Seconds per iteration of: build a fresh request and handler, then await step(handler)."""

    async def body() -> float:
        t0 = time.perf_counter()
        for _ in range(n):
            h = make()
            if step is not None:
                await step(h)
        return time.perf_counter() - t0

    gc.collect()
    return loop.run_until_complete(body()) / n


def identity_costs(n: int = 5000, repeats: int = 5) -> dict[str, float]:
    """Microseconds per request of each identity path, net of building the request and handler."""
    with tempfile.TemporaryDirectory(prefix="jupyter-interview-micro-") as tmp:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            fx = loop.run_until_complete(_fixture(tmp))
            token = {"Authorization": f"token {TOKEN}"}
            token_cookie = {**token, "Cookie": loop.run_until_complete(fx.login_cookie())}
            session = {"Cookie": fx.session_cookie}
            candidate = loop.run_until_complete(fx.ours._get_user(fx.handler(fx.room_path, session)))
            assert isinstance(candidate, InterviewUser) and candidate.role == "candidate", candidate

            def gate_only(h: JupyterHandler) -> Awaitable[bool]:
                return fx.authorizer.decide(h, candidate)

            status_path = f"{BASE_URL}api/status"
            paths: dict[str, tuple[str, dict[str, str], Callable[[JupyterHandler], Awaitable[Any]]]] = {
                "jupyter_token": (status_path, token, fx.stock._get_user),
                "jupyter_token_with_login_cookie": (status_path, token_cookie, fx.stock._get_user),
                "owner_token": (fx.room_path, token, fx.ours._get_user),
                "owner_token_with_login_cookie": (fx.room_path, token_cookie, fx.ours._get_user),
                "candidate_session_with_gate": (fx.room_path, session, fx.ours._get_user),
                "gate_only": (fx.room_path, session, gate_only),
            }
            samples: dict[str, list[float]] = {name: [] for name in ("build_handler", *paths)}
            for _ in range(repeats):
                # Interleaved, like the HTTP rounds; each repeat subtracts its own construction cost.
                base = _time_per_call(loop, lambda: fx.handler(fx.room_path, session), None, n)
                samples["build_handler"].append(base)
                for name, (path, headers, step) in paths.items():
                    per = _time_per_call(loop, functools.partial(fx.handler, path, headers), step, n)
                    samples[name].append(per - base)
            loop.run_until_complete(fx.service.close())
            return {name: statistics.median(v) * 1e6 for name, v in samples.items()}
        finally:
            loop.close()
            asyncio.set_event_loop(None)
