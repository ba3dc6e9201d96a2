"""Version history and session replay on the server: the recorder over the live shared notebook, and its REST API.

`HistoryRecorder` (built by InterviewApp, configured as `HistoryRecorder.*`) follows each interview
room's notebook while jupyter-collaboration holds it in memory: every `frame_interval_s` it stores
what changed as a replay frame, every `snapshot_interval_s` while the notebook changes a snapshot,
one after each finished execution (from the server's own `ExecutionFeed`), and one on demand
(a checkpoint). It also records the room's events for replay (state, timer, participants, joins and
leaves), attributes edits to participants through `CollabSockets.edit_listeners`, and restores a
snapshot into the live document as one transaction that an undo reverts.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, cast

import nbformat
from jupyter_core.utils import ensure_async
from jupyter_server.utils import url_path_join
from pycrdt import Array, Decoder, Map, UndoManager, YSyncMessageType, get_state
from traitlets import Float, Integer, List, Unicode
from traitlets.config import LoggingConfigurable

from jupyter_interview.errors import BadRequest, Conflict, InterviewError, NotFound
from jupyter_interview.rooms import history as h
from jupyter_interview.rooms.executions import Execution, ExecutionFeed
from jupyter_interview.rooms.models import NOTEBOOK_NAME, ROOMS_FOLDER, Role, Room, RoomState
from jupyter_interview.rooms.service import Change, RoomService
from jupyter_interview.server_ext.collab import YDOC_EXTENSION, CollabSockets
from jupyter_interview.server_ext.handlers import InterviewHandler, api
from jupyter_interview.signaling.hub import Hub

HISTORY_KEY = "jupyter_interview.history"
# A frame on its way to the store: (room, time, kind, Yjs update, authors).
FrameRow = tuple[str, float, str, bytes, list[str]]
# The origin of a restore's transaction: the recorder's undo manager tracks this origin only, so an
# undo reverts the restore and nothing anyone typed around it.
RESTORE_ORIGIN = "jupyter-interview:restore"
# Real-time events the replay keeps (chat comes from the room store, state and timer from RoomService).
HUB_EVENTS = {
    "user-joined": "joined",
    "user-left": "left",
    "presence": "presence",
    "waiting-room": "waiting-room",
    "raise-hand": "raise-hand",
    "reaction": "reaction",
}


class Unavailable(InterviewError):
    status = 503
    default_code = "collaboration_unavailable"


@dataclass
class Followed:
    """One interview room whose notebook the recorder follows in memory."""

    room_id: str
    doc_name: str
    tracker: h.DocTracker | None = None
    last_snapshot_t: float = 0.0
    frame_authors: set[str] = field(default_factory=set)
    snapshot_authors: set[str] = field(default_factory=set)
    replay_full: bool = False
    undo: UndoManager | None = None
    undo_handle: object | None = None
    last_restore: tuple[int, int] | None = None  # (restored snapshot, the snapshot taken before)
    pending_executions: dict[str, Execution] = field(default_factory=dict)
    execution_snapshot: asyncio.TimerHandle | None = None
    hub_seq: int = 0


class HistoryRecorder(LoggingConfigurable):
    """Snapshots, replay frames, executions and room events of every interview room."""

    snapshot_interval_s = Float(
        30.0, config=True, help="While the notebook changes, a snapshot at most this often, in seconds."
    )
    frame_interval_s = Float(
        1.0,
        config=True,
        help="Replay resolution: the shared document's changes are stored as one replay frame per this"
        " many seconds (also the most a kill -9 can lose of the replay).",
    )
    execution_snapshot_delay_s = Float(
        1.5,
        config=True,
        help="After an execution ends, wait this long before its snapshot, so the outputs the browser"
        " writes into the shared document are there to compare with what the kernel sent.",
    )
    max_output_bytes = Integer(
        64 * 1024, config=True, help="Each output is cut to this many bytes in snapshots."
    )
    max_outputs_bytes = Integer(
        2 * 1024 * 1024,
        config=True,
        help="All outputs of one snapshot together, in bytes; the rest is left out.",
    )
    max_room_bytes = Integer(
        64 * 1024 * 1024,
        config=True,
        help="Snapshots of one room (compressed) are kept within this many bytes: the oldest unpinned"
        " snapshots go first; a checkpoint beyond it is refused.",
    )
    max_replay_bytes = Integer(
        128 * 1024 * 1024,
        config=True,
        help="Replay frames of one room are kept up to this many bytes; past it the replay stops"
        " (snapshots go on).",
    )
    keep_all_s = Float(3600.0, config=True, help="Every snapshot younger than this is kept, in seconds.")
    thinning = List(
        default_value=[[3600.0, 600.0], [86400.0, 3600.0]],
        config=True,
        help="Older snapshots: [[from_age_s, spacing_s], ...]: from each age on, one snapshot per spacing"
        " is kept (checkpoints, labelled and pre-restore snapshots always).",
    )
    db_path = Unicode(
        "", config=True, help="The history's SQLite file; default: history.sqlite beside the room store."
    )

    def __init__(
        self,
        *,
        service: RoomService,
        serverapp: Any,
        hub: Hub,
        executions: ExecutionFeed,
        collab_sockets: CollabSockets,
        default_db_path: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service = service
        self.serverapp = serverapp
        self.hub = hub
        self.clock = service.clock
        path = self.db_path or default_db_path
        root = os.path.realpath(serverapp.root_dir) + os.sep
        if os.path.realpath(path).startswith(root):
            raise ValueError(f"HistoryRecorder.db_path ({path}) is under the served root; move it out")
        tiers = tuple((float(a), float(s)) for a, s in self.thinning)
        self.store = h.HistoryStore(
            path,
            h.Limits(
                max_output_bytes=self.max_output_bytes,
                max_outputs_bytes=self.max_outputs_bytes,
                max_room_bytes=self.max_room_bytes,
                max_replay_bytes=self.max_replay_bytes,
                keep_all_s=self.keep_all_s,
                tiers=tiers,
            ),
        )
        self.followed: dict[str, Followed] = {}
        self._names: dict[str, str | None] = {}  # collaboration room name -> interview room (None: not one)
        self._states: dict[str, str] = {}
        self._statuses: dict[str, str] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._starting: asyncio.Future[None] | None = None
        service.add_listener(self.on_change)
        collab_sockets.edit_listeners.append(self.on_edit)
        executions.subscribe(self.on_execution)

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Open the store and start recording; idempotent. Called at server start and, where the
        extension's start hook never runs (an embedded server), by the first request or event."""
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        await asyncio.shield(self._starting)

    async def _start(self) -> None:
        await self.store.open()
        self._ticker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._starting is None:
            return
        await asyncio.shield(self._starting)
        if self._ticker is not None:
            self._ticker.cancel()
            self._ticker = None
        try:
            await self.tick()  # the last changes reach the store
        except Exception as e:  # stopping must finish
            self.log.warning("history: last frames not stored at stop: %s", e)
        for task in list(self._tasks):
            task.cancel()
        for followed in self.followed.values():
            if followed.tracker is not None:
                followed.tracker.close()
        await self.store.close()

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("history: %s", task.exception(), exc_info=task.exception())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.frame_interval_s)
            try:
                await self.tick()
            except Exception:
                self.log.exception("history: a recording tick failed")

    # ------------------------------------------------------------------ jupyter-collaboration
    def _ydoc_app(self) -> Any | None:
        apps = self.serverapp.extension_manager.extension_apps.get(YDOC_EXTENSION) or set()
        return next(iter(apps), None)

    def _live_rooms(self) -> dict[str, Any]:
        app = self._ydoc_app()
        server = getattr(app, "ywebsocket_server", None)
        return cast(dict[str, Any], getattr(server, "rooms", {}) or {})

    def _file_ids(self) -> Any:
        return self.serverapp.web_app.settings.get("file_id_manager")

    def _room_of(self, name: str) -> str | None:
        """The interview room whose notebook a collaboration room ("json:notebook:<file id>") is."""
        if name in self._names:
            return self._names[name]
        room_id: str | None = None
        parts = name.split(":", 2)
        fim = self._file_ids()
        if len(parts) == 3 and parts[1] == "notebook" and fim is not None:
            path = (fim.get_path(parts[2]) or "").strip("/")
            segments = path.split("/")
            if len(segments) == 3 and segments[0] == ROOMS_FOLDER and segments[2] == NOTEBOOK_NAME:
                room_id = segments[1]
        self._names[name] = room_id
        return room_id

    def doc_name(self, room: Room, *, create: bool = False) -> str | None:
        for name, room_id in self._names.items():
            if room_id == room.id:
                return name
        fim = self._file_ids()
        if fim is None:
            return None
        file_id = fim.index(room.notebook_path) if create else fim.get_id(room.notebook_path)
        if not file_id:
            return None
        name = f"json:notebook:{file_id}"
        self._names[name] = room.id
        return name

    # ------------------------------------------------------------------ recording
    async def tick(self) -> None:
        """Follow the live documents, store their frames, take the snapshots that are due."""
        now = self.clock()
        live: dict[str, tuple[str, Any]] = {}
        for name, yroom in list(self._live_rooms().items()):
            room_id = self._room_of(name)
            if room_id is not None and getattr(yroom, "ready", False):
                live[room_id] = (name, yroom)
        batch: list[tuple[Followed, FrameRow]] = []
        new_rooms: list[str] = []
        for room_id, (name, yroom) in live.items():
            followed = self.followed.get(room_id)
            if followed is None:
                followed = self.followed[room_id] = Followed(room_id, name)
            if followed.tracker is None or followed.tracker.handle is not yroom:
                if followed.tracker is not None:
                    self._take(followed, now, batch)
                    followed.tracker.close()
                followed.tracker = h.DocTracker(yroom.ydoc, yroom)
                new_rooms.append(room_id)
        due: list[str] = []
        for room_id, followed in list(self.followed.items()):
            if followed.tracker is None:
                continue
            self._take(followed, now, batch)
            if room_id not in live:
                # jupyter-collaboration dropped the room from memory: its last frame is taken.
                followed.tracker.close()
                followed.tracker = None
            elif (
                followed.tracker.changed_since_snapshot
                and now - followed.last_snapshot_t >= self.snapshot_interval_s
            ):
                due.append(room_id)
        # One transaction for every room's frame of this tick.
        await self._store_frames(batch)
        for room_id in new_rooms:
            if await self.store.latest_snapshot(room_id) is None:
                await self._auto_snapshot(room_id)
        for room_id in due:
            await self._auto_snapshot(room_id)
        await self._hub_events()

    def _take(
        self,
        followed: Followed,
        now: float,
        batch: list[tuple[Followed, FrameRow]],
    ) -> None:
        tracker = followed.tracker
        if tracker is None or not tracker.has_pending:
            return
        taken = tracker.take_frame()
        if taken is None or followed.replay_full:
            return
        kind, update, _ = taken
        authors = sorted(followed.frame_authors)
        followed.frame_authors.clear()
        batch.append((followed, (followed.room_id, now, kind, update, authors)))

    async def _store_frames(self, batch: list[tuple[Followed, FrameRow]]) -> None:
        if not batch:
            return
        stored = await self.store.add_frames([frame for _, frame in batch])
        for (followed, frame), ok in zip(batch, stored, strict=True):
            if not ok and not followed.replay_full:
                followed.replay_full = True
                await self.store.add_event(
                    followed.room_id,
                    frame[1],
                    "replay-truncated",
                    None,
                    {
                        "reason": f"the replay reached HistoryRecorder.max_replay_bytes ({self.max_replay_bytes})"
                    },
                )

    async def flush(self, room_id: str) -> None:
        """Store what changed in a room's document since its last frame, now."""
        followed = self.followed.get(room_id)
        if followed is not None:
            batch: list[tuple[Followed, FrameRow]] = []
            self._take(followed, self.clock(), batch)
            await self._store_frames(batch)

    async def _auto_snapshot(self, room_id: str) -> None:
        try:
            await self.snapshot(room_id, "auto", skip_if_unchanged=True)
        except h.HistoryFull as e:
            self.log.warning("history: room %s: %s", room_id, e.message)

    async def current_notebook(self, room: Room) -> dict[str, Any]:
        """The notebook now: from the live shared document when there is one, else from its file."""
        name = self.doc_name(room)
        yroom = self._live_rooms().get(name) if name else None
        if yroom is not None and getattr(yroom, "ready", False):
            update = yroom.ydoc.get_update()
            # Converting a large document to JSON is Python-heavy: off the event loop.
            return await asyncio.to_thread(h.notebook_from_update, update)
        cm = self.serverapp.contents_manager
        model = await ensure_async(cm.get(room.notebook_path, content=True, type="notebook"))
        return cast(dict[str, Any], json.loads(json.dumps(model["content"])))

    async def snapshot(
        self,
        room_id: str,
        kind: h.SnapshotKind,
        *,
        label: str = "",
        executions: tuple[str, ...] = (),
        skip_if_unchanged: bool = False,
        notebook: dict[str, Any] | None = None,
    ) -> h.SnapshotInfo | None:
        room = self.service.get_room(room_id)
        followed = self.followed.get(room_id)
        tracker = followed.tracker if followed else None
        if notebook is None:
            notebook = await self.current_notebook(room)
        authors = sorted(followed.snapshot_authors) if followed else []
        # Cleared before the write: changes made while it is stored count for the next snapshot.
        if tracker is not None:
            tracker.changed_since_snapshot = False
        now = self.clock()
        info = await self.store.add_snapshot(
            room_id,
            notebook,
            t=now,
            kind=kind,
            label=label,
            authors=authors,
            executions=executions,
            skip_if_unchanged=skip_if_unchanged,
        )
        if followed is not None:
            followed.last_snapshot_t = now
            followed.snapshot_authors.clear()
        return info

    # ------------------------------------------------------------------ listeners
    def on_edit(self, room_id: str, participant_id: str, doc_name: str, message: bytes) -> None:
        if self._starting is None:
            self._spawn(self.start())
        if self._room_of(doc_name) != room_id or not carries_edit(message):
            return
        followed = self.followed.get(room_id)
        if followed is None:
            followed = self.followed[room_id] = Followed(room_id, doc_name)
        followed.frame_authors.add(participant_id)
        followed.snapshot_authors.add(participant_id)

    def on_execution(self, execution: Execution) -> None:
        self._spawn(self._execution(execution))

    async def _execution(self, execution: Execution) -> None:
        await self.start()
        await self.store.put_execution(execution)
        if execution.status == "started":
            return
        followed = self.followed.get(execution.room_id)
        if followed is None:
            followed = self.followed[execution.room_id] = Followed(execution.room_id, "")
        followed.pending_executions[execution.msg_id] = execution
        # Executions ending close together share one snapshot, taken once the browsers wrote outputs.
        if followed.execution_snapshot is not None:
            followed.execution_snapshot.cancel()
        followed.execution_snapshot = asyncio.get_running_loop().call_later(
            self.execution_snapshot_delay_s, self._spawn_execution_snapshot, execution.room_id
        )

    def _spawn_execution_snapshot(self, room_id: str) -> None:
        self._spawn(self._execution_snapshot(room_id))

    async def _execution_snapshot(self, room_id: str) -> None:
        followed = self.followed.get(room_id)
        if followed is None or not followed.pending_executions:
            return
        followed.execution_snapshot = None
        pending, followed.pending_executions = followed.pending_executions, {}
        try:
            room = self.service.get_room(room_id)
        except NotFound:
            return
        await self.flush(room_id)
        notebook = await self.current_notebook(room)
        try:
            await self.snapshot(room_id, "execution", executions=tuple(pending), notebook=notebook)
        except h.HistoryFull as e:
            self.log.warning("history: room %s: %s", room_id, e.message)
        for msg_id, execution in pending.items():
            if execution.cell_id:
                await self.store.set_verdict(room_id, msg_id, h.compare_execution(execution, notebook))

    def on_change(self, change: Change) -> None:
        self._spawn(self._change(change, self.clock()))

    async def _change(self, change: Change, now: float) -> None:
        await self.start()
        room_id = change.room_id
        if change.kind == "deleted":
            followed = self.followed.pop(room_id, None)
            if followed is not None and followed.tracker is not None:
                followed.tracker.close()
            self._names = {k: v for k, v in self._names.items() if v != room_id}
            await self.store.delete_room(room_id)
            return
        try:
            room = self.service.get_room(room_id)
        except NotFound:
            return
        if change.kind == "room" and await self._last_state(room_id) != room.state.value:
            self._states[room_id] = room.state.value
            await self.store.add_event(room_id, now, "interview-state", None, {"state": room.state.value})
            if room.state is RoomState.ENDED and room_id in self.followed:
                await self.flush(room_id)
                await self._auto_snapshot(room_id)
        elif change.kind == "timer":
            await self.store.add_event(room_id, now, "timer", None, self.service.timer(room_id).to_json(now))
        elif change.kind in ("participant", "revoked") and change.participant_id:
            try:
                p = self.service.get_participant(room_id, change.participant_id)
            except NotFound:
                return
            status = "revoked" if change.kind == "revoked" else p.status.value
            if p.id not in self._statuses:
                last = await self.store.last_event(room_id, "participant", p.id)
                self._statuses[p.id] = last.payload.get("status", "") if last else ""
            if self._statuses.get(p.id) != status:
                self._statuses[p.id] = status
                payload = {"participant_id": p.id, "name": p.name, "role": p.role.value, "status": status}
                await self.store.add_event(room_id, now, "participant", p.id, payload)

    async def _last_state(self, room_id: str) -> str | None:
        """The interview state last recorded for a room (read from the store once per process)."""
        if room_id not in self._states:
            last = await self.store.last_event(room_id, "interview-state")
            self._states[room_id] = str(last.payload.get("state")) if last else ""
        return self._states[room_id]

    async def _hub_events(self) -> None:
        """Joins, leaves and presence as the real-time layer announced them (its resume log)."""
        rows: list[tuple[str, float, str, str | None, dict[str, Any]]] = []
        for room_id, channel in list(self.hub.channels.items()):
            followed = self.followed.get(room_id)
            if followed is None:
                try:
                    self.service.get_room(room_id)
                except NotFound:
                    continue
                followed = self.followed[room_id] = Followed(room_id, "")
            # Only what is new since the last tick, read from the log's end.
            fresh = []
            for entry in reversed(channel.log):
                if entry.seq <= followed.hub_seq:
                    break
                fresh.append(entry)
            if not fresh:
                continue
            followed.hub_seq = fresh[0].seq
            for entry in reversed(fresh):
                kind = HUB_EVENTS.get(entry.type)
                if kind is not None:
                    envelope = json.loads(entry.text)
                    t = float(envelope.get("ts") or self.clock())
                    rows.append((room_id, t, kind, envelope.get("from"), dict(envelope.get("payload") or {})))
        if rows:
            await self.store.add_events(rows)

    # ------------------------------------------------------------------ restore
    async def restore(self, room: Room, sid: int, actor: str) -> tuple[h.SnapshotInfo, h.SnapshotInfo | None]:
        """Apply a snapshot to the live document as one change everyone sees; take a snapshot first."""
        found = await self.store.get_snapshot(room.id, sid)
        if found is None:
            raise NotFound(f"no snapshot '{sid}' in this room", code="snapshot_not_found")
        info, notebook = found
        app = self._ydoc_app()
        if app is None:
            raise Unavailable("the shared notebook (jupyter-collaboration) is not running on this server")
        name = self.doc_name(room, create=True)
        document = await app.get_document(room_id=name, copy=False, create=True)
        if document is None:
            raise Unavailable("the room's shared notebook could not be opened")
        await self.tick()  # follow the document (now live) and store what changed before the restore
        before = await self.snapshot(room.id, "restore", label=f"before restoring snapshot {sid}")
        followed = self.followed.setdefault(room.id, Followed(room.id, name or ""))
        doc = document.ydoc
        yroom = self._live_rooms().get(name or "")
        if followed.undo is None or followed.undo_handle is not yroom:
            followed.undo = UndoManager(
                scopes=[doc.get("cells", type=Array), doc.get("meta", type=Map)], capture_timeout_millis=0
            )
            followed.undo.include_origin(RESTORE_ORIGIN)
            followed.undo_handle = yroom
        followed.undo.clear()
        with doc.transaction(origin=RESTORE_ORIGIN):
            document.set(notebook)
        followed.frame_authors.add(actor)
        followed.last_restore = (sid, before.id if before else 0)
        await self.store.add_event(
            room.id,
            self.clock(),
            "restore",
            actor,
            {"snapshot": str(sid), "before": str(before.id) if before else None},
        )
        await self.flush(room.id)
        return info, before

    async def undo_restore(self, room: Room, actor: str) -> dict[str, Any]:
        followed = self.followed.get(room.id)
        name = self.doc_name(room)
        yroom = self._live_rooms().get(name or "")
        if followed is None or followed.last_restore is None:
            raise Conflict("nothing to undo: no snapshot was restored in this room", code="nothing_to_undo")
        sid, before = followed.last_restore
        if followed.undo is None or followed.undo_handle is not yroom or not followed.undo.can_undo():
            raise Conflict(
                f"the restore of snapshot {sid} can no longer be undone in place (the shared document was"
                f" reloaded since); restore snapshot {before}, taken just before it, instead",
                code="nothing_to_undo",
            )
        followed.undo.undo()
        followed.last_restore = None
        followed.frame_authors.add(actor)
        await self.store.add_event(room.id, self.clock(), "restore-undone", actor, {"snapshot": str(sid)})
        await self.flush(room.id)
        return {"undone": str(sid), "before": str(before)}

    # ------------------------------------------------------------------ replay
    async def replay(self, room: Room, since: float | None = None) -> dict[str, Any]:
        await self.flush(room.id)
        frames = await self.store.list_frames(room.id)
        events = [e.to_json() for e in await self.store.list_events(room.id)]
        for record in await self.store.list_executions(room.id):
            events.append({"t": record.execution.started_at, "type": "execution", **record.to_json()})
        for message in await self.service.chat_history(room.id, 1_000_000):
            events.append({"t": message.ts, "type": "chat", **message.to_json()})
        for s in await self.store.list_snapshots(room.id):
            events.append({"t": s.t, "type": "snapshot", "snapshot": s.to_json()})
        events.sort(key=lambda e: float(e["t"]))
        if since is not None:
            frames = [f for f in frames if f.t > since]
            events = [e for e in events if float(e["t"]) > since]
        times = [f.t for f in frames] + [float(e["t"]) for e in events]
        followed = self.followed.get(room.id)
        return {
            "room_id": room.id,
            "notebook_path": room.notebook_path,
            "state": room.state.value,
            "created_at": room.created_at,
            "started_at": room.started_at,
            "ended_at": room.ended_at,
            "start": min(times, default=room.created_at),
            "end": room.ended_at if room.ended_at is not None else self.clock(),
            "participants": [
                {"id": p.id, "name": p.name, "role": p.role.value} for p in self.service.participants(room.id)
            ],
            "frame_interval_s": self.frame_interval_s,
            "replay_truncated": bool(followed and followed.replay_full)
            or any(e["type"] == "replay-truncated" for e in events),
            "frames": [f.to_json() for f in frames],
            "events": events,
        }

    async def notebook_at(self, room: Room, t: float) -> dict[str, Any]:
        await self.flush(room.id)
        frames = await self.store.list_frames(room.id, until=t)
        found = await asyncio.to_thread(h.notebook_at, frames, t)
        if found is not None:
            notebook, frame_t = found
            return {"t": t, "source": "frames", "frame_t": frame_t, "notebook": notebook}
        info = await self.store.latest_snapshot(room.id, before=t)
        if info is not None:
            snap = await self.store.get_snapshot(room.id, info.id)
            assert snap is not None
            return {"t": t, "source": "snapshot", "frame_t": info.t, "notebook": snap[1]}
        return {"t": t, "source": None, "frame_t": None, "notebook": None}

    # ------------------------------------------------------------------ diff
    async def diff(self, room: Room, sid: int, against: str) -> dict[str, Any]:
        other_sid = None if against == "current" else parse_sid(against, "against")
        found = await self.store.get_snapshot(room.id, sid)
        if found is None:
            raise NotFound(f"no snapshot '{sid}' in this room", code="snapshot_not_found")
        info, a = found
        if against == "current":
            b = await self.current_notebook(room)
            capped, _ = h.cap_notebook(b, self.max_output_bytes, self.max_outputs_bytes)
            b_info: dict[str, Any] = {"id": "current", "t": self.clock()}
            b = capped
        else:
            assert other_sid is not None
            other = await self.store.get_snapshot(room.id, other_sid)
            if other is None:
                raise NotFound(f"no snapshot '{against}' in this room", code="snapshot_not_found")
            b_info, b = other[0].to_json(), other[1]
        diff, summary = await asyncio.to_thread(_nbdime_diff, a, b)
        return {"a": info.to_json(), "b": b_info, "diff": diff, "cells": summary}


