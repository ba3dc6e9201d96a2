"""Benchmark: the candidate's page in real Chromium against plain JupyterLab opening a notebook, same run.

Per round (median of 5 by default), each page in a fresh browser profile (cold cache), on loopback:
  plain       plain JupyterLab (same install, our server and lab extensions off) opening a notebook
              link with the token: link -> first notebook cell rendered             (the baseline)
  first frame the candidate opens the invite link while the interviewer is in the call: link ->
              the first remote video frame presented (requestVideoFrameCallback), the device check
              passed as soon as it is laid out, by a quick person: a mouse click on the box and one
              on Join as real input events (tests/e2e/lib.mjs passDeviceCheck `direct`; Playwright's
              check()/click() would first wait on round trips into a page busy loading the lab);
              also panel mounted -> first frame (negative when the frame came first: joined in the
              lobby, the call shows there while the lab finishes loading)
  load        the candidate's link -> first notebook cell rendered, and the bytes and requests until
              then, against the plain page's
  restore     after a 5 s cut of the candidate's network (every proxied HTTP, websocket and TURN
              connection reset, new ones refused): restore -> video flowing both ways again
Media is relay-only through a local coturn over TCP, as in tests/test_e2e_browser.py (same stack).

Run: .venv/bin/python bench/bench_ui.py [--rounds N] [--json PATH] [--check]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from e2e.stack import CHROMIUM, Stack, missing_tools, run_node  # noqa: E402

from jupyter_interview.pytest_plugin import free_port  # noqa: E402

RUNNER = REPO / "bench" / "_ui_bench.mjs"
CUT_MS = 5000
TARGETS = {
    "first_frame_vs_plain_ratio": 1.0,  # the video no later than plain JupyterLab shows a notebook
    "panel_to_first_frame_ms": 1000.0,
    "load_vs_plain_ratio": 0.8,
    "restore_to_video_ms": 3000.0,
}
NOTEBOOK = {
    "cells": [
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": ["# Two sum\n", "Find two numbers that add up to a target."],
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "metadata": {},
            "outputs": [],
            "source": ["def two_sum(nums, target):\n", "    pass"],
        },
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


class PlainLab:
    """`jupyter lab` from this venv with the interview server and lab extensions switched off."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.token = "plain-" + os.urandom(12).hex()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60) -> None:
        dirs = {n: self.workdir / n for n in ("home", "config", "data", "runtime", "ipython", "root")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        (dirs["root"] / "two_sum.ipynb").write_text(json.dumps(NOTEBOOK))
        (dirs["config"] / "jupyter_server_config.json").write_text(
            json.dumps({"ServerApp": {"jpserver_extensions": {"jupyter_interview": False}}})
        )
        (dirs["config"] / "labconfig").mkdir(exist_ok=True)
        (dirs["config"] / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": {"jupyter-interview": True}})
        )
        env = {
            **os.environ,
            "HOME": str(dirs["home"]),
            "JUPYTER_CONFIG_DIR": str(dirs["config"]),
            "JUPYTER_DATA_DIR": str(dirs["data"]),
            "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
            "IPYTHONDIR": str(dirs["ipython"]),
        }
        args = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.base_url=/plain/",
            f"--ServerApp.root_dir={dirs['root']}",
            f"--IdentityProvider.token={self.token}",
            "--ServerApp.log_level=WARN",
            "--no-browser",
            "--allow-root",
        ]
        self.log = open(self.workdir / "plain.log", "wb")
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"plain jupyter lab exited: {(self.workdir / 'plain.log').read_text()[-2000:]}"
                )
            try:
                url = f"http://127.0.0.1:{self.port}/plain/api/status?token={self.token}"
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise TimeoutError("plain jupyter lab did not answer within the time limit")
        # The baseline must be plain: our API absent.
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.port}/plain/interview/api/openapi.json?token={self.token}", timeout=5
            ) as r:
                raise RuntimeError(f"the plain server serves the interview API ({r.status}): not a baseline")
        except urllib.error.HTTPError as e:
            if e.code != 404:
                raise

    def link(self, proxy_port: int) -> str:
        return f"http://127.0.0.1:{proxy_port}/plain/lab/tree/two_sum.ipynb?token={self.token}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()


def med(rows: list[dict[str, Any]], *keys: str) -> float:
    values = []
    for row in rows:
        v: Any = row
        for k in keys:
            v = v[k]
        values.append(float(v))
    return float(statistics.median(values))


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    plain_ready = med(rows, "plain", "notebookReadyMs")
    first_frame = med(rows, "interview", "firstFrameMs")
    ready = med(rows, "interview", "notebookReadyMs")
    # Ratios per round, then their median: a round's two pages met the same machine.
    per_round = [
        {
            "first_frame_vs_plain": r["interview"]["firstFrameMs"] / r["plain"]["notebookReadyMs"],
            "load_vs_plain": r["interview"]["notebookReadyMs"] / r["plain"]["notebookReadyMs"],
            "bytes_vs_plain": r["interview"]["bytes"] / r["plain"]["bytes"],
        }
        for r in rows
    ]
    return {
        "rounds": len(rows),
        "plain_notebook_ready_ms": plain_ready,
        "plain_bytes": med(rows, "plain", "bytes"),
        "plain_requests": med(rows, "plain", "requests"),
        "first_frame_ms": first_frame,
        "device_check_ms": med(rows, "interview", "deviceCheckMs"),
        "device_check_visible_ms": med(rows, "interview", "deviceCheckVisibleMs"),
        "ack_done_ms": med(rows, "interview", "ackDoneMs"),
        "join_click_ms": med(rows, "interview", "joinClickMs"),
        "panel_ms": med(rows, "interview", "panelMs"),
        "panel_to_first_frame_ms": med(rows, "interview", "panelToFirstFrameMs"),
        "interview_notebook_ready_ms": ready,
        "interview_bytes": med(rows, "interview", "bytes"),
        "interview_requests": med(rows, "interview", "requests"),
        # A round whose video never came back (within 30 s) counts as 30 s, and is counted apart.
        "restore_to_video_ms": float(
            statistics.median(
                r["interview"]["restoreToVideoMs"]
                if r["interview"]["restoreToVideoMs"] is not None
                else 30_000.0
                for r in rows
            )
        ),
        "restore_to_socket_ms": float(
            statistics.median(r["interview"].get("restoreToSignalingMs") or 30_000.0 for r in rows)
        ),
        "restore_failures": sum(1 for r in rows if r["interview"]["restoreToVideoMs"] is None),
        "first_frame_vs_plain_ratio": statistics.median(r["first_frame_vs_plain"] for r in per_round),
        "load_vs_plain_ratio": statistics.median(r["load_vs_plain"] for r in per_round),
        "bytes_vs_plain_ratio": statistics.median(r["bytes_vs_plain"] for r in per_round),
    }


