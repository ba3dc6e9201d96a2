"""The wire protocol: envelopes and payloads validated against the JSON Schemas in schemas/."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, cast

import fastjsonschema

PROTOCOL_VERSION = 1
SCHEMAS = Path(__file__).parent / "schemas"


class ProtocolError(Exception):
    """A message the server refuses; `code` is stable, `message` says what is accepted."""

    def __init__(self, code: str, message: str, msg_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.msg_id = msg_id


@cache
def schema(name: str) -> dict[str, Any]:
    return cast(dict[str, Any], json.loads((SCHEMAS / f"{name}.json").read_text(encoding="utf-8")))


def event_types() -> list[str]:
    return sorted(p.stem for p in SCHEMAS.glob("*.json") if p.stem != "envelope")


@cache
def _validator(name: str) -> Callable[[Any], Any]:
    doc = schema(name)
    target = doc if name == "envelope" else doc["properties"]["payload"]
    # Compiled validators: a few microseconds a message, which the relay's throughput needs.
    return cast(Callable[[Any], Any], fastjsonschema.compile(target))


def direction(event_type: str) -> str:
    return str(schema(event_type).get("x-direction", "server"))


def parse(raw: str, max_bytes: int) -> dict[str, Any]:
    """Decode and validate one client frame's envelope (not yet its payload)."""
    if len(raw) > max_bytes:
        raise ProtocolError(
            "frame_too_large", f"the frame is {len(raw)} bytes; at most {max_bytes} are accepted"
        )
    try:
        message = json.loads(raw)
    except ValueError as e:
        raise ProtocolError("bad_json", f"the frame is not JSON: {e}") from e
    if not isinstance(message, dict):
        raise ProtocolError("invalid_envelope", "a message is a JSON object {v, type, id, payload}")
    msg_id = message.get("id") if isinstance(message.get("id"), str) else None
    if message.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(
            "unsupported_version", f"protocol version {message.get('v')!r}; this server speaks v: 1", msg_id
        )
    try:
        _validator("envelope")(message)
    except fastjsonschema.JsonSchemaException as e:
        raise ProtocolError(
            "invalid_envelope", f"envelope: {e}; expected {{v, type, id, to?, payload}}", msg_id
        ) from e
    return cast(dict[str, Any], message)


def validate_payload(event_type: str, payload: dict[str, Any], msg_id: str | None) -> None:
    try:
        _validator(event_type)(payload)
    except fastjsonschema.JsonSchemaException as e:
        raise ProtocolError("invalid_payload", f"{event_type} payload: {e}", msg_id) from e


def encode(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)
