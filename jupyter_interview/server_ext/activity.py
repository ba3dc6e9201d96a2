"""The activity feed: who edited which cell, moved their cursor or ran a cell, summarised for interviewers.

Three sources, none of them trusted to say who the author is:

- **Edits.** The server's own copy of each room notebook (jupyter-collaboration's YRoom document) is
  observed on its `cells`. The observers run while the room applies a message, in the task that
  serves that message's socket; `CollabSockets.writer` (a ContextVar set when the socket opened) names
  the participant. An event's path gives the cell (`[index, "source"]`), so no update is decoded
  twice; cell ids are kept by position and followed through cells added and removed.
- **Cursors.** A participant's awareness messages (y-codemirror's `cursors`, Yjs relative positions)
  are kept raw and decoded only when the throttle lets one through, then resolved to a cell and line
  against the server's document.
- **Executions.** `ExecutionFeed` records, published from the kernel's own replies.

Each kind is throttled per participant (and cell): the first change goes out at once, later ones in
the interval are summed into one event at its end. Events go out through `Hub.activity` (staff only).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pycrdt import Array, Assoc, Decoder, Doc, StickyIndex, Subscription, Text
from traitlets import Float, Integer
from traitlets.config import LoggingConfigurable

from jupyter_interview.errors import InterviewError
from jupyter_interview.rooms.executions import Execution, ExecutionFeed
from jupyter_interview.rooms.service import Change, RoomService
from jupyter_interview.server_ext.collab import CollabSockets
from jupyter_interview.signaling.hub import Hub

CODE_CHANGE, CURSOR_MOVE, CELL_EXECUTED = "code-change", "cursor-move", "cell-executed"
ALL_CELLS = "*"  # the key of a participant's edits summed over many cells
MAX_AWARENESS_STATES = 8  # a client's awareness message carries its own state; more is not read


def _fatal(e: BaseException) -> bool:
    # pycrdt turns a Rust panic (a sticky index naming an item the document lacks) into
    # pyo3's PanicException, a BaseException: caught, but nothing that should stop the server.
    return isinstance(e, (KeyboardInterrupt, SystemExit, GeneratorExit, asyncio.CancelledError))


@dataclass(eq=False)
class Notebook:
    """The server's copy of one room notebook, as the feed watches it."""

    room_id: str
    yroom: Any  # jupyter-collaboration's DocumentRoom: the document is rebuilt with a new one
    doc: Doc[Any]
    cells: Array[Any]
    subscriptions: list[Subscription] = field(default_factory=list)
    ids: list[str | None] | None = None  # cell ids by position; None: read again at next use
    texts: dict[tuple[int, int], int] | None = None  # a cell source's own Yjs id -> position

    def cell_ids(self) -> list[str | None]:
        if self.ids is None:
            self.ids = [_cell_id(c) for c in self.cells]
        return self.ids

    def cell_id(self, index: int) -> str | None:
        ids = self.cell_ids()
        return ids[index] if 0 <= index < len(ids) else None

    def source(self, index: int) -> Text | None:
        if not 0 <= index < len(self.cells):
            return None
        try:
            text = self.cells[index]["source"]
        except Exception:
            return None
        return text if isinstance(text, Text) else None

    def text_ids(self) -> dict[tuple[int, int], int]:
        """Cursor positions at the end of a cell name the cell's source text itself, by its Yjs id."""
        if self.texts is None:
            texts: dict[tuple[int, int], int] = {}
            for i in range(len(self.cells)):
                text = self.source(i)
                if text is None:
                    continue
                # Before index 0 a sticky index is scoped to the text itself: that is its id.
                scope = StickyIndex.new(text, 0, Assoc.BEFORE).to_json().get("type")
                if isinstance(scope, dict):
                    texts[(scope["client"], scope["clock"])] = i
            self.texts = texts
        return self.texts


