"""Helpers shared by the test suites: a server process, a GraphQL client,
unique region codes, database introspection."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from central.tenancy import connection

if TYPE_CHECKING:
    from graphql import GraphQLObjectType, GraphQLSchema

    from central.models import Region

REPO = Path(__file__).resolve().parent.parent


def search(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    """``re.search`` that fails the test, saying what it looked for, when nothing matches."""
    match = re.search(pattern, text, flags)
    assert match is not None, f"{pattern!r} not in {text[:500]!r}"
    return match


def object_type(schema: GraphQLSchema, name: str) -> GraphQLObjectType:
    """``schema``'s object type ``name``; fails the test when it has none of that name."""
    from graphql import GraphQLObjectType

    found = schema.get_type(name)
    assert isinstance(found, GraphQLObjectType), f"{name!r} is {found!r}, no object type"
    return found


def readme_section(title: str) -> str:
    """The README's ``## title`` section, up to the next ``## ``."""
    readme = (REPO / "README.md").read_text()
    start = readme.index(f"\n## {title}\n")
    end = readme.index("\n## ", start + 1)
    return readme[start:end]


def code_blocks(text: str, mark: str | None = None) -> list[str]:
    """The fenced code blocks of ``text``, in order; with ``mark``, only those right
    after an ``<!-- mark -->`` line (how the README marks the blocks a test runs)."""
    if mark is None:
        return re.findall(r"```\w*\n(.*?)```", text, re.S)
    return re.findall(rf"<!-- {re.escape(mark)} -->\n```\w*\n(.*?)```", text, re.S)


def platform_database_url() -> str:
    """URL of the database the tests run on (pytest-django's test database)."""
    from central.database import database_url

    return database_url(connection.settings_dict)


def admin_database_url(name: str = "postgres") -> str:
    """URL of another database (by default the maintenance one) on the test server."""
    from central.database import database_url

    return database_url({**connection.settings_dict, "NAME": name})


def execute_in_process(
    slug: str, query: str, variables: dict, token: str | None, compiled: str = "on"
) -> tuple[dict, list[str]]:
    """Run a query in this process (Django test client, real middleware) and return
    its answer and the SQL it issued (``SET search_path`` left out). Compiled
    execution is as in production (``"on"``) unless ``compiled`` says otherwise;
    the suite's default, ``"verify"``, would run each query twice."""
    from django.conf import settings
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    client = Client(HTTP_HOST=f"{slug}.localhost", HTTP_ACCEPT_LANGUAGE="en", **auth)
    graphql = {**settings.GRAPHQL, "COMPILED_EXECUTION": compiled}
    with override_settings(GRAPHQL=graphql), CaptureQueriesContext(connection) as captured:
        response = client.post(
            "/graphql", {"query": query, "variables": variables}, content_type="application/json"
        )
    connection.set_schema_to_public()
    statements = [
        q["sql"] for q in captured.captured_queries if not q["sql"].startswith("SET search_path")
    ]
    return response.json(), statements


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        # Each server chooses its own metrics directory (central/metrics.py).
        if not key.startswith(
            ("PLATFORM_PG_", "PYTEST_", "DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR")
        )
    }
    # Commands speak zh-Hans by default; the suites assert their English lines.
    env.update(
        DATABASE_URL=database_url,
        # Production's settings with a cheaper password hash (its docstring says why).
        DJANGO_SETTINGS_MODULE="central.test_server_settings",
        PLATFORM_LANGUAGE="en",
    )
    env.update(extra)
    return env


