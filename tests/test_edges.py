"""Issue 10 findings 7 and 13, over real HTTP (gunicorn via the ``server`` fixture).

7: a suspended region is written to by no path — the interop inbox answers 503
``REGION_SUSPENDED`` with Retry-After; the registry command refuses.
13: odd input gets a typed error and writes nothing — every String/ID argument and
input field of both APIs (walked from the schema) with a NUL, a lone surrogate or
an over-long value; undecodable and deeply nested bodies; malformed multipart
maps; decompression bombs and truncated images; JSON 503 (never HTML, never a
path) while the database cannot be reached; host names in any case and ``[::1]``.
"""

from __future__ import annotations

import datetime
import io
import json
import struct
import uuid
import zlib
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_tenants.utils import tenant_context
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    Undefined,
    get_named_type,
    is_leaf_type,
)

from central import services
from interop import package as packages
from interop import signing
from interop.models import OutboxMessage, Transfer
from tenants.audit.models import AuditEntry
from tests.registry_support import (
    authority,
    hierarchy,
    id_number,
    login,
    register_volunteer,
    volunteer_input,
)
from tests.support import PlatformServer, city_name, unique_city_code
from tests.test_certificates import upload_seal
from tests.test_groups import PNG, USCC, group_count, group_input, upload

# --- helpers -----------------------------------------------------------------------------


