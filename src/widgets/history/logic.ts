/**
 * What the History and Replay views compute from the server's answers, kept apart from React so
 * that it is tested in Node: nbdime diffs turned into cell rows with line changes, output text,
 * timeline markers, and formatting.
 */

import type {
  ICell,
  ICellChange,
  IDiffEntry,
  INotebook,
  IOutput,
  ISnapshotDiff,
  ReplayEvent
} from '../../state/history';

// ---------------------------------------------------------------- text

/** Lines with their ends kept, split where Python's `str.splitlines(True)` splits (as nbdime does). */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  const ends = /\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/g;
  let start = 0;
  for (let m = ends.exec(text); m !== null; m = ends.exec(text)) {
    lines.push(text.slice(start, m.index + m[0].length));
    start = m.index + m[0].length;
  }
  if (start < text.length) {
    lines.push(text.slice(start));
  }
  return lines;
}

/** nbformat multiline strings are a string or a list of strings. */
export function joinText(value: unknown): string {
  if (Array.isArray(value)) {
    return value.map(v => String(v)).join('');
  }
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
}

export function sourceText(cell: ICell): string {
  return joinText(cell.source);
}

/** ANSI colour codes of tracebacks, left out of plain text. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/** How an output shows as text: what the views render for it and what replay checks compare. */
export type OutputShape =
  | { kind: 'stream'; name: string; text: string }
  | { kind: 'error'; text: string }
  | { kind: 'image'; mime: string; data: string; alt: string }
  | { kind: 'text'; text: string }
  | { kind: 'other'; text: string };

/**
 * One output as something safe to show: text, or a PNG/JPEG image. Outputs are written by
 * participants' browsers and can hold anything; HTML, SVG and scripts are never rendered.
 */
export function outputShape(output: IOutput): OutputShape {
  switch (output.output_type) {
    case 'stream':
      return { kind: 'stream', name: output.name ?? 'stdout', text: joinText(output.text) };
    case 'error': {
      const traceback = (output.traceback ?? []).map(line => stripAnsi(joinText(line)));
      const head = `${output.ename ?? ''}: ${output.evalue ?? ''}`;
      return { kind: 'error', text: traceback.length > 0 ? traceback.join('\n') : head };
    }
    case 'execute_result':
    case 'display_data': {
      const data = output.data ?? {};
      const plain = joinText(data['text/plain']);
      for (const mime of ['image/png', 'image/jpeg']) {
        const image = data[mime];
        if (typeof image === 'string' && /^[A-Za-z0-9+/=\s]+$/.test(image)) {
          return { kind: 'image', mime, data: image.replace(/\s/g, ''), alt: plain };
        }
      }
      if ('text/plain' in data) {
        return { kind: 'text', text: plain };
      }
      const mimes = Object.keys(data);
      return { kind: 'other', text: mimes.length > 0 ? `[${mimes.join(', ')}]` : '' };
    }
    default:
      return { kind: 'other', text: `[${output.output_type}]` };
  }
}

// ---------------------------------------------------------------- nbdime diffs

function patchList<T>(items: ReadonlyArray<T>, diff: IDiffEntry[], patchItem: (item: T, d: IDiffEntry[]) => T, spread: (v: unknown) => T[]): T[] {
  const out: T[] = [];
  let take = 0;
  for (const e of diff) {
    const index = Number(e.key);
    out.push(...items.slice(take, index));
    let skip = 0;
    switch (e.op) {
      case 'addrange':
        out.push(...spread(e.valuelist ?? []));
        break;
      case 'removerange':
        skip = e.length ?? 0;
        break;
      case 'patch':
        out.push(patchItem(items[index], e.diff ?? []));
        skip = 1;
        break;
      case 'add':
        out.push(e.value as T);
        break;
      case 'remove':
        skip = 1;
        break;
      case 'replace':
        out.push(e.value as T);
        skip = 1;
        break;
    }
    take = Math.max(take, index + skip);
  }
  out.push(...items.slice(take));
  return out;
}

/** A single line patched character by character (nbdime's diffs inside a changed line). */
export function patchLine(line: string, diff: IDiffEntry[]): string {
  return patchList(
    Array.from(line),
    diff,
    (ch: string) => ch,
    v => (typeof v === 'string' ? Array.from(v) : (v as string[]))
  ).join('');
}

/**
 * A value with an nbdime diff applied (nbdime's `patch`): dicts by key, lists by index, strings
 * line by line with changed lines patched by character.
 */
export function patchValue(value: unknown, diff: IDiffEntry[]): unknown {
  if (Array.isArray(value)) {
    return patchList(value, diff, patchValue, v => (Array.isArray(v) ? v : [v]));
  }
  if (typeof value === 'string') {
    return patchList(splitLines(value), diff, (line, d) => patchLine(line, d), v =>
      Array.isArray(v) ? v.map(String) : splitLines(String(v))
    ).join('');
  }
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    for (const e of diff) {
      const key = String(e.key);
      if (e.op === 'remove') {
        delete out[key];
      } else if (e.op === 'add' || e.op === 'replace') {
        out[key] = e.value;
      } else if (e.op === 'patch') {
        out[key] = patchValue(out[key], e.diff ?? []);
      }
    }
    return out;
  }
  throw new Error(`an nbdime diff cannot patch a ${typeof value}`);
}

