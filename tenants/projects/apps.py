from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "tenants.projects"
    label = "projects"
    verbose_name = "Volunteer-service projects"
