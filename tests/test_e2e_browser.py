"""End to end in real headless Chromium: an interviewer and a candidate in two browsers against a real server.

Debian's `/usr/bin/chromium`, driven by npm `playwright-core` from the Node runners in `tests/e2e/`,
with Chromium's fake camera, microphone and screen. The server, coturn and both browsers are real and
everything stays on 127.0.0.1. Media is relay-only through coturn over TCP. The candidate reaches the
server and coturn only through loopback TCP proxies (owned by the runner) that a network cut severs:
every proxied connection is reset and new ones are refused for 5 s, which cuts websockets and WebRTC
alike (Playwright's `setOffline` cuts neither). The interviewer's browser gets coturn's own port in
its copy of `ice-servers`, so the cut is on the candidate's side only.

The scenario runs once per module (`interview`); each test asserts one behaviour it observed.
Screenshots of both views are written to `test-artifacts/e2e/` (or `$E2E_ARTIFACTS`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from e2e.stack import ARTIFACTS, REPO, Stack, observed, require_browser, run_node

from jupyter_interview.rooms.ice import turn_rest_credentials

SCENARIO_LIMIT_S = 300
# The scenario runs inside the first test that asks for it: pytest-timeout counts it there.
pytestmark = pytest.mark.timeout(SCENARIO_LIMIT_S + 120)
CUT_MS = 5000


@pytest.fixture(scope="module")
def browser_tools() -> None:
    require_browser()


@pytest.fixture(scope="module")
def stack(browser_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(tmp_path_factory.mktemp("e2e")) as s:
        yield s


@pytest.fixture(scope="module")
def interview(stack: Stack) -> dict[str, Any]:
    invites = stack.create_room(waiting_room=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for pattern in ("interviewer-*.png", "candidate-*.png", "interview.json", "interview.log"):
        for old in ARTIFACTS.glob(pattern):  # an earlier run's, which would mislead
            old.unlink()
    config = {
        **stack.runner_config(),
        "room": invites.room,
        "interviewerLink": invites.interviewer,
        "candidateLink": invites.candidate,
        "candidateId": invites.candidate_id,
        "interviewerId": invites.interviewer_id,
        "artifacts": str(ARTIFACTS),
        "cutMs": CUT_MS,
        "limitMs": SCENARIO_LIMIT_S * 1000,
    }
    t0 = time.monotonic()
    result = run_node(
        REPO / "tests" / "e2e" / "interview.mjs", config, SCENARIO_LIMIT_S + 30, ARTIFACTS / "interview.log"
    )
    result["seconds"] = round(time.monotonic() - t0, 1)
    (ARTIFACTS / "interview.json").write_text(json.dumps(result, indent=2))
    print(f"e2e scenario: {result['seconds']} s; screenshots and log in {ARTIFACTS}")
    print(json.dumps({k: v for k, v in result.get("figures", {}).items() if k != "callTraceAfterCut"}))
    if result.get("error"):
        print(f"scenario stopped at {result['error']}\nserver log tail:\n{stack.server_log(2000)}")
    return result


# ---------------- the harness itself ----------------


def test_harness_cut_stops_candidate_media_and_http_and_restore_brings_them_back(stack: Stack) -> None:
    # Without the product's UI: two pages call each other through coturn (relay-only, TCP), the
    # candidate through the TURN proxy. Proves the cut used below really cuts, and is healed by restore.
    username, credential = turn_rest_credentials(stack.coturn.secret, "harness", 600, time.time())
    config = {**stack.runner_config(), "ice": {"username": username, "credential": credential}}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    r = run_node(REPO / "tests" / "e2e" / "harness_check.mjs", config, 120, ARTIFACTS / "harness.log")
    assert r.get("ok"), r.get("error")
    assert r["before"]["localTypes"] == ["relay/tcp"], r["before"]
    assert r["turnProxyAccepted"] >= 1
    assert r["bytesDuringCut"] == 0, "media still arrived while the TURN proxy was severed"
    assert r["httpDuringCut"].startswith("failed"), r["httpDuringCut"]
    assert r["httpAfter"][-1] == 403, r["httpAfter"]  # the server answers again (403: no identity)
    assert r["after"]["bytesReceived"] > r["before"]["bytesReceived"]
    print(f"harness: connected in {r['connectMs']} ms, media back {r['recoveredMs']} ms after restore")


# ---------------- the interview ----------------


def test_interviewer_lands_in_interview_mode(interview: dict[str, Any]) -> None:
    assert observed(interview, "interviewer page is in interview mode")["role"] == "interviewer"


def test_device_check_shows_camera_preview_and_recording_notice(interview: dict[str, Any]) -> None:
    got = observed(interview, "device check shows preview, level and the recording notice")
    assert got["previewWidth"] > 0
    assert got["micLevel"] > 0, "the microphone meter never moved"
    # The candidate must acknowledge: the box starts unticked, or Join waits for it.
    assert not got["ackCheckedAtFirst"] or not got["joinEnabledBeforeAck"], got


def test_waiting_room_until_the_interviewer_admits(interview: dict[str, Any]) -> None:
    observed(interview, "candidate waits in the waiting room")
    observed(interview, "admitted candidate leaves the waiting room for the panel")


def test_each_side_sees_the_others_video(interview: dict[str, Any]) -> None:
    got = observed(interview, "both videos play with growing inbound bytes")
    for side in ("interviewer", "candidate"):
        assert got[side]["videoWidth"] > 0, got
        assert got[side]["bytesReceived"] > 0, got


def test_video_tile_shows_the_connection_quality(interview: dict[str, Any]) -> None:
    got = observed(interview, "the quality indicator shows measured figures")
    assert got["quality"] in ("good", "fair", "poor"), got


def test_candidate_media_is_relayed_by_turn(interview: dict[str, Any]) -> None:
    got = observed(interview, "candidate media goes through the TURN relay over TCP")
    assert got["turnProxyConnections"] >= 1


def test_candidate_has_no_notes_tab_and_notes_api_is_403(interview: dict[str, Any]) -> None:
    observed(interview, "candidate has no notes tab, the interviewer has one")
    got = observed(interview, "notes API answers 403 to the candidate and 200 to the interviewer")
    assert (got["candidate"], got["interviewer"]) == (403, 200)


def test_participants_get_the_participant_app_without_server_events(interview: dict[str, Any]) -> None:
    got = observed(interview, "both pages are the participant app, with no server-event socket")
    assert got["eventSockets"] == {"interviewer": 0, "candidate": 0}


def test_math_in_markdown_is_typeset_in_the_participant_app(interview: dict[str, Any]) -> None:
    # MathJax loads only for math there (src/app/mathjax.ts): a formula still gets it.
    assert (
        observed(interview, "a formula in a Markdown cell is typeset (MathJax loads for math)")["formulas"]
        >= 1
    )


def test_muting_shows_on_the_other_side(interview: dict[str, Any]) -> None:
    observed(interview, "muting the microphone and camera shows on the other side")


def test_screen_share_switches_by_replace_track_without_a_new_offer(interview: dict[str, Any]) -> None:
    got = observed(interview, "screen share switches by replaceTrack with no new offer")
    camera, screen, back = got["shapes"]  # [width, height]: the fake camera is 4:3, the screen is not
    assert camera[0] * 3 == camera[1] * 4 or abs(camera[0] / camera[1] - 4 / 3) < 0.02, got
    assert abs(screen[0] / screen[1] - 4 / 3) >= 0.02, got
    assert abs(back[0] / back[1] - 4 / 3) < 0.02, got


def test_chat_round_trip_with_typing_indicator(interview: dict[str, Any]) -> None:
    observed(interview, "chat round trip with typing indicator")


def test_both_timers_agree_within_a_second(interview: dict[str, Any]) -> None:
    assert observed(interview, "both timers agree within 1 s")["worstDiffMs"] <= 1000


def test_network_cut_shows_reconnecting_on_both_sides(interview: dict[str, Any]) -> None:
    observed(interview, "candidate sees the reconnecting banner during the cut")
    observed(interview, "interviewer sees the candidate reconnecting")
    # The cut is real: nothing reached the candidate's video while it lasted.
    assert interview["figures"].get("candidateBytesDuringCut") == 0, interview["figures"]


def test_video_chat_and_timer_recover_from_a_network_cut_without_reload(interview: dict[str, Any]) -> None:
    video = observed(interview, "video flows again after the cut")
    observed(interview, "the reconnecting banner goes away")
    observed(interview, "no JupyterLab dialog blocks the page after the cut")
    observed(interview, "chat recovers both ways without reload")
    observed(interview, "timers agree again after the cut")
    observed(interview, "the candidate page was not reloaded")
    print(
        f"after the restore: socket back {video['signalingMs']} ms, video {video['candidateVideoMs']} ms"
        f" (candidate) and {video['interviewerVideoMs']} ms (interviewer)"
    )


def test_end_shows_the_end_screen_and_makes_the_notebook_read_only(interview: dict[str, Any]) -> None:
    observed(interview, "candidate edits reach the interviewer while live")  # so the next check can fail
    observed(interview, "candidate sees the end screen")
    got = observed(interview, "candidate notebook is read-only after End")
    assert got["toolbarControls"] == 0, got  # no save, insert, run, cell type or kernel picker
    observed(interview, "the interviewer has no timer controls after End")


def test_candidate_page_makes_no_kernel_connection_after_end(interview: dict[str, Any]) -> None:
    # The candidate had a kernel socket while live; after End the page closes it and, through a
    # network blip that used to start JupyterLab's reconnect loop, tries no new one and shows no dialog.
    got = observed(interview, "the candidate page lets go of the kernel after End")
    assert got["attemptsWhileLive"] >= 1 and got["attemptsAfterEnd"] == 0, got


def test_candidate_reloading_after_end_gets_no_kernel_and_no_dialog(interview: dict[str, Any]) -> None:
    observed(interview, "a candidate reloading after End gets no kernel and no dialog")


def test_interviewer_has_a_history_button_in_the_panel_and_the_candidate_none(
    interview: dict[str, Any],
) -> None:
    got = observed(interview, "the interviewer has a History button in the panel, the candidate none")
    assert got["candidateButtons"] == 0 and got["ariaLabel"], got


def test_interviewer_opens_history_from_the_panel_with_the_keyboard(interview: dict[str, Any]) -> None:
    got = observed(interview, "the interviewer opens History from the panel with the keyboard")
    assert 1 <= got["rows"] <= got["serverSnapshots"], got


def test_screenshots_of_both_views_are_saved(interview: dict[str, Any]) -> None:
    shots = [Path(p) for p in interview["screenshots"]]
    names = {p.name for p in shots}
    assert {"interviewer-1-call.png", "candidate-1-call.png"} <= names, names
    for shot in shots:
        assert shot.stat().st_size > 1000, shot
