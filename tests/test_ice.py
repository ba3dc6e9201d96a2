"""ICE servers: TURN REST credentials, the ice-servers route, and a real coturn that accepts them.

The TURN tests start coturn (Debian package `coturn`) on 127.0.0.1 and connect two aiortc peers
through it with the relay-only policy, using the credentials the real server hands out; expired
credentials and a wrong secret are refused by coturn (401). No traffic leaves the loopback.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import os
import random
import re
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aioice import stun, turn
from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from test_openapi import SPEC, assert_fits, response_schema
from turn_helpers import Coturn, free_udp_port

from jupyter_interview.rooms.ice import check_urls, ice_servers, turn_rest_credentials

BOUND_S = 10  # every wait on the network below gives up after this long


# ---------------- credentials, plain Python ----------------


def test_turn_password_is_base64_hmac_sha1_of_the_username() -> None:
    # Known answer, computed outside Python:
    #   printf '%s' "1700003600:p-42" | openssl dgst -sha1 -hmac "north-wind" -binary | base64
    username, password = turn_rest_credentials("north-wind", "p-42", 3600, now=1_700_000_000.9)
    assert username == "1700003600:p-42"
    assert password == "nkCrAFLErSb5hxKNyCsVXvEo4FA="
    expected = hmac.new(b"north-wind", username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(password) == expected


def test_turn_username_starts_with_the_expiry_and_names_the_participant() -> None:
    now = time.time()
    username, _ = turn_rest_credentials("s", "abc_DEF-1", 600, now)
    expiry, participant = username.split(":")
    assert int(expiry) == int(now) + 600
    assert participant == "abc_DEF-1"


@pytest.mark.parametrize(("secret", "participant"), [("", "p"), ("s", ""), ("s", "a:b")])
def test_turn_credentials_refuse_no_secret_and_unusable_participant_ids(
    secret: str, participant: str
) -> None:
    with pytest.raises(ValueError):
        turn_rest_credentials(secret, participant, 60, time.time())


def test_ice_servers_lists_stun_bare_and_turn_with_credentials() -> None:
    servers = ice_servers(
        ["stun:stun.example.org:3478"],
        ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"],
        "north-wind",
        "p-42",
        3600,
        now=1_700_000_000,
    )
    assert servers == [
        {"urls": ["stun:stun.example.org:3478"]},
        {
            "urls": ["turn:turn.example.org:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"],
            "username": "1700003600:p-42",
            "credential": "nkCrAFLErSb5hxKNyCsVXvEo4FA=",
            "credentialType": "password",
            "expires_at": 1700003600,
        },
    ]


def test_ice_servers_is_empty_when_nothing_is_configured() -> None:
    assert ice_servers([], [], "", "p", 3600, time.time()) == []


@pytest.mark.parametrize(
    ("stun", "turn_urls", "secret"),
    [
        (["turn:x:3478"], [], ""),
        ([], ["stun:x:3478"], "s"),
        ([], ["turn:x:3478"], ""),
        (["http://x"], [], ""),
    ],
)
def test_ice_configuration_with_wrong_schemes_or_turn_without_secret_is_refused(
    stun: list[str], turn_urls: list[str], secret: str
) -> None:
    with pytest.raises(ValueError):
        check_urls(stun, turn_urls, secret)


# ---------------- a real coturn and a server configured for it ----------------


@pytest.fixture(scope="module")
def turn_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Coturn]:
    """coturn's settings, chosen once per module; the process starts only for tests that ask `coturn`."""
    low = random.randrange(50000, 59000, 50)
    server = Coturn(
        tmp_path_factory.mktemp("coturn"), free_udp_port(), secrets.token_hex(16), (low, low + 39)
    )
    yield server
    server.stop()


