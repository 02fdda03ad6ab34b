"""Certificates of service (志愿服务记录证明; 000 Art.17, 003 Art.25, 民发〔2015〕149号):
seals, issuing, the PDF, public verification and revocation, through the real
HTTP endpoint of 重庆 (records count at once: no publicity, no confirmation).

Set-up (groups, projects, participants, counted records) goes through the
services; everything checked goes over HTTP as a front-end or a verifier would.
"""

from __future__ import annotations

import datetime
import io
import json
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from django.conf import settings
from django.utils import timezone
from django_tenants.utils import tenant_context

from tenants.accounts.models import Account
from tenants.accounts.services import AccountPrincipal, OperatorPrincipal
from tenants.certificates.models import Certificate
from tenants.certificates.pdf import render_seal_placeholder_png
from tenants.groups import services as groups
from tenants.projects import services as projects
from tenants.records import services as records
from tests.registry_support import (
    accept_invitations,
    authority,
    hierarchy,
    id_number,
    login,
    phone,
    region,
    register_volunteer,
    unique,
)
from tests.support import gid

SLUG = "chongqing"
HOST = f"{SLUG}.localhost"
ERRORS = "errors { field code message }"
CERT = "number issuedAt totalHours verificationCode verificationUrl downloadUrl status notes"
UPLOAD_SEAL = f"""mutation($g: ID!, $seal: Upload!) {{ uploadGroupSeal(groupId: $g, seal: $seal)
  {{ groupId uploadedAt {ERRORS} }} }}"""
ISSUE = f"""mutation($n: String!, $g: ID!, $notes: String!) {{ issueCertificate(number: $n,
  groupId: $g, notes: $notes) {{ certificate {{ {CERT} }} {ERRORS} }} }}"""
REVOKE = f"""mutation($c: String!, $r: String!) {{ revokeCertificate(code: $c, reason: $r)
  {{ certificate {{ status revokedReason }} {ERRORS} }} }}"""
VERIFY = """query($c: String!) { verifyCertificate(code: $c) { genuine status number name
  idNumberMasked maskedIdNumber volunteerNumber totalHours groupName issuedOn
  rows { projectName firstDate lastDate hours originRegion } } }"""
MY_CERTIFICATES = """query($n: String!) { volunteer(number: $n) { certificates { number
  totalHours status } } }"""
NUMBER = re.compile(r"^ZS-500000-\d{4}-\d{6}$")


def days_ago(n: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=n)


def principal(username: str) -> AccountPrincipal:
    account = Account.objects.select_related("volunteer").get(username=username)
    return AccountPrincipal(account=account, roles=list(account.roles.select_related("group")))


def project(group, admin: AccountPrincipal, name: str, starts: int, ends: int):
    """A published project of ``group`` that started ``starts`` days ago."""
    policy = region(SLUG).get_policy()
    draft = projects.ProjectDraft(
        name=name,
        category="elderly_and_children",
        service_targets="敬老院老人",
        place="幸福敬老院",
        starts_on=days_ago(starts),
        ends_on=days_ago(ends),
        quota=20,
        risk_notice="注意防滑，避免与老人发生肢体冲突",
        contact="赵联系",
    )
    created = projects.create_project(group_id=group.id, draft=draft, principal=admin)
    submitted = projects.submit_project(project_id=created.id, principal=admin, policy=policy)
    if submitted.status == "pending_review":
        projects.review_project(
            project_id=created.id,
            approve=True,
            reason="",
            principal=OperatorPrincipal("test"),
            policy=policy,
        )
    return created


def record(project_id, number, admin, day, start, end, hours):
    return records.record_hours(
        project_id=project_id,
        number=number,
        entry=records.RecordEntry(
            service_date=day,
            start_time=datetime.time.fromisoformat(start),
            end_time=datetime.time.fromisoformat(end),
            hours=Decimal(hours),
            content="陪伴老人聊天、读报",
        ),
        principal=admin,
        policy=region(SLUG).get_policy(),
    )


@dataclass
class Stage:
    group_id: int  # the team: records 7.5 hours of the volunteer
    other_group_id: int  # the community hub: records 4 hours, which the team never certifies
    admin: str  # usernames
    other_admin: str
    volunteer_username: str
    number: str
    id_number: str
    phone: str
    first_record_id: int
    bystander_username: str  # a member of the team without counted hours


