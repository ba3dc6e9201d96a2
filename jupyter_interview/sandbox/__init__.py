"""Kernel sandboxing: a jupyter_client provisioner and the backends that isolate each room's kernels."""

from jupyter_interview.sandbox.backend import Limits, NoSandbox, SandboxBackend, SandboxError, SandboxRequest

__all__ = ["Limits", "NoSandbox", "SandboxBackend", "SandboxError", "SandboxRequest"]
