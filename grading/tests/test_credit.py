"""The credit rule, and credit that follows grades, payments, waivers and registrations."""

import datetime as dt
import itertools
from decimal import Decimal

import pytest
from django.core import mail

from articulations.grades import LetterGrade
from grading.models import Credit
from grading.selectors import StudentStatus, registrations_by_year
from grading.services.credit import earns_credit, registration_delete
from grading.services.teaching import (
    RosterEntry,
    grade_set_by_staff,
    grades_import,
    grades_import_preview,
    roster_save,
)
from payments.models import Payment, Waiver
from payments.services.offline import payment_record_offline
from payments.services.waivers import waiver_grant, waiver_request
from payments.tests.helpers import FEBRUARY, registered_student
from registration.models import Registration
from registration.services import RegistrationRefused
from registration.tests.helpers import at

ALL_GRADES = [grade.value for grade in LetterGrade]
QUALIFYING = {
    "B": {"A", "A-", "B+", "B"},
    "C": {"A", "A-", "B+", "B", "B-", "C+", "C"},
}
STATUSES = [
    (Registration.Status.REGISTERED, Registration.Enrollment.CONFIRMED, True),
    (Registration.Status.REGISTERED, Registration.Enrollment.UNCONFIRMED, True),
    (Registration.Status.REGISTERED, Registration.Enrollment.REJECTED, False),
    (Registration.Status.WITHDRAWN, Registration.Enrollment.CONFIRMED, False),
    (Registration.Status.DELETED, Registration.Enrollment.CONFIRMED, False),
]


@pytest.mark.parametrize(
    ("minimum", "grade", "fee_settled", "status"),
    list(itertools.product(["B", "C"], ALL_GRADES, [True, False], STATUSES)),
)
def test_the_credit_rule(minimum, grade, fee_settled, status):
    status_value, enrollment, counts = status
    expected = grade in QUALIFYING[minimum] and fee_settled and counts

    assert (
        earns_credit(
            grade=grade,
            minimum_grade=minimum,
            fee_settled=fee_settled,
            status=status_value,
            enrollment=enrollment,
        )
        is expected
    )


def test_b_minus_does_not_meet_b_and_i_and_w_never_count():
    for grade in ("B-", "I", "W"):
        assert not earns_credit(
            grade=grade,
            minimum_grade="B",
            fee_settled=True,
            status="registered",
            enrollment="confirmed",
        )


needs_db = pytest.mark.django_db


@pytest.fixture
def february():
    with at(*FEBRUARY):
        yield


def graded(student, grade="A"):
    registration = Registration.objects.get(student=student)
    roster_save(
        teacher=registration.course_class.teacher,
        course_class=registration.course_class,
        entries=[RosterEntry(registration.pk, Registration.Enrollment.CONFIRMED, grade)],
    )
    registration.refresh_from_db()
    return registration


def status_of(student):
    (year,) = registrations_by_year(student)
    return year.lines[0]


def pay(student, consortium, staff):
    return payment_record_offline(
        student=student,
        consortium_id=consortium.pk,
        start_year=2026,
        method=Payment.Method.CHECK,
        payer="Parent",
        reference="4242",
        amount=Decimal("50.00"),
        received_on=dt.date(2027, 2, 1),
        staff_user=staff,
    )


@needs_db
def test_a_late_payment_after_the_grade_earns_the_credit_then(
    february, admin_user, django_capture_on_commit_callbacks
):
    student, consortium = registered_student()
    registration = graded(student, "A")
    assert not Credit.objects.exists()
    assert status_of(student).status_word == StudentStatus.FEE_NOT_SETTLED

    with django_capture_on_commit_callbacks(execute=True):
        pay(student, consortium, admin_user)

    credit = Credit.objects.get(registration=registration)
    articulation = registration.articulation
    assert credit.college == articulation.college
    assert credit.college_course == articulation.college_course
    assert credit.college_credits == articulation.college_credits
    assert credit.grade == "A"
    assert credit.earned_on == dt.date(2027, 2, 1)
    earned = [message for message in mail.outbox if "You earned college credit" in message.subject]
    assert len(earned) == 1
    assert articulation.college_course in earned[0].body


@needs_db
def test_a_granted_waiver_earns_the_credit(february, admin_user):
    student, consortium = registered_student(free_reduced_lunch=True)
    graded(student, "B")
    waiver = waiver_request(
        student=student,
        consortium_id=consortium.pk,
        start_year=2026,
        reason=Waiver.Reason.FREE_REDUCED_LUNCH,
    )

    waiver_grant(waiver=waiver, staff_user=admin_user)

    assert Credit.objects.filter(student=student).exists()
    assert status_of(student).status_word == StudentStatus.CREDIT_EARNED


@needs_db
def test_a_grade_lowered_by_staff_removes_the_credit_and_raising_it_brings_it_back(
    february, admin_user
):
    student, consortium = registered_student()
    pay(student, consortium, admin_user)
    registration = graded(student, "B+")
    assert Credit.objects.filter(registration=registration).exists()

    grade_set_by_staff(registration=registration, grade="B-", staff_user=admin_user)
    assert not Credit.objects.filter(registration=registration).exists()
    assert status_of(student).status_word == StudentStatus.BELOW_MINIMUM

    grade_set_by_staff(registration=registration, grade="A-", staff_user=admin_user)
    assert Credit.objects.get(registration=registration).grade == "A-"


