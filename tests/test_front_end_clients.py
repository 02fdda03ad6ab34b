"""The JavaScript clients front-ends are built with, configured as the README
says (issue 21 findings 5 and 6): Apollo Client's ``PersistedQueryLink`` and
urql's ``persistedExchange`` against a live region, graphql-codegen on the
live schema with the README's scalar mapping. The README quotes the snippet
files these tests run (``tests/clients/http/snippets/``), checked here too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.node_support import CLIENTS, run_node
from tests.registry_support import authority

README = Path(__file__).parent.parent / "README.md"
SNIPPETS = CLIENTS / "http" / "snippets"


@pytest.mark.parametrize("client", ["apollo", "urql"])
def test_persisted_queries_fall_back_once_then_go_by_hash(server, client):
    result = run_node("http", "persisted.mjs", "yunnan.localhost", BASE_URL=server.base_url)[client]
    assert result["answers"] == ["云南省", "云南省"]
    sent = result["sent"]
    # First send: the hash alone by GET, PersistedQueryNotFound; then hash and query.
    assert sent[0]["method"] == "GET" and sent[0]["hash"] and not sent[0]["query"]
    assert sent[0]["status"] in (200, 400)
    assert sent[1]["hash"] and sent[1]["query"]
    # Second send: the hash alone by GET, answered and cacheable (anonymous).
    assert len(sent) == 3, sent
    assert sent[2]["method"] == "GET" and sent[2]["hash"] and not sent[2]["query"]
    assert sent[2]["status"] == 200
    assert sent[2]["etag"] and sent[2]["cacheControl"].startswith("public")


def _readme_blocks() -> list[str]:
    return re.findall(r"```[a-z]*\n(.*?)```", README.read_text(), flags=re.S)


@pytest.mark.parametrize("snippet", sorted(p.name for p in SNIPPETS.iterdir()))
def test_the_readme_quotes_each_snippet_as_tested(snippet):
    text = (SNIPPETS / snippet).read_text()
    assert any(block == text for block in _readme_blocks()), f"README lacks {snippet} as is"


CUSTOM = {"Date", "DateTime", "Time", "Decimal", "JSON", "Upload"}


@pytest.mark.parametrize("host", ["chongqing.localhost", "localhost"])
def test_codegen_maps_every_scalar(server, host):
    """The README's codegen config on the live schema: ``strictScalars`` would fail
    on a custom scalar it does not map; none comes out as ``any`` or ``unknown``."""
    result = run_node("http", "codegen.mjs", host, BASE_URL=server.base_url)
    assert result["loose"] == [], result["scalars"]
    present = set(result["scalars"]) & CUSTOM
    assert present >= ({"Date", "DateTime", "JSON"} if host == "localhost" else CUSTOM)
    assert result["scalars"]["Date"] == {"input": "string", "output": "string"}


def test_scalars_are_described_and_specified(gql):
    query = """{ __schema { types { name kind description specifiedByURL } } }"""
    types = gql.region("chongqing", query)["data"]["__schema"]["types"]
    scalars = {t["name"]: t for t in types if t["kind"] == "SCALAR" and t["name"] in CUSTOM}
    assert set(scalars) == CUSTOM
    for name, scalar in scalars.items():
        assert scalar["description"] and "isoformat" not in scalar["description"], name
    specified = {name: s["specifiedByURL"] for name, s in scalars.items()}
    assert specified["Date"].startswith("https://www.rfc-editor.org/rfc/rfc3339")
    assert specified["DateTime"].startswith("https://www.rfc-editor.org/rfc/rfc3339")
    assert "graphql-multipart-request-spec" in specified["Upload"]
    assert "ECMA-404" in specified["JSON"]
    assert specified["Decimal"] is None  # no standard to point to


def test_trusted_documents_with_apollo_and_urql(server, central_admin):
    """A region that runs only its front-end's operations: registered from the
    README's ``operations.graphql``, Apollo Client and urql send each by its hash
    alone (by GET) and it runs at once; a query not registered is refused."""
    from django.core.management import call_command

    from central import services
    from tests.support import GraphQLClient, city_name, unique_city_code

    code = unique_city_code("45")
    region = services.provision_region(
        services.RegionSpec(code, city_name(code), "city", f"front{code}"), actor="test"
    )
    call_command("documents", "register", str(SNIPPETS / "operations.graphql"), "--region", code)
    services.update_region_policy(code, {"trustedDocumentsOnly": True}, actor="test")
    host = f"{region.slug}.localhost"
    assert GraphQLClient(server.base_url).post(host, "{ region { code } }").json()["errors"]

    result = run_node("http", "trusted.mjs", host, "AAAAAAAAAAAA", BASE_URL=server.base_url)
    for client in ("apollo", "urql"):
        seen = result[client]
        assert seen["policy"] == city_name(code), seen
        assert seen["verify"] is None, seen  # ran: no certificate has that code
        assert seen["refused"] == ["DOCUMENT_NOT_TRUSTED"], seen
        # Both registered operations went by hash alone, by GET, once each.
        assert seen["sent"][:2] == [{"method": "GET", "query": False}] * 2, seen["sent"]


def _section_commands() -> list[str]:
    """The ``manage.py`` commands of the README's "Building a front-end"."""
    text = README.read_text()
    section = text[text.index("## Building a front-end") : text.index("## Serving")]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [
        line
        for block in blocks
        for line in block.splitlines()
        if line.startswith(".venv/bin/python manage.py") and not line.endswith(" up")
    ]


