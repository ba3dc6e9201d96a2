"""A room's notebook history: capped snapshots, replay frames, executions and room events, kept in SQLite.

Snapshots are notebooks (nbformat JSON) whose outputs are capped per output and per snapshot; their
cells are stored once per room, found by content hash, so a snapshot of a notebook where one cell
changed adds that cell and a list of room-local cell numbers. Snapshots thin with age; checkpoints, labelled and
pre-restore snapshots stay. Replay frames are the shared document's own Yjs updates, coalesced per
frame interval: a `base` frame holds the document's whole state, each later `update` frame what
changed since the frame before, so any moment is rebuilt by applying frames in order. Executions
come from the server's view of the kernel (`rooms.executions`), never from the document.

No tornado here: the server glue (`server_ext.history`) finds the live document and calls in.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import logging
import sqlite3
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, cast

from pycrdt import Doc, TransactionEvent, merge_updates

from jupyter_interview.errors import Conflict
from jupyter_interview.rooms.executions import Execution
from jupyter_interview.rooms.sqlite import SQLiteFile

T = TypeVar("T")
log = logging.getLogger(__name__)

SnapshotKind = Literal["auto", "execution", "checkpoint", "restore"]
SNAPSHOT_KINDS: tuple[str, ...] = ("auto", "execution", "checkpoint", "restore")
MAX_LABEL = 200

# Default thinning tiers: (age in seconds from which the tier applies, one snapshot kept per spacing).
DEFAULT_TIERS: tuple[tuple[float, float], ...] = ((3600.0, 600.0), (86400.0, 3600.0))


# ---------------------------------------------------------------- capping


def _text(value: Any) -> str:
    """nbformat multiline strings are a str or a list of str."""
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value)


def _head(text: str, limit: int) -> str:
    return text.encode("utf-8")[: max(0, limit)].decode("utf-8", "ignore")


def _size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def cap_output(output: dict[str, Any], limit: int) -> tuple[dict[str, Any], bool]:
    """One nbformat output within `limit` bytes of text or data, and whether it was cut.

    A stream keeps its head; an error keeps the end of its traceback (where the cause is); rich
    data over the limit keeps a shortened text/plain and names the representations left out.
    """
    if _size(output) <= limit:
        return output, False
    kind = output.get("output_type")
    out = dict(output)
    if kind == "stream":
        text = _text(output.get("text", ""))
        # The notice names no count: an output still streaming then stays the same stored cell
        # from one snapshot to the next, instead of a new copy each time.
        out["text"] = _head(text, limit) + f"\n[history: this output was cut at {limit} bytes]\n"
        return out, True
    if kind == "error":
        lines = [_text(line) for line in output.get("traceback", [])]
        kept_lines: list[str] = []
        used = 0
        for line in reversed(lines):
            used += len(line.encode("utf-8"))
            if used > limit:
                break
            kept_lines.insert(0, line)
        left = len(lines) - len(kept_lines)
        out["traceback"] = [f"[history: {left} earlier traceback lines were not kept]", *kept_lines]
        out["evalue"] = _head(_text(output.get("evalue", "")), limit // 4)
        return out, True
    if kind in ("execute_result", "display_data"):
        data = output.get("data") or {}
        plain = _head(_text(data.get("text/plain", "")), limit // 2)
        left_out = sorted(k for k in data if k != "text/plain")
        note = f"\n[history: output over {limit} bytes; not kept: {', '.join(left_out) or 'the rest of text/plain'}]"
        out["data"] = {"text/plain": plain + note}
        out["metadata"] = {}
        return out, True
    return {
        "output_type": "stream",
        "name": "stderr",
        "text": f"[history: a {kind} output over {limit} bytes was not kept]\n",
    }, True


def cap_notebook(
    notebook: dict[str, Any], max_output_bytes: int, max_outputs_bytes: int
) -> tuple[dict[str, Any], bool]:
    """The notebook with each output capped and all outputs together within `max_outputs_bytes`.

    Sources are never cut: they are what the interview is about, and people type them at human speed.
    """
    capped = False
    total = 0
    cells = []
    for cell in notebook.get("cells", []):
        outputs = cell.get("outputs")
        if not outputs:
            cells.append(cell)
            continue
        together = _size(outputs)
        if together <= max_output_bytes and total + together <= max_outputs_bytes:
            # The common case: no single output can be over its cap; one measure for the cell.
            total += together
            cells.append(cell)
            continue
        kept: list[dict[str, Any]] = []
        for i, output in enumerate(outputs):
            small, cut = cap_output(output, max_output_bytes)
            capped = capped or cut
            size = _size(small)
            if total + size > max_outputs_bytes:
                left = len(outputs) - i
                kept.append(
                    {
                        "output_type": "stream",
                        "name": "stderr",
                        "text": f"[history: {left} outputs not kept: the snapshot's outputs are over"
                        f" {max_outputs_bytes} bytes]\n",
                    }
                )
                capped = True
                total = max_outputs_bytes
                break
            total += size
            kept.append(small)
        cells.append({**cell, "outputs": kept})
    return {**notebook, "cells": cells}, capped


# ---------------------------------------------------------------- content addressing


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(data: bytes) -> str:
    # 128 bits: a collision crafted inside a room would take ~2^64 work.
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def pack(data: bytes) -> bytes:
    return zlib.compress(data, 6)


def unpack(data: bytes) -> bytes:
    return zlib.decompress(data)


# ---------------------------------------------------------------- models


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    room_id: str
    t: float
    kind: str
    label: str
    authors: tuple[str, ...]
    size: int  # bytes of the snapshot's notebook JSON (after caps)
    stored: int  # bytes this snapshot added to the store (new cells and its manifest, compressed)
    capped: bool
    executions: tuple[str, ...]  # msg_ids of the executions this snapshot follows
    pinned: bool  # never thinned: checkpoints, labelled and pre-restore snapshots
    cells: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "t": self.t,
            "kind": self.kind,
            "label": self.label or None,
            "authors": list(self.authors),
            "size": self.size,
            "stored": self.stored,
            "capped": self.capped,
            "executions": list(self.executions),
            "pinned": self.pinned,
            "cells": self.cells,
        }


@dataclass(frozen=True)
class Frame:
    """One step of the replay: a Yjs update (v1) applied at `t`; `base` frames start a new document."""

    seq: int
    t: float
    kind: str  # "base" | "update"
    authors: tuple[str, ...]
    update: bytes

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "t": self.t,
            "kind": self.kind,
            "authors": list(self.authors),
            "update": base64.b64encode(self.update).decode("ascii"),
        }


@dataclass(frozen=True)
class RoomEvent:
    t: float
    type: str
    actor: str | None
    payload: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        # The payload cannot override what the timeline sorts and filters by.
        return {**self.payload, "t": self.t, "type": self.type, "actor": self.actor}


@dataclass(frozen=True)
class ExecutionRecord:
    execution: Execution
    verdict: str | None  # None until compared; "same" | "differ" | "missing" (cell not in the document)

    def to_json(self) -> dict[str, Any]:
        e = self.execution
        return {
            "msg_id": e.msg_id,
            "kernel_id": e.kernel_id,
            "participant_id": e.participant_id,
            "code": e.code,
            "cell_id": e.cell_id,
            "status": e.status,
            "started_at": e.started_at,
            "ended_at": e.ended_at,
            "execution_count": e.execution_count,
            "outputs": list(e.outputs),
            "truncated": e.truncated,
            "reason": e.reason,
            "document_outputs": self.verdict,
        }


# ---------------------------------------------------------------- thinning


def to_thin(
    snapshots: Sequence[SnapshotInfo],
    now: float,
    keep_all_s: float,
    tiers: Sequence[tuple[float, float]] = DEFAULT_TIERS,
) -> list[int]:
    """Ids of snapshots the age policy drops: all kept for `keep_all_s`, then one per tier spacing.

    In each tier (from its age on) the newest snapshot of each spacing-long bucket of time stays.
    Pinned snapshots and the newest snapshot always stay.
    """
    if not snapshots:
        return []
    newest = max(snapshots, key=lambda s: (s.t, s.id)).id
    ordered = sorted(tiers)
    kept_bucket: set[tuple[float, int]] = set()
    drop: list[int] = []
    for s in sorted(snapshots, key=lambda s: (s.t, s.id), reverse=True):
        age = now - s.t
        if s.pinned or s.id == newest or age < keep_all_s:
            continue
        spacing = 0.0
        for from_age, tier_spacing in ordered:
            if age >= from_age:
                spacing = tier_spacing
        if spacing <= 0:
            continue
        bucket = (spacing, int(s.t // spacing))
        if bucket in kept_bucket:
            drop.append(s.id)
        else:
            kept_bucket.add(bucket)
    return drop


# ---------------------------------------------------------------- outputs: kernel against document


def normalize_outputs(outputs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Outputs as a comparable list: consecutive streams of one name joined (as frontends merge
    them), line ends unified, metadata and execution counts left out."""
    result: list[dict[str, Any]] = []
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            text = _text(output.get("text", "")).replace("\r\n", "\n")
            if result and result[-1]["type"] == "stream" and result[-1]["name"] == output.get("name"):
                result[-1]["text"] += text
            else:
                result.append({"type": "stream", "name": output.get("name"), "text": text})
        elif kind in ("execute_result", "display_data"):
            data = {k: _text(v) for k, v in (output.get("data") or {}).items()}
            result.append({"type": kind, "data": data})
        elif kind == "error":
            result.append({"type": "error", "ename": output.get("ename"), "evalue": output.get("evalue")})
        else:
            result.append({"type": str(kind)})
    return result


