"""A real WebRTC call negotiated through the signaling server: two aiortc peers, offer, answer, trickled ICE.

The interviewer and the candidate of a live room each hold an aiortc RTCPeerConnection and a real
room socket. Nothing passes between the peers except through the server's `sdp-offer`, `sdp-answer`
and `ice-candidate` events: each side strips the candidates out of its SDP and trickles them one by
one, then an empty candidate as end-of-candidates. The peers then exchange video both ways and
data-channel messages. Only host candidates on 127.0.0.1 are gathered and sent: no STUN server, no
other interface, no traffic off this machine.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aioice.ice
import pytest
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceCandidate,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import VideoStreamTrack
from aiortc.sdp import candidate_from_sdp
from test_signaling import live_room

from jupyter_interview.pytest_plugin import Signal

BOUND_S = 20  # every wait on the network or on the peers gives up after this long
LOOPBACK = "127.0.0.1"


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # aioice gathers a host candidate on every interface except 127.0.0.1; the calls in this file
    # must stay on loopback, so interface enumeration answers loopback alone. A stand-in for the
    # machine's interface list, not for any part of the system under test.
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: [LOOPBACK])


def peer() -> RTCPeerConnection:
    # An empty server list: aiortc otherwise falls back to a public STUN server.
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


def split_candidates(sdp: str) -> tuple[str, list[dict[str, Any]]]:
    """The SDP without its candidates (and end-of-candidates), and the candidates as trickle payloads."""
    kept: list[str] = []
    found: list[dict[str, Any]] = []
    mline = -1
    mid: str | None = None
    pending: list[str] = []

    def flush() -> None:
        for line in pending:
            found.append({"candidate": line, "sdpMid": mid, "sdpMLineIndex": mline})
        pending.clear()

    for line in sdp.splitlines():
        if line.startswith("m="):
            flush()
            mline += 1
            mid = None
        elif line.startswith("a=mid:"):
            mid = line[len("a=mid:") :]
        if line.startswith("a=candidate:"):
            pending.append(line[len("a=") :])  # "candidate:..." as a browser's RTCIceCandidate has it
            continue
        if line == "a=end-of-candidates":
            continue
        kept.append(line)
    flush()
    return "\r\n".join(kept) + "\r\n", found


def is_loopback_host(payload: dict[str, Any]) -> bool:
    c = candidate_from_sdp(payload["candidate"].removeprefix("candidate:"))
    return c.ip == LOOPBACK and c.type == "host"


async def send_description(sig: Signal, pc: RTCPeerConnection, to: str) -> list[dict[str, Any]]:
    """Send pc's local description without candidates, then trickle them and end-of-candidates."""
    desc = pc.localDescription
    sdp, candidates = split_candidates(desc.sdp)
    assert "a=candidate" not in sdp
    assert candidates, desc.sdp
    await sig.send(f"sdp-{desc.type}", {"sdp": sdp, "type": desc.type}, to=to)
    sent = [c for c in candidates if is_loopback_host(c)]
    for c in sent:
        await sig.send("ice-candidate", c, to=to)
    await sig.send("ice-candidate", {"candidate": "", "sdpMid": None, "sdpMLineIndex": None}, to=to)
    return sent


async def take_trickled_candidates(sig: Signal, pc: RTCPeerConnection, sender: str) -> int:
    """Add the peer's trickled candidates until its end-of-candidates; how many came."""
    n = 0
    while True:
        msg = await sig.wait("ice-candidate", timeout=BOUND_S)
        assert msg["from"] == sender
        payload = msg["payload"]
        if not payload["candidate"]:
            await pc.addIceCandidate(None)
            return n
        candidate: RTCIceCandidate = candidate_from_sdp(payload["candidate"].removeprefix("candidate:"))
        candidate.sdpMid = payload.get("sdpMid")
        candidate.sdpMLineIndex = payload.get("sdpMLineIndex")
        await pc.addIceCandidate(candidate)
        n += 1


async def first_frame(track: MediaStreamTrack) -> Any:
    return await asyncio.wait_for(track.recv(), BOUND_S)


