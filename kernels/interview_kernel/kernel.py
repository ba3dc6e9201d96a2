"""The Jupyter side: an ipykernel `Kernel` that hands each request to its language's adapter."""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import signal
import sys
from types import FrameType
from typing import Any

from ipykernel.kernelbase import Kernel
from traitlets import Unicode

from . import __version__
from .adapters.base import INTERRUPTED, Adapter
from .languages import LANGUAGES, LanguageSpec, check
from .pump import CellError


def load_adapter(spec: LanguageSpec) -> Adapter:
    module_name, _, class_name = spec.adapter.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    adapter: Adapter = cls(spec)
    return adapter


class _Frontend:
    """The adapter's view of the notebook for one execute_request."""

    def __init__(self, kernel: InterviewKernel, silent: bool, allow_stdin: bool) -> None:
        self._kernel: Any = kernel  # ipykernel's messaging methods are untyped
        self._silent = silent
        self._allow_stdin = allow_stdin
        self._stdin_closed = False

    def stream(self, name: str, text: str) -> None:
        if not self._silent and text:
            self._kernel.send_response(self._kernel.iopub_socket, "stream", {"name": name, "text": text})

    def publish(self, msg_type: str, data: dict[str, Any]) -> None:
        if self._silent:
            return
        content: dict[str, Any] = {"data": data, "metadata": {}}
        if msg_type == "execute_result":
            content["execution_count"] = self._kernel.execution_count
        self._kernel.send_response(self._kernel.iopub_socket, msg_type, content)

    def input(self, prompt: str) -> str | None:
        if not self._allow_stdin or self._stdin_closed:
            return None
        try:
            self._kernel.awaiting_input = True
            value = str(self._kernel.raw_input(prompt))
        except (KeyboardInterrupt, EOFError):
            value = ""
        finally:
            self._kernel.awaiting_input = False
        if value in ("", "\x04"):
            self._stdin_closed = True
            return None
        return value


class InterviewKernel(Kernel):
    """One kernel class for every language; `language` picks the adapter."""

    implementation = "interview_kernel"
    implementation_version = __version__
    language = Unicode("javascript", config=True, help="Which interview language this kernel runs.")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.awaiting_input = False
        if self.language not in LANGUAGES:
            raise SystemExit(
                f"interview_kernel: unknown language {self.language!r}; known: {', '.join(LANGUAGES)}"
            )
        # Before any child starts: IPKernelApp set SIGINT to "ignore", which children would inherit, and a
        # shell that starts with SIGINT ignored cannot trap it.
        signal.signal(signal.SIGINT, self._on_sigint)
        self.spec = LANGUAGES[self.language]
        self.availability = check(self.spec)
        self.adapter = load_adapter(self.spec)
        if not self.availability.ok:
            # Said at start (the server's log) and again at every execution (the notebook).
            print(
                f"interview_kernel: {self.spec.display_name} is unavailable: {self.availability.reason}",
                file=sys.__stderr__,
            )
            self.language_info = self.spec.language_info("unavailable")
            self.banner = f"{self.spec.display_name} (unavailable: {self.availability.reason})"
        else:
            self.language_info = self.spec.language_info(self.adapter.version)
            self.banner = self.adapter.banner()
            self.adapter.start()
        # A kernel that exits without a shutdown_request (SIGTERM, end of input) still removes its scratch
        # folder and its language's processes; only SIGKILL leaves them (the sandbox's /tmp goes with it).
        atexit.register(self.adapter.shutdown)
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))

    @property
    def kernel_info(self) -> dict[str, Any]:
        info: dict[str, Any] = super().kernel_info
        # ipykernel advertises its Python debugger whenever debugpy is importable; no adapter has one.
        info["supported_features"] = [f for f in info.get("supported_features", []) if f != "debugger"]
        return info

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        # Signal-mode interrupts (SIGINT to the kernel's group) land here too: pass them to the adapter.
        self.adapter.interrupt()
        if self.awaiting_input:
            raise KeyboardInterrupt

    def _send_interrupt_children(self) -> None:
        # interrupt_mode "message": the control thread asks; the adapter stops the program, not the kernel.
        self.adapter.interrupt()
        if self.awaiting_input:
            # ipykernel's input wait ends only on a reply or a KeyboardInterrupt in the shell thread.
            os.kill(os.getpid(), signal.SIGINT)

    async def do_execute(
        self,
        code: str,
        silent: bool,
        store_history: bool = True,
        user_expressions: dict[str, Any] | None = None,
        allow_stdin: bool = False,
        *,
        cell_meta: dict[str, Any] | None = None,
        cell_id: str | None = None,
    ) -> dict[str, Any]:
        self._allow_stdin = allow_stdin  # what raw_input() checks, as ipykernel's own kernel sets it
        if not self.availability.ok:
            error: CellError | None = CellError(
                "ToolchainMissing", f"{self.spec.display_name} cannot run here: {self.availability.reason}"
            )
        else:
            # An interrupt from here on is for this cell, even one that comes while the adapter still starts.
            self.adapter.cancel.clear()
            try:
                error = self.adapter.execute(code, _Frontend(self, silent, allow_stdin), self.execution_count)
            except KeyboardInterrupt:  # an interrupt that landed just outside an input request
                error = INTERRUPTED
            except Exception as exc:
                self.log.exception("adapter failed")
                error = CellError("KernelError", f"{type(exc).__name__}: {exc}", [])
        if error is None:
            return {
                "status": "ok",
                "execution_count": self.execution_count,
                "payload": [],
                "user_expressions": {},
            }
        content = {
            "ename": error.ename,
            "evalue": error.evalue,
            "traceback": error.traceback or [f"{error.ename}: {error.evalue}"],
        }
        if not silent:
            kernel: Any = self
            kernel.send_response(self.iopub_socket, "error", content)
        return {"status": "error", "execution_count": self.execution_count, **content}

    async def do_complete(self, code: str, cursor_pos: int | None) -> dict[str, Any]:
        cursor = len(code) if cursor_pos is None else cursor_pos
        matches, start, end = self.adapter.complete(code, cursor)
        return {"status": "ok", "matches": matches, "cursor_start": start, "cursor_end": end, "metadata": {}}

    async def do_is_complete(self, code: str) -> dict[str, Any]:
        status, indent = self.adapter.is_complete(code)
        return {"status": status, "indent": indent} if status == "incomplete" else {"status": status}

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        self.adapter.shutdown()
        # The IPython folder __main__ made for a read-only HOME: removed here too, since ipykernel's own
        # shutdown can stall after this reply and the kernel then gets killed before its atexit handlers run.
        ipython_dir = os.environ.get("IPYTHONDIR", "")
        if os.path.basename(ipython_dir).startswith("interview-ipython-"):
            shutil.rmtree(ipython_dir, ignore_errors=True)
        return {"status": "ok", "restart": restart}
