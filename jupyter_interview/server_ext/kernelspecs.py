"""Kernelspecs: the sandboxed interview specs beside Jupyter's own, and the list invite identities may see.

`InterviewKernelSpecManager` adds the specs shipped in `interview_kernel/specs/*/kernel.json`
(argv[0] "python" becomes the server's interpreter) and marks a language whose toolchain is
missing as unavailable, with the reason, in `metadata.jupyter_interview.unavailable`. Jupyter's
native specs stay, for the owner's own notebooks; invite identities see only sandboxed specs
(the handlers below), and `RoomKernelManager` refuses any other spec for a room's kernel.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
from jupyter_core.utils import ensure_async
from jupyter_server.kernelspecs.handlers import KernelSpecResourceHandler
from jupyter_server.services.kernelspecs.handlers import (
    KernelSpecHandler,
    MainKernelSpecHandler,
    kernel_name_regex,
    kernelspec_model,
)
from jupyter_server.utils import url_path_join
from tornado import web
from traitlets import Unicode, default

from jupyter_interview.sandbox.backend import SANDBOX_PATH
from jupyter_interview.sandbox.provisioner import PROVISIONER_NAME
from jupyter_interview.server_ext.identity import SERVICE_KEY, InterviewUser

META = "jupyter_interview"
DEFAULT_SPEC = "interview-python"


def spec_for_language(language: str) -> str:
    return f"interview-{language}"


def is_sandboxed(spec: KernelSpec | dict[str, Any]) -> bool:
    """Whether a spec runs under the sandbox provisioner, with no per-spec provisioner settings.

    A spec's `kernel_provisioner.config` becomes the provisioner's traitlets, so a spec could turn
    the sandbox off (backend "none"); such a spec does not count as sandboxed.
    """
    metadata = spec.get("metadata", {}) if isinstance(spec, dict) else spec.metadata
    provisioner = (metadata or {}).get("kernel_provisioner") or {}
    return provisioner.get("provisioner_name") == PROVISIONER_NAME and not provisioner.get("config")


def unavailable_reason(spec: KernelSpec | dict[str, Any]) -> str | None:
    metadata = spec.get("metadata", {}) if isinstance(spec, dict) else spec.metadata
    reason = ((metadata or {}).get(META) or {}).get("unavailable")
    return str(reason) if reason else None


def _default_specs_dir() -> str:
    try:
        from importlib.resources import files

        path = str(files("interview_kernel") / "specs")
        if os.path.isdir(path):
            return path
    except (ImportError, TypeError):
        pass
    # A checkout: kernels/interview_kernel/specs beside the jupyter_interview package.
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.join(here, "kernels", "interview_kernel", "specs")


class InterviewKernelSpecManager(KernelSpecManager):
    """Jupyter's kernelspecs plus the interview specs, which win over installed specs of the same name."""

    interview_specs_dir = Unicode(
        config=True,
        help="Folder of the interview kernelspecs (one folder per spec, each with kernel.json). Default:"
        " the interview_kernel package's specs, else kernels/interview_kernel/specs in a checkout.",
    )
    toolchain_path = Unicode(
        SANDBOX_PATH,
        config=True,
        help="PATH searched for each spec's required executables (metadata.jupyter_interview.requires):"
        " the PATH kernels have inside the sandbox.",
    )

    @default("interview_specs_dir")
    def _interview_specs_dir_default(self) -> str:
        return _default_specs_dir()

    def interview_specs(self) -> dict[str, str]:
        """Name -> resource folder of every shipped interview spec."""
        found: dict[str, str] = {}
        base = self.interview_specs_dir
        if not base or not os.path.isdir(base):
            return found
        for name in sorted(os.listdir(base)):
            folder = os.path.join(base, name)
            if os.path.isfile(os.path.join(folder, "kernel.json")):
                found[name.lower()] = folder
        return found

    def find_kernel_specs(self) -> dict[str, str]:
        specs: dict[str, str] = dict(super().find_kernel_specs())
        shipped = self.interview_specs()
        if self.allowed_kernelspecs:
            shipped = {k: v for k, v in shipped.items() if k in self.allowed_kernelspecs}
        specs.update(shipped)
        return specs

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        folder = self.interview_specs().get(kernel_name.lower())
        if folder is None:
            spec: KernelSpec = super().get_kernel_spec(kernel_name)
            return spec
        if self.allowed_kernelspecs and kernel_name.lower() not in self.allowed_kernelspecs:
            raise NoSuchKernel(kernel_name)
        return self._load(folder)

    def _load(self, folder: str) -> KernelSpec:
        spec: KernelSpec = self.kernel_spec_class.from_resource_dir(folder)
        argv = list(spec.argv)
        if argv and argv[0] == "python":
            argv[0] = sys.executable
            spec.argv = argv
        metadata = dict(spec.metadata or {})
        ours = dict(metadata.get(META) or {})
        missing = [
            exe for exe in ours.get("requires", []) if shutil.which(exe, path=self.toolchain_path) is None
        ]
        if missing:
            ours["unavailable"] = (
                f"{', '.join(missing)} not installed (looked in {self.toolchain_path});"
                " the set-up command installs the toolchains"
            )
        else:
            ours.pop("unavailable", None)
        metadata[META] = ours
        spec.metadata = metadata
        return spec