def test_the_readme_commands_do_what_it_says(server):
    """Each command as the README prints it, on a region of its own (the README's
    云南 by code and slug replaced), then its effect over HTTP."""
    import shlex
    import subprocess
    import sys

    from central import services
    from tests.support import (
        REPO,
        GraphQLClient,
        child_env,
        city_name,
        platform_database_url,
        unique_city_code,
    )

    code = unique_city_code("46")
    slug = f"readme{code}"
    services.provision_region(services.RegionSpec(code, city_name(code), "city", slug), actor="t")
    commands = _section_commands()
    assert len(commands) == 4, commands
    for line in commands:
        line = line.replace("530000", code).replace("--region yunnan", f"--region {slug}")
        line = line.replace("src/operations.graphql", str(SNIPPETS / "operations.graphql"))
        argv = [sys.executable, *shlex.split(line)[1:]]
        done = subprocess.run(
            argv, cwd=REPO, env=child_env(platform_database_url()), capture_output=True, text=True
        )
        assert done.returncode == 0, (line, done.stderr)

    host = f"{slug}.localhost"
    gql = GraphQLClient(server.base_url)
    origin = "https://vol.yunnan.example.cn"
    preflight = gql.http.options(
        "/graphql",
        headers={"Host": host, "Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers.get("access-control-allow-origin") == origin
    refused = gql.post(host, "{ region { code } }").json()
    assert refused["errors"][0]["extensions"]["code"] == "DOCUMENT_NOT_TRUSTED"
    registered = (SNIPPETS / "operations.graphql").read_text().split("\n\n")[0]
    assert gql.post(host, registered).json()["data"]["region"]["name"] == city_name(code)


def test_the_upload_link_and_urql_send_files_as_multipart(server, gql):
    """The README's upload client (apollo-upload-client's ``UploadHttpLink``) and
    urql send a file as a GraphQL multipart request; the server reads it (here a
    file that is not a package: the payload says so, typed)."""
    token = authority(gql, "yunnan", "province")
    result = run_node(
        "http", "upload.mjs", "yunnan.localhost", BASE_URL=server.base_url, TOKEN=token
    )
    for client in ("apollo", "urql"):
        errors = result[client]
        assert errors and errors[0]["code"] in ("MALFORMED", "INVALID"), result
