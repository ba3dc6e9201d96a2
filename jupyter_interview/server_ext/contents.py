"""Contents manager for interview servers: the file API and /files/ never read or write through a link."""

# This module overrides jupyter_server's contents classes, whose methods are unannotated: calling
# them through super() is the point, not an accident.
# mypy: allow-untyped-calls

from __future__ import annotations

import errno
import os
import secrets
import shutil
import stat
from base64 import b64decode
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import partial
from typing import IO, Any

import nbformat
from anyio.to_thread import run_sync
from jupyter_core.paths import is_file_hidden, is_hidden
from jupyter_server.files.handlers import FilesHandler
from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints
from jupyter_server.services.contents.fileio import AsyncFileManagerMixin
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import default

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO a kernel planted must not hang a server thread in open(); regular files ignore it.
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class LinkRefused(web.HTTPError):
    """A path is a link or goes through one: HTTP 403.

    A tornado HTTPError rather than a jupyter_interview.errors kind: Jupyter's own contents and
    files handlers are the ones that render it.
    """

    def __init__(self, path: str, via: str | None = None) -> None:
        if via is None or via == path:
            message = f"path {path!r} is a link; links are not served in interview rooms"
        else:
            message = f"path {path!r} goes through the link {via!r}; links are not served in interview rooms"
        super().__init__(403, message, reason="Link refused")
        self.path = path


def _is_hard_linked(st: os.stat_result) -> bool:
    # Directories always count several links; only a second name for a file is a way into it.
    return stat.S_ISREG(st.st_mode) and st.st_nlink > 1


def _is_link(st: os.stat_result) -> bool:
    return stat.S_ISLNK(st.st_mode) or _is_hard_linked(st)


def _is_symlink_at(dir_fd: int, name: str) -> bool:
    # open(O_DIRECTORY | O_NOFOLLOW) on a symlink fails with ENOTDIR on Linux, not ELOOP, so the
    # error alone does not tell a link from a file.
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def _split(root: str, os_path: str) -> tuple[str, list[str]]:
    """The directory trusted as it is, and the names below it that must not be links."""
    root = os.path.abspath(root)
    os_path = os.path.abspath(os_path)
    rel = os.path.relpath(os_path, root)
    if rel == os.curdir:
        return root, []
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        # Checkpoints fall back to the system temp dir when a folder is read-only; there only the
        # file itself is ours to check.
        return os.path.dirname(os_path), [os.path.basename(os_path)]
    return root, rel.split(os.sep)


def _refuse_links(root: str, os_path: str) -> None:
    """Raise LinkRefused if an existing component below root is a symlink or the target a hard link."""
    anchor, parts = _split(root, os_path)
    api_path = "/".join(parts)
    current = anchor
    for index, name in enumerate(parts):
        current = os.path.join(current, name)
        try:
            st = os.lstat(current)
        except (FileNotFoundError, NotADirectoryError):
            # Nothing exists past this point, so nothing past it can redirect the operation.
            break
        is_last = index == len(parts) - 1
        if stat.S_ISLNK(st.st_mode) or (is_last and _is_hard_linked(st)):
            raise LinkRefused(api_path, "/".join(parts[: index + 1]))
        if not stat.S_ISDIR(st.st_mode):
            break
    # Belt and braces for what lstat cannot see from here (e.g. a path rewritten between the checks).
    real_anchor = os.path.realpath(anchor)
    if os.path.commonpath([real_anchor, os.path.realpath(os_path)]) != real_anchor:
        raise LinkRefused(api_path)


