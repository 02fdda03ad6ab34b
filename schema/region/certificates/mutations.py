"""Issuing, revoking and downloading certificates; the group seal."""

from __future__ import annotations

import datetime

import strawberry
from strawberry.file_uploads import Upload
from strawberry.types import Info

from schema.context import bearer_token
from schema.errors import Payload, mutation_payload
from schema.identity import global_id
from schema.region.auth import parse_id, principal_of
from schema.region.certificates.types import Certificate, _absolute
from tenants.accounts.services import token_id_of
from tenants.certificates import services as certificates


@strawberry.type
class GroupSealPayload(Payload):
    group_id: strawberry.ID | None = None
    uploaded_at: datetime.datetime | None = None


@strawberry.type
class CertificatePayload(Payload):
    certificate: Certificate | None = None


@strawberry.type
class CertificateDownloadLinkPayload(Payload):
    url: str | None = strawberry.field(
        default=None,
        description="The PDF's address on this host, usable without Authorization (a "
        "plain link or window.open) until expiresAt.",
    )
    expires_at: datetime.datetime | None = None


@strawberry.type
class CertificatesMutation:
    @strawberry.mutation(
        description="Upload (or replace) the group's seal (公章) as a PNG, multipart request. "
        "Group admins."
    )
    @mutation_payload(GroupSealPayload)
    def upload_group_seal(
        self, info: Info, group_id: strawberry.ID, seal: Upload
    ) -> GroupSealPayload:
        saved = certificates.upload_seal(
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            upload=seal,
            principal=principal_of(info),
        )
        return GroupSealPayload(
            group_id=strawberry.ID(global_id("VolunteerGroup", saved.group_id)),
            uploaded_at=saved.uploaded_at,
        )

    @strawberry.mutation(
        description="Issue a certificate (free) of the counted hours the group recorded for "
        "the volunteer (民发〔2015〕149号): asked by the volunteer (an active member) or an "
        "admin of the group. Needs the group's seal on file."
    )
    @mutation_payload(CertificatePayload)
    def issue_certificate(
        self, info: Info, number: str, group_id: strawberry.ID, notes: str = ""
    ) -> CertificatePayload:
        certificate = certificates.issue_certificate(
            number=number,
            group_id=parse_id(group_id, "VolunteerGroup", "groupId"),
            notes=notes,
            principal=principal_of(info),
            region=info.context.region,
            site_url=_absolute(info, "/").rstrip("/"),
        )
        return CertificatePayload(certificate=Certificate(_model=certificate))

    @strawberry.mutation(
        description="A short-lived signed link to a certificate's PDF, for a browser that "
        "cannot send the bearer token with a plain GET: the volunteer, the issuing group's "
        "staff, the authority. At download the link's asker must still be allowed: their "
        "account active, the token they asked with not logged out."
    )
    @mutation_payload(CertificateDownloadLinkPayload)
    def certificate_download_link(self, info: Info, code: str) -> CertificateDownloadLinkPayload:
        path, expires_at = certificates.download_link(
            code=code,
            principal=principal_of(info),
            region=info.context.region,
            token_id=token_id_of(bearer_token(info.context.request)),
        )
        return CertificateDownloadLinkPayload(url=_absolute(info, path), expires_at=expires_at)

    @strawberry.mutation(
        description="Revoke a certificate, with the reason: an admin of the issuing group or "
        "the authority. Verification then says revoked."
    )
    @mutation_payload(CertificatePayload)
    def revoke_certificate(self, info: Info, code: str, reason: str) -> CertificatePayload:
        certificate = certificates.revoke_certificate(
            code_or_id=code, reason=reason, principal=principal_of(info)
        )
        return CertificatePayload(certificate=Certificate(_model=certificate))
