"""Payments test helpers: a registered student and the year's account."""

from registration.services.registrations import registration_create
from registration.tests.helpers import at, one_college_class, student_at

FEBRUARY = (2027, 2, 1, 10, 0)


def registered_student(*, course_class=None, **student_fields):
    """A student registered for a 2026-27 class (the window is open in February 2027)."""
    course_class = course_class or one_college_class()
    student = student_at(course_class.school, **student_fields)
    with at(*FEBRUARY):
        registration_create(student=student, course_class=course_class)
    return student, course_class.school.consortium
