"""Reads about students that pages share."""

from django.http import Http404
from django.urls import reverse

from students.models import Student


def student_for_user(user) -> Student:
    """The signed-in user's own student record; 404 for anyone who is not a student.

    Every student page starts here, so a student only ever reaches their own rows.
    """
    if not user.is_authenticated:
        raise Http404
    try:
        return Student.objects.select_related("school__district", "user").get(user=user)
    except Student.DoesNotExist:
        raise Http404("This page is for students.") from None


# Where each role's work is, in the order a user with two roles is sent: by URL name, so that
# this app needs none of the apps that own those pages.
LANDINGS = [
    ("student", "grading:registrations"),
    ("teacher", "grading:teacher_classes"),
    ("registrar", "credit_lists:registrar"),
    ("district_staff", "district:home"),
]


def landing_url(user) -> str:
    """Where a user lands after logging in: the page where their work is."""
    for role, url_name in LANDINGS:
        if hasattr(user, role):
            return reverse(url_name)
    if user.is_staff:
        return reverse("admin:index")
    return reverse("home")
