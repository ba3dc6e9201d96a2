"""SafeContentsManager refuses links a kernel can plant in a room, directly and through a real server."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_server.files.handlers import FilesHandler
from tornado import web
from tornado.httpclient import HTTPClientError, HTTPResponse

from jupyter_interview.server_ext import contents
from jupyter_interview.server_ext.contents import LinkRefused, SafeContentsManager

Fetch = Callable[..., Awaitable[HTTPResponse]]

SECRET = b"jwt-signing-secret-do-not-leak\n"
DATABASE = b"SQLite format 3\x00rooms and invites\n"
ROOM_B_ANSWER = b"print('room B answer')\n"
NOTES = "room A notes\n"

TARGETS = ("jwt_secret", "sqlite_db", "room_b_file")
LINKS = [f"{kind}-{target}" for kind in ("symlink", "hardlink") for target in TARGETS]


@dataclass
class Rooms:
    """interviews/roomA holds a symlink and a hard link to each target, and dir -> ../roomB."""

    root: Path
    targets: dict[str, Path]
    originals: dict[str, bytes]

    @property
    def room_a(self) -> Path:
        return self.root / "interviews" / "roomA"

    @property
    def room_b(self) -> Path:
        return self.root / "interviews" / "roomB"

    def target_of(self, link: str) -> Path:
        return self.targets[link.split("-", 1)[1]]

    def assert_targets_untouched(self) -> None:
        for name, path in self.targets.items():
            assert path.read_bytes() == self.originals[name], name


def build_rooms(root: Path, outside: Path) -> Rooms:
    # `outside` sits next to root on the same tmp filesystem, so hard links to it can be made.
    room_a = root / "interviews" / "roomA"
    room_b = root / "interviews" / "roomB"
    for folder in (room_a, room_b, outside):
        folder.mkdir(parents=True, exist_ok=True)
    (room_a / "notes.txt").write_text(NOTES)
    targets = {
        "jwt_secret": outside / "jwt_secret",
        "sqlite_db": outside / "rooms.sqlite",
        "room_b_file": room_b / "answer.py",
    }
    originals = {"jwt_secret": SECRET, "sqlite_db": DATABASE, "room_b_file": ROOM_B_ANSWER}
    for name, target in targets.items():
        target.write_bytes(originals[name])
        os.symlink(os.path.relpath(target, room_a), room_a / f"symlink-{name}")
        os.link(target, room_a / f"hardlink-{name}")
    os.symlink("../roomB", room_a / "dir")
    return Rooms(root, targets, originals)


def api(link: str) -> str:
    return f"interviews/roomA/{link}"


async def refused(awaitable: Awaitable[Any]) -> LinkRefused:
    with pytest.raises(LinkRefused) as info:
        await awaitable
    assert info.value.status_code == 403
    assert "links are not served in interview rooms" in str(info.value.log_message)
    return info.value


# --- the manager on its own ------------------------------------------------------------------


@pytest.fixture
def rooms(tmp_path: Path) -> Rooms:
    return build_rooms(tmp_path / "root", tmp_path / "outside")


@pytest.fixture
def manager(rooms: Rooms) -> SafeContentsManager:
    # No trash: send2trash would write under the real HOME.
    return SafeContentsManager(root_dir=str(rooms.root), delete_to_trash=False)


@pytest.mark.parametrize("link", LINKS)
async def test_get_of_link_is_refused(manager: SafeContentsManager, rooms: Rooms, link: str) -> None:
    error = await refused(manager.get(api(link)))
    assert error.path == api(link)
    await refused(manager.get(api(link), content=False))
    await refused(manager.get(api(link), type="file", format="base64"))


@pytest.mark.parametrize("link", LINKS)
async def test_save_over_link_is_refused_and_target_untouched(
    manager: SafeContentsManager, rooms: Rooms, link: str
) -> None:
    await refused(manager.save({"type": "file", "format": "text", "content": "pwned"}, api(link)))
    rooms.assert_targets_untouched()
    assert (rooms.room_a / link).is_symlink() == link.startswith("symlink")


@pytest.mark.parametrize("link", ["symlink-jwt_secret", "hardlink-jwt_secret"])
async def test_save_over_link_is_refused_without_atomic_writing(
    manager: SafeContentsManager, rooms: Rooms, link: str
) -> None:
    manager.use_atomic_writing = False
    await refused(manager.save({"type": "file", "format": "text", "content": "pwned"}, api(link)))
    nb = nbformat.v4.new_notebook()
    await refused(manager.save({"type": "notebook", "content": nb}, api(link)))
    rooms.assert_targets_untouched()


@pytest.mark.parametrize("link", LINKS)
@pytest.mark.parametrize("chunk", [1, 2, -1])
async def test_chunked_upload_over_link_is_refused_and_target_untouched(
    manager: SafeContentsManager, rooms: Rooms, link: str, chunk: int
) -> None:
    model = {
        "type": "file",
        "format": "base64",
        "content": base64.b64encode(b"pwned").decode(),
        "chunk": chunk,
    }
    await refused(manager.save(model, api(link)))
    rooms.assert_targets_untouched()


@pytest.mark.parametrize("link", LINKS)
async def test_copy_from_link_is_refused(manager: SafeContentsManager, rooms: Rooms, link: str) -> None:
    await refused(manager.copy(api(link), "interviews/roomA"))
    await refused(manager.copy(api(link), "interviews/roomA/copied.txt"))
    assert not (rooms.room_a / "copied.txt").exists()
    assert sorted(p.name for p in rooms.room_a.iterdir() if "Copy" in p.name) == []


@pytest.mark.parametrize("link", LINKS)
async def test_rename_of_link_is_refused(manager: SafeContentsManager, rooms: Rooms, link: str) -> None:
    await refused(manager.rename(api(link), "interviews/roomA/renamed"))
    await refused(manager.update({"path": "interviews/roomA/renamed"}, api(link)))
    assert os.path.lexists(rooms.room_a / link)
    assert not os.path.lexists(rooms.room_a / "renamed")


@pytest.mark.parametrize("link", LINKS)
async def test_delete_of_link_is_refused(manager: SafeContentsManager, rooms: Rooms, link: str) -> None:
    await refused(manager.delete(api(link)))
    assert os.path.lexists(rooms.room_a / link)
    rooms.assert_targets_untouched()


@pytest.mark.parametrize("link", LINKS)
async def test_checkpoints_of_link_are_refused(manager: SafeContentsManager, rooms: Rooms, link: str) -> None:
    await refused(manager.create_checkpoint(api(link)))
    await refused(manager.list_checkpoints(api(link)))
    await refused(manager.restore_checkpoint("checkpoint", api(link)))
    await refused(manager.delete_checkpoint("checkpoint", api(link)))
    rooms.assert_targets_untouched()


@pytest.mark.parametrize("link", LINKS)
async def test_exists_checks_treat_link_as_taken_but_not_a_file(
    manager: SafeContentsManager, link: str
) -> None:
    assert manager.exists(api(link))
    assert not await manager.file_exists(api(link))
    assert not await manager.dir_exists(api(link))


async def test_listing_omits_links(manager: SafeContentsManager) -> None:
    listing = await manager.get("interviews/roomA")
    assert sorted(entry["name"] for entry in listing["content"]) == ["notes.txt"]
    root_listing = await manager.get("")
    assert [entry["name"] for entry in root_listing["content"]] == ["interviews"]


async def test_symlinked_folder_component_is_refused(manager: SafeContentsManager, rooms: Rooms) -> None:
    error = await refused(manager.get("interviews/roomA/dir/answer.py"))
    assert "goes through the link 'interviews/roomA/dir'" in str(error.log_message)
    await refused(manager.get("interviews/roomA/dir"))
    await refused(
        manager.save({"type": "file", "format": "text", "content": "x"}, "interviews/roomA/dir/new.txt")
    )
    await refused(manager.save({"type": "directory"}, "interviews/roomA/dir/newdir"))
    await refused(manager.rename("interviews/roomA/notes.txt", "interviews/roomA/dir/notes.txt"))
    with pytest.raises(web.HTTPError) as info:
        # dir_exists() says no for a linked folder, so upstream's copy answers "no such parent".
        await manager.copy("interviews/roomA/notes.txt", "interviews/roomA/dir/notes.txt")
    assert info.value.status_code == 404
    assert not await manager.dir_exists("interviews/roomA/dir")
    assert not await manager.file_exists("interviews/roomA/dir/answer.py")
    assert sorted(p.name for p in rooms.room_b.iterdir()) == ["answer.py"]
    assert (rooms.room_a / "notes.txt").read_text() == NOTES
    rooms.assert_targets_untouched()


async def test_plain_files_still_work(manager: SafeContentsManager, rooms: Rooms) -> None:
    model = await manager.get("interviews/roomA/notes.txt")
    assert model["content"] == NOTES

    await manager.save(
        {"type": "file", "format": "text", "content": "edited\n"}, "interviews/roomA/notes.txt"
    )
    assert (rooms.room_a / "notes.txt").read_text() == "edited\n"
    assert (rooms.room_a / "notes.txt").stat().st_nlink == 1

    first = base64.b64encode(b"part one ").decode()
    last = base64.b64encode(b"part two").decode()
    await manager.save(
        {"type": "file", "format": "base64", "content": first, "chunk": 1}, "interviews/roomA/big"
    )
    await manager.save(
        {"type": "file", "format": "base64", "content": last, "chunk": -1}, "interviews/roomA/big"
    )
    assert (rooms.room_a / "big").read_bytes() == b"part one part two"

    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("1 + 1"))
    await manager.save({"type": "notebook", "content": nb}, "interviews/roomA/work.ipynb")
    assert (await manager.get("interviews/roomA/work.ipynb"))["content"]["cells"][0]["source"] == "1 + 1"
    assert await manager.list_checkpoints("interviews/roomA/work.ipynb")
    nb.cells[0].source = "2 + 2"
    await manager.save({"type": "notebook", "content": nb}, "interviews/roomA/work.ipynb")
    await manager.restore_checkpoint("checkpoint", "interviews/roomA/work.ipynb")
    assert (await manager.get("interviews/roomA/work.ipynb"))["content"]["cells"][0]["source"] == "1 + 1"

    untitled = await manager.new_untitled("interviews/roomA", type="file", ext=".py")
    copied = await manager.copy("interviews/roomA/notes.txt", "interviews/roomA")
    assert copied["name"] == "notes-Copy1.txt"
    await manager.rename(copied["path"], "interviews/roomA/moved.txt")
    assert (rooms.room_a / "moved.txt").read_text() == "edited\n"
    await manager.delete(untitled["path"])
    assert not (rooms.room_a / untitled["name"]).exists()
    await manager.save({"type": "directory"}, "interviews/roomA/sub")
    assert await manager.dir_exists("interviews/roomA/sub")
    assert await manager.file_exists("interviews/roomA/moved.txt")
    names = {entry["name"] for entry in (await manager.get("interviews/roomA"))["content"]}
    assert names == {"notes.txt", "big", "work.ipynb", "moved.txt", "sub"}
    assert not [p for p in rooms.room_a.iterdir() if p.name.startswith(".~")]
    rooms.assert_targets_untouched()


@pytest.mark.parametrize("link", LINKS)
async def test_descriptor_checks_hold_when_a_link_appears_after_the_path_check(
    manager: SafeContentsManager, rooms: Rooms, link: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stands for a kernel swapping a link in between the path check and the open.
    monkeypatch.setattr(contents, "_refuse_links", lambda root, os_path: None)
    await refused(manager.get(api(link)))
    await refused(manager.save({"type": "file", "format": "text", "content": "pwned"}, api(link)))
    chunk = {"type": "file", "format": "text", "content": "pwned", "chunk": 2}
    await refused(manager.save(chunk, api(link)))
    await refused(manager.rename(api(link), "interviews/roomA/renamed"))
    await refused(manager.get("interviews/roomA/dir/answer.py"))
    await refused(
        manager.save({"type": "file", "format": "text", "content": "x"}, "interviews/roomA/dir/new.txt")
    )
    rooms.assert_targets_untouched()
    assert sorted(p.name for p in rooms.room_b.iterdir()) == ["answer.py"]


@pytest.mark.parametrize("kind", ["symlink", "hardlink"])
async def test_link_planted_as_checkpoint_is_neither_read_nor_written(
    manager: SafeContentsManager, rooms: Rooms, kind: str
) -> None:
    checkpoints = rooms.room_a / ".ipynb_checkpoints"
    checkpoints.mkdir()
    planted = checkpoints / "notes-checkpoint.txt"
    if kind == "symlink":
        os.symlink(rooms.targets["jwt_secret"], planted)
    else:
        os.link(rooms.targets["jwt_secret"], planted)
    await refused(manager.restore_checkpoint("checkpoint", "interviews/roomA/notes.txt"))
    await refused(manager.create_checkpoint("interviews/roomA/notes.txt"))
    assert (rooms.room_a / "notes.txt").read_text() == NOTES
    rooms.assert_targets_untouched()


async def test_symlinked_checkpoint_folder_is_not_written_through(
    manager: SafeContentsManager, rooms: Rooms
) -> None:
    os.symlink("../roomB", rooms.room_a / ".ipynb_checkpoints")
    await refused(manager.create_checkpoint("interviews/roomA/notes.txt"))
    assert sorted(p.name for p in rooms.room_b.iterdir()) == ["answer.py"]


async def test_fifo_is_refused_without_hanging(manager: SafeContentsManager, rooms: Rooms) -> None:
    os.mkfifo(rooms.room_a / "pipe")
    with pytest.raises(web.HTTPError) as info:
        await asyncio.wait_for(manager.get("interviews/roomA/pipe", type="file"), timeout=5)
    assert info.value.status_code == 400


async def test_copying_a_folder_leaves_links_out(manager: SafeContentsManager, rooms: Rooms) -> None:
    (rooms.room_a / "sub").mkdir()
    (rooms.room_a / "sub" / "data.csv").write_text("a,b\n")
    os.link(rooms.targets["jwt_secret"], rooms.room_a / "sub" / "nested-hardlink")
    copied = await manager.copy("interviews/roomA", "interviews")
    copy_dir = rooms.root / copied["path"]
    assert sorted(p.name for p in copy_dir.iterdir()) == ["notes.txt", "sub"]
    assert sorted(p.name for p in (copy_dir / "sub").iterdir()) == ["data.csv"]
    assert (copy_dir / "notes.txt").read_text() == NOTES


async def test_new_untitled_never_lands_on_a_link(manager: SafeContentsManager, rooms: Rooms) -> None:
    os.symlink(rooms.targets["jwt_secret"], rooms.room_a / "untitled.txt")
    model = await manager.new_untitled("interviews/roomA", type="file", ext=".txt")
    assert model["name"] == "untitled1.txt"
    rooms.assert_targets_untouched()


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
async def test_save_keeps_the_owner_and_mode_of_a_kernel_written_file(
    manager: SafeContentsManager, rooms: Rooms
) -> None:
    notes = rooms.room_a / "notes.txt"
    os.chown(notes, 65534, 65534)
    notes.chmod(0o664)
    await manager.save(
        {"type": "file", "format": "text", "content": "edited\n"}, "interviews/roomA/notes.txt"
    )
    st = notes.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (65534, 65534, 0o664)


# --- through a real server -------------------------------------------------------------------


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    # The interview extension is left off: these tests are about the contents manager alone.
    return {
        "ServerApp": {
            "contents_manager_class": "jupyter_interview.server_ext.contents.SafeContentsManager",
            "jpserver_extensions": {"jupyter_interview": False},
            "allow_root": True,
        }
    }


@pytest.fixture
def jp_base_url() -> str:
    return "/jp/"


@pytest.fixture
def served_rooms(jp_root_dir: Path, tmp_path: Path) -> Rooms:
    return build_rooms(jp_root_dir, tmp_path / "outside")


async def status_of(fetch: Fetch, *parts: str, **kwargs: Any) -> tuple[int, bytes]:
    try:
        response = await fetch(*parts, **kwargs)
    except HTTPClientError as e:
        assert e.response is not None
        return e.code, e.response.body
    return response.code, response.body


@pytest.mark.parametrize("link", LINKS)
async def test_api_get_of_link_is_403(jp_fetch: Fetch, served_rooms: Rooms, link: str) -> None:
    code, body = await status_of(jp_fetch, "api", "contents", api(link))
    assert code == 403
    assert (
        json.loads(body)["message"]
        == f"path {api(link)!r} is a link; links are not served in interview rooms"
    )
    assert SECRET not in body and DATABASE not in body and ROOM_B_ANSWER not in body


@pytest.mark.parametrize("link", LINKS)
async def test_files_download_of_link_is_403(jp_fetch: Fetch, served_rooms: Rooms, link: str) -> None:
    code, body = await status_of(jp_fetch, "files", api(link))
    assert code == 403
    assert SECRET not in body and DATABASE not in body and ROOM_B_ANSWER not in body
    code, _ = await status_of(jp_fetch, "files", api(link), params={"download": "1"})
    assert code == 403


@pytest.mark.parametrize("link", LINKS)
async def test_api_put_over_link_is_403_and_target_unchanged(
    jp_fetch: Fetch, served_rooms: Rooms, link: str
) -> None:
    body = json.dumps({"type": "file", "format": "text", "content": "pwned"})
    code, _ = await status_of(jp_fetch, "api", "contents", api(link), method="PUT", body=body)
    assert code == 403
    served_rooms.assert_targets_untouched()


@pytest.mark.parametrize("link", LINKS)
async def test_api_copy_from_link_is_403(jp_fetch: Fetch, served_rooms: Rooms, link: str) -> None:
    body = json.dumps({"copy_from": api(link)})
    code, _ = await status_of(jp_fetch, "api", "contents", "interviews/roomA", method="POST", body=body)
    assert code == 403
    assert not [p for p in served_rooms.room_a.iterdir() if "Copy" in p.name]


@pytest.mark.parametrize("link", LINKS)
async def test_api_rename_of_link_is_403(jp_fetch: Fetch, served_rooms: Rooms, link: str) -> None:
    body = json.dumps({"path": "interviews/roomA/renamed"})
    code, _ = await status_of(jp_fetch, "api", "contents", api(link), method="PATCH", body=body)
    assert code == 403
    assert os.path.lexists(served_rooms.room_a / link)
    assert not os.path.lexists(served_rooms.room_a / "renamed")


async def test_api_listing_omits_links(jp_fetch: Fetch, served_rooms: Rooms) -> None:
    response = await jp_fetch("api", "contents", "interviews/roomA")
    assert [entry["name"] for entry in json.loads(response.body)["content"]] == ["notes.txt"]


async def test_symlinked_folder_component_is_403_over_http(jp_fetch: Fetch, served_rooms: Rooms) -> None:
    code, body = await status_of(jp_fetch, "api", "contents", "interviews/roomA/dir/answer.py")
    assert code == 403
    assert ROOM_B_ANSWER not in body
    code, body = await status_of(jp_fetch, "files", "interviews/roomA/dir/answer.py")
    assert code == 403
    assert ROOM_B_ANSWER not in body
    put = json.dumps({"type": "file", "format": "text", "content": "x"})
    code, _ = await status_of(
        jp_fetch, "api", "contents", "interviews/roomA/dir/new.txt", method="PUT", body=put
    )
    assert code == 403
    assert sorted(p.name for p in served_rooms.room_b.iterdir()) == ["answer.py"]


async def test_plain_files_work_over_http(jp_fetch: Fetch, jp_serverapp: Any, served_rooms: Rooms) -> None:
    assert issubclass(jp_serverapp.contents_manager.files_handler_class, FilesHandler)

    response = await jp_fetch("api", "contents", "interviews/roomA/notes.txt")
    assert json.loads(response.body)["content"] == NOTES

    body = json.dumps({"type": "file", "format": "text", "content": "edited over http\n"})
    response = await jp_fetch("api", "contents", "interviews/roomA/notes.txt", method="PUT", body=body)
    assert response.code == 200
    assert (served_rooms.room_a / "notes.txt").read_text() == "edited over http\n"

    response = await jp_fetch("files", "interviews/roomA/notes.txt")
    assert response.body == b"edited over http\n"
    response = await jp_fetch("files", "interviews/roomA/notes.txt", params={"download": "1"})
    assert response.body == b"edited over http\n"
    assert "attachment" in response.headers["Content-Disposition"]

    copy = json.dumps({"copy_from": "interviews/roomA/notes.txt"})
    response = await jp_fetch("api", "contents", "interviews/roomA", method="POST", body=copy)
    assert response.code == 201
    rename = json.dumps({"path": "interviews/roomA/renamed.txt"})
    response = await jp_fetch(
        "api", "contents", json.loads(response.body)["path"], method="PATCH", body=rename
    )
    assert (served_rooms.room_a / "renamed.txt").read_text() == "edited over http\n"
    served_rooms.assert_targets_untouched()
