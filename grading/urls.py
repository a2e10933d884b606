from django.urls import path

from grading import views

app_name = "grading"

urlpatterns = [
    path("registrations/", views.registrations, name="registrations"),
    path("registrations/certificate/<int:start_year>/", views.certificate, name="certificate"),
    path("teacher/", views.teacher_classes, name="teacher_classes"),
    path("teacher/classes/<int:class_id>/", views.roster, name="roster"),
]
