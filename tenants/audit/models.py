"""The region's append-only audit log (审计日志).

Every write a region's services make appends a row here; a database trigger
forbids UPDATE and DELETE, so the log cannot be rewritten after the fact.
Actors are named by reference (``actor``: e.g. ``account:12`` or
``central:admin``), never by a foreign key into the public schema.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.CharField(max_length=120)
    action = models.CharField(max_length=80)
    target = models.CharField(max_length=120, blank=True, default="")
    detail = models.JSONField(default=dict)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.target}"
