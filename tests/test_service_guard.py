"""A missing service is loud: skipped with its reason, or a failure under REQUIRE_SERVICES=1."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
A_REDIS_TEST = "sers/tests/test_health.py::test_healthz_is_ok_when_database_and_redis_answer"


def run_pytest_without_redis(**environment) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "REQUIRE_SERVICES"}
    env.update(REDIS_URL="redis://127.0.0.1:1/0", **environment)
    return subprocess.run(  # noqa: S603 - our own interpreter running our own suite
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", A_REDIS_TEST],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.postgres  # the inner test must find PostgreSQL, so only Redis is missing
def test_a_test_needing_a_missing_service_is_skipped_with_the_reason():
    result = run_pytest_without_redis()

    assert result.returncode == 0, result.stdout
    assert "1 skipped" in result.stdout
    assert "SERVICE MISSING: Redis at redis://127.0.0.1:1/0 does not answer" in result.stdout


@pytest.mark.postgres  # the inner test must find PostgreSQL, so only Redis is missing
def test_under_require_services_a_missing_service_fails_the_run():
    result = run_pytest_without_redis(REQUIRE_SERVICES="1")

    assert result.returncode != 0
    assert "REQUIRE_SERVICES=1 and Redis at redis://127.0.0.1:1/0 does not answer" in result.stdout
