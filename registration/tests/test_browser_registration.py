import pytest

from sers.demo import DEMO_PASSWORD, demo_load

pytestmark = pytest.mark.browser


def test_the_demo_student_registers_a_two_college_class_and_cannot_register_it_twice(page):
    demo_load()

    page.goto("/accounts/login/")
    page.get_by_label("Username or SERS ID").fill("student")
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()

    page.goto("/registrations/new/")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.get_by_label("Intro to Business").check()
    page.get_by_role("button", name="Register this class").click()
    assert "Credit can come from one college only." in page.content()
    page.get_by_label("Cascadia College").check()
    page.get_by_role("button", name="Register this class").click()

    assert page.url.split("#")[0].endswith("/registrations/")
    assert "You registered Intro to Business" in page.content()
    card = page.get_by_test_id("registration").filter(has_text="Intro to Business")
    assert "Cascadia College" in card.inner_text()
    assert "BUS 101 Introduction to Business" in card.inner_text()

    page.goto("/registrations/new/")
    page.get_by_label("Intro to Business").check()
    page.get_by_role("button", name="Register this class").click()
    page.get_by_label("Bellevue College").check()
    page.get_by_role("button", name="Register this class").click()

    summary = page.locator("[data-error-summary]")
    assert "You already registered Intro to Business" in summary.inner_text()
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    page.goto("/registrations/")
    assert page.get_by_test_id("registration").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
