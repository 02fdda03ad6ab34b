from django.apps import AppConfig


class CentralConfig(AppConfig):
    name = "central"
    verbose_name = "Central (federation)"

    def ready(self) -> None:
        from central import checks  # noqa: F401  (registers the system checks)