@contextmanager
def _parent_dir(root: str, os_path: str) -> Iterator[tuple[int, str, str]]:
    """Open the directory holding os_path with no link followed on the way: (dir fd, name, api path).

    Operations then act relative to this descriptor, so a component swapped for a symlink after
    a check cannot redirect them.
    """
    anchor, parts = _split(root, os_path)
    api_path = "/".join(parts)
    if not parts:
        raise web.HTTPError(400, "the root directory cannot be used as a file")
    fd = os.open(anchor, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for index, name in enumerate(parts[:-1]):
            walked = "/".join(parts[: index + 1])
            try:
                next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as e:
                if e.errno in (errno.ELOOP, errno.ENOTDIR) and _is_symlink_at(fd, name):
                    raise LinkRefused(api_path, walked) from e
                if e.errno in (errno.ENOENT, errno.ENOTDIR):
                    raise web.HTTPError(404, f"No such directory: {walked}") from e
                raise
            os.close(fd)
            fd = next_fd
        yield fd, parts[-1], api_path
    finally:
        os.close(fd)


def _checked_fd(fd: int, api_path: str) -> os.stat_result:
    """Check the open file itself: the name may have been swapped since any earlier look."""
    st = os.fstat(fd)
    if _is_hard_linked(st):
        raise LinkRefused(api_path)
    if not stat.S_ISREG(st.st_mode):
        raise web.HTTPError(400, f"Not a regular file: {api_path}")
    os.set_blocking(fd, True)
    return st


def _open_for_read(root: str, os_path: str) -> int:
    """A descriptor on a plain, single-link regular file under root."""
    with _parent_dir(root, os_path) as (dir_fd, name, api_path):
        try:
            fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise LinkRefused(api_path) from e
            raise
    try:
        _checked_fd(fd, api_path)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _keep_owner_and_mode(fd: int, old: os.stat_result) -> None:
    # A kernel runs under its own uid and must still be able to write a file it created after
    # the UI saved over it.
    new = os.fstat(fd)
    if (new.st_uid, new.st_gid) != (old.st_uid, old.st_gid):
        with suppress(PermissionError):
            os.fchown(fd, old.st_uid, old.st_gid)
    os.fchmod(fd, stat.S_IMODE(old.st_mode))


@contextmanager
def _replacing_writer(
    root: str,
    os_path: str,
    text: bool = True,
    encoding: str = "utf-8",
    times_ns: tuple[int, int] | None = None,
    **kwargs: Any,
) -> Iterator[IO[Any]]:
    """Write a fresh temp file next to os_path and rename it over os_path once complete.

    rename() replaces a name; it never writes through a symlink or into a hard-linked inode, so a
    link planted after the check below is replaced, not followed.
    """
    with _parent_dir(root, os_path) as (dir_fd, name, api_path):
        try:
            old: os.stat_result | None = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            old = None
        if old is not None:
            if _is_link(old):
                raise LinkRefused(api_path)
            if not stat.S_ISREG(old.st_mode):
                raise web.HTTPError(400, f"Cannot write over a non-file: {api_path}")
        # Fixed-length name: the target's name may already be at NAME_MAX.
        tmp_name = f".~jupyter-interview-{secrets.token_hex(8)}.tmp"
        fd = os.open(
            tmp_name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o666,
            dir_fd=dir_fd,
        )
        try:
            if old is not None:
                _keep_owner_and_mode(fd, old)
            if text:
                kwargs.setdefault("newline", "\n")
                fileobj: IO[Any] = os.fdopen(fd, "w", encoding=encoding, closefd=False, **kwargs)
            else:
                fileobj = os.fdopen(fd, "wb", closefd=False, **kwargs)
            with fileobj:
                yield fileobj
                fileobj.flush()
            if times_ns is not None:
                os.utime(fd, ns=times_ns)
            os.fsync(fd)
            os.replace(tmp_name, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp_name, dir_fd=dir_fd)
            raise
        finally:
            os.close(fd)


def _append(root: str, os_path: str, data: bytes) -> None:
    """Append a chunk of a large upload to a plain, single-link file."""
    with _parent_dir(root, os_path) as (dir_fd, name, api_path):
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            fd = os.open(name, flags, 0o666, dir_fd=dir_fd)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise LinkRefused(api_path) from e
            raise
    try:
        _checked_fd(fd, api_path)
        with os.fdopen(fd, "ab", closefd=False) as f:
            f.write(data)
    finally:
        os.close(fd)


def _copy_tree(src_fd: int, dst_fd: int) -> None:
    """Copy a directory between descriptors, leaving links out as listings do."""
    with os.scandir(src_fd) as entries:
        for entry in entries:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                try:
                    child_src = os.open(entry.name, _DIR_FLAGS, dir_fd=src_fd)
                except OSError as e:
                    if e.errno in (errno.ELOOP, errno.ENOTDIR) and _is_symlink_at(src_fd, entry.name):
                        continue
                    raise
                try:
                    os.mkdir(entry.name, stat.S_IMODE(st.st_mode) | stat.S_IRWXU, dir_fd=dst_fd)
                    child_dst = os.open(entry.name, _DIR_FLAGS, dir_fd=dst_fd)
                    try:
                        _copy_tree(child_src, child_dst)
                    finally:
                        os.close(child_dst)
                finally:
                    os.close(child_src)
            elif stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
                try:
                    fd = os.open(entry.name, _READ_FLAGS, dir_fd=src_fd)
                except OSError as e:
                    if e.errno == errno.ELOOP:
                        continue
                    raise
                try:
                    try:
                        fst = _checked_fd(fd, entry.name)
                    except web.HTTPError:
                        continue
                    out = os.open(
                        entry.name,
                        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                        stat.S_IMODE(fst.st_mode),
                        dir_fd=dst_fd,
                    )
                    with os.fdopen(fd, "rb", closefd=False) as f_in, os.fdopen(out, "wb") as f_out:
                        shutil.copyfileobj(f_in, f_out)
                        f_out.flush()
                        os.utime(out, ns=(fst.st_atime_ns, fst.st_mtime_ns))
                finally:
                    os.close(fd)


def _copy_dir(root: str, src_os_path: str, dst_os_path: str) -> None:
    with (
        _parent_dir(root, src_os_path) as (src_parent, src_name, src_api),
        _parent_dir(root, dst_os_path) as (dst_parent, dst_name, _),
    ):
        try:
            src_fd = os.open(src_name, _DIR_FLAGS, dir_fd=src_parent)
        except OSError as e:
            if e.errno in (errno.ELOOP, errno.ENOTDIR) and _is_symlink_at(src_parent, src_name):
                raise LinkRefused(src_api) from e
            raise
        try:
            os.mkdir(dst_name, dir_fd=dst_parent)
            dst_fd = os.open(dst_name, _DIR_FLAGS, dir_fd=dst_parent)
            try:
                _copy_tree(src_fd, dst_fd)
            finally:
                os.close(dst_fd)
        finally:
            os.close(src_fd)


def _plain_entries(os_dir: str) -> list[tuple[str, os.stat_result]]:
    """Directory entries that are directories or single-link regular files."""
    plain = []
    with os.scandir(os_dir) as entries:
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if _is_link(st) or not (stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)):
                continue
            plain.append((entry.name, st))
    return plain


