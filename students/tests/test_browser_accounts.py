import pytest

from articulations.tests.factories import SchoolFactory

pytestmark = pytest.mark.browser


def test_a_student_signs_up_sees_the_sers_id_and_logs_back_in_with_it(page):
    SchoolFactory(name="Interlake High School")
    SchoolFactory(name="Juanita High School")

    page.goto("/accounts/signup/")
    page.get_by_label("Legal first name").fill("Maya")
    page.get_by_label("Legal last name").fill("Lopez")
    page.get_by_label("Month").fill("4")
    page.get_by_label("Day").fill("27")
    page.get_by_label("Year", exact=True).fill("2010")
    page.get_by_label("Grade this school year").select_option("10")
    page.get_by_placeholder("Type part of the name").fill("interl")
    page.get_by_label("Email address").fill("maya@example.org")
    page.get_by_label("Phone number").fill("425 555 0100")
    page.get_by_label("Street address").fill("123 Main St")
    page.get_by_label("City").fill("Bellevue")
    page.get_by_label("ZIP code").fill("98007")
    page.get_by_label("No").check()
    page.get_by_label("Username").fill("maya.lopez")
    page.locator("#id_password1").fill("orca-kayak-sunrise")
    page.get_by_label("Password again").fill("orca-kayak-sunrise")
    page.get_by_role("button", name="Create my account").click()

    sers_id = page.get_by_test_id("sers-id").inner_text().strip()
    assert page.title() == "Your account is ready – SERS"
    assert sers_id.startswith("TP3-")

    page.get_by_role("button", name="Menu").click()  # the phone-width header folds its links
    page.get_by_role("button", name="Log out").click()
    page.goto("/accounts/login/")
    page.get_by_label("Username or SERS ID").fill(sers_id.lower().replace("-", " "))
    page.get_by_label("Password").fill("orca-kayak-sunrise")
    page.get_by_role("button", name="Log in").click()
    page.goto("/accounts/profile/")

    assert page.get_by_test_id("sers-id").inner_text().strip() == sers_id
    assert "Interlake High School" in page.content()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_mistake_on_sign_up_focuses_the_error_summary(page):
    SchoolFactory()

    page.goto("/accounts/signup/")
    page.get_by_role("button", name="Create my account").click()

    assert page.title().startswith("Error: ")
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    page.get_by_role("link", name="Enter your legal first name.").click()
    assert page.evaluate("document.activeElement.id") == "id_legal_first_name"
