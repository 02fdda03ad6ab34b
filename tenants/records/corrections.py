"""Corrections asked by volunteers (《志愿服务记录与证明出具办法》: a volunteer who
finds an error or omission asks the organisation to verify and correct it).

The group answers within the policy's ``correction_deadline_days``: it amends
the record (an :class:`Amendment`, never an edit), records the missing service,
or declines with a reason.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.errors import Conflict, InvalidInput, NotFound, PermissionDenied, locked_row
from central.messages import shown
from central.policy import RegionPolicy
from tenants.accounts import services as accounts
from tenants.accounts.principal import Principal
from tenants.audit.services import record as audit
from tenants.groups.models import VolunteerGroup
from tenants.projects.models import Project
from tenants.records import services as records
from tenants.records.models import CorrectionRequest, ServiceRecord
from tenants.records.permissions import require_correction_handler


def request_correction(
    *,
    group_id: int,
    description: str,
    record_id: int | None,
    principal: Principal,
    policy: RegionPolicy,
) -> CorrectionRequest:
    principal = accounts.require(principal)
    volunteer = principal.volunteer
    if volunteer is None:
        raise PermissionDenied(_("only a volunteer's own account asks for a correction"))
    description = (description or "").strip()
    if len(description) < 4:
        raise InvalidInput(_("describe the error or the missing service"), field="description")
    group = VolunteerGroup.objects.filter(id=group_id).first()
    if group is None:
        raise NotFound(_("no such group"), field="groupId")
    record = None
    if record_id is not None:
        record = ServiceRecord.objects.filter(id=record_id, volunteer=volunteer).first()
        if record is None:
            raise NotFound(_("no such record of yours"), field="recordId")
        if record.group_id != group.id:
            raise InvalidInput(_("ask the group that recorded it"), field="groupId")
    with transaction.atomic():
        request = CorrectionRequest.objects.create(
            volunteer=volunteer,
            group=group,
            record=record,
            description=description,
            due_on=timezone.localdate() + datetime.timedelta(days=policy.correction_deadline_days),
        )
        audit(principal.actor, "correction.requested", str(request.id), record=record_id)
    return request


def _locked(request_id: int, principal: Principal) -> CorrectionRequest:
    request = locked_row(
        CorrectionRequest.objects.select_related("group", "record"), missing=None, id=request_id
    )
    require_correction_handler(request, principal)
    assert request is not None  # refused above
    if request.status != CorrectionRequest.Status.OPEN:
        raise Conflict(
            _("the request was already answered (%(status)s)")
            % {"status": shown(request, "status")},
            field="requestId",
        )
    return request


def amend_for_request(
    *, request_id: int, changes: dict, reason: str, principal: Principal, policy: RegionPolicy
):
    principal = accounts.require(principal)
    with transaction.atomic():
        request = _locked(request_id, principal)
        if request.record is None:
            raise InvalidInput(
                _("this request is about missing service: record it instead"), field="requestId"
            )
        amendment = records.amend_record(
            record_id=request.record.id,
            changes=changes,
            reason=reason,
            principal=principal,
            policy=policy,
        )
        request.status = CorrectionRequest.Status.AMENDED
        request.amendment = amendment
        request.decided_by = principal.actor
        request.decided_at = timezone.now()
        request.decision_reason = reason
        request.save()
        audit(principal.actor, "correction.amended", str(request.id), amendment=amendment.id)
    return request


def record_missing_for_request(
    *, request_id: int, project_id: int, entry, principal: Principal, policy: RegionPolicy
):
    principal = accounts.require(principal)
    with transaction.atomic():
        request = _locked(request_id, principal)
        # The group asked records the missing service at a project of its own: the
        # handler's other roles (a recorder of another group too) do not answer it.
        at = Project.objects.filter(id=project_id).values_list("group_id", flat=True).first()
        if at is not None and at != request.group_id:
            raise InvalidInput(
                _("record it at a project of %(name)s, the group asked")
                % {"name": request.group.name},
                field="projectId",
            )
        added = records.record_hours(
            project_id=project_id,
            number=request.volunteer.number,
            entry=entry,
            principal=principal,
            policy=policy,
        )
        request.status = CorrectionRequest.Status.AMENDED
        request.added_record = added
        request.decided_by = principal.actor
        request.decided_at = timezone.now()
        request.decision_reason = "补录"
        request.save()
        audit(principal.actor, "correction.recorded", str(request.id), record=added.id)
    return request


def decline_request(*, request_id: int, reason: str, principal: Principal) -> CorrectionRequest:
    principal = accounts.require(principal)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("say why the correction is declined"), field="reason")
    with transaction.atomic():
        request = _locked(request_id, principal)
        request.status = CorrectionRequest.Status.DECLINED
        request.decided_by = principal.actor
        request.decided_at = timezone.now()
        request.decision_reason = reason
        request.save()
        audit(principal.actor, "correction.declined", str(request.id), reason=reason)
    return request


def is_overdue(request: CorrectionRequest, today: datetime.date | None = None) -> bool:
    return (
        request.status == CorrectionRequest.Status.OPEN
        and (today or timezone.localdate()) > request.due_on
    )
