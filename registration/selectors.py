"""Reads about students that pages share."""

from dataclasses import dataclass

from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import get_object_or_404

from articulations.models import Articulation, Class, School
from articulations.selectors import YearTerms, year_terms_many
from registration.models import PriorYearRequest, Registration, Student
from sers.formatting import dollars


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


# --- Registrations ------------------------------------------------------------------------

STATUS_WORDS = {
    Registration.Status.REGISTERED: "Registered",
    Registration.Status.WITHDRAWN: "Withdrawn",
    Registration.Status.DELETED: "Removed by our office",
}


@dataclass(frozen=True)
class RegistrationLine:
    registration: Registration
    status_word: str
    still_needed: list[str]
    can_withdraw: bool


@dataclass(frozen=True)
class SchoolYearRegistrations:
    terms: YearTerms
    lines: list[RegistrationLine]
    owes_late_fee: bool

    @property
    def label(self) -> str:
        return self.terms.label


def registrations_by_year(student: Student) -> list[SchoolYearRegistrations]:
    """The student's registrations, newest school year first, with what each still needs.

    A fixed number of queries however many rows: one for the registrations with
    everything a line shows, one for the years' fee and date overrides.
    """
    registrations = list(
        Registration.objects.filter(student=student)
        .select_related(
            "school_year",
            "articulation__college",
            "course_class__school__consortium",
            "course_class__teacher__user",
        )
        .order_by("-school_year_id", "registered_at", "pk")
    )
    terms = year_terms_many(
        (registration.course_class.school.consortium, registration.school_year_id)
        for registration in registrations
    )
    years: dict[int, list[Registration]] = {}
    for registration in registrations:
        years.setdefault(registration.school_year_id, []).append(registration)
    groups = []
    for start_year, year_registrations in years.items():
        first = year_registrations[0]
        year_terms = terms[(first.course_class.school.consortium_id, start_year)]
        groups.append(
            SchoolYearRegistrations(
                terms=year_terms,
                lines=[_line(registration, year_terms) for registration in year_registrations],
                owes_late_fee=any(
                    _owes_late_fee(registration) for registration in year_registrations
                ),
            )
        )
    return groups


def _owes_late_fee(registration: Registration) -> bool:
    return registration.is_active and registration.is_late and not registration.late_fee_waived


def _line(registration: Registration, terms: YearTerms) -> RegistrationLine:
    still_needed = []
    if registration.is_active:
        still_needed.append(
            f"The {terms.label} fee ({dollars(terms.consortium_fee)}) paid, or a fee waiver"
        )
        if not registration.grade_is_posted:
            still_needed.append(
                f"Your final grade: {registration.articulation.get_minimum_grade_display()} or better"
            )
    return RegistrationLine(
        registration=registration,
        status_word=STATUS_WORDS[registration.status],
        still_needed=still_needed,
        can_withdraw=registration.is_active and not registration.grade_is_posted,
    )


def late_fee_years(student: Student) -> set[int]:
    """School years that owe the late fee: once per year, however many late classes."""
    return set(
        Registration.objects.filter(
            student=student,
            status=Registration.Status.REGISTERED,
            is_late=True,
            late_fee_waived=False,
        ).values_list("school_year_id", flat=True)
    )


def registration_of_student(student: Student, registration_id: int) -> Registration:
    """One of the student's own registrations; 404 for anyone else's."""
    return get_object_or_404(
        Registration.objects.select_related(
            "articulation__college", "course_class__school", "course_class__teacher__user"
        ),
        pk=registration_id,
        student=student,
    )


def open_prior_year_requests(student: Student) -> list[PriorYearRequest]:
    return list(
        PriorYearRequest.objects.filter(student=student, status=PriorYearRequest.Status.PENDING)
        .select_related(
            "articulation__college", "course_class__school", "course_class__school_year"
        )
        .order_by("created_at")
    )


def classes_open_for_registration(school: School, start_year: int) -> list[Class]:
    """The school's classes of that year with at least one active articulation, ready to show."""
    return list(
        Class.objects.filter(school=school, school_year_id=start_year)
        .filter(articulations__status=Articulation.Status.ACTIVE)
        .distinct()
        .select_related("teacher__user", "school_year")
        .prefetch_related(
            Prefetch(
                "articulations",
                queryset=Articulation.objects.filter(status=Articulation.Status.ACTIVE)
                .select_related("college")
                .order_by("college__name"),
            )
        )
        .order_by("period", "pk")
    )


def prior_years_with_classes(school: School, *, before: int) -> list[int]:
    """Earlier school years in which the school had articulated classes, newest first."""
    return list(
        Class.objects.filter(school=school, school_year_id__lt=before)
        .values_list("school_year_id", flat=True)
        .distinct()
        .order_by("-school_year_id")
    )