def carries_edit(message: bytes) -> bool:
    """Whether a participant's sync message holds an edit of theirs, for attribution.

    Every socket answers the server's state request with a SYNC_STEP2 on connect: empty for a fresh
    client, and for one that reconnects just its delete set (y-websocket encodes the whole delete
    set each time). Neither is an edit. A SYNC_UPDATE is what the client's own transactions send.
    """
    if len(message) < 3 or message[0] != 0:
        return False
    try:
        update = Decoder(message[2:]).read_message()
    except Exception:  # a malformed message: the room will refuse it too
        return False
    if update is None or len(update) <= 2:
        return False
    if message[1] == YSyncMessageType.SYNC_UPDATE:
        return True
    return get_state(update) != b"\x00"


def _nbdime_diff(a: dict[str, Any], b: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from nbdime import diff_notebooks

    a_nb = nbformat.from_dict(a)  # type: ignore[no-untyped-call]
    b_nb = nbformat.from_dict(b)  # type: ignore[no-untyped-call]
    diff = json.loads(json.dumps(diff_notebooks(a_nb, b_nb)))
    return diff, h.diff_summary(a, b, diff)


def parse_sid(value: str, name: str = "sid") -> int:
    if not value.isdigit() or len(value) > 18:
        raise BadRequest(
            f"'{name}' must be a snapshot id (digits){' or current' if name == 'against' else ''}",
            code="invalid_field",
            field=name,
        )
    return int(value)


def parse_time(value: str | None, name: str) -> float | None:
    if value is None:
        return None
    try:
        t = float(value)
    except ValueError:
        t = math.nan
    if not math.isfinite(t) or t < 0:
        raise BadRequest(
            f"'{name}' must be a time in seconds since the epoch (a number), not {value[:40]!r}",
            code="invalid_field",
            field=name,
        )
    return t


# ---------------------------------------------------------------------- REST


class HistoryHandler(InterviewHandler):
    """Interviewers of the room and the owner; candidates never reach these (the role matrix refuses)."""

    @property
    def history(self) -> HistoryRecorder:
        return cast(HistoryRecorder, self.settings[HISTORY_KEY])

    async def room_for_history(self, room_id: str, action: str) -> Room:
        await self.authorize(action, "interview:history")
        await self.history.start()
        room = self.room_for_request(room_id)
        self.require_role(Role.INTERVIEWER)
        return room

    def author_json(self, ids: list[str], room_id: str) -> list[dict[str, Any]]:
        people = {p.id: p for p in self.history.service.participants(room_id)}
        return [
            {
                "id": i,
                "name": people[i].name if i in people else None,
                "role": people[i].role.value if i in people else None,
            }
            for i in ids
        ]

    def snapshot_json(self, info: h.SnapshotInfo) -> dict[str, Any]:
        body = info.to_json()
        body["authors"] = self.author_json(list(info.authors), info.room_id)
        return body

    @property
    def actor(self) -> str:
        return self.user.participant_id or "owner"


class SnapshotsHandler(HistoryHandler):
    @api
    async def get(self, room_id: str) -> None:
        room = await self.room_for_history(room_id, "read")
        await self.history.flush(room.id)
        snapshots = await self.history.store.list_snapshots(room.id)
        usage = await self.history.store.room_bytes(room.id)
        self.reply(
            {
                "snapshots": [self.snapshot_json(s) for s in reversed(snapshots)],
                "bytes": usage,
                "max_room_bytes": self.history.max_room_bytes,
            }
        )

    @api
    async def post(self, room_id: str) -> None:
        room = await self.room_for_history(room_id, "write")
        body = self.json_body() if self.request.body else {}
        if not isinstance(body, dict):
            raise BadRequest('the body must be a JSON object: {"label": "..."}', code="invalid_body")
        unknown = set(body) - {"label"}
        if unknown:
            raise BadRequest(
                f"unknown field '{sorted(unknown)[0]}'; accepted: label",
                code="unknown_field",
                field=sorted(unknown)[0],
            )
        label = body.get("label", "checkpoint")
        if (
            not isinstance(label, str)
            or not label.strip()
            or len(label) > h.MAX_LABEL
            or any(ord(ch) < 32 for ch in label)
        ):
            raise BadRequest(
                f"'label' must be 1 to {h.MAX_LABEL} printable characters",
                code="invalid_field",
                field="label",
            )
        await self.history.flush(room.id)
        info = await self.history.snapshot(room.id, "checkpoint", label=label.strip())
        assert info is not None
        await self.history.store.add_event(
            room.id, info.t, "checkpoint", self.actor, {"snapshot": str(info.id), "label": info.label}
        )
        self.set_header(
            "Location",
            url_path_join(self.base_url, "interview/api/rooms", room.id, "snapshots", str(info.id)),
        )
        self.reply(self.snapshot_json(info), 201)


class SnapshotHandler(HistoryHandler):
    @api
    async def get(self, room_id: str, sid: str) -> None:
        room = await self.room_for_history(room_id, "read")
        found = await self.history.store.get_snapshot(room.id, parse_sid(sid))
        if found is None:
            raise NotFound(f"no snapshot '{sid}' in this room", code="snapshot_not_found")
        info, notebook = found
        self.reply({"snapshot": self.snapshot_json(info), "notebook": notebook})


class SnapshotDiffHandler(HistoryHandler):
    @api
    async def get(self, room_id: str, sid: str) -> None:
        room = await self.room_for_history(room_id, "read")
        against = self.get_argument("against", "current")
        self.reply(await self.history.diff(room, parse_sid(sid), against))


class RestoreHandler(HistoryHandler):
    @api
    async def post(self, room_id: str, sid: str) -> None:
        room = await self.room_for_history(room_id, "write")
        info, before = await self.history.restore(room, parse_sid(sid), self.actor)
        self.reply(
            {
                "restored": self.snapshot_json(info),
                "before": self.snapshot_json(before) if before else None,
                "undo": url_path_join(self.base_url, "interview/api/rooms", room.id, "snapshots/undo"),
            }
        )


class UndoRestoreHandler(HistoryHandler):
    @api
    async def post(self, room_id: str) -> None:
        room = await self.room_for_history(room_id, "write")
        self.reply(await self.history.undo_restore(room, self.actor))


class ReplayHandler(HistoryHandler):
    @api
    async def get(self, room_id: str) -> None:
        room = await self.room_for_history(room_id, "read")
        at = parse_time(self.get_argument("at", None), "at")
        if at is not None:
            self.reply(await self.history.notebook_at(room, at))
            return
        since = parse_time(self.get_argument("since", None), "since")
        self.reply(await self.history.replay(room, since))


def history_handlers(base: str) -> list[tuple[str, type[HistoryHandler]]]:
    room = r"(?P<room_id>[A-Za-z0-9_-]{1,64})"
    sid = r"(?P<sid>[0-9]{1,18})"
    rooms = url_path_join(base, "interview/api/rooms", room)
    return [
        (url_path_join(rooms, "snapshots/?"), SnapshotsHandler),
        (url_path_join(rooms, "snapshots/undo"), UndoRestoreHandler),
        (url_path_join(rooms, "snapshots", sid), SnapshotHandler),
        (url_path_join(rooms, "snapshots", sid, "diff"), SnapshotDiffHandler),
        (url_path_join(rooms, "snapshots", sid, "restore"), RestoreHandler),
        (url_path_join(rooms, "replay"), ReplayHandler),
    ]
