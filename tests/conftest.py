from __future__ import annotations

from collections.abc import Iterator

import pytest
from docker_engine import Engine, EngineUnavailable, start_engine

pytest_plugins = ["pytest_jupyter.jupyter_server", "jupyter_interview.pytest_plugin"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """A Docker-API engine (tests/docker_engine.py) for the module; where none can run here, a skip
    that gives the reason."""
    try:
        e = start_engine(tmp_path_factory.mktemp("engine"))
    except EngineUnavailable as reason:
        print(f"Docker backend tests skipped: {reason}")
        pytest.skip(f"no Docker-API engine can run here: {reason}")
    try:
        yield e
    finally:
        e.stop()