class PlatformServer:
    """Runs ``gunicorn central.wsgi`` (the production server) in a child process."""

    def __init__(
        self,
        database_url: str,
        workers: int = 1,
        threads: int = 4,
        port: int | None = None,
        env: dict[str, str] | None = None,
        log: Path | None = None,
    ):
        self.port = port or free_port()
        # A metrics directory of its own: gunicorn empties it on start (central/metrics.py).
        metrics = tempfile.mkdtemp(prefix="vrp-metrics-")
        self.env = {"PROMETHEUS_MULTIPROC_DIR": metrics, **(env or {})}
        self.log = log  # the server's stderr (its log lines), else inherited
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.workers = workers
        self.threads = threads
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> PlatformServer:
        self._log_file = self.log.open("a") if self.log else None
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "central.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
                "--config",
                "python:central.gunicorn_conf",
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=child_env(self.database_url, **self.env),
            stderr=self._log_file,
            preexec_fn=dies_with_this_run(),
        )
        wait_for_port(self.port, self.process)
        # gunicorn listens before its worker has loaded the app (central/wsgi.py loads
        # both schemas, seconds under load): a first request with a short timeout, a
        # peer's directory fetch or federation check, would meet a worker still loading.
        wait_until(lambda: self._answers("/healthz"), 120, f"{self.base_url}/healthz answering")
        return self

    def _answers(self, path: str) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"server exited with {self.process.returncode} while starting")
        try:
            return httpx.get(f"{self.base_url}{path}", timeout=30).status_code == 200
        except httpx.HTTPError:
            return False

    def __exit__(self, *exc) -> None:
        stop_process(self.process)
        if self._log_file is not None:
            self._log_file.close()


def dies_with_this_run():
    """A ``preexec_fn`` for a server a test starts: the kernel kills it if this
    test run is killed (``kill -9``), as ``up``'s children die with ``up``
    (``dies_with``), instead of it serving on for ever."""
    from central.lifetimes import dies_with

    return dies_with(os.getpid())


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout}s")


def wait_until(predicate, timeout: float, what: str):
    """``predicate()``'s first truthy value, polled every 0.2 s; fails the test
    after ``timeout`` seconds naming ``what`` it waited for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout}s: {what}")


def stop_process(process: subprocess.Popen | None, timeout: float = 20) -> int | None:
    if process is None or process.poll() is not None:
        return None if process is None else process.returncode
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait(timeout)


class GraphQLClient:
    """Posts GraphQL over real HTTP to the server, choosing the region by Host header.
    It asks for English (``Accept-Language: en``) unless given another ``language``
    (``None``: no header, the platform's default, zh-Hans)."""

    def __init__(self, base_url: str, language: str | None = "en"):
        self.base_url = base_url
        headers = {"Accept-Language": language} if language else {}
        self.http = httpx.Client(base_url=base_url, timeout=30, headers=headers)

    def post(self, host: str, query: str, variables=None, token: str | None = None):
        headers = {"Host": host}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
        )

    def execute(self, host: str, query: str, variables=None, token: str | None = None) -> dict:
        """The JSON body; fails the test on a non-200 answer."""
        response = self.post(host, query, variables, token)
        assert response.status_code == 200, (response.status_code, response.text)
        return response.json()

    def central(self, query: str, variables=None, token: str | None = None) -> dict:
        return self.execute("localhost", query, variables, token)

    def region(self, slug: str, query: str, variables=None, token: str | None = None) -> dict:
        return self.execute(f"{slug}.localhost", query, variables, token)


_used_codes: set[str] = set()
# Seed regions' codes, and codes tests spell out themselves.
_RESERVED = {"500000", "530000", "420000", "421300", "210000", "210900", "530400", "421000"}


def unique_city_code(province: str = "13") -> str:
    """A real GB/T 2260 city code (provisioning checks the table) no other test uses:
    one of ``province``'s cities, or another province's once those run out. Its name
    is ``city_name(code)``."""
    from central.divisions import _table, division_level

    cities = sorted(c for c in _table() if division_level(c) == "city")
    preferred = [c for c in cities if c.startswith(province)] + cities
    for code in preferred:
        if code not in _used_codes and code not in _RESERVED:
            _used_codes.add(code)
            return code
    raise AssertionError("out of test city codes")


def city_name(code: str) -> str:
    """The official name of a code (GB/T 2260), which provisioning requires."""
    from central.divisions import division_name

    return division_name(code) or ""


def schema_exists(name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [name])
        return cursor.fetchone() is not None


def tables_in(schema: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [schema])
        return {row[0] for row in cursor.fetchall()}


def gid(slug: str, row, kind: str | None = None) -> str:
    """The API id (schema/identity.py) of a model row of region ``slug``, or of the
    row key ``row`` of a ``kind`` object."""
    from central.models import Region
    from schema.identity import global_id

    key = getattr(row, "pk", row)
    return global_id(kind or type(row).__name__, key, schema=Region.schema_name_for(slug))