# ---- what invite identities receive from the kernelspec routes ----


def _participant(handler: web.RequestHandler) -> InterviewUser | None:
    user = handler.current_user
    if isinstance(user, InterviewUser) and not user.is_owner:
        return user
    return None


def _room_default(handler: web.RequestHandler, user: InterviewUser, names: set[str]) -> str:
    service = handler.settings.get(SERVICE_KEY)
    try:
        language = service.get_room(str(user.room_id)).language if service is not None else "python"
    except Exception:
        language = "python"
    preferred = spec_for_language(language)
    if preferred in names:
        return preferred
    return DEFAULT_SPEC if DEFAULT_SPEC in names else sorted(names)[0] if names else ""


class RoomKernelSpecsHandler(MainKernelSpecHandler):
    """GET api/kernelspecs: invite identities see sandboxed specs only, the room's language as default."""

    async def get(self) -> None:
        user = _participant(self)
        if user is None:
            await super().get()  # type: ignore[misc]
            return
        ksm = self.kernel_spec_manager
        specs = await ensure_async(ksm.get_all_specs())
        models = {}
        for name, info in specs.items():
            spec = info.get("spec") or {}
            if not is_sandboxed(spec):
                continue
            models[name] = kernelspec_model(self, name, spec, info.get("resource_dir", ""))  # type: ignore[no-untyped-call]
        body = {"default": _room_default(self, user, set(models)), "kernelspecs": models}
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))


async def _refuse_unsandboxed(handler: web.RequestHandler, kernel_name: str) -> None:
    """404 for an invite identity asking about a spec it may not start (as if it did not exist)."""
    if _participant(handler) is None:
        return
    ksm = handler.settings["kernel_spec_manager"]
    try:
        spec = await ensure_async(ksm.get_kernel_spec(kernel_name))
    except KeyError as e:
        raise web.HTTPError(404, f"Kernel spec {kernel_name} not found") from e
    if not is_sandboxed(spec):
        raise web.HTTPError(404, f"Kernel spec {kernel_name} not found")


class RoomKernelSpecHandler(KernelSpecHandler):
    async def get(self, kernel_name: str) -> None:
        await _refuse_unsandboxed(self, kernel_name)
        await super().get(kernel_name)  # type: ignore[misc]


class RoomKernelSpecResourceHandler(KernelSpecResourceHandler):
    async def get(self, kernel_name: str, path: str, include_body: bool = True) -> None:  # type: ignore[override]
        await _refuse_unsandboxed(self, kernel_name)
        served = KernelSpecResourceHandler.get(self, kernel_name, path, include_body=include_body)
        if served is not None:
            await served


def kernelspec_handlers(base_url: str) -> list[tuple[str, Any, Any]]:
    return [
        (url_path_join(base_url, r"/api/kernelspecs"), RoomKernelSpecsHandler, {}),
        (url_path_join(base_url, r"/api/kernelspecs/" + kernel_name_regex), RoomKernelSpecHandler, {}),
        (
            url_path_join(base_url, r"/kernelspecs/" + kernel_name_regex + r"/(?P<path>.*)"),
            RoomKernelSpecResourceHandler,
            {},
        ),
    ]