def report(s: dict[str, Any]) -> list[str]:
    def met(key: str) -> str:
        return "met" if s[key] <= TARGETS[key] else "**not met**"

    failed = f" ({s['restore_failures']} of {s['rounds']} never within 30 s)" if s["restore_failures"] else ""
    return [
        f"| measure (median of {s['rounds']}) | interview | plain JupyterLab | ratio | target |",
        "| --- | ---: | ---: | ---: | --- |",
        f"| link -> first remote video frame vs link -> notebook shown | {s['first_frame_ms']:.0f} ms"
        f" | {s['plain_notebook_ready_ms']:.0f} ms | {s['first_frame_vs_plain_ratio']:.2f}"
        f" | <= 1.0: {met('first_frame_vs_plain_ratio')} |",
        f"| panel mounted -> first remote frame (negative: shown first in the lobby) | {s['panel_to_first_frame_ms']:.0f} ms | | |"
        f" < 1000 ms: {met('panel_to_first_frame_ms')} |",
        f"| link -> notebook shown (page load) | {s['interview_notebook_ready_ms']:.0f} ms"
        f" | {s['plain_notebook_ready_ms']:.0f} ms | {s['load_vs_plain_ratio']:.2f}"
        f" | <= 0.8: {met('load_vs_plain_ratio')} |",
        f"| bytes until the notebook is shown | {s['interview_bytes'] / 1e6:.2f} MB"
        f" ({s['interview_requests']:.0f} requests) | {s['plain_bytes'] / 1e6:.2f} MB"
        f" ({s['plain_requests']:.0f} requests) | {s['bytes_vs_plain_ratio']:.2f} | |",
        "| candidate timeline from the link: device check in the page / visible / box ticked / Join"
        " clicked / panel mounted / first frame"
        f" | {s['device_check_ms']:.0f} / {s['device_check_visible_ms']:.0f} / {s['ack_done_ms']:.0f}"
        f" / {s['join_click_ms']:.0f} / {s['panel_ms']:.0f} / {s['first_frame_ms']:.0f} ms | | | |",
        f"| network restore (after a 5 s cut) -> video flowing both ways | {s['restore_to_video_ms']:.0f} ms"
        f"{failed}"
        f" | | | < 3000 ms: {met('restore_to_video_ms')} |",
        f"| network restore -> the candidate's room socket back (banner gone) | {s['restore_to_socket_ms']:.0f} ms"
        " | | | |",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="rounds (each: one plain page, one interview)")
    parser.add_argument("--json", type=Path, help="also write every figure, per round, as JSON to this file")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists() or missing_tools():
        print(f"cannot run: missing {', '.join(missing_tools()) or CHROMIUM}")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="jupyter-interview-bench-ui-"))
    plain = PlainLab(workdir / "plain")
    try:
        with Stack(workdir / "stack") as stack:
            plain.start()
            rounds = []
            for _ in range(args.rounds):
                invites = stack.create_room(waiting_room=False)
                rounds.append(
                    {
                        "interviewerLink": invites.interviewer,
                        "candidateLink": invites.candidate,
                        "candidateId": invites.candidate_id,
                        "interviewerId": invites.interviewer_id,
                    }
                )
            plain_proxy = free_port()
            config = {
                **stack.runner_config(),
                "rounds": rounds,
                "plainPort": plain.port,
                "plainProxyPort": plain_proxy,
                "plainLink": plain.link(plain_proxy),
                "cutMs": CUT_MS,
                "limitMs": 150_000 * args.rounds,
            }
            t0 = time.monotonic()
            result = run_node(RUNNER, config, 150 * args.rounds + 60, workdir / "runner.log")
            elapsed = time.monotonic() - t0
            if result.get("error") or not result.get("rounds"):
                print(f"the runner failed: {result.get('error')}\nrunner log: {workdir / 'runner.log'}")
                print((workdir / "runner.log").read_text(errors="replace")[-3000:])
                return 1
    finally:
        plain.stop()
    rows = result["rounds"]
    summary = summarize(rows)
    print(
        f"bench_ui: {len(rows)} rounds in {elapsed:.0f} s on {os.cpu_count()} cores, {platform.python_version()},"
        f" {time.strftime('%Y-%m-%d')}"
    )
    for line in report(summary):
        print(line)
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rounds": rows, "targets": TARGETS}, indent=2))
    shutil.rmtree(workdir, ignore_errors=True)
    missed = [k for k, limit in TARGETS.items() if summary[k] > limit]
    if args.check and missed:
        print(f"targets missed: {', '.join(missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
