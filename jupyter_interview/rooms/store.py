"""Where rooms live between restarts: the RoomStore interface and its SQLite implementation."""

from __future__ import annotations

import abc
import json
import sqlite3
from typing import Any, TypeVar

from jupyter_interview.rooms.models import (
    ChatMessage,
    Invite,
    Notes,
    Participant,
    ParticipantStatus,
    Role,
    Room,
    RoomSettings,
    RoomState,
    Session,
)
from jupyter_interview.rooms.sqlite import SQLiteFile
from jupyter_interview.rooms.timer import Timer

T = TypeVar("T")


class RoomStore(abc.ABC):
    """Durable state of every room. Implementations must be safe to call from the event loop."""

    @abc.abstractmethod
    async def open(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    # rooms
    @abc.abstractmethod
    async def put_room(self, room: Room) -> None:
        """Insert or replace a room."""

    @abc.abstractmethod
    async def get_room(self, room_id: str) -> Room | None: ...

    @abc.abstractmethod
    async def list_rooms(self) -> list[Room]: ...

    @abc.abstractmethod
    async def delete_room(self, room_id: str) -> None:
        """Remove the room and everything stored with it (participants, invites, sessions, notes)."""

    # participants
    @abc.abstractmethod
    async def put_participant(self, participant: Participant) -> None: ...

    @abc.abstractmethod
    async def list_participants(self, room_id: str | None = None) -> list[Participant]: ...

    # invites
    @abc.abstractmethod
    async def put_invite(self, invite: Invite) -> None: ...

    @abc.abstractmethod
    async def list_invites(self, room_id: str | None = None) -> list[Invite]: ...

    # sessions
    @abc.abstractmethod
    async def put_session(self, session: Session) -> None: ...

    @abc.abstractmethod
    async def list_sessions(self) -> list[Session]: ...

    @abc.abstractmethod
    async def get_session(self, token_hash: str) -> Session | None: ...

    @abc.abstractmethod
    async def delete_sessions(self, token_hashes: list[str]) -> None: ...

    # notes
    @abc.abstractmethod
    async def get_notes(self, room_id: str, author_id: str) -> Notes | None: ...

    @abc.abstractmethod
    async def list_notes(self, room_id: str) -> list[Notes]: ...

    @abc.abstractmethod
    async def put_notes(self, notes: Notes, expected_version: int) -> bool:
        """Write notes if the stored version is still `expected_version` (0: none yet). False if stale."""

    # chat and timer
    @abc.abstractmethod
    async def add_chat(self, message: ChatMessage) -> None: ...

    @abc.abstractmethod
    async def list_chat(self, room_id: str, limit: int) -> list[ChatMessage]:
        """The newest `limit` messages, oldest first."""

    @abc.abstractmethod
    async def get_timer(self, room_id: str) -> Timer | None: ...

    @abc.abstractmethod
    async def put_timer(self, room_id: str, timer: Timer) -> None: ...

    @abc.abstractmethod
    async def list_timers(self) -> dict[str, Timer]: ...

    # JupyterLab workspaces of invite identities, one per participant
    @abc.abstractmethod
    async def get_workspace(self, participant_id: str) -> str | None: ...

    @abc.abstractmethod
    async def put_workspace(self, participant_id: str, room_id: str, data: str) -> None: ...


# Each entry moves the schema one version up; never edit a released one, append a new one.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE rooms (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        language TEXT NOT NULL,
        duration_minutes INTEGER NOT NULL,
        settings TEXT NOT NULL,
        state TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        ended_at REAL
    );
    CREATE TABLE participants (
        id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        joined_at REAL
    );
    CREATE INDEX participants_room ON participants(room_id);
    CREATE TABLE invites (
        jti TEXT PRIMARY KEY,
        room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        participant_id TEXT NOT NULL,
        role TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        revoked_at REAL
    );
    CREATE INDEX invites_room ON invites(room_id);
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        participant_id TEXT NOT NULL,
        jti TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE TABLE notes (
        room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        author_id TEXT NOT NULL,
        author_name TEXT NOT NULL,
        text TEXT NOT NULL,
        version INTEGER NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (room_id, author_id)
    );
    CREATE TABLE workspaces (
        participant_id TEXT PRIMARY KEY,
        room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        data TEXT NOT NULL
    );
    """,
    """
    CREATE TABLE chat (
        room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
        id TEXT NOT NULL,
        author_id TEXT NOT NULL,
        author_name TEXT NOT NULL,
        text TEXT NOT NULL,
        ts REAL NOT NULL,
        PRIMARY KEY (room_id, id)
    );
    CREATE INDEX chat_room_ts ON chat(room_id, ts);
    CREATE TABLE timers (
        room_id TEXT PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
        data TEXT NOT NULL
    );
    """,
)


class SQLiteRoomStore(SQLiteFile, RoomStore):
    """The embedded default: one SQLite file in WAL mode, driven from one worker thread (SQLiteFile)."""

    kind = "room store"
    thread_name = "interview-store"
    migrations = MIGRATIONS
    pragmas = ("PRAGMA foreign_keys=ON",)

    # ---- rooms ----
    async def put_room(self, room: Room) -> None:
        row = (
            room.id,
            room.title,
            room.language,
            room.duration_minutes,
            json.dumps(room.settings.to_json()),
            room.state.value,
            room.created_at,
            room.updated_at,
            room.started_at,
            room.ended_at,
        )
        await self._run(
            lambda c: c.execute(
                "INSERT INTO rooms VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET "
                "title=excluded.title, language=excluded.language, duration_minutes=excluded.duration_minutes,"
                " settings=excluded.settings, state=excluded.state, updated_at=excluded.updated_at,"
                " started_at=excluded.started_at, ended_at=excluded.ended_at",
                row,
            )
        )

    @staticmethod
    def _room(row: tuple[Any, ...]) -> Room:
        return Room(
            id=row[0],
            title=row[1],
            language=row[2],
            duration_minutes=row[3],
            settings=RoomSettings.from_json(json.loads(row[4])),
            state=RoomState(row[5]),
            created_at=row[6],
            updated_at=row[7],
            started_at=row[8],
            ended_at=row[9],
        )

    async def get_room(self, room_id: str) -> Room | None:
        row = await self._run(lambda c: c.execute("SELECT * FROM rooms WHERE id=?", (room_id,)).fetchone())
        return self._room(row) if row else None

    async def list_rooms(self) -> list[Room]:
        rows = await self._run(lambda c: c.execute("SELECT * FROM rooms ORDER BY created_at").fetchall())
        return [self._room(r) for r in rows]

    async def delete_room(self, room_id: str) -> None:
        await self._run(lambda c: c.execute("DELETE FROM rooms WHERE id=?", (room_id,)))

    # ---- participants ----
    async def put_participant(self, p: Participant) -> None:
        row = (p.id, p.room_id, p.name, p.role.value, p.status.value, p.created_at, p.joined_at)
        await self._run(
            lambda c: c.execute("INSERT OR REPLACE INTO participants VALUES (?,?,?,?,?,?,?)", row)
        )

    async def list_participants(self, room_id: str | None = None) -> list[Participant]:
        def query(c: sqlite3.Connection) -> list[Any]:
            if room_id is None:
                return c.execute("SELECT * FROM participants ORDER BY created_at").fetchall()
            return c.execute(
                "SELECT * FROM participants WHERE room_id=? ORDER BY created_at", (room_id,)
            ).fetchall()

        return [
            Participant(r[0], r[1], r[2], Role(r[3]), ParticipantStatus(r[4]), r[5], r[6])
            for r in await self._run(query)
        ]

    # ---- invites ----
    async def put_invite(self, i: Invite) -> None:
        row = (i.jti, i.room_id, i.participant_id, i.role.value, i.created_at, i.expires_at, i.revoked_at)
        await self._run(lambda c: c.execute("INSERT OR REPLACE INTO invites VALUES (?,?,?,?,?,?,?)", row))

    async def list_invites(self, room_id: str | None = None) -> list[Invite]:
        def query(c: sqlite3.Connection) -> list[Any]:
            if room_id is None:
                return c.execute("SELECT * FROM invites").fetchall()
            return c.execute("SELECT * FROM invites WHERE room_id=?", (room_id,)).fetchall()

        return [Invite(r[0], r[1], r[2], Role(r[3]), r[4], r[5], r[6]) for r in await self._run(query)]

    # ---- sessions ----
    async def put_session(self, s: Session) -> None:
        row = (s.token_hash, s.room_id, s.participant_id, s.jti, s.created_at, s.expires_at)
        await self._run(lambda c: c.execute("INSERT OR REPLACE INTO sessions VALUES (?,?,?,?,?,?)", row))

    async def list_sessions(self) -> list[Session]:
        rows = await self._run(lambda c: c.execute("SELECT * FROM sessions").fetchall())
        return [Session(*r) for r in rows]

    async def get_session(self, token_hash: str) -> Session | None:
        row = await self._run(
            lambda c: c.execute("SELECT * FROM sessions WHERE token_hash=?", (token_hash,)).fetchone()
        )
        return Session(*row) if row else None

    async def delete_sessions(self, token_hashes: list[str]) -> None:
        if token_hashes:
            await self._run(
                lambda c: c.executemany(
                    "DELETE FROM sessions WHERE token_hash=?", [(h,) for h in token_hashes]
                )
            )

    # ---- notes ----
    async def get_notes(self, room_id: str, author_id: str) -> Notes | None:
        row = await self._run(
            lambda c: c.execute(
                "SELECT * FROM notes WHERE room_id=? AND author_id=?", (room_id, author_id)
            ).fetchone()
        )
        return Notes(*row) if row else None

    async def list_notes(self, room_id: str) -> list[Notes]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT * FROM notes WHERE room_id=? ORDER BY author_name", (room_id,)
            ).fetchall()
        )
        return [Notes(*r) for r in rows]

    async def put_notes(self, notes: Notes, expected_version: int) -> bool:
        def write(c: sqlite3.Connection) -> bool:
            row = c.execute(
                "SELECT version FROM notes WHERE room_id=? AND author_id=?", (notes.room_id, notes.author_id)
            ).fetchone()
            if (row[0] if row else 0) != expected_version:
                return False
            c.execute(
                "INSERT OR REPLACE INTO notes VALUES (?,?,?,?,?,?)",
                (
                    notes.room_id,
                    notes.author_id,
                    notes.author_name,
                    notes.text,
                    notes.version,
                    notes.updated_at,
                ),
            )
            return True

        return await self._run(write)

    # ---- workspaces ----
    async def get_workspace(self, participant_id: str) -> str | None:
        row = await self._run(
            lambda c: c.execute(
                "SELECT data FROM workspaces WHERE participant_id=?", (participant_id,)
            ).fetchone()
        )
        return str(row[0]) if row else None

    async def put_workspace(self, participant_id: str, room_id: str, data: str) -> None:
        await self._run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO workspaces VALUES (?,?,?)", (participant_id, room_id, data)
            )
        )

    # ---- chat and timer ----
    async def add_chat(self, m: ChatMessage) -> None:
        row = (m.room_id, m.id, m.author_id, m.author_name, m.text, m.ts)
        await self._run(lambda c: c.execute("INSERT INTO chat VALUES (?,?,?,?,?,?)", row))

    async def list_chat(self, room_id: str, limit: int) -> list[ChatMessage]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT * FROM (SELECT * FROM chat WHERE room_id=? ORDER BY ts DESC LIMIT ?) ORDER BY ts",
                (room_id, limit),
            ).fetchall()
        )
        return [ChatMessage(*r) for r in rows]

    async def get_timer(self, room_id: str) -> Timer | None:
        row = await self._run(
            lambda c: c.execute("SELECT data FROM timers WHERE room_id=?", (room_id,)).fetchone()
        )
        return Timer.from_store(json.loads(row[0])) if row else None

    async def put_timer(self, room_id: str, timer: Timer) -> None:
        data = json.dumps(timer.to_store())
        await self._run(lambda c: c.execute("INSERT OR REPLACE INTO timers VALUES (?,?)", (room_id, data)))

    async def list_timers(self) -> dict[str, Timer]:
        rows = await self._run(lambda c: c.execute("SELECT room_id, data FROM timers").fetchall())
        return {r[0]: Timer.from_store(json.loads(r[1])) for r in rows}
