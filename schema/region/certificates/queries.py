"""Verifying a certificate (public)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from schema.region.certificates.types import CertificateVerification, verification_of


@strawberry.type
class CertificatesQuery:
    @strawberry.field(
        description="Check a certificate by its verification code. Public; null when no "
        "certificate of this region has that code. Codes not found are counted per client "
        "address: after too many, every lookup from it is THROTTLED (retryAfter) for a while."
    )
    def verify_certificate(self, info: Info, code: str) -> CertificateVerification | None:
        return verification_of(code, request=info.context.request)