def row_key(api_id: str) -> int:
    """The row key behind an API id (what ``gid`` sealed)."""
    from schema.identity import decode

    return int(decode(api_id)[2])


class _FormParser(HTMLParser):
    """What a browser submits for the forms of a page: each form's successful
    controls (text, hidden, checked boxes, selected options, textareas)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"id": a.get("id"), "action": a.get("action"), "fields": []})
        if not self.forms or ("name" not in a and tag != "option"):
            return
        fields = self.forms[-1]["fields"]
        if tag == "input":
            kind = a.get("type", "text")
            if kind in {"submit", "button", "image", "file", "reset"}:
                return
            if kind in {"checkbox", "radio"} and "checked" not in a:
                return
            fields.append((a["name"], a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select":
            self._select = a["name"]
            self._options: list[str] = []
            self._chosen = False
        elif tag == "option" and self._select is not None:
            self._options.append(a.get("value", ""))
            if "selected" in a:
                self._chosen = True
                fields.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea = a["name"]
            fields.append((a["name"], ""))

    def handle_data(self, data):
        if self._textarea is not None:
            fields = self.forms[-1]["fields"]
            name, text = fields[-1]
            fields[-1] = (name, text + data)

    def handle_endtag(self, tag):
        if tag == "select":
            if self._select is not None and not self._chosen and self._options:
                self.forms[-1]["fields"].append((self._select, self._options[0]))
            self._select = None
        elif tag == "textarea":
            if self._textarea is not None:  # a browser drops the first newline
                fields = self.forms[-1]["fields"]
                name, text = fields[-1]
                fields[-1] = (name, text.removeprefix("\n"))
            self._textarea = None


def html_forms(html: str) -> list[dict]:
    """The forms of a page: ``{"id", "action", "fields": [(name, value), …]}``."""
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


class AdminBrowser(httpx.Client):
    """An HTTP client logged in to the Django admin as ``admin_user``."""

    admin_user: Any


def admin_browser(
    base_url: str, host: str = "localhost", headers: dict[str, str] | None = None
) -> AdminBrowser:
    """A client logged in to the Django admin over HTTP as a browser would be: a
    new superuser with a confirmed TOTP device, through the real login form."""
    import uuid

    from django.contrib.auth import get_user_model
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    password = "correct horse battery staple"
    user = get_user_model().objects.create_superuser(f"adm-{uuid.uuid4().hex[:8]}", "", password)
    device = TOTPDevice.objects.create(user=user, name="app", confirmed=True)
    http = AdminBrowser(base_url=base_url, timeout=60, headers={"Host": host, **(headers or {})})
    page = http.get("/admin/login/")
    (form,) = [f for f in html_forms(page.text) if "username" in dict(f["fields"])]
    fields = dict(form["fields"])
    otp = f"{totp(device.bin_key, device.step, device.t0, device.digits):06d}"
    answer = http.post(
        "/admin/login/?next=/admin/",
        data={**fields, "username": user.username, "password": password, "otp_token": otp},
        headers={"Referer": f"http://{host}/admin/login/"},
    )
    assert answer.status_code == 302, answer.text[:2000]
    http.admin_user = user
    return http


def generated_region(
    code: str, slug: str, *, preset: str = "default", chunk_size: int | None = None, **sizes: int
) -> Region:
    """A new city region ``code`` filled by ``manage.py generate_data`` (the real
    provisioning service and generator); ``sizes``: volunteers, groups,
    records_per_volunteer, seed."""
    import io

    from django.core.management import call_command

    from central import services

    region = services.provision_region(
        services.RegionSpec(code, city_name(code), "city", slug, preset=preset), actor="test"
    )
    options = [("--region", code)] + [
        (f"--{name.replace('_', '-')}", str(value)) for name, value in sizes.items()
    ]
    if chunk_size is not None:
        options.append(("--chunk-size", str(chunk_size)))
    arguments = [part for option in options for part in option]
    call_command("generate_data", *arguments, stdout=io.StringIO(), stderr=io.StringIO())
    return region
