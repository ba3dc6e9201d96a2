"""Room kernels' lifecycle: started before anyone needs them, switched with the room's language, stopped after the end, their status told to the room.

- Pre-start: when a room is created (`prestart = "create"`, and at server start for every open
  room) or first opened (`"open"`), the room's kernel starts sandboxed in the room's language,
  with a Jupyter session for the room's notebook path. JupyterLab, opening the notebook, looks
  the path up in `GET api/sessions` and connects to that kernel instead of starting one; a
  session request that arrives while the kernel is still starting is handed the same kernel
  (`kernel_starting`, asked by RoomKernelManager).
- Warm pool (`pool_sizes`, sandbox/pool.py): a room created while a slot of its language is ready
  takes the slot's running kernel; its folder becomes the room's folder.
- Language switch: a room whose `language` changes gets a kernel of the new language in its
  notebook's session (the old one is shut down) and the notebook's kernelspec and language_info
  metadata change with it, in the shared document when jupyter-collaboration has it loaded (it
  saves the file itself), else in the file.
- After End: the room's kernels stay while an interviewer (or the owner) is present in the room's
  real-time channel (a socket open, or reconnecting within its grace) and has used a kernel within
  `ended_idle_timeout_s`; otherwise they stop at the next sweep.
- Status: the `kernel` event to the room ({status, language, kernel_id, reason}) from jupyter_server's
  `execution_state` (busy/idle coalesced to one event per `status_interval_s`), the restarter's
  callbacks (dead, restarting), restarts someone asked for, and the execution feed (limit, dead).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import partial
from queue import Empty
from typing import Any

from jupyter_core.utils import ensure_async
from traitlets import Dict, Enum, Float, Integer
from traitlets.config import LoggingConfigurable

from jupyter_interview.errors import InterviewError
from jupyter_interview.rooms.executions import Execution, ExecutionFeed
from jupyter_interview.rooms.models import LANGUAGES, NOTEBOOK_NAME, ROOMS_FOLDER, Room, RoomState
from jupyter_interview.rooms.notebook import LANGUAGE_INFO
from jupyter_interview.rooms.service import Change, RoomService
from jupyter_interview.sandbox.pool import KernelPool, is_slot_name
from jupyter_interview.server_ext.kernels import RoomKernelManager
from jupyter_interview.server_ext.kernelspecs import spec_for_language, unavailable_reason
from jupyter_interview.signaling.hub import STAFF, Hub

KERNEL_EVENT = "kernel"
# Statuses that follow every execution: coalesced; the others go out at once.
COALESCED = frozenset({"busy", "idle"})
STOP_WAIT_S = 20.0
# Marks the lifecycle's own kernel starts, which must not be handed the kernel they are starting.
_OWN_START: ContextVar[bool] = ContextVar("interview_own_kernel_start", default=False)


def _message(error: BaseException) -> str:
    return str(getattr(error, "log_message", None) or error) or type(error).__name__


@dataclass
class _Room:
    language: str
    kernel_id: str | None = None  # the kernel of the room notebook's session, as far as we know
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    task: asyncio.Task[None] | None = None
    pending: tuple[str, asyncio.Future[str | None]] | None = None  # (spec, kernel id) while starting
    session_taken: bool = False  # a session request took the pending kernel: do not make another


@dataclass
class _Kernel:
    room_id: str
    language: str
    status: str = "starting"
    reason: str | None = None
    sent: tuple[str, str | None] | None = None
    sent_at: float = 0.0
    flush: asyncio.TimerHandle | None = None

    def payload(self, kernel_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "language": self.language, "kernel_id": kernel_id}
        if self.reason:
            body["reason"] = self.reason
        return body


class _PoolKernels:
    """The warm pool's kernels, started through the server's kernel manager."""

    def __init__(self, lifecycle: KernelLifecycle) -> None:
        self.lifecycle = lifecycle

    async def start(self, language: str, folder: str) -> str:
        km = self.lifecycle.km
        path = f"{ROOMS_FOLDER}/{folder.rsplit('/', 1)[-1]}"  # slots live in the rooms' folder
        token = _OWN_START.set(True)
        try:
            kernel_id: str = await km.start_kernel(path=path, kernel_name=spec_for_language(language))
        finally:
            _OWN_START.reset(token)
        try:
            await self.lifecycle.wait_ready(kernel_id)
        except BaseException:
            await self.stop(kernel_id)
            raise
        return kernel_id

    async def stop(self, kernel_id: str) -> None:
        km = self.lifecycle.km
        if kernel_id in km:
            await km.shutdown_kernel(kernel_id, now=True)  # type: ignore[no-untyped-call]

    def alive(self, kernel_id: str) -> bool:
        km = self.lifecycle.km
        if kernel_id not in km:
            return False
        process = getattr(km.get_kernel(kernel_id).provisioner, "process", None)
        return process is not None and process.poll() is None


class KernelLifecycle(LoggingConfigurable):
    """Owned by InterviewApp; settings as `c.KernelLifecycle.<name>`."""

    prestart = Enum(
        ["create", "open", "off"],
        default_value="create",
        config=True,
        help="When a room's kernel starts before anyone asks for it: 'create' (when the room is created,"
        " and at server start for every room not ended), 'open' (when someone first opens the room),"
        " or 'off' (when JupyterLab opens the notebook, as in plain Jupyter).",
    )
    pool_sizes = Dict(
        value_trait=Integer(min=0),
        default_value={"python": 1},
        config=True,
        help="Warm pool: sandboxed kernels kept running per language, ready to become a new room's kernel,"
        ' e.g. {"python": 2, "javascript": 1}. {} or 0 disables it. Each costs a running kernel.',
    )
    ended_idle_timeout_s = Float(
        15 * 60.0,
        config=True,
        help="After End, how long interviewers keep the room's kernels without using them before they"
        " stop, in seconds (they stop at once when no interviewer is connected).",
    )
    sweep_interval_s = Float(
        30.0, config=True, help="How often ended rooms' kernels are checked for stopping, in seconds."
    )
    status_interval_s = Float(
        0.25,
        config=True,
        help="Busy/idle changes of a kernel reach the room at most once per this interval, in seconds"
        " (the latest state wins); other statuses go out at once.",
    )
    ready_timeout_s = Float(
        60.0, config=True, help="Longest wait for a pre-started kernel's first reply, in seconds."
    )
    max_parallel_starts = Integer(
        2,
        min=1,
        config=True,
        help="Pre-starts and language switches running at once (at server start every open room's"
        " kernel starts; the warm pool refills on its own, one kernel at a time).",
    )

    def __init__(
        self,
        *,
        serverapp: Any,
        service: RoomService,
        hub: Hub,
        executions: ExecutionFeed,
        multi_process: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.serverapp = serverapp
        self.service = service
        self.hub = hub
        self.km: RoomKernelManager = serverapp.kernel_manager
        self.ksm: Any = serverapp.kernel_spec_manager
        self.sm: Any = serverapp.session_manager
        self.rooms_dir = os.path.join(self.km.root_dir, ROOMS_FOLDER)
        if multi_process and (self.prestart != "off" or any(self.pool_sizes.values())):
            # Every process hears of every room: each would start the room's kernel.
            self.log.info(
                "jupyter_interview: with redis_url, room kernels are not pre-started (no warm pool)"
            )
            self.prestart = "off"
            self.pool_sizes = {}
        self.pool: KernelPool | None = None
        sizes = self._pool_languages()
        if sizes:
            self.pool = KernelPool(self.rooms_dir, sizes, _PoolKernels(self), self.log)
        self._rooms: dict[str, _Room] = {r.id: _Room(r.language) for r in service.list_rooms()}
        self._kernels: dict[str, _Kernel] = {}
        self._quiet: set[str] = set()  # kernels we shut down ourselves: we tell the room why
        self._tasks: set[asyncio.Task[Any]] = set()
        self._starts = asyncio.Semaphore(self.max_parallel_starts)
        self._sweeper: asyncio.Task[None] | None = None
        self.km.watcher = self
        service.add_listener(self._on_change)
        executions.subscribe(self._on_execution)
        hub.kernel_status = self.room_status

    def _pool_languages(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        ksm = self.ksm
        for language, size in self.pool_sizes.items():
            if size <= 0:
                continue
            if language not in LANGUAGES:
                self.log.warning(
                    "KernelLifecycle.pool_sizes: %r is not a room language (one of: %s)",
                    language,
                    ", ".join(LANGUAGES),
                )
                continue
            try:
                reason = unavailable_reason(ksm.get_kernel_spec(spec_for_language(language)))
            except Exception as e:
                reason = str(e)
            if reason:
                self.log.warning("KernelLifecycle.pool_sizes: no warm %s kernels: %s", language, reason)
                continue
            sizes[language] = size
        return sizes

    # ---------------------------------------------------------------- start and stop

    def start(self) -> None:
        """In the server's event loop: fill the pool, pre-start open rooms, sweep ended rooms."""
        if self.pool is not None:
            self.pool.start()
        if self.prestart != "off":
            for room in self.service.list_rooms():
                if self.prestart == "create" or room.state in (RoomState.WAITING, RoomState.LIVE):
                    self._ensure(room.id)
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        if self._tasks:
            # A kernel start or shutdown cut short leaves Jupyter's kernel manager unable to shut it
            # down: let them finish, for a while.
            _, late = await asyncio.wait(list(self._tasks), timeout=STOP_WAIT_S)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
        if self.pool is not None:
            await self.pool.stop()

    def _spawn(self, work: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("kernel lifecycle task failed", exc_info=task.exception())

    # ---------------------------------------------------------------- room changes

    def _on_change(self, change: Change) -> None:
        room_id = change.room_id
        if change.kind == "deleted":
            # A start under way is not cut short (Jupyter could not shut that kernel down): it
            # finds the room gone and stops its kernel.
            self._rooms.pop(room_id, None)
            return
        if change.kind not in ("room", "participant"):
            return
        try:
            room = self.service.get_room(room_id)
        except InterviewError:
            return
        rs = self._rooms.get(room_id)
        if rs is None:
            # Not known at start-up and not seen since: created just now.
            self._rooms[room_id] = _Room(room.language)
            if self.prestart == "create":
                self._ensure(room_id)
            return
        if room.state is RoomState.ENDED:
            return
        if room.language != rs.language:
            self._after(rs, self._switch(room_id))
            return
        if self.prestart == "create" or (
            self.prestart == "open" and room.state in (RoomState.WAITING, RoomState.LIVE)
        ):
            self._ensure(room_id)

    def _after(self, rs: _Room, work: Awaitable[None]) -> None:
        """Run work for a room once its current pre-start or switch is done (the room's lock orders them)."""
        rs.task = self._spawn(work)

    def _ensure(self, room_id: str) -> None:
        """The room's kernel, started unless it runs or is starting (synchronous: claims happen here)."""
        rs = self._rooms.get(room_id)
        if rs is None or (rs.task is not None and not rs.task.done()):
            return
        if rs.kernel_id is not None and rs.kernel_id in self.km:
            return
        try:
            room = self.service.get_room(room_id)
        except InterviewError:
            return
        if room.state is RoomState.ENDED:
            return
        if self.pool is not None and room_id not in self.km.kernel_rooms.values():
            slot = self.pool.claim(room.language, self.service.room_dir(room))
            if slot is not None:
                try:
                    self.km.assign_room(slot.kernel_id, slot.name, room_id)
                except KeyError as e:
                    # Gone between the pool's check and now: it runs in the room's folder, if at all.
                    self.log.warning("Room %s: warm kernel not taken: %s", room_id, e)
                    self._spawn(self._shutdown(slot.kernel_id))
                    rs.task = self._spawn(self._prestart(room_id))
                    return
                rs.kernel_id = slot.kernel_id
                self._track(slot.kernel_id, room_id, "idle")
                self.log.info("Room %s took warm kernel %s", room_id, slot.kernel_id)
                # Until its session exists, a session request for the notebook gets this kernel too.
                taken: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
                taken.set_result(slot.kernel_id)
                rs.pending, rs.session_taken = (spec_for_language(room.language), taken), False
                rs.task = self._spawn(self._open_session(room_id, slot.kernel_id))
                return
        rs.task = self._spawn(self._prestart(room_id))

    async def _notebook_session(self, path: str) -> dict[str, Any] | None:
        for session in await ensure_async(self.sm.list_sessions()):
            if session.get("path") == path:
                return dict(session)
        return None

    async def _open_session(self, room_id: str, kernel_id: str) -> None:
        rs = self._rooms.get(room_id)
        if rs is None:
            return
        async with rs.lock:
            try:
                room = self.service.get_room(room_id)
            except InterviewError:
                await self._shutdown(kernel_id)
                return
            try:
                if not rs.session_taken and not await ensure_async(
                    self.sm.session_exists(room.notebook_path)
                ):
                    await self.sm.create_session(
                        path=room.notebook_path, name=NOTEBOOK_NAME, type="notebook", kernel_id=kernel_id
                    )
            finally:
                rs.pending = None

    async def _start_for_room(self, room: Room) -> str:
        """A new kernel of the room's language in its folder, as the notebook's session would start it."""
        env = self.sm.get_kernel_env(room.notebook_path, NOTEBOOK_NAME)
        async with self._starts:
            token = _OWN_START.set(True)
            try:
                kernel_id: str = await self.km.start_kernel(
                    path=room.folder, kernel_name=spec_for_language(room.language), env=env
                )
            finally:
                _OWN_START.reset(token)
        return kernel_id

    async def _prestart(self, room_id: str) -> None:
        rs = self._rooms.get(room_id)
        if rs is None:
            return
        async with rs.lock:
            await self._prestart_locked(room_id, rs)

    async def _prestart_locked(self, room_id: str, rs: _Room) -> None:
        try:
            room = self.service.get_room(room_id)
        except InterviewError:
            return
        if room.state is RoomState.ENDED:
            return
        session = await self._notebook_session(room.notebook_path)
        if session is not None:
            rs.kernel_id = session["kernel"]["id"]  # opened before we got to it
            return
        spec = spec_for_language(room.language)
        pending: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        rs.pending, rs.session_taken = (spec, pending), False
        self._emit(room_id, {"status": "starting", "language": room.language})
        try:
            try:
                kernel_id = await self._start_for_room(room)
            except Exception as e:
                pending.set_result(None)
                self.log.warning("Room %s: its kernel did not start: %s", room_id, _message(e))
                self._emit(room_id, {"status": "dead", "language": room.language, "reason": _message(e)})
                return
            pending.set_result(kernel_id)
            rs.kernel_id = kernel_id
            if room_id not in self._rooms:  # deleted while it started
                await self._shutdown(kernel_id)
                return
            await self._settle(kernel_id)
            # Until the session exists, a session request for the notebook is handed this kernel.
            if not rs.session_taken and not await ensure_async(self.sm.session_exists(room.notebook_path)):
                await self.sm.create_session(
                    path=room.notebook_path, name=NOTEBOOK_NAME, type="notebook", kernel_id=kernel_id
                )
        finally:
            rs.pending = None

    async def kernel_starting(self, room: str, kernel_name: str, env: Any) -> str | None:
        """RoomKernelManager asks before starting a room kernel: the pre-started one, if it is starting."""
        if _OWN_START.get():
            return None
        rs = self._rooms.get(room)
        if rs is None or rs.pending is None:
            return None
        spec, pending = rs.pending
        session_name = env.get("JPY_SESSION_NAME", "") if isinstance(env, dict) else ""
        if spec != kernel_name or os.path.basename(str(session_name)) != NOTEBOOK_NAME:
            return None
        rs.session_taken = True
        return await asyncio.shield(pending)

    # ---------------------------------------------------------------- language switch

    async def _switch(self, room_id: str) -> None:
        rs = self._rooms.get(room_id)
        if rs is None:
            return
        async with rs.lock:
            try:
                room = self.service.get_room(room_id)
            except InterviewError:
                return
            if room.language == rs.language:
                return
            rs.language = room.language
            try:
                await self.set_notebook_language(room)
            except Exception as e:
                self.log.warning("Room %s: the notebook's metadata did not change: %s", room_id, _message(e))
            session = await self._notebook_session(room.notebook_path)
            old = session["kernel"]["id"] if session is not None else rs.kernel_id
            if old is None or old not in self.km:
                if self.prestart != "off" and room.state is not RoomState.ENDED:
                    await self._prestart_locked(room_id, rs)
                return
            self._emit(room_id, {"status": "starting", "language": room.language})
            try:
                new = await self._start_for_room(room)
            except Exception as e:
                self.log.warning("Room %s: no %s kernel: %s", room_id, room.language, _message(e))
                self._emit(
                    room_id,
                    {
                        "status": "dead",
                        "language": room.language,
                        "reason": f"the {room.language} kernel could not start: {_message(e)}",
                    },
                )
                return
            if session is not None:
                await self.sm.update_session(session["id"], kernel_id=new)
            else:
                await self.sm.create_session(
                    path=room.notebook_path, name=NOTEBOOK_NAME, type="notebook", kernel_id=new
                )
            rs.kernel_id = new
            await self._shutdown(old)
            await self._settle(new)

    async def set_notebook_language(self, room: Room) -> None:
        """The notebook's kernelspec, language_info and our own metadata, for the room's language."""
        name = spec_for_language(room.language)
        try:
            spec = self.ksm.get_kernel_spec(name)
            kernelspec = {"name": name, "display_name": spec.display_name, "language": spec.language}
        except Exception:
            kernelspec = {"name": name, "display_name": name, "language": room.language}
        changes: dict[str, Any] = {
            "kernelspec": kernelspec,
            "language_info": dict(LANGUAGE_INFO.get(room.language, {"name": room.language})),
        }
        doc = await self._live_notebook(room.notebook_path)
        if doc is not None:
            from pycrdt import Map

            meta = doc.ydoc.get("meta", type=Map)
            with doc.ydoc.transaction():
                metadata = meta.get("metadata")
                if not isinstance(metadata, Map):
                    metadata = meta["metadata"] = Map({})
                ours = metadata.get("jupyter_interview")
                changes["jupyter_interview"] = {
                    **(ours if isinstance(ours, dict) else {}),
                    "room": room.id,
                    "language": room.language,
                }
                for key, value in changes.items():
                    metadata[key] = value
            return
        cm = self.serverapp.contents_manager
        model = await ensure_async(cm.get(room.notebook_path, content=True, type="notebook"))
        notebook = model["content"]
        ours = notebook.metadata.get("jupyter_interview") or {}
        changes["jupyter_interview"] = {**ours, "room": room.id, "language": room.language}
        notebook.metadata.update(changes)
        await ensure_async(
            cm.save({"type": "notebook", "format": "json", "content": notebook}, room.notebook_path)
        )

    async def _live_notebook(self, path: str) -> Any:
        """jupyter-collaboration's shared notebook for the path if it has it loaded, else None."""
        apps = self.serverapp.extension_manager.extension_apps.get("jupyter_server_ydoc") or set()
        for app in apps:
            get_document = getattr(app, "get_document", None)
            if get_document is not None:
                return await get_document(
                    path=path, content_type="notebook", file_format="json", copy=False, create=False
                )
        return None

    # ---------------------------------------------------------------- after End

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_interval_s)
            try:
                await self.sweep()
            except Exception:
                self.log.exception("kernel lifecycle: the sweep of ended rooms failed")

    def _staff_present(self, room_id: str) -> bool:
        ch = self.hub.channels.get(room_id)
        return ch is not None and any(m.actor.role in STAFF for m in ch.members.values())

    async def sweep(self) -> None:
        """Stop the kernels of ended rooms no interviewer uses any more."""
        now = time.time()
        for room_id in sorted(set(self.km.kernel_rooms.values())):
            if is_slot_name(room_id):
                continue
            try:
                room = self.service.get_room(room_id)
            except InterviewError:
                continue  # deleting the room shuts its kernels down
            if room.state is not RoomState.ENDED:
                continue
            if not self._staff_present(room_id):
                await self.stop_room(room_id, "the interview ended and no interviewer is connected")
                continue
            last = room.ended_at or now
            for kernel_id, r in list(self.km.kernel_rooms.items()):
                if r == room_id and kernel_id in self.km:
                    activity = getattr(self.km.get_kernel(kernel_id), "last_activity", None)
                    if activity is not None:
                        last = max(last, activity.timestamp())
            if now - last >= self.ended_idle_timeout_s:
                await self.stop_room(
                    room_id,
                    f"the interview ended and its kernel was idle for {self.ended_idle_timeout_s:g} s",
                )

    async def stop_room(self, room_id: str, reason: str) -> None:
        kernels = [k for k, r in self.km.kernel_rooms.items() if r == room_id]
        for kernel_id in kernels:
            state = self._kernels.get(kernel_id)
            self._emit(
                room_id,
                {
                    "status": "dead",
                    "language": state.language if state else self._language(room_id),
                    "kernel_id": kernel_id,
                    "reason": reason,
                },
            )
            await self._shutdown(kernel_id)
        rs = self._rooms.get(room_id)
        if rs is not None:
            rs.kernel_id = None
        if kernels:
            self.log.info("Room %s: %d kernel(s) stopped: %s", room_id, len(kernels), reason)

    async def _shutdown(self, kernel_id: str) -> None:
        if kernel_id not in self.km:
            return
        self._quiet.add(kernel_id)
        try:
            await self.km.shutdown_kernel(kernel_id)  # type: ignore[no-untyped-call]
        except Exception as e:
            self.log.warning("kernel %s did not shut down cleanly: %s", kernel_id, e)
        finally:
            self._quiet.discard(kernel_id)
            self._untrack(kernel_id)

    # ---------------------------------------------------------------- status

    def _language(self, room_id: str) -> str:
        rs = self._rooms.get(room_id)
        return rs.language if rs is not None else "python"

    async def wait_ready(self, kernel_id: str) -> None:
        """Until the kernel answers a kernel_info request (which also makes Jupyter call it idle).

        Shell only: jupyter_client's wait_for_ready also waits to see its own iopub subscription
        connected, which costs seconds under load and says nothing about the kernel.
        """
        manager: Any = self.km.get_kernel(kernel_id)
        client: Any = manager.client()
        client.start_channels(iopub=False, stdin=False, hb=False, control=False)  # the shell channel only
        deadline = time.monotonic() + self.ready_timeout_s
        try:
            while True:
                asked = client.kernel_info()
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"no kernel_info reply within {self.ready_timeout_s:g} s")
                    try:
                        reply = await client.get_shell_msg(timeout=min(1.0, left))
                    except Empty:
                        break  # ask again: a request sent before the kernel listened can be lost
                    if reply.get("parent_header", {}).get("msg_id") == asked:
                        return
                if not await manager.is_alive():
                    raise RuntimeError("the kernel died before it answered")
        finally:
            client.stop_channels()

    async def _settle(self, kernel_id: str) -> None:
        """Wait for a kernel's first reply, then tell the room it is idle (or dead)."""
        try:
            await self.wait_ready(kernel_id)
        except Exception as e:
            if kernel_id in self._kernels:
                self._set(kernel_id, "dead", f"no reply: {_message(e)}")
            return
        state = self._kernels.get(kernel_id)
        if state is not None and state.status in ("starting", "restarting", "dead"):
            self._set(kernel_id, "idle")

    def _track(self, kernel_id: str, room_id: str, status: str = "starting") -> None:
        if kernel_id in self._kernels:
            self._kernels[kernel_id].room_id = room_id
            self._set(kernel_id, status)
            return
        name = getattr(self.km.get_kernel(kernel_id), "kernel_name", "") or ""
        language = (
            name.removeprefix("interview-") if name.startswith("interview-") else self._language(room_id)
        )
        self._kernels[kernel_id] = _Kernel(room_id, language, status)
        manager = self.km.get_kernel(kernel_id)
        with contextlib.suppress(Exception):
            manager.observe(partial(self._observed, kernel_id), names="execution_state")
        self.km.add_restart_callback(kernel_id, partial(self._restarter, kernel_id, "restart"), "restart")
        self.km.add_restart_callback(kernel_id, partial(self._restarter, kernel_id, "dead"), "dead")
        self._flush(kernel_id)

    def _untrack(self, kernel_id: str) -> None:
        state = self._kernels.pop(kernel_id, None)
        if state is not None and state.flush is not None:
            state.flush.cancel()

    def kernel_event(self, kernel_id: str, event: str, detail: Any = None) -> None:
        """From RoomKernelManager (see kernels.KernelWatcher)."""
        if event == "started":
            room_id = self.km.kernel_rooms.get(kernel_id)
            if room_id is not None and not is_slot_name(room_id):
                self._track(kernel_id, room_id)
        elif kernel_id not in self._kernels:
            return
        elif event == "restarting":
            self._set(kernel_id, "restarting")
        elif event == "restarted":
            if isinstance(detail, asyncio.Future):
                detail.add_done_callback(partial(self._restart_done, kernel_id))
            else:
                self._set(kernel_id, "idle")
        elif event == "restart-failed":
            self._set(kernel_id, "dead", f"the restart failed: {_message(detail)}")
        elif event == "removed":
            if kernel_id not in self._quiet:
                manager = self.km.get_kernel(kernel_id) if kernel_id in self.km else None
                died = self.km.sandbox_exit_reason(kernel_id)
                if manager is not None and not manager.shutting_down and died:
                    self._set(kernel_id, "dead", f"it died and could not be restarted: {died}")
                else:
                    self._set(kernel_id, "dead", "the kernel was shut down")
            self._untrack(kernel_id)

    def _restart_done(self, kernel_id: str, replied: asyncio.Future[Any]) -> None:
        if kernel_id not in self._kernels:
            return
        if replied.cancelled() or replied.exception() is not None:
            error = replied.exception() if not replied.cancelled() else None
            self._set(kernel_id, "dead", f"no reply after the restart: {_message(error or TimeoutError())}")
        else:
            self._set(kernel_id, "idle")

    def _restarter(self, kernel_id: str, event: str) -> None:
        """The kernel's restarter found it dead: restarting it ("restart"), or giving up ("dead")."""
        if kernel_id not in self._kernels:
            return
        reason = self.km.sandbox_exit_reason(kernel_id) or "the kernel process ended"
        if event == "dead":
            self._set(kernel_id, "dead", f"it died and could not be restarted: {reason}")
            return
        self._set(kernel_id, "dead", reason)
        self._set(kernel_id, "restarting")
        self._spawn(self._settle(kernel_id))

    def _observed(self, kernel_id: str, change: dict[str, Any]) -> None:
        state = self._kernels.get(kernel_id)
        new = change.get("new")
        if state is None or new not in ("busy", "idle", "starting"):
            return
        if state.status in ("restarting", "dead") and new != "busy":
            return  # our own readiness check says when it is back
        self._set(kernel_id, new)

    def _on_execution(self, execution: Execution) -> None:
        kernel_id = execution.kernel_id
        if kernel_id not in self._kernels:
            return
        if execution.status == "timeout":
            self._set(kernel_id, "limit", execution.reason or "the execution hit the time limit")
        elif execution.status == "died":
            self._set(kernel_id, "dead", execution.reason or "the kernel died")
        elif execution.status == "restarted" and self._kernels[kernel_id].status != "restarting":
            self._set(kernel_id, "restarting", execution.reason)
            self._spawn(self._settle(kernel_id))

    def _set(self, kernel_id: str, status: str, reason: str | None = None) -> None:
        state = self._kernels.get(kernel_id)
        if state is None:
            return
        state.status, state.reason = status, reason
        if status in COALESCED and state.sent is not None:
            wait = state.sent_at + self.status_interval_s - time.monotonic()
            if wait > 0:
                if state.flush is None:
                    state.flush = asyncio.get_running_loop().call_later(wait, self._flush, kernel_id)
                return
        self._flush(kernel_id)

    def _flush(self, kernel_id: str) -> None:
        state = self._kernels.get(kernel_id)
        if state is None:
            return
        if state.flush is not None:
            state.flush.cancel()
            state.flush = None
        current = (state.status, state.reason)
        if current == state.sent:
            return
        state.sent, state.sent_at = current, time.monotonic()
        self._emit(state.room_id, state.payload(kernel_id))

    def _emit(self, room_id: str, payload: dict[str, Any]) -> None:
        ch = self.hub.channels.get(room_id)
        if ch is not None:
            # Not kept for resume: a client that resumes gets the current status in its welcome.
            self.hub.emit(ch, KERNEL_EVENT, payload, replayable=False)

    def room_status(self, room_id: str) -> dict[str, Any] | None:
        """The room notebook's kernel status now (for the welcome), or None when it has none."""
        rs = self._rooms.get(room_id)
        if rs is None:
            return None
        if rs.kernel_id is not None and rs.kernel_id in self._kernels:
            return self._kernels[rs.kernel_id].payload(rs.kernel_id)
        if rs.pending is not None:
            return {"status": "starting", "language": rs.language}
        for kernel_id, state in self._kernels.items():
            if state.room_id == room_id:
                return state.payload(kernel_id)
        return None