@pytest.fixture
def coturn(turn_server: Coturn) -> Coturn:
    if turn_server.proc is None:
        try:
            turn_server.start()
        except (OSError, RuntimeError, TimeoutError) as e:
            reason = f"coturn could not be started here: {e}"
            print(reason)
            if os.environ.get("CI"):  # scripts/test installs coturn: in CI a missing relay is a failure
                pytest.fail(reason)
            pytest.skip(reason)
        print(f"coturn answered STUN {turn_server.started_in_s * 1000:.0f} ms after start")
    return turn_server


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any], turn_server: Coturn) -> dict[str, Any]:
    jp_server_config["InterviewApp"].update(
        {
            "stun_urls": [f"stun:127.0.0.1:{turn_server.port}"],
            "turn_urls": [turn_server.url],
            "turn_secret": turn_server.secret,
            "turn_ttl_s": 900,
            "ice_transport_policy": "relay",
        }
    )
    return jp_server_config


async def joined(make_client: Any, invite_url: str) -> Any:
    client = make_client()
    r = await client.join(invite_url)
    assert r.code == 302, r.body
    return client


def ice_path(room: dict[str, Any]) -> str:
    return f"interview/api/rooms/{room['id']}/ice-servers"


# ---------------- the route ----------------


async def test_room_participants_and_owner_get_ice_servers_with_their_own_turn_username(
    owner: Any, make_client: Any, make_room: Any, turn_server: Coturn
) -> None:
    room = await make_room()
    interviewer = await joined(make_client, room["invites"]["interviewer"])
    candidate = await joined(make_client, room["invites"]["candidate"])  # waiting, not admitted
    participants = (await owner.json("GET", f"interview/api/rooms/{room['id']}"))[1]["participants"]
    ids = {p["role"]: p["id"] for p in participants}

    for who, client, participant in (
        ("owner", owner, "owner"),
        ("interviewer", interviewer, ids["interviewer"]),
        ("candidate", candidate, ids["candidate"]),
    ):
        before = int(time.time())
        r = await client.request("GET", ice_path(room))
        assert r.code == 200, (who, r.body)
        assert r.headers["Cache-Control"] == "no-store"
        body = (await client.json("GET", ice_path(room)))[1]
        assert_fits(body, response_schema(SPEC, "/rooms/{room_id}/ice-servers", "get", 200))
        assert body["ttl_s"] == 900
        assert body["ice_transport_policy"] == "relay"
        stun, turn_entry = body["ice_servers"]
        assert stun == {"urls": [f"stun:127.0.0.1:{turn_server.port}"]}
        assert turn_entry["urls"] == [turn_server.url]
        assert turn_entry["credentialType"] == "password"
        expiry, name = turn_entry["username"].split(":")
        assert name == participant, who
        assert before + 900 <= int(expiry) == turn_entry["expires_at"] <= int(time.time()) + 900
        expected = turn_rest_credentials(turn_server.secret, participant, 0, now=int(expiry))[1]
        assert turn_entry["credential"] == expected


async def test_another_rooms_participant_cannot_get_this_rooms_ice_servers(
    make_client: Any, make_room: Any
) -> None:
    room, other = await make_room(title="A"), await make_room(title="B")
    for role in ("interviewer", "candidate"):
        outsider = await joined(make_client, other["invites"][role])
        code, body = await outsider.json("GET", ice_path(room))
        assert code == 403, (role, body)
        assert "credential" not in str(body)


async def test_ice_servers_need_an_identity(make_client: Any, make_room: Any) -> None:
    room = await make_room()
    code, body = await make_client().json("GET", ice_path(room))
    assert code == 401, body
    assert body["error"]["code"] == "no_identity"


async def test_ice_servers_of_an_unknown_room_are_not_found(owner: Any) -> None:
    code, body = await owner.json("GET", "interview/api/rooms/no-such-room/ice-servers")
    assert code == 404, body


# ---------------- coturn accepts the minted credentials, refuses expired or foreign ones ----------------


