import pytest

pytestmark = pytest.mark.browser


def test_a_student_on_a_phone_sees_the_steps_to_credit(page):
    page.goto("/")

    assert page.title() == "Earn college credit in high school – SERS"
    steps = page.get_by_test_id("steps").locator("> li")
    assert steps.count() == 5
    assert "Earn a B or better" in steps.nth(4).inner_text()
    # 375 px wide and no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The skip link is the first thing a keyboard reaches.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to main content"
