"""The composition root: reads config, builds store, invites, service and limits, hands them to handlers."""

from __future__ import annotations

import asyncio
import gc
import os
import threading
from collections.abc import Coroutine
from typing import Any

from jupyter_core.paths import jupyter_config_dir, jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from limits.storage import RedisStorage
from tornado.ioloop import IOLoop
from traitlets import Bool, Dict, Enum, Float, Integer, List, Type, Unicode, default

from jupyter_interview.rooms import ice
from jupyter_interview.rooms.executions import EXECUTIONS_KEY, ExecutionFeed
from jupyter_interview.rooms.invites import InviteCodec, InviteKeys
from jupyter_interview.rooms.redis_store import RedisRoomStore
from jupyter_interview.rooms.service import RoomService
from jupyter_interview.rooms.store import RoomStore, SQLiteRoomStore
from jupyter_interview.server_ext.activity import ActivityFeed
from jupyter_interview.server_ext.authorizer import InterviewAuthorizer
from jupyter_interview.server_ext.collab import ROUTE as COLLAB_ROUTE
from jupyter_interview.server_ext.collab import (
    YDOC_EXTENSION,
    CollabSockets,
    RoomDocSocketHandler,
    use_wal,
)
from jupyter_interview.server_ext.handlers import CONFIG_KEY, LIMITS_KEY, default_handlers
from jupyter_interview.server_ext.history import HISTORY_KEY, HistoryRecorder
from jupyter_interview.server_ext.identity import SERVICE_KEY, InterviewIdentityProvider, InterviewUser
from jupyter_interview.server_ext.kernel_lifecycle import KernelLifecycle
from jupyter_interview.server_ext.kernel_traffic import install as install_kernel_traffic
from jupyter_interview.server_ext.kernels import RoomKernelManager
from jupyter_interview.server_ext.kernelspecs import kernelspec_handlers
from jupyter_interview.server_ext.ratelimit import RateLimits
from jupyter_interview.server_ext.scoped import scoped_handlers
from jupyter_interview.server_ext.ws import HUB_KEY, ORIGINS_KEY, RELAY_KEY, RoomSocketHandler
from jupyter_interview.signaling import events
from jupyter_interview.signaling.hub import Hub
from jupyter_interview.signaling.hub import Settings as HubSettings
from jupyter_interview.signaling.limits import DEFAULT_RATE_CLASSES
from jupyter_interview.signaling.relay import RedisRelay

# Lab plugins an invite identity has no use for, or that would reach outside the room.
PARTICIPANT_DISABLED_PLUGINS = [
    "@jupyterlab/terminal-extension",
    "@jupyterlab/extensionmanager-extension",
    "@jupyterlab/apputils-extension:announcements",
    "@jupyterlab/lsp-extension",
    "@jupyterlab/running-extension",
    "@jupyterlab/help-extension:about",
    "@jupyterlab/help-extension:jupyter-forum",
    "@jupyterlab/hub-extension",
    "@jupyterlab/settingeditor-extension",
    "@jupyterlab/notebook-extension:kernel-selector",
    "nbdime-jupyterlab",  # installed with nbdime (history's diff); its git diff views need the owner's API
    # These would only fail against routes the role matrix refuses (running sessions, LSP servers,
    # nbconvert's list of formats), with errors in the console or in dialogs.
    "@jupyterlab/workspaces-extension",
    "@jupyterlab/fileeditor-extension:language-server",
    "@jupyterlab/notebook-extension:language-server",
    "@jupyterlab/notebook-extension:export",
    "@jupyterlab/notebook-extension:update-raw-mimetype",
    # jupyter-collaboration's global awareness (other rooms' users: refused), its panel over it, its
    # share-a-link dialog, and its debug logger (a subscription to the server's events: refused).
    "@jupyter/collaboration-extension:rtcGlobalAwareness",
    "@jupyter/collaboration-extension:rtcPanel",
    "@jupyter/collaboration-extension:shared-link",
    "@jupyter/docprovider-extension:logger",
    # Not needed to solve a problem in a notebook; off, the candidate's page loads less.
    "@jupyterlab/debugger-extension",
    "@jupyterlab/toc-extension",
    "@jupyterlab/notebook-extension:toc",
    "@jupyterlab/celltags-extension",
    "@jupyterlab/metadataform-extension",
    "@jupyterlab/pluginmanager-extension",
    "@jupyterlab/logconsole-extension",
    "@jupyterlab/help-extension",
    "@jupyterlab/csvviewer-extension",
    "@jupyterlab/pdf-extension",
    "@jupyterlab/htmlviewer-extension",
    "@jupyterlab/launcher-extension",  # the room's notebook fills the main area
    "@jupyterlab/inspector-extension",
    "@jupyterlab/vega5-extension",
    "jupyterlab_pygments",  # styles for nbconvert's HTML, which the room does not show
]


