"""The lobby in real headless Chromium: the device check before JupyterLab, and a Join pressed there.

Same stack as tests/test_e2e_browser.py (a real server, coturn, Debian's Chromium with fake media).
The candidate's JupyterLab bundle is held back by request interception until the candidate has
pressed Join, so the lobby is shown and used before the lab exists; the lab, once released, must
enter the room by itself with the lobby's camera and microphone. Screenshots of the light and the
dark lobby go to `test-artifacts/e2e/`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from e2e.stack import ARTIFACTS, REPO, Stack, observed, require_browser, run_node

SCENARIO_LIMIT_S = 180
pytestmark = pytest.mark.timeout(SCENARIO_LIMIT_S + 120)


@pytest.fixture(scope="module")
def lobby(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    require_browser()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Stack(tmp_path_factory.mktemp("e2e-lobby")) as stack:
        invites = stack.create_room(waiting_room=False)
        config = {
            **stack.runner_config(),
            "interviewerLink": invites.interviewer,
            "candidateLink": invites.candidate,
            "candidateId": invites.candidate_id,
            "interviewerId": invites.interviewer_id,
            "artifacts": str(ARTIFACTS),
            "limitMs": SCENARIO_LIMIT_S * 1000,
        }
        result = run_node(
            REPO / "tests" / "e2e" / "lobby.mjs", config, SCENARIO_LIMIT_S + 30, ARTIFACTS / "lobby.log"
        )
        (ARTIFACTS / "lobby.json").write_text(json.dumps(result, indent=2))
        if result.get("error"):
            print(f"lobby scenario stopped at {result['error']}\nserver log tail:\n{stack.server_log(2000)}")
        yield result


def test_lobby_shows_before_jupyterlab_with_a_camera_preview(lobby: dict[str, Any]) -> None:
    got = observed(lobby, "the lobby shows before JupyterLab has loaded")
    assert got["shown"] and not got["labShell"] and got["heldRequests"] >= 1
    # No lab theme yet: the lobby's own light defaults (Chromium's default colour scheme is light).
    assert not got["themed"] and got["lightness"] > 0.5, got


def test_candidate_must_acknowledge_before_joining_from_the_lobby(lobby: dict[str, Any]) -> None:
    assert observed(lobby, "the lobby shows before JupyterLab has loaded")["joinDisabled"] is True


def test_join_pressed_before_the_lab_waits_for_it_and_says_so(lobby: dict[str, Any]) -> None:
    got = observed(lobby, "join pressed before the lab says it will join once the page has loaded")
    assert got["joiningShown"] and got["joinDisabled"] and not got["labShell"]


def test_lab_enters_the_room_by_itself_with_the_lobby_media(lobby: dict[str, Any]) -> None:
    got = observed(
        lobby, "the lab takes over the join: the room, both videos, the lobby gone, no second click"
    )
    assert got["joinBeforeLabMs"] > 0, got  # the click came before the lab's shell existed
    assert got["stats"]["bytesReceived"] > 0 and got["stats"]["framesDecoded"] > 0, got["stats"]


def test_lobby_follows_a_dark_colour_scheme(lobby: dict[str, Any]) -> None:
    got = observed(lobby, "the interviewer lobby follows a dark colour scheme before the lab theme")
    assert got["themed"] or got["lightness"] < 0.5, got
