"""Reads for rosters, a student's history of classes and credit, and certificates."""

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse

from articulations.grades import LetterGrade, meets_minimum
from articulations.models import Class, Teacher
from articulations.school_year import WindowState
from articulations.selectors import current_terms, year_terms_many
from articulations.terms import YearTerms
from grading.models import Credit
from registration.fee_status import FeeFacts, FeeState, fee_states
from registration.models import Registration
from sers.formatting import dollars, long_date
from students.models import Student

# --- Registrations ------------------------------------------------------------------------


class StudentStatus:
    """The words a student reads for a registration, the same on every page and email."""

    REGISTERED = "Registered"
    ENROLLED = "Enrolled"
    CREDIT_EARNED = "Graded — credit earned"
    BELOW_MINIMUM = "Graded — below the minimum grade"
    INCOMPLETE = "Graded — incomplete"
    FEE_NOT_SETTLED = "Grade posted — fee not settled"
    WITHDRAWN = "Withdrawn"
    REJECTED = "Not in the class, says your teacher"
    REMOVED = "Removed by our office"


def student_status(registration: Registration, *, has_credit: bool) -> str:
    if registration.status == Registration.Status.DELETED:
        return StudentStatus.REMOVED
    if registration.status == Registration.Status.WITHDRAWN:
        return StudentStatus.WITHDRAWN
    if registration.enrollment == Registration.Enrollment.REJECTED:
        return StudentStatus.REJECTED
    if registration.grade_is_posted:
        if has_credit:
            return StudentStatus.CREDIT_EARNED
        if registration.grade == LetterGrade.INCOMPLETE:
            return StudentStatus.INCOMPLETE
        if not meets_minimum(registration.grade, registration.articulation.minimum_grade):
            return StudentStatus.BELOW_MINIMUM
        return StudentStatus.FEE_NOT_SETTLED
    if registration.enrollment == Registration.Enrollment.CONFIRMED:
        return StudentStatus.ENROLLED
    return StudentStatus.REGISTERED


@dataclass(frozen=True)
class RegistrationLine:
    registration: Registration
    status_word: str
    still_needed: list[str]
    can_withdraw: bool
    credit: Credit | None
    # Why the class can no longer earn credit (its grade), in words; "" while it still can.
    cannot_earn_credit: str = ""


@dataclass(frozen=True)
class SchoolYearRegistrations:
    terms: YearTerms
    lines: list[RegistrationLine]
    owes_late_fee: bool

    @property
    def label(self) -> str:
        return self.terms.label

    @property
    def has_credit(self) -> bool:
        return any(line.credit for line in self.lines)


