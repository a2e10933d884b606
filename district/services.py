"""Every write the district pages make: the access log, and the login reminder.

District and school staff change no money, grade or registration. What they write is the
record of their own look-ups, and a login reminder mailed to a student's address on file.
Setting up a staff member (consortium staff, in the admin) checks their schools here too.
"""

import uuid
from collections.abc import Iterable

from django.db import IntegrityError, transaction

from articulations.models import School, SchoolDistrict
from district.models import DistrictStaff, StudentLookup
from students.models import Student
from students.services import forgot_login_send

# --- Staff members ------------------------------------------------------------------------------


class DistrictStaffRefused(Exception):
    """A reason consortium staff read on the form: the field it is about, and what to do."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def schools_outside_district_refusal(
    district: SchoolDistrict | None, schools: Iterable[School]
) -> str | None:
    """Why these schools cannot be a staff member's of ``district``; None when they can."""
    if district is None:
        return None
    outside = sorted(school.name for school in schools if school.district_id != district.pk)
    if not outside:
        return None
    return (
        f"{', '.join(outside)} {'is' if len(outside) == 1 else 'are'} not a school of "
        f"{district.name}. Choose schools of {district.name}, or none for the whole district."
    )


def district_staff_save(*, user, district: SchoolDistrict, schools: Iterable[School] = ()):
    """Make ``user`` staff of ``district``, seeing ``schools`` of it (none: the whole district)."""
    schools = list(schools)
    refusal = schools_outside_district_refusal(district, schools)
    if refusal:
        raise DistrictStaffRefused(refusal, field="schools")
    with transaction.atomic():
        staff, _ = DistrictStaff.objects.update_or_create(
            user=user, defaults={"district": district}
        )
        staff.schools.set(schools)
    return staff


# --- The access log -----------------------------------------------------------------------------


def student_lookups_log(
    *, user, students: Iterable[Student], page: StudentLookup.Page, query: str = ""
) -> None:
    """Write one access-log row per student shown: one query however many students."""
    query = query[: StudentLookup._meta.get_field("query").max_length]
    StudentLookup.objects.bulk_create(
        StudentLookup(user=user, student=student, page=page, query=query) for student in students
    )


# --- The login reminder -------------------------------------------------------------------------


class ReminderRefused(Exception):
    """Why no reminder can go out, in words staff read on the page."""


def login_reminder_send(*, user, student: Student, click_id: uuid.UUID) -> bool:
    """Mail the student the forgot-login email (every username and SERS ID registered to the
    email on file, to that address), and log it; one transaction.

    Once per click: ``click_id`` comes from the page's form and is unique in the log, so the
    same click posted twice (a double click, the form sent again) mails once. False then.
    """
    if not student.user.is_active:
        raise ReminderRefused(
            "This student's account is closed, so no login reminder can be sent. "
            "The consortium office can reopen it."
        )
    with transaction.atomic():
        try:
            # A savepoint: a second post of the click undoes only this insert.
            with transaction.atomic():
                StudentLookup.objects.create(
                    user=user,
                    student=student,
                    page=StudentLookup.Page.LOGIN_REMINDER,
                    click_id=click_id,
                )
        except IntegrityError:
            if StudentLookup.objects.filter(click_id=click_id).exists():
                return False
            raise
        forgot_login_send(email=student.email)
    return True
