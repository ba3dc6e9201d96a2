"""The lab's settings listing, kept until a file it is made from changes.

Every lab page starts with `GET lab/api/settings`: every plugin's schema and settings, about 140 KB,
which jupyterlab_server rebuilds from disk on each request (44 ms on an idle 2-core machine, over
100 ms while pages load), and which gates the page's plugins. It is the same for every user (the
server's settings, not a participant's), so this handler keeps it per (locale, ids only) until a
file under the user settings, the app settings, the schemas or the lab extensions changes: the same
answer, from memory. One plugin's settings and writes go to jupyterlab_server's handler unchanged.

`install_settings_cache` swaps the handler class of the lab's own settings routes (their arguments
kept), so this needs no copy of how the lab configures them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from typing import Any

from jupyterlab_server.settings_handler import SettingsHandler
from jupyterlab_server.settings_utils import get_settings
from jupyterlab_server.translation_utils import translator
from tornado import web

# Deep enough for settings files (<user settings>/<package>/<plugin>.jupyterlab-settings, scoped
# packages one level more) and extensions' schemas (<labextensions>/<@scope>/<name>/schemas/...).
_DEPTH = 5


def _stats(root: str, depth: int) -> Iterator[tuple[str, int, int]]:
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        try:
            st = entry.stat()
        except OSError:
            continue
        yield entry.path, st.st_mtime_ns, st.st_size
        if depth > 1 and entry.is_dir(follow_symlinks=True):
            yield from _stats(entry.path, depth - 1)


def fingerprint(roots: Iterable[str]) -> tuple[tuple[str, int, int], ...]:
    """What the listing is made from, as (path, mtime, size) of every file and folder under `roots`."""
    return tuple(sorted(item for root in roots if root for item in _stats(root, _DEPTH)))


class CachedSettingsHandler(SettingsHandler):
    """jupyterlab_server's settings handler, its listing served from memory while its files stay."""

    # (fingerprint, {ids_only: body}), shared by the handlers of one process.
    _listing: tuple[tuple[tuple[str, int, int], ...], dict[bool, str]] | None = None

    def _roots(self) -> list[str]:
        return [self.settings_dir, self.app_settings_dir, self.schemas_dir, *(self.labextensions_path or [])]

    @web.authenticated
    def get(self, schema_name: str = "") -> Any:
        if schema_name:
            return super().get(schema_name)
        ids_only = self.get_argument("ids_only", "") == "true"
        stamp = fingerprint(self._roots())
        cached = CachedSettingsHandler._listing
        if cached is None or cached[0] != stamp:
            cached = CachedSettingsHandler._listing = (stamp, {})
        body = cached[1].get(ids_only)
        if body is None:
            # As jupyterlab_server answers it: schema titles translated to the settings' locale.
            translator.set_locale(self.get_current_locale())
            result, warnings = get_settings(
                self.app_settings_dir,
                self.schemas_dir,
                self.settings_dir,
                labextensions_path=self.labextensions_path,
                overrides=self.overrides,
                translator=translator.translate_schema,
                ids_only=ids_only,
            )
            for warning in warnings:
                if warning:
                    self.log.warning(warning)
            body = cached[1][ids_only] = json.dumps(result)
        return self.finish(body)


def install_settings_cache(web_app: web.Application) -> int:
    """Serve the lab's settings routes with CachedSettingsHandler; how many routes were swapped."""
    swapped = 0
    pending: list[Any] = [web_app.default_router]
    while pending:
        router = pending.pop()
        for rule in getattr(router, "rules", []):
            if rule.target is SettingsHandler:
                rule.target = CachedSettingsHandler
                swapped += 1
            elif hasattr(rule.target, "rules"):
                pending.append(rule.target)
    return swapped
