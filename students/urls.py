from django.urls import path

from students import views

app_name = "students"

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("welcome/", views.welcome, name="welcome"),
    path("profile/", views.profile, name="profile"),
    path("profile/edit/", views.profile_edit, name="profile_edit"),
    path("forgot-login/", views.forgot_login, name="forgot_login"),
]
