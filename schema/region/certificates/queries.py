"""Verifying a certificate (public)."""

from __future__ import annotations

import strawberry

from schema.region.certificates.types import CertificateVerification, verification_of


@strawberry.type
class CertificatesQuery:
    @strawberry.field(
        description="Check a certificate by its verification code. Public; null when no "
        "certificate of this region has that code."
    )
    def verify_certificate(self, code: str) -> CertificateVerification | None:
        return verification_of(code)