def rtc_config(entry: dict[str, Any]) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=entry["urls"], username=entry["username"], credential=entry["credential"])
        ],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
    )


def candidate_types(sdp: str) -> list[str]:
    return re.findall(r"^a=candidate:.* typ (\w+)", sdp, flags=re.MULTILINE)


@contextlib.asynccontextmanager
async def closing_peers() -> AsyncIterator[list[RTCPeerConnection]]:
    """Peer connections the test appends, closed (in bounded time) however the test ends."""
    made: list[RTCPeerConnection] = []
    try:
        yield made
    finally:
        for pc in made:
            await asyncio.wait_for(pc.close(), BOUND_S)


async def allocate(coturn: Coturn, username: str, password: str) -> tuple[str, int]:
    """A TURN allocation on coturn with these credentials; returns the relayed address."""
    transport, _protocol = await asyncio.wait_for(
        turn.create_turn_endpoint(
            asyncio.DatagramProtocol,
            server_addr=("127.0.0.1", coturn.port),
            username=username,
            password=password,
            transport="udp",
        ),
        BOUND_S,
    )
    try:
        return transport.get_extra_info("sockname")  # type: ignore[no-any-return]
    finally:
        transport.close()


async def relay_echo(offer_entry: dict[str, Any], answer_entry: dict[str, Any]) -> dict[str, float]:
    """Two relay-only aiortc peers, offer and answer passed directly, a data channel echo; timings in s."""
    async with closing_peers() as peers:
        t0 = time.monotonic()
        offerer, answerer = (
            RTCPeerConnection(rtc_config(offer_entry)),
            RTCPeerConnection(rtc_config(answer_entry)),
        )
        peers += [offerer, answerer]
        channel = offerer.createDataChannel("chat")
        opened, echoed = asyncio.Event(), asyncio.get_running_loop().create_future()

        @channel.on("open")
        def on_open() -> None:
            opened.set()

        @channel.on("message")
        def on_reply(message: str) -> None:
            if not echoed.done():
                echoed.set_result(message)

        @answerer.on("datachannel")
        def on_channel(remote: RTCDataChannel) -> None:
            @remote.on("message")
            def on_message(message: str) -> None:
                remote.send("echo: " + message)

        # aiortc gathers every candidate in setLocalDescription: the SDP carries them all (no trickle).
        await asyncio.wait_for(offerer.setLocalDescription(await offerer.createOffer()), BOUND_S)
        offer_sdp = offerer.localDescription.sdp
        gathered = time.monotonic() - t0
        assert candidate_types(offer_sdp) and set(candidate_types(offer_sdp)) == {"relay"}, offer_sdp
        await asyncio.wait_for(
            answerer.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer")), BOUND_S
        )
        await asyncio.wait_for(answerer.setLocalDescription(await answerer.createAnswer()), BOUND_S)
        answer_sdp = answerer.localDescription.sdp
        assert candidate_types(answer_sdp) and set(candidate_types(answer_sdp)) == {"relay"}, answer_sdp
        await asyncio.wait_for(
            offerer.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer")), BOUND_S
        )

        await asyncio.wait_for(opened.wait(), BOUND_S)
        connected = time.monotonic() - t0
        channel.send("hello through TURN")
        assert await asyncio.wait_for(echoed, BOUND_S) == "echo: hello through TURN"
        echoed_at = time.monotonic() - t0

        for pc in (offerer, answerer):
            assert pc.connectionState == "connected"
            assert pc.sctp is not None
            # The pair ICE chose: relayed on both ends (aioice keeps it per component; 1 is RTP/data).
            pair = pc.sctp.transport.transport.iceGatherer._connection._nominated[1]
            assert (pair.local_candidate.type, pair.remote_candidate.type) == ("relay", "relay")
            assert pair.local_candidate.host == "127.0.0.1"
        return {"gathered": gathered, "connected": connected, "echoed": echoed_at}


