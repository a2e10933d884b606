"""Every write about students that has a rule: one transaction each."""

import datetime as dt
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from articulations.models import School
from outbox.services import email_queue
from sers.sers_id import random_sers_id
from students.models import Student

# A million IDs and a few hundred thousand students: clashes happen, runs of them don't.
SERS_ID_ATTEMPTS = 20


class AccountError(Exception):
    """A reason a student can read and act on; views show it on the form."""

    field: str | None = None


class UsernameTaken(AccountError):
    field = "username"

    def __init__(self, username: str):
        super().__init__(f"The username {username} is taken. Choose another one.")


class NoFreeSersId(AccountError):
    def __init__(self):
        super().__init__("We could not create your account just now. Please try again.")


def _is_sers_id_clash(error: IntegrityError) -> bool:
    cause = error.__cause__
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None) or ""
    return "sers_id" in constraint or "sers_id" in str(error)


def student_create(
    *,
    username: str,
    password: str,
    email: str,
    legal_first_name: str,
    legal_middle_name: str,
    legal_last_name: str,
    date_of_birth: dt.date,
    expected_graduation_year: int,
    school: School,
    street: str,
    city: str,
    state: str,
    zip_code: str,
    phone: str,
    free_reduced_lunch: bool,
    guardian_name: str = "",
    guardian_email: str = "",
) -> Student:
    """Create the login and the student, with a fresh SERS ID, and mail the welcome."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = get_user_model().objects.create_user(
                    username=username,
                    email=email,
                    password=password,
                    first_name=legal_first_name,
                    last_name=legal_last_name,
                )
        except IntegrityError:
            # Two sign-ups racing for one username: the database decides, the loser is told.
            raise UsernameTaken(username) from None
        student = Student(
            user=user,
            email=email,
            legal_first_name=legal_first_name,
            legal_middle_name=legal_middle_name,
            legal_last_name=legal_last_name,
            date_of_birth=date_of_birth,
            expected_graduation_year=expected_graduation_year,
            school=school,
            street=street,
            city=city,
            state=state,
            zip_code=zip_code,
            phone=phone,
            free_reduced_lunch=free_reduced_lunch,
            guardian_name=guardian_name,
            guardian_email=guardian_email,
        )
        student_insert_with_new_sers_id(student)
        email_queue(
            kind="account_created",
            to=student.email,
            template="account_created",
            context={
                "student": student,
                "username": user.get_username(),
                "sers_contact": student.contact,
                "profile_url": settings.SITE_URL + reverse("students:profile"),
                "login_url": settings.SITE_URL + reverse("login"),
            },
            unique_key=f"account_created:{student.pk}",
            about=f"student {student.sers_id}",
            consortium_id=student.school.consortium_id,
        )
    return student


def student_insert_with_new_sers_id(student: Student) -> None:
    for _ in range(SERS_ID_ATTEMPTS):
        student.sers_id = random_sers_id()
        if _ever_given(student.sers_id):
            continue
        try:
            # A savepoint, so that a clash undoes only this insert, not the whole sign-up.
            with transaction.atomic():
                student.save(force_insert=True)
        except IntegrityError as error:
            if not _is_sers_id_clash(error):
                raise
            student.pk = None
            continue
        return
    raise NoFreeSersId


def _ever_given(sers_id: str) -> bool:
    """Whether the ID ever belonged to a student, one removed since included: an ID is never
    given out twice (a removed record stays in the student's history)."""
    return Student.history.filter(sers_id=sers_id).exists()


def student_set_active(*, student: Student, active: bool) -> bool:
    """Staff close (or reopen) a student's account instead of deleting it: the student can no
    longer log in, and the record, its SERS ID and its history stay. False if unchanged."""
    user = student.user
    if user.is_active == active:
        return False
    user.is_active = active
    user.save(update_fields=["is_active"])
    return True


# What a student may change on their profile besides their grade (the graduation year);
# their SERS ID, legal name and date of birth only staff change. The profile form lists these.
STUDENT_EDITABLE_FIELDS = [
    "email",
    "phone",
    "street",
    "city",
    "state",
    "zip_code",
    "school",
    "free_reduced_lunch",
    "guardian_name",
    "guardian_email",
]


def student_update_profile(*, student: Student, changes: dict) -> Student:
    """Save what a student may change themselves: contact details, grade and school."""
    unknown = set(changes) - {*STUDENT_EDITABLE_FIELDS, "expected_graduation_year"}
    if unknown:
        raise ValueError(f"Students cannot change {', '.join(sorted(unknown))}.")
    with transaction.atomic():
        for field, value in changes.items():
            setattr(student, field, value)
        student.save(update_fields=[*changes, "updated_at"])
        if "email" in changes:
            student_login_email_follow(student=student)
    return student


def student_login_email_follow(*, student: Student) -> None:
    """Give the login the student's email, where password reset links are sent."""
    if student.user.email != student.email:
        student.user.email = student.email
        student.user.save(update_fields=["email"])


def forgot_login_send(*, email: str) -> int:
    """Mail every username and SERS ID registered to ``email``; how many were found.

    The page answers the same whatever this returns: it must not tell a
    stranger whether an address is known.
    """
    students = list(
        Student.objects.filter(email__iexact=email.strip()).select_related("user").order_by("pk")
    )
    if not students:
        return 0
    with transaction.atomic():
        email_queue(
            kind="forgot_login",
            to=students[0].email,
            template="forgot_login",
            context={
                "students": students,
                "sers_contact": students[0].contact,
                "login_url": settings.SITE_URL + reverse("login"),
                "password_reset_url": settings.SITE_URL + reverse("password_reset"),
            },
            # Each request is its own message; the key only stops a double queue of this one.
            unique_key=f"forgot_login:{uuid.uuid4()}",
            about=" ".join(f"student {student.sers_id}" for student in students),
            consortium_id=students[0].school.consortium_id,
        )
    return len(students)


def password_reset_email_queue(*, user) -> None:
    """Mail ``user`` a one-time link to choose a new password (Django's reset flow)."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    reset_url = settings.SITE_URL + reverse(
        "password_reset_confirm", kwargs={"uidb64": uid, "token": token}
    )
    with transaction.atomic():
        email_queue(
            kind="password_reset",
            to=user.email,
            template="password_reset",
            context={"username": user.get_username(), "reset_url": reset_url},
            # The token changes once the password does, so one message per token.
            unique_key=f"password_reset:{uid}:{token}",
            about=f"user {user.get_username()}",
        )