def _rows(schemas: tuple[str, ...]) -> dict[str, int]:
    """Row count of every table in ``schemas``: a write anywhere changes one."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(%s)",
            [list(schemas)],
        )
        tables = cursor.fetchall()
        parts = [f'SELECT \'{s}.{t}\', count(*) FROM "{s}"."{t}"' for s, t in sorted(tables)]
        cursor.execute(" UNION ALL ".join(parts))
        return dict(cursor.fetchall())


def _invalid(response: httpx.Response) -> dict:
    """The answer must be a typed INVALID error in JSON, with no data."""
    assert response.status_code in (200, 400), (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json"), response.text[:300]
    body = response.json()
    assert body.get("data") is None, body
    assert body["errors"][0]["extensions"]["code"] == "INVALID", body
    return body


# --- 13: every String/ID argument of both APIs -------------------------------------------

SAMPLES = {
    "String": "x",
    "ID": "1",
    "Int": 1,
    "Float": 1.0,
    "Boolean": False,
    "Date": "2026-01-05",
    "DateTime": "2026-01-05T08:00:00+08:00",
    "Time": "08:00:00",
    "Decimal": "1",
    "JSON": {},
    "Upload": None,
}


def _sample(kind):
    """A well-formed value of ``kind`` with only its required parts."""
    if isinstance(kind, GraphQLNonNull):
        return _sample(kind.of_type)
    if isinstance(kind, GraphQLList):
        return [_sample(kind.of_type)]
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        return {
            name: _sample(field.type)
            for name, field in kind.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
    return SAMPLES[kind.name]


def _string_paths(kind, path=(), depth=0):
    """Paths (argument, input field …, list index) to every String or ID leaf."""
    if depth > 6:
        return
    if isinstance(kind, GraphQLNonNull):
        yield from _string_paths(kind.of_type, path, depth)
    elif isinstance(kind, GraphQLList):
        yield from _string_paths(kind.of_type, (*path, 0), depth + 1)
    elif isinstance(kind, GraphQLInputObjectType):
        for name, field in kind.fields.items():
            yield from _string_paths(field.type, (*path, name), depth + 1)
    elif kind.name in ("String", "ID"):
        yield path


def _with(kind, path, bad):
    """``_sample(kind)`` with ``bad`` at ``path``."""
    if isinstance(kind, GraphQLNonNull):
        return _with(kind.of_type, path, bad)
    if not path:
        return bad
    if isinstance(kind, GraphQLList):
        return [_with(kind.of_type, path[1:], bad)]
    value = _sample(kind)
    value[path[0]] = _with(kind.fields[path[0]].type, path[1:], bad)
    return value


def _cases():
    from schema.central import schema as central_schema
    from schema.region import schema as region_schema

    for api, schema in (("region", region_schema), ("central", central_schema)):
        for operation, root in (
            ("query", schema._schema.query_type),
            ("mutation", schema._schema.mutation_type),
        ):
            assert root is not None
            for field_name, field in root.fields.items():
                for arg_name, arg in field.args.items():
                    for path in _string_paths(arg.type):
                        yield pytest.param(
                            api,
                            operation,
                            field_name,
                            arg_name,
                            path,
                            id=f"{api}-{field_name}-{'.'.join(map(str, (arg_name, *path)))}",
                        )


CASES = list(_cases())


def _operation(api: str, operation: str, field_name: str):
    from schema.central import schema as central_schema
    from schema.region import schema as region_schema

    schema = (region_schema if api == "region" else central_schema)._schema
    root = schema.query_type if operation == "query" else schema.mutation_type
    assert root is not None
    return root.fields[field_name]


def test_the_walk_covers_the_apis():
    """Every String argument the finding counted (~45), and more (IDs, list items)."""
    assert len(CASES) >= 45
    names = {case.values[2] for case in CASES}
    assert {"registerVolunteer", "registerGroup", "login", "provisionRegion"} <= names


@pytest.fixture(scope="module")
def tokens(server, seed_regions, central_admin):
    from tests.support import GraphQLClient

    region_token = authority(GraphQLClient(server.base_url), "chongqing", "province")
    return {"region": region_token, "central": central_admin["token"]}


@pytest.mark.parametrize(("api", "operation", "field_name", "arg_name", "path"), CASES)
def test_every_string_argument_refuses_odd_text(
    gql, tokens, api, operation, field_name, arg_name, path
):
    field = _operation(api, operation, field_name)
    limit = settings.GRAPHQL.get("MAX_STRING_LENGTH", 10_000)
    definitions, arguments, variables = [], [], {}
    for index, (name, arg) in enumerate(field.args.items()):
        if name != arg_name and not (
            isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
        ):
            continue
        definitions.append(f"$a{index}: {arg.type}")
        arguments.append(f"{name}: $a{index}")
        if name == arg_name:
            target = f"a{index}"
        else:
            variables[f"a{index}"] = _sample(arg.type)
    selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
    query = (
        f"{operation}({', '.join(definitions)}) "
        f"{{ {field_name}({', '.join(arguments)}){selection} }}"
    )
    host = "chongqing.localhost" if api == "region" else "localhost"
    headers = {"Host": host, "Content-Type": "application/json"}
    headers["Authorization"] = f"Bearer {tokens[api]}"
    where = ".".join(str(p) for p in (target, *path))
    for bad in ("a\x00b", "a\ud800b", "長" * (limit + 1)):
        before = _rows(("public", "region_chongqing"))
        value = _with(field.args[arg_name].type, path, bad)
        payload = {"query": query, "variables": {**variables, target: value}}
        # ASCII JSON: a lone surrogate travels as its \ud800 escape, as a client sends it.
        response = gql.http.post("/graphql", content=json.dumps(payload), headers=headers)
        body = _invalid(response)
        if response.status_code == 200:  # the boundary check names the argument
            assert body["errors"][0]["extensions"]["field"] == where, body
        assert _rows(("public", "region_chongqing")) == before, (field_name, where, bad[:3])


def test_string_literals_in_the_query_text_are_checked_too(gql, seed_regions):
    """A NUL written as the GraphQL escape \\u0000 inside the query text itself."""
    data = volunteer_input()
    fields = ", ".join(
        f"{key}: {value if key in ('gender', 'idType') else json.dumps(value)}"
        for key, value in data.items()
        if key != "name"
    )
    query = (
        f'mutation {{ registerVolunteer(input: {{name: "李\\u0000雷", {fields}}}) '
        "{ errors { code } } }"
    )
    before = _rows(("public", "region_chongqing"))
    body = _invalid(gql.post("chongqing.localhost", query))
    assert body["errors"][0]["extensions"]["field"] == "input.name"
    assert _rows(("public", "region_chongqing")) == before


# --- 13: bodies and multipart maps --------------------------------------------------------

DEEP_JSON = b'{"query": "{ __typename }", "variables": {"a": ' + b"[" * 5000 + b"]" * 5000 + b"}}"


@pytest.mark.parametrize("host", ["chongqing.localhost", "localhost"])
@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"query": "{ __typename \xff\xfe }"}', id="invalid-utf8"),
        pytest.param(DEEP_JSON, id="deeply-nested"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deeply-nested-batch"),
    ],
)
def test_undecodable_or_deep_bodies_are_invalid(gql, seed_regions, host, body):
    response = gql.http.post(
        "/graphql", content=body, headers={"Host": host, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text[:300]
    _invalid(response)


def test_variables_nested_too_deeply_are_invalid(gql, seed_regions):
    nested: list = []
    for _ in range(40):
        nested = [nested]
    response = gql.http.post(
        "/graphql",
        json={"query": "query($v: JSON) { __typename }", "variables": {"v": nested}},
        headers={"Host": "localhost"},
    )
    assert "nested more than" in _invalid(response)["errors"][0]["message"]


@pytest.mark.parametrize(
    "files_map",
    [
        pytest.param('{"0": ["variables.certificate.deeper"]}', id="path-through-a-null"),
        pytest.param('{"0": ["variables.input.skills.x"]}', id="non-numeric-list-index"),
        pytest.param('{"0": "variables.certificate"}', id="paths-not-a-list"),
        pytest.param('["variables.certificate"]', id="map-not-an-object"),
        pytest.param('{"0": [1]}', id="path-not-a-string"),
        pytest.param('{"1": ["variables.certificate"]}', id="no-such-file"),
        pytest.param("{not json", id="not-json"),
    ],
)
def test_malformed_multipart_maps_are_invalid(gql, seed_regions, files_map):
    operations = {
        "query": "mutation($input: RegisterGroupInput!, $certificate: Upload) { "
        "registerGroup(input: $input, certificate: $certificate) { errors { code } } }",
        "variables": {
            "input": {**group_input("重庆市测试公益基金会"), "skills": ["a"]},
            "certificate": None,
        },
    }
    before = group_count("chongqing")
    response = gql.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": files_map},
        files={"0": ("c.png", io.BytesIO(PNG), "image/png")},
        headers={"Host": "chongqing.localhost"},
    )
    assert response.status_code == 400, response.text[:300]
    _invalid(response)
    assert group_count("chongqing") == before


# --- 13: images -------------------------------------------------------------------------


def _png_header(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` × ``height`` pixels in a few hundred bytes (its
    pixel data would expand to width × height bytes: a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", rows)
        + chunk(b"IEND", b"")
    )


def _truncated_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(out, "JPEG", quality=90)
    return out.getvalue()[: len(out.getvalue()) // 2]


BAD_IMAGES = [
    pytest.param(_png_header(20_000, 20_000), id="bomb-400-megapixels"),
    pytest.param(_png_header(8_000, 8_000), id="64-megapixels"),
    pytest.param(_truncated_jpeg(), id="truncated-jpeg"),
    pytest.param(PNG[:-20], id="truncated-png"),
]


def _stored(kind: str) -> set[Path]:
    directory = Path(settings.MEDIA_ROOT) / "regions" / "region_chongqing" / kind
    return set(directory.glob("*")) if directory.exists() else set()


@pytest.mark.parametrize("content", BAD_IMAGES)
def test_certificate_images_are_decoded_in_full(gql, seed_regions, content):
    data = group_input(
        "重庆市测试图像公益基金会",
        status="LEGAL_PERSON",
        unifiedSocialCreditCode=USCC,
        registrationAuthority="重庆市民政局",
    )
    before, files = group_count("chongqing"), _stored("group-certificates")
    body = upload(gql, "chongqing", {"input": data}, content)
    [error] = body["data"]["registerGroup"]["errors"]
    assert (error["field"], error["code"]) == ("certificate", "INVALID"), error
    assert (group_count("chongqing"), _stored("group-certificates")) == (before, files)


@pytest.mark.parametrize("content", [p for p in BAD_IMAGES if "jpeg" not in str(p.id)])
def test_seal_images_are_decoded_in_full(gql, seed_regions, content):
    h = hierarchy("chongqing")
    token = login(gql, "chongqing", h.admins["team"])
    files = _stored("seals")
    with tenant_context(services.get_region("500000")):
        audits = AuditEntry.objects.count()
    body = upload_seal(gql, h.team.id, content, token)
    [error] = body["data"]["uploadGroupSeal"]["errors"]
    assert (error["field"], error["code"]) == ("seal", "INVALID"), error
    assert _stored("seals") == files
    with tenant_context(services.get_region("500000")):
        assert AuditEntry.objects.count() == audits


# --- 13: host names ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("Chongqing.LOCALHOST", {"region": {"code": "500000"}}),
        ("YUNNAN.localhost:8000", {"region": {"code": "530000"}}),
        ("[::1]", {"__typename": "CentralQuery"}),
        ("[::1]:8000", {"__typename": "CentralQuery"}),
        ("LocalHost", {"__typename": "CentralQuery"}),
    ],
)
def test_host_names_match_in_any_case_and_ipv6_parses(gql, seed_regions, host, expected):
    query = "{ region { code } }" if "region" in expected else "{ __typename }"
    response = gql.post(host, query)
    assert response.status_code == 200, response.text[:300]
    assert response.json() == {"data": expected}


# --- 13: the database cannot be reached --------------------------------------------------


@pytest.fixture(scope="module")
def no_database(tmp_path_factory):
    """The platform served while its database is down: a URL whose socket directory
    has no server (the error the driver gives names that path)."""
    socket_dir = tmp_path_factory.mktemp("no-postgres-here")
    url = f"postgresql://platform@/volunteer_records?host={socket_dir}"
    with PlatformServer(url, env={"PLATFORM_DB_RETRY_AFTER": "7"}) as running:
        yield running, str(socket_dir)


@pytest.mark.parametrize(
    ("method", "host", "path", "body"),
    [
        ("POST", "chongqing.localhost", "/graphql", {"query": "{ region { code } }"}),
        ("GET", "chongqing.localhost", "/graphql", None),
        ("POST", "localhost", "/graphql", {"query": "{ regions { code } }"}),
        (
            "POST",
            "localhost",
            "/graphql",
            {"query": 'mutation { login(username: "a", password: "b") { token } }'},
        ),
        ("GET", "localhost", "/admin/", None),
        # Sealed (issue 11 finding 9): opening it needs the region's key, in the database.
        ("POST", "localhost", "/interop/inbox", {"sealed": {"recipient": "500000"}}),
        ("GET", "localhost", "/interop/directory", None),
        ("GET", "chongqing.localhost", "/groups/1/certificate", None),
        ("GET", "chongqing.localhost", "/certificates/verify/ABCDEFGH2345", None),
        ("GET", "chongqing.localhost", "/certificates/ABCDEFGH2345.pdf", None),
    ],
)
def test_database_outage_answers_json_503(no_database, method, host, path, body):
    running, socket_dir = no_database
    response = httpx.request(
        method,
        f"{running.base_url}{path}",
        json=body,
        # A token and a session cookie: the views read them from the database.
        headers={
            "Host": host,
            "Accept": "application/json",
            "Authorization": "Bearer rt_500000_0123456789",
            "Cookie": "sessionid=0123456789abcdef0123456789abcdef",
        },
        timeout=30,
    )
    assert response.status_code == 503, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["Retry-After"] == "7"
    assert response.json()["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert socket_dir not in response.text and ".s.PGSQL" not in response.text
    assert "<html" not in response.text.lower()


# --- 7: a suspended region is written to by no path --------------------------------------


def _suspended_region_with_a_volunteer():
    code = unique_city_code("37")
    target = services.provision_region(
        services.RegionSpec(code, city_name(code), "city", f"halt{code}"), actor="test"
    )
    volunteer, _ = register_volunteer(target.slug, **_area(code))
    services.suspend_region(code, "年审未通过", actor="test")
    return services.get_region(code), volunteer


def _area(code: str, birth: datetime.date = datetime.date(1990, 5, 17)) -> dict:
    """A resident ID number from one of the region's own counties."""
    return {"idNumber": id_number(birth, area=code[:4] + "01")}