async def test_turn_credentials_from_the_server_relay_a_data_channel_through_coturn(
    coturn: Coturn, make_client: Any, make_room: Any
) -> None:
    room = await make_room()
    interviewer = await joined(make_client, room["invites"]["interviewer"])
    candidate = await joined(make_client, room["invites"]["candidate"])
    entries = []
    for client in (interviewer, candidate):
        code, body = await client.json("GET", ice_path(room))
        assert code == 200, body
        assert body["ice_transport_policy"] == "relay"
        entries.append(next(s for s in body["ice_servers"] if "username" in s))

    timings = await relay_echo(entries[0], entries[1])
    print(
        "relay candidates gathered in {gathered:.3f} s, data channel open at {connected:.3f} s, "
        "echo back at {echoed:.3f} s".format(**timings)
    )


async def assert_no_relay_candidate(entry: dict[str, Any]) -> None:
    """With relay-only policy and refused credentials, gathering ends, in time, with no candidate."""
    async with closing_peers() as peers:
        pc = RTCPeerConnection(rtc_config(entry))
        peers.append(pc)
        pc.createDataChannel("chat")
        t0 = time.monotonic()
        await asyncio.wait_for(pc.setLocalDescription(await pc.createOffer()), BOUND_S)
        assert candidate_types(pc.localDescription.sdp) == [], pc.localDescription.sdp
        print(f"gathering gave up with no candidate after {time.monotonic() - t0:.3f} s")


async def test_coturn_refuses_expired_turn_credentials(coturn: Coturn) -> None:
    fresh = turn_rest_credentials(coturn.secret, "p-1", 600, now=time.time())
    assert (await allocate(coturn, *fresh))[0] == "127.0.0.1"

    # Minted by the same function, one hour ago, for ten minutes: expired fifty minutes ago.
    expired = turn_rest_credentials(coturn.secret, "p-1", 600, now=time.time() - 3600)
    with pytest.raises(stun.TransactionFailed) as refused:
        await allocate(coturn, *expired)
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401

    entry = ice_servers([], [coturn.url], coturn.secret, "p-1", 600, now=time.time() - 3600)[0]
    await assert_no_relay_candidate(entry)


async def test_coturn_refuses_credentials_signed_with_another_secret(coturn: Coturn) -> None:
    forged = turn_rest_credentials("not-" + coturn.secret, "p-1", 600, now=time.time())
    with pytest.raises(stun.TransactionFailed) as refused:
        await allocate(coturn, *forged)
    assert refused.value.response.attributes["ERROR-CODE"][0] == 401

    entry = ice_servers([], [coturn.url], "not-" + coturn.secret, "p-1", 600, now=time.time())[0]
    await assert_no_relay_candidate(entry)


async def test_credentials_expire_for_new_allocations_but_a_relayed_call_keeps_its_allocation(
    coturn: Coturn,
) -> None:
    """What `expires_at` means with coturn: set-up and ICE restarts need fresh credentials, a live call does not."""
    username, password = turn_rest_credentials(coturn.secret, "p-2", 2, now=time.time())
    transport, _ = await asyncio.wait_for(
        turn.create_turn_endpoint(
            asyncio.DatagramProtocol,
            server_addr=("127.0.0.1", coturn.port),
            username=username,
            password=password,
        ),
        BOUND_S,
    )
    try:
        await asyncio.sleep(max(0.0, int(username.split(":")[0]) + 1.1 - time.time()))
        with pytest.raises(stun.TransactionFailed) as refused:
            await allocate(coturn, username, password)
        assert refused.value.response.attributes["ERROR-CODE"][0] == 401

        client = transport._TurnTransport__inner_protocol  # type: ignore[attr-defined]
        refresh = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
        refresh.attributes["LIFETIME"] = 600
        response, _ = await asyncio.wait_for(client.request_with_retry(refresh), BOUND_S)
        assert response.attributes["LIFETIME"] > 0
    finally:
        transport.close()
