from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from sers import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("articulations/", include("articulations.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
]

admin.site.site_header = "SERS consortium staff"
admin.site.site_title = "SERS admin"
admin.site.index_title = "Catalog, students, registrations and fees"
