"""`pip install .` is all a user does: both extensions are installed, enabled and load."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

JUPYTER = str(Path(sys.executable).with_name("jupyter"))


def run(*args: str) -> str:
    # The installed environment's view: no per-test Jupyter path overrides.
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER_")}
    done = subprocess.run([JUPYTER, *args], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert done.returncode == 0, done.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


@pytest.mark.skipif(
    not Path(JUPYTER).exists(), reason="the jupyter command is not installed beside this Python"
)
def test_server_extension_is_enabled_and_loads() -> None:
    out = run("server", "extension", "list")
    assert re.search(r"jupyter_interview\s+enabled", out), out
    assert re.search(r"jupyter_interview \S+ OK", out), out


@pytest.mark.skipif(
    not Path(JUPYTER).exists(), reason="the jupyter command is not installed beside this Python"
)
def test_lab_extension_is_installed_enabled_and_ok() -> None:
    out = run("labextension", "list")
    line = next(line for line in out.splitlines() if "jupyter-interview" in line)
    assert "enabled" in line and "OK" in line


def test_the_lobby_bundle_is_built_where_the_server_serves_it_from() -> None:
    # The first script of a participant's page: without it the page still works (the lab makes
    # the lobby), but the device check and the call wait for JupyterLab.
    from jupyter_interview.server_ext.lobby import LOBBY_FILE, lobby_version

    assert LOBBY_FILE.is_file(), f"{LOBBY_FILE} is missing: npm run build (pip install builds it)"
    assert b"jupyter-interview.lobby" in LOBBY_FILE.read_bytes()
    assert lobby_version() is not None


def test_the_participant_app_is_built_where_the_server_serves_it_from() -> None:
    # Without it a participant gets JupyterLab's own page (every core plugin, slower to load).
    from jupyter_interview.server_ext.lobby import APP_FILE, bundle_version

    assert APP_FILE.is_file(), f"{APP_FILE} is missing: npm run build (pip install builds it)"
    assert b"_JUPYTERLAB" in APP_FILE.read_bytes()  # a module federation host for the lab's extensions
    assert bundle_version(APP_FILE) is not None