def registrations_by_year(
    student: Student,
    owed_by_year: Mapping[int, Decimal] = MappingProxyType({}),
    late_fee_years: set[int] = frozenset(),
) -> list[SchoolYearRegistrations]:
    """The student's registrations, newest school year first, with what each still needs.

    ``owed_by_year`` (what is still owed each year: above zero until the fee is paid or
    waived) and ``late_fee_years`` (charged the late fee) come from the fee ledger,
    ``registration.fee_status.fee_facts``: the fee rules live in payments only.

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
            "credit__college",
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
                lines=[
                    _line(registration, year_terms, owed=owed_by_year.get(start_year, Decimal(0)))
                    for registration in year_registrations
                ],
                owes_late_fee=start_year in late_fee_years,
            )
        )
    return groups


def _credit_of(registration: Registration) -> Credit | None:
    try:
        return registration.credit
    except Credit.DoesNotExist:
        return None


def _line(registration: Registration, terms: YearTerms, *, owed: Decimal) -> RegistrationLine:
    credit = _credit_of(registration)
    articulation = registration.articulation
    minimum = articulation.get_minimum_grade_display()
    still_needed = []
    cannot_earn_credit = ""
    in_class = (
        registration.is_active and registration.enrollment != Registration.Enrollment.REJECTED
    )
    grade = registration.grade
    if in_class and grade == LetterGrade.WITHDRAWN:
        cannot_earn_credit = "Your teacher posted W (withdrawn), so this class cannot earn credit."
    elif (
        in_class
        and registration.grade_is_posted
        and grade != LetterGrade.INCOMPLETE
        and not meets_minimum(grade, articulation.minimum_grade)
    ):
        # Paying would not change this: no fee item, but the reason in plain words.
        cannot_earn_credit = (
            f"Your grade {grade} is below the {minimum} this college credit needs, "
            "so this class cannot earn credit."
        )
    if in_class and not cannot_earn_credit and owed > 0:
        still_needed.append(
            f"The {terms.label} fee paid ({dollars(owed)} still owed), or a fee waiver"
        )
    if in_class and not registration.grade_is_posted:
        still_needed.append(f"Your final grade: {minimum} or better")
    elif in_class and grade == LetterGrade.INCOMPLETE:
        # An incomplete is not final: the class can still earn credit once it is finished.
        still_needed.append(
            f"Your final grade: {minimum} or better. Your teacher posted I (incomplete): "
            "when you finish the class, your teacher posts your final grade."
        )
    return RegistrationLine(
        registration=registration,
        status_word=student_status(registration, has_credit=credit is not None),
        still_needed=still_needed,
        can_withdraw=registration.can_be_withdrawn,
        credit=credit,
        cannot_earn_credit=cannot_earn_credit,
    )


def credits_for_certificate(student: Student, start_year: int) -> list[Credit]:
    """The student's own credit of a school year: at most two queries, however many credits.

    404 for a school year the student registered no class in (the years "My registrations"
    lists): there is no certificate to show. A year with registrations but no credit yet
    shows an empty certificate that says how credit is earned.
    """
    credits = list(
        Credit.objects.filter(student=student, school_year_id=start_year)
        .select_related(
            "college",
            "registration__course_class__school__consortium",
            "registration__articulation",
        )
        .order_by("college__name", "college_course")
    )
    if (
        not credits
        and not Registration.objects.filter(student=student, school_year_id=start_year).exists()
    ):
        raise Http404("You registered no classes that school year.")
    return credits


# --- Teachers: their classes and rosters ---------------------------------------------------


def teacher_for_user(user) -> Teacher:
    """The signed-in user's own teacher record; 404 for anyone who is not a teacher.

    Every teacher page starts here, so a teacher only ever reaches their own classes.
    """
    if not user.is_authenticated:
        raise Http404
    try:
        # Through the user, so the page header's ``user.teacher`` asks nothing more.
        return user.teacher
    except Teacher.DoesNotExist:
        raise Http404("This page is for teachers.") from None


def teacher_classes(teacher: Teacher, start_year: int) -> list[Class]:
    """The teacher's classes of a school year, each with its roster counted in the same query.

    ``registered``: students registered (not withdrawn or deleted); ``confirmed``: of
    those, the ones the teacher marked enrolled; ``graded``: those with a grade posted.
    """
    registered = Q(registrations__status=Registration.Status.REGISTERED)
    return list(
        Class.objects.filter(teacher=teacher, school_year_id=start_year)
        .select_related("school__consortium", "school_year")
        .prefetch_related("articulations")
        .annotate(
            registered_count=Count("registrations", filter=registered),
            confirmed_count=Count(
                "registrations",
                filter=registered & Q(registrations__enrollment=Registration.Enrollment.CONFIRMED),
            ),
            # Posted grades are never "": greater than "" is "has a grade".
            graded_count=Count("registrations", filter=registered & Q(registrations__grade__gt="")),
        )
        .order_by("school__name", "term", "period", "pk")
    )


def teacher_classes_still_grading(teacher: Teacher, start_year: int) -> list[Class]:
    """The teacher's classes of ``start_year`` whose grading deadline has not passed.

    A school year ends June 30 but its grading may run into the summer: after July 1
    these classes are still the teacher's to grade, though "My classes" shows the new year.
    """
    classes = teacher_classes(teacher, start_year)
    terms = year_terms_many(
        (course_class.school.consortium, start_year) for course_class in classes
    )
    return [
        course_class
        for course_class in classes
        if terms[(course_class.school.consortium_id, start_year)].grading_is_open()
    ]


def teacher_class(teacher: Teacher, class_id: int) -> Class:
    """One of the teacher's own classes; 404 for anyone else's."""
    return get_object_or_404(
        Class.objects.select_related(
            "school__consortium", "school_year", "teacher__user"
        ).prefetch_related("articulations"),
        pk=class_id,
        teacher=teacher,
    )


@dataclass(frozen=True)
class RosterLine:
    """One student on a class roster, with the words the teacher reads about them."""

    registration: Registration
    grade_level: int
    fee_state: str
    status_word: str

    @property
    def student(self) -> Student:
        return self.registration.student


def roster_lines(course_class: Class) -> list[RosterLine]:
    """Every student registered in the class, by name, in a fixed number of queries.

    One query for the registrations with their students, college courses and credit
    records; the fee states come from ``registration.fee_status.fee_states`` in bulk.
    """
    registrations = list(
        Registration.objects.filter(
            course_class=course_class, status=Registration.Status.REGISTERED
        )
        .select_related("student", "articulation", "credit")
        .order_by("student__legal_last_name", "student__legal_first_name", "pk")
    )
    fees = fee_states(
        [registration.student for registration in registrations], course_class.school_year_id
    )
    return [
        RosterLine(
            registration=registration,
            grade_level=registration.student.grade_in_school_year(course_class.school_year_id),
            fee_state=fees.get(registration.student_id, FeeState.UNPAID).label,
            # select_related caches a missing credit: hasattr asks the database nothing.
            status_word=student_status(registration, has_credit=hasattr(registration, "credit")),
        )
        for registration in registrations
    ]


@dataclass(frozen=True)
class NextStep:
    """One thing a student should know or do now, with where to do it."""

    text: str
    url: str = ""
    link_text: str = ""


def next_steps(
    student: Student, years: list[SchoolYearRegistrations], facts: FeeFacts
) -> list[NextStep]:
    """What the student's dashboard says to do next, most urgent first, from what the history
    page already read (no query of its own but the consortium's terms for this year)."""
    terms = current_terms(student.school.consortium)
    this_year = next((y for y in years if y.terms.start_year == terms.start_year), None)
    steps = []
    has_class_this_year = this_year is not None and any(
        line.registration.is_active for line in this_year.lines
    )
    if not has_class_this_year:
        steps.append(_register_step(terms))
    for year in years:
        start_year = year.terms.start_year
        if start_year in facts.processing_years:
            steps.append(
                NextStep(
                    f"Your {year.label} payment is processing. Nothing to do: we email a "
                    "receipt when it arrives.",
                    reverse("payments:fees"),
                    "See my fees",
                )
            )
        elif facts.owed_by_year.get(start_year, 0) > 0:
            owed = dollars(facts.owed_by_year[start_year])
            steps.append(
                NextStep(
                    f"Pay the {year.label} fee: {owed} still owed, or ask for a fee waiver.",
                    reverse("payments:fees"),
                    "Pay or ask for a waiver",
                )
            )
    waiting = [
        line
        for year in years
        for line in year.lines
        if line.registration.is_active and not line.registration.grade_is_posted
    ]
    if waiting:
        classes = "1 class" if len(waiting) == 1 else f"{len(waiting)} classes"
        steps.append(NextStep(f"Waiting for your teacher to post the final grade in {classes}."))
    for year in years:
        if year.has_credit:
            steps.append(
                NextStep(
                    f"You earned college credit in {year.label}.",
                    reverse("grading:certificate", args=[year.terms.start_year]),
                    "See my certificate",
                )
            )
    return steps


def _register_step(terms: YearTerms) -> NextStep:
    state = terms.registration_state()
    if state == WindowState.OPEN:
        return NextStep(
            f"Register your classes for {terms.label} by "
            f"{long_date(terms.registration.closes_on)}.",
            reverse("registration:register"),
            "Register a class",
        )
    if state == WindowState.NOT_YET_OPEN:
        return NextStep(
            f"Registration for {terms.label} opens on {long_date(terms.registration.opens_on)}."
        )
    return NextStep(
        f"Registration for {terms.label} closed on {long_date(terms.registration.closes_on)}. "
        "Took a class and did not register? Ask for prior-year credit.",
        reverse("registration:prior_year"),
        "Ask for prior-year credit",
    )
