"""Reads about registrations that pages share: which classes and colleges a student may choose."""

from django.db.models import Prefetch, Q, QuerySet
from django.shortcuts import get_object_or_404

from articulations.models import Articulation, Class, School
from registration.models import PriorYearRequest, Registration
from students.models import Student


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


def _offered_in(start_year: int, prefix: str = "") -> Q:
    """Articulations a class of ``start_year`` offers: active, and valid in that school year.

    ``prefix`` (like ``"articulations__"``) filters classes by their articulations; keep the
    whole condition in one ``filter()`` so it is about one articulation.
    """
    return Q(**{f"{prefix}status": Articulation.Status.ACTIVE}) & Articulation.valid_in_q(
        start_year, prefix
    )


def offered_articulations(course_class: Class) -> list[Articulation]:
    """The colleges' articulations a student may register ``course_class`` for.

    Every page and service that asks "which colleges does this class offer?" asks here.
    """
    return list(
        course_class.articulations.filter(_offered_in(course_class.school_year_id))
        .select_related("college")
        .order_by("college__name", "pk")
    )


def offered_articulations_of(classes: list[Class]) -> QuerySet[Articulation]:
    """Every articulation that one of ``classes`` offers: the choices a form accepts."""
    offered = Q(pk__in=[])
    for start_year in {course_class.school_year_id for course_class in classes}:
        class_ids = [c.pk for c in classes if c.school_year_id == start_year]
        offered |= Q(classes__in=class_ids) & _offered_in(start_year)
    return Articulation.objects.filter(offered).distinct()


def classes_open_for_registration(school: School, start_year: int) -> list[Class]:
    """The school's classes of that year that offer at least one articulation, ready to show.

    ``course_class.articulations.all()`` on these is what ``offered_articulations`` returns.
    """
    return list(
        Class.objects.filter(school=school, school_year_id=start_year)
        .filter(_offered_in(start_year, prefix="articulations__"))
        .distinct()
        .select_related("teacher__user", "school_year")
        .prefetch_related(
            Prefetch(
                "articulations",
                queryset=Articulation.objects.filter(_offered_in(start_year))
                .select_related("college")
                .order_by("college__name", "pk"),
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
