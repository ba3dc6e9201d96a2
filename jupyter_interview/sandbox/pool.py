"""A warm pool of sandboxed kernels per language, whose folders are renamed into place as rooms' folders.

A slot is a folder `interviews/.pool-<random>` with a sandboxed kernel already running in it: its
sandbox binds that folder and nothing else of the rooms. A room claims a slot by renaming the
slot's folder into place as the room's folder. A bind mount follows its directory, not its name,
so the running kernel sees the room's files at once without a remount, and the folder's owner,
the uid the slot's kernel runs as, becomes the room's uid (`uids.room_uid` keeps a room's uid in
its folder's owner). Slots live beside the rooms so that uid allocation sees slots and rooms alike:
a slot's uid is never another room's, and limits counted per uid (RLIMIT_NPROC) never cross rooms.

A slot is handed out once: `claim` takes it off the pool before anything else and checks that its
folder is still an empty directory owned by its uid and its kernel alive; a slot that fails is
discarded, never offered again. The pool refills in the background, one kernel start at a time.

Inside a claimed kernel the folder keeps the slot's path (its mount point); a restart launches
the kernel again at the room folder's own path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
import stat
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Protocol

SLOT_PREFIX = ".pool-"
# Consecutive failed starts after which a language's slots are no longer refilled (until a claim
# succeeds or the server restarts); each failure waits longer before the next try.
MAX_FAILURES = 3
RETRY_DELAY_S = 2.0


class PoolKernels(Protocol):
    """How the pool starts and stops kernels (the server's kernel manager, in server_ext)."""

    def start(self, language: str, folder: str) -> Awaitable[str]:
        """Start a sandboxed kernel of the language with the folder as its room folder; its id once it answers."""

    def stop(self, kernel_id: str) -> Awaitable[None]: ...

    def alive(self, kernel_id: str) -> bool: ...


@dataclass(frozen=True)
class Slot:
    language: str
    name: str  # the slot folder's name, also the "room" its kernel was started for
    folder: str  # absolute path while the slot waits; the room's folder once claimed
    kernel_id: str
    uid: int  # owner of the folder: the uid the kernel runs as


class _MoveFailed(OSError):
    """A claim failed half-way and some of the room's files stayed in the slot's folder."""


def is_slot_name(name: str) -> bool:
    return name.startswith(SLOT_PREFIX)


class KernelPool:
    """Ready slots per language; `claim` hands one to a room, `run` keeps the pool filled."""

    def __init__(
        self,
        rooms_dir: str,
        sizes: dict[str, int],
        kernels: PoolKernels,
        log: logging.Logger | None = None,
    ) -> None:
        self.rooms_dir = rooms_dir
        self.sizes = {lang: n for lang, n in sizes.items() if n > 0}
        self.kernels = kernels
        self.log = log or logging.getLogger(__name__)
        self.ready: dict[str, deque[Slot]] = {lang: deque() for lang in self.sizes}
        self.failures: dict[str, int] = dict.fromkeys(self.sizes, 0)
        self.starting: str | None = None  # the language whose slot is starting now
        self.claimed = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._discards: set[asyncio.Task[None]] = set()

    # ---- the background filler ----

    def start(self) -> None:
        """Remove slots a previous run left behind (their kernels died with it), then fill."""
        if not self.sizes or self._task is not None:
            return
        os.makedirs(self.rooms_dir, exist_ok=True)
        for name in os.listdir(self.rooms_dir):
            if is_slot_name(name):
                self._remove_folder(os.path.join(self.rooms_dir, name))
        self._task = asyncio.get_running_loop().create_task(self._fill())
        self._wake.set()

    def _wanted(self) -> str | None:
        for lang, size in self.sizes.items():
            if len(self.ready[lang]) < size and self.failures[lang] < MAX_FAILURES:
                return lang
        return None

    async def _fill(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while (lang := self._wanted()) is not None:
                try:
                    slot = await self._start_slot(lang)
                except asyncio.CancelledError:
                    raise
                except Exception as e:
                    self.failures[lang] += 1
                    level = logging.ERROR if self.failures[lang] >= MAX_FAILURES else logging.WARNING
                    self.log.log(
                        level,
                        "warm pool: a %s kernel did not start (%s of %s tries): %s",
                        lang,
                        self.failures[lang],
                        MAX_FAILURES,
                        e,
                    )
                    await asyncio.sleep(RETRY_DELAY_S * self.failures[lang])
                    continue
                self.failures[lang] = 0
                self.ready[lang].append(slot)

    async def _start_slot(self, language: str) -> Slot:
        name = SLOT_PREFIX + secrets.token_hex(8)
        folder = os.path.join(self.rooms_dir, name)
        os.mkdir(folder, 0o755)
        self.starting = language
        try:
            kernel_id = await self.kernels.start(language, folder)
        except BaseException:
            self._remove_folder(folder)
            raise
        finally:
            self.starting = None
        return Slot(language, name, folder, kernel_id, os.lstat(folder).st_uid)

    def refill(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        slots = [slot for queue in self.ready.values() for slot in queue]
        for queue in self.ready.values():
            queue.clear()
        for slot in slots:
            await self._discard(slot)
        if self._discards:
            await asyncio.gather(*self._discards, return_exceptions=True)

    # ---- handing out ----

    def claim(self, language: str, room_dir: str) -> Slot | None:
        """A ready slot of the language, its folder now the room's folder (with the room's files in it).

        Synchronous, so no other claim or request runs in between: the slot leaves the pool
        before it is checked, and is either handed out here or discarded.
        """
        queue = self.ready.get(language)
        if not queue or not self._room_fits(room_dir):
            self.refill()
            return None
        while queue:
            slot = queue.popleft()
            problem = self._unfit(slot)
            if problem is None:
                try:
                    self._move_into(slot, room_dir)
                except _MoveFailed as e:
                    # Some of the room's files could not be put back: keep the folder for the owner.
                    self.log.error("warm pool: slot %s holds files of %s: %s", slot.folder, room_dir, e)
                    self._discard_later(slot, keep_folder=True)
                    continue
                except OSError as e:
                    problem = f"could not become {room_dir}: {e}"
                else:
                    self.claimed += 1
                    self.refill()
                    return Slot(slot.language, slot.name, room_dir, slot.kernel_id, slot.uid)
            self.log.warning("warm pool: slot %s not handed out: %s", slot.name, problem)
            self._discard_later(slot)
        self.refill()
        return None

    @staticmethod
    def _room_fits(room_dir: str) -> bool:
        """A room folder that never had a sandboxed kernel: still the server's (no uid of its own yet)."""
        try:
            st = os.lstat(room_dir)
        except OSError:
            return False
        return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()

    def _unfit(self, slot: Slot) -> str | None:
        try:
            st = os.lstat(slot.folder)
        except OSError as e:
            return f"its folder is gone ({e})"
        if not stat.S_ISDIR(st.st_mode):
            return "its folder is not a directory"
        if st.st_uid != slot.uid:
            return f"its folder changed owner ({slot.uid} -> {st.st_uid})"
        try:
            entries = os.listdir(slot.folder)
        except OSError as e:
            return f"its folder cannot be listed ({e})"
        if entries:
            return f"its folder is not empty ({len(entries)} entries)"
        if not self.kernels.alive(slot.kernel_id):
            return "its kernel is not running"
        return None

    def _move_into(self, slot: Slot, room_dir: str) -> None:
        """The room's files into the slot's folder, then the slot's folder in place of the room's."""
        st = os.lstat(room_dir)
        if not stat.S_ISDIR(st.st_mode):
            raise OSError(f"{room_dir} is not a directory")
        moved: list[str] = []
        try:
            for name in os.listdir(room_dir):
                os.rename(os.path.join(room_dir, name), os.path.join(slot.folder, name))
                moved.append(name)
            # rename(2) replaces an empty directory in one step: the room's path never goes missing.
            os.rename(slot.folder, room_dir)
        except OSError as e:
            left = []
            for name in moved:
                try:
                    os.rename(os.path.join(slot.folder, name), os.path.join(room_dir, name))
                except OSError:
                    left.append(name)
            if left:
                raise _MoveFailed(f"{', '.join(left)} left in the slot after: {e}") from e
            raise

    # ---- discarding ----

    def _discard_later(self, slot: Slot, *, keep_folder: bool = False) -> None:
        task = asyncio.get_running_loop().create_task(self._discard(slot, keep_folder=keep_folder))
        self._discards.add(task)
        task.add_done_callback(self._discards.discard)

    async def _discard(self, slot: Slot, *, keep_folder: bool = False) -> None:
        try:
            await self.kernels.stop(slot.kernel_id)
        except Exception as e:
            self.log.warning("warm pool: stopping the kernel of slot %s failed: %s", slot.name, e)
        if not keep_folder:
            self._remove_folder(slot.folder)

    def _remove_folder(self, folder: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            if os.path.islink(folder):
                os.unlink(folder)
            else:
                shutil.rmtree(folder)
