"""The demo registrar downloads Bellevue College's new credits on a phone, then only new ones."""

import csv
import io
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Count

from articulations.models import Class
from articulations.selectors import current_school_year
from credit_lists.exporters import HEADER
from credit_lists.models import ExportBatch
from grading.models import Credit
from grading.services.teaching import grade_set_by_staff
from payments.models import Payment
from payments.services.offline import payment_record_offline
from registration.models import Registration
from registration.services import class_terms, registration_create
from sers.demo import DEMO_PASSWORD, demo_load
from students.models import Student

pytestmark = pytest.mark.browser

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def log_in(page, username):
    page.goto("/accounts/login/")
    page.get_by_label("Username or SERS ID").fill(username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()


def one_earned_credit_at_bellevue_college() -> Student:
    """The demo student registers a BC-only class, pays by check, and gets an A."""
    school_year = current_school_year()
    course_class = (
        Class.objects.filter(
            school__name="Bellevue High School",
            school_year=school_year,
            articulations__college__code="BC",
        )
        .annotate(colleges=Count("articulations"))
        .filter(colleges=1)
        .order_by("period")
        .first()
    )
    student = Student.objects.get(user__username="student")
    registration = registration_create(student=student, course_class=course_class)
    staff = get_user_model().objects.get(username="staff")
    terms = class_terms(course_class)
    payment_record_offline(
        student=student,
        consortium_id=course_class.school.consortium_id,
        start_year=school_year.start_year,
        method=Payment.Method.CHECK,
        payer="Ana Lopez",
        reference="3001",
        amount=terms.consortium_fee,
        received_on=terms.today(),
        staff_user=staff,
    )
    grade_set_by_staff(
        registration=Registration.objects.get(pk=registration.pk), grade="A", staff_user=staff
    )
    assert Credit.objects.filter(student=student, college__code="BC").count() == 1
    return student


def download_csv(page) -> list[list[str]]:
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("credits-BC-")
    assert download.suggested_filename.endswith(".csv")
    return list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))


def test_the_demo_registrar_downloads_new_credits_then_nothing_new(page):
    demo_load()
    student = one_earned_credit_at_bellevue_college()

    log_in(page, "registrar")
    page.get_by_role("button", name="Menu").click()
    page.get_by_role("link", name="Credit list").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Credit list"
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    page.get_by_label("Only credits not yet exported").check()
    page.get_by_role("button", name="Show credits").click()
    assert page.get_by_test_id("credit-count").inner_text() == "1 credit"
    assert page.get_by_test_id("credit-row").get_by_test_id("sers-id").inner_text() == (
        student.sers_id
    )
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    first = download_csv(page)
    assert first[0] == HEADER
    assert [row[0] for row in first[1:]] == [student.sers_id]

    second = download_csv(page)
    assert second == [HEADER]

    page.reload()
    batches = page.get_by_test_id("batch-row")
    assert batches.count() == 2
    newest, oldest = ExportBatch.objects.order_by("-created_at", "-pk")
    assert batches.nth(0).get_by_test_id("batch-sha256").inner_text() == newest.sha256
    assert batches.nth(0).get_by_test_id("batch-rows").inner_text() == "0"
    assert batches.nth(1).get_by_test_id("batch-rows").inner_text() == "1"
    assert page.get_by_test_id("credit-count").inner_text() == "No credits"
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
