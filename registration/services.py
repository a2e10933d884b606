"""Registering classes, withdrawing, staff deletes and prior-year requests.

Each function is one transaction. A refusal is a ``RegistrationRefused`` whose
message the student reads as it is; the database's unique constraints, not
lookups, decide between two requests that race.
"""

from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from articulations.models import Articulation, Class, Consortium
from articulations.school_year import WindowState, school_year_label, start_year_on
from articulations.selectors import year_terms
from articulations.terms import YearTerms
from outbox.services import email_queue
from registration.fee_status import year_account
from registration.models import PriorYearRequest, Registration
from registration.selectors import offered_articulations
from sers.formatting import long_date
from students.models import GRADES, Student


class RegistrationRefused(Exception):
    """A reason a student or staff member can read and act on."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def class_terms(course_class: Class) -> YearTerms:
    return year_terms(course_class.school.consortium, course_class.school_year_id)


def _current_start_year(terms: YearTerms) -> int:
    return start_year_on(terms.today())


def _choose_articulation(course_class: Class, articulation: Articulation | None) -> Articulation:
    offered = offered_articulations(course_class)
    if not offered:
        raise RegistrationRefused(
            f"{course_class.course_name} is not open for registration in "
            f"{course_class.school_year.label}. Choose another class or ask your teacher."
        )
    if articulation is None:
        if len(offered) == 1:
            return offered[0]
        raise RegistrationRefused(
            "Choose the college you want credit from. Credit can come from one college only.",
            field="articulation",
        )
    if articulation not in offered:
        raise RegistrationRefused(
            "Choose one of the colleges this class offers.", field="articulation"
        )
    return articulation


def _check_grade(student: Student, course_class: Class) -> None:
    grade = student.grade_in_school_year(course_class.school_year_id)
    if grade not in GRADES:
        raise RegistrationRefused(
            f"CTE Dual Credit is for students in grades 9 to 12. Your profile puts you in "
            f"grade {grade} in {course_class.school_year.label}. If that is wrong, fix your "
            "graduation year on your profile."
        )


def registration_window_refusal(terms: YearTerms) -> str | None:
    state = terms.registration_state()
    if state == WindowState.NOT_YET_OPEN:
        return (
            f"Registration for {terms.label} opens on {long_date(terms.registration.opens_on)}. "
            "Come back then."
        )
    if state == WindowState.CLOSED:
        return (
            f"Registration for {terms.label} closed on {long_date(terms.registration.closes_on)}. "
            "If you took a class that year, ask for prior-year credit."
        )
    return None


def registration_create(
    *, student: Student, course_class: Class, articulation: Articulation | None = None
) -> Registration:
    """Register ``student`` for a class of the current school year, for one college."""
    terms = class_terms(course_class)
    if course_class.school_year_id != _current_start_year(terms):
        raise RegistrationRefused(
            f"This class is from {course_class.school_year.label}. You can register classes of "
            f"{school_year_label(_current_start_year(terms))} only. For an earlier year, "
            "ask for prior-year credit."
        )
    refusal = registration_window_refusal(terms)
    if refusal:
        raise RegistrationRefused(refusal)
    _check_grade(student, course_class)
    articulation = _choose_articulation(course_class, articulation)
    with transaction.atomic():
        registration = _register(
            student=student, course_class=course_class, articulation=articulation, by=student.user
        )
        _email_registration_confirmed(registration, terms)
    return registration


def _already_registered(course_class: Class) -> RegistrationRefused:
    return RegistrationRefused(
        f"You already registered {course_class.course_name} for {course_class.school_year.label}. "
        "It is on your list of registrations."
    )


def _register(
    *,
    student: Student,
    course_class: Class,
    articulation: Articulation,
    by,
    is_late: bool = False,
    late_fee_waived: bool = False,
) -> Registration:
    """Insert the registration, or bring back one the student withdrew. Call inside atomic()."""
    existing = (
        Registration.objects.select_for_update()
        .filter(student=student, course_class=course_class, school_year=course_class.school_year)
        .first()
    )
    if existing is not None:
        if existing.status == Registration.Status.REGISTERED:
            raise _already_registered(course_class)
        if existing.status == Registration.Status.DELETED:
            raise RegistrationRefused(
                f"Our office removed your registration for {course_class.course_name}. "
                f"If it should be back, email {settings.SERS_CONTACT['email']}."
            )
        existing.status = Registration.Status.REGISTERED
        existing.articulation = articulation
        existing.is_late = is_late
        existing.late_fee_waived = late_fee_waived
        existing.registered_at = timezone.now()
        existing.changed_by = by
        existing.status_reason = ""
        existing.save()
        return existing
    try:
        # A savepoint: when another tab wins the race, only this insert is undone.
        with transaction.atomic():
            return Registration.objects.create(
                student=student,
                course_class=course_class,
                articulation=articulation,
                school_year=course_class.school_year,
                is_late=is_late,
                late_fee_waived=late_fee_waived,
                changed_by=by,
            )
    except IntegrityError:
        raise _already_registered(course_class) from None


def _email_registration_confirmed(registration: Registration, terms: YearTerms) -> None:
    course_class = registration.course_class
    email_queue(
        kind="registration_confirmed",
        to=registration.student.email,
        template="registration_confirmed",
        context={
            "student": registration.student,
            "sers_contact": registration.student.contact,
            "registration": registration,
            "course_name": course_class.course_name,
            "teacher": course_class.teacher.name,
            "school": course_class.school.name,
            "articulation": registration.articulation,
            "terms": terms,
            "registrations_url": settings.SITE_URL + reverse("grading:registrations"),
        },
        # A registration withdrawn and made again is confirmed again.
        unique_key=f"registration_confirmed:{registration.pk}:{registration.registered_at.timestamp()}",
        about=f"student {registration.student.sers_id}",
        consortium_id=registration.student.school.consortium_id,
    )


def registration_withdraw(*, registration: Registration) -> Registration:
    """The student withdraws; allowed until the teacher posts a grade. The fee stays paid."""
    with transaction.atomic():
        registration = Registration.objects.select_for_update().get(pk=registration.pk)
        if not registration.can_be_withdrawn:
            if not registration.is_active:
                raise RegistrationRefused("This registration is already withdrawn.")
            raise RegistrationRefused(
                "Your teacher has posted your grade, so you cannot withdraw any more. "
                f"Email {settings.SERS_CONTACT['email']} if something is wrong."
            )
        registration.status = Registration.Status.WITHDRAWN
        registration.status_reason = "Withdrawn by the student."
        registration.changed_by = registration.student.user
        registration.save(update_fields=["status", "status_reason", "changed_by", "updated_at"])
        # No credit to take back: credit needs a posted grade, and a graded class cannot be
        # withdrawn.
    return registration


def registration_delete_by_staff(*, registration: Registration, staff_user, reason: str) -> bool:
    """Staff remove a wrong registration. It stays in the database and its history.

    Staff call it through ``grading.services.credit.registration_delete``, which also takes
    back any credit the registration had earned, in the same transaction.
    """
    reason = reason.strip()
    if not reason:
        raise RegistrationRefused("Say why the registration is deleted.", field="reason")
    with transaction.atomic():
        registration = Registration.objects.select_for_update().get(pk=registration.pk)
        if registration.status == Registration.Status.DELETED:
            return False
        registration.status = Registration.Status.DELETED
        registration.status_reason = reason
        registration.changed_by = staff_user
        registration.save(update_fields=["status", "status_reason", "changed_by", "updated_at"])
    return True


# --- Prior-year credit ---------------------------------------------------------------------


def prior_year_request_create(
    *, student: Student, course_class: Class, articulation: Articulation | None, note: str
) -> PriorYearRequest:
    terms = class_terms(course_class)
    if course_class.school_year_id >= _current_start_year(terms):
        raise RegistrationRefused(
            "This class is from this school year: register it instead of asking for prior-year credit.",
            field="course_class",
        )
    if not note.strip():
        raise RegistrationRefused(
            "Tell us in a sentence or two why you did not register that year.", field="note"
        )
    _check_grade(student, course_class)
    articulation = _choose_articulation(course_class, articulation)
    if Registration.objects.filter(
        student=student, course_class=course_class, status=Registration.Status.REGISTERED
    ).exists():
        raise _already_registered(course_class)
    try:
        with transaction.atomic():
            return PriorYearRequest.objects.create(
                student=student,
                course_class=course_class,
                articulation=articulation,
                note=note.strip(),
            )
    except IntegrityError:
        raise RegistrationRefused(
            f"You already asked for {course_class.course_name} in {course_class.school_year.label}. "
            "We will email you our decision."
        ) from None


def prior_year_request_approve(
    *, request: PriorYearRequest, staff_user, waive_late_fee: bool = False
) -> bool:
    """Approve: the class is registered for its year, marked late. False if already decided."""
    with transaction.atomic():
        request = PriorYearRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != PriorYearRequest.Status.PENDING:
            return False
        registration = _register(
            student=request.student,
            course_class=request.course_class,
            articulation=request.articulation,
            by=staff_user,
            is_late=True,
            late_fee_waived=waive_late_fee,
        )
        request.status = PriorYearRequest.Status.APPROVED
        request.waive_late_fee = waive_late_fee
        request.registration = registration
        request.decided_by = staff_user
        request.decided_at = timezone.now()
        request.save()
        _email_prior_year_decision(request)
    return True


def prior_year_request_deny(*, request: PriorYearRequest, staff_user, reason: str = "") -> bool:
    with transaction.atomic():
        request = PriorYearRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != PriorYearRequest.Status.PENDING:
            return False
        request.status = PriorYearRequest.Status.DENIED
        request.decision_note = reason.strip()
        request.decided_by = staff_user
        request.decided_at = timezone.now()
        request.save()
        _email_prior_year_decision(request)
    return True


def _email_prior_year_decision(request: PriorYearRequest) -> None:
    course_class = request.course_class
    consortium = course_class.school.consortium
    approved = request.status == PriorYearRequest.Status.APPROVED
    terms = class_terms(course_class)
    email_queue(
        kind="prior_year_decision",
        to=request.student.email,
        template="prior_year_decision",
        context={
            "student": request.student,
            "sers_contact": request.student.contact,
            "request": request,
            "approved": approved,
            "course_name": course_class.course_name,
            "articulation": request.articulation,
            "terms": terms,
            "registrations_url": settings.SITE_URL + reverse("grading:registrations"),
            **(_prior_year_payment(request, consortium) if approved else {}),
        },
        unique_key=f"prior_year_decision:{request.pk}",
        about=f"student {request.student.sers_id}",
        consortium_id=request.student.school.consortium_id,
    )


def _prior_year_payment(request: PriorYearRequest, consortium: Consortium) -> dict:
    """What the approval email says about money: the year's balance now, and where to pay it.

    Read from the ledger inside the approval's transaction, so the class just approved (and
    its late fee) counts, and so does anything already paid or waived for that year.
    """
    account = year_account(request.student, consortium.pk, request.course_class.school_year_id)
    return {
        "owed": max(account.balance, Decimal(0)) if account else Decimal(0),
        "consortium": consortium,
        "mailing_lines": [
            line.strip() for line in consortium.mailing_address.splitlines() if line.strip()
        ],
        "fees_url": settings.SITE_URL + reverse("payments:fees"),
        "parent_pay_url": settings.SITE_URL + reverse("payments:parent_pay"),
    }
