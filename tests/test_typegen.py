"""The lab extension's event types and docs/events.md against the signaling schemas they are generated from."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from jupyter_interview.signaling import typegen

SCHEMA_FILES = sorted(p for p in typegen.SCHEMA_DIR.glob("*.json") if p.name != typegen.ENVELOPE_FILE)
UNION = re.compile(r"^export type (\w+) =((?:\n  \| '[^']+')+);$", re.MULTILINE)
TSC = typegen.REPO_ROOT / "node_modules" / ".bin" / "tsc"


def unions(source: str) -> dict[str, list[str]]:
    return {m[1]: re.findall(r"'([^']+)'", m[2]) for m in UNION.finditer(source)}


def schema_of(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def test_committed_event_types_are_current() -> None:
    committed = typegen.TS_PATH.read_text(encoding="utf-8") if typegen.TS_PATH.exists() else ""
    assert committed == typegen.generate(), (
        "src/signaling/events.ts is stale (the schemas changed since it was generated): "
        "regenerate it with `python -m jupyter_interview.signaling.typegen` and commit it"
    )


def test_events_doc_is_current() -> None:
    committed = typegen.DOCS_PATH.read_text(encoding="utf-8")
    assert committed == typegen.render_docs(committed), (
        "docs/events.md is stale (the schemas or EVENT_SPECS changed since it was generated): "
        "regenerate it with `python -m jupyter_interview.signaling.typegen --docs` and commit it"
    )


def test_check_flag_passes_on_the_checkout() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jupyter_interview.signaling.typegen", "--check", "--docs"],
        capture_output=True,
        text=True,
        cwd=typegen.REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr


def test_check_flag_fails_on_a_stale_file_and_says_how_to_regenerate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "events.ts"
    stale.write_text(typegen.generate().replace("SdpOfferPayload", "OldName"), encoding="utf-8")
    monkeypatch.setattr(typegen, "TS_PATH", stale)

    assert typegen.main(["--check"]) == 1
    err = capsys.readouterr().err
    assert "is stale" in err
    assert "python -m jupyter_interview.signaling.typegen" in err
    assert "-export interface OldName {" in err
    assert stale.read_text(encoding="utf-8") != typegen.generate(), "--check must not write"


def test_every_event_schema_has_a_payload_interface_and_an_event_type() -> None:
    source = typegen.generate()
    event_types = unions(source)["EventType"]
    assert SCHEMA_FILES, "no event schemas found"
    for path in SCHEMA_FILES:
        name = path.stem
        interface = typegen.pascal_case(name) + "Payload"
        assert f"\nexport interface {interface} {{\n" in source, f"{path.name} gave no interface {interface}"
        assert name in event_types, f"{path.name} is missing from EventType"
        assert f"  {typegen.ts_key(name)}: {interface};\n" in source, f"{name} is missing from EventPayloads"
    assert event_types == sorted(p.stem for p in SCHEMA_FILES)


def test_client_and_server_event_types_follow_x_direction() -> None:
    found = unions(typegen.generate())
    directions = {p.stem: schema_of(p)["x-direction"] for p in SCHEMA_FILES}
    assert found["ClientEventType"] == sorted(t for t, d in directions.items() if d in ("client", "both"))
    assert found["ServerEventType"] == sorted(t for t, d in directions.items() if d in ("server", "both"))
    assert "hello" in found["ClientEventType"] and "hello" not in found["ServerEventType"]
    assert "welcome" in found["ServerEventType"] and "welcome" not in found["ClientEventType"]


def test_pascal_case_names_payloads_after_the_event_type() -> None:
    assert typegen.pascal_case("sdp-offer") == "SdpOffer"
    assert typegen.pascal_case("ice-candidate") == "IceCandidate"
    assert typegen.pascal_case("hello") == "Hello"


def test_translator_turns_enum_nullable_nested_and_array_into_typescript() -> None:
    schema = {
        "type": "object",
        "properties": {
            "kind": {"enum": ["a", "b's"]},
            "at": {"type": ["number", "null"]},
            "who": {
                "type": "object",
                "description": "Who did it.",
                "properties": {"id": {"type": "string", "maxLength": 64}},
                "required": ["id"],
                "additionalProperties": False,
            },
            "tags": {"type": "array", "items": {"type": "string"}},
            "rows": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}},
                    "additionalProperties": False,
                },
            },
            "extra": {"type": "object"},
            "v": {"const": 1},
            "odd-key": {"type": "boolean"},
        },
        "required": ["kind", "at"],
        "additionalProperties": False,
    }
    assert typegen.ts_type(schema) == (
        "{\n"
        "  kind: 'a' | 'b\\'s';\n"
        "  at: number | null;\n"
        "  /** Who did it. */\n"
        "  who?: {\n"
        "    id: string;\n"
        "  };\n"
        "  tags?: string[];\n"
        "  rows?: Array<{\n"
        "    n?: number;\n"
        "  }>;\n"
        "  extra?: Record<string, unknown>;\n"
        "  v?: 1;\n"
        "  'odd-key'?: boolean;\n"
        "}"
    )


def test_translator_keeps_an_open_object_open() -> None:
    schema = {"type": "object", "properties": {"id": {"type": "string"}}}
    assert typegen.ts_type(schema) == "{\n  id?: string;\n  [key: string]: unknown;\n}"


def test_translator_refuses_what_it_cannot_express_and_says_where() -> None:
    schema = {"type": "object", "properties": {"who": {"$ref": "#/$defs/who"}}}
    with pytest.raises(typegen.SchemaError, match=r"#/properties/who: unsupported keyword\(s\) \$ref"):
        typegen.ts_type(schema)
    with pytest.raises(typegen.SchemaError, match="required: names no property nope"):
        typegen.ts_type({"type": "object", "properties": {}, "required": ["nope"]})


def test_schema_whose_title_is_not_its_file_name_is_refused(tmp_path: Path) -> None:
    shutil.copy(typegen.SCHEMA_DIR / typegen.ENVELOPE_FILE, tmp_path)
    schema = schema_of(typegen.SCHEMA_DIR / "typing.json")
    (tmp_path / "typing.json").write_text(json.dumps({**schema, "title": "typed"}), encoding="utf-8")
    with pytest.raises(typegen.SchemaError, match="title is 'typed'; it must be the event type, 'typing'"):
        typegen.generate(tmp_path)


def test_docs_take_senders_and_rate_classes_from_event_specs(monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in events module, so the test pins how specs are read whatever signaling/events.py registers.
    specs = (
        types.SimpleNamespace(type="typing", roles=frozenset({"interviewer"}), rate_class="slow-lane"),
        types.SimpleNamespace(
            type="reaction",
            roles=frozenset({"candidate", "owner", "interviewer"}),
            rate_class="reactions",
            needs_access=True,
        ),
    )
    fake = types.ModuleType("jupyter_interview.signaling.events")
    fake.EVENT_SPECS = specs  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "jupyter_interview.signaling.events", fake)

    table = typegen.docs_blocks()["events"]
    assert "| [`typing`](#typing) | both ways | interviewer | slow-lane |" in table
    assert (
        "| [`reaction`](#reaction) | both ways | any; candidates once admitted, while live | reactions |"
        in table
    )
    assert "| [`hello`](#hello) | client to server | any | — (once per socket) |" in table
    assert "| [`welcome`](#welcome) | server to client | server only | — |" in table


def test_docs_fall_back_to_the_planned_senders_without_an_events_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # None in sys.modules makes the import fail as if events.py did not exist.
    monkeypatch.setitem(sys.modules, "jupyter_interview.signaling.events", None)

    table = typegen.docs_blocks()["events"]
    assert (
        "| [`sdp-offer`](#sdp-offer) | both ways | interviewer, candidate (admitted) | signaling |" in table
    )
    assert "| [`timer`](#timer) | both ways | interviewer | control |" in table


@pytest.mark.skipif(not TSC.exists(), reason="needs the TypeScript compiler: `npm install` at the repo root")
def test_generated_types_accept_valid_messages_and_reject_invalid_ones(tmp_path: Path) -> None:
    (tmp_path / "events.ts").write_text(typegen.generate(), encoding="utf-8")
    (tmp_path / "check.ts").write_text(
        """
