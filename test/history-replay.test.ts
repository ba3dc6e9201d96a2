// The session replay (src/state/history.ts): the notebook rebuilt at any moment from real Yjs
// updates recorded the way the server records frames, the room's events at a moment, the playback
// clock at 1x to 16x, and the History view's model against a fake of the history routes.
import { describe, expect, it } from '@jest/globals';
import * as Y from 'yjs';

import {
  HistoryModel,
  IHistoryAPI,
  IReplay,
  IReplayFrame,
  ISnapshot,
  PlaybackClock,
  Replay,
  ReplayModel,
  ReplayTimeline,
  SPEEDS,
  readNotebook
} from '../src/state/history';
import { FakeScheduler } from './fakes/scheduler';

// ---------------------------------------------------------------- a notebook in a Y.Doc

interface IPlainOutput {
  output_type: string;
  name?: string;
  text?: string;
  data?: Record<string, string>;
  metadata?: Record<string, unknown>;
  execution_count?: number;
}

interface IPlainCell {
  id: string;
  cell_type: string;
  source: string;
  metadata: Record<string, unknown>;
  execution_count?: number | null;
  outputs?: IPlainOutput[];
}

/** A seeded random source, so that a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `at` moved off the middle of a surrogate pair (an emoji is two UTF-16 units, one character). */
function whole(text: string, at: number): number {
  const code = text.charCodeAt(at);
  return at > 0 && at < text.length && code >= 0xdc00 && code <= 0xdfff ? at - 1 : at;
}

/** A stream output as jupyter_ydoc writes it: a map whose `text` is a Y.Text. */
function youtput(output: IPlainOutput): Y.Map<unknown> {
  const m = new Y.Map<unknown>();
  for (const [k, v] of Object.entries(output)) {
    m.set(k, k === 'text' && output.output_type === 'stream' ? new Y.Text(String(v)) : v);
  }
  return m;
}

/** A cell laid out as jupyter_ydoc's `YNotebook.create_ycell` lays it out. */
function ycell(cell: IPlainCell): Y.Map<unknown> {
  const m = new Y.Map<unknown>();
  m.set('id', cell.id);
  m.set('cell_type', cell.cell_type);
  m.set('source', new Y.Text(cell.source));
  m.set('metadata', new Y.Map<unknown>());
  if (cell.cell_type === 'code') {
    m.set('execution_count', cell.execution_count ?? null);
    m.set('outputs', Y.Array.from((cell.outputs ?? []).map(youtput)));
    m.set('execution_state', 'idle');
  }
  return m;
}

/** The document and a plain copy of what it should hold, edited side by side. */
class Notebook {
  constructor(cells: IPlainCell[], seed = 1) {
    this.random = rng(seed);
    this.doc = new Y.Doc();
    this.load(cells);
  }

  /** Start a new document holding `cells` (a server restart: new client ids, a new base). */
  load(cells: IPlainCell[]): void {
    this.doc = new Y.Doc();
    this.plain = cells.map(c => JSON.parse(JSON.stringify(c)) as IPlainCell);
    this.doc.transact(() => {
      const meta = this.doc.getMap('meta');
      meta.set('nbformat', 4);
      meta.set('nbformat_minor', 5);
      const metadata = new Y.Map<unknown>();
      metadata.set('kernelspec', { name: 'python3', display_name: 'Python 3' });
      meta.set('metadata', metadata);
      this.doc.getArray('cells').push(this.plain.map(ycell));
    });
  }

  get cells(): Y.Array<Y.Map<unknown>> {
    return this.doc.getArray<Y.Map<unknown>>('cells');
  }

  expected(): { cells: IPlainCell[] } {
    return { cells: JSON.parse(JSON.stringify(this.plain)) };
  }

  private pick(n: number): number {
    return Math.floor(this.random() * n);
  }

