"""Reads of the catalog that pages and other apps share."""

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.functions import Concat

from articulations import defaults
from articulations.models import (
    Articulation,
    CareerCluster,
    Class,
    College,
    Consortium,
    ConsortiumYear,
    School,
    SchoolDistrict,
    SchoolYear,
)
from articulations.school_year import (
    DEFAULT_TIME_ZONE,
    DEFAULT_WINDOW,
    local_today,
    school_year_dates,
    start_year_on,
)
from articulations.terms import YearTerms, terms_with_override


def year_terms(consortium: Consortium | None, start_year: int) -> YearTerms:
    """The terms of ``start_year`` for ``consortium`` (None: the program's defaults)."""
    if consortium is None:
        dates = school_year_dates(start_year, DEFAULT_WINDOW)
        return YearTerms(
            start_year=start_year,
            time_zone=DEFAULT_TIME_ZONE,
            consortium_fee=defaults.CONSORTIUM_FEE,
            late_fee_per_prior_year=defaults.LATE_FEE_PER_PRIOR_YEAR,
            registration=dates.window,
            payment=dates.window,
            grading_deadline=dates.grading_deadline,
        )
    override = ConsortiumYear.objects.filter(
        consortium=consortium, school_year_id=start_year
    ).first()
    return terms_with_override(consortium, start_year, override)


def year_terms_many(pairs: Iterable[tuple[Consortium, int]]) -> dict[tuple[int, int], YearTerms]:
    """``year_terms`` for many (consortium, start year) pairs in one query, keyed by ids."""
    pairs = {(consortium.pk, start_year): consortium for consortium, start_year in pairs}
    if not pairs:
        return {}
    overrides = {
        (override.consortium_id, override.school_year_id): override
        for override in ConsortiumYear.objects.filter(
            consortium_id__in={consortium_id for consortium_id, _ in pairs},
            school_year_id__in={start_year for _, start_year in pairs},
        )
    }
    return {
        key: terms_with_override(consortium, key[1], overrides.get(key))
        for key, consortium in pairs.items()
    }


def current_terms(consortium: Consortium | None) -> YearTerms:
    """The terms of the school year that is under way today where the consortium is."""
    time_zone = consortium.time_zone if consortium else DEFAULT_TIME_ZONE
    return year_terms(consortium, start_year_on(local_today(time_zone)))


def current_school_year(time_zone: str = DEFAULT_TIME_ZONE) -> SchoolYear:
    """Today's school year as a row, made on first use so nobody has to add years by hand."""
    start_year = start_year_on(local_today(time_zone))
    try:
        with transaction.atomic():
            school_year, _ = SchoolYear.objects.get_or_create(start_year=start_year)
    except IntegrityError:
        # Another request made it between our read and our insert.
        school_year = SchoolYear.objects.get(start_year=start_year)
    return school_year


def home_consortium() -> Consortium | None:
    """The consortium whose dates the public pages show: the first one set up."""
    return Consortium.objects.order_by("pk").first()


# --- The public catalog -------------------------------------------------------

# Staff see pending articulations in the admin; the public sees only approved
# ones, and expired ones too, so a student who took a class then can look it up.
PUBLIC_STATUSES = (Articulation.Status.ACTIVE, Articulation.Status.EXPIRED)


def public_articulations() -> QuerySet[Articulation]:
    """The articulations anyone may read, with what a page shows of each in two queries."""
    return (
        Articulation.objects.filter(status__in=PUBLIC_STATUSES)
        .select_related("college", "career_cluster", "district")
        .prefetch_related(Prefetch("schools", queryset=School.objects.select_related("district")))
    )


def articulation_search(
    *,
    text: str = "",
    consortium: Consortium | None = None,
    district: SchoolDistrict | None = None,
    school: School | None = None,
    college: College | None = None,
    career_cluster: CareerCluster | None = None,
    school_year: int | None = None,
) -> QuerySet[Articulation]:
    """Public articulations matching every filter given; None or "" means "any".

    An articulation covers a whole district, a list of schools, or both, so the
    place filters look at both. Rows are ordered to the last key so that pages
    never repeat or skip a row.
    """
    articulations = public_articulations()
    listed_schools = Articulation.schools.through.objects.filter(articulation=OuterRef("pk"))
    if consortium is not None:
        articulations = articulations.filter(consortium=consortium)
    if district is not None:
        articulations = articulations.filter(
            Q(district=district) | Exists(listed_schools.filter(school__district=district))
        )
    if school is not None:
        articulations = articulations.filter(
            Q(district_id=school.district_id) | Exists(listed_schools.filter(school=school))
        )
    if college is not None:
        articulations = articulations.filter(college=college)
    if career_cluster is not None:
        articulations = articulations.filter(career_cluster=career_cluster)
    if school_year is not None:
        articulations = articulations.filter(Articulation.valid_in_q(school_year))
    text = " ".join(text.split())
    if text:
        # People type a college course as "BUS 101", "bus101" or "BUS  101":
        # compare it without spaces against prefix and number run together.
        compact = text.replace(" ", "")
        articulations = articulations.annotate(
            college_course_code=Concat("college_course_prefix", "college_course_number")
        ).filter(
            Q(hs_course_name__icontains=text)
            | Q(hs_course_number__icontains=text)
            | Q(college_course_title__icontains=text)
            | Q(college_course_code__icontains=compact)
        )
    return articulations.order_by(
        "hs_course_name",
        "college__name",
        "college_course_prefix",
        "college_course_number",
        "pk",
    )


def articulation_offerings(articulation: Articulation, school_year: SchoolYear) -> QuerySet[Class]:
    """The classes that offer ``articulation`` in ``school_year``: where, who, when."""
    return (
        Class.objects.filter(articulations=articulation, school_year=school_year)
        .select_related("school__district", "teacher__user")
        .order_by("school__name", "term", "period", "teacher__user__last_name", "pk")
    )
