"""The notebook a new room starts from: the problem statement and a first cell in the room's language."""

from __future__ import annotations

import secrets
from typing import Any

from jupyter_interview.rooms.models import Room

# What JupyterLab needs to highlight a cell before any kernel has started.
LANGUAGE_INFO: dict[str, dict[str, str]] = {
    "python": {"name": "python", "file_extension": ".py", "mimetype": "text/x-python"},
    "javascript": {"name": "javascript", "file_extension": ".js", "mimetype": "text/javascript"},
    "typescript": {"name": "typescript", "file_extension": ".ts", "mimetype": "text/typescript"},
    "java": {"name": "java", "file_extension": ".java", "mimetype": "text/x-java"},
    "cpp": {"name": "c++", "file_extension": ".cpp", "mimetype": "text/x-c++src"},
    "c": {"name": "c", "file_extension": ".c", "mimetype": "text/x-csrc"},
    "go": {"name": "go", "file_extension": ".go", "mimetype": "text/x-go"},
    "rust": {"name": "rust", "file_extension": ".rs", "mimetype": "text/x-rustsrc"},
    "ruby": {"name": "ruby", "file_extension": ".rb", "mimetype": "text/x-ruby"},
    "bash": {"name": "bash", "file_extension": ".sh", "mimetype": "text/x-sh"},
    "sql": {"name": "sql", "file_extension": ".sql", "mimetype": "text/x-sql"},
}


def _cell(cell_type: str, source: str) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "id": secrets.token_hex(4),
        "cell_type": cell_type,
        "metadata": {},
        "source": source,
    }
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    return cell


def notebook_for(room: Room) -> dict[str, Any]:
    cells = [_cell("markdown", f"# {room.title}\n\n{room.settings.problem}".rstrip() + "\n")]
    cells.append(_cell("code", ""))
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "language_info": LANGUAGE_INFO[room.language],
            "jupyter_interview": {"room": room.id, "language": room.language},
        },
        "cells": cells,
    }
