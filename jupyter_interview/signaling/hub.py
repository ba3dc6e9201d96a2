"""The real-time layer: one channel per room, members and their sockets, seq, resume and presence.

Knows nothing of tornado: a socket is anything with send(text) and close(code, reason). The
server_ext adapter feeds frames in with `receive` and reports closed sockets with `disconnect`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from jupyter_interview.errors import InterviewError
from jupyter_interview.rooms.models import Participant, ParticipantStatus, Role, Room, RoomState
from jupyter_interview.rooms.service import Access, Change, RoomService
from jupyter_interview.signaling import protocol
from jupyter_interview.signaling.limits import DEFAULT_RATE_CLASSES, TokenBucket
from jupyter_interview.signaling.protocol import ProtocolError

log = logging.getLogger(__name__)

CLOSE_POLICY = 1008  # sustained abuse
CLOSE_REPLACED = 4001  # the same identity opened a newer socket
CLOSE_FORBIDDEN = 4003  # the invite was revoked or the session ended
CLOSE_GONE = 4004  # the room was deleted

STAFF = frozenset({Role.INTERVIEWER.value, Role.OWNER.value})
STAFF_ROLES = (Role.INTERVIEWER.value, Role.OWNER.value)
# What a participant without access to the room (a candidate waiting, or after End) may receive.
WAITING_VISIBLE = frozenset({"waiting-room", "interview-state", "error", "welcome"})
ENDED_VISIBLE = frozenset({"interview-state", "error", "welcome"})


class Socket(Protocol):
    def send(self, text: str) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


@dataclass(frozen=True)
class Actor:
    """Who holds a socket, as the server's identity layer resolved it on upgrade."""

    participant_id: str
    name: str
    role: str
    room_id: str


@dataclass
class Member:
    actor: Actor
    socket: Socket | None = None
    presence: str = "online"
    media: dict[str, bool] = field(default_factory=lambda: {"mic": False, "cam": False, "screen": False})
    hand_raised: bool = False
    greeted: bool = False  # this socket said hello
    known: bool = False  # the room was told of this member (user-joined)
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    violations: deque[float] = field(default_factory=deque)
    last_limit_error: dict[str, float] = field(default_factory=dict)
    grace: asyncio.TimerHandle | None = None

    @property
    def pid(self) -> str:
        return self.actor.participant_id

    def public(self) -> dict[str, Any]:
        return {
            "id": self.pid,
            "name": self.actor.name,
            "role": self.actor.role,
            "presence": self.presence,
            "media": dict(self.media),
            "hand_raised": self.hand_raised,
        }


class Audience(NamedTuple):
    """Who may get an event: everyone (pids and roles None), named participants, and/or roles.

    Tuples of strings, like Logged, so that the resume log holds nothing the garbage collector
    has to walk: a log of thousands of events per room otherwise makes every full collection
    of the server's heap slower (measured: 0.5 s pauses at 200 busy rooms)."""

    pids: tuple[str, ...] | None = None
    roles: tuple[str, ...] | None = None
    exclude: str | None = None  # e.g. the subject of user-joined, who knows it joined

    def includes(self, member: Member) -> bool:
        if member.pid == self.exclude:
            return False
        if self.pids is None and self.roles is None:
            return True
        return bool(
            (self.pids and member.pid in self.pids) or (self.roles and member.actor.role in self.roles)
        )


EVERYONE = Audience()


class Logged(NamedTuple):
    seq: int
    type: str
    audience: Audience
    text: str


class Channel:
    """One room's live state in this process."""

    def __init__(self, room_id: str, log_size: int) -> None:
        self.room_id = room_id
        # Seq starts from the clock so it keeps growing across restarts; a client resuming from an
        # older process's seq is not in the log and gets a full welcome instead.
        self.seq = int(time.time() * 1000) * 1000
        self.log: deque[Logged] = deque(maxlen=log_size)
        self.members: dict[str, Member] = {}
        self.sent_state: str | None = None
        # The room settings the last welcome carried: a change is pushed as a fresh welcome.
        self.sent_settings: dict[str, Any] | None = None
        self.expiry: asyncio.TimerHandle | None = None