async def test_two_aiortc_peers_connect_through_signaling_with_trickled_ice_and_exchange_media_and_data(
    owner: Any, make_room: Any, make_client: Any, loopback_only: None
) -> None:
    room = await live_room(owner, make_room, make_client)
    iv, cand = room["iv"], room["cand"]
    iv_id, cand_id = room["iv_id"], room["cand_id"]
    offerer, answerer = peer(), peer()
    loop = asyncio.get_running_loop()
    remote_tracks: dict[str, asyncio.Future[MediaStreamTrack]] = {
        "interviewer": loop.create_future(),
        "candidate": loop.create_future(),
    }
    echoed: asyncio.Future[str] = loop.create_future()
    opened = asyncio.Event()
    watcher = await Signal.open(owner, room["id"], hello={})
    try:
        t0 = time.monotonic()
        offerer.addTrack(VideoStreamTrack())
        channel = offerer.createDataChannel("interview")

        @channel.on("open")
        def on_open() -> None:
            opened.set()

        @channel.on("message")
        def on_reply(message: str) -> None:
            if not echoed.done():
                echoed.set_result(message)

        @offerer.on("track")
        def on_offerer_track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and not remote_tracks["interviewer"].done():
                remote_tracks["interviewer"].set_result(track)

        @answerer.on("track")
        def on_answerer_track(track: MediaStreamTrack) -> None:
            if track.kind == "video" and not remote_tracks["candidate"].done():
                remote_tracks["candidate"].set_result(track)

        @answerer.on("datachannel")
        def on_channel(remote: RTCDataChannel) -> None:
            @remote.on("message")
            def on_message(message: str) -> None:
                remote.send("echo: " + message)

        async def candidate_side() -> int:
            """The candidate's browser: answer the offer that arrives over the room socket."""
            offer = await cand.wait("sdp-offer", timeout=BOUND_S)
            assert offer["from"] == iv_id and offer["to"] == cand_id
            assert "a=candidate" not in offer["payload"]["sdp"]
            await asyncio.wait_for(
                answerer.setRemoteDescription(RTCSessionDescription(offer["payload"]["sdp"], "offer")),
                BOUND_S,
            )
            answerer.addTrack(VideoStreamTrack())  # sendrecv: the candidate's camera goes back
            await asyncio.wait_for(answerer.setLocalDescription(await answerer.createAnswer()), BOUND_S)
            await send_description(cand, answerer, iv_id)
            return await take_trickled_candidates(cand, answerer, iv_id)

        answering = asyncio.ensure_future(candidate_side())
        # aiortc gathers all candidates inside setLocalDescription; they are trickled afterwards.
        await asyncio.wait_for(offerer.setLocalDescription(await offerer.createOffer()), BOUND_S)
        sent = await send_description(iv, offerer, cand_id)
        assert sent and all(is_loopback_host(c) for c in sent)
        answer = await iv.wait("sdp-answer", timeout=BOUND_S)
        assert answer["from"] == cand_id and answer["payload"]["type"] == "answer"
        assert "a=candidate" not in answer["payload"]["sdp"]
        await asyncio.wait_for(
            offerer.setRemoteDescription(RTCSessionDescription(answer["payload"]["sdp"], "answer")), BOUND_S
        )
        got_at_offerer = await take_trickled_candidates(iv, offerer, cand_id)
        got_at_answerer = await asyncio.wait_for(answering, BOUND_S)
        assert got_at_offerer >= 1 and got_at_answerer == len(sent)

        await asyncio.wait_for(opened.wait(), BOUND_S)
        connected_s = time.monotonic() - t0
        for pc in (offerer, answerer):
            assert pc.connectionState == "connected"
            assert pc.sctp is not None
            pair = pc.sctp.transport.transport.iceGatherer._connection._nominated[1]  # component 1
            assert (pair.local_candidate.host, pair.remote_candidate.host) == (LOOPBACK, LOOPBACK)

        channel.send("two sum in O(n)")
        assert await asyncio.wait_for(echoed, BOUND_S) == "echo: two sum in O(n)"
        echoed_s = time.monotonic() - t0

        for who in ("candidate", "interviewer"):
            track = await asyncio.wait_for(remote_tracks[who], BOUND_S)
            frame = await first_frame(track)
            assert (frame.width, frame.height) == (640, 480), who
        frames_s = time.monotonic() - t0
        print(
            f"data channel open at {connected_s:.3f} s, echo back at {echoed_s:.3f} s, "
            f"video frames both ways at {frames_s:.3f} s"
        )

        # The signaling stayed between the two: the owner, in the room all along, saw none of it.
        seen = {m["type"] for m in await watcher.drain(0.2)}
        assert not {"sdp-offer", "sdp-answer", "ice-candidate"} & seen
    finally:
        for pc in (offerer, answerer):
            await asyncio.wait_for(pc.close(), BOUND_S)
        for sig in (iv, cand, watcher):
            sig.close()
