from django.urls import path

from registration import views

app_name = "registration"

urlpatterns = [
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/welcome/", views.welcome, name="welcome"),
    path("accounts/profile/", views.profile, name="profile"),
    path("accounts/profile/edit/", views.profile_edit, name="profile_edit"),
    path("accounts/forgot-login/", views.forgot_login, name="forgot_login"),
    path("registrations/", views.registrations, name="registrations"),
    path("registrations/new/", views.register, name="register"),
    path("registrations/prior-year/", views.prior_year, name="prior_year"),
    path("registrations/<int:registration_id>/withdraw/", views.withdraw, name="withdraw"),
    path("registrations/certificate/<int:start_year>/", views.certificate, name="certificate"),
    path("teacher/", views.teacher_classes, name="teacher_classes"),
    path("teacher/classes/<int:class_id>/", views.roster, name="roster"),
    path("registrar/", views.registrar_credits, name="registrar"),
    path("registrar/export.csv", views.registrar_csv, name="registrar_csv"),
    path("registrar/export.xlsx", views.registrar_xlsx, name="registrar_xlsx"),
    path("registrar/batches/<int:batch_id>/", views.registrar_batch_page, name="registrar_batch"),
    path(
        "registrar/batches/<int:batch_id>/download/",
        views.registrar_batch_download,
        name="registrar_batch_download",
    ),
]
