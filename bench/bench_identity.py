"""Benchmark: what the invite identity and the Authorizer cost per request, against Jupyter's own api/status.

Three series against one real server, interleaved in rounds:
  status     GET {base_url}api/status             Jupyter's token            (the baseline)
  owner      GET {base_url}interview/api/rooms/ID Jupyter's token            (our handler, owner path)
  candidate  GET {base_url}interview/api/rooms/ID the invite session cookie  (our handler + identity + gate)
Latency comes from sequential requests on one keep-alive connection, throughput from a separate
closed-loop run on several connections. Run: .venv/bin/python bench/bench_identity.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _micro import identity_costs
from _server import HOST, BenchServer, LoadProcess

TARGET_MS = 0.3
SERIES = ("status", "owner", "candidate")
LOAD_CLIENT = Path(__file__).resolve().parent / "_load.py"


@dataclass(frozen=True)
class Plan:
    rounds: int
    requests: int  # per series per round, for latency and again for throughput
    warmup: int
    connections: int
    max_seconds: float
    micro_calls: int  # in-process identity calls per path per repeat


FULL = Plan(rounds=5, requests=2000, warmup=200, connections=8, max_seconds=100.0, micro_calls=5000)
QUICK = Plan(rounds=2, requests=300, warmup=50, connections=8, max_seconds=20.0, micro_calls=1000)


@dataclass
class Run:
    rps: float
    p50_ms: float
    p99_ms: float
    client_cpu: float  # share of one core the load client used
    server_cpu: float  # share of one core the server used
    server_cpu_us_per_req: float


@dataclass
class Series:
    latency: list[Run] = field(default_factory=list)
    throughput: list[Run] = field(default_factory=list)


def percentile(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile, in ms."""
    i = min(len(sorted_ns) - 1, max(0, round(q / 100 * len(sorted_ns) + 0.5) - 1))
    return sorted_ns[i] / 1e6


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LoadClient(LoadProcess):
    """The HTTP load client (bench/_load.py)."""

    def __init__(self) -> None:
        super().__init__(LOAD_CLIENT)

    def run(self, port: int, request: str, requests: int, connections: int) -> dict[str, Any]:
        cmd = {
            "host": HOST,
            "port": port,
            "request": request,
            "requests": requests,
            "connections": connections,
        }
        return self.call(cmd)


def requests_for(server: BenchServer, room_id: str, cookie: str) -> dict[str, str]:
    def get(path: str, auth: str) -> str:
        return (
            f"GET {server.path(path)} HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
            f"Accept: application/json\r\n{auth}\r\n\r\n"
        )

    token = f"Authorization: token {server.token}"
    return {
        "status": get("api/status", token),
        "owner": get(f"interview/api/rooms/{room_id}", token),
        "candidate": get(f"interview/api/rooms/{room_id}", f"Cookie: {cookie}"),
    }


def measure(client: LoadClient, server: BenchServer, request: str, plan: Plan, connections: int) -> Run:
    client.run(server.port, request, plan.warmup, connections)
    cpu0 = proc_cpu_s(server.pid)
    r = client.run(server.port, request, plan.requests, connections)
    server_cpu_s = proc_cpu_s(server.pid) - cpu0
    lat = sorted(r["latencies_ns"])
    return Run(
        rps=r["requests"] / r["wall_s"],
        p50_ms=percentile(lat, 50),
        p99_ms=percentile(lat, 99),
        client_cpu=r["client_cpu_s"] / r["wall_s"],
        server_cpu=server_cpu_s / r["wall_s"],
        server_cpu_us_per_req=server_cpu_s / r["requests"] * 1e6,
    )


def median(values: list[float]) -> float:
    return statistics.median(values)


def summarise(
    results: dict[str, Series], identity_us: dict[str, float], plan: Plan, rounds_done: int, seconds: float
) -> dict[str, Any]:
    def med(name: str, mode: str, attr: str) -> float:
        runs: list[Run] = getattr(results[name], mode)
        return median([getattr(r, attr) for r in runs])

    def paired(a: str, b: str, mode: str, attr: str) -> float:
        """Median over rounds of the difference measured within the same round."""
        pairs = zip(getattr(results[a], mode), getattr(results[b], mode), strict=True)
        return median([getattr(x, attr) - getattr(y, attr) for x, y in pairs])

    series: dict[str, Any] = {}
    for name in SERIES:
        series[name] = {
            "rps": med(name, "throughput", "rps"),
            "p50_ms": med(name, "latency", "p50_ms"),
            "p99_ms": med(name, "latency", "p99_ms"),
            "server_cpu_us_per_req": med(name, "throughput", "server_cpu_us_per_req"),
            "client_cpu_throughput": med(name, "throughput", "client_cpu"),
            "server_cpu_throughput": med(name, "throughput", "server_cpu"),
            "rounds": {
                mode: [vars(r) for r in getattr(results[name], mode)] for mode in ("latency", "throughput")
            },
        }
    base = series["status"]
    for name in SERIES:
        s = series[name]
        s["ratio_vs_status"] = {
            "rps": s["rps"] / base["rps"],
            "p50": s["p50_ms"] / base["p50_ms"],
            "p99": s["p99_ms"] / base["p99_ms"],
        }
    diff = {
        "candidate_minus_status_p50_ms": paired("candidate", "status", "latency", "p50_ms"),
        "candidate_minus_owner_p50_ms": paired("candidate", "owner", "latency", "p50_ms"),
        "owner_minus_status_p50_ms": paired("owner", "status", "latency", "p50_ms"),
        "candidate_minus_status_cpu_us": paired("candidate", "status", "throughput", "server_cpu_us_per_req"),
        "candidate_minus_owner_cpu_us": paired("candidate", "owner", "throughput", "server_cpu_us_per_req"),
    }
    overhead = diff["candidate_minus_status_p50_ms"]
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "plan": vars(plan) | {"rounds_done": rounds_done},
        "seconds": seconds,
        "series": series,
        "diff": diff,
        "identity_us": identity_us,
        "target": {
            "p50_overhead_ms_max": TARGET_MS,
            "measured_ms": overhead,
            "pass": overhead < TARGET_MS,
        },
    }


