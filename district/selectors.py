"""Which schools and students a district user may see: the one place that says it.

Every ``/district/`` page starts with ``district_scope`` (the staff member and their
schools) and reads students only through ``DistrictScope.students``: a student is seen
when the student's own school (``Student.school``) is one of the staff member's schools,
the chosen ones or, when none is chosen, every school of their district. Anyone else's
student is a 404, the same answer as a SERS ID nobody has.

Fee states come from the ledger (``payments.selectors``), status words from
``grading.selectors``: this app only reads. Each page asks a fixed number of queries
however many rows it shows.
"""

import re
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from articulations.models import School
from articulations.school_year import school_year_label
from articulations.selectors import current_terms
from articulations.terms import YearTerms
from district.models import DistrictStaff
from grading.models import Credit
from grading.selectors import student_status
from payments.models import Waiver
from payments.selectors import FeeState, YearAccount, fee_states, year_accounts
from registration.models import Registration
from sers.sers_id import InvalidSersId, parse_sers_id
from students.models import Student

# --- Who sees what ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DistrictScope:
    """A staff member and the schools whose students they see, by name."""

    staff: DistrictStaff
    schools: tuple[School, ...]
    # Chosen schools rather than the whole district.
    limited: bool

    @property
    def district(self):
        return self.staff.district

    @property
    def school_ids(self) -> list[int]:
        return [school.pk for school in self.schools]

    @property
    def name(self) -> str:
        """Whose data the pages show: "Bellevue School District", or its chosen schools."""
        if not self.limited:
            return self.district.name
        names = [school.name for school in self.schools] or ["No school"]
        return f"{', '.join(names)} ({self.district.name})"

    def students(self) -> QuerySet[Student]:
        """Every student this staff member may see: the one filter every page goes through."""
        return Student.objects.filter(school_id__in=self.school_ids)


def district_scope(user) -> DistrictScope | None:
    """The signed-in user's scope, or None for anyone who is not district or school staff.

    Two queries: the staff record with its district and consortium, and the schools.
    """
    if not user.is_authenticated:
        return None
    staff = DistrictStaff.objects.select_related("district__consortium").filter(user=user).first()
    if staff is None:
        return None
    # The page header asks ``user.district_staff``: give it the row just read.
    user.district_staff = staff
    chosen = DistrictStaff.schools.through.objects.filter(
        districtstaff=staff, school=OuterRef("pk")
    )
    # The district's schools and any chosen ones, in one query. A chosen school of another
    # district (the admin refuses one; this is the belt to its braces) is never seen, and
    # does not turn "some schools" into "the whole district" either.
    rows = list(
        School.objects.filter(Q(district_id=staff.district_id) | Q(district_staff=staff))
        .annotate(chosen=Exists(chosen))
        .distinct()
        .order_by("name", "pk")
    )
    limited = any(school.chosen for school in rows)
    schools = tuple(
        school
        for school in rows
        if school.district_id == staff.district_id and (school.chosen or not limited)
    )
    return DistrictScope(staff=staff, schools=schools, limited=limited)


def this_year(scope: DistrictScope) -> YearTerms:
    """The school year under way today where the district is."""
    return current_terms(scope.district.consortium)


def year_choices(terms: YearTerms, years_back: int = 4) -> list[tuple[int, str]]:
    """This school year and the few before it, for the lists' year filter."""
    return [
        (start_year, school_year_label(start_year))
        for start_year in range(terms.start_year, terms.start_year - years_back - 1, -1)
    ]


# --- Finding a student ------------------------------------------------------------------------

SEARCH_RESULTS_SHOWN = 50


@dataclass(frozen=True)
class SearchResults:
    students: list[Student]
    # More students matched than are shown: the person should type more.
    more: bool


def student_search(scope: DistrictScope, text: str) -> SearchResults:
    """The scope's students matching ``text``: one query however many match.

    A SERS ID typed any way (``tp3 07 4412``) matches exactly; an email address matches the
    email on file; anything else matches a username exactly, or names: every word typed
    must be part of the first, middle or last name ("lopez maya", "Lopez, M").
    """
    rows = list(
        scope.students()
        .filter(_search_filter(text))
        .select_related("school", "user")
        .order_by("legal_last_name", "legal_first_name", "pk")[: SEARCH_RESULTS_SHOWN + 1]
    )
    return SearchResults(
        students=rows[:SEARCH_RESULTS_SHOWN], more=len(rows) > SEARCH_RESULTS_SHOWN
    )


