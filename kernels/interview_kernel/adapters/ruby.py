"""Ruby: one `ruby` process evaluating every cell in the same binding (drivers/ruby_driver.rb)."""

from __future__ import annotations

from pathlib import Path

from .repl import ReplAdapter

_DRIVER = Path(__file__).resolve().parent.parent / "drivers" / "ruby_driver.rb"


class RubyAdapter(ReplAdapter):
    def driver_argv(self, cmd_fd: int, evt_fd: int) -> list[str]:
        # --disable-gems: RubyGems' start-up scan costs ~50 ms and the standard library needs none.
        return ["ruby", "--disable-gems", str(_DRIVER), str(cmd_fd), str(evt_fd)]