import { AnyEnvelope, ClientEventType, Envelope, EventPayloads, PROTOCOL_VERSION } from './events';

export const offer: Envelope<'sdp-offer'> = {
  v: PROTOCOL_VERSION, type: 'sdp-offer', id: 'm1', to: 'p2', payload: { sdp: 'v=0', type: 'offer' }
};
export const nulls: EventPayloads['ice-candidate'] = { candidate: '', sdpMid: null, sdpMLineIndex: null };
// @ts-expect-error sdp is required
export const noSdp: Envelope<'sdp-offer'> = { v: 1, type: 'sdp-offer', id: 'm2', payload: {} };
// @ts-expect-error an answer is not an offer
export const wrongKind: Envelope<'sdp-offer'> = { v: 1, type: 'sdp-offer', id: 'm3', payload: { sdp: '', type: 'answer' } };
// @ts-expect-error another protocol version
export const v2: Envelope<'typing'> = { v: 2, type: 'typing', id: 'm4', payload: { typing: true } };
// @ts-expect-error not an interview state
export const badState: EventPayloads['interview-state'] = { state: 'paused' };
// @ts-expect-error payloads are closed
export const extra: EventPayloads['typing'] = { typing: true, who: 'p1' };
// @ts-expect-error welcome is sent by the server only
export const fromClient: ClientEventType = 'welcome';

export function describe(message: AnyEnvelope): string {
  switch (message.type) {
    case 'chat-message':
      return message.payload.text;
    case 'timer':
      return String(message.payload.ends_at ?? message.payload.status);
    case 'welcome':
      return message.payload.participants?.map(p => p.role).join(',') ?? '';
    default:
      return message.type;
  }
}
""",
        encoding="utf-8",
    )
    (tmp_path / "tsconfig.json").write_text(
        json.dumps(
            {
                "compilerOptions": {
                    "strict": True,
                    "noEmit": True,
                    "noUnusedLocals": True,
                    "target": "ES2022",
                    "module": "esnext",
                    "moduleResolution": "node",
                    "types": [],
                },
                "include": ["*.ts"],
            }
        ),
        encoding="utf-8",
    )
    result = subprocess.run([str(TSC), "-p", str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