  /** One random edit of the kinds people and kernels make. */
  edit(): void {
    const r = this.random();
    const n = this.plain.length;
    if (r < 0.45 && n > 0) {
      const i = this.pick(n);
      const at = whole(this.plain[i].source, this.pick(this.plain[i].source.length + 1));
      const text = ['a', 'bc', '\n', 'def f():\n    ', 'é', '🌍'][this.pick(6)];
      (this.cells.get(i).get('source') as Y.Text).insert(at, text);
      const s = this.plain[i].source;
      this.plain[i].source = s.slice(0, at) + text + s.slice(at);
    } else if (r < 0.6 && n > 0) {
      const i = this.pick(n);
      const s = this.plain[i].source;
      if (s.length > 0) {
        const at = whole(s, this.pick(s.length));
        const len = whole(s, at + 1 + this.pick(Math.min(5, s.length - at))) - at;
        (this.cells.get(i).get('source') as Y.Text).delete(at, len);
        this.plain[i].source = s.slice(0, at) + s.slice(at + len);
      }
    } else if (r < 0.7) {
      const i = this.pick(n + 1);
      const cell: IPlainCell = {
        id: `c${this.nextId++}`,
        cell_type: this.random() < 0.8 ? 'code' : 'markdown',
        source: `x${this.nextId} = ${this.nextId}\n`,
        metadata: {}
      };
      if (cell.cell_type === 'code') {
        cell.execution_count = null;
        cell.outputs = [];
      }
      this.cells.insert(i, [ycell(cell)]);
      this.plain.splice(i, 0, cell);
    } else if (r < 0.76 && n > 1) {
      const i = this.pick(n);
      this.cells.delete(i, 1);
      this.plain.splice(i, 1);
    } else if (n > 0) {
      // A kernel's outputs: a stream appended to, or the outputs replaced with a result.
      const code = this.plain.map((c, i) => [c, i] as const).filter(([c]) => c.cell_type === 'code');
      if (code.length === 0) {
        return;
      }
      const [cell, i] = code[this.pick(code.length)];
      const youtputs = this.cells.get(i).get('outputs') as Y.Array<Y.Map<unknown>>;
      const outputs = cell.outputs ?? [];
      const last = outputs[outputs.length - 1];
      if (this.random() < 0.5 && last?.output_type === 'stream') {
        const more = `${this.pick(100)}\n`;
        (youtputs.get(outputs.length - 1).get('text') as Y.Text).insert(last.text?.length ?? 0, more);
        last.text = (last.text ?? '') + more;
      } else {
        const count = (cell.execution_count ?? 0) + 1;
        const fresh: IPlainOutput[] =
          this.random() < 0.5
            ? [{ output_type: 'stream', name: 'stdout', text: `${count}\n` }]
            : [{ output_type: 'execute_result', data: { 'text/plain': String(count) }, metadata: {}, execution_count: count }];
        this.doc.transact(() => {
          youtputs.delete(0, youtputs.length);
          youtputs.push(fresh.map(youtput));
          this.cells.get(i).set('execution_count', count);
        });
        cell.outputs = fresh;
        cell.execution_count = count;
      }
    }
  }

  doc: Y.Doc;
  plain: IPlainCell[] = [];
  private readonly random: () => number;
  private nextId = 100;
}

function b64(update: Uint8Array): string {
  let binary = '';
  for (const byte of update) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary);
}

/**
 * Frames as HistoryRecorder stores them: a `base` with the whole state, then per interval the
 * smaller of the merged transaction updates and the diff against the previous frame's state vector.
 */
class Recorder {
  frames: IReplayFrame[] = [];

  follow(doc: Y.Doc, t: number): void {
    this.doc = doc;
    this.pending = [];
    doc.on('update', (update: Uint8Array) => {
      if (this.doc === doc) {
        this.pending.push(update);
      }
    });
    this.frames.push({ seq: this.frames.length + 1, t, kind: 'base', authors: [], update: b64(Y.encodeStateAsUpdate(doc)) });
    this.vector = Y.encodeStateVector(doc);
  }

