from django.apps import AppConfig


class DistrictConfig(AppConfig):
    name = "district"
    verbose_name = "District and school staff"
