"""Benchmark: what history costs — a snapshot, a replay frame, and the store's growth while a cell streams.

In process, with the real classes (`rooms.history.HistoryStore`, `DocTracker`, jupyter_ydoc's
YNotebook over a pycrdt document as jupyter-collaboration holds it, a SQLite file on disk):

1. Snapshot cost for a 100-cell notebook whose one cell changes between snapshots, against a plain
   `json.dumps` of the same notebook (the cheapest way to serialise it at all), and against writing
   that JSON as a blob into SQLite. Reports medians over rounds and ratios.
2. Store growth during one simulated hour of a cell streaming output (a line every 0.5 s, appended to
   the output's text as JupyterLab appends stream output), with the recorder's default cadence: a
   replay frame per second, a snapshot every 30 s while the notebook changes. The baseline in the
   same run is jupyter-collaboration's own update store (pycrdt's SQLiteYStore, in WAL mode as
   InterviewApp sets it) fed the same updates.
   Target: history under 10x the notebook's size after the hour.
3. The same hour with outputs rewritten instead of appended (a progress bar redrawn, as
   `clear_output(wait=True)` does): the case behind jupyter-collaboration's issue #315.

Run: .venv/bin/python bench/bench_history.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from jupyter_ydoc import YNotebook
from pycrdt import Doc, Map, Text

from jupyter_interview.rooms import history as h

TARGET_RATIO = 10.0


def notebook(cells: int, rng: random.Random) -> dict[str, Any]:
    """A plausible interview notebook: code with short outputs, some markdown."""
    out = []
    for i in range(cells):
        if i % 5 == 0:
            out.append(
                {"cell_type": "markdown", "id": f"m{i}", "metadata": {}, "source": f"## Part {i}\nExplain.\n"}
            )
            continue
        lines = [
            f"def step_{i}(xs):",
            *(f"    v{j} = sum(x * {j} for x in xs)" for j in range(3)),
            "    return v2",
        ]
        out.append(
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": {},
                "source": "\n".join(lines) + "\n",
                "execution_count": i,
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": f"{rng.random():.12f}\n" * 3},
                    {
                        "output_type": "execute_result",
                        "execution_count": i,
                        "data": {"text/plain": str([rng.randint(0, 999) for _ in range(8)])},
                        "metadata": {},
                    },
                ],
            }
        )
    return {
        "cells": out,
        "metadata": {"kernelspec": {"name": "interview-python", "display_name": "Python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def live_doc(nb: dict[str, Any]) -> tuple[Doc[Any], YNotebook]:
    doc: Doc[Any] = Doc()
    ynb = YNotebook(doc)
    ynb.set(nb)
    return doc, ynb


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def snapshot_cost(rounds: int, workdir: Path) -> dict[str, Any]:
    rng = random.Random(1)
    nb = notebook(100, rng)
    doc, ynb = live_doc(nb)
    store = h.HistoryStore(str(workdir / "snap.sqlite"))
    await store.open()
    plain = sqlite3.connect(str(workdir / "plain.sqlite"), isolation_level=None)
    plain.execute("PRAGMA journal_mode=WAL")
    plain.execute("PRAGMA synchronous=NORMAL")
    plain.execute("CREATE TABLE s (t REAL, body BLOB)")
    dumps, blob, convert, snap, stored = [], [], [], [], []
    for i in range(rounds):
        # One keystroke-sized change between snapshots.
        text = ynb.ycells[1 + (i % 90)]["source"]
        text.insert(len(text), "#")
        t0 = time.perf_counter()
        current = h.notebook_from_update(doc.get_update())
        t1 = time.perf_counter()
        info = await store.add_snapshot("r", current, t=float(i), kind="auto")
        t2 = time.perf_counter()
        data = json.dumps(current)
        t3 = time.perf_counter()
        plain.execute("INSERT INTO s VALUES (?, ?)", (float(i), data.encode()))
        t4 = time.perf_counter()
        assert info is not None
        convert.append(t1 - t0)
        snap.append(t2 - t1)
        dumps.append(t3 - t2)
        blob.append(t4 - t2)
        stored.append(info.stored)
    # A replay frame after each keystroke: the tracker's coalesced update, then its row.
    tracker = h.DocTracker(doc, object())
    tracker.take_frame()
    frame, frame_bytes = [], []
    for i in range(rounds * 5):
        text = ynb.ycells[1 + (i % 90)]["source"]
        text.insert(len(text), "#")
        t0 = time.perf_counter()
        taken = tracker.take_frame()
        assert taken is not None
        await store.add_frame("r", float(i), taken[0], taken[1])
        frame.append(time.perf_counter() - t0)
        frame_bytes.append(len(taken[1]))
    size = len(json.dumps(h.notebook_from_update(doc.get_update())))
    await store.close()
    plain.close()
    tracker.close()
    return {
        "cells": 100,
        "notebook_bytes": size,
        "json_dumps_ms": median_ms(dumps),
        "json_into_sqlite_ms": median_ms(blob),
        "live_doc_to_json_ms": median_ms(convert),
        "add_snapshot_ms": median_ms(snap),
        "snapshot_total_ms": median_ms([a + b for a, b in zip(convert, snap, strict=True)]),
        "frame_ms": median_ms(frame),
        "bytes_per_frame": statistics.median(frame_bytes),
        "bytes_per_snapshot": statistics.median(stored),
        "snapshot_vs_dumps": median_ms(snap) / median_ms(dumps),
        "snapshot_vs_sqlite_blob": median_ms(snap) / median_ms(blob),
    }


async def ystore_baseline(updates: list[bytes], path: Path) -> int:
    from pycrdt.store import SQLiteYStore

    class Store(SQLiteYStore):  # type: ignore[misc]
        db_path = str(path)

    from anyio import create_task_group

    # As InterviewApp configures it at start (collab.use_wal): WAL, one append per commit.
    conn = sqlite3.connect(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    async with create_task_group() as tg:
        ystore = Store(path="notebook")
        await tg.start(ystore.start)
        for update in updates:
            await ystore.write(update)
        await ystore.stop()
    return file_bytes(path)


def file_bytes(path: Path) -> int:
    """A SQLite file with its WAL checkpointed in: what it holds on disk."""
    conn = sqlite3.connect(str(path))
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return sum(os.path.getsize(p) for p in (str(path), f"{path}-wal") if os.path.exists(p))


async def streaming_hour(mode: str, seconds: int, workdir: Path) -> dict[str, Any]:
    """One simulated hour: a line of output every 0.5 s, appended (stream) or redrawn (rewrite)."""
    rng = random.Random(2)
    nb = notebook(20, rng)
    nb["cells"][3]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ""}]
    doc, ynb = live_doc(nb)
    updates: list[bytes] = []
    sub = doc.observe(lambda e: updates.append(e.update))
    store = h.HistoryStore(str(workdir / f"history-{mode}.sqlite"))
    await store.open()
    tracker = h.DocTracker(doc, object())
    started = time.perf_counter()
    snapshot_every, last_snapshot = 30.0, -30.0
    cell = ynb.ycells[3]
    for tick in range(seconds * 2):
        t = tick / 2
        line = f"epoch {tick // 100} step {tick}: loss={rng.random():.6f} acc={rng.random():.4f}\n"
        if mode == "stream":
            out = cell["outputs"][0]["text"]
            out.insert(len(out), line)
        else:
            bar = "#" * (tick * 40 // (seconds * 2)) + f" {tick}/{seconds * 2} " + line
            with doc.transaction():
                cell["outputs"].clear()
                cell["outputs"].append(Map({"output_type": "stream", "name": "stdout", "text": Text(bar)}))
        if tick % 2 == 1:  # a frame per second
            taken = tracker.take_frame()
            if taken is not None:
                await store.add_frame("r", t, taken[0], taken[1])
            if tracker.changed_since_snapshot and t - last_snapshot >= snapshot_every:
                tracker.changed_since_snapshot = False
                last_snapshot = t
                await store.add_snapshot(
                    "r", h.notebook_from_update(doc.get_update()), t=t, kind="auto", skip_if_unchanged=True
                )
    recorded_s = time.perf_counter() - started
    doc.unobserve(sub)
    usage = await store.room_bytes("r")
    snapshots = len(await store.list_snapshots("r"))
    frames = await store.list_frames("r")
    # The replay still rebuilds the last moment exactly.
    rebuilt = h.notebook_at(frames, float(seconds))
    assert rebuilt is not None and rebuilt[0] == ynb.get(deduplicate=False)
    await store.close()
    tracker.close()
    notebook_bytes = len(json.dumps(ynb.get()))
    history_content = sum(usage.values())
    history_file = file_bytes(workdir / f"history-{mode}.sqlite")
    ystore_file = await ystore_baseline(updates, workdir / f"ystore-{mode}.db")
    return {
        "mode": mode,
        "simulated_s": seconds,
        "updates": len(updates),
        "update_bytes": sum(len(u) for u in updates),
        "notebook_bytes": notebook_bytes,
        "history_content_bytes": history_content,
        "history_file_bytes": history_file,
        "history_parts": usage,
        "snapshots": snapshots,
        "frames": len(frames),
        "ystore_file_bytes": ystore_file,
        "history_vs_notebook": history_file / notebook_bytes,
        "ystore_vs_notebook": ystore_file / notebook_bytes,
        "history_vs_ystore": history_file / ystore_file,
        "recording_cpu_s": recorded_s,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds, a simulated 10 minutes")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    rounds = 30 if args.quick else 200
    seconds = 600 if args.quick else 3600
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        workdir = Path(tmp)
        cost = await snapshot_cost(rounds, workdir)
        stream = await streaming_hour("stream", seconds, workdir)
        rewrite = await streaming_hour("rewrite", seconds, workdir)
    print(f"# history benchmark ({platform.python_version()}, {os.cpu_count()} CPUs)")
    print(
        f"\n## snapshot of a 100-cell notebook ({cost['notebook_bytes']} B JSON), median of {rounds} rounds"
    )
    for key in (
        "json_dumps_ms",
        "json_into_sqlite_ms",
        "live_doc_to_json_ms",
        "add_snapshot_ms",
        "snapshot_total_ms",
        "frame_ms",
    ):
        print(f"  {key:24s} {cost[key]:8.3f}")
    print(
        f"  bytes stored per snapshot {cost['bytes_per_snapshot']:.0f}, per keystroke frame {cost['bytes_per_frame']:.0f}"
    )
    print(f"  add_snapshot / json.dumps      {cost['snapshot_vs_dumps']:.1f}x")
    print(f"  add_snapshot / JSON into SQLite {cost['snapshot_vs_sqlite_blob']:.2f}x")
    for run in (stream, rewrite):
        hours = run["simulated_s"] / 3600
        print(
            f"\n## {run['mode']}: {run['simulated_s']} s simulated ({hours:.2f} h), {run['updates']} updates"
        )
        print(f"  notebook at the end          {run['notebook_bytes']:>10d} B")
        print(
            f"  history (file)               {run['history_file_bytes']:>10d} B  = {run['history_vs_notebook']:.1f}x notebook"
        )
        print(f"  history (content)            {run['history_content_bytes']:>10d} B  {run['history_parts']}")
        print(
            f"  ystore baseline (file)       {run['ystore_file_bytes']:>10d} B  = {run['ystore_vs_notebook']:.1f}x notebook"
        )
        print(f"  history / ystore             {run['history_vs_ystore']:.2f}x")
        print(
            f"  snapshots {run['snapshots']}, frames {run['frames']}, recording took {run['recording_cpu_s']:.1f} s"
        )
    met = stream["history_vs_notebook"] < TARGET_RATIO
    print(
        f"\ntarget: streaming history under {TARGET_RATIO:.0f}x the notebook: {'met' if met else 'NOT met'}"
    )
    if args.json:
        Path(args.json).write_text(  # noqa: ASYNC240 - once, at the end
            json.dumps({"snapshot": cost, "stream": stream, "rewrite": rewrite}, indent=1)
        )


if __name__ == "__main__":
    asyncio.run(main())
