from django.apps import AppConfig


class CertificatesConfig(AppConfig):
    name = "tenants.certificates"
    label = "certificates"
    verbose_name = "Certificates of service (志愿服务记录证明)"
