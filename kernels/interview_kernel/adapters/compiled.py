"""C, C++, Go and Rust: every cell is a whole program, compiled and run on its own.

Diagnostics and runtime traces name the source `cell` with the cell's own line numbers. A failing run
becomes an error reply: the panic or fatal signal with the frames that lie in the cell.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path

from ..languages import LanguageSpec
from ..pump import CellError, Channels, Frontend, OutputSink, pump
from ..stdin import StdinFeed
from .base import INTERRUPTED, Adapter, kill_group, rewrite_paths, run_tool, spawn

_DRIVERS = Path(__file__).resolve().parent.parent / "drivers"
# The precompiled header takes about 140 MB; it is built only where /tmp has this much room.
_PCH_MIN_FREE = 1 << 30


class CompiledAdapter(Adapter):
    source_name = "cell"
    crash: re.Pattern[str] | None = None

    def __init__(self, spec: LanguageSpec) -> None:
        super().__init__(spec)
        self.build = self.scratch / "build"
        self.build.mkdir()
        self._ready = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    # -- per language ---------------------------------------------------------------------------------------
    def prepare(self, code: str) -> tuple[str, int]:
        """The source to compile and how many lines were put before the cell's first line."""
        return code, 0

    def compile_argv(self, source: Path, exe: Path) -> list[str]:
        raise NotImplementedError

    def clean_diagnostics(self, text: str) -> str:
        return text

    def warm_up(self) -> None:
        """Runs in a background thread at kernel start; execute() waits for it."""

    def warm_up_later(self) -> None:
        """Runs after warm_up in the same thread; execute() does not wait for it."""

    # -- shared ---------------------------------------------------------------------------------------------
    def start(self) -> None:
        threading.Thread(target=self._warm, name="warm-up", daemon=True).start()

    def _warm(self) -> None:
        try:
            self.warm_up()
        except Exception:  # a failed warm-up only costs time; the cell reports real errors
            self.log.exception("warm-up failed")
        finally:
            self._ready.set()
        try:
            self.warm_up_later()
        except Exception:
            self.log.exception("warm-up failed")

    def rewrite(self, text: str, offset: int) -> str:
        source = str(self.build / self.source_name)
        text = rewrite_paths(text, source, "cell", offset)
        return rewrite_paths(text, self.source_name, "cell", offset)

    def execute(self, code: str, frontend: Frontend, count: int) -> CellError | None:
        self._ready.wait()
        with self._lock:
            if self.cancel.is_set():
                return INTERRUPTED
            if not code.strip():
                return None
            source_text, offset = self.prepare(code)
            source = self.build / self.source_name
            exe = self.build / "prog"
            source.write_text(source_text)
            if exe.exists():
                exe.unlink()
            status, output = run_tool(self.compile_argv(source, exe), self.env, self.build, self.cancel)
            if self.cancel.is_set():
                return INTERRUPTED
            output = self.rewrite(self.clean_diagnostics(output), offset)
            if status != 0 or not exe.exists():
                return compile_error(output, status)
            if output.strip():
                frontend.stream("stderr", output)
            return self._run(exe, frontend, offset)

    def _run(self, exe: Path, frontend: Frontend, offset: int) -> CellError | None:
        feed, read_end = StdinFeed.pipe()
        try:
            proc = spawn([str(exe)], self.run_env(), stdin=read_end, cwd=os.getcwd())
        finally:
            os.close(read_end)
        self._proc = proc
        assert proc.stdout is not None and proc.stderr is not None
        channels = Channels(proc.stdout.fileno(), proc.stderr.fileno())
        sink = OutputSink(frontend, lambda text: self.rewrite(text, offset), self.crash)
        try:
            pump(frontend, sink, channels, cancel=self.cancel, proc=proc, stdin=feed, roots=[proc.pid])
        finally:
            kill_group(proc)  # whatever it left running in its group
            proc.wait()
            feed.close()
            proc.stdout.close()
            proc.stderr.close()
            self._proc = None
        if self.cancel.is_set():
            return INTERRUPTED
        if proc.returncode == 0:
            if sink.crash_text:
                sink.release_crash_text()
            return None
        return self.runtime_error(sink.crash_text, proc.returncode, exe, offset)

    def run_env(self) -> dict[str, str]:
        return self.env

    def runtime_error(self, crash: str, status: int, exe: Path, offset: int) -> CellError:
        lines = [line for line in crash.splitlines() if line.strip()]
        if status < 0:
            name = signal.Signals(-status).name
            return CellError(name, f"the program was killed by {name} ({signal.strsignal(-status)})", lines)
        return CellError("ExitStatus", f"the program exited with status {status}", lines)

    def interrupt(self) -> None:
        self.cancel.set()
        proc = self._proc
        if proc is not None:
            kill_group(proc)

    def shutdown(self) -> None:
        self.interrupt()
        super().shutdown()


