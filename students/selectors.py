"""Reads about students that pages share."""

from django.http import Http404

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
