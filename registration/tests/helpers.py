"""Building blocks for registration tests: a class offered by two colleges, a student in it."""

import datetime as dt
import zoneinfo

import time_machine

from articulations.tests.factories import (
    ArticulationFactory,
    ClassFactory,
    CollegeFactory,
    SchoolFactory,
    SchoolYearFactory,
)
from grading.models import Credit
from registration.models import Registration
from registration.tests.factories import StudentFactory

PACIFIC = zoneinfo.ZoneInfo("America/Los_Angeles")


def at(*when):
    """Travel to a moment in Washington (year, month, day[, hour, minute])."""
    return time_machine.travel(dt.datetime(*when, tzinfo=PACIFIC), tick=False)


def two_college_class(*, start_year=2026, school=None, **class_fields):
    """A class of ``start_year`` whose course two colleges articulate."""
    school = school or SchoolFactory()
    first = ArticulationFactory(
        district=school.district, hs_course_name="Intro to Business", college_course_number="101"
    )
    second = ArticulationFactory(
        district=school.district,
        hs_course_name="Intro to Business",
        hs_course_number=first.hs_course_number,
        college=CollegeFactory(name="Second College"),
        college_course_number="102",
    )
    return ClassFactory(
        school=school,
        school_year=SchoolYearFactory(start_year=start_year),
        articulations=[first, second],
        **class_fields,
    )


def one_college_class(*, start_year=2026, school=None, **class_fields):
    school = school or SchoolFactory()
    return ClassFactory(
        school=school,
        school_year=SchoolYearFactory(start_year=start_year),
        articulations=[ArticulationFactory(district=school.district)],
        **class_fields,
    )


def student_at(school, **fields):
    """A student at ``school``, in grade 10 in 2026-27 unless told otherwise."""
    fields.setdefault("expected_graduation_year", 2029)
    return StudentFactory(school=school, **fields)


def earned_credit(
    college=None,
    *,
    school=None,
    start_year=2026,
    term="",
    prefix="BUS",
    number="101",
    grade="A",
    **student_fields,
) -> Credit:
    """A credit as the credit rule writes it, without the journey (that is tested elsewhere)."""
    college = college or CollegeFactory()
    school = school or SchoolFactory()
    articulation = ArticulationFactory(
        district=school.district,
        college=college,
        college_course_prefix=prefix,
        college_course_number=number,
        college_course_title="Introduction to Business",
    )
    course_class = ClassFactory(
        school=school,
        school_year=SchoolYearFactory(start_year=start_year),
        term=term,
        articulations=[articulation],
    )
    student = student_at(school, **student_fields)
    registration = Registration.objects.create(
        student=student,
        course_class=course_class,
        articulation=articulation,
        school_year_id=start_year,
        enrollment=Registration.Enrollment.CONFIRMED,
        grade=grade,
    )
    return Credit.objects.create(
        registration=registration,
        student=student,
        college=college,
        school_year_id=start_year,
        college_course=articulation.college_course,
        college_course_title=articulation.college_course_title,
        college_credits=articulation.college_credits,
        grade=grade,
        earned_on=dt.date(2027, 2, 1),
    )
