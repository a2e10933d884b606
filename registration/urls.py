from django.urls import path

from registration import views

app_name = "registration"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("welcome/", views.welcome, name="welcome"),
    path("profile/", views.profile, name="profile"),
    path("profile/edit/", views.profile_edit, name="profile_edit"),
    path("forgot-login/", views.forgot_login, name="forgot_login"),
]
