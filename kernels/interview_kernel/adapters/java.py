"""Java: a JVM running the JShell API with in-process execution (drivers/InterviewShell.java)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .repl import ReplAdapter

_DRIVER = Path(__file__).resolve().parent.parent / "drivers" / "InterviewShell.java"

# Small, fixed reservations so the JVM starts under an address-space limit (RLIMIT_AS) in the sandbox; C1
# only, which halves JShell's compile time per snippet; no perf data file in /tmp.
JVM_OPTIONS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-Xshare:auto",
    "-Xss8m",
    "-Xmx512m",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:MaxMetaspaceSize=256m",
    "-XX:CompressedClassSpaceSize=64m",
)


class JavaAdapter(ReplAdapter):
    def driver_argv(self, cmd_fd: int, evt_fd: int) -> list[str]:
        # Source-file mode compiles the driver in memory at start: nothing is written next to it.
        return ["java", *JVM_OPTIONS, str(_DRIVER), str(cmd_fd), str(evt_fd)]

    def stop_running_cell(self, proc: subprocess.Popen[bytes]) -> None:
        # SIGINT would end the JVM: JShell stops the running snippet itself.
        self.send("interrupt", "")