def _counts(target) -> tuple[int, int, int]:
    with tenant_context(target):
        return (Transfer.objects.count(), AuditEntry.objects.count(), OutboxMessage.objects.count())


def test_a_suspended_region_takes_no_signed_transfer_request(gql, seed_regions):
    target, volunteer = _suspended_region_with_a_volunteer()
    yunnan = services.get_region("530000")
    body = {
        "kind": "transfer_request",
        "volunteerNumber": volunteer.number,
        "from": target.code,
        "to": yunnan.code,
        "requestedBy": "authority:test",
    }
    envelope = {
        "request": body,
        "signature": {
            "algorithm": "Ed25519",
            "keyId": yunnan.code,
            "value": signing.sign(yunnan, packages.canonical(body)),
        },
    }
    envelope = signing.seal_for(target.code, envelope)  # issue 11 finding 9
    before = _counts(target)
    response = gql.http.post("/interop/inbox", json=envelope, headers={"Host": "localhost"})
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "REGION_SUSPENDED"
    assert int(response.headers["Retry-After"]) > 0
    assert _counts(target) == before
    # Once resumed, the same signed request is taken (the suspension was the only reason).
    services.resume_region(target.code, actor="test")
    again = gql.http.post("/interop/inbox", json=envelope, headers={"Host": "localhost"})
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "requested"


