"""Benchmark baseline, run as its own process: the least a websocket relay does, on bare tornado.

`/ws?room=R&id=P`; a text frame `{"to": P2, ...}` is decoded, P2 looked up in room R, the
sender stamped in `from`, and the message encoded and written to P2. No identity, origin check,
validation, limits, sequence numbers or log: what our server does beyond this is what it costs.
Run: python bench/_bare_relay.py PORT
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from tornado import web
from tornado.websocket import WebSocketClosedError, WebSocketHandler


class Rooms:
    def __init__(self) -> None:
        self.members: dict[str, dict[str, RelaySocket]] = {}


class RelaySocket(WebSocketHandler):
    def initialize(self, rooms: Rooms) -> None:
        self.rooms = rooms
        self.room: dict[str, RelaySocket] = {}
        self.pid = ""

    def check_origin(self, origin: str) -> bool:
        return True

    def open(self, *args: Any, **kwargs: Any) -> None:
        self.set_nodelay(True)  # as our server does: small frames must not wait for ACKs
        self.pid = self.get_argument("id")
        self.room = self.rooms.members.setdefault(self.get_argument("room"), {})
        self.room[self.pid] = self

    def on_message(self, message: str | bytes) -> None:
        msg = json.loads(message)
        target = self.room.get(msg.get("to"))
        if target is None:
            return
        msg["from"] = self.pid
        try:
            target.write_message(json.dumps(msg, separators=(",", ":")))
        except WebSocketClosedError:
            pass

    def on_close(self) -> None:
        if self.room.get(self.pid) is self:
            del self.room[self.pid]


async def main(port: int) -> None:
    app = web.Application([(r"/ws", RelaySocket, {"rooms": Rooms()})])
    app.listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