def compare_execution(execution: Execution, notebook: dict[str, Any]) -> str:
    """Whether the document's outputs of the executed cell are what the kernel sent."""
    cell = next((c for c in notebook.get("cells", []) if c.get("id") == execution.cell_id), None)
    if cell is None:
        return "missing"
    same = normalize_outputs(execution.outputs) == normalize_outputs(cell.get("outputs") or [])
    return "same" if same else "differ"


# ---------------------------------------------------------------- the notebook at a moment


def notebook_from_update(update: bytes) -> dict[str, Any]:
    from jupyter_ydoc import YNotebook

    doc: Doc[Any] = Doc()
    doc.apply_update(update)
    return cast(dict[str, Any], YNotebook(doc).get(deduplicate=False))


def notebook_at(frames: Sequence[Frame], t: float) -> tuple[dict[str, Any], float] | None:
    """The notebook as the frames say it was at `t`, and the time of the frame that made it so."""
    upto = [f for f in frames if f.t <= t]
    if not upto:
        return None
    start = max((i for i, f in enumerate(upto) if f.kind == "base"), default=None)
    if start is None:
        return None
    merged = merge_updates(*(f.update for f in upto[start:]))
    return notebook_from_update(merged), upto[-1].t


# ---------------------------------------------------------------- following a live document


