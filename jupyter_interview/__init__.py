"""jupyter-interview: a Jupyter server becomes a live technical-interview room."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labext", "dest": "jupyter-interview"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from jupyter_interview.server_ext.app import InterviewApp

    return [{"module": "jupyter_interview", "app": InterviewApp}]
