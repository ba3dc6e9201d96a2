"""Version history and session replay in a real browser: the interviewer's History and Replay views against a real server.

The history is made first, quickly, as tests/test_history.py makes it: a candidate's pycrdt client
edits the shared notebook over the real collaboration websocket, runs cells on a real sandboxed
kernel (its "browser" writes the outputs into the document, one of them forged), and chats on the
room socket. Then the interviewer's real Chromium (tests/e2e/history.mjs, on the harness of
tests/e2e/lib.mjs) types in the notebook, opens History, makes a labelled checkpoint, views a
snapshot, compares it with the live notebook, restores it (the notebook in the page changes) and
undoes it, opens Replay, scrubs to chosen moments and checks the cells shown against the server's
own `replay?at=` notebook, and plays at 16x. A candidate's browser finds no history buttons and
gets 403 from the routes. Screenshots go to `test-artifacts/e2e/` (or `$E2E_ARTIFACTS`).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.stack import ARTIFACTS, REPO, Stack, observed, require_browser, run_node
from test_collab import collaborator
from test_history import Kernel, write_outputs

from jupyter_interview.pytest_plugin import Client, Signal

RUN_LIMIT_S = 150
pytestmark = pytest.mark.timeout(RUN_LIMIT_S + 120)
# Fine replay frames and quick snapshots, so a short scripted interview has many moments.
TODO = "# TODO: solve\n"
HISTORY_CONFIG = {"frame_interval_s": 0.3, "snapshot_interval_s": 2.0, "execution_snapshot_delay_s": 0.4}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require_browser()
    with Stack(tmp_path_factory.mktemp("e2e-history"), extra={"HistoryRecorder": HISTORY_CONFIG}) as s:
        yield s


async def make_history(stack: Stack, room: dict[str, Any]) -> dict[str, Any]:
    """A candidate's short session: typing, two runs (one output forged by its browser), a chat."""
    rid = room["id"]
    cand = Client(stack.server.port, stack.server.base_url)
    assert (await cand.join(room["invites"]["candidate"])).code == 302
    doc = await collaborator(cand, rid)
    kernel, _ = await Kernel.open(cand, rid)
    sig = await Signal.open(cand, rid, hello={})
    try:
        doc.source(1).clear()
        await doc.round_trip()
        chunks = (
            TODO,
            "def two_sum(xs, target):\n",
            "    seen = {}\n",
            "    return seen\n",
            "print(two_sum([2, 7], 9))\n",
        )
        for chunk in chunks:
            doc.source(1).insert(len(str(doc.source(1))), chunk)
            await doc.round_trip()
            await asyncio.sleep(0.4)
        cell1 = str(doc.nb.ycells[1]["id"])
        outputs = await kernel.run(str(doc.source(1)), cell1)
        write_outputs(doc, 1, outputs, 1)
        await doc.round_trip()
        await asyncio.sleep(0.8)
        await sig.send("chat-message", {"text": "I think it works"})
        del doc.source(1)[0 : len(TODO)]  # the placeholder goes: History's diff shows it removed
        doc.nb.append_cell({"cell_type": "code", "id": "check", "source": "", "metadata": {}, "outputs": []})
        await doc.round_trip()
        for chunk in ("assert two_sum([3], 3)", " == {}\n", "1 / 0\n"):
            doc.source(2).insert(len(str(doc.source(2))), chunk)
            await doc.round_trip()
            await asyncio.sleep(0.4)
        error = await kernel.run(str(doc.source(2)), "check")
        # The candidate's browser shows something else than the kernel sent.
        write_outputs(doc, 2, [{"output_type": "stream", "name": "stdout", "text": "all good\n"}], 2)
        await doc.round_trip()
        await asyncio.sleep(1.2)  # the execution snapshot compares the document with the kernel
        return {"outputs": outputs, "error": error}
    finally:
        kernel.close()
        sig.close()
        await doc.disconnect()


