"""The language table: what each interview language needs, how JupyterLab should show it, which adapter runs it.

Plain Python with no Jupyter imports, so the server can ask `available()` without loading a kernel.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

# Debian's node-typescript package; a kernel-local node_modules is tried first (see typescript_path).
_DEBIAN_TYPESCRIPT = Path("/usr/share/nodejs/typescript")
_PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class LanguageSpec:
    """One language: its kernelspec fields, its CodeMirror/Pygments names and the adapter that runs it."""

    name: str
    display_name: str
    requires: tuple[str, ...]
    adapter: str
    info_name: str
    mimetype: str
    file_extension: str
    codemirror_mode: str | dict[str, Any]
    pygments_lexer: str
    version_argv: tuple[str, ...] = ()
    version_pattern: str = r"(\d+\.\d+(?:\.\d+)?)"
    keywords: tuple[str, ...] = field(default=(), repr=False)

    def language_info(self, version: str) -> dict[str, Any]:
        return {
            "name": self.info_name,
            "version": version,
            "mimetype": self.mimetype,
            "file_extension": self.file_extension,
            "codemirror_mode": self.codemirror_mode,
            "pygments_lexer": self.pygments_lexer,
        }

    def kernelspec(self) -> dict[str, Any]:
        """The kernel.json this language ships; argv[0] "python" is replaced by the server's interpreter."""
        return {
            "argv": ["python", "-m", "interview_kernel", "--language", self.name, "-f", "{connection_file}"],
            "display_name": f"{self.display_name} (interview)",
            "language": self.name,
            "interrupt_mode": "message",
            "metadata": {
                "kernel_provisioner": {"provisioner_name": "interview-sandbox"},
                "jupyter_interview": {"language": self.name, "requires": list(self.requires)},
            },
        }


_C_KEYWORDS = (
    "auto break case char const continue default do double else enum extern float for goto if inline int "
    "long register restrict return short signed sizeof static struct switch typedef union unsigned void "
    "volatile while bool true false printf scanf malloc free include define"
).split()
_CPP_KEYWORDS = (
    *_C_KEYWORDS,
    *(
        "class namespace template typename public private protected virtual override new delete this "
        "using std vector string map unordered_map set unordered_set pair cout cin endl nullptr auto "
        "constexpr try catch throw const_cast static_cast dynamic_cast reinterpret_cast"
    ).split(),
)
_JS_KEYWORDS = (
    "async await break case catch class const continue debugger default delete do else export extends "
    "false finally for function if import in instanceof let new null return super switch this throw true "
    "try typeof undefined var void while yield console require process Math JSON Array Object Map Set"
).split()

LANGUAGES: dict[str, LanguageSpec] = {
    spec.name: spec
    for spec in (
        LanguageSpec(
            name="javascript",
            display_name="JavaScript",
            requires=("node",),
            adapter="interview_kernel.adapters.node:NodeAdapter",
            info_name="javascript",
            mimetype="text/javascript",
            file_extension=".js",
            codemirror_mode="javascript",
            pygments_lexer="javascript",
            version_argv=("node", "--version"),
            keywords=tuple(_JS_KEYWORDS),
        ),
        LanguageSpec(
            name="typescript",
            display_name="TypeScript",
            requires=("node",),
            adapter="interview_kernel.adapters.node:NodeAdapter",
            info_name="typescript",
            mimetype="application/typescript",
            file_extension=".ts",
            codemirror_mode="typescript",
            pygments_lexer="typescript",
            keywords=(
                *_JS_KEYWORDS,
                "interface",
                "type",
                "enum",
                "implements",
                "readonly",
                "number",
                "string",
            ),
        ),
        LanguageSpec(
            name="java",
            display_name="Java",
            requires=("java",),
            adapter="interview_kernel.adapters.java:JavaAdapter",
            info_name="java",
            mimetype="text/x-java",
            file_extension=".java",
            codemirror_mode="text/x-java",
            pygments_lexer="java",
        ),
        LanguageSpec(
            name="cpp",
            display_name="C++",
            requires=("g++",),
            adapter="interview_kernel.adapters.compiled:CppAdapter",
            info_name="c++",
            mimetype="text/x-c++src",
            file_extension=".cpp",
            codemirror_mode="text/x-c++src",
            pygments_lexer="cpp",
            version_argv=("g++", "-dumpfullversion"),
            keywords=tuple(_CPP_KEYWORDS),
        ),
        LanguageSpec(
            name="c",
            display_name="C",
            requires=("gcc",),
            adapter="interview_kernel.adapters.compiled:CAdapter",
            info_name="c",
            mimetype="text/x-csrc",
            file_extension=".c",
            codemirror_mode="text/x-csrc",
            pygments_lexer="c",
            version_argv=("gcc", "-dumpfullversion"),
            keywords=tuple(_C_KEYWORDS),
        ),
        LanguageSpec(
            name="go",
            display_name="Go",
            requires=("go",),
            adapter="interview_kernel.adapters.compiled:GoAdapter",
            info_name="go",
            mimetype="text/x-go",
            file_extension=".go",
            codemirror_mode="go",
            pygments_lexer="go",
            version_argv=("go", "version"),
            keywords=tuple(
                (
                    "break case chan const continue default defer else fallthrough for func go goto if import "
                    "interface map package range return select struct switch type var fmt Println Printf Scan "
                    "bufio os strings strconv sort append len cap make new panic recover nil true false int "
                    "string byte rune float64 int64 error"
                ).split()
            ),
        ),
        LanguageSpec(
            name="rust",
            display_name="Rust",
            requires=("rustc",),
            adapter="interview_kernel.adapters.compiled:RustAdapter",
            info_name="rust",
            mimetype="text/x-rustsrc",
            file_extension=".rs",
            codemirror_mode="rust",
            pygments_lexer="rust",
            version_argv=("rustc", "--version"),
            keywords=tuple(
                (
                    "as break const continue crate else enum extern false fn for if impl in let loop match mod "
                    "move mut pub ref return self Self static struct super trait true type unsafe use where "
                    "while println print eprintln format vec Vec String HashMap HashSet Option Some None "
                    "Result Ok Err usize i32 i64 u32 u64 f64 bool char std io collections"
                ).split()
            ),
        ),
        LanguageSpec(
            name="ruby",
            display_name="Ruby",
            requires=("ruby",),
            adapter="interview_kernel.adapters.ruby:RubyAdapter",
            info_name="ruby",
            mimetype="text/x-ruby",
            file_extension=".rb",
            codemirror_mode="ruby",
            pygments_lexer="ruby",
            version_argv=("ruby", "-e", "print RUBY_VERSION"),
        ),
        LanguageSpec(
            name="bash",
            display_name="Bash",
            requires=("bash",),
            adapter="interview_kernel.adapters.bash:BashAdapter",
            info_name="bash",
            mimetype="text/x-sh",
            file_extension=".sh",
            codemirror_mode="shell",
            pygments_lexer="bash",
            version_argv=("bash", "-c", "echo $BASH_VERSION"),
        ),
        LanguageSpec(
            name="sql",
            display_name="SQL (SQLite)",
            requires=(),
            adapter="interview_kernel.adapters.sql:SqliteAdapter",
            info_name="sql",
            mimetype="text/x-sqlite",
            file_extension=".sql",
            codemirror_mode="text/x-sqlite",
            pygments_lexer="sql",
        ),
    )
}


