"""openapi.json against the code: every route documented, roles as the matrix has them, real answers fit."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest

from jupyter_interview.errors import BadRequest
from jupyter_interview.rooms import models
from jupyter_interview.server_ext import matrix
from jupyter_interview.server_ext.handlers import OPENAPI_PATH, default_handlers

API_PREFIX = "/interview/api"
HTTP_METHODS = ("get", "post", "put", "patch", "delete")
ROLES = ("owner", "interviewer", "candidate")
# A named group: its name and its regex, which in our routes never nests parentheses.
NAMED_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?P<body>[^()]*)\)")
LITERAL_CHOICES = re.compile(r"\w+(\|\w+)+")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def load_spec() -> dict[str, Any]:
    with open(OPENAPI_PATH, encoding="utf-8") as f:
        return dict(json.load(f))


SPEC = load_spec()


def path_templates(route: str) -> list[str]:
    """A tornado route regex as OpenAPI path templates; `(?P<action>start|end)` gives one per literal."""
    pattern = route.replace("/?", "").replace(r"\.", ".")
    templates = [""]
    pos = 0
    for m in NAMED_GROUP.finditer(pattern):
        body = m["body"]
        choices = body.split("|") if LITERAL_CHOICES.fullmatch(body) else ["{" + m["name"] + "}"]
        templates = [t + pattern[pos : m.start()] + c for t in templates for c in choices]
        pos = m.end()
    templates = [t + pattern[pos:] for t in templates]
    for t in templates:
        assert not re.search(r"[\\()\[\]?*+|^$]", t), f"route {route!r} left regex syntax in {t!r}"
    return [t.removeprefix(API_PREFIX) if t.startswith(API_PREFIX + "/") else t for t in templates]


def implemented_methods(handler: type) -> set[str]:
    """HTTP methods the handler defines itself or inherits from our own classes (not tornado's stubs)."""
    found: set[str] = set()
    for klass in handler.__mro__:
        if klass.__module__.startswith("jupyter_interview."):
            found |= {m for m in HTTP_METHODS if m in vars(klass)}
    return found


def routed_operations() -> set[tuple[str, str]]:
    return {
        (template, method)
        for route, handler in default_handlers("/")
        for template in path_templates(route)
        for method in implemented_methods(handler)
    }


def documented_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method) for path, item in spec["paths"].items() for method in item if method in HTTP_METHODS
    }


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follow a local `$ref` (`#/components/...`) to what it names."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def json_schema(spec: dict[str, Any], node: Any) -> Any:
    """An OpenAPI 3.0 schema as plain JSON Schema: refs inlined, `nullable` as a "null" type."""
    node = resolve(spec, node)
    if isinstance(node, list):
        return [json_schema(spec, n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: json_schema(spec, v) for k, v in node.items()}
    if node.get("nullable") is True:
        out["type"] = [node["type"], "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


def response_schema(spec: dict[str, Any], path: str, method: str, status: int) -> Any:
    response = resolve(spec, spec["paths"][path][method]["responses"][str(status)])
    return json_schema(spec, response["content"]["application/json"]["schema"])


def assert_fits(body: Any, schema: Any) -> None:
    jsonschema.Draft4Validator.check_schema(schema)
    jsonschema.Draft4Validator(schema).validate(body)


def check_answer(path: str, method: str, status: int, answer: tuple[int, Any]) -> Any:
    code, body = answer
    assert code == status, body
    assert_fits(body, response_schema(SPEC, path, method, status))
    return body


# ---------------- the document against the routes and the rules ----------------


def test_route_templates_expand_alternations_and_name_groups() -> None:
    room = r"(?P<room_id>[A-Za-z0-9_-]{1,64})"
    assert path_templates(f"/interview/api/rooms/{room}/(?P<action>start|end)") == [
        "/rooms/{room_id}/start",
        "/rooms/{room_id}/end",
    ]
    assert path_templates(r"/interview/api/openapi\.json") == ["/openapi.json"]
    assert path_templates("/interview/api/rooms/?") == ["/rooms"]
    assert path_templates(f"/interview/join/{room}") == ["/interview/join/{room_id}"]


def test_every_route_and_method_is_documented() -> None:
    missing = routed_operations() - documented_operations(SPEC)
    assert not missing, f"routes without an operation in openapi.json: {sorted(missing)}"


def test_every_documented_operation_has_a_route() -> None:
    extra = documented_operations(SPEC) - routed_operations()
    assert not extra, f"operations in openapi.json that no route serves: {sorted(extra)}"


def test_every_path_placeholder_is_a_declared_parameter() -> None:
    for path, item in SPEC["paths"].items():
        for method in (m for m in item if m in HTTP_METHODS):
            params = [
                resolve(SPEC, p) for p in [*item.get("parameters", []), *item[method].get("parameters", [])]
            ]
            declared = {p["name"] for p in params if p["in"] == "path"}
            assert declared == set(PLACEHOLDER.findall(path)), (path, method)
            assert all(p["required"] for p in params if p["in"] == "path"), (path, method)


def test_every_reference_resolves() -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                assert node["$ref"].startswith("#/components/"), node["$ref"]
                resolve(SPEC, node)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(SPEC)
    for schema in SPEC["components"]["schemas"].values():
        jsonschema.Draft4Validator.check_schema(json_schema(SPEC, schema))


def test_every_operation_names_its_roles_and_errors() -> None:
    ids = []
    for path, item in SPEC["paths"].items():
        for method in (m for m in item if m in HTTP_METHODS):
            operation = item[method]
            ids.append(operation["operationId"])
            roles = operation["x-roles"]
            assert roles and set(roles) <= {*ROLES, "public"}, (path, method)
            assert "Who may call" in operation["description"], (path, method)
            responses = {k: resolve(SPEC, v) for k, v in operation["responses"].items()}
            if path.startswith("/rooms/"):
                assert {"401", "403", "404"} <= responses.keys(), (path, method)
            if "requestBody" in operation:
                assert {"400", "413"} <= responses.keys(), (path, method)
            for status, response in responses.items():
                if status == "429":
                    assert "Retry-After" in response["headers"], (path, method)
                if int(status) >= 400:
                    assert response["x-error-codes"], (path, method, status)
    assert len(ids) == len(set(ids)), "operationIds must be unique"


@pytest.mark.parametrize("role", ["interviewer", "candidate"])
def test_documented_roles_match_the_role_matrix(role: str) -> None:
    """An invite identity is let through by the matrix exactly where the document says it may call."""
    for path, item in SPEC["paths"].items():
        if not path.startswith(("/rooms", "/openapi")):
            continue
        for method in (m for m in item if m in HTTP_METHODS):
            concrete = PLACEHOLDER.sub("abc", path)
            found = matrix.match(method.upper(), "interview/api" + concrete)
            assert found is not None, (path, method)
            allowed = found[0].requirement(role) is not None
            assert allowed == (role in item[method]["x-roles"]), (role, path, method)


def test_request_schemas_match_model_validation() -> None:
    schemas = SPEC["components"]["schemas"]
    assert schemas["Language"]["enum"] == list(models.LANGUAGES)
    assert schemas["InviteRole"]["enum"] == list(models.INVITE_ROLES)
    assert schemas["RoomState"]["enum"] == [s.value for s in models.RoomState]
    assert schemas["ParticipantStatus"]["enum"] == [s.value for s in models.ParticipantStatus]

    create, patch, invite = schemas["RoomCreate"], schemas["RoomPatch"], schemas["InviteCreate"]
    assert list(create["properties"]) == list(models.CREATE_FIELDS)
    assert set(patch["properties"]) == set(models.PATCH_FIELDS)
    assert list(patch["properties"]["settings"]["properties"]) == list(models.SETTINGS_FIELDS)
    assert list(invite["properties"]) == list(models.INVITE_FIELDS)
    assert list(schemas["RoomSettings"]["properties"]) == list(models.RoomSettings().to_json())
    for schema in (create, patch, patch["properties"]["settings"], invite, schemas["NotesWrite"]):
        assert schema["additionalProperties"] is False

    props = create["properties"]
    assert props["title"]["maxLength"] == models.MAX_TITLE
    assert props["problem"]["maxLength"] == models.MAX_PROBLEM
    assert (props["duration_minutes"]["minimum"], props["duration_minutes"]["maximum"]) == (1, 480)
    assert (props["exec_time_limit_s"]["minimum"], props["exec_time_limit_s"]["maximum"]) == (1, 600)
    assert invite["properties"]["name"]["maxLength"] == models.MAX_NAME
    assert invite["properties"]["expires_in"]["maximum"] == models.MAX_INVITE_S
    defaults = {k: v["default"] for k, v in props.items() if k in models.SETTINGS_FIELDS}
    assert defaults == models.RoomSettings().to_json()


def test_documented_request_schema_refuses_what_the_models_refuse() -> None:
    create = json_schema(SPEC, SPEC["components"]["schemas"]["RoomCreate"])
    good = {"title": "Two sum", "language": "python", "duration_minutes": 45}
    assert_fits(good, create)
    models.parse_room_spec(good)
    for bad in (
        {**good, "language": "cobol"},
        {**good, "duration_minutes": 481},
        {**good, "duration_minutes": 0},
        {**good, "duration_minutes": True},
        {**good, "exec_time_limit_s": 601},
        {**good, "colour": "red"},
        {**good, "title": "a\x00b"},
        {k: v for k, v in good.items() if k != "title"},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft4Validator(create).validate(bad)
        with pytest.raises(BadRequest):
            models.parse_room_spec(bad)


# ---------------- the served document and real answers ----------------


async def test_served_document_names_this_servers_api_url(owner, make_client, make_room) -> None:
    code, spec = await owner.json("GET", "interview/api/openapi.json")
    assert code == 200, spec
    assert spec["openapi"].startswith("3.0")
    assert spec["paths"]
    assert spec["servers"][0]["url"].endswith("/jp/interview/api")
    assert {k: v for k, v in spec.items() if k != "servers"} == {
        k: v for k, v in SPEC.items() if k != "servers"
    }

    room = await make_room()
    candidate = make_client()
    assert (await candidate.join(room["invites"]["candidate"])).code == 302
    code, _ = await candidate.json("GET", "interview/api/openapi.json")
    assert code == 200
    code, body = await make_client().json("GET", "interview/api/openapi.json")
    check_answer("/openapi.json", "get", 401, (code, body))


async def test_created_and_read_rooms_fit_their_schemas(owner, make_client, make_room) -> None:
    created = await make_room(problem="Find two numbers.", waiting_room=False)
    assert_fits(created, response_schema(SPEC, "/rooms", "post", 201))
    path = f"interview/api/rooms/{created['id']}"

    as_owner = check_answer("/rooms/{room_id}", "get", 200, await owner.json("GET", path))
    assert "invites" in as_owner

    candidate = make_client()
    assert (await candidate.join(created["invites"]["candidate"])).code == 302
    as_candidate = check_answer("/rooms/{room_id}", "get", 200, await candidate.json("GET", path))
    assert "invites" not in as_candidate

    interviewer = make_client()
    assert (await interviewer.join(created["invites"]["interviewer"])).code == 302
    check_answer("/rooms/{room_id}", "get", 200, await interviewer.json("GET", path))

    listed = check_answer("/rooms", "get", 200, await owner.json("GET", "interview/api/rooms"))
    assert created["id"] in {r["id"] for r in listed["rooms"]}


async def test_other_answers_fit_their_schemas(owner, make_client, make_room) -> None:
    room = await make_room()
    base = f"interview/api/rooms/{room['id']}"
    interviewer, candidate = make_client(), make_client()
    assert (await interviewer.join(room["invites"]["interviewer"])).code == 302
    assert (await candidate.join(room["invites"]["candidate"])).code == 302

    me = "/rooms/{room_id}/me"
    check_answer(me, "get", 200, await owner.json("GET", f"{base}/me"))
    waiting = check_answer(me, "get", 200, await candidate.json("GET", f"{base}/me"))
    check_answer(me, "get", 200, await interviewer.json("GET", f"{base}/me"))

    invites = "/rooms/{room_id}/invites"
    issued = check_answer(
        invites, "post", 201, await interviewer.json("POST", f"{base}/invites", {"role": "candidate"})
    )
    assert issued["name"] == "Candidate"
    check_answer(invites, "post", 400, await interviewer.json("POST", f"{base}/invites", {"role": "owner"}))
    check_answer(invites, "post", 403, await candidate.json("POST", f"{base}/invites", {"role": "candidate"}))

    notes = "/rooms/{room_id}/notes"
    first = check_answer(notes, "get", 200, await interviewer.json("GET", f"{base}/notes"))
    saved = check_answer(
        notes,
        "put",
        200,
        await interviewer.json("PUT", f"{base}/notes", {"text": "good"}, headers={"If-Match": first["etag"]}),
    )
    check_answer(notes, "put", 409, await interviewer.json("PUT", f"{base}/notes", {"text": "again"}))
    check_answer(
        notes,
        "put",
        200,
        await interviewer.json("PUT", f"{base}/notes", {"text": "b"}, headers={"If-Match": saved["etag"]}),
    )
    check_answer(notes, "get", 200, await owner.json("GET", f"{base}/notes"))

    admit = "/rooms/{room_id}/admit/{participant_id}"
    check_answer(
        admit, "post", 200, await interviewer.json("POST", f"{base}/admit/{waiting['participant_id']}")
    )
    check_answer("/rooms/{room_id}/start", "post", 200, await interviewer.json("POST", f"{base}/start"))
    check_answer("/rooms/{room_id}/start", "post", 409, await interviewer.json("POST", f"{base}/start"))
    check_answer("/rooms/{room_id}/end", "post", 200, await owner.json("POST", f"{base}/end"))
    check_answer("/rooms/{room_id}", "patch", 409, await owner.json("PATCH", base, {"title": "Later"}))

    revoke = f"{base}/invites/{issued['jti']}"
    assert (await interviewer.request("DELETE", revoke)).code == 204
    assert (await owner.request("DELETE", base)).code == 204
    check_answer("/rooms/{room_id}", "get", 404, await owner.json("GET", base))
    check_answer("/rooms/{room_id}/me", "get", 401, await candidate.json("GET", f"{base}/me"))