@pytest.fixture(scope="module")
def run(stack: Stack) -> dict[str, Any]:
    code, room = stack.api(
        "POST",
        "rooms",
        {"title": "E2E: history", "language": "python", "duration_minutes": 30, "waiting_room": False},
    )
    assert code == 201, room
    assert stack.api("POST", f"rooms/{room['id']}/start")[0] == 200
    t0 = time.monotonic()
    made = asyncio.run(make_history(stack, room))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    direct = f"http://127.0.0.1:{stack.server.port}"
    config = {
        **stack.runner_config(),
        "room": room["id"],
        "interviewerLink": room["invites"]["interviewer"],
        # A second candidate invite for the browser (the first is the pycrdt client's session).
        "candidateLink": stack.api("POST", f"rooms/{room['id']}/invites", {"role": "candidate"})[1]["url"],
        "artifacts": str(ARTIFACTS),
        "limitMs": RUN_LIMIT_S * 1000,
    }
    assert config["candidateLink"].startswith(direct), config["candidateLink"]
    t1 = time.monotonic()
    result = run_node(
        REPO / "tests" / "e2e" / "history.mjs", config, RUN_LIMIT_S + 30, ARTIFACTS / "history.log"
    )
    result["seconds"] = {"history": round(t1 - t0, 1), "browser": round(time.monotonic() - t1, 1)}
    result["made"] = made
    (ARTIFACTS / "history.json").write_text(json.dumps(result, indent=2))
    print(f"e2e history: {result['seconds']}; screenshots and log in {ARTIFACTS}")
    print(json.dumps(result.get("figures", {})))
    if result.get("error"):
        print(f"runner stopped at {result['error']}\nserver log tail:\n{stack.server_log(2000)}")
    return result


def test_the_scripted_session_really_ran_on_a_kernel(run: dict[str, Any]) -> None:
    assert run["made"]["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "{}\n"}]
    assert run["made"]["error"][-1]["ename"] == "ZeroDivisionError"


def test_history_lists_what_the_server_holds_and_a_checkpoint_appears_with_its_label(
    run: dict[str, Any],
) -> None:
    got = observed(run, "history lists the server's snapshots")
    assert got["rows"] >= 3, got  # opened, after runs, while typing
    got = observed(run, "a labelled checkpoint appears first in the list")
    assert got["label"] == "e2e checkpoint" and got["kind"] == "checkpoint"


def test_a_snapshot_shows_read_only_with_its_cells(run: dict[str, Any]) -> None:
    got = observed(run, "a snapshot shows its cells read-only")
    assert got["cells"] >= 2


def test_the_diff_shows_cell_by_cell_what_changed_since(run: dict[str, Any]) -> None:
    got = observed(run, "the diff shows the server's cell-by-cell changes")
    assert "added" in got["statuses"] and "modified" in got["statuses"], got
    assert got["addedLines"] > 0 and got["removedLines"] > 0, got


def test_restore_reaches_the_live_notebook_and_undo_brings_it_back(run: dict[str, Any]) -> None:
    observed(run, "restore changes the notebook in the page")
    observed(run, "undo puts the notebook back")


def test_replay_shows_the_servers_notebook_at_chosen_moments(run: dict[str, Any]) -> None:
    got = observed(run, "replay shows the server's notebook at chosen moments")
    assert got["moments"] >= 5
    assert got["distinct"] >= 4, got  # the moments show different notebooks
    observed(run, "the scrubber moves with the keyboard")


def test_replay_events_include_executions_chat_and_the_forged_output(run: dict[str, Any]) -> None:
    got = observed(run, "the events list executions, chat and a differing output")
    assert got["executions"] >= 2 and got["chat"] >= 1 and got["differ"] >= 1, got


def test_replay_plays_at_16x(run: dict[str, Any]) -> None:
    got = observed(run, "replay plays at 16x")
    assert 12 <= got["ratio"] <= 20, got


def test_candidates_get_no_history_buttons_and_403(run: dict[str, Any]) -> None:
    got = observed(run, "a candidate has no history buttons and gets 403")
    assert got["snapshots"] == 403 and got["replay"] == 403
    # None in the interview panel either, where the interviewer has one.
    assert got["candidateButtons"] == 0 and got["interviewerPanelButtons"] == 1, got


def test_screenshots_of_history_and_replay_are_saved(run: dict[str, Any]) -> None:
    names = {Path(p).name for p in run["screenshots"]}
    assert {"history-1-list.png", "history-2-diff.png", "history-4-replay.png"} <= names, names
    for shot in run["screenshots"]:
        assert Path(shot).stat().st_size > 1000, shot