export interface IDiffLine {
  kind: 'same' | 'added' | 'removed' | 'skip';
  text: string;
  /** `skip`: how many unchanged lines it stands for. */
  count?: number;
}

/** A cell's source as lines added, removed and kept, from nbdime's line-based diff of it. */
export function sourceLines(before: string, diff: IDiffEntry[]): IDiffLine[] {
  const lines = splitLines(before);
  const out: IDiffLine[] = [];
  let take = 0;
  for (const e of diff) {
    const index = Number(e.key);
    for (const text of lines.slice(take, index)) {
      out.push({ kind: 'same', text });
    }
    let skip = 0;
    switch (e.op) {
      case 'addrange': {
        const added = Array.isArray(e.valuelist) ? e.valuelist.map(String) : splitLines(String(e.valuelist ?? ''));
        out.push(...added.map(text => ({ kind: 'added' as const, text })));
        break;
      }
      case 'removerange':
        skip = e.length ?? 0;
        out.push(...lines.slice(index, index + skip).map(text => ({ kind: 'removed' as const, text })));
        break;
      case 'patch':
        out.push({ kind: 'removed', text: lines[index] ?? '' });
        out.push({ kind: 'added', text: patchLine(lines[index] ?? '', e.diff ?? []) });
        skip = 1;
        break;
      case 'add':
        out.push({ kind: 'added', text: String(e.value ?? '') });
        break;
      case 'remove':
        out.push({ kind: 'removed', text: lines[index] ?? '' });
        skip = 1;
        break;
      case 'replace':
        out.push({ kind: 'removed', text: lines[index] ?? '' });
        out.push({ kind: 'added', text: String(e.value ?? '') });
        skip = 1;
        break;
    }
    take = Math.max(take, index + skip);
  }
  for (const text of lines.slice(take)) {
    out.push({ kind: 'same', text });
  }
  return out;
}

/**
 * Unchanged lines more than `context` lines away from a change folded into one `skip` (a run of
 * one line stays: a fold would be no shorter).
 */
export function foldContext(lines: IDiffLine[], context = 2): IDiffLine[] {
  const changed = lines.map(l => l.kind === 'added' || l.kind === 'removed');
  const near = (i: number): boolean => {
    for (let j = Math.max(0, i - context); j <= Math.min(lines.length - 1, i + context); j++) {
      if (changed[j]) {
        return true;
      }
    }
    return false;
  };
  const out: IDiffLine[] = [];
  let run: IDiffLine[] = [];
  const flush = (): void => {
    if (run.length > 1) {
      out.push({ kind: 'skip', text: '', count: run.length });
    } else {
      out.push(...run);
    }
    run = [];
  };
  lines.forEach((line, i) => {
    if (line.kind === 'same' && !near(i)) {
      run.push(line);
    } else {
      flush();
      out.push(line);
    }
  });
  flush();
  return out;
}

/** One cell of the diff view. */
export interface IDiffRow {
  status: ICellChange['status'];
  cellId: string | null;
  cellType: string | null;
  aIndex: number | null;
  bIndex: number | null;
  /** Keys of the cell that differ (modified cells): source, outputs, execution_count, ... */
  changed: string[];
  /** The source: added or removed whole, or line by line (modified); empty when unknown. */
  lines: IDiffLine[];
  /** Outputs before and after, when they differ (added cells: after only; removed: before only). */
  outputs: { before: IOutput[]; after: IOutput[] } | null;
}

/** The cell's entries of nbdime's notebook diff, by position in the older notebook. */
function cellPatches(diff: IDiffEntry[]): Map<number, IDiffEntry[]> {
  const cells = diff.find(d => d.key === 'cells' && d.op === 'patch')?.diff ?? [];
  const patches = new Map<number, IDiffEntry[]>();
  for (const op of cells) {
    if (op.op === 'patch') {
      patches.set(Number(op.key), op.diff ?? []);
    }
  }
  return patches;
}

/** Cells added by nbdime's diff, in order (their whole content is in the diff). */
function addedCells(diff: IDiffEntry[]): ICell[] {
  const cells = diff.find(d => d.key === 'cells' && d.op === 'patch')?.diff ?? [];
  const added: ICell[] = [];
  for (const op of cells) {
    if (op.op === 'addrange' && Array.isArray(op.valuelist)) {
      added.push(...(op.valuelist as ICell[]));
    } else if (op.op === 'add' || op.op === 'replace') {
      added.push(op.value as ICell);
    }
  }
  return added;
}