def run_blocking(coro: Coroutine[Any, Any, None]) -> None:
    """Run start-up I/O to completion whether or not the caller's thread already runs a loop."""
    error: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro)
        except BaseException as e:
            error.append(e)

    thread = threading.Thread(target=target, name="interview-startup")
    thread.start()
    thread.join()
    if error:
        raise error[0]


# The JupyterLab server extension: our lobby page route builds on its page handler.
LAB_EXTENSION = "jupyterlab"


class InterviewApp(ExtensionApp):
    name = "jupyter_interview"
    app_name = "Jupyter Interview"
    description = "Live technical interviews on Jupyter: rooms, invites and roles."
    extension_url = "/lab"
    load_other_extensions = True
    # The lobby bundle (static/lobby.js) and the participant app (static/app/), served at
    # {base_url}static/jupyter_interview/.
    static_paths = [os.path.join(os.path.dirname(os.path.dirname(__file__)), "static")]  # noqa: RUF012

    # Used when launched as `jupyter interview serve`: the server itself becomes interview-aware.
    serverapp_config = {  # noqa: RUF012 (a traitlets-era class attribute of ExtensionApp)
        "identity_provider_class": "jupyter_interview.server_ext.identity.InterviewIdentityProvider",
        "authorizer_class": "jupyter_interview.server_ext.authorizer.InterviewAuthorizer",
        "contents_manager_class": "jupyter_interview.server_ext.contents.SafeContentsManager",
        "kernel_manager_class": "jupyter_interview.server_ext.kernels.RoomKernelManager",
        "kernel_spec_manager_class": "jupyter_interview.server_ext.kernelspecs.InterviewKernelSpecManager",
        "kernel_websocket_connection_class": "jupyter_interview.server_ext.kernel_traffic.KernelTrafficConnection",
    }

    store_class = Type(
        default_value=SQLiteRoomStore,
        klass=RoomStore,
        config=True,
        help="Where rooms, invites, sessions and notes are kept (SQLiteRoomStore by default).",
    )
    db_path = Unicode(
        config=True,
        help="The SQLite file of the room store; default: <jupyter data dir>/jupyter_interview/rooms.sqlite",
    )
    invite_secret = Unicode(
        "",
        config=True,
        help="HS256 secret for invites (at least 32 bytes). Empty: a per-install secret in the data dir.",
    )
    invite_secret_path = Unicode(
        config=True, help="File of the per-install invite secret (mode 0600), outside the served root."
    )
    invite_public_keys = List(
        Unicode(),
        default_value=[],
        config=True,
        help="PEM public keys (RS256/ES256) of an external invite issuer; when set, invites are verify-only.",
    )
    invite_jwks_path = Unicode(
        "", config=True, help="A JWKS file of an external invite issuer (verify-only)."
    )
    invite_issuer = Unicode("jupyter-interview", config=True, help="The `iss` every invite must carry.")
    invite_audience = Unicode("jupyter-interview", config=True, help="The `aud` every invite must carry.")
    invite_expires_in_s = Integer(
        7 * 24 * 3600, config=True, help="Default lifetime of a new invite, in seconds."
    )
    session_max_age_s = Integer(
        12 * 3600, config=True, help="Longest life of a session opened from an invite."
    )
    session_grace_s = Integer(
        15 * 60, config=True, help="How long sessions outlive the end of their interview."
    )
    public_url = Unicode(
        "",
        config=True,
        help="Public base URL behind a reverse proxy (e.g. https://interviews.example.com/); used in invite links.",
    )
    max_body_bytes = Integer(64 * 1024, config=True, help="Largest request body our API accepts, in bytes.")
    notes_max_chars = Integer(60_000, config=True, help="Longest interviewer notes, in characters.")
    rate_limits = Dict(
        default_value={"create_room": "30/minute", "invite": "60/minute", "join": "30/minute"},
        config=True,
        help="Limits per identity and per client address, as 'N/period' (moving window) per action.",
    )
    stun_urls = List(
        Unicode(),
        default_value=[],
        config=True,
        help="STUN urls handed to participants (e.g. stun:turn.example.com:3478). Empty by default: no"
        " public STUN server is contacted unless an operator sets one.",
    )
    turn_urls = List(
        Unicode(),
        default_value=[],
        config=True,
        help="TURN urls handed to participants (e.g. turn:turn.example.com:3478?transport=udp), each with"
        " per-participant TURN REST credentials; needs turn_secret.",
    )
    turn_secret = Unicode(
        "",
        config=True,
        help="The TURN server's shared secret (coturn use-auth-secret / static-auth-secret) that signs"
        " the TURN credentials.",
    )
    turn_ttl_s = Integer(
        3600,
        config=True,
        help="Lifetime of minted TURN credentials, in seconds. A call set up before expires_at keeps its"
        " relay; a new call or an ICE restart after it needs fresh credentials from the server.",
    )
    ice_transport_policy = Enum(
        list(ice.TRANSPORT_POLICIES),
        default_value="all",
        config=True,
        help="The iceTransportPolicy clients should use: 'all', or 'relay' to send all media via TURN.",
    )
    hide_plugins_for_participants = Bool(
        True,
        config=True,
        help="Disable lab plugins (terminal, extension manager, ...) for invite identities.",
    )

    participant_app = Bool(
        True,
        config=True,
        help="Serve interviewers and candidates the participant app: JupyterLab with only the plugins an"
        " interview uses (it loads faster). False: JupyterLab's own page, with every plugin the"
        " server does not disable for participants.",
    )

    reconnect_grace_s = Float(
        60.0,
        config=True,
        help="How long a participant whose socket dropped stays 'reconnecting' and can resume, in seconds.",
    )
    signaling_max_frame_bytes = Integer(
        64 * 1024, config=True, help="Largest real-time message accepted, in bytes (an SDP fits)."
    )
    signaling_log_size = Integer(
        5000, config=True, help="Events each room keeps in memory for clients that resume after a drop."
    )
    signaling_rate_classes = Dict(
        default_value={},
        config=True,
        help="Per-socket limits by event class, e.g. {'chat': [5, 20]} for 5/s with bursts of 20;"
        " classes: control, signaling, chat, typing, reactions.",
    )
    ws_allowed_origins = List(
        Unicode(),
        default_value=[],
        config=True,
        help="Origins besides the server's own allowed to open real-time sockets (e.g. https://app.example.com).",
    )

    redis_url = Unicode(
        "",
        config=True,
        help="redis://host:port/db shared by several server processes: rooms, sessions and rate-limit"
        " counters live there, and each room's real-time hub runs in one process while the others relay"
        " to it. Empty (the default): one process, SQLite.",
    )

    redis_lease_s = Float(
        15.0,
        config=True,
        help="With redis_url: how long a process's claim on a room lasts unless renewed; after a crash,"
        " its rooms move to another process once this has passed.",
    )

    freeze_startup_heap = Bool(
        True,
        config=True,
        help="Move everything built at start-up out of the garbage collector's full collections"
        " (gc.freeze), so real-time traffic is not paused by walks of the server's whole heap.",
    )

    @default("db_path")
    def _db_path(self) -> str:
        return os.path.join(jupyter_data_dir(), "jupyter_interview", "rooms.sqlite")

    @default("invite_secret_path")
    def _secret_path(self) -> str:
        return os.path.join(jupyter_data_dir(), "jupyter_interview", "invite_secret")

    def _link_jupyter_server_extension(self, serverapp: Any) -> None:
        super()._link_jupyter_server_extension(serverapp)
        # jupyter-collaboration keeps every document update in `.jupyter_ystore.db` in the server's
        # working directory by default: often the served root, where a participant could read other
        # rooms' history. We link before it (extensions link in name order), so moving its store into
        # the data dir here reaches it, unless the deployment chose a path itself.
        ystore = serverapp.config.SQLiteYStore
        if "db_path" not in ystore:
            ystore.db_path = os.path.join(os.path.dirname(self.db_path), "ystore.db")
        use_wal(str(ystore.db_path))  # each update is a commit: see collab.use_wal
        # Its session file (document ids and session ids) defaults to <root>/.jupyter/ too.
        ydoc = serverapp.config.YDocExtension
        if "session_store_path" not in ydoc:
            ydoc.session_store_path = os.path.join(
                os.path.dirname(self.db_path), "collaboration_sessions.json"
            )

    def _invite_keys(self) -> InviteKeys:
        if self.invite_public_keys or self.invite_jwks_path:
            jwks = None
            if self.invite_jwks_path:
                import json

                with open(self.invite_jwks_path, encoding="utf-8") as f:
                    jwks = json.load(f)
            return InviteKeys.public_keys(pems=list(self.invite_public_keys) or None, jwks=jwks)
        if self.invite_secret:
            return InviteKeys.hs256(self.invite_secret.encode())
        return InviteKeys.load_or_create_secret(self.invite_secret_path)

    def _check_secrets_outside_root(self, root_dir: str) -> None:
        root = os.path.realpath(root_dir) + os.sep
        for label, path in (("db_path", self.db_path), ("invite_secret_path", self.invite_secret_path)):
            if os.path.realpath(path).startswith(root):
                raise ValueError(
                    f"InterviewApp.{label} ({path}) is under the served root {root_dir}; move it out"
                )

    def initialize_settings(self) -> None:
        serverapp = self.serverapp
        assert serverapp is not None
        root_dir = serverapp.root_dir
        self._check_secrets_outside_root(root_dir)
        ice.check_urls(self.stun_urls, self.turn_urls, self.turn_secret)
        codec = InviteCodec(self._invite_keys(), issuer=self.invite_issuer, audience=self.invite_audience)
        store = RedisRoomStore(self.redis_url) if self.redis_url else self.store_class(self.db_path)
        self.service = RoomService(
            store,
            codec,
            root_dir,
            session_max_age_s=self.session_max_age_s,
            session_grace_s=self.session_grace_s,
        )
        run_blocking(self.service.load())
        self.hub = events.install(
            Hub(
                self.service,
                HubSettings(
                    max_frame_bytes=self.signaling_max_frame_bytes,
                    grace_s=self.reconnect_grace_s,
                    log_size=self.signaling_log_size,
                    rate_classes={
                        **DEFAULT_RATE_CLASSES,
                        **{k: tuple(v) for k, v in self.signaling_rate_classes.items()},
                    },
                ),
            )
        )
        self.collab_sockets = CollabSockets(self.service, serverapp)
        # Executions as the server saw them (kernel side publishes; history and activity subscribe).
        self.executions = ExecutionFeed()
        # Snapshots, replay frames, executions and room events of each room (config: HistoryRecorder).
        self.history = HistoryRecorder(
            service=self.service,
            serverapp=serverapp,
            hub=self.hub,
            executions=self.executions,
            collab_sockets=self.collab_sockets,
            default_db_path=os.path.join(os.path.dirname(self.db_path), "history.sqlite"),
            parent=self,
        )
        # Who edited which cell, cursors, executions: summaries to interviewers (config: ActivityFeed).
        self.activity = ActivityFeed(
            self.hub, self.service, self.collab_sockets, self.executions, parent=self
        )
        if not isinstance(serverapp.identity_provider, InterviewIdentityProvider):
            self.log.warning(
                "jupyter_interview: ServerApp.identity_provider_class is not InterviewIdentityProvider;"
                " invite links will not sign anyone in."
            )
        if not isinstance(serverapp.authorizer, InterviewAuthorizer):
            self.log.warning("jupyter_interview: ServerApp.authorizer_class is not InterviewAuthorizer.")
        self._link_kernels(serverapp)
        # Room kernels started before they are needed, switched with the language, stopped after the
        # end; their status to the room (config: KernelLifecycle).
        self.kernel_lifecycle = (
            KernelLifecycle(
                serverapp=serverapp,
                service=self.service,
                hub=self.hub,
                executions=self.executions,
                multi_process=bool(self.redis_url),
                parent=self,
            )
            if isinstance(serverapp.kernel_manager, RoomKernelManager)
            else None
        )
        # Room kernels' sockets and a server-side watcher per room kernel publish to self.executions.
        self.kernel_traffic = install_kernel_traffic(
            serverapp, self.settings, self.executions, self.service, self
        )
        self.settings.update(
            {
                SERVICE_KEY: self.service,
                HUB_KEY: self.hub,
                EXECUTIONS_KEY: self.executions,
                HISTORY_KEY: self.history,
                ORIGINS_KEY: [o.rstrip("/").lower() for o in self.ws_allowed_origins],
                LIMITS_KEY: RateLimits(
                    dict(self.rate_limits), RedisStorage(self.redis_url) if self.redis_url else None
                ),
                CONFIG_KEY: {
                    "public_url": self.public_url,
                    "max_body_bytes": self.max_body_bytes,
                    "notes_max_chars": self.notes_max_chars,
                    "invite_expires_in_s": self.invite_expires_in_s,
                    "session_max_age_s": self.session_max_age_s,
                    "stun_urls": list(self.stun_urls),
                    "turn_urls": list(self.turn_urls),
                    "turn_secret": self.turn_secret,
                    "turn_ttl_s": self.turn_ttl_s,
                    "ice_transport_policy": self.ice_transport_policy,
                },
            }
        )
        self._install_page_config_hook()
        # An invite in a log is a key in a log: Jupyter's access log scrubs these query parameters.
        # (self.settings, not the web app's: ExtensionApp copies self.settings over them afterwards.)
        scrubbed = self.settings.get("extra_log_scrub_param_keys") or []
        self.settings["extra_log_scrub_param_keys"] = [*scrubbed, "invite"]

    def _link_kernels(self, serverapp: Any) -> None:
        km = serverapp.kernel_manager
        if isinstance(km, RoomKernelManager):
            km.room_service = self.service
        else:
            self.log.warning(
                "jupyter_interview: ServerApp.kernel_manager_class is not RoomKernelManager; room kernels"
                " are neither confined to their room nor required to run sandboxed."
            )
        from jupyter_interview.sandbox.provisioner import preflight

        name, isolated, problems = preflight(km)
        if not isolated:
            self.log.warning(
                "jupyter_interview: SandboxProvisioner.backend is %r: room kernels run WITHOUT a sandbox.",
                name,
            )
        for problem in problems:
            self.log.error(
                "jupyter_interview: kernel sandbox %r: %s; room kernels will not start.", name, problem
            )

    def _install_page_config_hook(self) -> None:
        previous = self.settings.get("page_config_hook")
        disabled = list(PARTICIPANT_DISABLED_PLUGINS) if self.hide_plugins_for_participants else []

        def hook(handler: Any, page_config: dict[str, Any]) -> dict[str, Any]:
            if previous is not None:
                page_config = previous(handler, page_config)
            user = handler.current_user
            if isinstance(user, InterviewUser) and not user.is_owner:
                # jupyterlab_server hands every request the same dict (the app's page_config_data):
                # change a copy, or one participant's values reach the next page, the owner's too.
                page_config = dict(page_config)
                # The lab would send the server's own token with every request: the owner's identity.
                page_config["token"] = ""
                page_config["terminalsAvailable"] = False
                page_config["buildAvailable"] = False
                page_config["buildCheck"] = False
                page_config["disabledExtensions"] = [*page_config.get("disabledExtensions", []), *disabled]
                # A federated extension disabled whole is not even downloaded: the page loads less.
                page_config["federated_extensions"] = [
                    ext
                    for ext in page_config.get("federated_extensions", [])
                    if ext.get("name") not in disabled
                ]
                page_config["interviewRoom"] = user.room_id
                page_config["interviewRole"] = user.role
                # Whether the page may open the room's files now: the lab extension lets it open
                # the notebook at once, or waits (a waiting candidate would get "cannot open").
                identity = getattr(handler, "_interview_identity", None)
                if identity is not None:
                    page_config["interviewAccess"] = RoomService.access(identity.room, identity.participant)
                    # For the lobby, which shows before the lab can ask the server anything.
                    page_config["interviewTitle"] = identity.room.title
                    page_config["interviewState"] = identity.room.state.value
                page_config["news"] = {"disabled": True}
                page_config["checkForUpdates"] = False
            return page_config

        self.settings["page_config_hook"] = hook

    def initialize_handlers(self) -> None:
        # ExtensionApp prefixes every pattern with base_url itself.
        from jupyterlab_server.workspaces_handler import WorkspacesManager

        workspaces = WorkspacesManager(os.path.join(jupyter_config_dir(), "lab", "workspaces"))
        self.handlers.extend(default_handlers("/"))
        self.handlers.append((r"/interview/api/rooms/(?P<room_id>[A-Za-z0-9_-]{1,64})/ws", RoomSocketHandler))
        self.handlers.extend(scoped_handlers("/", "/lab/api/workspaces", workspaces))
        self.handlers.extend(kernelspec_handlers("/"))
        assert self.serverapp is not None
        if LAB_EXTENSION in self.serverapp.extension_manager.extensions:
            # Ahead of the lab's own page route (extensions load in name order, ours first).
            from jupyterlab.labapp import LabApp

            from jupyter_interview.server_ext.lobby import LOBBY_PAGE_ROUTE, LobbyPageHandler

            # The lab's settings listing from memory: its routes are added after ours (extensions load
            # in name order), so its handler is swapped once they are in, before the first request.
            IOLoop.current().add_callback(self._cache_lab_settings)
            # The handler reads the lab's settings, kept under the lab app's name.
            self.handlers.append(
                (
                    LOBBY_PAGE_ROUTE,
                    LobbyPageHandler,
                    {"name": LabApp.name, "participant_app": self.participant_app},
                )
            )
        if YDOC_EXTENSION in self.serverapp.extension_manager.extensions:
            # Same route as jupyter-collaboration's socket: ours was added first, so it matches first
            # (tornado tries rules in the order they were added). Its server objects are reached at
            # the first request, since jupyter_server_ydoc initialises after us.
            self.handlers.append((COLLAB_ROUTE, RoomDocSocketHandler, {"sockets": self.collab_sockets}))

    def _cache_lab_settings(self) -> None:
        from jupyter_interview.server_ext.settings_cache import install_settings_cache

        assert self.serverapp is not None
        swapped = install_settings_cache(self.serverapp.web_app)
        self.log.debug("jupyter_interview: the lab's settings listing cached (%d routes)", swapped)

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        self.hub.start()
        if self.kernel_lifecycle is not None:
            self.kernel_lifecycle.start()
        await self.history.start()
        if self.freeze_startup_heap:
            # What start-up built (Jupyter, the lab, our service) lives as long as the process;
            # frozen, full collections no longer walk it, which keeps real-time pauses short.
            gc.collect()
            gc.freeze()
        if self.redis_url:
            self.relay = RedisRelay(self.hub, self.redis_url, lease_s=self.redis_lease_s)
            await self.relay.start()
            serverapp.web_app.settings[RELAY_KEY] = self.relay

    async def stop_extension(self) -> None:
        lifecycle: KernelLifecycle | None = getattr(self, "kernel_lifecycle", None)
        if lifecycle is not None:
            await lifecycle.stop()
        traffic = getattr(self, "kernel_traffic", None)
        if traffic is not None:
            traffic.close()
        relay: RedisRelay | None = getattr(self, "relay", None)
        if relay is not None:
            await relay.stop()
        history: HistoryRecorder | None = getattr(self, "history", None)
        if history is not None:
            await history.stop()
        service: RoomService | None = getattr(self, "service", None)
        if service is not None:
            await service.close()


main = launch_new_instance = InterviewApp.launch_instance
