from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CertificatesConfig(AppConfig):
    name = "tenants.certificates"
    label = "certificates"
    verbose_name = _("Certificates of service (志愿服务记录证明)")
