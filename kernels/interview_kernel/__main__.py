"""`python -m interview_kernel --language <name> -f <connection file>`: starts the kernel for one language."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    language = None
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--language" and i + 1 < len(args):
            language = args[i + 1]
            i += 2
            continue
        if arg.startswith("--language="):
            language = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    if rest[:1] == ["--build-pch"] and len(rest) == 2:
        from pathlib import Path

        from .adapters.compiled import build_pch

        raise SystemExit(0 if build_pch(Path(rest[1]), dict(os.environ)) else 1)
    if language is None:
        raise SystemExit(
            "usage: python -m interview_kernel --language NAME -f CONNECTION_FILE\n"
            "       python -m interview_kernel --build-pch FOLDER"
        )
    home = os.environ.get("HOME", "")
    if not (home and os.access(home, os.W_OK)):
        # The sandbox may give a read-only HOME: IPython's profile dir must go elsewhere.
        ipython_dir = tempfile.mkdtemp(prefix="interview-ipython-")
        atexit.register(shutil.rmtree, ipython_dir, True)
        os.environ.setdefault("IPYTHONDIR", ipython_dir)

    from ipykernel.kernelapp import IPKernelApp

    from .kernel import InterviewKernel

    IPKernelApp.launch_instance(
        argv=[*rest, f"--InterviewKernel.language={language}"], kernel_class=InterviewKernel
    )


if __name__ == "__main__":
    main()
