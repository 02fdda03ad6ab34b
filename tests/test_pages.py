"""The pages the platform serves to a person (issue 13 points 1 and 8): the Django
admin styled, GraphiQL working with no internet, the certificate verification
page with its form, and nothing on any of them loaded from another host.

A real ``manage.py up`` serves them (its front, gunicorn, WhiteNoise), over the
test database, with its static files collected into a directory of its own.
Every page is fetched over HTTP; every script, stylesheet, image and CSS
``url()`` it names is followed and must answer from the same host.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

from tests.registry_support import login
from tests.support import (
    REPO,
    GraphQLClient,
    admin_browser,
    child_env,
    free_port,
    html_forms,
    platform_database_url,
    search,
    stop_process,
    wait_for_port,
)
from tests.test_certificates import issue, stage, upload_seal

SLUG = "chongqing"


@pytest.fixture(scope="module")
def up(seed_regions):
    """``manage.py up`` on a free port, serving the test database."""
    static_root = Path(tempfile.mkdtemp(prefix="vrp-test-static-"))
    log = static_root.parent / f"{static_root.name}.log"
    port = free_port()
    command = ["manage.py", "up", "--port", str(port), "--workers", "1", "--no-deliver"]
    with log.open("a") as output:
        process = subprocess.Popen(
            [sys.executable, *command],
            cwd=REPO,
            env=child_env(platform_database_url(), PLATFORM_STATIC_ROOT=str(static_root)),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(port, process, timeout=120)
        yield {"base": f"http://127.0.0.1:{port}", "log": log, "static_root": static_root}
    finally:
        stop_process(process)


class _Refs(HTMLParser):
    """Every URL a page names in src, href, action, srcset, poster or style url()."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, url)

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in {"src", "href", "action", "poster", "data"}:
                self.refs.append((tag, name, value))
            elif name == "srcset":
                self.refs += [(tag, name, part.split()[0]) for part in value.split(",")]
            elif name == "style":
                self.refs += [(tag, "style", url) for url in css_urls(value)]

    def handle_data(self, data):
        if self.lasttag == "style":
            self.refs += [("style", "url", url) for url in css_urls(data)]


def css_urls(css: str) -> list[str]:
    found = re.findall(r"""url\(\s*['"]?([^'")\s]+)['"]?\s*\)""", css)
    found += re.findall(r"""@import\s+['"]([^'"]+)['"]""", css)
    return found


def foreign(url: str) -> bool:
    """Whether a URL would make the browser reach another host."""
    parts = urlsplit(url.strip())
    if parts.scheme in {"data", "blob"}:
        return False
    return bool(parts.netloc) or parts.scheme not in {"", "http", "https"}


def check_page(http: httpx.Client, path: str, status: int = 200) -> httpx.Response:
    """Fetch a page; fail on any reference to another host; fetch what it loads
    (scripts, stylesheets, icons, images, and every url() inside the stylesheets)
    and fail unless each answers 200 from this host."""
    page = http.get(path)
    assert page.status_code == status, (path, page.status_code, page.text[:500])
    parser = _Refs()
    parser.feed(page.text)
    outside = [ref for ref in parser.refs if foreign(ref[2])]
    assert not outside, (path, outside)
    loaded = [
        url
        for tag, attribute, url in parser.refs
        if (tag, attribute) in {("script", "src"), ("link", "href"), ("img", "src")}
        or attribute in {"style", "url", "srcset"}
    ]
    seen: set[str] = set()
    while loaded:
        url = urljoin(str(page.url), loaded.pop())
        if url in seen or url.startswith("data:"):
            continue
        seen.add(url)
        asset = http.get(url)
        assert asset.status_code == 200, (path, url, asset.status_code)
        if urlsplit(url).path.endswith(".css"):
            for inner in css_urls(asset.text):
                assert not foreign(inner), (url, inner)
                if not inner.startswith("data:"):
                    loaded.append(urljoin(url, inner))
    return page


def test_up_collects_the_static_files_and_serves_them_on_every_host(up):
    output = up["log"].read_text()
    assert "static files …" in output
    assert re.search(r"\d+ static files? copied", output), output
    assert (up["static_root"] / "admin" / "css" / "base.css").is_file()
    assert (up["static_root"] / "graphiql" / "graphiql.min.js").is_file()
    for host in ("localhost", f"{SLUG}.localhost"):
        css = httpx.get(f"{up['base']}/static/admin/css/base.css", headers={"Host": host})
        assert css.status_code == 200, (host, css.status_code)
        assert css.headers["content-type"].startswith("text/css")
        script = httpx.get(
            f"{up['base']}/static/graphiql/graphiql.min.js",
            headers={"Host": host, "Accept-Encoding": "gzip"},
        )
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert script.headers.get("content-encoding") == "gzip"  # compressed once, by collectstatic
    missing = httpx.get(f"{up['base']}/static/admin/css/nothing.css", headers={"Host": "localhost"})
    assert missing.status_code == 404