class ContentsFilesHandler(FilesHandler):
    """/files/ served only through ``contents_manager.get``, so downloads get the link checks.

    Upstream's FilesHandler inherits StaticFileHandler.initialize, which demands a ``path`` root
    (with ``files_handler_params={}`` every request fails); it needs none, and giving it none
    means any fallback to static serving fails instead of reading root_dir through links.
    """

    def initialize(self) -> None:  # type: ignore[override]
        pass


class _NoLinkFileIO(AsyncFileManagerMixin):
    """The byte-level primitives of Jupyter's file managers, checked on the open descriptors.

    Upstream reaches them from many places (plain and chunked saves, notebooks, checkpoints,
    sometimes via ``super()`` past any higher override), so they are the one place that holds.
    """

    def _link_root(self) -> str:
        return str(self.root_dir)  # type: ignore[attr-defined]

    @contextmanager
    def open(self, os_path: str, *args: Any, **kwargs: Any) -> Iterator[IO[Any]]:
        mode = str(args[0] if args else kwargs.pop("mode", "r"))
        if set(mode) - set("rbt"):
            raise ValueError(f"{type(self).__name__}.open only reads; writes go through atomic_writing")
        with self.perm_to_403(os_path):
            fd = _open_for_read(self._link_root(), os_path)
        with os.fdopen(fd, mode, *args[1:], **kwargs) as f:
            yield f

    @contextmanager
    def atomic_writing(self, os_path: str, *args: Any, **kwargs: Any) -> Iterator[IO[Any]]:
        # Always atomic, whatever use_atomic_writing says: upstream's "atomic" path opens the
        # target in place and its simple path follows a final symlink, so both write into links.
        kwargs.pop("log", None)
        with self.perm_to_403(os_path), _replacing_writer(self._link_root(), os_path, *args, **kwargs) as f:
            yield f

    async def _copy(self, src: str, dest: str) -> None:
        def copy() -> None:
            fd = _open_for_read(self._link_root(), src)
            with os.fdopen(fd, "rb") as f_in:
                st = os.fstat(fd)
                data = f_in.read()
            with _replacing_writer(
                self._link_root(), dest, text=False, times_ns=(st.st_atime_ns, st.st_mtime_ns)
            ) as f_out:
                f_out.write(data)

        with self.perm_to_403(src):
            await run_sync(copy)

    async def _read_notebook(
        self,
        os_path: str,
        as_version: int = 4,
        capture_validation_error: dict[str, Any] | None = None,
        raw: bool = False,
    ) -> Any:
        # Upstream falls back to a `.~name` file when a notebook does not parse; this writer never
        # leaves one, so such a file was planted and must not be moved into place.
        bcontent = (await self._read_file(os_path, "byte"))[0]
        assert isinstance(bcontent, bytes)
        try:
            nb = await run_sync(
                partial(
                    nbformat.reads,
                    as_version=as_version,
                    capture_validation_error=capture_validation_error,
                ),
                bcontent.decode("utf8"),
            )
        except Exception as e:
            raise web.HTTPError(400, f"Unreadable Notebook: {os_path} {e!r}") from e
        return (nb, bcontent) if raw else nb


