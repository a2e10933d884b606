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
]