  take(t: number, authors: string[] = []): boolean {
    if (this.pending.length === 0) {
      return false;
    }
    const merged = Y.mergeUpdates(this.pending);
    const diff = Y.encodeStateAsUpdate(this.doc, this.vector);
    const update = diff.length < merged.length ? diff : merged;
    this.frames.push({ seq: this.frames.length + 1, t, kind: 'update', authors, update: b64(update) });
    this.pending = [];
    this.vector = Y.encodeStateVector(this.doc);
    return true;
  }

  private doc = new Y.Doc();
  private pending: Uint8Array[] = [];
  private vector: Uint8Array = Y.encodeStateVector(new Y.Doc());
}

const T0 = 1_764_280_000;

function initial(): IPlainCell[] {
  return [
    { id: 'intro', cell_type: 'markdown', source: '# Two sum\nFind two numbers.\n', metadata: {} },
    { id: 'code', cell_type: 'code', source: 'def two_sum(xs, t):\n    pass\n', metadata: {}, execution_count: null, outputs: [] }
  ];
}

/** A recorded interview: frames, and the expected notebook at each frame's time. */
function record(steps: number, seed: number, restartAt = -1): { frames: IReplayFrame[]; expected: Array<[number, { cells: IPlainCell[] }]> } {
  const nb = new Notebook(initial(), seed);
  const recorder = new Recorder();
  recorder.follow(nb.doc, T0);
  const expected: Array<[number, { cells: IPlainCell[] }]> = [[T0, nb.expected()]];
  const random = rng(seed + 1);
  for (let step = 1; step <= steps; step++) {
    const t = T0 + step + random() * 0.5;
    if (step === restartAt) {
      // The server restarted: jupyter-collaboration rebuilt the document, the recorder starts anew.
      nb.load(nb.expected().cells);
      recorder.follow(nb.doc, t);
      expected.push([t, nb.expected()]);
      continue;
    }
    const edits = Math.floor(random() * 5);
    for (let e = 0; e < edits; e++) {
      nb.edit();
    }
    if (recorder.take(t, ['p1'])) {
      expected.push([t, nb.expected()]);
    }
  }
  return { frames: recorder.frames, expected };
}

function cellsOf(timeline: ReplayTimeline, ms: number): unknown {
  const at = timeline.notebookAt(ms);
  return at.notebook === null ? null : { cells: at.notebook.cells };
}

