"""The same settings module gives the embedded run or the real services, from the environment."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "atomic_requests": settings.DATABASES["default"]["ATOMIC_REQUESTS"],
    "broker": settings.CELERY_BROKER_URL,
    "eager": settings.CELERY_TASK_ALWAYS_EAGER,
    "email": settings.MAILERS["default"]["BACKEND"],
    "time_zone": settings.TIME_ZONE,
    "use_tz": settings.USE_TZ,
}))
"""


def run_python(script: str, **environment) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "sers.settings", **environment}
    return subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )


def settings_with(**environment) -> dict:
    result = run_python(PRINT_SETTINGS, **environment)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_no_environment_gives_the_embedded_first_run():
    embedded = settings_with(DEBUG="1")

    assert embedded["engine"] == "django.db.backends.sqlite3"
    assert embedded["eager"] is True
    assert embedded["email"] == "django.core.mail.backends.console.EmailBackend"
    assert embedded["time_zone"] == "America/Los_Angeles"
    assert embedded["use_tz"] is True
    assert embedded["atomic_requests"] is False


def test_database_and_redis_urls_switch_to_the_real_services():
    real = settings_with(
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://sers@db.internal:5432/sers",
        REDIS_URL="redis://cache.internal:6379/0",
    )

    assert real["engine"] == "django.db.backends.postgresql"
    assert real["broker"] == "redis://cache.internal:6379/0"
    assert real["eager"] is False


READ_SECRET_KEY = "from django.conf import settings; print(len(settings.SECRET_KEY))"


def test_without_debug_the_secret_key_must_come_from_the_environment():
    missing = run_python(READ_SECRET_KEY)
    assert missing.returncode != 0
    assert "The SECRET_KEY setting must not be empty" in missing.stderr

    given = run_python(READ_SECRET_KEY, SECRET_KEY="k" * 50)
    assert given.stdout.strip() == "50"
