import pytest
from django.core.cache import cache

from district.tests.helpers import FEBRUARY
from registration.tests.helpers import at


@pytest.fixture(autouse=True)
def february(request):
    """Inside 2026-27's window; the browser test keeps the real clock for its live server."""
    if request.node.get_closest_marker("browser"):
        yield
        return
    with at(*FEBRUARY):
        yield


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()
