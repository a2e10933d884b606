"""The public pay page for parents, and receipts only their student can open."""

import pytest
from django.core.cache import cache

from payments.models import Waiver
from payments.tests.helpers import FEBRUARY, registered_student
from payments.tests.test_ledger import record_check
from registration.tests.helpers import at

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def february():
    cache.clear()
    with at(*FEBRUARY):
        yield
    cache.clear()


@pytest.mark.parametrize("typed", [str.lower, lambda sers_id: sers_id.replace("-", " ")])
def test_a_parent_finds_the_fees_with_the_sers_id_and_last_name(client, typed, stripe_settings):
    student, _ = registered_student(legal_last_name="Okafor")

    page = client.post(
        "/payments/pay/", {"sers_id": typed(student.sers_id), "last_name": "okafor"}
    ).content.decode()

    assert student.sers_id in page
    assert "Pay $50.00 by card" in page
    assert student.email not in page  # only what paying needs


def test_the_parent_pays_through_stripe_without_the_students_password(client, stripe_settings):
    student, consortium = registered_student(legal_last_name="Okafor")
    client.post("/payments/pay/", {"sers_id": student.sers_id, "last_name": "Okafor"})

    response = client.post("/payments/pay/checkout/", {"consortium": consortium.pk, "year": 2026})

    assert response.status_code == 303
    assert response["Location"].startswith(f"{stripe_settings.url}/checkout/")


@pytest.mark.parametrize(
    "pair",
    [
        {"sers_id": "TP3-00-0000", "last_name": "Okafor"},
        {"sers_id": "{sers_id}", "last_name": "Smith"},
    ],
)
def test_a_wrong_pair_gets_one_generic_message(client, pair):
    student, _ = registered_student(legal_last_name="Okafor")
    data = {key: value.format(sers_id=student.sers_id) for key, value in pair.items()}

    page = client.post("/payments/pay/", data).content.decode()

    assert "We could not find a student with that SERS ID and last name." in page
    assert student.sers_id not in page or data["sers_id"] == student.sers_id
    assert "Pay $50.00 by card" not in page


def test_checkout_without_a_found_student_goes_back_to_the_form(client):
    response = client.post("/payments/pay/checkout/", {"consortium": 1, "year": 2026}, follow=True)

    assert "Enter the student&#x27;s SERS ID and last name first." in response.content.decode()


@pytest.mark.redis
def test_guessing_pairs_is_rate_limited(client):
    student, _ = registered_student(legal_last_name="Okafor")
    for guess in range(10):
        client.post("/payments/pay/", {"sers_id": student.sers_id, "last_name": f"Guess{guess}"})

    page = client.post(
        "/payments/pay/", {"sers_id": student.sers_id, "last_name": "Okafor"}
    ).content.decode()

    assert "Too many tries" in page
    assert "Pay $50.00 by card" not in page


def test_a_receipt_shows_what_the_student_needs_and_says_non_refundable(client, admin_user):
    student, consortium = registered_student()
    payment = record_check(student, consortium, staff=admin_user, reference="5521")
    client.force_login(student.user)

    page = client.get(f"/payments/receipts/{payment.pk}/").content.decode()

    for expected in (
        payment.receipt_number,
        student.sers_id,
        "2026-27",
        "$50.00",
        "Check",
        "5521",
        "February 1, 2027",
        "non-refundable",
    ):
        assert expected in page


def test_a_student_cannot_open_another_students_receipt_or_fees(client, admin_user):
    student, consortium = registered_student()
    other, _ = registered_student()
    payment = record_check(student, consortium, staff=admin_user)
    client.force_login(other.user)

    assert client.get(f"/payments/receipts/{payment.pk}/").status_code == 404
    fees = client.get("/payments/").content.decode()
    assert payment.receipt_number not in fees
    assert student.sers_id not in fees


def test_a_student_asks_for_a_hardship_waiver_from_the_fees_page(client):
    student, consortium = registered_student()
    client.force_login(student.user)
    url = f"/payments/waiver/?consortium={consortium.pk}&year=2026"

    empty = client.post(url, {"reason": "hardship", "note": ""}).content.decode()
    assert "Tell us in a sentence or two about your situation." in empty
    response = client.post(
        url, {"reason": "hardship", "note": "My family lost income."}, follow=True
    )

    page = response.content.decode()
    assert "We have your waiver request for 2026-27" in page
    assert "waiting for a decision" in page


def test_a_student_on_free_lunch_sees_a_waiting_waiver_without_asking(client):
    student, _ = registered_student(free_reduced_lunch=True)
    client.force_login(student.user)

    page = client.get("/payments/").content.decode()

    assert "Fee waiver (free or reduced-price lunch): waiting for a decision" in page


def test_a_paid_year_offers_no_waiver_and_a_posted_request_is_refused(client, admin_user):
    student, consortium = registered_student()
    client.force_login(student.user)
    assert "Ask for a fee waiver for 2026-27" in client.get("/payments/").content.decode()
    record_check(student, consortium, staff=admin_user)

    fees = client.get("/payments/").content.decode()
    page = client.post(
        f"/payments/waiver/?consortium={consortium.pk}&year=2026",
        {"reason": "hardship", "note": "My family lost income."},
    ).content.decode()

    assert "Ask for a fee waiver" not in fees
    assert "Nothing to waive for 2026-27: paid." in page
    assert not Waiver.objects.exists()