@dataclass
class Settings:
    max_frame_bytes: int = 64 * 1024
    grace_s: float = 60.0
    log_size: int = 5000
    chat_history: int = 200
    abuse_violations: int = 100  # refused messages within abuse_window_s that close the socket
    abuse_window_s: float = 10.0
    rate_classes: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_RATE_CLASSES))


HandlerFn = Callable[["Hub", Member, dict[str, Any]], Awaitable[None] | None]


@dataclass(frozen=True)
class EventSpec:
    """How the server treats one client event type: who may send it, its rate class, its handler."""

    type: str
    roles: frozenset[str]
    rate_class: str
    needs_access: bool  # a candidate must be admitted to a live room
    handler: HandlerFn


class Hub:
    def __init__(self, service: RoomService, settings: Settings | None = None) -> None:
        self.service = service
        self.settings = settings or Settings()
        self.channels: dict[str, Channel] = {}
        self.specs: dict[str, EventSpec] = {}
        self.clock = service.clock
        self._tasks: set[asyncio.Future[None]] = set()
        # With several processes, only the room's owner runs its timer (see relay.py).
        self.owns: Callable[[str], bool] = lambda room_id: True
        # The room kernel's status for the welcome (set by the server's kernel lifecycle).
        self.kernel_status: Callable[[str], dict[str, Any] | None] = lambda room_id: None
        service.add_listener(self._on_change)

    def claimed(self, room_id: str) -> None:
        """This process took over a room: it now runs the room's timer."""
        self._schedule_expiry(room_id)

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def register(self, spec: EventSpec) -> None:
        if spec.type not in protocol.event_types():
            raise ValueError(f"no schema for event type {spec.type}")
        self.specs[spec.type] = spec

    def start(self) -> None:
        """Schedule the expiry of every running timer (after a restart, too)."""
        for room_id, _ in self.service.due_timers():
            self._schedule_expiry(room_id)

    # ------------------------------------------------------------------ sockets
    def channel(self, room_id: str) -> Channel:
        ch = self.channels.get(room_id)
        if ch is None:
            ch = self.channels[room_id] = Channel(room_id, self.settings.log_size)
        return ch

    def attach(self, actor: Actor, socket: Socket) -> Member:
        """A socket opened; the member is greeted once it says hello."""
        ch = self.channel(actor.room_id)
        member = ch.members.get(actor.participant_id)
        if member is None:
            member = ch.members[actor.participant_id] = Member(actor)
        elif member.socket is not None and member.socket is not socket:
            old = member.socket
            member.socket = None
            old.close(CLOSE_REPLACED, "replaced by a newer connection of the same participant")
        if member.grace is not None:
            member.grace.cancel()
            member.grace = None
        member.socket = socket
        member.greeted = False
        member.buckets = {}
        return member

    def disconnect(self, actor: Actor, socket: Socket) -> None:
        ch = self.channels.get(actor.room_id)
        member = ch.members.get(actor.participant_id) if ch else None
        if ch is None or member is None or member.socket is not socket:
            return  # a replaced socket: its successor carries on
        member.socket = None
        member.greeted = False
        if not member.known:
            self._drop(ch, member, announce=False)
            return
        if member.presence != "reconnecting":
            member.presence = "reconnecting"
            self._presence(ch, member)
        loop = asyncio.get_running_loop()
        member.grace = loop.call_later(self.settings.grace_s, self._grace_over, ch, member)

    def _grace_over(self, ch: Channel, member: Member) -> None:
        member.grace = None
        if member.socket is None:
            member.presence = "offline"
            self._drop(ch, member, announce=True)

    def _drop(self, ch: Channel, member: Member, *, announce: bool) -> None:
        ch.members.pop(member.pid, None)
        if announce:
            self.emit(
                ch,
                "user-left",
                {"participant_id": member.pid},
                sender=member.pid,
                audience=self._seen_by(member),
            )
        if not ch.members and ch.expiry is None:
            self.channels.pop(ch.room_id, None)

    def receive(self, actor: Actor, socket: Socket, raw: str | bytes) -> Awaitable[None] | None:
        """Handle one frame. Relays and most events finish here; an event whose handler waits for
        storage (chat, timer, start/end, admission, hello) returns an awaitable, which the caller
        awaits before the socket's next frame, so a socket's messages keep their order. Returning
        None otherwise spares tornado a Task per frame."""
        ch = self.channel(actor.room_id)
        member = ch.members.get(actor.participant_id)
        if member is None or member.socket is not socket:
            return None
        msg_id: str | None = None
        try:
            if isinstance(raw, bytes):
                raise ProtocolError("binary_frame", "binary frames are not accepted; send JSON text frames")
            message = protocol.parse(raw, self.settings.max_frame_bytes)
            msg_id = message["id"]
            pending = self._dispatch(ch, member, message)
        except ProtocolError as e:
            self._refuse(member, e.code, e.message, e.msg_id or msg_id)
            return None
        except InterviewError as e:
            self._refuse(member, e.code, e.message, msg_id)
            return None
        return None if pending is None else self._finish(member, pending, msg_id)

    async def _finish(self, member: Member, pending: Awaitable[None], msg_id: str | None) -> None:
        try:
            await pending
        except ProtocolError as e:
            self._refuse(member, e.code, e.message, e.msg_id or msg_id)
        except InterviewError as e:
            self._refuse(member, e.code, e.message, msg_id)

    def _refuse(self, member: Member, code: str, message: str, msg_id: str | None) -> None:
        self.send_direct(member, "error", {"code": code, "message": message, "id": msg_id})
        now = time.monotonic()
        member.violations.append(now)
        while member.violations and member.violations[0] < now - self.settings.abuse_window_s:
            member.violations.popleft()
        if len(member.violations) > self.settings.abuse_violations and member.socket is not None:
            socket, member.socket = member.socket, None
            socket.close(CLOSE_POLICY, "too many refused messages")
            ch = self.channels.get(member.actor.room_id)
            if ch is not None:
                self.disconnect_member_now(ch, member)

    def disconnect_member_now(self, ch: Channel, member: Member) -> None:
        if member.grace is not None:
            member.grace.cancel()
            member.grace = None
        member.presence = "offline"
        self._drop(ch, member, announce=member.known)

    def _dispatch(self, ch: Channel, member: Member, message: dict[str, Any]) -> Awaitable[None] | None:
        msg_id = message["id"]
        etype = message["type"]
        if message.get("room") not in (None, ch.room_id):
            raise ProtocolError(
                "wrong_room", "this socket belongs to another room; room must be omitted or match", msg_id
            )
        if message.get("from") not in (None, member.pid):
            raise ProtocolError(
                "spoofed_from", "from is set by the server; omit it or send your own id", msg_id
            )
        if etype == "hello":
            protocol.validate_payload("hello", message["payload"], msg_id)
            return self._hello(ch, member, message["payload"])
        spec = self.specs.get(etype)
        if spec is None:
            accepted = ", ".join(sorted(self.specs))
            raise ProtocolError(
                "unknown_type", f"no client event '{etype[:32]}'; accepted: hello, {accepted}", msg_id
            )
        if not member.greeted:
            raise ProtocolError("hello_required", "say hello first", msg_id)
        if member.actor.role not in spec.roles:
            raise ProtocolError("forbidden", f"{member.actor.role}s may not send {etype}", msg_id)
        if (
            spec.needs_access
            and member.actor.role == Role.CANDIDATE.value
            and self.access(member) != Access.WRITE
        ):
            raise ProtocolError(
                "not_admitted", f"{etype} is for admitted participants of a live interview", msg_id
            )
        if not self._take(member, spec.rate_class):
            return None
        protocol.validate_payload(etype, message["payload"], msg_id)
        return spec.handler(self, member, message)

    def _take(self, member: Member, rate_class: str) -> bool:
        bucket = member.buckets.get(rate_class)
        if bucket is None:
            rate, burst = self.settings.rate_classes[rate_class]
            bucket = member.buckets[rate_class] = TokenBucket(rate, burst)
        if bucket.take(time.monotonic()):
            return True
        now = time.monotonic()
        # One error a second per class is enough to tell the client; the rest are dropped and counted.
        if now - member.last_limit_error.get(rate_class, 0.0) >= 1.0:
            member.last_limit_error[rate_class] = now
            rate, _ = self.settings.rate_classes[rate_class]
            self._refuse(member, "rate_limited", f"too many {rate_class} messages; at most {rate:g}/s", None)
        else:
            member.violations.append(now)
            if len(member.violations) > self.settings.abuse_violations:
                self._refuse(member, "rate_limited", "sustained flood", None)
        return False

    # ------------------------------------------------------------------ state views
    def participant(self, member: Member) -> Participant | None:
        if member.actor.role == Role.OWNER.value:
            return None
        try:
            return self.service.get_participant(member.actor.room_id, member.pid)
        except InterviewError:
            return None

    def room(self, ch: Channel) -> Room | None:
        try:
            return self.service.get_room(ch.room_id)
        except InterviewError:
            return None

    def access(self, member: Member) -> str:
        if member.actor.role == Role.OWNER.value:
            return Access.WRITE
        p = self.participant(member)
        room = self.room(self.channel(member.actor.room_id))
        if p is None or room is None:
            return Access.NONE
        return self.service.access(room, p)

    def _visible(self, member: Member, etype: str) -> bool:
        if member.actor.role in STAFF:
            return True
        if etype == "activity":
            return False
        room = self.room(self.channel(member.actor.room_id))
        if room is not None and room.state is RoomState.ENDED:
            return etype in ENDED_VISIBLE
        if self.access(member) == Access.NONE:
            return etype in WAITING_VISIBLE
        return True

    def _seen_by(self, member: Member) -> Audience:
        """Who may know of a member: a candidate without access is known to interviewers only."""
        if member.actor.role == Role.CANDIDATE.value and self.access(member) == Access.NONE:
            return Audience(pids=(member.pid,), roles=STAFF_ROLES)
        return EVERYONE

    # ------------------------------------------------------------------ sending
    def emit(
        self,
        ch: Channel,
        etype: str,
        payload: dict[str, Any],
        *,
        sender: str | None = None,
        to: str | None = None,
        audience: Audience = EVERYONE,
        msg_id: str | None = None,
        replayable: bool = True,
    ) -> int:
        """A room event: numbered, logged for resume, delivered to every visible member online now."""
        ch.seq += 1
        envelope: dict[str, Any] = {
            "v": protocol.PROTOCOL_VERSION,
            "type": etype,
            "id": msg_id or f"s{ch.seq}",
            "room": ch.room_id,
            "from": sender or "server",
            "seq": ch.seq,
            "ts": self.clock(),
            "payload": payload,
        }
        if to is not None:
            envelope["to"] = to
        text = protocol.encode(envelope)
        if replayable:
            ch.log.append(Logged(ch.seq, etype, audience, text))
        for member in ch.members.values():
            if (
                member.socket is not None
                and member.greeted
                and audience.includes(member)
                and self._visible(member, etype)
            ):
                member.socket.send(text)
        return ch.seq

    def send_direct(self, member: Member, etype: str, payload: dict[str, Any]) -> None:
        """To one socket only, outside the room's sequence (welcome, error)."""
        if member.socket is None:
            return
        ch = self.channel(member.actor.room_id)
        member.socket.send(
            protocol.encode(
                {
                    "v": protocol.PROTOCOL_VERSION,
                    "type": etype,
                    "id": f"d{time.monotonic_ns()}",
                    "room": ch.room_id,
                    "from": "server",
                    "seq": ch.seq,
                    "ts": self.clock(),
                    "payload": payload,
                }
            )
        )

    def _joined(self, ch: Channel, member: Member) -> None:
        seen = self._seen_by(member)
        audience = Audience(seen.pids, seen.roles, exclude=member.pid)
        self.emit(ch, "user-joined", {"participant": member.public()}, sender=member.pid, audience=audience)

    def _presence(self, ch: Channel, member: Member) -> None:
        payload = {"participant_id": member.pid, "status": member.presence, "media": dict(member.media)}
        self.emit(ch, "presence", payload, sender=member.pid, audience=self._seen_by(member))

    # ------------------------------------------------------------------ hello / welcome
    async def _hello(self, ch: Channel, member: Member, payload: dict[str, Any]) -> None:
        if member.greeted:
            raise ProtocolError("already_greeted", "hello is said once per socket")
        was = member.presence
        if "media" in payload:
            member.media.update(payload["media"])
        resume = payload.get("resume")
        replay = self._replay(ch, member, resume) if resume is not None else None
        await self.welcome(ch, member, resumed=replay is not None)
        member.greeted = True
        member.presence = "online"
        if replay is not None:
            for entry in replay:
                if member.socket is not None:
                    member.socket.send(entry.text)
        if member.known:
            if was != "online":
                self._presence(ch, member)
        else:
            member.known = True
            self._joined(ch, member)

    def _replay(self, ch: Channel, member: Member, last_seq: int) -> list[Logged] | None:
        if last_seq > ch.seq:
            return None
        if ch.log and last_seq < ch.log[0].seq - 1:
            return None  # older than what this process remembers: a full welcome instead
        if not ch.log and last_seq != ch.seq:
            return None
        return [
            e
            for e in ch.log
            if e.seq > last_seq and e.audience.includes(member) and self._visible(member, e.type)
        ]

    async def welcome(self, ch: Channel, member: Member, *, resumed: bool) -> None:
        room = self.room(ch)
        p = self.participant(member)
        now = self.clock()
        payload: dict[str, Any] = {
            "participant_id": member.pid,
            "role": member.actor.role,
            "status": p.status.value if p else "admitted",
            "server_now": now,
            "room_state": room.state.value if room else "ended",
            "seq": ch.seq,
            "resumed": resumed,
        }
        access = self.access(member)
        ended = room is not None and room.state is RoomState.ENDED
        if member.actor.role in STAFF or ended or access != Access.NONE:
            history = await self.service.chat_history(ch.room_id, self.settings.chat_history)
            payload["chat"] = [m.to_json() for m in history]
        if room is not None and (member.actor.role in STAFF or (access != Access.NONE and not ended)):
            payload["participants"] = [
                m.public()
                for m in ch.members.values()
                if m.socket is not None and self._seen_by(m).includes(member)
            ]
            payload["timer"] = self.service.timer(ch.room_id).to_json(now)
            payload["settings"] = ch.sent_settings = room.settings.to_json()
            kernel = self.kernel_status(ch.room_id)
            if kernel is not None:
                payload["kernel"] = kernel
        self.send_direct(member, "welcome", payload)

    # ------------------------------------------------------------------ changes from the room service
    def _on_change(self, change: Change) -> None:
        ch = self.channels.get(change.room_id)
        if change.kind == "timer":
            self._schedule_expiry(change.room_id)
            if ch is not None:
                now = self.clock()
                self.emit(ch, "timer", self.service.timer(change.room_id).to_json(now))
            return
        if ch is None:
            return
        if change.kind == "deleted":
            for member in list(ch.members.values()):
                if member.socket is not None:
                    member.socket.close(CLOSE_GONE, "the interview was deleted")
            self.channels.pop(change.room_id, None)
            return
        if change.kind == "revoked" and change.participant_id:
            revoked = ch.members.get(change.participant_id)
            if revoked is not None:
                socket, revoked.socket = revoked.socket, None
                if socket is not None:
                    socket.close(CLOSE_FORBIDDEN, "the invite was revoked")
                self.disconnect_member_now(ch, revoked)
            return
        if change.kind == "participant" and change.participant_id:
            self._participant_changed(ch, change.participant_id)
            return
        if change.kind == "room":
            room = self.room(ch)
            if room is None:
                return
            self._settings_changed(ch, room.settings.to_json(), room.state is RoomState.ENDED)
            if room.state.value == ch.sent_state:
                return
            previous, ch.sent_state = ch.sent_state, room.state.value
            self.emit(ch, "interview-state", {"state": room.state.value})
            if room.state is RoomState.LIVE and previous != RoomState.LIVE.value:
                # Candidates who may now take part get the full picture, as on a fresh join.
                for member in list(ch.members.values()):
                    if (
                        member.actor.role == Role.CANDIDATE.value
                        and member.greeted
                        and self.access(member) == Access.WRITE
                    ):
                        self._spawn(self.welcome(ch, member, resumed=False))
                        self._joined(ch, member)

    def _settings_changed(self, ch: Channel, settings: dict[str, Any], ended: bool) -> None:
        """The settings (screen sharing allowed, ...) reach who saw them through a fresh welcome."""
        if ch.sent_settings is None or settings == ch.sent_settings:
            return
        ch.sent_settings = settings
        for member in list(ch.members.values()):
            if member.socket is None or not member.greeted:
                continue
            if member.actor.role in STAFF or (not ended and self.access(member) != Access.NONE):
                self._spawn(self.welcome(ch, member, resumed=False))

    def _participant_changed(self, ch: Channel, pid: str) -> None:
        member = ch.members.get(pid)
        try:
            p = self.service.get_participant(ch.room_id, pid)
        except InterviewError:
            return
        if p.role is not Role.CANDIDATE or p.status not in (
            ParticipantStatus.ADMITTED,
            ParticipantStatus.DENIED,
        ):
            return
        action = "admit" if p.status is ParticipantStatus.ADMITTED else "deny"
        audience = Audience(pids=(pid,), roles=STAFF_ROLES)
        self.emit(
            ch, "waiting-room", {"action": action, "participant_id": pid, "name": p.name}, audience=audience
        )
        if member is not None and member.greeted and self.access(member) == Access.WRITE:
            self._spawn(self.welcome(ch, member, resumed=False))
            self._joined(ch, member)

    def activity(self, room_id: str, payload: dict[str, Any]) -> None:
        """A summary from the collaboration layer (edits, cursors, executions), for interviewers."""
        ch = self.channels.get(room_id)
        if ch is not None:
            self.emit(ch, "activity", payload, audience=Audience(roles=STAFF_ROLES))

    # ------------------------------------------------------------------ timer expiry
    def _schedule_expiry(self, room_id: str) -> None:
        if not self.owns(room_id):
            return
        ch = self.channel(room_id)
        if ch.expiry is not None:
            ch.expiry.cancel()
            ch.expiry = None
        timer = self.service.timer(room_id)
        ends = timer.ends_at()
        if ends is None:
            return
        loop = asyncio.get_event_loop()
        delay = max(0.0, ends - self.clock())
        ch.expiry = loop.call_later(delay, self._expire, room_id)

    def _expire(self, room_id: str) -> None:
        ch = self.channels.get(room_id)
        if ch is not None:
            ch.expiry = None
        self._spawn(self._expire_now(room_id))

    async def _expire_now(self, room_id: str) -> None:
        try:
            await self.service.expire_timer(room_id)
        except InterviewError:
            log.exception("timer expiry of room %s failed", room_id)