class DocTracker:
    """Collects one live Yjs document's updates between frames and says what changed since when.

    Subscribes to the document's transactions (every change, whoever made it: participants'
    updates, the owner's, a restore, the file reloaded). `take_frame` coalesces what arrived into
    one update: the smaller of the merged transaction updates and the document's diff against the
    last frame's state vector (a diff leaves out content inserted and deleted in between).
    """

    def __init__(self, doc: Doc[Any], handle: object) -> None:
        self.doc = doc
        self.handle = handle  # the live room object this tracker follows; a new one means a new tracker
        self._pending: list[bytes] = []
        self._state: bytes | None = None
        self.authors: set[str] = set()  # since the last frame
        self.snapshot_authors: set[str] = set()  # since the last snapshot
        self.changed_since_snapshot = False
        self.changed_at: float | None = None
        self.frames_stopped = False
        self._subscription = doc.observe(self._on_transaction)

    def _on_transaction(self, event: TransactionEvent) -> None:
        update = event.update
        # An empty transaction encodes as two zero bytes (no structs, no deletions).
        if len(update) > 2:
            self._pending.append(update)
            self.changed_since_snapshot = True

    def attribute(self, author: str) -> None:
        self.authors.add(author)
        self.snapshot_authors.add(author)

    @property
    def has_pending(self) -> bool:
        return self._state is None or bool(self._pending)

    def take_frame(self) -> tuple[str, bytes, tuple[str, ...]] | None:
        """(kind, update, authors) for a frame now, or None when nothing changed."""
        authors = tuple(sorted(self.authors))
        if self._state is None:
            kind, update = "base", self.doc.get_update()
        elif not self._pending:
            return None
        else:
            kind = "update"
            merged = self._pending[0] if len(self._pending) == 1 else merge_updates(*self._pending)
            diff = self.doc.get_update(self._state)
            update = diff if len(diff) < len(merged) else merged
        self._pending.clear()
        self.authors.clear()
        self._state = self.doc.get_state()
        return kind, update, authors

    def close(self) -> None:
        try:
            self.doc.unobserve(self._subscription)
        except Exception as e:  # the room's document may be gone already
            log.debug("unobserving a document failed: %s", e)


# ---------------------------------------------------------------- the store


MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE cells (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id TEXT NOT NULL,
        hash TEXT NOT NULL,
        body BLOB NOT NULL,
        UNIQUE (room_id, hash)
    );
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id TEXT NOT NULL,
        t REAL NOT NULL,
        kind TEXT NOT NULL,
        label TEXT NOT NULL,
        authors TEXT NOT NULL,
        size INTEGER NOT NULL,
        stored INTEGER NOT NULL,
        capped INTEGER NOT NULL,
        executions TEXT NOT NULL,
        pinned INTEGER NOT NULL,
        ncells INTEGER NOT NULL,
        nbhash TEXT NOT NULL,
        manifest BLOB NOT NULL
    );
    CREATE INDEX snapshots_room_t ON snapshots(room_id, t);
    CREATE TABLE frames (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id TEXT NOT NULL,
        t REAL NOT NULL,
        kind TEXT NOT NULL,
        authors TEXT NOT NULL,
        packed INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE INDEX frames_room_seq ON frames(room_id, seq);
    CREATE TABLE executions (
        room_id TEXT NOT NULL,
        msg_id TEXT NOT NULL,
        kernel_id TEXT NOT NULL,
        participant_id TEXT,
        code TEXT NOT NULL,
        cell_id TEXT,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        execution_count INTEGER,
        outputs BLOB NOT NULL,
        truncated INTEGER NOT NULL,
        reason TEXT,
        verdict TEXT,
        PRIMARY KEY (room_id, msg_id)
    );
    CREATE INDEX executions_room_t ON executions(room_id, started_at);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        room_id TEXT NOT NULL,
        t REAL NOT NULL,
        type TEXT NOT NULL,
        actor TEXT,
        payload TEXT NOT NULL
    );
    CREATE INDEX events_room_t ON events(room_id, t);
    """,
)


class HistoryFull(Conflict):
    """The room's history is at its size bound and only pinned snapshots are left to drop."""


@dataclass
class Limits:
    max_output_bytes: int = 64 * 1024
    max_outputs_bytes: int = 2 * 1024 * 1024
    max_room_bytes: int = 64 * 1024 * 1024  # snapshots and their cells, per room
    max_replay_bytes: int = 128 * 1024 * 1024  # replay frames, per room
    keep_all_s: float = 3600.0
    tiers: tuple[tuple[float, float], ...] = field(default=DEFAULT_TIERS)


