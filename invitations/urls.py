from django.urls import path

from invitations import views

app_name = "invitations"

urlpatterns = [
    path("<uidb64>/<token>/", views.InvitationAcceptView.as_view(), name="accept"),
]
