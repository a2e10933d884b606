from django.urls import path

from articulations import views

app_name = "articulations"

urlpatterns = [
    path("", views.search, name="search"),
    path("<int:pk>/", views.detail, name="detail"),
]