def test_the_admin_is_styled_and_loads_nothing_from_elsewhere(up):
    anonymous = httpx.Client(base_url=up["base"], headers={"Host": "localhost"}, timeout=60)
    login_page = check_page(anonymous, "/admin/login/")
    assert "/static/admin/css/base.css" in login_page.text
    admin = admin_browser(up["base"])
    from central.models import Region

    chongqing = Region.objects.get(slug=SLUG)
    for path in (
        "/admin/",
        "/admin/central/region/",
        f"/admin/central/region/{chongqing.pk}/change/",
        "/admin/central/region/add/",
        "/admin/central/centralauditentry/",
        "/admin/password_change/",
    ):
        check_page(admin, path)


@pytest.mark.parametrize("host", ["localhost", f"{SLUG}.localhost"])
def test_graphiql_is_served_whole_by_the_platform(up, host):
    browser = httpx.Client(
        base_url=up["base"], headers={"Host": host, "Accept": "text/html"}, timeout=60
    )
    page = check_page(browser, "/graphql")
    assert "unpkg.com" not in page.text and "cdn" not in page.text.lower()
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts == [
        "/static/graphiql/react.production.min.js",
        "/static/graphiql/react-dom.production.min.js",
        "/static/graphiql/graphiql.min.js",
        "/static/graphiql/plugin-explorer.umd.js",
    ]
    # The browser itself refuses anything from another host on this page.
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    # The files are those of the pinned packages (the hashes strawberry's own page
    # pins for them on the CDN), with their licences beside them.
    vendored = json.loads(browser.get("/static/graphiql/VENDORED.json").text)
    for name, entry in vendored.items():
        body = browser.get(f"/static/graphiql/{name}").content
        assert base64.b64encode(hashlib.sha384(body).digest()).decode() == entry["sha384"]
        assert entry["licence"] == "MIT"
        licence = browser.get(f"/static/graphiql/{entry['licenceFile']}")
        assert licence.status_code == 200 and "MIT License" in licence.text
    # And the API still answers queries on the same URL.
    answer = browser.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"Accept": "application/json"}
    )
    assert answer.json()["data"]["__typename"].endswith("Query")


@pytest.fixture(scope="module")
def certificate_code(up):
    """A real certificate of 重庆, issued over HTTP."""
    from tenants.certificates.pdf import render_seal_placeholder_png

    gql = GraphQLClient(up["base"])
    s = stage()
    admin = login(gql, SLUG, s.admin)
    upload_seal(gql, s.group_id, render_seal_placeholder_png("测试志愿服务队"), admin)
    issued = issue(gql, s, login(gql, SLUG, s.volunteer_username))["data"]["issueCertificate"]
    assert issued["errors"] == [], issued
    return issued["certificate"]["verificationCode"]


def test_the_verification_page_has_a_form_to_type_a_code(up, certificate_code):
    browser = httpx.Client(base_url=up["base"], headers={"Host": f"{SLUG}.localhost"}, timeout=60)
    empty = check_page(browser, "/certificates/verify")
    assert "证明核验" in empty.text and 'lang="zh-hans"' in empty.text
    (form,) = [f for f in html_forms(empty.text) if f["id"] == "verify-form"]
    assert form["action"] == "/certificates/verify" and [n for n, _ in form["fields"]] == ["code"]
    assert 'method="get"' in empty.text
    # A person types the code as printed: lower case, with spaces.
    typed = f"{certificate_code[:4].lower()} {certificate_code[4:8]} {certificate_code[8:]}"
    found = check_page(browser, f"{form['action']}?{httpx.QueryParams(code=typed)}")
    assert "真实有效" in found.text and "张志愿" in found.text
    # The form is on the QR code's page too, and on the answer to a wrong code.
    check_page(browser, f"/certificates/verify/{certificate_code}")
    unknown = check_page(browser, "/certificates/verify?code=AAAA-BBBB-CCCC", status=404)
    assert "未找到" in unknown.text and 'id="verify-form"' in unknown.text
    assert 'value="AAAA-BBBB-CCCC"' in unknown.text  # kept, to be corrected
    # Whatever is typed is answered, escaped, never a 500.
    for junk in ("<script>alert(1)</script>", "\x00" * 12, "码" * 12, "x" * 2000):
        page = browser.get("/certificates/verify", params={"code": junk})
        assert page.status_code == 404, (junk[:20], page.status_code)
        assert "<script>alert" not in page.text
    # A code of this region is unknown on another region's host.
    other = httpx.get(
        f"{up['base']}/certificates/verify",
        params={"code": certificate_code},
        headers={"Host": "yunnan.localhost"},
    )
    assert other.status_code == 404


