"""A student on a phone finds a class in the catalog and opens it."""

import pytest

from articulations.selectors import current_school_year
from articulations.tests.factories import (
    ArticulationFactory,
    CareerClusterFactory,
    ClassFactory,
    CollegeFactory,
    SchoolFactory,
    TeacherFactory,
    UserFactory,
)

pytestmark = pytest.mark.browser


def no_sideways_scrolling(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def result_names(page) -> list[str]:
    return sorted(page.get_by_test_id("result").locator("h3").all_inner_texts())


def test_a_student_on_a_phone_searches_by_college_then_cluster_and_opens_a_class(page):
    this_year = current_school_year()
    bellevue = CollegeFactory(name="Bellevue College", code="BC")
    renton = CollegeFactory(name="Renton Technical College", code="RTC")
    business = CareerClusterFactory(name="Business Management & Administration")
    health = CareerClusterFactory(name="Health Science", field="health")
    ArticulationFactory(hs_course_name="Accounting 1", college=bellevue, career_cluster=business)
    medical = ArticulationFactory(
        hs_course_name="Medical Terminology",
        college=bellevue,
        career_cluster=health,
        college_course_prefix="AHE",
        college_course_number="101",
        college_course_title="Medical Terminology",
        valid_from=this_year,
    )
    ArticulationFactory(hs_course_name="Nursing Assistant", college=renton, career_cluster=health)
    ArticulationFactory(hs_course_name="Welding 1", college=renton, career_cluster=business)
    school = SchoolFactory(name="Interlake High School", district=medical.district)
    ClassFactory(
        articulations=[medical],
        school=school,
        school_year=this_year,
        teacher=TeacherFactory(user=UserFactory(username="mlopez", first_name="Maria")),
        period="4",
    )

    page.goto("/articulations/")
    assert page.title() == "Find a class – SERS"
    assert len(result_names(page)) == 4
    assert no_sideways_scrolling(page)

    page.get_by_label("College", exact=True).select_option(label="Bellevue College")
    page.get_by_role("button", name="Search classes").click()

    assert result_names(page) == ["Accounting 1", "Medical Terminology"]
    # The search is in the URL, so a student can share it.
    assert f"college={bellevue.pk}" in page.url

    page.get_by_label("College", exact=True).select_option(label="Any college")
    page.get_by_label("Career cluster").select_option(label="Health Science")
    page.get_by_role("button", name="Search classes").click()

    assert result_names(page) == ["Medical Terminology", "Nursing Assistant"]
    assert no_sideways_scrolling(page)

    page.get_by_role("link", name="Medical Terminology").click()

    assert page.get_by_role("heading", level=1).inner_text() == "Medical Terminology"
    facts = page.get_by_test_id("articulation-facts").inner_text()
    assert "AHE 101 Medical Terminology" in facts
    assert "B or better" in facts
    offering = page.get_by_test_id("offering").inner_text()
    assert "Interlake High School" in offering
    assert "Maria" in offering
    assert "Period 4" in offering
    assert f"Who teaches it in {this_year.label}" in page.content()
    assert no_sideways_scrolling(page)
