"""The rules of an interview: room lifecycle, participants, invites, sessions, access and notes."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from jupyter_interview.errors import BadRequest, Conflict, NotFound, Unauthenticated
from jupyter_interview.rooms.invites import InviteClaims, InviteCodec
from jupyter_interview.rooms.models import (
    NOTEBOOK_NAME,
    ROOMS_FOLDER,
    ChatMessage,
    Invite,
    Notes,
    Participant,
    ParticipantStatus,
    Role,
    Room,
    RoomSpec,
    RoomState,
    Session,
    new_id,
)
from jupyter_interview.rooms.notebook import notebook_for
from jupyter_interview.rooms.store import RoomStore
from jupyter_interview.rooms.timer import IDLE, RUNNING, Timer


class Access:
    """What an invite identity may do with the room's files and kernels right now."""

    NONE = "none"
    READ = "read"  # read files; no writes, no execution
    EXECUTE = "execute"  # read files and run code, no writes
    WRITE = "write"  # read, write and run code


@dataclass(frozen=True)
class Change:
    """What changed, for listeners such as the real-time layer. Listeners read the new state back."""

    kind: str  # "room" (state or settings), "participant", "revoked", "deleted", "timer"
    room_id: str
    participant_id: str | None = None


@dataclass(frozen=True)
class Identity:
    """Who a session belongs to, resolved from the store's current view."""

    participant: Participant
    room: Room
    session: Session

    @property
    def role(self) -> Role:
        return self.participant.role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class RoomService:
    """All room rules in one place, over a RoomStore, with an in-memory view for the hot path.

    Every request resolves its session through this view, so lookups are dict reads; every
    change is written to the store first and then to the view.
    """

    def __init__(
        self,
        store: RoomStore,
        codec: InviteCodec,
        root_dir: str,
        *,
        session_max_age_s: int = 12 * 3600,
        session_grace_s: int = 15 * 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.codec = codec
        self.root_dir = root_dir
        self.session_max_age_s = session_max_age_s
        self.session_grace_s = session_grace_s
        self.clock = clock
        self._rooms: dict[str, Room] = {}
        self._participants: dict[str, Participant] = {}
        self._invites: dict[str, Invite] = {}
        self._sessions: dict[str, Session] = {}
        self._timers: dict[str, Timer] = {}
        self._listeners: list[Callable[[Change], None]] = []
        # Set when several processes share the store: every local change is published, and
        # changes made elsewhere come back through apply_remote.
        self.publish: Callable[[Change], None] | None = None
        self._write_lock = asyncio.Lock()

    def add_listener(self, listener: Callable[[Change], None]) -> None:
        self._listeners.append(listener)

    def _emit(self, kind: str, room_id: str, participant_id: str | None = None) -> None:
        change = Change(kind, room_id, participant_id)
        for listener in list(self._listeners):
            listener(change)
        if self.publish is not None:
            self.publish(change)

    async def apply_remote(self, change: Change) -> None:
        """Another process changed a room: reload it from the store, then tell local listeners."""
        if change.kind == "deleted":
            self._forget(change.room_id)
        else:
            await self.refresh(change.room_id)
        for listener in list(self._listeners):
            listener(change)

    def _forget(self, room_id: str) -> None:
        self._rooms.pop(room_id, None)
        self._timers.pop(room_id, None)
        for table in (self._participants, self._invites, self._sessions):
            for key in [k for k, v in table.items() if v.room_id == room_id]:
                del table[key]

    async def refresh(self, room_id: str) -> None:
        room = await self.store.get_room(room_id)
        if room is None:
            self._forget(room_id)
            return
        self._rooms[room_id] = room
        self._participants.update({p.id: p for p in await self.store.list_participants(room_id)})
        invites = await self.store.list_invites(room_id)
        self._invites.update({i.jti: i for i in invites})
        revoked = {i.jti for i in invites if i.revoked_at is not None}
        for key in [k for k, v in self._sessions.items() if v.jti in revoked]:
            del self._sessions[key]
        timer = await self.store.get_timer(room_id)
        if timer is not None:
            self._timers[room_id] = timer

    async def lookup(self, session_token: str) -> Identity | None:
        """resolve(), and with a shared store, a session opened by another process is loaded once."""
        identity = self.resolve(session_token)
        if identity is not None or self.publish is None:
            return identity
        session = await self.store.get_session(hash_token(session_token))
        if session is None or session.expires_at <= self.clock():
            return None
        await self.refresh(session.room_id)
        self._sessions[session.token_hash] = session
        return self.resolve(session_token)

    async def load(self) -> None:
        await self.store.open()
        self._rooms = {r.id: r for r in await self.store.list_rooms()}
        self._participants = {p.id: p for p in await self.store.list_participants()}
        self._invites = {i.jti: i for i in await self.store.list_invites()}
        now = self.clock()
        sessions = await self.store.list_sessions()
        expired = [s.token_hash for s in sessions if s.expires_at <= now]
        await self.store.delete_sessions(expired)
        self._sessions = {s.token_hash: s for s in sessions if s.expires_at > now}
        self._timers = await self.store.list_timers()

    async def close(self) -> None:
        await self.store.close()

    # ---------------- rooms ----------------
    def get_room(self, room_id: str) -> Room:
        room = self._rooms.get(room_id)
        if room is None:
            raise NotFound(f"no interview room '{room_id[:64]}'", code="room_not_found")
        return room

    def list_rooms(self) -> list[Room]:
        return sorted(self._rooms.values(), key=lambda r: r.created_at)

    def participants(self, room_id: str) -> list[Participant]:
        return sorted(
            (p for p in self._participants.values() if p.room_id == room_id), key=lambda p: p.created_at
        )

    def get_participant(self, room_id: str, participant_id: str) -> Participant:
        p = self._participants.get(participant_id)
        if p is None or p.room_id != room_id:
            raise NotFound(
                f"no participant '{participant_id[:64]}' in this room", code="participant_not_found"
            )
        return p

    def room_dir(self, room: Room) -> str:
        return os.path.join(self.root_dir, ROOMS_FOLDER, room.id)

    async def create_room(self, spec: RoomSpec) -> Room:
        now = self.clock()
        room = Room(
            id=new_id(),
            title=spec.title,
            language=spec.language,
            duration_minutes=spec.duration_minutes,
            settings=spec.settings,
            state=RoomState.SCHEDULED,
            created_at=now,
            updated_at=now,
        )
        await asyncio.to_thread(self._make_folder, room)
        await self.store.put_room(room)
        self._rooms[room.id] = room
        self._emit("room", room.id)
        return room

    def _make_folder(self, room: Room) -> None:
        folder = self.room_dir(room)
        os.makedirs(folder, exist_ok=False)
        path = os.path.join(folder, NOTEBOOK_NAME)
        with open(path, "x", encoding="utf-8") as f:
            json.dump(notebook_for(room), f, indent=1)

    async def update_room(self, room_id: str, changes: dict[str, Any]) -> Room:
        async with self._write_lock:
            room = self.get_room(room_id)
            if room.state is RoomState.ENDED:
                raise Conflict("the interview has ended; its settings are final", code="room_ended")
            settings_delta = changes.pop("settings", None)
            if settings_delta:
                changes["settings"] = replace(room.settings, **settings_delta)
            updated = replace(room, **changes, updated_at=self.clock())
            await self.store.put_room(updated)
            self._rooms[room_id] = updated
        self._emit("room", room_id)
        return updated

    async def delete_room(self, room_id: str) -> None:
        async with self._write_lock:
            room = self.get_room(room_id)
            await self.store.delete_room(room_id)
            self._rooms.pop(room_id, None)
            self._forget(room_id)
            await asyncio.to_thread(shutil.rmtree, self.room_dir(room), True)
        self._emit("deleted", room_id)

    async def _set_state(self, room_id: str, state: RoomState) -> Room:
        async with self._write_lock:
            room = self.get_room(room_id).with_state(state, self.clock())
            await self.store.put_room(room)
            self._rooms[room_id] = room
            return room

    async def start(self, room_id: str) -> Room:
        room = await self._set_state(room_id, RoomState.LIVE)
        timer = self.timer(room_id)
        if timer.status == IDLE:
            await self._put_timer(room_id, timer.start(self.clock(), room.duration_minutes * 60))
        self._emit("room", room_id)
        return room

    async def end(self, room_id: str) -> Room:
        room = await self._set_state(room_id, RoomState.ENDED)
        timer = self.timer(room_id)
        if timer.status == RUNNING:
            await self._put_timer(room_id, timer.pause(self.clock()))
        # Sessions outlive the room by a grace so participants can read the end screen.
        limit = room.ended_at + self.session_grace_s if room.ended_at else self.clock()
        for s in [s for s in self._sessions.values() if s.room_id == room_id and s.expires_at > limit]:
            shorter = replace(s, expires_at=limit)
            await self.store.put_session(shorter)
            self._sessions[s.token_hash] = shorter
        self._emit("room", room_id)
        return room

    # ---------------- participants & invites ----------------
    async def invite(self, room_id: str, role: Role, name: str, expires_in_s: int) -> tuple[str, Invite]:
        room = self.get_room(room_id)
        if room.state is RoomState.ENDED:
            raise Conflict("the interview has ended; no new invites", code="room_ended")
        now = self.clock()
        participant = Participant(new_id(), room.id, name, role, ParticipantStatus.INVITED, now)
        token, claims = self.codec.issue(
            room=room.id,
            participant=participant.id,
            name=name,
            role=role.value,
            expires_in_s=expires_in_s,
            now=now,
        )
        invite = Invite(claims.jti, room.id, participant.id, role, now, float(claims.exp))
        await self.store.put_participant(participant)
        await self.store.put_invite(invite)
        self._participants[participant.id] = participant
        self._invites[invite.jti] = invite
        self._emit("participant", room.id, participant.id)
        return token, invite

    async def revoke_invite(self, room_id: str, jti: str) -> Invite:
        async with self._write_lock:
            invite = self._invites.get(jti)
            if invite is None or invite.room_id != room_id:
                raise NotFound(f"no invite '{jti[:64]}' in this room", code="invite_not_found")
            if invite.revoked_at is None:
                invite = replace(invite, revoked_at=self.clock())
                await self.store.put_invite(invite)
                self._invites[jti] = invite
            gone = [h for h, s in self._sessions.items() if s.jti == jti]
            await self.store.delete_sessions(gone)
            for h in gone:
                del self._sessions[h]
            p = self._participants.get(invite.participant_id)
            if p is not None and not any(
                i.revoked_at is None for i in self._invites.values() if i.participant_id == p.id
            ):
                await self._put_participant(replace(p, status=ParticipantStatus.LEFT))
        self._emit("revoked", room_id, invite.participant_id)
        return invite

    def invites(self, room_id: str) -> list[Invite]:
        return [i for i in self._invites.values() if i.room_id == room_id]

    async def _put_participant(self, p: Participant) -> Participant:
        await self.store.put_participant(p)
        self._participants[p.id] = p
        return p

    async def set_admission(self, room_id: str, participant_id: str, admit: bool) -> Participant:
        async with self._write_lock:
            room = self.get_room(room_id)
            if room.state is RoomState.ENDED:
                raise Conflict("the interview has ended", code="room_ended")
            p = self.get_participant(room_id, participant_id)
            if p.role is not Role.CANDIDATE:
                raise Conflict("only candidates wait for admission", code="not_a_candidate")
            if p.status is ParticipantStatus.LEFT:
                raise Conflict("this participant's invite was revoked", code="participant_left")
            status = ParticipantStatus.ADMITTED if admit else ParticipantStatus.DENIED
            p = await self._put_participant(replace(p, status=status))
        self._emit("participant", room_id, participant_id)
        return p

    # ---------------- sessions ----------------
    async def join(self, token: str, room_id: str) -> tuple[str, Identity]:
        """Verify an invite and open a session for it; returns the opaque session token."""
        claims: InviteClaims = self.codec.verify(token, room=room_id)  # raises InviteError
        if self.publish is not None and claims.jti not in self._invites:
            await self.refresh(claims.room)  # issued by another process
        invite = self._invites.get(claims.jti)
        room = self._rooms.get(claims.room)
        if room is None:
            raise Unauthenticated("this invite's room no longer exists", code="room_not_found")
        if invite is None or invite.participant_id != claims.sub:
            raise Unauthenticated("this invite is not known to this server", code="unknown_invite")
        if invite.revoked_at is not None:
            raise Unauthenticated(
                "this invite was revoked; ask the interviewer for a new link", code="revoked"
            )
        if room.state is RoomState.ENDED:
            raise Unauthenticated(
                "the interviewer has ended this interview, so its links no longer open it", code="room_ended"
            )
        async with self._write_lock:
            now = self.clock()
            p = self._participants[claims.sub]
            if p.status is ParticipantStatus.INVITED:
                status = ParticipantStatus.ADMITTED
                if p.role is Role.CANDIDATE and room.settings.waiting_room:
                    status = ParticipantStatus.WAITING
                p = await self._put_participant(replace(p, status=status, joined_at=now))
            if room.state is RoomState.SCHEDULED:
                room = room.with_state(RoomState.WAITING, now)
                await self.store.put_room(room)
                self._rooms[room.id] = room
            session_token = secrets.token_urlsafe(32)
            session = Session(
                hash_token(session_token),
                room.id,
                p.id,
                invite.jti,
                now,
                min(now + self.session_max_age_s, float(claims.exp) + self.session_max_age_s),
            )
            await self.store.put_session(session)
            self._sessions[session.token_hash] = session
        self._emit("participant", room.id, p.id)
        return session_token, Identity(p, room, session)

    def resolve(self, session_token: str) -> Identity | None:
        """The hot path: every request of an invite identity comes here. Dict reads only."""
        session = self._sessions.get(hash_token(session_token))
        if session is None or session.expires_at <= self.clock():
            return None
        invite = self._invites.get(session.jti)
        room = self._rooms.get(session.room_id)
        p = self._participants.get(session.participant_id)
        if invite is None or invite.revoked_at is not None or room is None or p is None:
            return None
        return Identity(p, room, session)

    async def logout(self, session_token: str) -> None:
        h = hash_token(session_token)
        if self._sessions.pop(h, None) is not None:
            await self.store.delete_sessions([h])

    # ---------------- access ----------------
    @staticmethod
    def access(room: Room, p: Participant) -> str:
        """What the participant may do with the room's folder and kernels in the room's current state."""
        if p.status in (ParticipantStatus.DENIED, ParticipantStatus.LEFT):
            return Access.NONE
        if p.role is Role.INTERVIEWER:
            # Interviewers prepare before the start and keep evaluating after the end.
            return Access.EXECUTE if room.state is RoomState.ENDED else Access.WRITE
        if room.state is RoomState.ENDED:
            # A candidate who took part keeps reading the result; one still waiting never had access.
            took_part = p.status is ParticipantStatus.ADMITTED and room.started_at is not None
            return Access.READ if took_part else Access.NONE
        if room.state is not RoomState.LIVE:
            return Access.NONE
        if room.settings.waiting_room and p.status is not ParticipantStatus.ADMITTED:
            return Access.NONE
        return Access.WRITE

    # ---------------- timer ----------------
    def timer(self, room_id: str) -> Timer:
        return self._timers.get(room_id) or Timer()

    async def _put_timer(self, room_id: str, timer: Timer) -> Timer:
        await self.store.put_timer(room_id, timer)
        self._timers[room_id] = timer
        self._emit("timer", room_id)
        return timer

    async def timer_action(self, room_id: str, action: str, minutes: int | None = None) -> Timer:
        """An interviewer's start, pause, resume or extend; the room must be live."""
        async with self._write_lock:
            room = self.get_room(room_id)
            if room.state is not RoomState.LIVE:
                raise Conflict(
                    f"the interview is {room.state}; the timer runs only while it is live", code="not_live"
                )
            now, timer = self.clock(), self.timer(room_id)
            if action == "start":
                changed = timer.start(now, room.duration_minutes * 60)
            elif action == "pause":
                changed = timer.pause(now)
            elif action == "resume":
                changed = timer.resume(now)
            elif action == "extend":
                changed = timer.extend(now, minutes or 5)
            else:
                raise BadRequest(
                    f"unknown timer action '{action}'; accepted: start, pause, resume, extend",
                    code="invalid_field",
                )
            return await self._put_timer(room_id, changed)

    def due_timers(self) -> list[tuple[str, float]]:
        """(room, ends_at) of every running timer, for whoever schedules expiry."""
        return [(rid, t.ends_at() or 0.0) for rid, t in self._timers.items() if t.status == RUNNING]

    async def expire_timer(self, room_id: str) -> Timer | None:
        """Called when a timer's time is up: mark it expired and end the room if it says auto_end."""
        timer = self._timers.get(room_id)
        now = self.clock()
        if timer is None or not timer.is_due(now) or room_id not in self._rooms:
            return None
        expired = await self._put_timer(room_id, timer.expire(now))
        room = self._rooms[room_id]
        if room.settings.auto_end and room.state is RoomState.LIVE:
            await self.end(room_id)
        return expired

    # ---------------- chat ----------------
    async def post_chat(self, room_id: str, author_id: str, author_name: str, text: str) -> ChatMessage:
        self.get_room(room_id)
        message = ChatMessage(room_id, new_id(), author_id, author_name, text, self.clock())
        await self.store.add_chat(message)
        return message

    async def chat_history(self, room_id: str, limit: int = 200) -> list[ChatMessage]:
        return await self.store.list_chat(room_id, limit)

    # ---------------- notes ----------------
    async def read_notes(self, room_id: str, author: Participant | None) -> list[Notes]:
        """An interviewer's own notes, or (author None: the owner) everyone's."""
        self.get_room(room_id)
        if author is None:
            return await self.store.list_notes(room_id)
        notes = await self.store.get_notes(room_id, author.id)
        return [notes] if notes else []

    async def write_notes(
        self, room_id: str, author_id: str, author_name: str, text: str, if_match: str | None
    ) -> Notes:
        self.get_room(room_id)
        current = await self.store.get_notes(room_id, author_id)
        version = current.version if current else 0
        if current is not None and if_match is None:
            raise Conflict(
                "these notes exist already; send If-Match with the etag you last read", code="etag_required"
            )
        # A tab that read no notes yet sends NEW_NOTES_ETAG: once another tab saved, it is stale too.
        if current is not None and if_match not in (current.etag, "*"):
            raise Conflict(
                "the notes changed since you read them (another tab?); reload and merge", code="stale_etag"
            )
        notes = Notes(room_id, author_id, author_name, text, version + 1, self.clock())
        if not await self.store.put_notes(notes, version):
            raise Conflict("the notes changed while saving; reload and merge", code="stale_etag")
        return notes
