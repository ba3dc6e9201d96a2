"""The Docker backend on its own: what it checks before kernels start, and what it asks the engine for.

The hostile battery (tests/test_hostile.py) runs against this backend too, on a real engine
(podman's Docker-compatible service on a private socket, tests/docker_engine.py), together with the
checks of a running kernel's container; here, the backend's check() against that engine (skipped
with the reason where no engine can start here), and the options it would send for the production
image, with no engine at all.
"""

from __future__ import annotations

import sys
from pathlib import Path

from docker_engine import Engine
from test_hostile import MIB
from test_sandbox import _request

from jupyter_interview.sandbox.bubblewrap import python_paths
from jupyter_interview.sandbox.docker import DockerBackend


def test_check_names_an_unreachable_engine_and_a_missing_image(engine: Engine, tmp_path: Path) -> None:
    gone = DockerBackend(engine_url=f"unix://{tmp_path}/nothing.sock").check()
    assert len(gone) == 1 and "cannot reach the container engine" in gone[0] and "nothing.sock" in gone[0], (
        gone
    )
    missing = DockerBackend(engine_url=engine.url, image="localhost/no-such-image:1").check()
    assert len(missing) == 1 and "no-such-image" in missing[0] and "docker build" in missing[0], missing
    assert DockerBackend(engine_url=engine.url, image=engine.image).check() == []


def test_with_its_own_image_a_kernel_gets_the_images_python_and_nothing_of_the_servers(
    tmp_path: Path,
) -> None:
    """The production set-up (no engine needed: the options the backend would send)."""
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    request = _request(
        tmp_path,
        argv=[sys.executable, "-m", "interview_kernel", "-f", "k.json"],
        env={"PYTHONPATH": "/work/main/kernels", "JPY_SESSION_NAME": "s"},
        ro_paths=[str(spec_dir)],
        python_paths=["/work/main/kernels"],
    )
    backend = DockerBackend(image="jupyter-interview-kernel:test")
    launch = backend.command(request)
    assert launch.argv == ["python3", "-m", "interview_kernel", "-f", "k.json"]
    assert "PYTHONPATH" not in launch.env and launch.env["JPY_SESSION_NAME"] == "s"
    assert launch.env["PATH"] == "/usr/local/bin:/usr/bin:/bin" and launch.env["HOME"] == "/tmp"
    options = backend.create_options(request, launch)
    assert options["network_mode"] == "none" and options["read_only"] is True
    assert options["cap_drop"] == ["ALL"] and options["security_opt"] == ["no-new-privileges"]
    assert options["user"] == "200123:200123" and options["working_dir"] == str(tmp_path / "room")
    assert options["mem_limit"] == options["memswap_limit"] == 300 * MIB and options["pids_limit"] == 50
    limits = {u["Name"]: (u["Soft"], u["Hard"]) for u in options["ulimits"]}
    assert limits == {
        "core": (0, 0),
        "nproc": (50, 50),
        "nofile": (99, 99),
        "fsize": (2 * MIB,) * 2,
        "cpu": (7, 12),
    }
    mounts = {m["Target"]: m for m in options["mounts"]}
    writable = {t for t, m in mounts.items() if m["Type"] == "bind" and not m["ReadOnly"]}
    assert writable == {str(tmp_path / "room"), str(tmp_path / "s")}
    assert mounts[str(spec_dir)]["ReadOnly"] and mounts[str(tmp_path / "c")]["ReadOnly"]
    assert mounts["/tmp"]["Type"] == "tmpfs" and mounts["/etc/passwd"]["ReadOnly"]
    # Neither the server's Python nor its editable packages: the image has its own.
    assert not any(p in mounts for p in [*python_paths(), "/work/main/kernels"])
    assert (
        (tmp_path / "c" / "etc" / "passwd")
        .read_text()
        .endswith("sandbox:x:200123:200123:sandbox:/tmp:/bin/sh\n")
    )
