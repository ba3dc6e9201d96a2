"""A real coturn (`turnserver`, Debian package `coturn`) on 127.0.0.1 for the TURN tests.

coturn runs with the TURN REST scheme (`use-auth-secret`), plain UDP only, relaying on loopback;
everything it writes (pid file, user database, log) stays in a temporary folder.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

STUN_MAGIC = 0x2112A442
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stun_binding_answers(port: int, timeout_s: float = 0.2) -> bool:
    """One STUN Binding request to 127.0.0.1:port; whether a Binding success came back."""
    txid = secrets.token_bytes(12)
    request = struct.pack("!HHI", BINDING_REQUEST, 0, STUN_MAGIC) + txid
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout_s)
        try:
            s.sendto(request, ("127.0.0.1", port))
            data, _ = s.recvfrom(2048)
        except OSError:  # timeout, or ICMP port unreachable before coturn binds
            return False
    return len(data) >= 20 and struct.unpack("!H", data[:2])[0] == BINDING_SUCCESS and data[8:20] == txid


class Coturn:
    """One coturn process; `start()` returns once it answers STUN, or raises with its log."""

    def __init__(self, workdir: Path, port: int, secret: str, relay_ports: tuple[int, int]) -> None:
        self.workdir = workdir
        self.port = port
        self.secret = secret
        self.relay_ports = relay_ports
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = workdir / "turnserver.log"
        self.started_in_s = 0.0

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    def command(self, binary: str) -> list[str]:
        low, high = self.relay_ports
        return [
            binary,
            "-n",  # no configuration file: the command line is all of it
            "--listening-ip=127.0.0.1",
            f"--listening-port={self.port}",
            "--relay-ip=127.0.0.1",
            f"--min-port={low}",
            f"--max-port={high}",
            "--use-auth-secret",
            f"--static-auth-secret={self.secret}",
            "--realm=test",
            "--no-tls",
            "--no-dtls",
            "--no-tcp",
            "--allow-loopback-peers",
            "--no-cli",
            "--fingerprint",
            "--log-file=stdout",
            "--simple-log",
            f"--pidfile={self.workdir / 'turnserver.pid'}",
            f"--userdb={self.workdir / 'turndb'}",
        ]

    def start(self, timeout_s: float = 10) -> None:
        binary = shutil.which("turnserver")
        if binary is None:
            raise FileNotFoundError("turnserver is not installed (Debian package coturn)")
        log = open(self.log_path, "wb")  # the child keeps its own copy of the descriptor
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            self.command(binary), stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir, env=dict(os.environ)
        )
        log.close()
        deadline = t0 + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"turnserver exited with {self.proc.returncode}: {self.log()[-2000:]}")
            if stun_binding_answers(self.port):
                self.started_in_s = time.monotonic() - t0
                return
            time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"turnserver did not answer STUN within {timeout_s} s: {self.log()[-2000:]}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None
