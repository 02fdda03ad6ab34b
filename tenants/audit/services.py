"""Writing to the region's audit log; the one way every service records what it did."""

from __future__ import annotations

from tenants.audit.models import AuditEntry


def record(actor: str, action: str, target: str = "", **detail) -> AuditEntry:
    """Append one entry to the current region's audit log."""
    return AuditEntry.objects.create(actor=actor, action=action, target=target, detail=detail)
