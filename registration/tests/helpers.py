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
