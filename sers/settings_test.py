"""Settings for the test suite: the real PostgreSQL and Redis.

``DATABASE_URL`` and ``REDIS_URL`` win when set; otherwise the local servers on
127.0.0.1 are used. ``conftest.py`` skips (or, under ``REQUIRE_SERVICES=1``,
fails) the tests that need a service that does not answer.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/sers")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
# Unit tests run tasks in-process; the worker tests switch this off for themselves.
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "true")

from sers.settings import *  # noqa: F403

# Hashing with the real algorithm makes every login in a test take ~0.3 s.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STRIPE_WEBHOOK_SECRET = "whsec_tests_only"  # noqa: S105 - signs test webhooks only
# Static files come straight from the app and static/ folders; nothing is collected.
STATIC_ROOT = None
WHITENOISE_USE_FINDERS = True

# Each run writes its export files to a fresh folder of its own.
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="sers-test-media-"))
