"""Java: a JVM running the JShell API with in-process execution (drivers/InterviewShell.java)."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from .repl import ReplAdapter

_DRIVER = Path(__file__).resolve().parent.parent / "drivers" / "InterviewShell.java"

# Small, fixed reservations so that the JVM (with javac inside, for JShell) starts under a 1 GB address-space
# limit (RLIMIT_AS) in the sandbox, with MALLOC_ARENA_MAX=2 below: 256 MB of heap, 4 MB thread stacks (a
# recursion 20,000 deep fits). C1 only, which halves JShell's compile time per snippet; no perf data file in
# /tmp. INTERVIEW_KERNEL_JVM_OPTIONS adds options (later ones win, e.g. -Xmx1g).
JVM_OPTIONS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:-UsePerfData",
    "-Xshare:auto",
    "-Xss4m",
    "-Xmx256m",
    "-XX:ReservedCodeCacheSize=64m",
    "-XX:MaxMetaspaceSize=256m",
    "-XX:CompressedClassSpaceSize=64m",
)


class JavaAdapter(ReplAdapter):
    def child_env(self) -> dict[str, str]:
        # glibc reserves 64 MB of address space per thread arena; the JVM runs dozens of threads.
        return {**super().child_env(), "MALLOC_ARENA_MAX": "2"}

    def driver_argv(self, cmd_fd: int, evt_fd: int) -> list[str]:
        extra = shlex.split(self.env.get("INTERVIEW_KERNEL_JVM_OPTIONS", ""))
        # Source-file mode compiles the driver in memory at start: nothing is written next to it.
        return ["java", *JVM_OPTIONS, *extra, str(_DRIVER), str(cmd_fd), str(evt_fd)]

    def stop_running_cell(self, proc: subprocess.Popen[bytes]) -> None:
        # SIGINT would end the JVM: JShell stops the running snippet itself.
        self.send("interrupt", "")
