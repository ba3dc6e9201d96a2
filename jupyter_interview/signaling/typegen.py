"""Turns the signaling JSON Schemas the server validates with into the lab extension's TypeScript types and docs/events.md."""

from __future__ import annotations

import argparse
import difflib
import importlib
import json
import re
import sys
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
# The generated files live in the source checkout, not in the installed package.
REPO_ROOT = Path(__file__).resolve().parents[2]
TS_PATH = REPO_ROOT / "src" / "signaling" / "events.ts"
DOCS_PATH = REPO_ROOT / "docs" / "events.md"
ENVELOPE_FILE = "envelope.json"
COMMAND = "python -m jupyter_interview.signaling.typegen"
DOCS_COMMAND = f"{COMMAND} --docs"

DIRECTIONS = ("client", "server", "both")
# Envelope fields whose type depends on the event rather than on envelope.json.
ENVELOPE_OVERRIDES = {"type": "T", "payload": "EventPayloads[T]"}
# Keywords that only constrain values, not their TypeScript shape.
IGNORED_KEYWORDS = frozenset(
    {
        "$schema",
        "$id",
        "title",
        "description",
        "x-direction",
        "maxLength",
        "minLength",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "pattern",
        "format",
        "minItems",
        "maxItems",
        "uniqueItems",
        "default",
        "examples",
    }
)
SUPPORTED_KEYWORDS = IGNORED_KEYWORDS | {
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "anyOf",
    "oneOf",
}
PRIMITIVES = {
    "string": "string",
    "number": "number",
    "integer": "number",
    "boolean": "boolean",
    "null": "null",
}
# The docs keep "integer": the wire contract says more than the TypeScript type can.
DOC_PRIMITIVES = {**PRIMITIVES, "integer": "integer"}
IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
# A type that reads unambiguously before `[]`.
SIMPLE_TYPE = re.compile(r"[A-Za-z_$][A-Za-z0-9_$<>, ]*|'[^']*'|-?\d+(\.\d+)?")
INDENT = "  "
DOC_WIDTH = 100

# Who may send each client event and how it is rate limited, until signaling/events.py says so itself.
FALLBACK_SENDERS: dict[str, tuple[str, str]] = {
    "hello": ("any", "control"),
    "presence": ("any", "signaling"),
    "sdp-offer": ("interviewer, candidate (admitted)", "signaling"),
    "sdp-answer": ("interviewer, candidate (admitted)", "signaling"),
    "ice-candidate": ("interviewer, candidate (admitted)", "signaling"),
    "ice-restart": ("interviewer, candidate (admitted)", "signaling"),
    "chat-message": ("any admitted", "chat"),
    "typing": ("any admitted", "typing"),
    "raise-hand": ("any admitted", "reactions"),
    "reaction": ("any admitted", "reactions"),
    "timer": ("interviewer", "control"),
    "interview-state": ("interviewer", "control"),
    "waiting-room": ("candidate: knock; interviewer: admit, deny", "control"),
}
SERVER_ONLY = ("server only", "—")
ROLE_ORDER = ("owner", "interviewer", "candidate")
# Client events the hub handles itself rather than through EVENT_SPECS.
HUB_HANDLED = {"hello": ("any", "— (once per socket)")}
# What EVENT_SPECS cannot say: rules the event's handler applies per action.
SENDER_NOTES = {"waiting-room": "knock: candidates; admit, deny: owner, interviewer"}


class SchemaError(ValueError):
    """A schema file this generator cannot turn into types: what was wrong, where, and what is accepted."""


@dataclass(frozen=True)
class Event:
    type: str
    direction: str
    description: str
    payload: dict[str, Any]

    @property
    def interface(self) -> str:
        return pascal_case(self.type) + "Payload"