def _search_filter(text: str) -> Q:
    text = " ".join(text.split())
    try:
        return Q(sers_id=parse_sers_id(text))
    except InvalidSersId:
        pass
    if "@" in text:
        return Q(email__iexact=text)
    names = Q()
    for word in re.split(r"[\s,]+", text):
        if word:
            names &= (
                Q(legal_first_name__icontains=word)
                | Q(legal_middle_name__icontains=word)
                | Q(legal_last_name__icontains=word)
            )
    return Q(user__username__iexact=text) | names


def student_of_scope(scope: DistrictScope, sers_id: str) -> Student:
    """One student of the scope by SERS ID; 404 for anyone else's and for nobody's alike."""
    try:
        sers_id = parse_sers_id(sers_id)
    except InvalidSersId:
        raise Http404 from None
    return get_object_or_404(
        scope.students().select_related("school__district", "user"), sers_id=sers_id
    )


# --- A student's record -----------------------------------------------------------------------


@dataclass(frozen=True)
class ClassLine:
    registration: Registration
    status_word: str

    @property
    def course_name(self) -> str:
        # The registration's college course is one articulation of the class's course.
        return self.registration.articulation.hs_course_name


@dataclass(frozen=True)
class StudentRecord:
    student: Student
    terms: YearTerms
    classes: list[ClassLine]
    accounts: list[YearAccount]

    @property
    def grade_level(self) -> int:
        return self.student.grade_in_school_year(self.terms.start_year)


def student_record(scope: DistrictScope, student: Student) -> StudentRecord:
    """What the record page shows: this year's classes with their status words, and the fee
    state of every year the student has a fee account in. A fixed number of queries."""
    terms = this_year(scope)
    registrations = (
        Registration.objects.filter(student=student, school_year_id=terms.start_year)
        .select_related(
            "articulation__college",
            "course_class__school",
            "course_class__teacher__user",
            "credit",
        )
        .order_by("registered_at", "pk")
    )
    return StudentRecord(
        student=student,
        terms=terms,
        classes=[
            # select_related caches a missing credit: hasattr asks the database nothing.
            ClassLine(r, student_status(r, has_credit=hasattr(r, "credit")))
            for r in registrations
        ],
        accounts=year_accounts(student),
    )


# --- The lists of a school year -----------------------------------------------------------------

LIST_ROWS_PER_PAGE = 50
NOT_PAID = {FeeState.UNPAID, FeeState.PROCESSING}


@dataclass(frozen=True)
class StudentLine:
    """A student on a list, with the year's fee state and the classes counted."""

    student: Student
    classes: int
    fee_state: FeeState
    waiver_waiting: bool = False


class StudentList:
    """One list of a school year for the scope's schools: its words, its rows, its lines.

    ``rows`` is what is paged (a queryset, counted and sliced by the database, or a list);
    ``lines`` adds, for one page's rows, what the page shows of them, in fixed queries.
    """

    slug = ""
    template = ""  # the table of one page's lines
    name = ""  # on the look-up page's list of lists
    units = ("row", "rows")  # what the list counts, one and many
    title = ""  # "Registered in {year}"
    intro = ""
    empty = ""

    def count_words(self, count: int) -> str:
        return f"{count} {self.units[0] if count == 1 else self.units[1]}"

    def title_for(self, year_label: str) -> str:
        return self.title.format(year=year_label)

    def empty_for(self, year_label: str) -> str:
        return self.empty.format(year=year_label)

    def rows(self, students: QuerySet[Student], start_year: int):
        raise NotImplementedError

    def lines(self, rows: list, start_year: int) -> list:
        return rows


def _registered(students: QuerySet[Student], start_year: int) -> QuerySet[Student]:
    active = Q(
        registrations__school_year_id=start_year,
        registrations__status=Registration.Status.REGISTERED,
    )
    return (
        students.annotate(classes=Count("registrations", filter=active))
        .filter(classes__gt=0)
        .select_related("school")
        .order_by("legal_last_name", "legal_first_name", "pk")
    )


