from django.urls import path

from credit_lists import views

app_name = "credit_lists"

urlpatterns = [
    path("", views.registrar_credits, name="registrar"),
    path("export.csv", views.registrar_csv, name="registrar_csv"),
    path("export.xlsx", views.registrar_xlsx, name="registrar_xlsx"),
    path("batches/<int:batch_id>/", views.registrar_batch_page, name="registrar_batch"),
    path(
        "batches/<int:batch_id>/download/",
        views.registrar_batch_download,
        name="registrar_batch_download",
    ),
]
