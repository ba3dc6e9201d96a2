"""SQL on SQLite, in the kernel's own process: one in-memory database for the session (ATTACH reaches files
in the room folder). Each statement's rows come back as a table (HTML and plain text)."""

from __future__ import annotations

import html
import sqlite3
from typing import Any

from ..pump import CellError, Frontend
from .base import INTERRUPTED, Adapter

_MAX_ROWS = 1000
_DOT_COMMANDS = {
    ".tables": "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    ".schema": "SELECT sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' ORDER BY name",
}


def split_statements(code: str) -> list[tuple[int, str]]:
    """(first line, statement) for every complete statement; an unfinished tail counts as one."""
    statements: list[tuple[int, str]] = []
    buf: list[str] = []
    start = 1
    for number, line in enumerate(code.splitlines(), start=1):
        if not buf:
            if not line.strip() or line.strip().startswith("--"):
                continue
            start = number
            if line.strip().startswith("."):
                statements.append((number, line.strip()))
                continue
        buf.append(line)
        text = "\n".join(buf)
        if sqlite3.complete_statement(text):
            statements.append((start, text))
            buf = []
    if buf and "\n".join(buf).strip():
        statements.append((start, "\n".join(buf)))
    return statements


def render(columns: list[str], rows: list[tuple[Any, ...]], more: bool) -> dict[str, str]:
    cells = [["NULL" if v is None else str(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = [
        " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)),
        "-+-".join("-" * w for w in widths),
        *(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells),
    ]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>" for r in cells)
    note = f"(first {_MAX_ROWS} rows shown)" if more else f"({len(rows)} row{'s' if len(rows) != 1 else ''})"
    return {
        "text/plain": "\n".join(lines) + f"\n{note}",
        "text/html": f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table><p>{note}</p>",
    }


class SqliteAdapter(Adapter):
    def start(self) -> None:
        # check_same_thread: interrupt() comes from the control thread; isolation_level None: autocommit.
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)

    def execute(self, code: str, frontend: Frontend, count: int) -> CellError | None:
        tables: list[dict[str, str]] = []
        for line, statement in split_statements(code):
            sql = _DOT_COMMANDS.get(statement.split()[0], None) if statement.startswith(".") else statement
            if sql is None:
                message = f"unknown command {statement.split()[0]}; known: {', '.join(_DOT_COMMANDS)}"
                return CellError(
                    "UnknownCommand", message, [f"UnknownCommand: {message}", f"  at cell:{line}"]
                )
            try:
                cursor = self.db.execute(sql)
                if cursor.description is not None:
                    rows = cursor.fetchmany(_MAX_ROWS + 1)
                    columns = [d[0] for d in cursor.description]
                    tables.append(render(columns, rows[:_MAX_ROWS], len(rows) > _MAX_ROWS))
            except sqlite3.Error as exc:
                if self.cancel.is_set():
                    return INTERRUPTED
                for table in tables:
                    frontend.publish("display_data", table)
                ename = type(exc).__name__
                first = statement.strip().splitlines()[0]
                return CellError(ename, str(exc), [f"{ename}: {exc}", f"  at cell:{line}", f"    {first}"])
        for table in tables[:-1]:
            frontend.publish("display_data", table)
        if tables:
            frontend.publish("execute_result", tables[-1])
        return None

    def interrupt(self) -> None:
        self.cancel.set()
        self.db.interrupt()

    def shutdown(self) -> None:
        self.db.close()
        super().shutdown()

    def complete(self, code: str, cursor: int) -> tuple[list[str], int, int]:
        matches, start, end = super().complete(code, cursor)
        prefix = code[start:cursor]
        names = [row[0] for row in self.db.execute("SELECT name FROM sqlite_schema").fetchall()]
        keywords = ["SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "JOIN", "INSERT INTO", "CREATE TABLE"]
        extra = [n for n in names + keywords if prefix and n.lower().startswith(prefix.lower())]
        return sorted(set(matches + extra)), start, end