class Availability(NamedTuple):
    """Whether a language can run on this machine, and if not, why (for listing it as unavailable)."""

    name: str
    ok: bool
    reason: str


def typescript_path() -> Path | None:
    """The `typescript` npm package the Node adapter loads: a kernel-local install, else Debian's."""
    for candidate in (_PACKAGE_DIR / "node" / "node_modules" / "typescript", _DEBIAN_TYPESCRIPT):
        if (candidate / "package.json").is_file():
            return candidate
    return None


def java_home() -> Path | None:
    java = shutil.which("java")
    if java is None:
        return None
    return Path(os.path.realpath(java)).parent.parent


def check(spec: LanguageSpec) -> Availability:
    """Checks only what is cheap (executables on PATH, package folders): no toolchain is started."""
    missing = [tool for tool in spec.requires if shutil.which(tool) is None]
    if missing:
        hint = _INSTALL_HINTS.get(spec.name, "")
        return Availability(spec.name, False, f"not found on PATH: {', '.join(missing)}{hint}")
    if spec.name == "typescript" and typescript_path() is None:
        return Availability(
            spec.name,
            False,
            f"the typescript npm package was not found in {_DEBIAN_TYPESCRIPT} (Debian: node-typescript)",
        )
    if spec.name == "java" and shutil.which("javac") is None:
        return Availability(
            spec.name,
            False,
            "java was found but no JDK (jshell needs javac; Debian: openjdk-17-jdk-headless)",
        )
    return Availability(spec.name, True, "")


_INSTALL_HINTS = {
    "javascript": " (Debian: nodejs)",
    "typescript": " (Debian: nodejs, node-typescript)",
    "cpp": " (Debian: g++)",
    "c": " (Debian: gcc)",
    "go": " (Debian: golang-go)",
    "rust": " (Debian: rustc)",
    "ruby": " (Debian: ruby)",
    "bash": " (Debian: bash)",
}


def available() -> list[Availability]:
    """(name, ok, reason) for every language, in table order."""
    return [check(spec) for spec in LANGUAGES.values()]


def toolchain_version(spec: LanguageSpec, env: dict[str, str] | None = None) -> str:
    """The version the toolchain reports of itself, or "unknown"; runs at kernel start, a few ms each."""
    try:
        if spec.name == "sql":
            return sqlite3.sqlite_version
        if spec.name == "typescript":
            path = typescript_path()
            if path is not None:
                match = re.search(r'"version"\s*:\s*"([^"]+)"', (path / "package.json").read_text())
                if match:
                    return match.group(1)
            return "unknown"
        if spec.name == "java":
            return _java_version()
        if not spec.version_argv:
            return "unknown"
        out = subprocess.run(
            list(spec.version_argv), capture_output=True, text=True, timeout=10, env=env, check=False
        )
        match = re.search(spec.version_pattern, out.stdout + out.stderr)
        return match.group(1) if match else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _java_version() -> str:
    home = java_home()
    if home is not None:
        release = home / "release"
        if release.is_file():
            match = re.search(r'JAVA_VERSION="([^"]+)"', release.read_text())
            if match:
                return match.group(1)
    out = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=20, check=False)
    match = re.search(r'version "([^"]+)"', out.stderr)
    return match.group(1) if match else "unknown"
