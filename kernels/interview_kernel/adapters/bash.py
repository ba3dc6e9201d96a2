"""Bash: one persistent `bash` that sources each cell from a file, with a sentinel event for its end and
exit status (drivers/bash_driver.sh)."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from pathlib import Path
from typing import Any

from ..languages import LanguageSpec
from .repl import ReplAdapter

_DRIVER = Path(__file__).resolve().parent.parent / "drivers" / "bash_driver.sh"
_STATUS_NAMES = {126: "not executable", 127: "command not found", 130: "interrupted"}


class BashAdapter(ReplAdapter):
    def __init__(self, spec: LanguageSpec) -> None:
        super().__init__(spec)
        self._chain: list[list[str]] = []
        self._last_chain: list[list[str]] = []
        self._count = 0

    def driver_argv(self, cmd_fd: int, evt_fd: int) -> list[str]:
        # The shell reads its commands from the command pipe as a script; its stdin stays free for cells.
        return ["bash", "--noprofile", "--norc", f"/proc/self/fd/{cmd_fd}"]

    def hello(self, evt_fd: int) -> str:
        return f"__interview_ev={evt_fd}; builtin source {shlex.quote(str(_DRIVER))}\n"

    def exec_command(self, fifo: str, code: str, count: int) -> bytes:
        self._count = count
        self._chain, self._last_chain = [], []
        cell = self.scratch / f"cell-{count}.sh"
        cell.write_text(code if code.endswith("\n") else code + "\n")
        return (
            f"__interview_interrupted=; builtin source {shlex.quote(str(cell))} < {shlex.quote(fifo)}; "
            "__interview_done $?\n"
        ).encode()

    def complete_command(self, code: str, cursor: int) -> bytes:
        word = re.search(r"[\w./-]*$", code[:cursor])
        self._prefix = word.group(0) if word else ""
        return f"__interview_complete {shlex.quote(self._prefix)}\n".encode()

    def parse_event(self, line: str) -> list[dict[str, Any]]:
        kind, _, rest = line.partition(" ")
        if kind == "ready":
            return [{"ev": "ready"}]
        if kind == "completions":
            matches = [m for m in rest.split("\x1f") if m]
            cursor_word = getattr(self, "_prefix", "")
            return [{"ev": "completions", "matches": matches, "start": -len(cursor_word), "end": 0}]
        if kind == "err":
            fields = ([*rest.split("\x1f"), "", "", "", "", ""])[:5]
            sources = fields[2].split()
            if not sources or self._label(sources[0]) is None:
                return []  # the kernel's own `source` line failing, not a command of the cell
            self._chain.append(fields)
            functions = fields[4].split()
            if not functions or functions[0] == "source":  # a command at the cell's top level failed
                self._last_chain, self._chain = self._chain, []
            return []
        if kind == "done":
            status = int(rest.strip() or 0)
            events: list[dict[str, Any]] = []
            if status != 0:
                events.append(self._error(status))
            return [*events, {"ev": "done"}]
        return []

    def _error(self, status: int) -> dict[str, Any]:
        if status == 130:
            return {
                "ev": "error",
                "ename": "KeyboardInterrupt",
                "evalue": "interrupted by the user",
                "traceback": [],
            }
        evalue = f"exit status {status}"
        if status in _STATUS_NAMES:
            evalue += f" ({_STATUS_NAMES[status]})"
        frames: list[str] = []
        if self._last_chain:
            # The first record of the chain is the innermost failing command; its arrays hold the call stack.
            _, lineno, sources, callers, functions = self._last_chain[0]
            files = sources.split()
            lines = [lineno, *callers.split()]
            names = functions.split()
            for depth, source in enumerate(files):
                label = self._label(source)
                if label is None:
                    continue
                name = names[depth] if depth < len(names) and names[depth] != "source" else ""
                where = f"{label}:{lines[depth]}" if depth < len(lines) else label
                frames.append(f"  at {name} ({where})" if name else f"  at {where}")
        return {
            "ev": "error",
            "ename": "BashError",
            "evalue": evalue,
            "traceback": [f"BashError: {evalue}", *frames],
        }

    def _label(self, source: str) -> str | None:
        match = re.fullmatch(re.escape(str(self.scratch)) + r"/cell-(\d+)\.sh", source)
        if match is None:
            return None
        number = int(match.group(1))
        return "cell" if number == self._count else f"cell[{number}]"

    def rewrite(self, text: str) -> str:
        return re.sub(
            re.escape(str(self.scratch)) + r"/cell-(\d+)\.sh",
            lambda m: self._label(m.group(0)) or m.group(0),
            text,
        )

    def stop_running_cell(self, proc: subprocess.Popen[bytes]) -> None:
        # Each SIGINT returns from one function level; the pump repeats it until the cell file has returned.
        try:
            os.killpg(proc.pid, signal.SIGINT)  # the shell and the command it waits for
        except ProcessLookupError:
            pass