class HistoryStore(SQLiteFile):
    """History in its own SQLite file (WAL, one worker thread), beside the room store.

    Its own file and thread: snapshot writes (tens of KB) never queue behind the room store's
    small hot-path writes, and a deployment on the Redis room store keeps history without a Redis
    implementation of it (each document's collaboration room lives in one process anyway).
    """

    kind = "history store"
    thread_name = "interview-history"
    migrations = MIGRATIONS

    def __init__(self, path: str, limits: Limits | None = None) -> None:
        super().__init__(path)
        self.limits = limits or Limits()
        self._frame_bytes: dict[str, int] = {}

    # ---- snapshots ----
    @staticmethod
    def _info(row: tuple[Any, ...]) -> SnapshotInfo:
        return SnapshotInfo(
            id=row[0],
            room_id=row[1],
            t=row[2],
            kind=row[3],
            label=row[4],
            authors=tuple(json.loads(row[5])),
            size=row[6],
            stored=row[7],
            capped=bool(row[8]),
            executions=tuple(json.loads(row[9])),
            pinned=bool(row[10]),
            cells=row[11],
        )

    async def add_snapshot(
        self,
        room_id: str,
        notebook: dict[str, Any],
        *,
        t: float,
        kind: SnapshotKind,
        label: str = "",
        authors: Iterable[str] = (),
        executions: Iterable[str] = (),
        skip_if_unchanged: bool = False,
    ) -> SnapshotInfo | None:
        """Store a notebook as a snapshot (outputs capped), thin the room, keep it within its bound.

        With `skip_if_unchanged`, nothing is stored when the newest snapshot holds the same notebook.
        Raises HistoryFull when the room is over its bound with only pinned snapshots to drop.
        """
        limits = self.limits
        pinned = kind in ("checkpoint", "restore") or bool(label)
        author_list = sorted(set(authors))
        execution_list = list(dict.fromkeys(executions))

        def write(c: sqlite3.Connection) -> SnapshotInfo | None:
            # Capping, serialising and hashing run here, on the store's thread, not the event loop.
            capped_nb, capped = cap_notebook(notebook, limits.max_output_bytes, limits.max_outputs_bytes)
            cells = [(digest(data), data) for data in (canonical(c) for c in capped_nb.get("cells", []))]
            header = {k: v for k, v in capped_nb.items() if k != "cells"}
            head = canonical(header)
            nbhash = digest(head + "".join(h for h, _ in cells).encode())
            # The notebook's JSON size: its header, its cells and the commas between them.
            size = len(head) + sum(len(d) for _, d in cells) + len(cells) + 10
            if skip_if_unchanged:
                row = c.execute(
                    "SELECT nbhash FROM snapshots WHERE room_id=? ORDER BY t DESC, id DESC LIMIT 1",
                    (room_id,),
                ).fetchone()
                if row is not None and row[0] == nbhash:
                    return None
            missing = self._missing_cells(c, room_id, cells)
            # A manifest lists room-local cell numbers: a few bytes a cell.
            needed = sum(len(b) for _, b in missing) + 8 * len(cells) + 256
            self._make_room(c, room_id, t, needed=needed)
            ids, stored = self._store_cells(c, room_id, cells)
            manifest = pack(canonical({**header, "cells": ids}))
            stored += len(manifest)
            cur = c.execute(
                "INSERT INTO snapshots (room_id, t, kind, label, authors, size, stored, capped, executions,"
                " pinned, ncells, nbhash, manifest) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    room_id,
                    t,
                    kind,
                    label,
                    json.dumps(author_list),
                    size,
                    stored,
                    int(capped),
                    json.dumps(execution_list),
                    int(pinned),
                    len(cells),
                    nbhash,
                    manifest,
                ),
            )
            sid = int(cur.lastrowid or 0)
            self._thin(c, room_id, t)
            row = c.execute(
                "SELECT id, room_id, t, kind, label, authors, size, stored, capped, executions, pinned, ncells"
                " FROM snapshots WHERE id=?",
                (sid,),
            ).fetchone()
            return self._info(row)

        return await self._run(write)

    @staticmethod
    def _known_cells(c: sqlite3.Connection, room_id: str, hashes: list[str]) -> dict[str, int]:
        return {
            h: i
            for i, h in c.execute(
                "SELECT id, hash FROM cells WHERE room_id=? AND hash IN (SELECT value FROM json_each(?))",
                (room_id, json.dumps(hashes)),
            )
        }

    def _missing_cells(
        self, c: sqlite3.Connection, room_id: str, cells: list[tuple[str, bytes]]
    ) -> list[tuple[str, bytes]]:
        """(hash, compressed body) of the cells not stored for the room yet, each once."""
        wanted = dict(cells)
        known = self._known_cells(c, room_id, list(wanted))
        return [(h, pack(data)) for h, data in wanted.items() if h not in known]

    def _store_cells(
        self, c: sqlite3.Connection, room_id: str, cells: list[tuple[str, bytes]]
    ) -> tuple[list[int], int]:
        """The room-local numbers of the cells, storing the new ones; and the bytes added."""
        known = self._known_cells(c, room_id, [h for h, _ in cells])
        added = 0
        for h, data in cells:
            if h not in known:
                body = pack(data)
                cur = c.execute("INSERT INTO cells (room_id, hash, body) VALUES (?,?,?)", (room_id, h, body))
                known[h] = int(cur.lastrowid or 0)
                added += len(body)
        return [known[h] for h, _ in cells], added

    def _room_bytes(self, c: sqlite3.Connection, room_id: str) -> int:
        cells = c.execute("SELECT COALESCE(SUM(LENGTH(body)),0) FROM cells WHERE room_id=?", (room_id,))
        manifests = c.execute(
            "SELECT COALESCE(SUM(LENGTH(manifest)),0) FROM snapshots WHERE room_id=?", (room_id,)
        )
        return int(cells.fetchone()[0]) + int(manifests.fetchone()[0])

    def _make_room(self, c: sqlite3.Connection, room_id: str, now: float, needed: int) -> None:
        """Drop the oldest unpinned snapshots until the new one fits the room's bound."""
        bound = self.limits.max_room_bytes
        if self._room_bytes(c, room_id) + needed <= bound:
            return
        self._thin(c, room_id, now)
        while self._room_bytes(c, room_id) + needed > bound:
            row = c.execute(
                "SELECT id FROM snapshots WHERE room_id=? AND pinned=0 ORDER BY t, id LIMIT 1", (room_id,)
            ).fetchone()
            if row is None:
                raise HistoryFull(
                    f"this room's history is full ({bound} bytes, HistoryRecorder.max_room_bytes)"
                    " and holds only checkpoints; delete the room's history or raise the bound",
                    code="history_full",
                )
            c.execute("DELETE FROM snapshots WHERE id=?", (row[0],))
            self._collect_cells(c, room_id)

    def _thin(self, c: sqlite3.Connection, room_id: str, now: float) -> None:
        oldest = c.execute(
            "SELECT MIN(t) FROM snapshots WHERE room_id=? AND pinned=0", (room_id,)
        ).fetchone()[0]
        if oldest is None or now - oldest < self.limits.keep_all_s:
            return  # everything unpinned is young enough to keep: nothing to read
        rows = c.execute(
            "SELECT id, room_id, t, kind, label, authors, size, stored, capped, executions, pinned, ncells FROM snapshots WHERE room_id=?",
            (room_id,),
        ).fetchall()
        drop = to_thin([self._info(r) for r in rows], now, self.limits.keep_all_s, self.limits.tiers)
        if drop:
            c.executemany("DELETE FROM snapshots WHERE id=?", [(i,) for i in drop])
            self._collect_cells(c, room_id)

    @staticmethod
    def _collect_cells(c: sqlite3.Connection, room_id: str) -> None:
        referenced: set[int] = set()
        for (manifest,) in c.execute("SELECT manifest FROM snapshots WHERE room_id=?", (room_id,)):
            referenced.update(json.loads(unpack(manifest))["cells"])
        stored = [i for (i,) in c.execute("SELECT id FROM cells WHERE room_id=?", (room_id,))]
        c.executemany("DELETE FROM cells WHERE id=?", [(i,) for i in stored if i not in referenced])

    async def list_snapshots(self, room_id: str) -> list[SnapshotInfo]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT id, room_id, t, kind, label, authors, size, stored, capped, executions, pinned, ncells FROM snapshots WHERE room_id=? ORDER BY t, id",
                (room_id,),
            ).fetchall()
        )
        return [self._info(r) for r in rows]

    async def get_snapshot(self, room_id: str, sid: int) -> tuple[SnapshotInfo, dict[str, Any]] | None:
        def read(c: sqlite3.Connection) -> tuple[SnapshotInfo, dict[str, Any]] | None:
            row = c.execute(
                "SELECT id, room_id, t, kind, label, authors, size, stored, capped, executions, pinned, ncells, manifest FROM snapshots WHERE room_id=? AND id=?",
                (room_id, sid),
            ).fetchone()
            if row is None:
                return None
            manifest = json.loads(unpack(row[-1]))
            numbers = manifest.pop("cells")
            bodies = {
                i: json.loads(unpack(b))
                for i, b in c.execute(
                    "SELECT id, body FROM cells WHERE room_id=? AND id IN (SELECT value FROM json_each(?))",
                    (room_id, json.dumps(numbers)),
                )
            }
            # A cell repeated in a notebook is stored once; each place gets its own copy.
            cells = [copy.deepcopy(bodies[i]) for i in numbers]
            return self._info(row[:-1]), {**manifest, "cells": cells}

        return await self._run(read)

    async def latest_snapshot(self, room_id: str, before: float | None = None) -> SnapshotInfo | None:
        def read(c: sqlite3.Connection) -> Any:
            if before is None:
                return c.execute(
                    "SELECT id, room_id, t, kind, label, authors, size, stored, capped, executions, pinned, ncells FROM snapshots WHERE room_id=? ORDER BY t DESC, id DESC LIMIT 1",
                    (room_id,),
                ).fetchone()
            return c.execute(
                "SELECT id, room_id, t, kind, label, authors, size, stored, capped, executions, pinned, ncells FROM snapshots WHERE room_id=? AND t<=? ORDER BY t DESC, id DESC"
                " LIMIT 1",
                (room_id, before),
            ).fetchone()

        row = await self._run(read)
        return self._info(row) if row else None

    async def room_bytes(self, room_id: str) -> dict[str, int]:
        def read(c: sqlite3.Connection) -> dict[str, int]:
            frames = c.execute(
                "SELECT COALESCE(SUM(LENGTH(data)),0) FROM frames WHERE room_id=?", (room_id,)
            ).fetchone()[0]
            executions = c.execute(
                "SELECT COALESCE(SUM(LENGTH(outputs)+LENGTH(code)),0) FROM executions WHERE room_id=?",
                (room_id,),
            ).fetchone()[0]
            events = c.execute(
                "SELECT COALESCE(SUM(LENGTH(payload)),0) FROM events WHERE room_id=?", (room_id,)
            ).fetchone()[0]
            return {
                "snapshots": self._room_bytes(c, room_id),
                "frames": int(frames),
                "executions": int(executions),
                "events": int(events),
            }

        return await self._run(read)

    # ---- replay frames ----
    async def add_frame(
        self, room_id: str, t: float, kind: str, update: bytes, authors: Iterable[str] = ()
    ) -> bool:
        """Append a frame; False (nothing stored) once the room's frames reach max_replay_bytes."""
        return (await self.add_frames([(room_id, t, kind, update, authors)]))[0]

    async def add_frames(self, frames: list[tuple[str, float, str, bytes, Iterable[str]]]) -> list[bool]:
        """Several rooms' frames (room, t, kind, update, authors) in one transaction: one tick's worth."""
        rows = []
        for room_id, t, kind, update, authors in frames:
            packed = pack(update)
            use_packed = len(packed) < len(update) * 0.9
            rows.append(
                (
                    room_id,
                    t,
                    kind,
                    json.dumps(sorted(set(authors))),
                    int(use_packed),
                    packed if use_packed else update,
                )
            )

        def write(c: sqlite3.Connection) -> list[bool]:
            return [self._insert_frame(c, *row) for row in rows]

        return await self._run(write)

    def _insert_frame(
        self, c: sqlite3.Connection, room_id: str, t: float, kind: str, authors: str, packed: int, data: bytes
    ) -> bool:
        used = self._frame_bytes.get(room_id)
        if used is None:
            used = int(
                c.execute(
                    "SELECT COALESCE(SUM(LENGTH(data)),0) FROM frames WHERE room_id=?", (room_id,)
                ).fetchone()[0]
            )
        if used + len(data) > self.limits.max_replay_bytes:
            self._frame_bytes[room_id] = used
            return False
        c.execute(
            "INSERT INTO frames (room_id, t, kind, authors, packed, data) VALUES (?,?,?,?,?,?)",
            (room_id, t, kind, authors, packed, data),
        )
        # Counted once from the table, then kept up to date here (this thread writes them all).
        self._frame_bytes[room_id] = used + len(data)
        return True

    async def list_frames(self, room_id: str, until: float | None = None) -> list[Frame]:
        def read(c: sqlite3.Connection) -> list[Any]:
            if until is None:
                return c.execute(
                    "SELECT seq, t, kind, authors, packed, data FROM frames WHERE room_id=? ORDER BY seq",
                    (room_id,),
                ).fetchall()
            return c.execute(
                "SELECT seq, t, kind, authors, packed, data FROM frames WHERE room_id=? AND t<=? ORDER BY seq",
                (room_id, until),
            ).fetchall()

        return [
            Frame(r[0], r[1], r[2], tuple(json.loads(r[3])), unpack(r[5]) if r[4] else bytes(r[5]))
            for r in await self._run(read)
        ]

    # ---- executions ----
    async def put_execution(self, e: Execution) -> None:
        outputs = pack(canonical(list(e.outputs)))
        row = (
            e.room_id,
            e.msg_id,
            e.kernel_id,
            e.participant_id,
            e.code,
            e.cell_id,
            e.status,
            e.started_at,
            e.ended_at,
            e.execution_count,
            outputs,
            int(e.truncated),
            e.reason,
        )
        await self._run(
            lambda c: c.execute(
                "INSERT INTO executions (room_id, msg_id, kernel_id, participant_id, code, cell_id, status,"
                " started_at, ended_at, execution_count, outputs, truncated, reason) VALUES"
                " (?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(room_id, msg_id) DO UPDATE SET"
                " status=excluded.status, ended_at=excluded.ended_at,"
                " execution_count=excluded.execution_count, outputs=excluded.outputs,"
                " truncated=excluded.truncated, reason=excluded.reason",
                row,
            )
        )

    async def set_verdict(self, room_id: str, msg_id: str, verdict: str) -> None:
        await self._run(
            lambda c: c.execute(
                "UPDATE executions SET verdict=? WHERE room_id=? AND msg_id=?", (verdict, room_id, msg_id)
            )
        )

    async def list_executions(self, room_id: str) -> list[ExecutionRecord]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT room_id, kernel_id, msg_id, participant_id, code, cell_id, status, started_at,"
                " ended_at, execution_count, outputs, truncated, reason, verdict FROM executions"
                " WHERE room_id=? ORDER BY started_at",
                (room_id,),
            ).fetchall()
        )
        return [
            ExecutionRecord(
                Execution(
                    room_id=r[0],
                    kernel_id=r[1],
                    msg_id=r[2],
                    participant_id=r[3],
                    code=r[4],
                    cell_id=r[5],
                    status=r[6],
                    started_at=r[7],
                    ended_at=r[8],
                    execution_count=r[9],
                    outputs=tuple(json.loads(unpack(r[10]))),
                    truncated=bool(r[11]),
                    reason=r[12],
                ),
                r[13],
            )
            for r in rows
        ]

    # ---- room events ----
    async def add_event(
        self, room_id: str, t: float, etype: str, actor: str | None, payload: dict[str, Any]
    ) -> None:
        data = json.dumps(payload)
        await self._run(
            lambda c: c.execute(
                "INSERT INTO events (room_id, t, type, actor, payload) VALUES (?,?,?,?,?)",
                (room_id, t, etype, actor, data),
            )
        )

    async def add_events(self, events: list[tuple[str, float, str, str | None, dict[str, Any]]]) -> None:
        """(room, t, type, actor, payload) of several events, in one transaction."""
        rows = [
            (room_id, t, etype, actor, json.dumps(payload)) for room_id, t, etype, actor, payload in events
        ]
        await self._run(
            lambda c: c.executemany(
                "INSERT INTO events (room_id, t, type, actor, payload) VALUES (?,?,?,?,?)", rows
            )
        )

    async def last_event(self, room_id: str, etype: str, actor: str | None = None) -> RoomEvent | None:
        def read(c: sqlite3.Connection) -> Any:
            if actor is None:
                return c.execute(
                    "SELECT t, type, actor, payload FROM events WHERE room_id=? AND type=?"
                    " ORDER BY seq DESC LIMIT 1",
                    (room_id, etype),
                ).fetchone()
            return c.execute(
                "SELECT t, type, actor, payload FROM events WHERE room_id=? AND type=? AND actor=?"
                " ORDER BY seq DESC LIMIT 1",
                (room_id, etype, actor),
            ).fetchone()

        row = await self._run(read)
        return RoomEvent(row[0], row[1], row[2], json.loads(row[3])) if row else None

    async def list_events(self, room_id: str) -> list[RoomEvent]:
        rows = await self._run(
            lambda c: c.execute(
                "SELECT t, type, actor, payload FROM events WHERE room_id=? ORDER BY t, seq", (room_id,)
            ).fetchall()
        )
        return [RoomEvent(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    # ---- rooms ----
    async def delete_room(self, room_id: str) -> None:
        def delete(c: sqlite3.Connection) -> None:
            c.execute("DELETE FROM snapshots WHERE room_id=?", (room_id,))
            c.execute("DELETE FROM cells WHERE room_id=?", (room_id,))
            c.execute("DELETE FROM frames WHERE room_id=?", (room_id,))
            self._frame_bytes.pop(room_id, None)
            c.execute("DELETE FROM executions WHERE room_id=?", (room_id,))
            c.execute("DELETE FROM events WHERE room_id=?", (room_id,))

        await self._run(delete)


# ---------------------------------------------------------------- nbdime: a cell-by-cell summary


def diff_summary(a: dict[str, Any], b: dict[str, Any], diff: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """nbdime's notebook diff as one entry per cell: added, removed, modified (which keys) or unchanged."""
    cells_diff: list[dict[str, Any]] = next((d["diff"] for d in diff if d.get("key") == "cells"), [])
    a_cells, b_cells = a.get("cells", []), b.get("cells", [])
    removed: set[int] = set()
    added: dict[int, list[dict[str, Any]]] = {}
    patched: dict[int, list[str]] = {}
    for op in cells_diff:
        key = int(op["key"])
        if op["op"] == "removerange":
            removed.update(range(key, key + int(op["length"])))
        elif op["op"] == "addrange":
            added.setdefault(key, []).extend(op["valuelist"])
        elif op["op"] == "patch":
            patched[key] = sorted(str(d["key"]) for d in op["diff"])
    summary: list[dict[str, Any]] = []
    j = 0  # index in b

    def add_before(i: int) -> None:
        nonlocal j
        for cell in added.get(i, []):
            summary.append(_entry("added", None, j, cell))
            j += 1

    for i, cell in enumerate(a_cells):
        add_before(i)
        if i in removed:
            summary.append(_entry("removed", i, None, cell))
            continue
        status = "modified" if i in patched else "unchanged"
        entry = _entry(status, i, j, b_cells[j] if j < len(b_cells) else cell)
        if i in patched:
            entry["changed"] = patched[i]
        summary.append(entry)
        j += 1
    add_before(len(a_cells))
    return summary


def _entry(status: str, a_index: int | None, b_index: int | None, cell: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": status,
        "a_index": a_index,
        "b_index": b_index,
        "cell_id": cell.get("id"),
        "cell_type": cell.get("cell_type"),
    }