def stage() -> Stage:
    h = hierarchy(SLUG)
    id_no, phone_no = id_number(datetime.date(1990, 5, 17)), phone()
    volunteer, username = register_volunteer(SLUG, name="张志愿", idNumber=id_no, phone=phone_no)
    bystander, bystander_username = register_volunteer(SLUG, name="钱旁观")
    target = region(SLUG)
    policy = target.get_policy()
    with tenant_context(target):
        admin = principal(h.admins["team"])
        other_admin = principal(h.admins["community"])
        for number in (volunteer.number, bystander.number):
            groups.add_member(group_id=h.team.id, number=number, principal=admin, policy=policy)
            accept_invitations(SLUG, number)
        ended = project(h.team, admin, unique("敬老院陪伴项目"), starts=30, ends=1)
        ongoing = project(h.team, admin, unique("社区图书整理"), starts=20, ends=-10)
        elsewhere = project(h.community, other_admin, unique("社区巡河"), starts=20, ends=-10)
        # The volunteer also joins the ongoing project by application (apply/decide).
        me = principal(username)
        application = projects.apply(project_id=ongoing.id, principal=me)
        projects.decide_application(application_id=application.id, accept=True, principal=admin)
        first = record(ended.id, volunteer.number, admin, days_ago(10), "09:00", "12:00", "3")
        record(ended.id, volunteer.number, admin, days_ago(9), "09:00", "11:30", "2.5")
        record(ongoing.id, volunteer.number, admin, days_ago(5), "14:00", "16:00", "2")
        groups.add_member(
            group_id=h.community.id, number=volunteer.number, principal=other_admin, policy=policy
        )
        accept_invitations(SLUG, volunteer.number)
        record(elsewhere.id, volunteer.number, other_admin, days_ago(4), "08:00", "12:00", "4")
        assert first.state == "counted"
    return Stage(
        group_id=h.team.id,
        other_group_id=h.community.id,
        admin=h.admins["team"],
        other_admin=h.admins["community"],
        volunteer_username=username,
        number=volunteer.number,
        id_number=id_no,
        phone=phone_no,
        first_record_id=first.id,
        bystander_username=bystander_username,
    )


@pytest.fixture(scope="module")
def s(seed_regions) -> Stage:
    return stage()


def upload_seal(gql, group_id, content: bytes, token: str | None) -> dict:
    """A GraphQL multipart request (the spec strawberry implements), over real HTTP."""
    operations = {
        "query": UPLOAD_SEAL,
        "variables": {"g": gid(SLUG, group_id, "VolunteerGroup"), "seal": None},
    }
    headers = {"Host": HOST}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = gql.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.seal"]})},
        files={"0": ("seal.png", io.BytesIO(content), "image/png")},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    return response.json()


def issue(gql, s: Stage, token: str | None, group_id=None, number=None, notes="") -> dict:
    variables = {
        "n": number or s.number,
        "g": gid(SLUG, group_id or s.group_id, "VolunteerGroup"),
        "notes": notes,
    }
    return gql.region(SLUG, ISSUE, variables, token=token)


def stored_state() -> tuple[int, set[Path]]:
    """How many certificates chongqing holds, and its certificate files."""
    with tenant_context(region(SLUG)):
        count = Certificate.objects.count()
    folder = Path(settings.MEDIA_ROOT) / "regions" / "region_chongqing" / "certificates"
    return count, set(folder.glob("*")) if folder.exists() else set()


def get(gql, path: str, token: str | None = None, host: str = HOST, language: str = "zh-CN"):
    # The certificate and its verification page are read in Chinese first.
    headers = {"Host": host, "Accept-Language": language}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return gql.http.get(path, headers=headers)


def pdf_text_and_qr(content: bytes) -> tuple[str, list[str]]:
    doc = pdfium.PdfDocument(content)
    text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
    image = doc[0].render(scale=3).to_pil()
    codes = [
        r.text for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode
    ]
    return text, codes