def report(summary: dict[str, Any]) -> str:
    s = summary["series"]
    plan = summary["plan"]
    lines = [
        f"{plan['rounds_done']} rounds x {plan['requests']} requests per series; latency: 1 keep-alive connection, "
        f"sequential; rps: {plan['connections']} connections; medians over rounds; {summary['seconds']:.0f} s",
        "",
        f"{'series':<10} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'rps/st':>7} {'p50/st':>7} {'p99/st':>7}"
        f" {'srv us/req':>10} {'srv cpu':>7} {'cli cpu':>7}",
    ]
    for name in SERIES:
        x = s[name]
        r = x["ratio_vs_status"]
        lines.append(
            f"{name:<10} {x['rps']:>8.0f} {x['p50_ms']:>8.3f} {x['p99_ms']:>8.3f} {r['rps']:>7.2f} {r['p50']:>7.2f}"
            f" {r['p99']:>7.2f} {x['server_cpu_us_per_req']:>10.0f} {x['server_cpu_throughput']:>7.0%}"
            f" {x['client_cpu_throughput']:>7.0%}"
        )
    d = summary["diff"]
    t = summary["target"]
    client_bound = max(s[n]["client_cpu_throughput"] for n in SERIES) > 0.9
    lines += [
        "",
        "(st = status; srv us/req = server CPU per request in the rps run; cpu = share of one core in the rps run)",
        f"p50 candidate - status: {d['candidate_minus_status_p50_ms']:+.3f} ms"
        f"   (server CPU {d['candidate_minus_status_cpu_us']:+.0f} us/req)",
        f"p50 candidate - owner:  {d['candidate_minus_owner_p50_ms']:+.3f} ms"
        f"   (server CPU {d['candidate_minus_owner_cpu_us']:+.0f} us/req)",
        f"p50 owner - status:     {d['owner_minus_status_p50_ms']:+.3f} ms",
        f"target: invite identity + Authorizer under {t['p50_overhead_ms_max']} ms at p50 "
        f"(candidate - status): {'PASS' if t['pass'] else 'FAIL'}",
        "the load client was the bottleneck (over 90% of a core)"
        if client_bound
        else "the load client was not the bottleneck (under 90% of a core)",
        "",
        "in process, the identity step alone (us per request; request and handler construction subtracted):",
    ]
    labels = {
        "jupyter_token": "Jupyter's PasswordIdentityProvider, plain token (signs a login cookie)",
        "jupyter_token_with_login_cookie": "Jupyter's PasswordIdentityProvider, token + login cookie",
        "owner_token": "InterviewIdentityProvider, plain token -> owner",
        "owner_token_with_login_cookie": "InterviewIdentityProvider, token + login cookie -> owner",
        "candidate_session_with_gate": "InterviewIdentityProvider, invite session -> candidate, with the gate",
        "gate_only": "InterviewAuthorizer.decide alone (the gate)",
    }
    for key, label in labels.items():
        lines.append(f"  {summary['identity_us'][key]:>6.1f}  {label}")
    return "\n".join(lines)


def bench(plan: Plan) -> dict[str, Any]:
    t0 = time.monotonic()
    with BenchServer() as server:
        room = server.create_room_and_join()
        reqs = requests_for(server, room.id, room.candidate_cookie)
        results = {name: Series() for name in SERIES}
        client = LoadClient()
        rounds_done = 0
        try:
            for rnd in range(plan.rounds):
                # Rotate the order so that no series always follows the same one.
                order = SERIES[rnd % len(SERIES) :] + SERIES[: rnd % len(SERIES)]
                for name in order:
                    results[name].latency.append(measure(client, server, reqs[name], plan, 1))
                for name in order:
                    results[name].throughput.append(
                        measure(client, server, reqs[name], plan, plan.connections)
                    )
                rounds_done += 1
                elapsed = time.monotonic() - t0
                if elapsed + elapsed / rounds_done > plan.max_seconds:
                    break  # another round would overrun the time budget
        finally:
            client.close()
    # After the server has stopped, so that it does not compete for the CPU.
    identity_us = identity_costs(plan.micro_calls, repeats=5)
    return summarise(results, identity_us, plan, rounds_done, time.monotonic() - t0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="a few hundred requests per series (~15 s), a smoke run"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--rounds", type=int, help="rounds of the three series (default 5; quick 2)")
    parser.add_argument("--requests", type=int, help="requests per series per round and mode (default 2000)")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    if args.rounds:
        plan = dataclasses.replace(plan, rounds=args.rounds)
    if args.requests:
        plan = dataclasses.replace(plan, requests=args.requests)
    summary = bench(plan)
    print(report(summary))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 1 if args.check and not summary["target"]["pass"] else 0


if __name__ == "__main__":
    sys.exit(main())
