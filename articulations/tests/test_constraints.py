"""Rules the database keeps, and the class rules it cannot keep alone."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from articulations.models import Articulation, Class, ConsortiumYear
from articulations.services import class_offer_problems
from articulations.tests.factories import (
    ArticulationFactory,
    ClassFactory,
    CollegeFactory,
    ConsortiumFactory,
    SchoolFactory,
    SchoolYearFactory,
    TeacherFactory,
)

pytestmark = pytest.mark.django_db


def refused_by_database(create):
    with pytest.raises(IntegrityError), transaction.atomic():
        create()


def test_an_articulation_cannot_end_before_it_starts():
    refused_by_database(
        lambda: ArticulationFactory(
            valid_from=SchoolYearFactory(start_year=2026),
            valid_to=SchoolYearFactory(start_year=2025),
        )
    )


def test_the_same_articulation_cannot_be_entered_twice():
    first = ArticulationFactory()

    refused_by_database(
        lambda: ArticulationFactory(
            consortium=first.consortium,
            district=first.district,
            hs_course_number=first.hs_course_number,
            college=first.college,
            college_course_prefix=first.college_course_prefix,
            college_course_number=first.college_course_number,
            valid_from=first.valid_from,
        )
    )


def test_fees_cannot_be_negative():
    refused_by_database(lambda: ConsortiumFactory(consortium_fee=Decimal("-1.00")))


def test_an_override_cannot_close_before_it_opens():
    consortium = ConsortiumFactory()
    refused_by_database(
        lambda: ConsortiumYear.objects.create(
            consortium=consortium,
            school_year=SchoolYearFactory(start_year=2026),
            registration_opens_on=dt.date(2027, 3, 1),
            registration_closes_on=dt.date(2027, 2, 1),
        )
    )


def test_one_override_per_consortium_and_year():
    consortium = ConsortiumFactory()
    year = SchoolYearFactory(start_year=2026)
    ConsortiumYear.objects.create(consortium=consortium, school_year=year)

    refused_by_database(
        lambda: ConsortiumYear.objects.create(consortium=consortium, school_year=year)
    )


def test_a_teacher_has_one_class_per_period():
    existing = ClassFactory(period="3")

    refused_by_database(
        lambda: Class.objects.create(
            teacher=existing.teacher,
            school=existing.school,
            school_year=existing.school_year,
            period="3",
        )
    )


def test_an_override_date_outside_its_school_year_is_refused_with_a_message():
    override = ConsortiumYear(
        consortium=ConsortiumFactory(),
        school_year=SchoolYearFactory(start_year=2026),
        registration_closes_on=dt.date(2028, 6, 15),
    )

    with pytest.raises(ValidationError, match="2026-27"):
        override.full_clean()


def test_a_window_day_that_does_not_exist_is_refused():
    consortium = ConsortiumFactory.build(window_closes_month=2, window_closes_day=30)

    with pytest.raises(ValidationError, match="2/30 is not a day of the year"):
        consortium.full_clean()


class TestClassOffer:
    def setup_method(self):
        self.school = SchoolFactory()
        self.teacher = TeacherFactory(schools=[self.school])
        self.year = SchoolYearFactory(start_year=2026)

    def problems(self, *articulations):
        return class_offer_problems(
            school=self.school,
            school_year=self.year,
            teacher=self.teacher,
            articulations=articulations,
        )

    def test_a_valid_articulation_for_the_schools_district_is_fine(self):
        assert self.problems(ArticulationFactory(district=self.school.district)) == []

    def test_the_same_course_with_two_colleges_is_one_class_with_a_choice(self):
        first = ArticulationFactory(district=self.school.district)
        second = ArticulationFactory(
            district=self.school.district,
            hs_course_number=first.hs_course_number,
            college=CollegeFactory(),
        )

        assert self.problems(first, second) == []

    def test_the_school_year_must_be_within_the_articulations_validity(self):
        ended = ArticulationFactory(
            district=self.school.district,
            valid_from=SchoolYearFactory(start_year=2023),
            valid_to=SchoolYearFactory(start_year=2025),
        )

        assert self.problems(ended) == [f"{ended} is valid 2023-24 to 2025-26, not in 2026-27."]

    def test_two_different_courses_are_not_one_class(self):
        problems = self.problems(
            ArticulationFactory(district=self.school.district),
            ArticulationFactory(district=self.school.district),
        )

        assert any("same high-school course" in problem for problem in problems)

    def test_the_articulation_must_cover_the_school(self):
        elsewhere = ArticulationFactory()

        assert self.problems(elsewhere) == [f"{elsewhere} does not apply to {self.school}."]

    def test_listed_schools_are_covered_without_a_district(self):
        articulation = ArticulationFactory(district=None, consortium=self.school.consortium)
        articulation.schools.add(self.school)

        assert self.problems(articulation) == []

    def test_pending_articulations_cannot_be_offered(self):
        pending = ArticulationFactory(
            district=self.school.district, status=Articulation.Status.PENDING
        )

        assert self.problems(pending) == [f"{pending} is still pending approval."]

    def test_the_teacher_must_teach_at_the_school(self):
        self.teacher.schools.clear()

        problems = self.problems(ArticulationFactory(district=self.school.district))

        assert problems == [f"{self.teacher} does not teach at {self.school}."]


def test_an_override_opening_after_the_usual_close_is_refused_with_a_message():
    # Only the opening day set: the window would run from June 20 to the usual June 15.
    override = ConsortiumYear(
        consortium=ConsortiumFactory(),
        school_year=SchoolYearFactory(start_year=2026),
        registration_opens_on=dt.date(2027, 6, 20),
    )

    with pytest.raises(ValidationError, match="registration would close on June 15, 2027"):
        override.full_clean()


def test_only_the_grading_deadline_may_run_past_june_30():
    year = SchoolYearFactory(start_year=2026)
    late_grading = ConsortiumYear(
        consortium=ConsortiumFactory(), school_year=year, grading_deadline=dt.date(2027, 7, 20)
    )
    late_payment = ConsortiumYear(
        consortium=ConsortiumFactory(), school_year=year, payment_closes_on=dt.date(2027, 7, 20)
    )

    late_grading.full_clean()
    with pytest.raises(ValidationError, match="July 1 – June 30"):
        late_payment.full_clean()


def test_a_consortium_window_that_closes_before_it_opens_is_refused():
    consortium = ConsortiumFactory.build(
        window_opens_month=1, window_opens_day=15, window_closes_month=12, window_closes_day=20
    )

    with pytest.raises(ValidationError, match="close before it opens"):
        consortium.full_clean(exclude=["host_college"])
