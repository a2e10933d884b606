from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from sers import views
from students import views as students_views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("articulations/", include("articulations.urls")),
    # Consortium staff invite teachers, registrars and district staff: the link to choose a password.
    path("accounts/invitation/", include("invitations.urls")),
    path("accounts/", include("students.urls")),
    # The student's classes followed to credit (/registrations/) and teachers' rosters.
    path("", include("grading.urls")),
    path("registrations/", include("registration.urls")),
    path("registrar/", include("credit_lists.urls")),
    path("payments/", include("payments.urls")),
    path("district/", include("district.urls")),
    path("accounts/login/", students_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password-reset/",
        students_views.PasswordResetView.as_view(),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "SERS consortium staff"
admin.site.site_title = "SERS admin"
admin.site.index_title = "Catalog, students, registrations and fees"