describe('ReplayTimeline', () => {
  it('rebuilds the exact notebook at every frame and between frames', () => {
    const { frames, expected } = record(120, 7);
    expect(frames.length).toBeGreaterThan(60);
    const timeline = new ReplayTimeline(frames, { keyframeFactor: 0.2 });
    for (let i = 0; i < expected.length; i++) {
      const [t, want] = expected[i];
      expect(cellsOf(timeline, t * 1000)).toEqual(want);
      const next = i + 1 < expected.length ? expected[i + 1][0] : t + 1;
      expect(cellsOf(timeline, ((t + next) / 2) * 1000)).toEqual(want);
    }
    // Before the first frame nothing was recorded.
    expect(timeline.notebookAt(T0 * 1000 - 1).notebook).toBeNull();
    expect(timeline.notebookAt(T0 * 1000 - 1).frame).toBe(-1);
  });

  it('reads cells the way the server does: no execution_state, metadata and outputs as JSON', () => {
    const { frames } = record(3, 3);
    const nb = new ReplayTimeline(frames).notebookAt((T0 + 10) * 1000).notebook;
    expect(nb).not.toBeNull();
    expect(nb?.nbformat).toBe(4);
    expect(nb?.nbformat_minor).toBe(5);
    expect(nb?.metadata).toEqual({ kernelspec: { name: 'python3', display_name: 'Python 3' } });
    for (const cell of nb?.cells ?? []) {
      expect('execution_state' in cell).toBe(false);
      expect(typeof cell.source).toBe('string');
    }
  });

  it('scrubs back and forth in any order to the same notebooks, from keyframes', () => {
    const { frames, expected } = record(150, 11);
    const timeline = new ReplayTimeline(frames, { keyframeFactor: 0.2, cacheSize: 4 });
    const random = rng(99);
    for (let q = 0; q < 200; q++) {
      const [t, want] = expected[Math.floor(random() * expected.length)];
      expect(cellsOf(timeline, t * 1000 + 1)).toEqual(want);
    }
    expect(timeline.stats.keyframes).toBeGreaterThan(2);
  });

  it('goes back from a keyframe when outputs churn, not from the start', () => {
    // A progress display redrawn every second: the frames outweigh the document many times over.
    const nb = new Notebook(initial(), 3);
    const recorder = new Recorder();
    recorder.follow(nb.doc, T0);
    const outputs = nb.cells.get(1).get('outputs') as Y.Array<Y.Map<unknown>>;
    const expected: Array<[number, string]> = [];
    for (let step = 1; step <= 120; step++) {
      const text = `step ${step} ${'#'.repeat(1000)}\n`;
      nb.doc.transact(() => {
        outputs.delete(0, outputs.length);
        outputs.push([youtput({ output_type: 'stream', name: 'stdout', text })]);
      });
      recorder.take(T0 + step);
      expected.push([T0 + step, text]);
    }
    const timeline = new ReplayTimeline(recorder.frames);
    const bytes = (i: number): number =>
      recorder.frames.slice(0, i + 2).reduce((n, f) => n + Math.floor((f.update.length * 3) / 4), 0);
    timeline.notebookAt((T0 + 121) * 1000);
    expect(timeline.stats.keyframes).toBeGreaterThan(10);
    for (const i of [110, 90, 60, 100]) {
      const before = timeline.stats.appliedBytes;
      const at = timeline.notebookAt(expected[i][0] * 1000 + 1).notebook;
      expect(at?.cells[1].outputs?.[0].text).toBe(expected[i][1]);
      // A keyframe and a few frames, not everything since the start.
      expect(timeline.stats.appliedBytes - before).toBeLessThan(bytes(i) / 5);
    }
  });

  it('plays forward applying each frame once', () => {
    const { frames, expected } = record(100, 5);
    const timeline = new ReplayTimeline(frames);
    const start = T0 * 1000;
    const end = expected[expected.length - 1][0] * 1000;
    for (let ms = start; ms <= end + 250; ms += 250) {
      timeline.notebookAt(ms);
    }
    expect(timeline.stats.applied).toBe(frames.length);
    // Asking again for a moment already shown reads the cache, applying nothing.
    timeline.notebookAt(end);
    expect(timeline.stats.applied).toBe(frames.length);
  });

  it('starts a new document at a base frame (server restart) and goes back across it', () => {
    const { frames, expected } = record(60, 21, 30);
    expect(frames.filter(f => f.kind === 'base').length).toBe(2);
    const timeline = new ReplayTimeline(frames, { keyframeFactor: 0.1 });
    const order = [...expected.keys()].reverse();
    for (const i of order) {
      expect(cellsOf(timeline, expected[i][0] * 1000)).toEqual(expected[i][1]);
    }
    for (const i of expected.keys()) {
      expect(cellsOf(timeline, expected[i][0] * 1000)).toEqual(expected[i][1]);
    }
  });

  it('ignores update frames before any base frame (a replay that began truncated)', () => {
    const { frames } = record(10, 2);
    const tail = frames.slice(1);
    const timeline = new ReplayTimeline(tail);
    expect(timeline.notebookAt((T0 + 100) * 1000).notebook).toBeNull();
  });

  it('reads a document written by hand with plain (non-shared) outputs too', () => {
    const doc = new Y.Doc();
    doc.transact(() => {
      doc.getMap('meta').set('nbformat', 4);
      doc.getMap('meta').set('nbformat_minor', 4);
      const cell = new Y.Map<unknown>();
      cell.set('id', 'gone-in-4.4');
      cell.set('cell_type', 'markdown');
      cell.set('source', new Y.Text('*hi*'));
      cell.set('metadata', new Y.Map());
      cell.set('attachments', {});
      doc.getArray('cells').push([cell]);
    });
    expect(readNotebook(doc)).toEqual({
      cells: [{ cell_type: 'markdown', source: '*hi*', metadata: {} }],
      metadata: {},
      nbformat: 4,
      nbformat_minor: 4
    });
  });
});