class SafeFileCheckpoints(_NoLinkFileIO, AsyncFileCheckpoints):
    """File checkpoints that neither read nor write through a link planted in `.ipynb_checkpoints`."""

    def checkpoint_path(self, checkpoint_id: str, path: str) -> str:
        os_path = str(super().checkpoint_path(checkpoint_id, path))
        _refuse_links(self._link_root(), os_path)
        return os_path


# The ignore repeats upstream's own on AsyncFileContentsManager: its bases disagree on resolve_path.
class SafeContentsManager(_NoLinkFileIO, AsyncLargeFileManager):  # type: ignore[misc]
    """A large-file contents manager that refuses links, for servers whose kernels are not trusted.

    Kernels write into the interview folders and can create symlinks and hard links there; a link
    to the JWT secret, the SQLite database or another room's file would otherwise be read, served
    by /files/ or overwritten by the file API. So:

    - Every operation (get, save including chunked uploads, new, copy, rename, delete, checkpoints)
      answers 403 (``LinkRefused``) when a path component below root_dir is a symlink, when the
      target (or rename/copy source) is a regular file with more than one hard link, or when the
      real path leaves the real root_dir. ``file_exists``/``dir_exists`` answer False for such
      paths; ``exists`` answers True so new files never take a link's name.
    - Bytes are read and written through descriptors opened with O_NOFOLLOW on every component
      and checked with fstat, so a link swapped in after the check is refused, not followed.
      Writes always go to a temp file renamed over the target (``use_atomic_writing`` is ignored).
      Renames and folder copies also act on descriptors; creating and deleting a name is checked
      by path just before acting.
    - Directory listings leave links out, so the UI never offers one; copying a folder leaves
      them out too.
    - /files/ is served by ``ContentsFilesHandler`` (jupyter_server's FilesHandler) through
      ``get`` instead of a StaticFileHandler over root_dir, which followed symlinks. It holds a
      whole download in memory.

    The rule covers the whole root, not only ``interviews/``: an interview server's owner has no
    use for links, and a root-wide rule leaves no boundary to get wrong (a link at ``interviews``
    itself, or one renamed out of a room). Hard-linked files put there by other tools (a
    package manager's link farm, say) are hidden as well.
    """

    @default("files_handler_class")
    def _files_handler_class_default(self) -> type[FilesHandler]:
        return ContentsFilesHandler

    @default("files_handler_params")
    def _files_handler_params_default(self) -> dict[str, Any]:
        return {}

    @default("checkpoints_class")
    def _checkpoints_class_default(self) -> type[SafeFileCheckpoints]:
        return SafeFileCheckpoints

    def _refuse(self, path: str) -> str:
        os_path = str(self._get_os_path(path.strip("/")))
        _refuse_links(self._link_root(), os_path)
        return os_path

    # Sync like FileContentsManager.exists, which is what upstream's async get() calls unawaited.
    def exists(self, path: str) -> bool:  # type: ignore[override]
        # A link still takes its name: new files never land on one, and get() answers 403, not 404.
        return os.path.lexists(self._get_os_path(path.strip("/")))

    def _plain_kind(self, path: str) -> int | None:
        """S_IFREG or S_IFDIR for a path reached without links, else None."""
        try:
            st = os.stat(self._refuse(path))
        except (LinkRefused, OSError):
            return None
        return stat.S_IFMT(st.st_mode)

    # Local stat calls take microseconds; as upstream, they run on the event loop rather than pay
    # for a thread hop.
    async def file_exists(self, path: str) -> bool:
        return self._plain_kind(path) == stat.S_IFREG

    async def dir_exists(self, path: str) -> bool:
        return self._plain_kind(path) == stat.S_IFDIR

    async def get(
        self,
        path: str,
        content: bool = True,
        type: str | None = None,
        format: str | None = None,
        require_hash: bool = False,
    ) -> dict[str, Any]:
        self._refuse(path)
        model: dict[str, Any] = await super().get(
            path, content=content, type=type, format=format, require_hash=require_hash
        )
        return model

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        self._refuse(path)
        saved: dict[str, Any] = await super().save(model, path)
        return saved

    async def _save_large_file(self, os_path: str, content: str, format: str | None) -> None:
        if format not in {"text", "base64"}:
            raise web.HTTPError(400, "Must specify format of file contents as 'text' or 'base64'")
        try:
            data = content.encode("utf8") if format == "text" else b64decode(content.encode("ascii"))
        except Exception as e:
            raise web.HTTPError(400, f"Encoding error saving {os_path}: {e}") from e
        with self.perm_to_403(os_path):
            await run_sync(_append, self._link_root(), os_path, data)

    async def delete_file(self, path: str) -> None:
        self._refuse(path)
        await super().delete_file(path)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        old_path, new_path = old_path.strip("/"), new_path.strip("/")
        if old_path == new_path:
            return
        old_os, new_os = self._refuse(old_path), self._refuse(new_path)
        root = self._link_root()
        if not self.allow_hidden and (is_hidden(old_os, root) or is_hidden(new_os, root)):
            raise web.HTTPError(400, f"Cannot rename file or directory {old_path!r}")

        def rename() -> None:
            with (
                _parent_dir(root, old_os) as (old_dir, old_name, _),
                _parent_dir(root, new_os) as (new_dir, new_name, _),
            ):
                try:
                    st = os.stat(old_name, dir_fd=old_dir, follow_symlinks=False)
                except FileNotFoundError:
                    raise web.HTTPError(404, f"File or directory does not exist: {old_path}") from None
                if _is_link(st):
                    raise LinkRefused(old_path)
                try:
                    os.stat(new_name, dir_fd=new_dir, follow_symlinks=False)
                except FileNotFoundError:
                    pass
                else:
                    raise web.HTTPError(409, f"File already exists: {new_path}")
                os.rename(old_name, new_name, src_dir_fd=old_dir, dst_dir_fd=new_dir)

        try:
            with self.perm_to_403():
                await run_sync(rename)
        except web.HTTPError:
            raise
        except Exception as e:
            raise web.HTTPError(500, f"Unknown error renaming file: {old_path} {e}") from e

    async def _copy_dir(
        self, from_path: str, to_path_original: str, to_name: str, to_path: str
    ) -> dict[str, Any]:
        src_os, dst_os = self._refuse(from_path), self._refuse(to_path)
        try:
            await run_sync(_copy_dir, self._link_root(), src_os, dst_os)
        except web.HTTPError:
            raise
        except OSError as err:
            self.log.error("OSError copying folder %s to %s: %s", from_path, to_path, err)
            raise web.HTTPError(400, f"Can't copy '{from_path}' into read-only Folder '{to_path}'") from err
        model: dict[str, Any] = await self.get(to_path, content=False)
        return model

    async def _dir_model(self, path: str, content: bool = True) -> dict[str, Any]:
        model: dict[str, Any] = await super()._dir_model(path, content=False)
        if not content:
            return model
        os_dir = str(self._get_os_path(path))
        contents = []
        for name, st in await run_sync(_plain_entries, os_dir):
            if not self.should_list(name):
                continue
            if not self.allow_hidden and is_file_hidden(os.path.join(os_dir, name), stat_res=st):
                continue
            try:
                contents.append(await self.get(f"{path}/{name}", content=False))
            except web.HTTPError as e:
                # Became a link or vanished since the scan: leave it out rather than fail the listing.
                if e.status_code not in (403, 404):
                    raise
            except OSError as e:
                if e.errno not in (errno.ELOOP, errno.EACCES, errno.ENOENT):
                    self.log.warning("Error listing %s/%s", path, name, exc_info=True)
        model["content"] = contents
        model["format"] = "json"
        return model

    async def create_checkpoint(self, path: str) -> dict[str, Any]:
        self._refuse(path)
        checkpoint: dict[str, Any] = await super().create_checkpoint(path)
        return checkpoint

    async def restore_checkpoint(self, checkpoint_id: str, path: str) -> None:
        self._refuse(path)
        await super().restore_checkpoint(checkpoint_id, path)

    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        self._refuse(path)
        checkpoints: list[dict[str, Any]] = await super().list_checkpoints(path)
        return checkpoints

    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        self._refuse(path)
        await super().delete_checkpoint(checkpoint_id, path)
