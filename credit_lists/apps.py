from django.apps import AppConfig


class CreditListsConfig(AppConfig):
    name = "credit_lists"
    verbose_name = "Credit lists for registrars"