// ---------------------------------------------------------------- the room at a moment

function replayData(frames: IReplayFrame[], events: IReplay['events']): IReplay {
  return {
    room_id: 'r1',
    notebook_path: 'interviews/r1/interview.ipynb',
    state: 'ended',
    start: T0,
    end: T0 + 600,
    participants: [
      { id: 'cand', name: 'Ada', role: 'candidate' },
      { id: 'iv', name: 'Grace', role: 'interviewer' }
    ],
    frame_interval_s: 1,
    replay_truncated: false,
    frames,
    events
  };
}

const EVENTS: IReplay['events'] = [
  { t: T0 + 1, type: 'interview-state', actor: null, state: 'live' },
  { t: T0 + 1, type: 'timer', actor: null, status: 'running', duration_s: 1800, elapsed_s: 0, started_at: T0 + 1, ends_at: T0 + 1801, server_now: T0 + 1 },
  { t: T0 + 0.5, type: 'participant', actor: 'cand', participant_id: 'cand', name: 'Ada', role: 'candidate', status: 'invited' },
  { t: T0 + 1.5, type: 'participant', actor: 'c2', participant_id: 'c2', name: 'Bob', role: 'candidate', status: 'waiting' },
  { t: T0 + 2, type: 'joined', actor: 'cand', participant: { id: 'cand', name: 'Ada', role: 'candidate' } },
  { t: T0 + 3, type: 'joined', actor: 'iv', participant: { id: 'iv', name: 'Grace', role: 'interviewer' } },
  { t: T0 + 10, type: 'chat', from: 'iv', name: 'Grace', text: 'hello' },
  {
    t: T0 + 20,
    type: 'execution',
    msg_id: 'm1',
    participant_id: 'cand',
    code: 'print(1)',
    cell_id: 'code',
    status: 'ok',
    started_at: T0 + 20,
    ended_at: T0 + 22,
    execution_count: 1,
    outputs: [{ output_type: 'stream', name: 'stdout', text: '1\n' }],
    truncated: false,
    reason: null,
    document_outputs: 'differ'
  },
  { t: T0 + 30, type: 'presence', actor: 'cand', participant_id: 'cand', status: 'reconnecting' },
  { t: T0 + 40, type: 'timer', actor: null, status: 'paused', duration_s: 1800, elapsed_s: 39, started_at: T0 + 1, ends_at: null, server_now: T0 + 40 },
  { t: T0 + 50, type: 'left', actor: 'cand', participant_id: 'cand' },
  { t: T0 + 60, type: 'chat', from: 'cand', name: 'Ada', text: 'bye' },
  { t: T0 + 70, type: 'interview-state', actor: null, state: 'ended' }
];

