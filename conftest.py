"""Suite-wide test setup: which real services answer, and what to do when one does not.

Tests run against the real PostgreSQL, Redis and Debian's chromium. A test
that needs a service that does not answer is skipped with the reason, loudly
(`-ra` lists it at the end); with REQUIRE_SERVICES=1, as in CI, it fails.
"""

import functools
import os
import shutil
from pathlib import Path

import psycopg
import pytest
import redis
from django.conf import settings
from hypothesis import settings as hypothesis_settings

# No per-example deadline: a loaded CI machine must not turn a slow example into a failure.
hypothesis_settings.register_profile("sers", deadline=None)
hypothesis_settings.load_profile("sers")

REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")

# Fixtures through which a test reaches the database.
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_setup",
    "live_server",
    "admin_user",
    "admin_client",
    "django_user_model",
}


@functools.cache
def postgres_problem() -> str | None:
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.postgresql":
        return f"the test database is {database['ENGINE']}, not PostgreSQL (set DATABASE_URL=postgres://…)"
    try:
        psycopg.connect(
            host=database.get("HOST") or None,
            port=database.get("PORT") or None,
            user=database.get("USER") or None,
            password=database.get("PASSWORD") or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as error:
        where = f"{database.get('HOST')}:{database.get('PORT') or 5432}"
        return f"PostgreSQL at {where} does not answer: {str(error).strip()}"
    return None


@functools.cache
def redis_problem() -> str | None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3, socket_timeout=3)
    try:
        client.ping()
    except redis.RedisError as error:
        return f"Redis at {settings.REDIS_URL} does not answer: {error}"
    finally:
        client.close()
    return None


@functools.cache
def chromium_problem() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Debian's chromium is not at {CHROMIUM} (apt-get install chromium)"
    return None


@functools.cache
def libreoffice_problem() -> str | None:
    if not shutil.which("soffice"):
        return "LibreOffice's soffice is not installed (apt-get install libreoffice-calc-nogui)"
    return None


def needs_of(item: pytest.Item) -> list:
    needs = []
    uses_database = item.get_closest_marker("django_db") or DATABASE_FIXTURES & set(
        item.fixturenames
    )
    if uses_database or item.get_closest_marker("postgres"):
        needs.append(postgres_problem)
    if item.get_closest_marker("redis"):
        needs.append(redis_problem)
    if item.get_closest_marker("browser"):
        needs.append(chromium_problem)
    if item.get_closest_marker("spreadsheet"):
        needs.append(libreoffice_problem)
    return needs


def pytest_report_header(config):
    lines = []
    for name, probe in (
        ("postgres", postgres_problem),
        ("redis", redis_problem),
        ("chromium", chromium_problem),
        ("libreoffice", libreoffice_problem),
    ):
        problem = probe()
        lines.append(f"service {name}: {'ok' if problem is None else 'MISSING - ' + problem}")
    lines.append(
        f"REQUIRE_SERVICES={'1: missing services fail' if REQUIRE_SERVICES else '0: missing services skip'}"
    )
    return lines


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    for probe in needs_of(item):
        problem = probe()
        if problem is None:
            continue
        if REQUIRE_SERVICES:
            pytest.fail(f"REQUIRE_SERVICES=1 and {problem}", pytrace=False)
        pytest.skip(f"SERVICE MISSING: {problem}")


# --- Browser ------------------------------------------------------------------

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps calling home, and this machine has no internet.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop in this thread; the test's own
    # database work (factories, assertions) is still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser, live_server):
    """A phone-sized page on the live server: most students use SERS on a phone."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 375, "height": 812})
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    context.close()
