from django.urls import path

from registration import views

app_name = "registration"

urlpatterns = [
    path("new/", views.register, name="register"),
    path("prior-year/", views.prior_year, name="prior_year"),
    path("<int:registration_id>/withdraw/", views.withdraw, name="withdraw"),
]