def test_issue_refused_without_seal_and_without_right(gql, s):
    volunteer = login(gql, SLUG, s.volunteer_username)
    before = stored_state()
    no_seal = issue(gql, s, volunteer)["data"]["issueCertificate"]
    assert no_seal["certificate"] is None
    assert no_seal["errors"][0]["code"] == "CONFLICT"
    assert no_seal["errors"][0]["field"] == "groupId"
    assert "no seal" in no_seal["errors"][0]["message"]
    # Only the volunteer themself, or an admin of the group, asks.
    bystander = login(gql, SLUG, s.bystander_username)
    stranger = issue(gql, s, bystander)
    assert stranger["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    other_admin = login(gql, SLUG, s.other_admin)
    assert issue(gql, s, other_admin)["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    anonymous = issue(gql, s, None)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # A number nobody has: refused as another volunteer's number is (no oracle).
    unknown = issue(gql, s, volunteer, number="50000026999999990")
    assert unknown["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    assert unknown["errors"][0]["message"] == stranger["errors"][0]["message"]
    assert stored_state() == before


def test_seal_upload_is_checked(gql, s):
    admin = login(gql, SLUG, s.admin)
    volunteer = login(gql, SLUG, s.volunteer_username)
    seal = render_seal_placeholder_png("测试志愿服务队")
    denied = upload_seal(gql, s.group_id, seal, volunteer)
    assert denied["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    not_png = upload_seal(gql, s.group_id, b"\xff\xd8\xff a jpeg", admin)["data"]
    assert not_png["uploadGroupSeal"]["errors"][0]["field"] == "seal"
    broken = upload_seal(gql, s.group_id, b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, admin)["data"]
    assert (
        broken["uploadGroupSeal"]["errors"][0]["message"] == "the seal is not a readable PNG image"
    )
    too_big = upload_seal(gql, s.group_id, seal + b"\x00" * settings.UPLOAD_MAX_BYTES, admin)
    assert too_big["data"]["uploadGroupSeal"]["errors"][0]["field"] == "seal"


def test_issue_download_verify_amend_revoke(gql, s):
    admin = login(gql, SLUG, s.admin)
    volunteer = login(gql, SLUG, s.volunteer_username)
    seal = render_seal_placeholder_png("测试志愿服务队")
    uploaded = upload_seal(gql, s.group_id, seal, admin)["data"]["uploadGroupSeal"]
    assert uploaded["errors"] == [] and uploaded["groupId"] == gid(
        SLUG, s.group_id, "VolunteerGroup"
    )

    # A member without counted hours recorded by the group gets nothing, and nothing is written.
    before = stored_state()
    bystander = login(gql, SLUG, s.bystander_username)
    with tenant_context(region(SLUG)):
        bystander_volunteer = Account.objects.get(username=s.bystander_username).volunteer
        assert bystander_volunteer is not None
        bystander_number = bystander_volunteer.number
    empty = issue(gql, s, bystander, number=bystander_number)["data"]["issueCertificate"]
    assert empty["errors"][0]["code"] == "CONFLICT" and empty["errors"][0]["field"] == "number"
    assert stored_state() == before

    # The volunteer asks; the team certifies only the 7.5 hours it recorded, not the
    # community hub's 4 (民发〔2015〕149号: whoever records certifies).
    notes = "用于评优 <b>&</b>"
    issued = issue(gql, s, volunteer, notes=notes)["data"]["issueCertificate"]
    assert issued["errors"] == [], issued
    cert = issued["certificate"]
    code = cert["verificationCode"]
    assert NUMBER.match(cert["number"]), cert["number"]
    assert Decimal(cert["totalHours"]) == Decimal("7.5")
    assert re.fullmatch(r"[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{12}", code)
    assert cert["status"] == "CURRENT" and cert["notes"] == notes
    assert cert["downloadUrl"] == f"http://{HOST}/certificates/{code}.pdf"
    verify_url = f"http://{HOST}/certificates/verify/{code}"
    assert cert["verificationUrl"] == verify_url
    count, files = stored_state()
    assert count == before[0] + 1 and len(files - before[1]) == 1

    # The PDF, downloaded over HTTP, states the name, hours and number; its QR code
    # leads to the verification page on this region's own host.
    pdf = get(gql, f"/certificates/{code}.pdf", volunteer)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text, qr = pdf_text_and_qr(pdf.content)
    for expected in ("张志愿", "7.5", cert["number"], s.number, "用于评优 <b>&</b>"):
        assert expected in text, expected
    assert s.id_number not in text and s.phone not in text
    assert qr == [verify_url]
    # The issuing group's staff and the authority may download it; nobody else.
    assert get(gql, f"/certificates/{code}.pdf", admin).content == pdf.content
    assert get(gql, f"/certificates/{code}.pdf", authority(gql, SLUG)).status_code == 200
    assert get(gql, f"/certificates/{code}.pdf", bystander).status_code == 403
    assert get(gql, f"/certificates/{code}.pdf", login(gql, SLUG, s.other_admin)).status_code == 403
    assert get(gql, f"/certificates/{code}.pdf").status_code == 401
    assert get(gql, "/certificates/AAAAAAAAAAAA.pdf", volunteer).status_code == 404

    # Public verification, by page and by query, without a token.
    page = get(gql, f"/certificates/verify/{code}")
    assert page.status_code == 200
    assert "真实有效" in page.text and "张志愿" in page.text and "7.5 小时" in page.text
    assert cert["number"] in page.text
    assert "&lt;b&gt;&amp;&lt;/b&gt;" in page.text and "<b>&</b>" not in page.text
    assert s.id_number not in page.text and s.phone not in page.text
    verified = gql.region(SLUG, VERIFY, {"c": code})["data"]["verifyCertificate"]
    assert verified["genuine"] is True and verified["status"] == "CURRENT"
    assert verified["number"] == cert["number"] and verified["name"] == "张志愿"
    assert verified["volunteerNumber"] == s.number
    assert "*" in verified["idNumberMasked"]
    # The earlier spelling answers the same for one release (deprecated in the schema).
    assert verified["maskedIdNumber"] == verified["idNumberMasked"]
    assert Decimal(verified["totalHours"]) == Decimal("7.5")
    assert sorted(Decimal(r["hours"]) for r in verified["rows"]) == [Decimal(2), Decimal("5.5")]
    assert all(r["originRegion"] is None for r in verified["rows"])
    dumped = json.dumps(verified, ensure_ascii=False)
    assert s.id_number not in dumped and s.phone not in dumped
    # The code as printed in groups, in lower case, is the same code.
    spaced = f"{code[:4]}-{code[4:8]} {code[8:]}".lower()
    assert gql.region(SLUG, VERIFY, {"c": spaced})["data"]["verifyCertificate"]["genuine"]

    # An amendment after issue changes the volunteer's hours, not the issued certificate.
    target = region(SLUG)
    with tenant_context(target):
        records.amend_record(
            record_id=s.first_record_id,
            changes={"hours": Decimal(2)},
            reason="签到时间记录有误",
            principal=principal(s.admin),
            policy=target.get_policy(),
        )
    after = gql.region(SLUG, VERIFY, {"c": code})["data"]["verifyCertificate"]
    assert Decimal(after["totalHours"]) == Decimal("7.5") and after["rows"] == verified["rows"]
    second = issue(gql, s, admin)["data"]["issueCertificate"]["certificate"]
    assert Decimal(second["totalHours"]) == Decimal("6.5")
    assert second["number"] != cert["number"]
    mine = gql.region(SLUG, MY_CERTIFICATES, {"n": s.number}, token=volunteer)
    listed = mine["data"]["volunteer"]["certificates"]
    assert [c["number"] for c in listed] == [cert["number"], second["number"]]
    assert [Decimal(c["totalHours"]) for c in listed] == [Decimal("7.5"), Decimal("6.5")]

    # Revocation: the issuing group's admin (or the authority), with a reason.
    refused = gql.region(SLUG, REVOKE, {"c": code, "r": "重复出具"}, token=volunteer)
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    no_reason = gql.region(SLUG, REVOKE, {"c": code, "r": " "}, token=admin)
    assert no_reason["data"]["revokeCertificate"]["errors"][0]["field"] == "reason"
    revoked = gql.region(SLUG, REVOKE, {"c": code, "r": "时长更正后重新出具"}, token=admin)
    assert revoked["data"]["revokeCertificate"]["certificate"]["status"] == "REVOKED"
    again = gql.region(SLUG, REVOKE, {"c": code, "r": "再次撤销"}, token=admin)
    assert again["data"]["revokeCertificate"]["errors"][0]["code"] == "CONFLICT"
    gone = gql.region(SLUG, VERIFY, {"c": code})["data"]["verifyCertificate"]
    assert gone["genuine"] is False and gone["status"] == "REVOKED"
    page = get(gql, f"/certificates/verify/{code}")
    assert page.status_code == 200 and "已撤销" in page.text and "真实有效" not in page.text
    # The second certificate stays genuine.
    current = gql.region(SLUG, VERIFY, {"c": second["verificationCode"]})
    assert current["data"]["verifyCertificate"]["genuine"] is True

    # Unknown codes, and chongqing's code on another region's host, are not found.
    assert gql.region(SLUG, VERIFY, {"c": "AAAAAAAAAAAA"})["data"]["verifyCertificate"] is None
    assert gql.region(SLUG, VERIFY, {"c": "nonsense"})["data"]["verifyCertificate"] is None
    assert get(gql, "/certificates/verify/AAAAAAAAAAAA").status_code == 404
    second_code = second["verificationCode"]
    assert get(gql, f"/certificates/verify/{second_code}", host="yunnan.localhost").status_code == (
        404
    )
    elsewhere = gql.region("yunnan", VERIFY, {"c": second_code})["data"]["verifyCertificate"]
    assert elsewhere is None
    yunnan_authority = authority(gql, "yunnan")
    foreign = get(
        gql, f"/certificates/{second_code}.pdf", yunnan_authority, host="yunnan.localhost"
    )
    assert foreign.status_code == 404


LINK = f"""mutation($c: String!) {{ certificateDownloadLink(code: $c) {{ url expiresAt
  {ERRORS} }} }}"""
FRONT_END = "https://vol.chongqing.example.cn"


def test_a_signed_link_downloads_the_pdf_from_a_front_end(gql, s, central_admin):
    """A browser page cannot put the bearer token on a plain GET (a link, a new
    tab): ``certificateDownloadLink`` gives a short-lived signed address that
    works without it, for one certificate on this region's host only."""
    from django.core import signing

    admin = login(gql, SLUG, s.admin)
    volunteer = login(gql, SLUG, s.volunteer_username)
    upload_seal(gql, s.group_id, render_seal_placeholder_png("测试志愿服务队"), admin)
    cert = issue(gql, s, volunteer)["data"]["issueCertificate"]["certificate"]
    code = cert["verificationCode"]

    # Only whoever may download the PDF gets a link.
    bystander = login(gql, SLUG, s.bystander_username)
    refused = gql.post(HOST, LINK, {"c": code}, token=bystander).json()
    assert refused["errors"][0]["extensions"]["code"] == "PERMISSION_DENIED"
    missing = gql.region(SLUG, LINK, {"c": "AAAAAAAAAAAA"}, token=volunteer)
    assert missing["data"]["certificateDownloadLink"]["errors"][0]["code"] == "NOT_FOUND"

    answer = gql.region(SLUG, LINK, {"c": code}, token=volunteer)["data"]
    link = answer["certificateDownloadLink"]
    assert link["errors"] == [] and link["expiresAt"]
    assert link["url"].startswith(f"http://{HOST}/certificates/{code}.pdf?link=")
    path = link["url"].removeprefix(f"http://{HOST}")

    # From the region's front-end origin, without any Authorization header.
    gql.central(
        'mutation($p: JSON!) { updateRegionPolicy(code: "500000", policy: $p) { errors { code } }}',
        {"p": {"allowedOrigins": [FRONT_END]}},
        central_admin["token"],
    )
    pdf = gql.http.get(path, headers={"Host": HOST, "Origin": FRONT_END})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["access-control-allow-origin"] == FRONT_END
    assert "Content-Disposition" in pdf.headers["access-control-expose-headers"]
    assert cert["number"] in pdf_text_and_qr(pdf.content)[0]
    # The verification page answers the front-end's origin too.
    page = gql.http.get(f"/certificates/verify/{code}", headers={"Host": HOST, "Origin": FRONT_END})
    assert page.status_code == 200 and page.headers["access-control-allow-origin"] == FRONT_END

    # The link is worth nothing for another certificate, another region or once expired.
    signature = path.split("?link=")[1]
    assert get(gql, f"/certificates/AAAAAAAAAAAA.pdf?link={signature}").status_code == 403
    assert get(gql, path, host="yunnan.localhost").status_code in (403, 404)
    assert get(gql, path[:-2] + ("xx" if not path.endswith("xx") else "yy")).status_code == 403

    class Yesterday(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(timezone.now().timestamp()) - 86400)

    # The link's payload as certificates.download_link signs it, a day old.
    payload = signing.loads(signature, salt="certificate-pdf-link")
    assert payload["code"] == code and payload["actor"].startswith("account:")
    stale = Yesterday(salt="certificate-pdf-link").sign_object(payload, compress=True)
    expired = get(gql, f"/certificates/{code}.pdf?link={stale}")
    assert expired.status_code == 403 and expired.json()["error"]["code"] == "LINK_EXPIRED"