/**
 * The diff view's rows: the server's cell-by-cell summary in order, each with the lines of its
 * source and its outputs from nbdime's diff applied to `a` (the snapshot's own notebook). Without
 * `a` (not loaded yet) modified and removed cells have no lines.
 */
export function diffRows(result: ISnapshotDiff, a: INotebook | null): IDiffRow[] {
  const patches = cellPatches(result.diff);
  const added = addedCells(result.diff);
  let nextAdded = 0;
  return result.cells.map(change => {
    const row: IDiffRow = {
      status: change.status,
      cellId: change.cell_id,
      cellType: change.cell_type,
      aIndex: change.a_index,
      bIndex: change.b_index,
      changed: change.changed ?? [],
      lines: [],
      outputs: null
    };
    const before = change.a_index !== null ? a?.cells[change.a_index] : undefined;
    if (change.status === 'added') {
      const cell = added[nextAdded++];
      if (cell !== undefined) {
        row.lines = splitLines(sourceText(cell)).map(text => ({ kind: 'added', text }));
        if ((cell.outputs ?? []).length > 0) {
          row.outputs = { before: [], after: cell.outputs ?? [] };
        }
      }
    } else if (change.status === 'removed' && before !== undefined) {
      row.lines = splitLines(sourceText(before)).map(text => ({ kind: 'removed', text }));
      if ((before.outputs ?? []).length > 0) {
        row.outputs = { before: before.outputs ?? [], after: [] };
      }
    } else if (change.status === 'modified' && before !== undefined && change.a_index !== null) {
      const ops = patches.get(change.a_index) ?? [];
      const sourceOp = ops.find(op => op.key === 'source');
      if (sourceOp?.op === 'patch') {
        row.lines = foldContext(sourceLines(sourceText(before), sourceOp.diff ?? []));
      } else if (sourceOp !== undefined) {
        row.lines = [
          ...splitLines(sourceText(before)).map(text => ({ kind: 'removed' as const, text })),
          ...splitLines(joinText(sourceOp.value)).map(text => ({ kind: 'added' as const, text }))
        ];
      }
      if (ops.some(op => op.key === 'outputs')) {
        const after = patchValue(before, ops) as ICell;
        row.outputs = { before: before.outputs ?? [], after: after.outputs ?? [] };
      }
    }
    return row;
  });
}

/** Counts of the rows by status, for the diff's heading. */
export function diffCounts(rows: ReadonlyArray<IDiffRow>): Record<IDiffRow['status'], number> {
  const counts = { added: 0, removed: 0, modified: 0, unchanged: 0 };
  for (const row of rows) {
    counts[row.status]++;
  }
  return counts;
}

// ---------------------------------------------------------------- the replay's timeline

export type MarkerKind = 'execution' | 'chat' | 'state' | 'presence' | 'history';

/** Which timeline lane an event type is drawn in; null for events not marked. */
export function markerKind(type: string): MarkerKind | null {
  switch (type) {
    case 'execution':
      return 'execution';
    case 'chat':
      return 'chat';
    case 'interview-state':
    case 'timer':
      return 'state';
    case 'joined':
    case 'left':
    case 'participant':
    case 'waiting-room':
      return 'presence';
    case 'checkpoint':
    case 'restore':
    case 'restore-undone':
      return 'history';
    default:
      return null;
  }
}

export interface IMarker {
  kind: MarkerKind;
  /** Position on the timeline, 0 to 1. */
  at: number;
  t: number;
  index: number;
}

/** The timeline's markers: one per marked event, placed between the replay's start and end. */
export function markers(events: ReadonlyArray<ReplayEvent>, startMs: number, endMs: number): IMarker[] {
  const span = Math.max(1, endMs - startMs);
  const out: IMarker[] = [];
  events.forEach((event, index) => {
    const kind = markerKind(event.type);
    if (kind !== null) {
      const at = Math.min(1, Math.max(0, (event.t * 1000 - startMs) / span));
      out.push({ kind, at, t: event.t, index });
    }
  });
  return out;
}

// ---------------------------------------------------------------- formatting

/** `1.2 kB`, `3.4 MB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) {
    return `${bytes} B`;
  }
  const units = ['kB', 'MB', 'GB'];
  let value = bytes;
  let unit = 'B';
  for (const u of units) {
    if (value < 1000) {
      break;
    }
    value /= 1000;
    unit = u;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${unit}`;
}

/** A duration as `m:ss`, or `h:mm:ss` from an hour on. */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** Local time of day of a server timestamp (seconds), `14:05:09`. */
export function timeOfDay(ts: number): string {
  const d = new Date(ts * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map(n => String(n).padStart(2, '0')).join(':');
}

/** Local date and time of a server timestamp (seconds), for titles. */
export function dateTime(ts: number): string {
  return new Date(ts * 1000).toLocaleString();
}

/** The first line of some code, cut to `max` characters. */
export function firstLine(text: string, max = 60): string {
  const line = text.split('\n').find(l => l.trim() !== '') ?? '';
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