describe('Replay.roomAt', () => {
  const frames = record(8, 4).frames.map(f => (f.kind === 'update' ? { ...f, authors: ['cand'] } : f));
  const firstEdit = frames.find(f => f.kind === 'update');
  const replay = new Replay(replayData(frames, EVENTS));

  it('has nothing before the interview began', () => {
    const room = replay.roomAt((T0 + 0.5) * 1000);
    expect(room.interviewState).toBeNull();
    expect(room.timer).toBeNull();
    expect(room.chat).toEqual([]);
    expect(room.executions).toEqual([]);
    expect(replay.roomAt((T0 + 0.9) * 1000).presence).toEqual([]); // invited is not here
  });

  it('counts the timer down between its events and holds it while paused', () => {
    expect(replay.roomAt((T0 + 11) * 1000).timer).toEqual({ status: 'running', remainingS: 1790 });
    expect(replay.roomAt((T0 + 41) * 1000).timer).toEqual({ status: 'paused', remainingS: 1761 });
    expect(replay.roomAt((T0 + 500) * 1000).timer).toEqual({ status: 'paused', remainingS: 1761 });
  });

  it('shows an execution running until it ended, with who asked and what the kernel sent', () => {
    const during = replay.roomAt((T0 + 21) * 1000).executions;
    expect(during).toHaveLength(1);
    expect(during[0].running).toBe(true);
    const after = replay.roomAt((T0 + 22) * 1000).executions;
    expect(after[0].running).toBe(false);
    expect(after[0].event.participant_id).toBe('cand');
    expect(after[0].event.document_outputs).toBe('differ');
    expect(after[0].event.outputs).toEqual([{ output_type: 'stream', name: 'stdout', text: '1\n' }]);
  });

  it('keeps chat so far, state and presence', () => {
    const early = replay.roomAt((T0 + 35) * 1000);
    expect(early.chat.map(m => m.text)).toEqual(['hello']);
    expect(early.interviewState).toBe('live');
    expect(Object.fromEntries(early.presence.map(p => [p.name, p.status]))).toEqual({ Ada: 'reconnecting', Bob: 'waiting', Grace: 'online' });
    const late = replay.roomAt((T0 + 80) * 1000);
    expect(late.chat.map(m => m.text)).toEqual(['hello', 'bye']);
    expect(late.interviewState).toBe('ended');
    expect(Object.fromEntries(late.presence.map(p => [p.name, p.status]))).toEqual({ Ada: 'offline', Bob: 'waiting', Grace: 'online' });
  });

  it('names who edited in the last few seconds', () => {
    expect(firstEdit).toBeDefined();
    expect(replay.roomAt((firstEdit?.t ?? 0) * 1000).editing).toEqual(['Ada']);
    expect(replay.roomAt((T0 + 300) * 1000).editing).toEqual([]);
  });

  it('spans from the first recorded moment to the end', () => {
    expect(replay.startMs).toBe(T0 * 1000);
    expect(replay.endMs).toBe((T0 + 600) * 1000);
    expect(replay.eventsUntil((T0 + 1) * 1000)).toBe(3);
    expect(replay.eventsUntil((T0 + 1000) * 1000)).toBe(EVENTS.length);
  });
});

// ---------------------------------------------------------------- the playback clock

describe('PlaybackClock', () => {
  const START = 1_000_000;
  const END = START + 600_000;

  function clock(): { c: PlaybackClock; s: FakeScheduler; seen: number[] } {
    const s = new FakeScheduler(50_000);
    const c = new PlaybackClock({ startMs: START, endMs: END, scheduler: s, tickMs: 100 });
    const seen: number[] = [];
    c.changed.connect((_, at) => seen.push(at));
    return { c, s, seen };
  }

  it.each(SPEEDS.map(s => [s]))('moves %ix the wall clock while playing', speed => {
    const { c, s } = clock();
    c.setSpeed(speed);
    c.play();
    s.advance(1000);
    expect(c.position).toBe(START + 1000 * speed);
    s.advance(2500);
    expect(c.position).toBe(START + 3500 * speed);
    c.pause();
    s.advance(5000);
    expect(c.position).toBe(START + 3500 * speed);
  });

  it('keeps what played when the speed changes mid-play', () => {
    const { c, s } = clock();
    c.play();
    s.advance(2000); // 2 s at 1x
    c.setSpeed(16);
    s.advance(1000); // 16 s
    c.setSpeed(4);
    s.advance(500); // 2 s
    expect(c.position).toBe(START + 2000 + 16000 + 2000);
  });

  it('tells listeners every tick while playing, and not while paused', () => {
    const { c, s, seen } = clock();
    c.play();
    s.advance(1000);
    expect(seen.length).toBe(1 + 10);
    c.pause();
    const n = seen.length;
    s.advance(1000);
    expect(seen.length).toBe(n); // pause itself was told once, then nothing
    expect(s.pending()).toEqual([]);
  });

  it('is not slowed down by late timers: the position comes from the wall clock', () => {
    const { c, s } = clock();
    c.setSpeed(8);
    c.play();
    s.time += 3000; // the page was busy: no tick ran for 3 s
    expect(c.position).toBe(START + 24000);
  });

  it('stops at the end and plays again from the start', () => {
    const { c, s, seen } = clock();
    c.setSpeed(16);
    c.seek(END - 1600);
    c.play();
    s.advance(5000);
    expect(c.playing).toBe(false);
    expect(c.position).toBe(END);
    expect(seen[seen.length - 1]).toBe(END);
    c.play();
    expect(c.position).toBe(START);
    expect(c.playing).toBe(true);
  });

  it('seeks within the interview, also while playing', () => {
    const { c, s } = clock();
    c.seek(START - 5000);
    expect(c.position).toBe(START);
    c.seek(END + 5000);
    expect(c.position).toBe(END);
    c.seek(START + 60_000);
    c.setSpeed(2);
    c.play();
    s.advance(1000);
    c.seek(START + 10_000);
    s.advance(1000);
    expect(c.position).toBe(START + 12_000);
  });

  it('keeps the position when a reload makes the interview longer', () => {
    const { c } = clock();
    c.seek(START + 30_000);
    c.setRange(START, END + 60_000);
    expect(c.position).toBe(START + 30_000);
    expect(c.endMs).toBe(END + 60_000);
  });
});

