"""The adapter contract between the generic kernel and one language, and the pieces adapters share."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from ..languages import LanguageSpec, toolchain_version
from ..pump import CellError, Frontend

_SETPRIV = shutil.which("setpriv")

INTERRUPTED = CellError(
    "KeyboardInterrupt", "interrupted by the user", ["KeyboardInterrupt: interrupted by the user"]
)


class Adapter:
    """Runs one language's cells. The kernel calls execute() on its shell thread, and interrupt() from its
    control thread while execute() runs."""

    def __init__(self, spec: LanguageSpec, log: logging.Logger | None = None) -> None:
        self.spec = spec
        self.log = log or logging.getLogger("interview_kernel")
        # Private scratch space: /tmp is private and writable in the sandbox, HOME may not be.
        self.scratch = Path(tempfile.mkdtemp(prefix=f"interview-{spec.name}-"))
        self.cancel = threading.Event()
        self.env = self.child_env()
        self._version: str | None = None

    def child_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("LANG", "C.UTF-8")
        if not _writable(env.get("HOME")):
            env["HOME"] = str(self.scratch)
        env.setdefault("TMPDIR", str(self.scratch))
        return env

    @property
    def version(self) -> str:
        if self._version is None:
            self._version = toolchain_version(self.spec, self.env)
        return self._version

    def banner(self) -> str:
        return f"{self.spec.display_name} {self.version} (interview kernel)"

    def start(self) -> None:
        """Starts what later cells need (a REPL process, a warm compiler); must return quickly."""

    def execute(self, code: str, frontend: Frontend, count: int) -> CellError | None:
        raise NotImplementedError

    def interrupt(self) -> None:
        self.cancel.set()

    def shutdown(self) -> None:
        """Idempotent: called by do_shutdown and again at exit."""
        shutil.rmtree(self.scratch, ignore_errors=True)

    def complete(self, code: str, cursor: int) -> tuple[list[str], int, int]:
        """Keywords and the cell's own words that start with the word at the cursor."""
        start = cursor
        while start > 0 and (code[start - 1].isalnum() or code[start - 1] in "_$"):
            start -= 1
        prefix = code[start:cursor]
        if not prefix:
            return [], cursor, cursor
        words = set(self.spec.keywords) | set(re.findall(r"[A-Za-z_$][\w$]*", code))
        words.discard(prefix)
        return sorted(w for w in words if w.startswith(prefix)), start, cursor

    def is_complete(self, code: str) -> tuple[str, str]:
        """("complete" | "incomplete", indent) by bracket balance; good enough for a console."""
        depth = 0
        for ch in _strip_strings(code):
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth -= 1
        if depth > 0:
            return "incomplete", "    "
        return "complete", ""


def _strip_strings(code: str) -> str:
    return re.sub(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|//[^\n]*|#[^\n]*", "", code)


def _writable(path: str | None) -> bool:
    return bool(path) and os.path.isdir(path or "") and os.access(path or "", os.W_OK)


def spawn(
    argv: Sequence[str],
    env: dict[str, str],
    *,
    stdin: int | None = None,
    pass_fds: Sequence[int] = (),
    cwd: str | None = None,
) -> subprocess.Popen[bytes]:
    """A child in its own session, so that an interrupt can signal its whole process group and nothing
    the kernel's own group receives reaches it. It gets SIGKILL when the kernel thread that started it
    dies (setpriv --pdeathsig), so a kernel killed outright leaves no running program behind."""
    prefix = [_SETPRIV, "--pdeathsig", "KILL"] if _SETPRIV else []
    return subprocess.Popen(
        [*prefix, *argv],
        stdin=stdin if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        pass_fds=tuple(pass_fds),
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_tool(
    argv: Sequence[str], env: dict[str, str], cwd: Path, cancel: threading.Event, timeout: float = 120
) -> tuple[int, str]:
    """Runs a compiler to completion (killed on interrupt) and returns its status and merged output."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    waiter = threading.Thread(target=_kill_on_cancel, args=(proc, cancel), daemon=True)
    waiter.start()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, _ = proc.communicate()
    return proc.returncode, out.decode(errors="replace")


def _kill_on_cancel(proc: subprocess.Popen[bytes], cancel: threading.Event) -> None:
    while proc.poll() is None:
        if cancel.wait(0.05):
            kill_group(proc)
            return


def rewrite_paths(text: str, path: str, label: str, line_offset: int = 0) -> str:
    """Replaces a source path by the cell's label and shifts its line numbers by line_offset (for code
    the adapter prepended), in forms like path:12:5, path:12 and "path", line 12."""
    if line_offset == 0:
        return text.replace(path, label)

    def shift(match: re.Match[str]) -> str:
        return f"{label}:{max(1, int(match.group(1)) - line_offset)}"

    text = re.sub(re.escape(path) + r":(\d+)", shift, text)
    return text.replace(path, label)
