// The diff view's logic (src/widgets/history/logic.ts) on nbdime's real output: the fixtures below
// were made by the server's own path (nbdime's `diff_notebooks` and `rooms.history.diff_summary`)
// from the notebooks they hold. Also output text, timeline markers and formatting.
import { describe, expect, it } from '@jest/globals';

import type { INotebook, ISnapshot, ISnapshotDiff, ReplayEvent } from '../src/state/history';
import {
  diffCounts,
  diffRows,
  foldContext,
  formatBytes,
  formatDuration,
  markerKind,
  markers,
  outputShape,
  patchLine,
  patchValue,
  sourceLines,
  splitLines
} from '../src/widgets/history/logic';

interface IFixture {
  name: string;
  a: INotebook;
  b: INotebook;
  diff: ISnapshotDiff['diff'];
  cells: ISnapshotDiff['cells'];
}

// nbdime 4 output for three pairs of notebooks (regenerate with nbdime.diff_notebooks if it changes).
const FIXTURES: IFixture[] = [
  {
    "name": "edits, an added and a removed cell",
    "a": {"cells": [{"cell_type": "code", "id": "a", "metadata": {}, "source": "x = 1\nprint(x)\ny = 2\n", "execution_count": 1, "outputs": []}, {"cell_type": "code", "id": "b", "metadata": {}, "source": "def f():\n    return 1\n", "execution_count": 1, "outputs": []}, {"cell_type": "code", "id": "c", "metadata": {}, "source": "gone\n", "execution_count": 1, "outputs": [{"output_type": "stream", "name": "stdout", "text": "bye\n"}]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
    "b": {"cells": [{"cell_type": "code", "id": "a", "metadata": {}, "source": "x = 10\nprint(x)\nz = 3\ny = 2\n", "execution_count": 2, "outputs": [{"output_type": "stream", "name": "stdout", "text": "10\n"}]}, {"cell_type": "code", "id": "n", "metadata": {}, "source": "new()", "execution_count": 1, "outputs": []}, {"cell_type": "code", "id": "b", "metadata": {}, "source": "def f():\n    return 1\n", "execution_count": 1, "outputs": []}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
    "diff": [{"op": "patch", "key": "cells", "diff": [{"op": "patch", "key": 0, "diff": [{"op": "replace", "key": "execution_count", "value": 2}, {"op": "patch", "key": "outputs", "diff": [{"op": "addrange", "key": 0, "valuelist": [{"output_type": "stream", "name": "stdout", "text": "10\n"}]}]}, {"op": "patch", "key": "source", "diff": [{"op": "patch", "key": 0, "diff": [{"op": "addrange", "key": 5, "valuelist": "0"}]}, {"op": "addrange", "key": 2, "valuelist": ["z = 3\n"]}]}]}, {"op": "addrange", "key": 1, "valuelist": [{"cell_type": "code", "id": "n", "metadata": {}, "source": "new()", "execution_count": 1, "outputs": []}]}, {"op": "removerange", "key": 2, "length": 1}]}],
    "cells": [{"status": "modified", "a_index": 0, "b_index": 0, "cell_id": "a", "cell_type": "code", "changed": ["execution_count", "outputs", "source"]}, {"status": "added", "a_index": null, "b_index": 1, "cell_id": "n", "cell_type": "code"}, {"status": "unchanged", "a_index": 1, "b_index": 2, "cell_id": "b", "cell_type": "code"}, {"status": "removed", "a_index": 2, "b_index": null, "cell_id": "c", "cell_type": "code"}]
  },
  {
    "name": "line and character changes, unicode, an error output",
    "a": {"cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# Title\nSome *text*\n"}, {"cell_type": "code", "id": "l", "metadata": {}, "source": "line0 = 0\nline1 = 1\nline2 = 2\nline3 = 3\nline4 = 4\nline5 = 5\nline6 = 6\nline7 = 7\nline8 = 8\nline9 = 9\nline10 = 10\nline11 = 11\nline12 = 12\nline13 = 13\nline14 = 14\nline15 = 15\nline16 = 16\nline17 = 17\nline18 = 18\nline19 = 19\nline20 = 20\nline21 = 21\nline22 = 22\nline23 = 23\nline24 = 24\nline25 = 25\nline26 = 26\nline27 = 27\nline28 = 28\nline29 = 29\n", "execution_count": 1, "outputs": []}, {"cell_type": "code", "id": "u", "metadata": {}, "source": "s = \"héllo wörld\"\n", "execution_count": 1, "outputs": []}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
    "b": {"cells": [{"cell_type": "markdown", "id": "m", "metadata": {}, "source": "# Title\nSome **bold** text\n"}, {"cell_type": "code", "id": "l", "metadata": {}, "source": "line0 = 0\nline1 = 1\nline3 = 3\nline4 = 4\nline5 = 5\nline6 = 6\nline7 = 7\nline8 = 8\nline9 = 9\nline10 = 10\nline11 = 11\nline12 = 12\nline13 = 13\nline14 = 14\nline15 = 1500\nline16 = 16\nline17 = 17\nline18 = 18\nline19 = 19\nline20 = 20\nline21 = 21\nline22 = 22\nline23 = 23\nline24 = 24\nline25 = 25\nline26 = 26\nline27 = 27\nline28 = 28\nline29 = 29\n", "execution_count": 1, "outputs": []}, {"cell_type": "code", "id": "u", "metadata": {}, "source": "s = \"héllo wörld 🌍\"\n", "execution_count": 3, "outputs": [{"output_type": "error", "ename": "NameError", "evalue": "name 'q' is not defined", "traceback": ["\u001b[31mNameError\u001b[0m: q"]}]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
    "diff": [{"op": "patch", "key": "cells", "diff": [{"op": "patch", "key": 0, "diff": [{"op": "patch", "key": "source", "diff": [{"op": "patch", "key": 1, "diff": [{"op": "addrange", "key": 6, "valuelist": "*bold** "}, {"op": "removerange", "key": 10, "length": 1}]}]}]}, {"op": "patch", "key": 1, "diff": [{"op": "patch", "key": "source", "diff": [{"op": "removerange", "key": 2, "length": 1}, {"op": "patch", "key": 15, "diff": [{"op": "addrange", "key": 11, "valuelist": "00"}]}]}]}, {"op": "patch", "key": 2, "diff": [{"op": "replace", "key": "execution_count", "value": 3}, {"op": "patch", "key": "outputs", "diff": [{"op": "addrange", "key": 0, "valuelist": [{"output_type": "error", "ename": "NameError", "evalue": "name 'q' is not defined", "traceback": ["\u001b[31mNameError\u001b[0m: q"]}]}]}, {"op": "patch", "key": "source", "diff": [{"op": "patch", "key": 0, "diff": [{"op": "addrange", "key": 16, "valuelist": " 🌍"}]}]}]}]}],
    "cells": [{"status": "modified", "a_index": 0, "b_index": 0, "cell_id": "m", "cell_type": "markdown", "changed": ["source"]}, {"status": "modified", "a_index": 1, "b_index": 1, "cell_id": "l", "cell_type": "code", "changed": ["source"]}, {"status": "modified", "a_index": 2, "b_index": 2, "cell_id": "u", "cell_type": "code", "changed": ["execution_count", "outputs", "source"]}]
  },
  {
    "name": "outputs replaced, an empty cell added",
    "a": {"cells": [{"cell_type": "code", "id": "p", "metadata": {}, "source": "plot()\n", "execution_count": 1, "outputs": [{"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"}, "metadata": {}}]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
    "b": {"cells": [{"cell_type": "code", "id": "p", "metadata": {}, "source": "plot()\n", "execution_count": 5, "outputs": [{"output_type": "execute_result", "data": {"text/plain": "42"}, "metadata": {}, "execution_count": 5}]}, {"cell_type": "code", "id": "q", "metadata": {}, "source": "", "execution_count": 1, "outputs": []}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
    "diff": [{"op": "patch", "key": "cells", "diff": [{"op": "patch", "key": 0, "diff": [{"op": "replace", "key": "execution_count", "value": 5}, {"op": "patch", "key": "outputs", "diff": [{"op": "addrange", "key": 0, "valuelist": [{"output_type": "execute_result", "data": {"text/plain": "42"}, "metadata": {}, "execution_count": 5}]}, {"op": "removerange", "key": 0, "length": 1}]}]}, {"op": "addrange", "key": 1, "valuelist": [{"cell_type": "code", "id": "q", "metadata": {}, "source": "", "execution_count": 1, "outputs": []}]}]}],
    "cells": [{"status": "modified", "a_index": 0, "b_index": 0, "cell_id": "p", "cell_type": "code", "changed": ["execution_count", "outputs"]}, {"status": "added", "a_index": null, "b_index": 1, "cell_id": "q", "cell_type": "code"}]
  }
];

const SNAP: ISnapshot = {
  id: '1',
  t: 1_764_280_000,
  kind: 'checkpoint',
  label: 'a',
  authors: [],
  size: 1,
  stored: 1,
  capped: false,
  executions: [],
  pinned: true,
  cells: 1
};

function result(f: IFixture): ISnapshotDiff {
  return { a: SNAP, b: { id: 'current', t: SNAP.t + 60 }, diff: f.diff, cells: f.cells };
}

describe('patchValue (nbdime patch)', () => {
  it.each(FIXTURES.map(f => [f.name, f] as [string, IFixture]))('turns a into b: %s', (_name, f) => {
    expect(patchValue(f.a, f.diff)).toEqual(f.b);
  });

  it('patches a changed line character by character', () => {
    expect(patchLine('x = 1\n', [{ op: 'addrange', key: 5, valuelist: '0' }])).toBe('x = 10\n');
    expect(patchLine('héllo🌍!', [{ op: 'removerange', key: 1, length: 1 }, { op: 'addrange', key: 5, valuelist: '🌎' }])).toBe(
      'hllo🌎🌍!'
    );
  });
});

describe('splitLines', () => {
  it('splits where Python splitlines(True) splits, keeping the ends', () => {
    expect(splitLines('a\nb\r\nc\rd')).toEqual(['a\n', 'b\r\n', 'c\r', 'd']);
    expect(splitLines('')).toEqual([]);
    expect(splitLines('x\n')).toEqual(['x\n']);
    expect(splitLines('p\u2028q\x0cr')).toEqual(['p\u2028', 'q\x0c', 'r']);
  });
});

describe('diffRows', () => {
  it('follows the server summary: one row per cell, in the newer order', () => {
    for (const f of FIXTURES) {
      const rows = diffRows(result(f), f.a);
      expect(rows.map(r => [r.status, r.cellId])).toEqual(f.cells.map(c => [c.status, c.cell_id]));
    }
  });

  it('shows added and removed cells whole, and a modified source line by line', () => {
    const f = FIXTURES[0];
    const rows = diffRows(result(f), f.a);
    const [modified, added, unchanged, removed] = rows;
    expect(modified.changed).toEqual(['execution_count', 'outputs', 'source']);
    expect(modified.lines).toEqual([
      { kind: 'removed', text: 'x = 1\n' },
      { kind: 'added', text: 'x = 10\n' },
      { kind: 'same', text: 'print(x)\n' },
      { kind: 'added', text: 'z = 3\n' },
      { kind: 'same', text: 'y = 2\n' }
    ]);
    expect(modified.outputs).toEqual({ before: [], after: [{ output_type: 'stream', name: 'stdout', text: '10\n' }] });
    expect(added.lines).toEqual([{ kind: 'added', text: 'new()' }]);
    expect(unchanged.lines).toEqual([]);
    expect(unchanged.outputs).toBeNull();
    expect(removed.lines).toEqual([{ kind: 'removed', text: 'gone\n' }]);
    expect(removed.outputs).toEqual({ before: [{ output_type: 'stream', name: 'stdout', text: 'bye\n' }], after: [] });
    expect(diffCounts(rows)).toEqual({ added: 1, removed: 1, modified: 1, unchanged: 1 });
  });

  it('folds long unchanged runs of a modified cell and keeps context around changes', () => {
    const f = FIXTURES[1];
    const long = diffRows(result(f), f.a).find(r => r.cellId === 'l');
    expect(long).toBeDefined();
    const lines = long?.lines ?? [];
    const changed = lines.filter(l => l.kind === 'added' || l.kind === 'removed');
    expect(changed).toEqual([
      { kind: 'removed', text: 'line2 = 2\n' },
      { kind: 'removed', text: 'line15 = 15\n' },
      { kind: 'added', text: 'line15 = 1500\n' }
    ]);
    const skipped = lines.filter(l => l.kind === 'skip').reduce((n, l) => n + (l.count ?? 0), 0);
    const same = lines.filter(l => l.kind === 'same').length;
    expect(skipped + same + 2).toBe(30); // every unchanged line is either shown or counted
    // line0..line4 around the first change are shown, line5..line12 folded, and so on.
    expect(lines.slice(0, 6).map(l => l.text)).toEqual(['line0 = 0\n', 'line1 = 1\n', 'line2 = 2\n', 'line3 = 3\n', 'line4 = 4\n', '']);
    expect(lines[5]).toEqual({ kind: 'skip', text: '', count: 8 });
    expect(same).toBeLessThanOrEqual(8);
  });

  it('shows a markdown cell’s changed words and an output replaced by an error', () => {
    const f = FIXTURES[1];
    const rows = diffRows(result(f), f.a);
    const md = rows.find(r => r.cellId === 'm');
    expect(md?.lines.filter(l => l.kind !== 'same')).toEqual([
      { kind: 'removed', text: 'Some *text*\n' },
      { kind: 'added', text: 'Some **bold** text\n' }
    ]);
    const u = rows.find(r => r.cellId === 'u');
    expect(u?.outputs?.after[0].output_type).toBe('error');
    expect(u?.lines.find(l => l.kind === 'added')?.text).toBe('s = "héllo wörld 🌍"\n');
  });

  it('without the older notebook, rows have statuses and added cells only', () => {
    const f = FIXTURES[2];
    const rows = diffRows(result(f), null);
    expect(rows.map(r => r.status)).toEqual(['modified', 'added']);
    expect(rows[0].lines).toEqual([]);
    expect(rows[0].outputs).toBeNull();
    expect(rows[1].lines).toEqual([]); // an empty source has no lines
  });

  it('shows outputs replaced (an image by a result)', () => {
    const f = FIXTURES[2];
    const rows = diffRows(result(f), f.a);
    expect(rows[0].changed).toEqual(['execution_count', 'outputs']);
    expect(rows[0].lines).toEqual([]);
    expect(rows[0].outputs?.before[0].output_type).toBe('display_data');
    expect(rows[0].outputs?.after[0].data).toEqual({ 'text/plain': '42' });
  });
});

describe('sourceLines and foldContext', () => {
  it('marks a replaced line as removed and added', () => {
    expect(sourceLines('a\nb\n', [{ op: 'patch', key: 1, diff: [{ op: 'addrange', key: 1, valuelist: 'c' }] }])).toEqual([
      { kind: 'same', text: 'a\n' },
      { kind: 'removed', text: 'b\n' },
      { kind: 'added', text: 'bc\n' }
    ]);
  });

  it('keeps a short cell whole and never folds a single line', () => {
    const lines = sourceLines('a\nb\nc\n', [{ op: 'addrange', key: 3, valuelist: ['d\n'] }]);
    expect(foldContext(lines)).toEqual(lines);
    const longer = sourceLines('a\nb\nc\nd\ne\n', [{ op: 'addrange', key: 5, valuelist: ['f\n'] }]);
    expect(foldContext(longer).map(l => l.kind)).toEqual(['skip', 'same', 'same', 'added']);
  });
});

describe('outputShape', () => {
  it('shows streams, results, errors without colour codes, and PNG images', () => {
    expect(outputShape({ output_type: 'stream', name: 'stderr', text: ['a', 'b'] })).toEqual({ kind: 'stream', name: 'stderr', text: 'ab' });
    expect(outputShape({ output_type: 'execute_result', data: { 'text/plain': '42' } })).toEqual({ kind: 'text', text: '42' });
    expect(
      outputShape({ output_type: 'error', ename: 'E', evalue: 'v', traceback: ['\x1b[31mE\x1b[0m: v'] })
    ).toEqual({ kind: 'error', text: 'E: v' });
    expect(outputShape({ output_type: 'error', ename: 'E', evalue: 'v', traceback: [] })).toEqual({ kind: 'error', text: 'E: v' });
    expect(outputShape({ output_type: 'display_data', data: { 'image/png': 'iVBO\nRw==', 'text/plain': '<Figure>' } })).toEqual({
      kind: 'image',
      mime: 'image/png',
      data: 'iVBORw==',
      alt: '<Figure>'
    });
  });

  it('never renders HTML, SVG or a malformed image: their text, or their names', () => {
    expect(outputShape({ output_type: 'display_data', data: { 'text/html': '<script>x()</script>', 'text/plain': 'obj' } })).toEqual({
      kind: 'text',
      text: 'obj'
    });
    expect(outputShape({ output_type: 'display_data', data: { 'image/svg+xml': '<svg onload=x()>' } })).toEqual({
      kind: 'other',
      text: '[image/svg+xml]'
    });
    expect(outputShape({ output_type: 'display_data', data: { 'image/png': '"><script>' } }).kind).toBe('other');
  });
});

describe('timeline markers', () => {
  const T = 1_764_280_000;
  const events = [
    { t: T, type: 'interview-state', state: 'live' },
    { t: T + 5, type: 'presence', status: 'away' },
    { t: T + 10, type: 'chat', from: 'a', name: 'A', text: 'hi' },
    { t: T + 50, type: 'execution' },
    { t: T + 60, type: 'joined' },
    { t: T + 70, type: 'snapshot' },
    { t: T + 80, type: 'restore' },
    { t: T + 200, type: 'left' }
  ] as unknown as ReplayEvent[];

  it('places executions, chat, state, joins/leaves and restores between start and end', () => {
    const m = markers(events, T * 1000, (T + 100) * 1000);
    expect(m.map(x => [x.kind, x.at])).toEqual([
      ['state', 0],
      ['chat', 0.1],
      ['execution', 0.5],
      ['presence', 0.6],
      ['history', 0.8],
      ['presence', 1]
    ]);
    expect(markerKind('presence')).toBeNull();
    expect(markerKind('snapshot')).toBeNull();
  });
});

describe('formatting', () => {
  it('formats sizes and durations', () => {
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(1500)).toBe('1.5 kB');
    expect(formatBytes(64 * 1024 * 1024)).toBe('67 MB');
    expect(formatDuration(0)).toBe('0:00');
    expect(formatDuration(61_500)).toBe('1:01');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
    expect(formatDuration(-5)).toBe('0:00');
  });
});
