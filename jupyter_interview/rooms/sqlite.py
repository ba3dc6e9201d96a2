"""One SQLite file driven from one worker thread: what the room store and the history store share."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, TypeVar

T = TypeVar("T")


class SQLiteFile:
    """A private SQLite file in WAL mode with its migrations, every call run on one dedicated thread.

    SQLite calls block, so they run off the event loop; one thread also serialises writes, which
    SQLite needs anyway, and keeps one connection for the file's lifetime. Subclasses name what the
    file is (`kind`, for messages), their thread, their migrations and any extra pragmas.
    """

    kind: ClassVar[str] = "store"
    thread_name: ClassVar[str] = "interview-sqlite"
    migrations: ClassVar[tuple[str, ...]] = ()
    pragmas: ClassVar[tuple[str, ...]] = ()

    def __init__(self, path: str) -> None:
        self.path = path
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._executor is None or self._conn is None:
            raise RuntimeError(f"the {self.kind} is not open")
        conn = self._conn

        def call() -> T:
            with self._lock, conn:
                return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def open(self) -> None:
        if self._executor is not None:
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self.thread_name)
        await asyncio.get_running_loop().run_in_executor(self._executor, self._connect)

    def _connect(self) -> None:
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), mode=0o700, exist_ok=True)
        # Session hashes, notes, candidates' code, everyone's chat: private to the server's user.
        os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        # A committed write survives the process being killed (WAL, synchronous=NORMAL); only an
        # OS crash or power loss can take the last transactions.
        conn.execute("PRAGMA synchronous=NORMAL")
        for pragma in self.pragmas:
            conn.execute(pragma)
        conn.execute("PRAGMA busy_timeout=5000")
        self._migrate(conn)
        conn.isolation_level = "DEFERRED"
        self._conn = conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        migrations = self.migrations
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(migrations):
            raise RuntimeError(
                f"the {self.kind} {version} is newer than this jupyter-interview ({len(migrations)}); upgrade it"
            )
        for number, script in enumerate(migrations[version:], start=version + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    async def close(self) -> None:
        if self._executor is None:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)
        self._executor = None
