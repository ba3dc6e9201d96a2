"""ICE server lists for a participant: STUN as configured, TURN with short-lived TURN REST credentials.

Plain Python, no server: the REST handler passes the configuration, the caller's id and the clock.
The credential scheme is the one coturn checks with `use-auth-secret` / `static-auth-secret` (the
"TURN REST API" draft): username `<expiry unix time>:<participant>`, password
base64(HMAC-SHA1(secret, username)). coturn recomputes the password from the username alone, so the
server needs no per-participant state, and a credential stops working at its expiry by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

STUN_SCHEMES = ("stun:", "stuns:")
TURN_SCHEMES = ("turn:", "turns:")
TRANSPORT_POLICIES = ("all", "relay")


def turn_rest_credentials(secret: str, participant_id: str, ttl_s: int, now: float) -> tuple[str, str]:
    """TURN REST username and password for `participant_id`, valid until `now + ttl_s`."""
    if not secret:
        raise ValueError("a TURN shared secret is required to mint TURN credentials")
    # coturn reads the expiry up to the first ':', so the participant part must not hold one.
    if not participant_id or ":" in participant_id:
        raise ValueError(f"participant id {participant_id!r} must be non-empty and hold no ':'")
    username = f"{int(now) + int(ttl_s)}:{participant_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def check_urls(stun_urls: Sequence[str], turn_urls: Sequence[str], turn_secret: str) -> None:
    """Refuse a configuration that would hand clients unusable servers; run once at start-up."""
    for url in stun_urls:
        if not url.startswith(STUN_SCHEMES):
            raise ValueError(f"STUN url {url!r} must start with stun: or stuns:")
    for url in turn_urls:
        if not url.startswith(TURN_SCHEMES):
            raise ValueError(f"TURN url {url!r} must start with turn: or turns:")
    if turn_urls and not turn_secret:
        raise ValueError("TURN urls are configured without a TURN shared secret (coturn static-auth-secret)")


def ice_servers(
    stun_urls: Sequence[str],
    turn_urls: Sequence[str],
    turn_secret: str,
    participant_id: str,
    ttl_s: int,
    now: float,
) -> list[dict[str, Any]]:
    """RTCIceServer dictionaries for one participant; TURN entries carry fresh credentials.

    `expires_at` (unix seconds) is a hint for the client to fetch new credentials before then;
    browsers ignore members of RTCIceServer they do not know.
    """
    check_urls(stun_urls, turn_urls, turn_secret)
    servers: list[dict[str, Any]] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls:
        username, password = turn_rest_credentials(turn_secret, participant_id, ttl_s, now)
        servers.append(
            {
                "urls": list(turn_urls),
                "username": username,
                "credential": password,
                "credentialType": "password",
                "expires_at": int(now) + int(ttl_s),
            }
        )
    return servers
