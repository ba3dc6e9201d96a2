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


# The kernelspec each language's notebook names (kernels/interview_kernel/specs/interview-<language>),
# so that JupyterLab starts, or finds in the room's pre-started session, the sandboxed kernel of the
# room's language and never asks which kernel to use. tests/test_languages.py checks these match.
KERNEL_DISPLAY_NAMES: dict[str, str] = {
    "python": "Python 3 (interview)",
    "javascript": "JavaScript (interview)",
    "typescript": "TypeScript (interview)",
    "java": "Java (interview)",
    "cpp": "C++ (interview)",
    "c": "C (interview)",
    "go": "Go (interview)",
    "rust": "Rust (interview)",
    "ruby": "Ruby (interview)",
    "bash": "Bash (interview)",
    "sql": "SQL (SQLite) (interview)",
}


def kernelspec_for(language: str) -> dict[str, str]:
    return {
        "name": f"interview-{language}",
        "display_name": KERNEL_DISPLAY_NAMES[language],
        "language": language,
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
            "kernelspec": kernelspec_for(room.language),
            "language_info": LANGUAGE_INFO[room.language],
            "jupyter_interview": {"room": room.id, "language": room.language},
        },
        "cells": cells,
    }