def test_a_suspended_region_takes_no_package(gql, seed_regions):
    target, _ = _suspended_region_with_a_volunteer()
    chongqing = services.get_region("500000")
    arriving, _ = register_volunteer("chongqing")
    with tenant_context(chongqing):
        package = packages.build(
            arriving,
            transfer_id=str(uuid.uuid4()),
            source=chongqing,
            destination_code=target.code,
            consented_at=timezone.now(),
            consented_by="test",
        )
        envelope = json.loads(json.dumps(packages.seal(chongqing, package), default=str))
    envelope = signing.seal_for(target.code, envelope)  # issue 11 finding 9
    before = _counts(target)
    response = gql.http.post("/interop/inbox", json=envelope, headers={"Host": "localhost"})
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "REGION_SUSPENDED"
    assert "Retry-After" in response.headers
    assert _counts(target) == before


def test_commands_write_nothing_to_a_suspended_region(seed_regions):
    target, _ = _suspended_region_with_a_volunteer()
    before = _counts(target)
    birth = datetime.date(1992, 1, 2)
    with pytest.raises(CommandError, match="suspended"):
        call_command(
            "registry",
            "--region",
            target.code,
            "register-volunteer",
            "--name",
            "韩梅梅",
            "--gender",
            "female",
            "--birth-date",
            birth.isoformat(),
            "--id-number",
            _area(target.code, birth)["idNumber"],
            "--phone",
            "13700001111",
            "--username",
            f"hmm{target.code}",
            "--password",
            "Strong-pass-2026",
        )
    with pytest.raises(CommandError, match="suspended"):
        call_command(
            "generate_data",
            "--region",
            target.code,
            "--volunteers",
            "1",
            "--groups",
            "1",
            "--records-per-volunteer",
            "1",
        )
    assert _counts(target) == before


def test_inbox_bodies_that_are_odd_are_refused_not_500(gql, seed_regions):
    for content in (
        b"\xff\xfe{}",
        b'{"request": ' * 3000 + b"{}" + b"}" * 3000,
        json.dumps({"request": {"volunteerNumber": "1\u0000"}, "signature": {}}).encode(),
    ):
        response = gql.http.post(
            "/interop/inbox",
            content=content,
            headers={"Host": "localhost", "Content-Type": "application/json"},
        )
        assert response.status_code == 400, (response.status_code, response.text[:200])
        assert response.json()["error"]["code"] == "MALFORMED"
