from django.apps import AppConfig


class RecognitionConfig(AppConfig):
    name = "tenants.recognition"
    label = "recognition"
    verbose_name = "Trainings, awards and complaints"
