"""Benchmark instrumentation, loaded into a server under test by `bench_signaling.py --gc-trace`.

Put on the server's PYTHONPATH, it times every garbage collection (gc.callbacks) and appends
`start_ns duration_ns generation` lines, on the perf_counter clock the load client also uses, to
the file named by BENCH_GC_TRACE. A daemon thread writes twice a second, so the callback itself
only appends to a list.
"""

from __future__ import annotations

import gc
import os
import threading
import time

_path = os.environ.get("BENCH_GC_TRACE")
if _path:
    _events: list[tuple[int, int, int]] = []
    _start = [0]

    def _on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            _start[0] = time.perf_counter_ns()
        else:
            _events.append((_start[0], time.perf_counter_ns() - _start[0], info["generation"]))

    def _flush() -> None:
        while True:
            time.sleep(0.5)
            if _events:
                batch = _events[:]
                del _events[: len(batch)]
                with open(f"{_path}.{os.getpid()}", "a", encoding="ascii") as f:
                    f.writelines(f"{s} {d} {g}\n" for s, d, g in batch)

    gc.callbacks.append(_on_gc)
    threading.Thread(target=_flush, name="bench-gc-trace", daemon=True).start()