def compile_error(output: str, status: int) -> CellError:
    lines = output.rstrip().splitlines()
    first = next((line for line in lines if re.search(r"\berror\b", line)), lines[0] if lines else "")
    return CellError("CompileError", first.strip() or f"the compiler exited with status {status}", lines)


class _GccFamily(CompiledAdapter):
    compiler = "gcc"
    std = "-std=gnu17"
    crash = re.compile(r"^(terminate called|\*\*\* interview-kernel: fatal signal)", re.MULTILINE)
    extra_libs: tuple[str, ...] = ()

    def warm_up(self) -> None:
        run_tool(
            ["gcc", "-c", "-O1", "-o", str(self.scratch / "crash.o"), str(_DRIVERS / "crash.c")],
            self.env,
            self.scratch,
            threading.Event(),
        )

    def compile_argv(self, source: Path, exe: Path) -> list[str]:
        crash_obj = self.scratch / "crash.o"
        extra = [str(crash_obj)] if crash_obj.exists() else []
        return [
            self.compiler,
            self.std,
            "-O0",
            "-g",
            "-fdiagnostics-color=never",
            "-o",
            str(exe),
            source.name,
            *extra,
            *self.extra_libs,
        ]

    def runtime_error(self, crash: str, status: int, exe: Path, offset: int) -> CellError:
        error = super().runtime_error(crash, status, exe, offset)
        frames = self._frames(crash, exe)
        thrown = re.search(
            r"terminate called after throwing an instance of '([^']+)'\s*\n\s*what\(\):\s*(.*)", crash
        )
        if thrown:
            error = CellError(thrown.group(1), thrown.group(2).strip(), [])
        elif "terminate called" in crash:
            first = crash.strip().splitlines()[0]
            error = CellError("std::terminate", first, [])
        head = [f"{error.ename}: {error.evalue}"]
        error.traceback = head + (frames or [line for line in crash.splitlines() if line.strip()])
        return error

    def _frames(self, crash: str, exe: Path) -> list[str]:
        offsets = re.findall(re.escape(str(exe)) + r"\(\+0x([0-9a-f]+)\)", crash)
        if not offsets:
            return []
        addresses = [hex(int(off, 16) - 1) for off in offsets[1:]]  # [0] is the signal handler
        try:
            out = subprocess.run(
                ["addr2line", "-f", "-C", "-p", "-e", str(exe), *addresses],
                capture_output=True,
                text=True,
                timeout=10,
                env=self.env,
                check=False,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        frames = []
        for line in out.splitlines():
            func, _, where = line.partition(" at ")
            where = re.sub(r" \(discriminator \d+\)", "", where)
            if self.source_name in where:
                frames.append(f"  at {func} ({self.rewrite(where, 0).replace(str(self.build) + '/', '')})")
        return frames


class CAdapter(_GccFamily):
    source_name = "cell.c"
    extra_libs = ("-lm",)


class CppAdapter(_GccFamily):
    """C++ with a precompiled <bits/stdc++.h> (built in the background at start, about 140 MB in the
    kernel's /tmp, only where /tmp has 1 GB free; INTERVIEW_KERNEL_CXX_PCH=0 turns it off), which takes a competitive-programming style
    cell from about 2 s of compiling to about 0.5 s. INTERVIEW_KERNEL_PCH_DIR names a prebuilt one to share
    (a folder with bits/stdc++.h holding `#include_next <bits/stdc++.h>`, and its .gch built with
    `g++ -std=gnu++20 -O0 -g -x c++-header`)."""

    source_name = "cell.cpp"
    compiler = "g++"
    std = "-std=gnu++20"

    def _pch_dir(self) -> Path | None:
        shared = self.env.get("INTERVIEW_KERNEL_PCH_DIR")
        candidates = [Path(shared)] if shared else []
        candidates.append(self.scratch / "pch")
        for folder in candidates:
            if (folder / "bits" / "stdc++.h.gch").is_file():
                return folder
        return None

    def warm_up_later(self) -> None:
        if self.env.get("INTERVIEW_KERNEL_CXX_PCH") == "0" or self._pch_dir() is not None:
            return
        if shutil.disk_usage(self.scratch).free < _PCH_MIN_FREE:
            return  # a small /tmp (a sandbox's tmpfs) is better left to the candidate's programs
        build_pch(self.scratch / "pch", self.env)

    def compile_argv(self, source: Path, exe: Path) -> list[str]:
        argv = super().compile_argv(source, exe)
        pch = self._pch_dir()
        return [*argv[:1], "-I", str(pch), *argv[1:]] if pch is not None else argv


class GoAdapter(CompiledAdapter):
    source_name = "cell.go"
    crash = re.compile(r"^(panic: |fatal error: )", re.MULTILINE)

    def child_env(self) -> dict[str, str]:
        env = super().child_env()
        # HOME may be read-only in the sandbox: keep Go's caches in the kernel's private scratch space.
        env.update(
            GOCACHE=str(self.scratch / "gocache"),
            GOPATH=str(self.scratch / "gopath"),
            GO111MODULE="off",
            GOPROXY="off",
            GOFLAGS="",
            CGO_ENABLED="0",
            GOTOOLCHAIN="local",
            GOTELEMETRY="off",
        )
        return env

    def prepare(self, code: str) -> tuple[str, int]:
        if re.search(r"^\s*package\s+\w+", code, re.MULTILINE):
            return code, 0
        return "package main\n" + code, 1

    def compile_argv(self, source: Path, exe: Path) -> list[str]:
        return ["go", "build", "-o", str(exe), "./" + source.name]

    def clean_diagnostics(self, text: str) -> str:
        text = "\n".join(
            line for line in text.splitlines() if not line.startswith("# command-line-arguments")
        )
        return text.replace("./" + self.source_name, self.source_name)

    def warm_up(self) -> None:
        hello = self.scratch / "warm" / "hello.go"
        hello.parent.mkdir()
        hello.write_text(
            'package main\nimport ("bufio"; "fmt"; "os"; "sort"; "strings"; "strconv")\n'
            "func main() { _ = bufio.NewReader(os.Stdin); _ = strings.Fields; _ = strconv.Itoa; "
            "sort.Ints(nil); fmt.Println() }\n"
        )
        run_tool(["go", "build", "-o", "hello", "hello.go"], self.env, hello.parent, threading.Event())

    def runtime_error(self, crash: str, status: int, exe: Path, offset: int) -> CellError:
        match = re.search(r"^(panic|fatal error): (.*)", crash, re.MULTILINE)
        if not match:
            return super().runtime_error(crash, status, exe, offset)
        lines = [line for line in crash.splitlines() if line.strip() and not line.startswith("exit status")]
        return CellError(match.group(1), match.group(2).replace(" [recovered]", ""), lines)


class RustAdapter(CompiledAdapter):
    source_name = "cell.rs"
    crash = re.compile(r"^thread '[^']*' panicked at ", re.MULTILINE)

    def compile_argv(self, source: Path, exe: Path) -> list[str]:
        return [
            "rustc",
            "--edition",
            "2021",
            "--color",
            "never",
            # Line tables only: full debug info triples the compile time; traces need just file:line.
            "-C",
            "debuginfo=1",
            # A debug build, as `cargo run` makes: overflow checks on, and 0.6 s where opt-level=1 takes 1.1 s.
            "-C",
            "opt-level=0",
            "-A",
            "dead_code",
            "-A",
            "unused",
            "-o",
            str(exe),
            source.name,
        ]

    def run_env(self) -> dict[str, str]:
        return {**self.env, "RUST_BACKTRACE": "1"}

    def runtime_error(self, crash: str, status: int, exe: Path, offset: int) -> CellError:
        # rustc <= 1.72: panicked at 'msg', cell:4:5 -- rustc >= 1.73: panicked at cell:4:5:\nmsg
        old = re.search(r"panicked at '(.*)', (\S+)", crash, re.DOTALL)
        new = re.search(r"panicked at (\S+):\n(.*?)(?:\nnote:|\nstack backtrace:|$)", crash, re.DOTALL)
        if old:
            message, where = old.group(1), old.group(2)
        elif new:
            where, message = new.group(1), new.group(2)
        else:
            return super().runtime_error(crash, status, exe, offset)
        frames = []
        lines = crash.splitlines()
        for i, line in enumerate(lines):
            at = re.match(r"\s+at (\S*cell:\d+(?::\d+)?)", line)
            if at and i > 0:
                func = re.sub(r"^\s*\d+:\s*", "", lines[i - 1])
                frames.append(f"  at {func} ({at.group(1).removeprefix('./')})")
        head = [f"panic: {message}", f"  panicked at {where}"]
        return CellError("panic", message, head + frames)


def build_pch(folder: Path, env: dict[str, str]) -> bool:
    """Builds folder/bits/stdc++.h.gch with the C++ adapter's flags (also `python -m interview_kernel
    --build-pch FOLDER`, for a copy that kernels share read-only through INTERVIEW_KERNEL_PCH_DIR)."""
    bits = folder / "bits"
    bits.mkdir(parents=True, exist_ok=True)
    (bits / "stdc++.h").write_text("#include_next <bits/stdc++.h>\n")
    partial = bits / "stdc++.h.gch.partial"
    argv = [
        CppAdapter.compiler,
        CppAdapter.std,
        "-O0",
        "-g",
        "-w",
        "-x",
        "c++-header",
        "stdc++.h",
        "-o",
        partial.name,
    ]
    status, _ = run_tool(argv, env, bits, threading.Event())
    if status == 0:
        partial.rename(bits / "stdc++.h.gch")  # atomic: a compile never sees half a header
    return status == 0
