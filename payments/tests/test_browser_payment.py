import pytest

from sers.demo import DEMO_PASSWORD, demo_load

pytestmark = pytest.mark.browser


def demo_student_registers(page):
    """The demo student logs in and registers a class of this school year."""
    demo_load()

    page.goto("/accounts/login/")
    page.get_by_label("Username or SERS ID").fill("student")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.goto("/registrations/new/")
    page.get_by_label("Digital Photography").check()
    page.get_by_role("button", name="Register this class").click()


def test_the_demo_student_registers_pays_by_card_and_sees_the_year_paid(
    page, stripe_to_live_server
):
    demo_student_registers(page)

    page.goto("/payments/")
    assert page.get_by_test_id("fee-state").inner_text() == "Unpaid"
    assert "Test mode" in page.get_by_test_id("test-mode").inner_text()
    page.get_by_role("button", name="Pay $50.00 by card").click()

    # The local Stripe stand-in's Checkout page.
    assert "TEST PAYMENT" in page.content()
    page.get_by_role("button", name="Pay $50.00 with a test card").click()

    assert page.get_by_test_id("payment-confirmed").is_visible()
    assert "Payment received" in page.content()
    page.get_by_role("link", name="See my fees and receipts").click()
    assert page.get_by_test_id("fee-state").inner_text() == "Paid"
    assert page.get_by_test_id("balance").inner_text() == "$0.00"
    page.get_by_role("link", name="Receipt R-").click()
    assert "$50.00" in page.content()
    assert "non-refundable" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_on_a_phone_a_bank_transfer_shows_the_year_processing_with_no_second_pay_button(
    page, stripe_to_live_server
):
    demo_student_registers(page)
    page.goto("/payments/")
    page.get_by_role("button", name="Pay $50.00 by card").click()
    page.get_by_role("button", name="Pay by bank transfer").click()

    assert page.get_by_test_id("payment-processing").is_visible()
    assert "Please do not pay again" in page.get_by_test_id("payment-processing").inner_text()
    page.get_by_role("link", name="Back to my fees").click()
    assert page.get_by_test_id("fee-state").inner_text() == "Processing"
    note = page.get_by_test_id("processing-note")
    assert note.is_visible()
    assert "is processing" in note.inner_text()
    assert page.get_by_role("button", name="Pay $50.00 by card").count() == 0
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
