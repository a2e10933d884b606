from django.urls import path

from district import views

app_name = "district"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("students/<str:sers_id>/", views.student, name="student"),
    path("students/<str:sers_id>/login-reminder/", views.login_reminder, name="login_reminder"),
    path("lists/<slug:slug>/", views.student_list, name="list"),
]
