"""Certificates of service (志愿服务记录证明) in a region's API.

000 Art.17, 003 Art.25, 民发〔2015〕149号 (whoever records certifies). The rules
are in ``tenants/certificates/services.py``; resolvers parse, call and shape.
``verifyCertificate`` is public and shows only what the certificate states. A
volunteer's ``certificates`` (a field of ``Volunteer`` in ``volunteers/types.py``) are seen
by whoever may see the volunteer."""

from __future__ import annotations

import datetime
import enum
from decimal import Decimal

import strawberry
from django.http import HttpRequest
from strawberry.types import Info

from central.errors import Throttled
from central.throttle import client_address
from schema.errors import QueryError
from schema.identity import global_id
from schema.node import Node
from schema.region.fields import model_field, model_id
from tenants.certificates import models as certificate_models
from tenants.certificates import services as certificates
from tenants.related import prefetched


@strawberry.enum(description="现行有效 (current) or 已撤销 (revoked).")
class CertificateStatus(enum.Enum):
    CURRENT = "current"
    REVOKED = "revoked"


@strawberry.type(description="One line of service content: the hours of one project.")
class CertificateRow:
    project_name: str
    first_date: datetime.date
    last_date: datetime.date
    hours: Decimal
    origin_region: str | None = strawberry.field(
        description="The region that recorded these hours, when they came in by transfer."
    )


def _rows(snapshot: dict) -> list[CertificateRow]:
    return [
        CertificateRow(
            project_name=row["projectName"],
            first_date=datetime.date.fromisoformat(row["firstDate"]),
            last_date=datetime.date.fromisoformat(row["lastDate"]),
            hours=Decimal(row["hours"]),
            origin_region=row["originRegion"],
        )
        for row in snapshot["rows"]
    ]


def _absolute(info: Info, path: str) -> str:
    return info.context.request.build_absolute_uri(path)


@strawberry.type(description="A certificate of service (志愿服务记录证明) as issued.")
class Certificate(Node):
    _model: strawberry.Private[certificate_models.Certificate]

    id: strawberry.ID = model_id("Certificate")

    number: str = model_field("number", description="证明编号, ZS-<region code>-<yyyy>-<seq>.")
    issued_at: datetime.datetime = model_field("issued_at")
    total_hours: Decimal = model_field(
        "total_hours", description="Counted hours the certificate states (as issued)."
    )

    @strawberry.field(description="Service content by project, as issued.")
    def rows(self) -> list[CertificateRow]:
        return _rows(self._model.snapshot)

    @strawberry.field(description="The issuing group's name.")
    def group_name(self) -> str:
        return self._model.snapshot["groupName"]

    handler: str = model_field("handler_name", description="经办人")
    notes: str = model_field("notes", description="备注")
    verification_code: str = model_field(
        "verification_code", description="验证码: anyone holding it can check the certificate."
    )

    @strawberry.field(description="The public verification page (also in the QR code).")
    def verification_url(self) -> str:
        return self._model.snapshot["verificationUrl"]

    @strawberry.field(
        description="The PDF, on this host; send the bearer token (the volunteer, the "
        "issuing group's staff, the authority)."
    )
    def download_url(self, info: Info) -> str:
        return _absolute(info, certificates.download_path(self._model.verification_code))

    @strawberry.field
    def status(self) -> CertificateStatus:
        return CertificateStatus(certificates.status_of(self._model))

    revoked_at: datetime.datetime | None = model_field("revoked_at")
    revoked_reason: str = model_field("revoked_reason")


@strawberry.type(
    description="What a certificate states, for anyone holding its verification code. "
    "Nothing more than the certificate shows."
)
class CertificateVerification(Node):
    _code: strawberry.Private[str]
    genuine: bool = strawberry.field(
        description="Issued by this region and not revoked (真实有效)."
    )
    status: CertificateStatus
    number: str
    name: str
    id_number_masked: str = strawberry.field(description="e.g. 5001**********1234")
    volunteer_number: str
    total_hours: Decimal
    rows: list[CertificateRow]
    group_name: str
    issued_on: datetime.date

    @strawberry.field(deprecation_reason="Use idNumberMasked, as on Volunteer.")
    def masked_id_number(self) -> str:
        # The earlier spelling, kept for one release so front-ends move at their pace.
        return self.id_number_masked

    @strawberry.field(description="Opaque, stable and unique across types and regions.")
    def id(self) -> strawberry.ID:
        # Keyed by the code, so node(id:) shows it exactly to whoever holds the code.
        return strawberry.ID(global_id("CertificateVerification", self._code))


def verification_of(code: str, *, request: HttpRequest) -> CertificateVerification | None:
    """What ``verifyCertificate(code)`` (and ``node`` of its id) answers: a
    ``THROTTLED`` error (``extensions.retryAfter``) once the caller's address has
    looked up too many codes that do not exist (``certificates.verify_from``).

    Each code is looked up (and a miss counted) once per request, its outcome kept
    on the request: query resolvers may run twice (``schema/compiled.py`` falls
    back to graphql-core, or verifies against it), and a second run must neither
    count the miss again nor answer differently."""
    lookups = request.__dict__.setdefault("_certificate_lookups", {})
    key = certificates.normalize_code(code)
    if key not in lookups:
        try:
            lookups[key] = certificates.verify_from(code, address=client_address(request))
        except Throttled as refused:
            lookups[key] = refused
    found = lookups[key]
    if isinstance(found, Throttled):
        raise QueryError(found)
    if found is None:
        return None
    return CertificateVerification(
        _code=code,
        genuine=found["genuine"],
        status=CertificateStatus(found["status"]),
        number=found["number"],
        name=found["name"],
        id_number_masked=found["idNumberMasked"],
        volunteer_number=found["volunteerNumber"],
        total_hours=Decimal(found["totalHours"]),
        rows=_rows(found),
        group_name=found["groupName"],
        issued_on=datetime.date.fromisoformat(found["issuedOn"]),
    )


def certificates_of(volunteer) -> list[Certificate]:
    """A volunteer's certificates, oldest first (read from a prefetch when there is one)."""
    return [Certificate(_model=c) for c in prefetched(volunteer, "certificates")]