class RegisteredList(StudentList):
    slug = "registered"
    template = "district/_registered_rows.html"
    name = "Registered this year"
    units = ("student", "students")
    title = "Registered in {year}"
    intro = "Students of your schools with at least one class registered (not withdrawn)."
    empty = "No student of these schools has registered a class for {year}."

    def rows(self, students, start_year):
        return _registered(students, start_year)

    def lines(self, rows, start_year):
        fees = fee_states(rows, start_year)
        return [
            StudentLine(student, student.classes, fees.get(student.pk, FeeState.UNPAID))
            for student in rows
        ]


class NotPaidList(StudentList):
    slug = "not-paid"
    template = "district/_not_paid_rows.html"
    name = "Not yet paid"
    units = ("student", "students")
    title = "Not yet paid for {year}"
    intro = (
        "Registered students whose fee for the year is not paid or waived: Unpaid, or "
        "Processing while a bank payment settles. Some wait for a decision on a fee waiver."
    )
    empty = "Every registered student of these schools has paid {year}'s fee or had it waived."

    def rows(self, students, start_year):
        # The fee state is the ledger's word, worked out in Python: every registered student
        # of the scope is read (three queries and the ledger's six), then the list is paged.
        registered = list(_registered(students, start_year))
        fees = fee_states(registered, start_year)
        waiting = set(
            Waiver.objects.filter(
                status=Waiver.Status.REQUESTED,
                student_year__school_year_id=start_year,
                student_year__student__in=students,
            ).values_list("student_year__student_id", flat=True)
        )
        lines = []
        for student in registered:
            state = fees.get(student.pk, FeeState.UNPAID)
            if state in NOT_PAID:
                lines.append(StudentLine(student, student.classes, state, student.pk in waiting))
        return lines


class WaiverList(StudentList):
    slug = "waivers"
    template = "district/_waivers_rows.html"
    name = "Waiting for a fee waiver"
    units = ("waiver request", "waiver requests")
    title = "Waiting for a fee waiver, {year}"
    intro = (
        "Students who asked for a fee waiver for the year and wait for the consortium "
        "office's decision, oldest request first."
    )
    empty = "No student of these schools is waiting for a fee waiver for {year}."

    def rows(self, students, start_year):
        return (
            Waiver.objects.filter(
                status=Waiver.Status.REQUESTED,
                student_year__school_year_id=start_year,
                student_year__student__in=students,
            )
            .select_related("student_year__student__school", "student_year__consortium")
            .order_by("created_at", "pk")
        )


class CreditList(StudentList):
    slug = "credit"
    template = "district/_credit_rows.html"
    name = "Credit earned"
    units = ("credit", "credits")
    title = "Credit earned in {year}"
    intro = (
        "College credit earned by students of your schools: a final grade at or above the "
        "minimum, and the year's fee paid or waived."
    )
    empty = "No student of these schools has earned credit for {year} yet."

    def rows(self, students, start_year):
        return (
            Credit.objects.filter(school_year_id=start_year, student__in=students)
            .select_related("student__school", "college")
            .order_by(
                "student__legal_last_name",
                "student__legal_first_name",
                "student_id",
                "college_course",
                "pk",
            )
        )


STUDENT_LISTS: dict[str, StudentList] = {
    student_list.slug: student_list
    for student_list in (RegisteredList(), NotPaidList(), WaiverList(), CreditList())
}


def student_list_of(slug: str) -> StudentList:
    try:
        return STUDENT_LISTS[slug]
    except KeyError:
        raise Http404 from None


def student_list_page(
    scope: DistrictScope,
    student_list: StudentList,
    *,
    start_year: int,
    school_id: int | None,
    page_number,
) -> Page:
    """One page of a list for the scope (or one of its schools), with its lines."""
    students = scope.students()
    if school_id is not None:
        students = students.filter(school_id=school_id)
    page = Paginator(student_list.rows(students, start_year), LIST_ROWS_PER_PAGE).get_page(
        page_number
    )
    page.object_list = student_list.lines(list(page.object_list), start_year)
    return page
