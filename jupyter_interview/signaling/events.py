"""One handler per client event type, registered with who may send it and its rate class."""

from __future__ import annotations

from typing import Any

from jupyter_interview.rooms.models import Role
from jupyter_interview.signaling.hub import STAFF, STAFF_ROLES, Audience, EventSpec, Hub, Member
from jupyter_interview.signaling.protocol import ProtocolError

ANYONE = frozenset({Role.OWNER.value, Role.INTERVIEWER.value, Role.CANDIDATE.value})


def _relay(hub: Hub, member: Member, message: dict[str, Any]) -> None:
    """SDP and ICE go to the one participant named in `to`, never to the room."""
    to = message.get("to")
    ch = hub.channel(member.actor.room_id)
    target = ch.members.get(to) if isinstance(to, str) else None
    if target is None:
        raise ProtocolError(
            "unknown_recipient",
            f"{message['type']} needs `to`: a participant connected to this room",
            message["id"],
        )
    if target.pid == member.pid or (target.actor.role not in STAFF and hub.access(target) != "write"):
        raise ProtocolError("unknown_recipient", "that participant cannot take a call now", message["id"])
    hub.emit(
        ch,
        message["type"],
        message["payload"],
        sender=member.pid,
        to=target.pid,
        audience=Audience(pids=(target.pid,)),
        msg_id=message["id"],
        # Not kept for resume: a peer that was away restarts ICE and renegotiates anyway, and
        # relays are most of the traffic, so logging them would grow every room's log fastest.
        replayable=False,
    )


def _broadcast(hub: Hub, member: Member, message: dict[str, Any]) -> None:
    hub.emit(
        hub.channel(member.actor.room_id),
        message["type"],
        message["payload"],
        sender=member.pid,
        msg_id=message["id"],
    )


def _presence(hub: Hub, member: Member, message: dict[str, Any]) -> None:
    payload = message["payload"]
    if "media" in payload:
        member.media.update(payload["media"])
    if payload.get("status") in ("online", "away"):
        member.presence = payload["status"]
    body = {"participant_id": member.pid, "status": member.presence, "media": dict(member.media)}
    hub.emit(hub.channel(member.actor.room_id), "presence", body, sender=member.pid, msg_id=message["id"])


def _raise_hand(hub: Hub, member: Member, message: dict[str, Any]) -> None:
    member.hand_raised = bool(message["payload"]["raised"])
    _broadcast(hub, member, message)


async def _chat(hub: Hub, member: Member, message: dict[str, Any]) -> None:
    text = message["payload"]["text"]
    if not text.strip():
        raise ProtocolError("invalid_payload", "a chat message needs some text", message["id"])
    saved = await hub.service.post_chat(member.actor.room_id, member.pid, member.actor.name, text)
    body = {"id": saved.id, "text": saved.text, "name": saved.author_name, "ts": saved.ts}
    hub.emit(hub.channel(member.actor.room_id), "chat-message", body, sender=member.pid, msg_id=message["id"])


async def _timer(hub: Hub, member: Member, message: dict[str, Any]) -> None:
    payload = message["payload"]
    action = payload.get("action")
    if action is None:
        raise ProtocolError(
            "invalid_payload", "timer needs an action: start, pause, resume or extend", message["id"]
        )
    # The service announces the new state to everyone through its change listener.
    await hub.service.timer_action(member.actor.room_id, action, payload.get("minutes"))


async def _interview_state(hub: Hub, member: Member, message: dict[str, Any]) -> None:
    state = message["payload"]["state"]
    room_id = member.actor.room_id
    if state == "live":
        await hub.service.start(room_id)
    elif state == "ended":
        await hub.service.end(room_id)
    else:
        raise ProtocolError(
            "invalid_payload", "interviewers set the state to live (Start) or ended (End)", message["id"]
        )


async def _waiting_room(hub: Hub, member: Member, message: dict[str, Any]) -> None:
    payload = message["payload"]
    action = payload["action"]
    room_id = member.actor.room_id
    if action == "knock":
        if member.actor.role != Role.CANDIDATE.value:
            raise ProtocolError("forbidden", "only candidates knock", message["id"])
        body = {"action": "knock", "participant_id": member.pid, "name": member.actor.name}
        audience = Audience(pids=(member.pid,), roles=STAFF_ROLES)
        hub.emit(
            hub.channel(room_id),
            "waiting-room",
            body,
            sender=member.pid,
            audience=audience,
            msg_id=message["id"],
        )
        return
    if member.actor.role not in STAFF:
        raise ProtocolError("forbidden", "only interviewers admit or deny", message["id"])
    target = payload.get("participant_id")
    if not target:
        raise ProtocolError("invalid_payload", f"{action} needs participant_id", message["id"])
    await hub.service.set_admission(room_id, target, admit=action == "admit")


EVENT_SPECS: tuple[EventSpec, ...] = (
    EventSpec("presence", ANYONE, "signaling", True, _presence),
    EventSpec("sdp-offer", ANYONE, "signaling", True, _relay),
    EventSpec("sdp-answer", ANYONE, "signaling", True, _relay),
    EventSpec("ice-candidate", ANYONE, "signaling", True, _relay),
    EventSpec("ice-restart", ANYONE, "signaling", True, _relay),
    EventSpec("chat-message", ANYONE, "chat", True, _chat),
    EventSpec("typing", ANYONE, "typing", True, _broadcast),
    EventSpec("raise-hand", ANYONE, "reactions", True, _raise_hand),
    EventSpec("reaction", ANYONE, "reactions", True, _broadcast),
    EventSpec("timer", STAFF, "control", False, _timer),
    EventSpec("interview-state", STAFF, "control", False, _interview_state),
    EventSpec("waiting-room", ANYONE, "control", False, _waiting_room),
)


def install(hub: Hub) -> Hub:
    for spec in EVENT_SPECS:
        hub.register(spec)
    return hub
