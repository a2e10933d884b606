"""The credit rule, and the one function that writes credit records.

A registration earns college credit when all hold: its grade is at or above
the articulation's minimum (B by default: B- does not qualify; I and W never
do), its school year's fee is paid or waived, and it is neither withdrawn,
deleted nor rejected by the teacher. Whatever changes one of these (a grade,
a payment, a waiver, a registration) calls ``credit_evaluate`` again.
"""

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from articulations.grades import meets_minimum
from grading.models import Credit
from outbox.services import email_queue
from registration.fee_status import settled_years
from registration.models import Registration
from registration.services import registration_delete_by_staff
from students.models import Student


def earns_credit(
    *, grade: str, minimum_grade: str, fee_settled: bool, status: str, enrollment: str
) -> bool:
    """The rule itself, on plain values, so every case can be shown in a table."""
    return (
        status == Registration.Status.REGISTERED
        and enrollment != Registration.Enrollment.REJECTED
        and meets_minimum(grade, minimum_grade)
        and fee_settled
    )


def credit_evaluate(
    *, registration: Registration, fee_settled: bool | None = None
) -> Credit | None:
    """Bring the registration's credit record in line with the rule; the record, or None."""
    if fee_settled is None:
        fee_settled = registration.school_year_id in settled_years(registration.student)
    articulation = registration.articulation
    earned = earns_credit(
        grade=registration.grade,
        minimum_grade=articulation.minimum_grade,
        fee_settled=fee_settled,
        status=registration.status,
        enrollment=registration.enrollment,
    )
    with transaction.atomic():
        credit = Credit.objects.select_for_update().filter(registration=registration).first()
        if not earned:
            if credit is not None:
                credit.delete()  # kept in the credit's history
            return None
        fields = _credit_fields(registration)
        if credit is not None:
            _credit_update(credit, fields)
            return credit
        credit = Credit.objects.create(
            registration=registration, earned_on=timezone.localdate(), **fields
        )
        _email_credit_earned(credit, registration)
    return credit


def _credit_fields(registration: Registration) -> dict:
    """What a credit records of its registration: the college's course as it was awarded."""
    articulation = registration.articulation
    return {
        "student_id": registration.student_id,
        "college_id": articulation.college_id,
        "school_year_id": registration.school_year_id,
        "college_course": articulation.college_course,
        "college_course_title": articulation.college_course_title,
        "college_credits": articulation.college_credits,
        "grade": registration.grade,
    }


def _credit_update(credit: Credit, fields: dict) -> None:
    """A new grade, or staff moving the registration to another student, class or college."""
    changed = [name for name, value in fields.items() if getattr(credit, name) != value]
    if not changed:
        return
    if "college_id" in changed and credit.exported_batch_id is not None:
        # The old college's registrar had it; the new college's has not yet.
        credit.exported_batch = None
        changed.append("exported_batch")
    for name, value in fields.items():
        setattr(credit, name, value)
    credit.save(update_fields=changed)


def credit_reevaluate_year(
    *, student: Student, start_year: int, fee_settled: bool | None = None
) -> None:
    """After a payment or a waiver: every registration of that year, against the new fee state
    (``fee_settled`` when the caller has just read the ledger, so it is not read again)."""
    if fee_settled is None:
        fee_settled = start_year in settled_years(student)
    registrations = Registration.objects.filter(
        student=student, school_year_id=start_year
    ).select_related("articulation__college", "student")
    for registration in registrations:
        credit_evaluate(registration=registration, fee_settled=fee_settled)


def _email_credit_earned(credit: Credit, registration: Registration) -> None:
    student = registration.student
    email_queue(
        kind="credit_earned",
        to=student.email,
        template="credit_earned",
        context={
            "student": student,
            "credit": credit,
            "sers_contact": student.contact,
            "course_name": registration.articulation.hs_course_name,
            "college": credit.college.name,
            "certificate_url": settings.SITE_URL
            + reverse("grading:certificate", args=[credit.school_year_id]),
        },
        unique_key=f"credit_earned:{credit.pk}",
        about=f"student {student.sers_id}",
        consortium_id=student.school.consortium_id,
    )


def registration_delete(*, registration: Registration, staff_user, reason: str) -> bool:
    """Staff delete a wrong registration, and any credit it earned goes with it (kept in
    history). False if it was deleted already. One transaction."""
    with transaction.atomic():
        deleted = registration_delete_by_staff(
            registration=registration, staff_user=staff_user, reason=reason
        )
        if deleted:
            credit_evaluate(registration=Registration.objects.get(pk=registration.pk))
    return deleted
