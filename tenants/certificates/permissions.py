"""Who downloads, revokes and prepares certificates (000 Art.17–19): the one place
it is decided (issue 10; scope rules in ``tenants/volunteers/permissions.py``)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from central.errors import PermissionDenied
from tenants.accounts.principal import Principal


def certificate_division(certificate) -> str:
    """The area whose authority answers for a certificate: its group's, else the volunteer's."""
    if certificate.group_id is not None:
        return certificate.group.division_code
    return certificate.volunteer.division_code


def may_download(certificate, principal: Principal) -> bool:
    """The volunteer, the issuing group's staff and the authority of its area."""
    if principal is None:
        return False
    own = principal.volunteer is not None and principal.volunteer.id == certificate.volunteer_id
    return (
        own
        or certificate.group_id in principal.staff_group_ids
        or principal.covers(certificate_division(certificate))
    )


def require_revoker(certificate, principal: Principal) -> None:
    """An admin of the issuing group, or the authority of its area."""
    if not (
        certificate.group_id in principal.admin_group_ids
        or principal.covers(certificate_division(certificate))
    ):
        raise PermissionDenied(_("only an admin of the issuing group or the authority revokes it"))


def require_seal_keeper(group, principal: Principal) -> None:
    """A group's admins upload its seal (000 Art.17 加盖公章)."""
    if group.id not in principal.admin_group_ids:
        raise PermissionDenied(
            _("only an admin of %(name)s uploads its seal") % {"name": group.name}
        )