def pascal_case(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def ts_string(value: str) -> str:
    """A single-quoted TypeScript string literal."""
    body = json.dumps(value, ensure_ascii=False)[1:-1].replace('\\"', '"').replace("'", "\\'")
    return f"'{body}'"


def ts_literal(value: Any, where: str) -> str:
    # bool first: it is an int subclass.
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return ts_string(value)
    if isinstance(value, int | float):
        return json.dumps(value)
    raise SchemaError(f"{where}: literal {value!r} is not a string, number, boolean or null")


def ts_key(name: str) -> str:
    return name if IDENTIFIER.fullmatch(name) else ts_string(name)


def jsdoc(text: str, indent: str) -> list[str]:
    """A JSDoc comment: one line when it fits, else wrapped."""
    text = " ".join(text.replace("*/", "*\\/").split())
    if not text:
        return []
    one_line = f"{indent}/** {text} */"
    if len(one_line) <= DOC_WIDTH:
        return [one_line]
    width = DOC_WIDTH - len(indent) - 3
    return [f"{indent}/**", *(f"{indent} * {line}" for line in textwrap.wrap(text, width)), f"{indent} */"]


def union(parts: Iterable[str]) -> str:
    unique = list(dict.fromkeys(parts))
    return " | ".join(unique) if unique else "never"


def check_keywords(schema: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(schema) - SUPPORTED_KEYWORDS)
    if unknown:
        raise SchemaError(
            f"{where}: unsupported keyword(s) {', '.join(unknown)}; the generator accepts "
            f"{', '.join(sorted(SUPPORTED_KEYWORDS - IGNORED_KEYWORDS))} (and ignores value constraints)"
        )


def ts_type(
    schema: Any, where: str = "#", indent: str = "", primitives: Mapping[str, str] = PRIMITIVES
) -> str:
    """The TypeScript type of a JSON Schema; object types come out inline, their lines indented by `indent`."""
    if schema is True or schema == {}:
        return "unknown"
    if not isinstance(schema, dict):
        raise SchemaError(f"{where}: a schema must be an object, got {schema!r}")
    check_keywords(schema, where)
    if "const" in schema:
        return ts_literal(schema["const"], f"{where}/const")
    if "enum" in schema:
        values = schema["enum"]
        if not isinstance(values, list) or not values:
            raise SchemaError(f"{where}/enum: must be a non-empty array")
        return union(ts_literal(v, f"{where}/enum") for v in values)
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            return union(
                ts_type(sub, f"{where}/{keyword}/{i}", indent, primitives)
                for i, sub in enumerate(schema[keyword])
            )
    types = schema.get("type")
    if types is None:
        if "properties" in schema:
            types = "object"
        elif "items" in schema:
            types = "array"
        else:
            return "unknown"
    if isinstance(types, str):
        types = [types]
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise SchemaError(f"{where}/type: must be a type name or an array of them, got {types!r}")
    return union(single_type(schema, t, where, indent, primitives) for t in types)


def single_type(
    schema: Mapping[str, Any], name: str, where: str, indent: str, primitives: Mapping[str, str]
) -> str:
    if name in primitives:
        return primitives[name]
    if name == "array":
        item = ts_type(schema.get("items", True), f"{where}/items", indent, primitives)
        return f"{item}[]" if SIMPLE_TYPE.fullmatch(item) else f"Array<{item}>"
    if name == "object":
        return object_type(schema, where, indent, primitives)
    raise SchemaError(
        f"{where}/type: unknown type {name!r}; accepted: {', '.join([*PRIMITIVES, 'array', 'object'])}"
    )


def object_fields(schema: Mapping[str, Any], where: str) -> tuple[dict[str, Any], list[str]]:
    properties = schema.get("properties", {})
    required = schema.get("required", [])
    if not isinstance(properties, dict):
        raise SchemaError(f"{where}/properties: must be an object")
    if not isinstance(required, list):
        raise SchemaError(f"{where}/required: must be an array")
    missing = sorted(set(required) - set(properties))
    if missing:
        raise SchemaError(f"{where}/required: names no property {', '.join(missing)}")
    return properties, required


def object_type(schema: Mapping[str, Any], where: str, indent: str, primitives: Mapping[str, str]) -> str:
    properties, _ = object_fields(schema, where)
    closed = schema.get("additionalProperties", True) is False
    if not properties and not closed:
        return "Record<string, unknown>"
    if not properties:
        return "Record<string, never>"
    members = member_lines(schema, where, indent + INDENT, primitives=primitives)
    return "{\n" + "\n".join(members) + "\n" + indent + "}"


def member_lines(
    schema: Mapping[str, Any],
    where: str,
    indent: str,
    overrides: Mapping[str, str] | None = None,
    primitives: Mapping[str, str] = PRIMITIVES,
) -> list[str]:
    """The members of an object type, one property per line with its JSDoc, in schema order."""
    properties, required = object_fields(schema, where)
    lines: list[str] = []
    for name, sub in properties.items():
        prop_where = f"{where}/properties/{name}"
        if overrides and name in overrides:
            text = overrides[name]
        else:
            text = ts_type(sub, prop_where, indent, primitives)
        if isinstance(sub, dict) and sub.get("description"):
            lines += jsdoc(sub["description"], indent)
        optional = "" if name in required else "?"
        lines.append(f"{indent}{ts_key(name)}{optional}: {text};")
    if schema.get("additionalProperties", True) is not False:
        # Open objects: the schema lets more keys through, so the type must too.
        lines.append(f"{indent}[key: string]: unknown;")
    return lines


def load_json(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        data = json.load(f)
    if not isinstance(data, dict):
        raise SchemaError(f"{path.name}: the top level must be an object")
    return data


def load_events(schema_dir: Path = SCHEMA_DIR) -> list[Event]:
    """Every event schema in `schema_dir`, sorted by type name."""
    events: list[Event] = []
    for path in sorted(schema_dir.glob("*.json")):
        if path.name == ENVELOPE_FILE:
            continue
        schema = load_json(path)
        title = schema.get("title")
        if title != path.stem:
            raise SchemaError(f"{path.name}: title is {title!r}; it must be the event type, {path.stem!r}")
        direction = schema.get("x-direction")
        if direction not in DIRECTIONS:
            raise SchemaError(f"{path.name}: x-direction is {direction!r}; accepted: {', '.join(DIRECTIONS)}")
        payload = schema.get("properties", {}).get("payload")
        if not isinstance(payload, dict):
            raise SchemaError(f"{path.name}: properties/payload must be a schema object")
        events.append(Event(path.stem, direction, str(schema.get("description", "")), payload))
    events.sort(key=lambda e: e.type)
    names: dict[str, str] = {}
    for event in events:
        if event.interface in names:
            raise SchemaError(f"{event.type!r} and {names[event.interface]!r} both give {event.interface}")
        names[event.interface] = event.type
    if not events:
        raise SchemaError(f"{schema_dir}: no event schemas")
    return events


def protocol_version(envelope: Mapping[str, Any]) -> int:
    version = envelope.get("properties", {}).get("v", {}).get("const")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SchemaError(f'{ENVELOPE_FILE}: properties/v must be {{"const": <integer>}}, got {version!r}')
    return version


def direction_phrase(direction: str) -> str:
    return {"client": "client to server", "server": "server to client", "both": "both ways"}[direction]


def literal_union(name: str, values: Sequence[str], doc: str) -> list[str]:
    lines = jsdoc(doc, "")
    if not values:
        return [*lines, f"export type {name} = never;"]
    return [
        *lines,
        f"export type {name} =",
        *(f"  | {ts_string(v)}" for v in values[:-1]),
        f"  | {ts_string(values[-1])};",
    ]


def generate(schema_dir: Path = SCHEMA_DIR) -> str:
    """The TypeScript source of src/signaling/events.ts."""
    events = load_events(schema_dir)
    envelope = load_json(schema_dir / ENVELOPE_FILE)
    version = protocol_version(envelope)
    out = [
        "// Generated from jupyter_interview/signaling/schemas/*.json, the schemas the server validates with.",
        f"// Do not edit: change the schemas, then regenerate with `{COMMAND}`.",
        "",
        "/** The envelope's `v`: the protocol version this client speaks. */",
        f"export const PROTOCOL_VERSION = {version};",
        "",
    ]
    for event in events:
        doc = f"Payload of `{event.type}` ({direction_phrase(event.direction)}). {event.description}"
        out += jsdoc(doc, "")
        body = member_lines(event.payload, f"{event.type}.json#/properties/payload", INDENT)
        out += [f"export interface {event.interface} {{", *body, "}", ""]
    out += literal_union("EventType", [e.type for e in events], "Every event type.")
    out.append("")
    out += literal_union(
        "ClientEventType",
        [e.type for e in events if e.direction in ("client", "both")],
        "Event types a client may send.",
    )
    out.append("")
    out += literal_union(
        "ServerEventType",
        [e.type for e in events if e.direction in ("server", "both")],
        "Event types the server sends.",
    )
    out += ["", "/** The payload type of each event type. */", "export interface EventPayloads {"]
    out += [f"  {ts_key(e.type)}: {e.interface};" for e in events]
    out += ["}", ""]
    out += jsdoc(str(envelope.get("description", "")), "")
    out.append("export interface Envelope<T extends EventType = EventType> {")
    out += member_lines(envelope, f"{ENVELOPE_FILE}#", INDENT, ENVELOPE_OVERRIDES)
    out += [
        "}",
        "",
        "/** Any one message: a union discriminated by `type`, so a switch on it narrows `payload`. */",
        "export type AnyEnvelope = { [K in EventType]: Envelope<K> }[EventType];",
        "",
    ]
    return "\n".join(out)


# --- docs/events.md ----------------------------------------------------------------------------------


def block_markers(name: str) -> tuple[str, str]:
    return (
        f"<!-- BEGIN GENERATED {name}: `{DOCS_COMMAND}` rewrites this part -->",
        f"<!-- END GENERATED {name} -->",
    )


def load_optional(module_name: str, attribute: str) -> Any:
    """`module_name.attribute`, or None while that module (written alongside this one) does not exist yet."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        return None
    return getattr(module, attribute, None)


def spec_table(specs: Any) -> dict[str, Any]:
    """EVENT_SPECS as type -> spec, whether it is a mapping or a sequence of specs carrying their `type`."""
    if isinstance(specs, Mapping):
        return dict(specs)
    return {str(getattr(spec, "type", None) or spec.name): spec for spec in specs}


def load_senders(events: Sequence[Event]) -> dict[str, tuple[str, str]]:
    """Who may send each event and its rate class: signaling/events.py's EVENT_SPECS once it exists."""
    specs = load_optional("jupyter_interview.signaling.events", "EVENT_SPECS")
    if specs is None:
        return {e.type: FALLBACK_SENDERS.get(e.type, SERVER_ONLY) for e in events}
    table = spec_table(specs)
    senders: dict[str, tuple[str, str]] = {}
    for e in events:
        spec = table.get(e.type)
        if spec is not None:
            who = describe_roles(spec.roles, bool(getattr(spec, "needs_access", False)))
            if e.type in SENDER_NOTES:
                who = f"{who} ({SENDER_NOTES[e.type]})"
            senders[e.type] = (who, plain(spec.rate_class))
        else:
            senders[e.type] = HUB_HANDLED.get(e.type, SERVER_ONLY)
    return senders


def plain(value: Any) -> str:
    return str(getattr(value, "value", value))


def describe_roles(roles: Any, needs_access: bool = False) -> str:
    if isinstance(roles, str):
        names = [roles]
    else:
        # Role order as the rest of the docs give it, not set order.
        names = sorted(
            {plain(r) for r in roles}, key=lambda r: (ROLE_ORDER.index(r) if r in ROLE_ORDER else 99, r)
        )
    text = "any" if set(ROLE_ORDER) <= set(names) else ", ".join(names)
    if needs_access and "candidate" in names:
        text += "; candidates once admitted, while live"
    return text


def rate_class_rows() -> list[str]:
    classes = load_optional("jupyter_interview.signaling.limits", "DEFAULT_RATE_CLASSES")
    if not classes:
        return ["Rate classes are defined in `jupyter_interview/signaling/limits.py` (not written yet)."]
    rows = ["| rate class | messages a second | burst |", "| --- | --- | --- |"]
    for name, (rate, burst) in sorted(classes.items()):
        rows.append(f"| {name} | {rate:g} | {burst:g} |")
    return rows


def md_cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def doc_type(schema: Any) -> str:
    """A field's type as the docs show it: the TypeScript type, with nested objects named `object`."""
    if isinstance(schema, dict):
        types = schema.get("type")
        if types == "object" and (schema.get("properties") or schema.get("additionalProperties") is False):
            return "object"
        if (
            types == "array"
            and isinstance(schema.get("items"), dict)
            and doc_type(schema["items"]) == "object"
        ):
            return "object[]"
    return ts_type(schema, primitives=DOC_PRIMITIVES)


def limits(schema: Any) -> str:
    if not isinstance(schema, dict):
        return ""
    parts = []
    lo, hi = schema.get("minLength"), schema.get("maxLength")
    if lo is not None or hi is not None:
        if hi is None:
            parts.append(f"≥ {lo} chars")
        else:
            parts.append(f"{lo} to {hi} chars" if lo else f"≤ {hi} chars")
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if lo is not None and hi is not None:
        parts.append(f"{lo} to {hi}")
    elif lo is not None:
        parts.append(f"≥ {lo}")
    elif hi is not None:
        parts.append(f"≤ {hi}")
    return ", ".join(parts)


def field_rows(schema: Mapping[str, Any], prefix: str = "") -> list[str]:
    """One table row per field, nested object fields as `a.b` and array item fields as `a[].b`."""
    rows: list[str] = []
    required = schema.get("required", [])
    for name, sub in schema.get("properties", {}).items():
        path = f"{prefix}{name}"
        description = sub.get("description", "") if isinstance(sub, dict) else ""
        cells = [
            f"`{path}`",
            f"`{doc_type(sub)}`",
            "yes" if name in required else "",
            limits(sub),
            description,
        ]
        rows.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
        if isinstance(sub, dict) and doc_type(sub) == "object":
            rows += field_rows(sub, f"{path}.")
        elif isinstance(sub, dict) and doc_type(sub) == "object[]":
            rows += field_rows(sub["items"], f"{path}[].")
    return rows


FIELD_HEADER = ["| field | type | required | limits | description |", "| --- | --- | --- | --- | --- |"]


def docs_blocks(schema_dir: Path = SCHEMA_DIR) -> dict[str, str]:
    """The generated parts of docs/events.md, by block name."""
    events = load_events(schema_dir)
    envelope = load_json(schema_dir / ENVELOPE_FILE)
    senders = load_senders(events)
    table = [
        "| type | direction | who may send | rate class | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for e in events:
        who, rate = senders[e.type]
        cells = [f"[`{e.type}`](#{e.type})", direction_phrase(e.direction), who, rate, e.description]
        table.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    payloads: list[str] = []
    for e in events:
        payloads += [
            "",
            f"### {e.type}",
            "",
            f"{direction_phrase(e.direction).capitalize()}. {e.description}",
            "",
        ]
        payloads += ["TypeScript: `" + e.interface + "`.", ""]
        rows = field_rows(e.payload)
        payloads += [*FIELD_HEADER, *rows] if rows else ["Empty payload: `{}`."]
    return {
        "envelope": "\n".join([*FIELD_HEADER, *field_rows(envelope)]),
        "events": "\n".join(table),
        "rate-classes": "\n".join(rate_class_rows()),
        "payloads": "\n".join(payloads).lstrip("\n"),
    }


def render_docs(current: str, schema_dir: Path = SCHEMA_DIR) -> str:
    """`current` with each generated block rewritten; the prose around the blocks is kept as written."""
    text = current
    for name, body in docs_blocks(schema_dir).items():
        begin, end = block_markers(name)
        match = re.search(re.escape(begin) + r"\n.*?" + re.escape(end), text, re.DOTALL)
        if not match:
            raise SchemaError(
                f"docs/events.md has no block\n{begin}\n...\n{end}\nto write the {name} table into"
            )
        text = f"{text[: match.start()]}{begin}\n{body}\n{end}{text[match.end() :]}"
    return text


# --- command line ------------------------------------------------------------------------------------


def diff_excerpt(old: str, new: str, name: str, limit: int = 40) -> str:
    lines = list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), f"{name} (on disk)", f"{name} (generated)", lineterm=""
        )
    )
    more = f"\n... {len(lines) - limit} more diff lines" if len(lines) > limit else ""
    return "\n".join(lines[:limit]) + more


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND,
        description="Generate src/signaling/events.ts (and docs/events.md) from the signaling schemas.",
    )
    parser.add_argument(
        "--docs", action="store_true", help="also rewrite the generated tables in docs/events.md"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a file differs from what would be generated",
    )
    args = parser.parse_args(argv)

    targets: list[tuple[Path, str, str]] = []
    try:
        targets.append((TS_PATH, generate(), COMMAND))
        if args.docs:
            current = DOCS_PATH.read_text(encoding="utf-8")
            targets.append((DOCS_PATH, render_docs(current), DOCS_COMMAND))
    except (ValueError, OSError) as e:  # SchemaError and bad JSON are ValueErrors
        print(f"typegen: {e}", file=sys.stderr)
        return 2

    stale = 0
    for path, text, command in targets:
        old = path.read_text(encoding="utf-8") if path.exists() else ""
        rel = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        if old == text:
            continue
        if args.check:
            stale += 1
            print(
                f"{rel} is stale: regenerate it with `{command}`\n{diff_excerpt(old, text, str(rel))}",
                file=sys.stderr,
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", newline="\n")
            print(f"wrote {rel}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
