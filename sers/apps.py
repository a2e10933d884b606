from django.apps import AppConfig


class SersConfig(AppConfig):
    """The project package as an app: site pages, health check, demo data."""

    name = "sers"
    verbose_name = "SERS"