// ---------------------------------------------------------------- the models against a fake API

function snap(id: string, t: number, kind: ISnapshot['kind'] = 'auto', label: string | null = null): ISnapshot {
  return { id, t, kind, label, authors: [], size: 100, stored: 50, capped: false, executions: [], pinned: kind !== 'auto', cells: 2 };
}

class FakeHistory implements IHistoryAPI {
  snapshots: ISnapshot[] = [snap('2', T0 + 60), snap('1', T0)];
  calls: string[] = [];
  undoable = false;
  delays = new Map<string, Promise<void>>();

  async listSnapshots(): Promise<{ snapshots: ISnapshot[]; bytes: Record<string, number>; max_room_bytes: number }> {
    this.calls.push('list');
    return { snapshots: [...this.snapshots], bytes: { snapshots: 150 }, max_room_bytes: 1000 };
  }
  async checkpoint(_room: string, label: string): Promise<ISnapshot> {
    this.calls.push(`checkpoint ${label}`);
    const s = snap(String(this.snapshots.length + 1), T0 + 120, 'checkpoint', label);
    this.snapshots.unshift(s);
    return s;
  }
  async getSnapshot(_room: string, sid: string): Promise<{ snapshot: ISnapshot; notebook: { cells: []; metadata: {}; nbformat: 4; nbformat_minor: 5 } }> {
    this.calls.push(`get ${sid}`);
    await this.delays.get(sid);
    const s = this.snapshots.find(x => x.id === sid);
    if (s === undefined) {
      throw new Error(`no snapshot '${sid}' in this room`);
    }
    return { snapshot: s, notebook: { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 } };
  }
  async diff(_room: string, sid: string, against: string): Promise<never> {
    this.calls.push(`diff ${sid} ${against}`);
    return { a: this.snapshots.find(x => x.id === sid), b: { id: against, t: T0 }, diff: [], cells: [] } as never;
  }
  async restore(_room: string, sid: string): Promise<never> {
    this.calls.push(`restore ${sid}`);
    const before = snap(String(this.snapshots.length + 1), T0 + 200, 'restore', `before restoring snapshot ${sid}`);
    this.snapshots.unshift(before);
    this.undoable = true;
    return { restored: this.snapshots.find(x => x.id === sid), before, undo: '...' } as never;
  }
  async undoRestore(): Promise<{ undone: string; before: string }> {
    this.calls.push('undo');
    if (!this.undoable) {
      throw new Error('nothing to undo: no snapshot was restored in this room');
    }
    this.undoable = false;
    return { undone: '1', before: '3' };
  }
  async replay(): Promise<IReplay> {
    this.calls.push('replay');
    return replayData(record(5, 4).frames, EVENTS);
  }
  async notebookAt(_room: string, t: number): Promise<never> {
    this.calls.push(`at ${t}`);
    return { t, source: 'snapshot', frame_t: t, notebook: { cells: [], metadata: {}, nbformat: 4, nbformat_minor: 5 } } as never;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await Promise.resolve();
  }
}

