"""JavaScript and TypeScript: one Node process holding a vm context for the whole session (drivers/node_driver.js)."""

from __future__ import annotations

from pathlib import Path

from ..languages import typescript_path
from .repl import ReplAdapter

_DRIVER = Path(__file__).resolve().parent.parent / "drivers" / "node_driver.js"


class NodeAdapter(ReplAdapter):
    def driver_argv(self, cmd_fd: int, evt_fd: int) -> list[str]:
        argv = ["node", str(_DRIVER), str(cmd_fd), str(evt_fd), self.spec.name]
        ts = typescript_path()
        if ts is not None:
            # JavaScript uses it too, to let a cell's top-level let/const/class be declared again.
            argv.append(str(ts))
        return argv

    def banner(self) -> str:
        if self.spec.name == "typescript":
            return f"TypeScript {self.version} on Node.js (interview kernel)"
        return super().banner()