@needs_db
def test_deleting_a_registration_removes_its_credit(february, admin_user):
    student, consortium = registered_student()
    pay(student, consortium, admin_user)
    registration = graded(student, "A")

    registration_delete(registration=registration, staff_user=admin_user, reason="Wrong student")

    assert not Credit.objects.exists()
    assert Credit.history.filter(registration_id=registration.pk).exists()


@needs_db
def test_the_statuses_a_student_reads(february, admin_user):
    student, consortium = registered_student()
    assert status_of(student).status_word == StudentStatus.REGISTERED

    registration = Registration.objects.get(student=student)
    roster_save(
        teacher=registration.course_class.teacher,
        course_class=registration.course_class,
        entries=[RosterEntry(registration.pk, Registration.Enrollment.CONFIRMED, "")],
    )
    assert status_of(student).status_word == StudentStatus.ENROLLED


@needs_db
@pytest.mark.parametrize(
    ("when", "allowed"), [((2027, 6, 25, 23, 30), True), ((2027, 6, 26, 0, 30), False)]
)
def test_teachers_post_grades_until_the_grading_deadline(admin_user, when, allowed):
    student, _ = registered_student()
    registration = Registration.objects.get(student=student)

    with at(*when):
        entries = [RosterEntry(registration.pk, Registration.Enrollment.CONFIRMED, "A")]
        if allowed:
            roster_save(
                teacher=registration.course_class.teacher,
                course_class=registration.course_class,
                entries=entries,
            )
        else:
            with pytest.raises(
                RegistrationRefused, match="Grades for 2026-27 closed on June 25, 2027"
            ):
                roster_save(
                    teacher=registration.course_class.teacher,
                    course_class=registration.course_class,
                    entries=entries,
                )

    registration.refresh_from_db()
    assert (registration.grade == "A") is allowed
    if not allowed:
        # Staff can still change it after the deadline.
        with at(*when):
            grade_set_by_staff(registration=registration, grade="B", staff_user=admin_user)
        registration.refresh_from_db()
        assert registration.grade == "B"


@needs_db
def test_a_teacher_cannot_save_another_teachers_roster(february):
    student, _ = registered_student()
    other, _ = registered_student()
    registration = Registration.objects.get(student=student)
    stranger = Registration.objects.get(student=other).course_class.teacher

    with pytest.raises(RegistrationRefused, match="not one of your classes"):
        roster_save(
            teacher=stranger,
            course_class=registration.course_class,
            entries=[RosterEntry(registration.pk, Registration.Enrollment.CONFIRMED, "A")],
        )


@needs_db
def test_the_grade_import_preview_lists_each_row_and_one_bad_row_imports_nothing(
    february, admin_user
):
    first, _ = registered_student()
    second, _ = registered_student()
    first_class = Registration.objects.get(student=first).course_class_id
    second_class = Registration.objects.get(student=second).course_class_id
    csv_text = (
        "sers_id,class,grade\n"
        f"{first.sers_id.lower()},{first_class},a-\n"
        f"{second.sers_id},{second_class},Z\n"
        f"TP3-00-0000,{second_class},B\n"
    )

    rows = grades_import_preview(csv_text)

    assert [row.ok for row in rows] == [True, False, False]
    assert "Z is not a grade" in rows[1].errors[0]
    assert "No student has SERS ID TP3-00-0000" in rows[2].errors[0]
    with pytest.raises(RegistrationRefused, match="Nothing was imported: 2 row"):
        grades_import(csv_text=csv_text, staff_user=admin_user)
    assert not Registration.objects.exclude(grade="").exists()

    good = (
        "\ufeffsers_id,class,grade\n"
        + f"{first.sers_id},{first_class},A-\n{second.sers_id},{second_class},B\n"
    )
    assert grades_import(csv_text=good, staff_user=admin_user) == 2
    assert set(Registration.objects.values_list("grade", flat=True)) == {"A-", "B"}


@needs_db
def test_staff_moving_a_registration_to_the_other_college_moves_its_credit(
    february, admin_client, admin_user
):
    from credit_lists.models import ExportBatch
    from registration.services import registration_create
    from registration.tests.helpers import student_at, two_college_class

    course_class = two_college_class()
    first, second = course_class.articulations.order_by("college_course_number")
    student = student_at(course_class.school)
    registration_create(student=student, course_class=course_class, articulation=first)
    registration = graded(student, "A")
    pay(student, course_class.school.consortium, admin_user)
    credit = Credit.objects.get()
    assert credit.college == first.college
    credit.exported_batch = ExportBatch.objects.create(college=first.college, format="csv")
    credit.save()

    url = f"/admin/registration/registration/{registration.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(articulation=second.pk, enrollment=registration.enrollment, grade="A")
    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    credit.refresh_from_db()
    assert credit.college == second.college
    assert credit.college_course == second.college_course
    assert credit.exported_batch is None  # the new college's registrar has not had it
