/**
 * Version history and session replay for interviewers: a typed client of the history routes
 * (docs/api.md, openapi.json `Snapshot*`, `Replay*`), the History view's model (snapshots,
 * checkpoint, view, diff, restore and undo), and the replay: the notebook rebuilt at any moment
 * from the shared document's own Yjs updates, the room's events at that moment, and a playback clock.
 */

import { ISignal, Signal } from '@lumino/signaling';
import * as Y from 'yjs';

import { requestAPI } from '../handler';
import { Cancel, Scheduler, realScheduler } from '../signaling/runtime';

// ---------------------------------------------------------------- the notebook (nbformat 4)

/** One nbformat output; the fields read depend on `output_type`. */
export interface IOutput {
  output_type: string;
  name?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
  ename?: string;
  evalue?: string;
  traceback?: string[];
  execution_count?: number | null;
  [key: string]: unknown;
}

export interface ICell {
  id?: string;
  cell_type: string;
  source: string | string[];
  outputs?: IOutput[];
  execution_count?: number | null;
  metadata?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface INotebook {
  cells: ICell[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

// ---------------------------------------------------------------- the routes' bodies

/** openapi.json `SnapshotAuthor`. */
export interface ISnapshotAuthor {
  id: string;
  name: string | null;
  role: string | null;
}

export type SnapshotKind = 'auto' | 'execution' | 'checkpoint' | 'restore';

/** openapi.json `Snapshot`. */
export interface ISnapshot {
  id: string;
  t: number;
  kind: SnapshotKind;
  label: string | null;
  authors: ISnapshotAuthor[];
  size: number;
  stored: number;
  capped: boolean;
  executions: string[];
  pinned: boolean;
  cells: number;
}

/** openapi.json `SnapshotList`. */
export interface ISnapshotList {
  snapshots: ISnapshot[];
  bytes: Record<string, number>;
  max_room_bytes: number;
}

/** openapi.json `SnapshotDetail`. */
export interface ISnapshotDetail {
  snapshot: ISnapshot;
  notebook: INotebook;
}

/** openapi.json `CellChange`: one cell of the server's cell-by-cell summary. */
export interface ICellChange {
  status: 'added' | 'removed' | 'modified' | 'unchanged';
  a_index: number | null;
  b_index: number | null;
  cell_id: string | null;
  cell_type: string | null;
  changed?: string[];
}

/** One nbdime diff entry (nbdime's JSON diff format). */
export interface IDiffEntry {
  op: 'add' | 'remove' | 'replace' | 'patch' | 'addrange' | 'removerange';
  key: string | number;
  value?: unknown;
  valuelist?: unknown[] | string;
  length?: number;
  diff?: IDiffEntry[];
}

/** openapi.json `SnapshotDiff`: `a` is the snapshot, `b` another snapshot or `{id: "current"}`. */
export interface ISnapshotDiff {
  a: ISnapshot;
  b: { id: string; t: number } & Partial<ISnapshot>;
  diff: IDiffEntry[];
  cells: ICellChange[];
}

/** openapi.json `RestoreResult`. */
export interface IRestoreResult {
  restored: ISnapshot;
  before: ISnapshot | null;
  undo: string;
}

/** openapi.json `UndoResult`. */
export interface IUndoResult {
  undone: string;
  before: string;
}

/** openapi.json `ReplayFrame`. */
export interface IReplayFrame {
  seq: number;
  t: number;
  kind: 'base' | 'update';
  authors: string[];
  /** A Yjs update (v1), base64. */
  update: string;
}

/** An execution as the server recorded it from the kernel (docs/collaboration.md, Replay). */
export interface IExecutionEvent {
  t: number;
  type: 'execution';
  msg_id: string;
  participant_id: string | null;
  code: string;
  cell_id: string | null;
  status: string;
  started_at: number;
  ended_at: number | null;
  execution_count: number | null;
  outputs: IOutput[];
  truncated: boolean;
  reason: string | null;
  /** Whether the document's outputs of the cell were the kernel's: null until compared. */
  document_outputs: 'same' | 'differ' | 'missing' | null;
}

export interface IChatEvent {
  t: number;
  type: 'chat';
  id?: string;
  from: string;
  name: string;
  text: string;
}

/** Any other timeline event: `timer`, `interview-state`, `joined`, `left`, `snapshot`, ... */
export interface IOtherEvent {
  t: number;
  type: string;
  actor?: string | null;
  [key: string]: unknown;
}

export type ReplayEvent = IExecutionEvent | IChatEvent | IOtherEvent;

export interface IReplayParticipant {
  id: string;
  name: string;
  role: string;
}

/** openapi.json `Replay`. */
export interface IReplay {
  room_id: string;
  notebook_path: string;
  state: string;
  created_at?: number;
  started_at?: number | null;
  ended_at?: number | null;
  start: number;
  end: number;
  participants: IReplayParticipant[];
  frame_interval_s: number;
  replay_truncated: boolean;
  frames: IReplayFrame[];
  events: ReplayEvent[];
}

/** openapi.json `ReplayAt`. */
export interface IReplayAt {
  t: number;
  source: 'frames' | 'snapshot' | null;
  frame_t: number | null;
  notebook: INotebook | null;
}

// ---------------------------------------------------------------- the client

/** The history routes; tests give a fake. */
export interface IHistoryAPI {
  listSnapshots(roomId: string): Promise<ISnapshotList>;
  checkpoint(roomId: string, label: string): Promise<ISnapshot>;
  getSnapshot(roomId: string, sid: string): Promise<ISnapshotDetail>;
  /** `against`: `current` (the live notebook) or another snapshot's id. */
  diff(roomId: string, sid: string, against: string): Promise<ISnapshotDiff>;
  restore(roomId: string, sid: string): Promise<IRestoreResult>;
  undoRestore(roomId: string): Promise<IUndoResult>;
  replay(roomId: string, since?: number): Promise<IReplay>;
  notebookAt(roomId: string, t: number): Promise<IReplayAt>;
}

function path(roomId: string, ...rest: string[]): string {
  return ['rooms', roomId, ...rest].map(encodeURIComponent).join('/');
}

export const historyAPI: IHistoryAPI = {
  listSnapshots: roomId =>
    requestAPI<ISnapshotList>(path(roomId, 'snapshots'), { cache: 'no-store' }),
  checkpoint: (roomId, label) =>
    requestAPI<ISnapshot>(path(roomId, 'snapshots'), {
      method: 'POST',
      body: JSON.stringify({ label })
    }),
  getSnapshot: (roomId, sid) => requestAPI<ISnapshotDetail>(path(roomId, 'snapshots', sid)),
  diff: (roomId, sid, against) =>
    requestAPI<ISnapshotDiff>(
      `${path(roomId, 'snapshots', sid, 'diff')}?against=${encodeURIComponent(against)}`,
      { cache: 'no-store' }
    ),
  restore: (roomId, sid) =>
    requestAPI<IRestoreResult>(path(roomId, 'snapshots', sid, 'restore'), { method: 'POST' }),
  undoRestore: roomId =>
    requestAPI<IUndoResult>(path(roomId, 'snapshots', 'undo'), { method: 'POST' }),
  replay: (roomId, since) =>
    requestAPI<IReplay>(
      since === undefined ? path(roomId, 'replay') : `${path(roomId, 'replay')}?since=${since}`,
      { cache: 'no-store' }
    ),
  notebookAt: (roomId, t) =>
    requestAPI<IReplayAt>(`${path(roomId, 'replay')}?at=${t}`, { cache: 'no-store' })
};

function message(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

// ---------------------------------------------------------------- the History view's model

export type HistoryMode = 'view' | 'diff';

/** The restore that the Undo affordance reverts. */
export interface ILastRestore {
  sid: string;
  /** The snapshot the server took just before it (restoring it is the fallback to undo). */
  before: string | null;
}

export interface IHistoryModelOptions {
  api: IHistoryAPI;
  roomId: string;
}

/**
 * Snapshots of one room and what the History view shows of them. Every call's answer is dropped
 * if a newer call of the same kind was made meanwhile (a quick click through the list).
 */
export class HistoryModel {
  constructor(options: IHistoryModelOptions) {
    this._api = options.api;
    this.roomId = options.roomId;
  }

  readonly roomId: string;

  get snapshots(): ReadonlyArray<ISnapshot> {
    return this._snapshots;
  }

  /** What the room's history holds, bytes by part (snapshots, frames, executions, events). */
  get usage(): Readonly<Record<string, number>> {
    return this._usage;
  }

  get maxRoomBytes(): number {
    return this._maxRoomBytes;
  }

  get loading(): boolean {
    return this._loading;
  }

  /** The last failure, for the status line. */
  get error(): string | null {
    return this._error;
  }

  /** The last success worth telling (checkpoint taken, restored, undone). */
  get notice(): string | null {
    return this._notice;
  }

  /** The action under way (`checkpoint`, `restore`, `undo`), to disable its button. */
  get busy(): string | null {
    return this._busy;
  }

  get selected(): string | null {
    return this._selected;
  }

  get mode(): HistoryMode {
    return this._mode;
  }

  /** The selected snapshot with its notebook, once loaded. */
  get detail(): ISnapshotDetail | null {
    return this._detail;
  }

  /** What the diff compares the selected snapshot with: `current` or a snapshot id. */
  get against(): string {
    return this._against;
  }

  get diff(): ISnapshotDiff | null {
    return this._diff;
  }

  get lastRestore(): ILastRestore | null {
    return this._lastRestore;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  async refresh(): Promise<void> {
    const n = ++this._listCalls;
    this._loading = true;
    this._changed.emit();
    try {
      const list = await this._api.listSnapshots(this.roomId);
      if (n !== this._listCalls) {
        return;
      }
      this._snapshots = list.snapshots;
      this._usage = list.bytes;
      this._maxRoomBytes = list.max_room_bytes;
      this._error = null;
    } catch (reason) {
      if (n === this._listCalls) {
        this._error = message(reason);
      }
    } finally {
      if (n === this._listCalls) {
        this._loading = false;
        this._changed.emit();
      }
    }
  }

  /** Show one snapshot (read-only, or its diff when the diff is the current mode). */
  async select(sid: string): Promise<void> {
    this._selected = sid;
    this._detail = null;
    this._diff = null;
    if (this._against === sid) {
      this._against = 'current';
    }
    this._changed.emit();
    await Promise.all([this._loadDetail(), this._mode === 'diff' ? this._loadDiff() : null]);
  }

  async setMode(mode: HistoryMode): Promise<void> {
    if (mode === this._mode) {
      return;
    }
    this._mode = mode;
    this._changed.emit();
    if (mode === 'diff' && this._selected !== null && this._diff === null) {
      await this._loadDiff();
    }
  }

  async setAgainst(against: string): Promise<void> {
    this._against = against;
    this._diff = null;
    this._changed.emit();
    if (this._selected !== null && this._mode === 'diff') {
      await this._loadDiff();
    }
  }

  /** An on-demand snapshot with a label; the list shows it first. */
  async checkpoint(label: string): Promise<ISnapshot | null> {
    const trimmed = label.trim();
    return this._act('checkpoint', async () => {
      const snapshot = await this._api.checkpoint(this.roomId, trimmed === '' ? 'checkpoint' : trimmed);
      this._snapshots = [snapshot, ...this._snapshots.filter(s => s.id !== snapshot.id)];
      this._notice = `checkpoint:${snapshot.id}`;
      return snapshot;
    });
  }

  /** Put a snapshot back into the live notebook, for everyone, undoably. */
  async restore(sid: string): Promise<IRestoreResult | null> {
    return this._act('restore', async () => {
      const result = await this._api.restore(this.roomId, sid);
      this._lastRestore = { sid, before: result.before?.id ?? null };
      this._notice = `restored:${sid}`;
      return result;
    });
  }

  /** Revert the last restore (what anyone typed since stays). */
  async undoRestore(): Promise<IUndoResult | null> {
    return this._act('undo', async () => {
      try {
        const result = await this._api.undoRestore(this.roomId);
        this._notice = `undone:${result.undone}`;
        return result;
      } finally {
        // Undone, or no longer undoable in place (the error says which snapshot to restore).
        this._lastRestore = null;
      }
    });
  }

  /** Forget the notice and the error (the user dismissed them). */
  dismiss(): void {
    this._notice = null;
    this._error = null;
    this._changed.emit();
  }

  private async _act<T>(name: string, work: () => Promise<T>): Promise<T | null> {
    if (this._busy !== null) {
      return null;
    }
    this._busy = name;
    this._notice = null;
    this._error = null;
    this._changed.emit();
    let result: T | null = null;
    let failed: string | null = null;
    try {
      result = await work();
    } catch (reason) {
      failed = message(reason);
    } finally {
      this._busy = null;
    }
    // What the action changed: new snapshots, and the diff against the live notebook.
    await this.refresh();
    if (result !== null && this._mode === 'diff' && this._selected !== null) {
      await this._loadDiff();
    }
    if (failed !== null) {
      this._error = failed;
      this._changed.emit();
    }
    return result;
  }

  private async _loadDetail(): Promise<void> {
    const sid = this._selected;
    if (sid === null) {
      return;
    }
    const n = ++this._detailCalls;
    try {
      const detail = await this._api.getSnapshot(this.roomId, sid);
      if (n === this._detailCalls) {
        this._detail = detail;
      }
    } catch (reason) {
      if (n === this._detailCalls) {
        this._error = message(reason);
      }
    }
    if (n === this._detailCalls) {
      this._changed.emit();
    }
  }

  private async _loadDiff(): Promise<void> {
    const sid = this._selected;
    if (sid === null) {
      return;
    }
    const n = ++this._diffCalls;
    try {
      const diff = await this._api.diff(this.roomId, sid, this._against);
      if (n === this._diffCalls) {
        this._diff = diff;
      }
    } catch (reason) {
      if (n === this._diffCalls) {
        this._error = message(reason);
      }
    }
    if (n === this._diffCalls) {
      this._changed.emit();
    }
  }

  private readonly _api: IHistoryAPI;
  private _snapshots: ISnapshot[] = [];
  private _usage: Record<string, number> = {};
  private _maxRoomBytes = 0;
  private _loading = false;
  private _error: string | null = null;
  private _notice: string | null = null;
  private _busy: string | null = null;
  private _selected: string | null = null;
  private _mode: HistoryMode = 'view';
  private _detail: ISnapshotDetail | null = null;
  private _against = 'current';
  private _diff: ISnapshotDiff | null = null;
  private _lastRestore: ILastRestore | null = null;
  private _listCalls = 0;
  private _detailCalls = 0;
  private _diffCalls = 0;
  private readonly _changed = new Signal<this, void>(this);
}

// ---------------------------------------------------------------- reading the shared document

function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) {
    bytes[i] = binary.charCodeAt(i);
  }
  return bytes;
}

/**
 * The notebook a Yjs document holds, laid out as jupyter_ydoc's `YNotebook` writes it (`meta`
 * map: nbformat, nbformat_minor, metadata; `cells` array of maps with `source` text, `outputs`,
 * `metadata`, ...), read the way the server reads it (`YNotebook.get(deduplicate=False)`).
 */
export function readNotebook(doc: Y.Doc): INotebook {
  const meta = doc.getMap('meta').toJSON() as Record<string, unknown>;
  const nbformat = Number(meta.nbformat ?? 0);
  const minor = Number(meta.nbformat_minor ?? 0);
  const cells: ICell[] = [];
  for (const item of doc.getArray<unknown>('cells').toArray()) {
    const cell = (item instanceof Y.AbstractType ? item.toJSON() : item) as ICell;
    if (typeof cell !== 'object' || cell === null) {
      continue;
    }
    delete cell.execution_state;
    // As the server does: ids exist from nbformat 4.5 on.
    if (nbformat === 4 && minor <= 4) {
      delete cell.id;
    }
    if (
      (cell.cell_type === 'raw' || cell.cell_type === 'markdown') &&
      'attachments' in cell &&
      (cell.attachments === null ||
        (typeof cell.attachments === 'object' && Object.keys(cell.attachments).length === 0))
    ) {
      delete cell.attachments;
    }
    cells.push(cell);
  }
  return {
    cells,
    metadata: (meta.metadata as Record<string, unknown> | undefined) ?? {},
    nbformat,
    nbformat_minor: minor
  };
}

// ---------------------------------------------------------------- the notebook at any moment

export interface IReplayTimelineOptions {
  /**
   * Keep the document's whole state (a keyframe) once the frames applied since the last one hold
   * this many times its size in bytes: from there on, starting at the keyframe is cheaper than
   * applying the frames (a whole state applies about twice as fast per byte as small updates, and
   * encoding one costs about as much as applying it).
   */
  keyframeFactor?: number;
  /** Notebooks kept ready, by frame. */
  cacheSize?: number;
}

/** The notebook at a moment and the frame that made it so. */
export interface INotebookAt {
  notebook: INotebook | null;
  /** Index of the last frame applied, -1 before the first base frame. */
  frame: number;
  /** When that frame was recorded, ms since the epoch (null before the first). */
  frameMs: number | null;
}

/** What rebuilding has cost so far (to see the cache and keyframes work). */
export interface ITimelineStats {
  /** Frames and keyframes applied. */
  applied: number;
  /** Bytes of the updates applied. */
  appliedBytes: number;
  keyframes: number;
}

/**
 * The replay's frames as a notebook at any time. Frames are applied in order to one Y.Doc kept at
 * the last moment asked for, so playing forward applies only the new frames. Going back starts a
 * new document from the nearest keyframe before the moment (its base frame, or a whole state kept
 * on the way where the frames since the last keyframe outweigh it) and applies forward from there;
 * so does going far forward when that is cheaper. Notebooks read are cached by frame.
 */
export class ReplayTimeline {
  constructor(frames: ReadonlyArray<IReplayFrame>, options: IReplayTimelineOptions = {}) {
    this._frames = [...frames].sort((a, b) => a.t - b.t || a.seq - b.seq);
    this._factor = Math.max(0, options.keyframeFactor ?? 1);
    this._cacheSize = Math.max(1, options.cacheSize ?? 24);
    this._times = this._frames.map(f => f.t * 1000);
    let base = -1;
    let total = 0;
    this._baseOf = [];
    this._bytesTo = [];
    for (const [i, f] of this._frames.entries()) {
      if (f.kind === 'base') {
        base = i;
        this._keys.set(i, Math.floor((f.update.length * 3) / 4));
      }
      total += Math.floor((f.update.length * 3) / 4);
      this._baseOf.push(base);
      this._bytesTo.push(total);
    }
  }

  get frames(): ReadonlyArray<IReplayFrame> {
    return this._frames;
  }

  get stats(): ITimelineStats {
    return { applied: this._applied, appliedBytes: this._appliedBytes, keyframes: this._keyframes.size };
  }

  /** Index of the last frame at or before `ms` (epoch ms), -1 if none. */
  frameIndexAt(ms: number): number {
    let lo = 0;
    let hi = this._times.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this._times[mid] <= ms) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  notebookAt(ms: number): INotebookAt {
    const index = this.frameIndexAt(ms);
    if (index < 0 || this._baseOf[index] < 0) {
      return { notebook: null, frame: -1, frameMs: null };
    }
    const cached = this._cache.get(index);
    if (cached !== undefined) {
      // Most recently used last.
      this._cache.delete(index);
      this._cache.set(index, cached);
      return { notebook: cached, frame: index, frameMs: this._times[index] };
    }
    const notebook = readNotebook(this._docAt(index));
    this._cache.set(index, notebook);
    if (this._cache.size > this._cacheSize) {
      const oldest = this._cache.keys().next().value;
      if (oldest !== undefined) {
        this._cache.delete(oldest);
      }
    }
    return { notebook, frame: index, frameMs: this._times[index] };
  }

  dispose(): void {
    this._doc?.destroy();
    this._doc = null;
    this._cache.clear();
    this._keyframes.clear();
  }

  /** The keyframe (or base frame) nearest before `index` in its segment. */
  private _keyBefore(index: number): number {
    const base = this._baseOf[index];
    let best = base;
    for (const k of this._keys.keys()) {
      if (k > best && k <= index && this._baseOf[k] === base) {
        best = k;
      }
    }
    return best;
  }

  /** Bytes of the frames after `from` up to `index`. */
  private _between(from: number, index: number): number {
    return this._bytesTo[index] - this._bytesTo[from];
  }

  private _docAt(index: number): Y.Doc {
    const base = this._baseOf[index];
    const key = this._keyBefore(index);
    const keyCost = (this._keys.get(key) ?? 0) + this._between(key, index);
    let doc = this._doc;
    const usable = doc !== null && this._docIndex <= index && this._baseOf[this._docIndex] === base;
    if (doc === null || !usable || this._between(this._docIndex, index) > keyCost) {
      doc?.destroy();
      doc = new Y.Doc();
      const start = key === base ? decodeBase64(this._frames[base].update) : this._keyframes.get(key);
      if (start !== undefined) {
        Y.applyUpdate(doc, start);
        this._appliedBytes += start.length;
      }
      this._applied++;
      this._doc = doc;
      this._docIndex = key;
    }
    let lastKey = this._keyBefore(this._docIndex);
    for (let i = this._docIndex + 1; i <= index; i++) {
      const update = decodeBase64(this._frames[i].update);
      Y.applyUpdate(doc, update);
      this._applied++;
      this._appliedBytes += update.length;
      if (
        !this._keys.has(i) &&
        this._between(lastKey, i) > this._factor * (this._keys.get(lastKey) ?? 0)
      ) {
        const state = Y.encodeStateAsUpdate(doc);
        this._keyframes.set(i, state);
        this._keys.set(i, state.length);
        lastKey = i;
      } else if (this._keys.has(i)) {
        lastKey = i;
      }
    }
    this._docIndex = index;
    return doc;
  }

  private readonly _frames: IReplayFrame[];
  private readonly _times: number[];
  private readonly _baseOf: number[];
  /** Bytes of all frames up to and including each index. */
  private readonly _bytesTo: number[];
  private readonly _factor: number;
  private readonly _cacheSize: number;
  /** Keyframes' whole states, by frame index (base frames are read from the frames). */
  private readonly _keyframes = new Map<number, Uint8Array>();
  /** Size in bytes of every keyframe and base frame, by frame index. */
  private readonly _keys = new Map<number, number>();
  private readonly _cache = new Map<number, INotebook>();
  private _doc: Y.Doc | null = null;
  private _docIndex = -1;
  private _applied = 0;
  private _appliedBytes = 0;
}

// ---------------------------------------------------------------- the room at any moment

export interface IExecutionAt {
  event: IExecutionEvent;
  /** Started and not finished at that moment. */
  running: boolean;
}

export interface IPresenceAt {
  id: string;
  name: string;
  role: string;
  /** `online`, `away`, `reconnecting`, `offline`, or the participant's status (`waiting`, ...). */
  status: string;
}

export interface ITimerAt {
  status: string;
  /** Seconds left at that moment. */
  remainingS: number;
}

/** What the room looked like at one moment, besides the notebook. */
export interface IRoomAt {
  interviewState: string | null;
  timer: ITimerAt | null;
  chat: IChatEvent[];
  executions: IExecutionAt[];
  presence: IPresenceAt[];
  /** Who edited the notebook in the frames of the last few seconds. */
  editing: string[];
}

function num(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function str(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

export function isExecution(event: ReplayEvent): event is IExecutionEvent {
  return event.type === 'execution';
}

export function isChat(event: ReplayEvent): event is IChatEvent {
  return event.type === 'chat';
}

/** The whole interview: the notebook (frames) and the room (events) at any moment. */
export class Replay {
  constructor(readonly data: IReplay, options: IReplayTimelineOptions = {}) {
    this.timeline = new ReplayTimeline(data.frames, options);
    this.events = [...data.events].sort((a, b) => a.t - b.t);
    this._eventTimes = this.events.map(e => e.t * 1000);
    for (const p of data.participants) {
      this._names.set(p.id, p);
    }
    const firstFrame = this.timeline.frames[0]?.t;
    this.startMs = Math.min(data.start, firstFrame ?? data.start) * 1000;
    this.endMs = Math.max(
      data.end * 1000,
      this.startMs,
      (this.timeline.frames[this.timeline.frames.length - 1]?.t ?? 0) * 1000,
      this._eventTimes[this._eventTimes.length - 1] ?? 0
    );
  }

  readonly timeline: ReplayTimeline;
  readonly events: ReadonlyArray<ReplayEvent>;
  readonly startMs: number;
  readonly endMs: number;

  /** A participant's name (ids the replay does not know are shown as they are). */
  name(id: string | null | undefined): string {
    if (id === null || id === undefined) {
      return '';
    }
    return this._names.get(id)?.name ?? (id === 'owner' ? 'owner' : id);
  }

  /** Number of events at or before `ms`. */
  eventsUntil(ms: number): number {
    let lo = 0;
    let hi = this._eventTimes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this._eventTimes[mid] <= ms) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  roomAt(ms: number): IRoomAt {
    const past = this.events.slice(0, this.eventsUntil(ms));
    let interviewState: string | null = null;
    let timer: ITimerAt | null = null;
    const chat: IChatEvent[] = [];
    const executions: IExecutionAt[] = [];
    const presence = new Map<string, IPresenceAt>();
    const person = (id: string, fallback?: { name?: unknown; role?: unknown }): IPresenceAt => {
      const known = this._names.get(id);
      const entry = presence.get(id) ?? {
        id,
        name: known?.name ?? str(fallback?.name) ?? id,
        role: known?.role ?? str(fallback?.role) ?? '',
        status: 'offline'
      };
      presence.set(id, entry);
      return entry;
    };
    for (const event of past) {
      if (isExecution(event)) {
        const ended = event.ended_at !== null && event.ended_at * 1000 <= ms;
        executions.push({ event, running: !ended });
        continue;
      }
      if (isChat(event)) {
        chat.push(event);
        continue;
      }
      const e = event as IOtherEvent;
      switch (e.type) {
        case 'interview-state':
          interviewState = str(e.state) ?? interviewState;
          break;
        case 'timer': {
          const status = str(e.status) ?? 'idle';
          const duration = num(e.duration_s) ?? 0;
          const endsAt = num(e.ends_at);
          const elapsed = num(e.elapsed_s) ?? 0;
          const remaining =
            status === 'running' && endsAt !== null ? endsAt - ms / 1000 : duration - elapsed;
          timer = { status, remainingS: Math.max(0, remaining) };
          break;
        }
        case 'joined': {
          const p = (e.participant ?? {}) as { id?: unknown; name?: unknown; role?: unknown };
          const id = str(p.id) ?? str(e.actor);
          if (id !== null) {
            person(id, p).status = 'online';
          }
          break;
        }
        case 'left': {
          const id = str(e.participant_id) ?? str(e.actor);
          if (id !== null) {
            person(id).status = 'offline';
          }
          break;
        }
        case 'presence': {
          const id = str(e.participant_id) ?? str(e.actor);
          const status = str(e.status);
          if (id !== null && status !== null) {
            person(id).status = status;
          }
          break;
        }
        case 'participant': {
          const id = str(e.participant_id) ?? str(e.actor);
          const status = str(e.status);
          // Invited and admitted say nothing of presence (joins do); waiting, denied, left do.
          if (id !== null && status !== null && status !== 'invited' && status !== 'admitted') {
            person(id, { name: e.name, role: e.role }).status = status;
          }
          break;
        }
        default:
          break;
      }
    }
    const editing = new Set<string>();
    const frames = this.timeline.frames;
    for (let i = this.timeline.frameIndexAt(ms); i >= 0 && frames[i].t * 1000 > ms - 3000; i--) {
      for (const author of frames[i].authors) {
        editing.add(this.name(author));
      }
    }
    return {
      interviewState,
      timer,
      chat,
      executions,
      presence: [...presence.values()],
      editing: [...editing]
    };
  }

  dispose(): void {
    this.timeline.dispose();
  }

  private readonly _eventTimes: number[];
  private readonly _names = new Map<string, IReplayParticipant>();
}

// ---------------------------------------------------------------- the playback clock

export const SPEEDS = [1, 2, 4, 8, 16] as const;
export type Speed = (typeof SPEEDS)[number];

export function isSpeed(value: number): value is Speed {
  return (SPEEDS as ReadonlyArray<number>).includes(value);
}

export interface IPlaybackClockOptions {
  startMs: number;
  endMs: number;
  scheduler?: Scheduler;
  /** How often a playing clock tells its listeners, wall-clock ms. */
  tickMs?: number;
}

/**
 * Replay time (epoch ms) that moves at 1x to 16x the wall clock while playing. The position is
 * computed from the moment play (or the last seek or speed change) began, never summed from
 * ticks, so a late timer does not slow the replay down.
 */
export class PlaybackClock {
  constructor(options: IPlaybackClockOptions) {
    this._scheduler = options.scheduler ?? realScheduler;
    this._tickMs = options.tickMs ?? 100;
    this._start = options.startMs;
    this._end = Math.max(options.startMs, options.endMs);
    this._anchorPos = this._start;
  }

  get startMs(): number {
    return this._start;
  }

  get endMs(): number {
    return this._end;
  }

  get playing(): boolean {
    return this._playing;
  }

  get speed(): Speed {
    return this._speed;
  }

  /** Replay time now, epoch ms. */
  get position(): number {
    if (!this._playing) {
      return this._anchorPos;
    }
    const moved = (this._scheduler.now() - this._anchorWall) * this._speed;
    return Math.min(this._end, this._anchorPos + moved);
  }

  /** Emitted with the position on every change and, while playing, every tick. */
  get changed(): ISignal<this, number> {
    return this._changed;
  }

  play(): void {
    if (this._playing) {
      return;
    }
    if (this._anchorPos >= this._end) {
      this._anchorPos = this._start; // played to the end: play again from the start
    }
    this._anchorWall = this._scheduler.now();
    this._playing = true;
    this._schedule();
    this._changed.emit(this.position);
  }

  pause(): void {
    if (!this._playing) {
      return;
    }
    this._anchorPos = this.position;
    this._playing = false;
    this._cancel?.();
    this._cancel = null;
    this._changed.emit(this._anchorPos);
  }

  toggle(): void {
    if (this._playing) {
      this.pause();
    } else {
      this.play();
    }
  }

  seek(ms: number): void {
    this._anchorPos = Math.min(this._end, Math.max(this._start, ms));
    this._anchorWall = this._scheduler.now();
    this._changed.emit(this._anchorPos);
  }

  setSpeed(speed: Speed): void {
    if (speed === this._speed) {
      return;
    }
    // From here on at the new speed: what played so far stays.
    this._anchorPos = this.position;
    this._anchorWall = this._scheduler.now();
    this._speed = speed;
    this._changed.emit(this._anchorPos);
  }

  /** A longer interview (a live one, reloaded): the end moves, the position stays. */
  setRange(startMs: number, endMs: number): void {
    const at = this.position;
    this._start = startMs;
    this._end = Math.max(startMs, endMs);
    this._anchorPos = Math.min(this._end, Math.max(this._start, at));
    this._anchorWall = this._scheduler.now();
    this._changed.emit(this._anchorPos);
  }

  dispose(): void {
    this._cancel?.();
    this._cancel = null;
    this._playing = false;
  }

  private _schedule(): void {
    this._cancel = this._scheduler.after(this._tickMs, () => {
      this._cancel = null;
      if (!this._playing) {
        return;
      }
      const at = this.position;
      if (at >= this._end) {
        this._anchorPos = this._end;
        this._playing = false;
        this._changed.emit(at);
        return;
      }
      this._changed.emit(at);
      this._schedule();
    });
  }

  private readonly _scheduler: Scheduler;
  private readonly _tickMs: number;
  private _start: number;
  private _end: number;
  private _anchorPos: number;
  private _anchorWall = 0;
  private _playing = false;
  private _speed: Speed = 1;
  private _cancel: Cancel | null = null;
  private readonly _changed = new Signal<this, number>(this);
}

// ---------------------------------------------------------------- the Replay view's model

export interface IReplayModelOptions {
  api: IHistoryAPI;
  roomId: string;
  scheduler?: Scheduler;
  timeline?: IReplayTimelineOptions;
}

/**
 * The Replay view's model: loads the replay, keeps the clock, and says what to show at the
 * clock's position. Past the last frame of a truncated replay the notebook comes from the
 * server's snapshots (`replay?at=`).
 */
export class ReplayModel {
  constructor(options: IReplayModelOptions) {
    this._api = options.api;
    this.roomId = options.roomId;
    this._scheduler = options.scheduler ?? realScheduler;
    this._timelineOptions = options.timeline ?? {};
    this.clock = new PlaybackClock({ startMs: 0, endMs: 0, scheduler: this._scheduler });
  }

  readonly roomId: string;
  readonly clock: PlaybackClock;

  get replay(): Replay | null {
    return this._replay;
  }

  get loading(): boolean {
    return this._loading;
  }

  get error(): string | null {
    return this._error;
  }

  /** Emitted when a replay was loaded (or failed to), and when a fallback notebook arrived. */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** (Re)load the whole replay; the position is kept. */
  async load(): Promise<void> {
    this._loading = true;
    this._changed.emit();
    try {
      const data = await this._api.replay(this.roomId);
      const fresh = this._replay === null;
      this._replay?.dispose();
      this._replay = new Replay(data, this._timelineOptions);
      this._fallback.clear();
      this.clock.setRange(this._replay.startMs, this._replay.endMs);
      if (fresh) {
        this.clock.seek(this._replay.startMs);
      }
      this._error = null;
    } catch (reason) {
      this._error = message(reason);
    } finally {
      this._loading = false;
      this._changed.emit();
    }
  }

  /** The notebook at `ms`: from the frames, or (truncated replays) from the server's snapshots. */
  notebookAt(ms: number): INotebookAt & { source: 'frames' | 'snapshot' | null } {
    const replay = this._replay;
    if (replay === null) {
      return { notebook: null, frame: -1, frameMs: null, source: null };
    }
    const at = replay.timeline.notebookAt(ms);
    const frames = replay.timeline.frames;
    const lastMs = frames.length > 0 ? frames[frames.length - 1].t * 1000 : -Infinity;
    if (at.notebook !== null && !(replay.data.replay_truncated && ms > lastMs)) {
      return { ...at, source: 'frames' };
    }
    // Asked of the server once per second of replay time.
    const key = Math.floor(ms / 1000);
    const known = this._fallback.get(key);
    if (known === undefined) {
      this._fallback.set(key, null);
      void this._api.notebookAt(this.roomId, key).then(
        answer => {
          this._fallback.set(key, answer);
          this._changed.emit();
        },
        () => this._fallback.delete(key)
      );
    }
    if (known && known.notebook !== null) {
      return {
        notebook: known.notebook,
        frame: at.frame,
        frameMs: known.frame_t === null ? null : known.frame_t * 1000,
        source: known.source
      };
    }
    return { ...at, source: at.notebook === null ? null : 'frames' };
  }

  dispose(): void {
    this.clock.dispose();
    this._replay?.dispose();
    this._replay = null;
  }

  private readonly _api: IHistoryAPI;
  private readonly _scheduler: Scheduler;
  private readonly _timelineOptions: IReplayTimelineOptions;
  private _replay: Replay | null = null;
  private _loading = false;
  private _error: string | null = null;
  private readonly _fallback = new Map<number, IReplayAt | null>();
  private readonly _changed = new Signal<this, void>(this);
}
