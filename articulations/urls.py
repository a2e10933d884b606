from django.urls import path

app_name = "articulations"

urlpatterns: list = []
