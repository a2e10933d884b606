""" "Still needed" on My registrations: only what can still lead to credit."""

import re

import pytest

from grading.selectors import StudentStatus
from registration.models import Registration
from registration.services import registration_create
from registration.tests.helpers import at, one_college_class, student_at

pytestmark = pytest.mark.django_db

FEE_NEEDED = "The 2026-27 fee paid ($50.00 still owed), or a fee waiver"


@pytest.fixture(autouse=True)
def february():
    with at(2027, 2, 1, 10, 0):
        yield


def card(page: str, registration: Registration) -> str:
    """The text of one registration's card on the page."""
    found = re.search(
        rf'<article[^>]*id="registration-{registration.pk}".*?</article>', page, re.DOTALL
    )
    assert found, f"no card for registration {registration.pk}"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(0)).split())


def two_classes_one_graded(client, grade, *, minimum="B"):
    """A student with two 2026-27 classes, the fee unpaid; the first graded ``grade``."""
    graded_class = one_college_class()
    graded_class.articulations.update(minimum_grade=minimum)
    other_class = one_college_class(school=graded_class.school)
    student = student_at(graded_class.school)
    graded = registration_create(student=student, course_class=graded_class)
    other = registration_create(student=student, course_class=other_class)
    Registration.objects.filter(pk=graded.pk).update(grade=grade)
    client.force_login(student.user)
    page = client.get("/registrations/").content.decode()
    return card(page, graded), card(page, other)


@pytest.mark.parametrize(
    ("minimum", "grade", "needs"),
    [("B", "B-", "B"), ("B", "F", "B"), ("C", "C-", "C"), ("B+", "B", "B+")],
)
def test_a_grade_below_the_minimum_asks_for_no_fee_and_says_why(client, minimum, grade, needs):
    graded, other = two_classes_one_graded(client, grade, minimum=minimum)

    assert StudentStatus.BELOW_MINIMUM in graded
    assert (
        f"Your grade {grade} is below the {needs} this college credit needs, "
        "so this class cannot earn credit." in graded
    )
    assert "fee paid" not in graded
    assert "Still needed" not in graded
    # The year's fee still counts for the other class.
    assert FEE_NEEDED in other
    assert "cannot earn credit" not in other


def test_a_grade_at_the_minimum_still_asks_for_the_fee(client):
    graded, _ = two_classes_one_graded(client, "B")

    assert StudentStatus.FEE_NOT_SETTLED in graded
    assert FEE_NEEDED in graded
    assert "cannot earn credit" not in graded


def test_an_incomplete_still_asks_for_the_fee_and_the_final_grade(client):
    graded, _ = two_classes_one_graded(client, "I")

    assert StudentStatus.INCOMPLETE in graded
    assert StudentStatus.BELOW_MINIMUM not in graded
    assert FEE_NEEDED in graded
    assert (
        "Your final grade: B or better. Your teacher posted I (incomplete): "
        "when you finish the class, your teacher posts your final grade." in graded
    )
    assert "cannot earn credit" not in graded


def test_a_w_asks_for_no_fee_and_says_the_class_cannot_earn_credit(client):
    graded, other = two_classes_one_graded(client, "W")

    assert "fee paid" not in graded
    assert "Still needed" not in graded
    assert "Your teacher posted W (withdrawn), so this class cannot earn credit." in graded
    assert FEE_NEEDED in other