def test_the_certificate_font_is_the_vendored_ofl_noto_sans_sc():
    from tenants.certificates import fonts

    folder = fonts.font_path().parent
    record = json.loads((folder / "VENDORED.json").read_text())
    entry = record[fonts.font_path().name]
    assert entry["package"] == "@expo-google-fonts/noto-sans-sc" and entry["licence"] == "OFL-1.1"
    digest = base64.b64encode(hashlib.sha384(fonts.font_path().read_bytes()).digest()).decode()
    assert digest == entry["sha384"]
    assert "SIL Open Font License" in (folder / entry["licenceFile"]).read_text()
    assert "paperang" not in (REPO / "pyproject.toml").read_text()


@pytest.fixture(scope="module")
def statistics_region(up):
    """A region with generated data for the statistics pages (issue 12 point 5)."""
    from tests.support import generated_region, unique_city_code

    code = unique_city_code("42")
    return generated_region(
        code, f"chart{code}", preset="suizhou",
        volunteers=120, groups=5, records_per_volunteer=4, seed=5,
    )  # fmt: skip


def test_the_statistics_pages_load_only_their_own_files(up, statistics_region):
    """Both statistics pages (an authority's on its region's host, a central admin's on
    the central host) load ECharts and their script from the platform, and the
    vendored ECharts is the pinned npm file with its Apache-2.0 licence and NOTICE."""
    from types import SimpleNamespace

    from tests.registry_support import authority_account
    from tests.test_region_admin import AdminSession

    session = AdminSession(SimpleNamespace(base_url=up["base"]), statistics_region.slug)
    session.login(authority_account(statistics_region.slug))
    page = check_page(session.http, "/admin/statistics/")
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert "/static/echarts/echarts.min.js" in scripts
    assert "/static/statistics/charts.js" in scripts
    check_page(admin_browser(up["base"]), "/admin/statistics/")
    vendored = json.loads(session.get("/static/echarts/VENDORED.json").text)
    assert set(vendored) == {"echarts.min.js", "NOTICE.echarts.txt"}
    for name, entry in vendored.items():
        body = session.get(f"/static/echarts/{name}").content
        assert base64.b64encode(hashlib.sha384(body).digest()).decode() == entry["sha384"]
        assert entry["licence"] == "Apache-2.0" and entry["version"] == "5.6.0"
        licence = session.get(f"/static/echarts/{entry['licenceFile']}")
        assert licence.status_code == 200 and "Apache License" in licence.text


@pytest.mark.parametrize("which", ["region", "central"])
def test_the_statistics_charts_are_drawn_in_a_real_browser(up, statistics_region, which):
    """Headless Chromium (where the machine has one) draws every chart of a region's
    and of the central statistics page from the page's figures, loading nothing
    from another host. ``STATISTICS_SCREENSHOT=/path.png`` keeps screenshots of
    them (``/path-region.png``, ``/path-central.png``)."""
    import os
    import shutil
    from types import SimpleNamespace

    from django.conf import settings

    from tests.node_support import run_node
    from tests.registry_support import authority_account
    from tests.test_region_admin import AdminSession

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    if which == "region":
        host = f"{statistics_region.slug}.localhost"
        session = AdminSession(SimpleNamespace(base_url=up["base"]), statistics_region.slug)
        session.login(authority_account(statistics_region.slug))
        http = session.http
    else:
        host, http = "localhost", admin_browser(up["base"])
    page = http.get("/admin/statistics/")
    figures, charts = (
        json.loads(
            search(
                rf'<script id="{n}" type="application/json">(.*?)</script>', page.text, re.S
            ).group(1)
        )
        for n in ("statistics-figures", "statistics-charts")
    )
    port = up["base"].rsplit(":", 1)[1]
    out = os.environ.get("STATISTICS_SCREENSHOT", "")
    seen = run_node(
        "browser",
        "charts.mjs",
        URL=f"http://{host}:{port}/admin/statistics/",
        COOKIE_NAME=settings.SESSION_COOKIE_NAME,
        COOKIE_VALUE=http.cookies[settings.SESSION_COOKIE_NAME],
        CHROMIUM=chromium,
        OUT=out.replace(".png", f"-{which}.png") if out else "",
        timeout=180,
    )
    assert seen["status"] == 200 and seen["problems"] == [] and seen["foreign"] == [], seen
    assert [d["id"] for d in seen["drawn"]] == [c["id"] for c in charts]
    assert all(d["canvas"] for d in seen["drawn"])
    # The numbers drawn are the page's figures: volunteers by status, hours by month.
    drawn = {d["id"]: d["series"] for d in seen["drawn"]}
    status = next(c["id"] for c in charts if c["path"] == "volunteers.byStatus")
    assert drawn[status][0] == [r["count"] for r in figures["volunteers"]["byStatus"]]
    months = next(c["id"] for c in charts if c["path"] == "hours.byMonth")
    assert drawn[months][0] == [float(r["hours"]) for r in figures["hours"]["byMonth"]]
    if which == "central":  # and each region's volunteers
        regions = charts[0]["id"]
        assert drawn[regions][0] == [r["volunteers"] for r in figures["regions"]]