def _cell_id(cell: Any) -> str | None:
    try:
        value = cell.get("id")
    except Exception:
        return None
    return value[:64] if isinstance(value, str) and value else None


@dataclass
class Slot:
    """One throttled stream: a participant's changes of one kind (to one cell)."""

    last: float = float("-inf")  # loop time of its last event
    handle: asyncio.TimerHandle | None = None
    pending: dict[str, Any] | None = None  # what the next event will say
    count: int = 0
    sums: dict[str, int] = field(default_factory=dict)


class ActivityFeed(LoggingConfigurable):
    """Built by InterviewApp; listens to the collaboration sockets, the execution feed and RoomService."""

    code_change_interval_s = Float(
        2.0,
        config=True,
        help="At most one code-change event per participant and cell in this many seconds; edits in"
        " between are summed into the next event.",
    )
    cursor_interval_s = Float(
        1.0,
        config=True,
        help="At most one cursor-move event per participant in this many seconds (and only when the"
        " cell or line changed).",
    )
    execution_interval_s = Float(
        0.5,
        config=True,
        help="At most one cell-executed event per participant and cell in this many seconds.",
    )
    max_cells_per_interval = Integer(
        8,
        config=True,
        help="Cells one participant's code-change events name within one interval; edits to further"
        " cells are summed in one event without a cell (a client rewriting the whole notebook makes"
        " one event, not one per cell).",
    )

    def __init__(
        self,
        hub: Hub,
        service: RoomService,
        sockets: CollabSockets,
        executions: ExecutionFeed,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.hub = hub
        self.service = service
        self.sockets = sockets
        self.notebooks: dict[str, Notebook] = {}  # by collaboration room name
        self.slots: dict[tuple[str, ...], Slot] = {}
        self.bursts: dict[tuple[str, str], tuple[float, set[str]]] = {}
        self.hints: dict[tuple[str, str], int] = {}  # (room, participant) -> the cell they were last in
        self.last_cursor: dict[tuple[str, str], tuple[int, int]] = {}
        self.cursors: dict[tuple[str, str], tuple[str, bytes]] = {}  # latest raw awareness, undecoded
        self.errors = 0
        sockets.edit_listeners.append(self.on_edit)
        sockets.awareness_listeners.append(self.on_awareness)
        self.unsubscribe = executions.subscribe(self.on_execution)
        service.add_listener(self.on_change)

    # ------------------------------------------------------------------ documents
    def on_edit(self, room_id: str, participant_id: str, room_name: str, message: bytes) -> None:
        """Before a participant's update is applied: make sure its notebook is observed (dict reads)."""
        nb = self.notebooks.get(room_name)
        if nb is None or nb.yroom is not self._yroom(room_name):
            self._watch(room_id, room_name)

    def _yroom(self, room_name: str) -> Any:
        server = self.sockets.ydoc_handler_kwargs().get("ywebsocket_server")
        rooms = getattr(server, "rooms", None)
        return rooms.get(room_name) if isinstance(rooms, dict) else None

    def _watch(self, room_id: str, room_name: str) -> Notebook | None:
        if room_name.split(":", 2)[1:2] != ["notebook"]:
            return None
        yroom = self._yroom(room_name)
        if yroom is None or not getattr(yroom, "ready", False):
            return None
        # Forget documents jupyter-collaboration has dropped from memory (or rebuilt): holding them
        # here would keep every finished interview's notebook alive.
        for name, old in list(self.notebooks.items()):
            if name == room_name or self._yroom(name) is not old.yroom:
                del self.notebooks[name]
                for sub in old.subscriptions:
                    with contextlib.suppress(Exception):  # the old room's document may be gone with it
                        sub.drop()
        doc: Doc[Any] = yroom.ydoc
        nb = Notebook(room_id, yroom, doc, doc.get("cells", type=Array))
        nb.cell_ids()  # read now, outside any transaction; then kept in step by _structure
        # Cells added and removed: rare, so pycrdt's own (converted) events are affordable here.
        nb.subscriptions.append(nb.cells.observe(lambda event: self._guard(self._structure, nb, event)))
        # Every keystroke: pycrdt's raw events, read lazily. Converting every event into pycrdt's
        # Python objects, as observe_deep does, cost 7 µs a keystroke against under 1 µs raw.
        deep = getattr(nb.cells, "integrated", None)
        if deep is not None and hasattr(deep, "observe_deep"):
            nb.subscriptions.append(deep.observe_deep(lambda events: self._guard(self._edits, nb, events)))
        else:
            nb.subscriptions.append(
                nb.cells.observe_deep(lambda events: self._guard(self._edits, nb, events))
            )
        self.notebooks[room_name] = nb
        return nb

    def _guard(self, handler: Callable[[Notebook, Any], None], nb: Notebook, arg: Any) -> None:
        """Inside the transaction that applies an update: bookkeeping only, events go out later."""
        try:
            handler(nb, arg)
        except Exception:
            self.errors += 1
            if self.errors == 1:
                self.log.exception("jupyter_interview: the activity feed could not read a notebook change")

    def _author(self, nb: Notebook) -> str | None:
        """Whose message is being applied, if a participant's of this room."""
        writer = self.sockets.writer.get()
        if writer is None or writer.room_id != nb.room_id:
            return None
        # jupyter-collaboration rewrites the document from the file under this lock (out-of-band
        # changes), possibly in a task that inherited a participant's context: nobody's edit.
        lock = getattr(nb.yroom, "_update_lock", None)
        if lock is not None and lock.locked():
            return None
        return writer.participant_id

    def _structure(self, nb: Notebook, event: Any) -> None:
        added, removed = self._restructure(nb, event.delta)
        author = self._author(nb)
        if author is None or not (added or removed):
            return
        room_id = nb.room_id
        first = added[0] if added else None
        key = self._code_key(room_id, author, (nb.cell_id(first) if first is not None else None) or ALL_CELLS)
        fields: dict[str, Any] = {"kind": CODE_CHANGE, "room": room_id, "participant_id": author}
        if key[-1] != ALL_CELLS:
            fields.update(cell=key[-1], index=first)
        self._offer(
            key, self.code_change_interval_s, fields, {"cells_added": len(added), "cells_removed": removed}
        )

    def _edits(self, nb: Notebook, events: list[Any]) -> None:
        touched: dict[int, tuple[int, int]] = {}
        for ev in events:
            path = ev.path
            if len(path) == 2 and path[1] == "source":
                ins, dels = touched.get(path[0], (0, 0))
                for d in ev.delta:
                    if "insert" in d:
                        ins += len(d["insert"]) if isinstance(d["insert"], str) else 1
                    elif "delete" in d:
                        dels += int(d["delete"])
                touched[path[0]] = (ins, dels)
            elif len(path) == 1 and "source" in (getattr(ev, "keys", None) or {}):
                touched.setdefault(path[0], (0, 0))  # the whole source replaced
        if not touched:
            return
        author = self._author(nb)
        if author is None:
            return
        room_id = nb.room_id
        for index, (ins, dels) in touched.items():
            cell = nb.ids[index] if nb.ids is not None and 0 <= index < len(nb.ids) else None
            self.hints[(room_id, author)] = index
            slot = self.slots.get((room_id, author, CODE_CHANGE, cell or ALL_CELLS))
            if slot is not None and slot.handle is not None and slot.pending is not None:
                # Most keystrokes: this cell's interval is running, its event is waiting; add to it.
                slot.count += 1
                slot.sums["added"] = slot.sums.get("added", 0) + ins
                slot.sums["removed"] = slot.sums.get("removed", 0) + dels
                slot.sums["cells"] = slot.sums.get("cells", 0) + 1
                continue
            key = self._code_key(room_id, author, cell or ALL_CELLS)
            fields: dict[str, Any] = {"kind": CODE_CHANGE, "room": room_id, "participant_id": author}
            if key[-1] != ALL_CELLS:
                fields.update(cell=cell, index=index)
            self._offer(key, self.code_change_interval_s, fields, {"added": ins, "removed": dels, "cells": 1})

    def _restructure(self, nb: Notebook, delta: list[dict[str, Any]]) -> tuple[list[int], int]:
        """Follow cells inserted and deleted in the cached ids; the positions added and how many went."""
        nb.texts = None
        ids = nb.ids
        pos, removed = 0, 0
        added: list[int] = []
        for d in delta:
            if "retain" in d:
                pos += int(d["retain"])
            elif "insert" in d:
                items = list(d["insert"])
                if ids is not None:
                    ids[pos:pos] = [_cell_id(c) for c in items]
                added += range(pos, pos + len(items))
                pos += len(items)
            elif "delete" in d:
                n = int(d["delete"])
                if ids is not None:
                    del ids[pos : pos + n]
                removed += n
        if ids is None or len(ids) != len(nb.cells):
            nb.ids = [_cell_id(c) for c in nb.cells]  # inside pycrdt's read transaction: allowed
        return added, removed

    def _code_key(self, room_id: str, pid: str, cell: str) -> tuple[str, ...]:
        """A cell's own stream, unless this participant already named too many cells this interval."""
        if cell == ALL_CELLS:
            return (room_id, pid, CODE_CHANGE, ALL_CELLS)
        now = self._now()
        start, cells = self.bursts.get((room_id, pid), (now, set()))
        if now - start >= self.code_change_interval_s:
            start, cells = now, set()
        if cell not in cells and len(cells) >= self.max_cells_per_interval:
            self.bursts[(room_id, pid)] = (start, cells)
            return (room_id, pid, CODE_CHANGE, ALL_CELLS)
        cells.add(cell)
        self.bursts[(room_id, pid)] = (start, cells)
        return (room_id, pid, CODE_CHANGE, cell)

    # ------------------------------------------------------------------ cursors
    def on_awareness(self, room_id: str, participant_id: str, room_name: str, message: bytes) -> None:
        """Per awareness message: keep it raw; decode only what the throttle lets through."""
        key = (room_id, participant_id)
        self.cursors[key] = (room_name, message)
        self._offer(
            (room_id, participant_id, CURSOR_MOVE),
            self.cursor_interval_s,
            {"kind": CURSOR_MOVE, "room": room_id, "participant_id": participant_id},
            {},
        )

    def _cursor_fields(self, room_id: str, pid: str) -> dict[str, Any] | None:
        """The latest cursor of a participant as cell and line, or None when unchanged or unknown."""
        got = self.cursors.pop((room_id, pid), None)
        if got is None:
            return None
        room_name, message = got
        position = _primary_head(message)
        if position is None:
            return None
        nb = self.notebooks.get(room_name)
        if nb is None or nb.yroom is not self._yroom(room_name):
            nb = self._watch(room_id, room_name)
        if nb is None:
            return None
        try:
            found = self._locate(nb, position, self.hints.get((room_id, pid)))
        except BaseException as e:
            if _fatal(e):
                raise
            return None
        if found is None:
            return None
        index, line = found
        self.hints[(room_id, pid)] = index
        if self.last_cursor.get((room_id, pid)) == (index, line):
            return None
        self.last_cursor[(room_id, pid)] = (index, line)
        cell = nb.cell_id(index)
        return {"index": index, "line": line, **({"cell": cell} if cell else {})}

    def _locate(self, nb: Notebook, pos: dict[str, Any], hint: int | None) -> tuple[int, int] | None:
        """A Yjs relative position (as y-codemirror sends it) -> (cell position, 1-based line)."""
        scope = pos.get("type")
        if isinstance(scope, dict):  # at the end of a cell: the position names the text itself
            index = nb.text_ids().get((scope.get("client"), scope.get("clock")))  # type: ignore[arg-type]
            text = nb.source(index) if index is not None else None
            if index is None or text is None:
                return None
            return index, str(text).count("\n") + 1
        item = pos.get("item")
        if not isinstance(item, dict):
            return None
        client, clock = item.get("client"), item.get("clock")
        if (
            not isinstance(client, int)
            or not isinstance(clock, int)
            or clock >= _state_vector(nb.doc).get(client, 0)
        ):
            return None  # an item the server has not seen: resolving it would panic in Rust
        with nb.doc.transaction() as txn:
            offset = StickyIndex.from_json(
                {"item": {"client": client, "clock": clock}, "assoc": 0}
            ).get_index(txn)
        n = len(nb.cells)
        order = ([hint] if hint is not None and 0 <= hint < n else []) + [i for i in range(n) if i != hint]
        for index in order:
            text = nb.source(index)
            if text is None or offset >= len(text):
                continue
            # The same character in this cell would give the same id: then the position is in it.
            if StickyIndex.new(text, offset, Assoc.AFTER).to_json().get("item") == {
                "client": client,
                "clock": clock,
            }:
                return index, str(text)[:offset].count("\n") + 1
        return None

    # ------------------------------------------------------------------ executions
    def on_execution(self, execution: Execution) -> None:
        if execution.status == "started" or execution.participant_id is None:
            return
        room_id, pid = execution.room_id, execution.participant_id
        fields: dict[str, Any] = {
            "kind": CELL_EXECUTED,
            "room": room_id,
            "participant_id": pid,
            "status": execution.status,
        }
        if execution.cell_id:
            fields["cell"] = execution.cell_id[:64]
            index = self._index_of(room_id, execution.cell_id)
            if index is not None:
                fields["index"] = index
        if execution.execution_count is not None:
            fields["execution_count"] = execution.execution_count
        self._offer(
            (room_id, pid, CELL_EXECUTED, execution.cell_id or ALL_CELLS),
            self.execution_interval_s,
            fields,
            {},
        )

    def _index_of(self, room_id: str, cell_id: str) -> int | None:
        for nb in self.notebooks.values():
            if nb.room_id == room_id:
                try:
                    return nb.cell_ids().index(cell_id)
                except ValueError:
                    continue
        return None

    # ------------------------------------------------------------------ throttle
    def _now(self) -> float:
        return time.monotonic()

    def _offer(
        self, key: tuple[str, ...], interval: float, fields: dict[str, Any], sums: dict[str, int]
    ) -> None:
        """The first change of a quiet stream goes out now; later ones wait for the interval's end."""
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = Slot()
        slot.pending = fields
        slot.count += 1
        for k, v in sums.items():
            slot.sums[k] = slot.sums.get(k, 0) + v
        now = self._now()
        if slot.handle is not None:
            return
        wait = slot.last + interval - now
        loop = asyncio.get_running_loop()
        # Never inside the caller's frame: that may be a document transaction or a socket's read.
        slot.handle = loop.call_later(max(wait, 0.0), self._flush, key)

    def _flush(self, key: tuple[str, ...]) -> None:
        slot = self.slots.get(key)
        if slot is None:
            return
        slot.handle = None
        fields, count, sums = slot.pending, slot.count, slot.sums
        slot.pending, slot.count, slot.sums = None, 0, {}
        if fields is None:
            return
        slot.last = self._now()
        try:
            payload = self._payload(fields, count, sums)
        except Exception:
            self.log.exception("jupyter_interview: an activity event could not be built")
            payload = None
        if payload is not None:
            self.hub.activity(fields["room"], payload)
        if len(self.slots) > 4096:
            self._prune()

    def _prune(self) -> None:
        now = self._now()
        idle = max(self.code_change_interval_s, self.cursor_interval_s, self.execution_interval_s)
        for key, slot in list(self.slots.items()):
            if slot.handle is None and now - slot.last > idle:
                del self.slots[key]

    def _payload(self, fields: dict[str, Any], count: int, sums: dict[str, int]) -> dict[str, Any] | None:
        room_id, pid, kind = fields["room"], fields["participant_id"], fields["kind"]
        try:
            participant = self.service.get_participant(room_id, pid)
        except InterviewError:
            return None
        name, role = participant.name, participant.role.value
        payload: dict[str, Any] = {"kind": kind, "participant_id": pid, "name": name}
        if role in ("interviewer", "candidate"):
            payload["role"] = role
        if kind == CURSOR_MOVE:
            where = self._cursor_fields(room_id, pid)
            if where is None:
                return None
            payload.update(where)
            payload["summary"] = f"{name} is in cell {where['index'] + 1}, line {where['line']}"
            payload["count"] = count
            return payload
        for k in ("cell", "index", "status", "execution_count"):
            if fields.get(k) is not None:
                payload[k] = fields[k]
        payload["count"] = count
        payload["summary"] = _summary(name, payload, sums)
        return payload

    # ------------------------------------------------------------------ rooms
    def on_change(self, change: Change) -> None:
        if change.kind != "deleted":
            return
        for name, nb in list(self.notebooks.items()):
            if nb.room_id == change.room_id:
                del self.notebooks[name]
        for key, slot in list(self.slots.items()):
            if key[0] == change.room_id:
                if slot.handle is not None:
                    slot.handle.cancel()
                del self.slots[key]
        for table in (self.bursts, self.hints, self.last_cursor, self.cursors):
            for k in [k for k in table if k[0] == change.room_id]:
                del table[k]


def _summary(name: str, payload: dict[str, Any], sums: dict[str, int]) -> str:
    cell = f"cell {payload['index'] + 1}" if "index" in payload else "the notebook"
    if payload["kind"] == CELL_EXECUTED:
        count = f" ({payload['count']} runs)" if payload["count"] > 1 else ""
        return f"{name} ran {cell}: {payload.get('status', 'done')}{count}"
    parts = []
    if sums.get("cells_added"):
        n = sums["cells_added"]
        parts.append(f"added {n} cell{'s' if n > 1 else ''}")
    if sums.get("cells_removed"):
        n = sums["cells_removed"]
        parts.append(f"deleted {n} cell{'s' if n > 1 else ''}")
    if sums.get("added") or sums.get("removed") or not parts:
        where = cell if "index" in payload else "several cells"
        chars = f" (+{sums.get('added', 0)} / -{sums.get('removed', 0)} characters)"
        parts.append(f"edited {where}{chars}")
    return f"{name} {' and '.join(parts)}"


def _state_vector(doc: Doc[Any]) -> dict[int, int]:
    decoder = Decoder(doc.get_state())
    return {decoder.read_var_uint(): decoder.read_var_uint() for _ in range(decoder.read_var_uint())}


def _primary_head(message: bytes) -> dict[str, Any] | None:
    """The head of the primary selection in a y-codemirror awareness message, if it has one."""
    try:
        payload = Decoder(message[1:]).read_message()
        if not payload:
            return None
        decoder = Decoder(payload)
        for _ in range(min(decoder.read_var_uint(), MAX_AWARENESS_STATES)):
            decoder.read_var_uint()  # client id
            decoder.read_var_uint()  # clock
            state = json.loads(decoder.read_var_string())
            cursors = state.get("cursors") if isinstance(state, dict) else None
            if not isinstance(cursors, list):
                continue
            for cursor in cursors:
                if isinstance(cursor, dict) and cursor.get("primary", True):
                    head = cursor.get("head")
                    if isinstance(head, dict):
                        return head
    except (ValueError, IndexError, RuntimeError, UnicodeDecodeError):
        return None
    return None