describe('HistoryModel', () => {
  it('lists, checkpoints with a label, restores and undoes, refreshing the list after each', async () => {
    const api = new FakeHistory();
    const model = new HistoryModel({ api, roomId: 'r1' });
    await model.refresh();
    expect(model.snapshots.map(s => s.id)).toEqual(['2', '1']);
    expect(model.usage.snapshots).toBe(150);
    const made = await model.checkpoint('  first working version ');
    expect(made?.label).toBe('first working version');
    expect(model.snapshots[0].kind).toBe('checkpoint');
    expect(model.notice).toBe(`checkpoint:${made?.id}`);
    await model.select('1');
    expect(model.detail?.snapshot.id).toBe('1');
    await model.restore('1');
    expect(model.lastRestore).toEqual({ sid: '1', before: '4' });
    expect(model.snapshots[0].kind).toBe('restore');
    await model.undoRestore();
    expect(model.lastRestore).toBeNull();
    expect(model.notice).toBe('undone:1');
    // A second undo: the server's refusal is shown, and Undo is gone.
    await model.undoRestore();
    expect(model.error).toContain('nothing to undo');
    expect(api.calls.filter(c => c === 'list').length).toBe(5);
  });

  it('an empty label makes a checkpoint named checkpoint', async () => {
    const api = new FakeHistory();
    const model = new HistoryModel({ api, roomId: 'r1' });
    await model.checkpoint('   ');
    expect(api.calls).toContain('checkpoint checkpoint');
  });

  it('shows the snapshot picked last when answers come back out of order', async () => {
    const api = new FakeHistory();
    let release: () => void = () => undefined;
    api.delays.set('1', new Promise<void>(resolve => (release = resolve)));
    const model = new HistoryModel({ api, roomId: 'r1' });
    await model.refresh();
    const slow = model.select('1');
    await model.select('2');
    release();
    await slow;
    expect(model.selected).toBe('2');
    expect(model.detail?.snapshot.id).toBe('2');
  });

  it('compares with the live notebook or another snapshot, loading the diff when asked', async () => {
    const api = new FakeHistory();
    const model = new HistoryModel({ api, roomId: 'r1' });
    await model.refresh();
    await model.select('1');
    expect(api.calls.some(c => c.startsWith('diff'))).toBe(false);
    await model.setMode('diff');
    expect(api.calls).toContain('diff 1 current');
    await model.setAgainst('2');
    expect(api.calls).toContain('diff 1 2');
    expect(model.diff?.b.id).toBe('2');
    // Picking the snapshot it was compared with compares that one with the live notebook.
    await model.select('2');
    expect(model.against).toBe('current');
    expect(api.calls).toContain('diff 2 current');
  });
});

describe('ReplayModel', () => {
  it('loads the replay, starts at its beginning and keeps the position on reload', async () => {
    const api = new FakeHistory();
    const scheduler = new FakeScheduler(0);
    const model = new ReplayModel({ api, roomId: 'r1', scheduler });
    await model.load();
    expect(model.clock.position).toBe(T0 * 1000);
    expect(model.notebookAt(model.clock.position).source).toBe('frames');
    model.clock.seek((T0 + 42) * 1000);
    await model.load();
    expect(model.clock.position).toBe((T0 + 42) * 1000);
    model.dispose();
  });

  it('asks the server past the last frame of a truncated replay', async () => {
    const api = new FakeHistory();
    api.replay = async () => ({ ...replayData(record(5, 4).frames, EVENTS), replay_truncated: true });
    const model = new ReplayModel({ api, roomId: 'r1', scheduler: new FakeScheduler(0) });
    await model.load();
    const first = model.notebookAt((T0 + 300) * 1000);
    expect(first.source).toBe('frames'); // the last frame's notebook until the server answers
    await settle();
    expect(api.calls).toContain(`at ${T0 + 300}`);
    expect(model.notebookAt((T0 + 300) * 1000).source).toBe('snapshot');
    // Inside the frames the server is not asked.
    model.notebookAt((T0 + 1) * 1000);
    expect(api.calls.filter(c => c.startsWith('at')).length).toBe(1);
    model.dispose();
  });
});
