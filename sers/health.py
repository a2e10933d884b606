"""Liveness of the parts SERS cannot work without."""

import redis
from django.conf import settings
from django.db import DatabaseError, connection

OK = "ok"


def database_status() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as error:
        return f"error: {error.__class__.__name__}"
    return OK


def redis_status() -> str:
    if not settings.REDIS_URL:
        # The embedded run has no broker: tasks run in the web process.
        return "not configured"
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        return f"error: {error.__class__.__name__}"
    finally:
        client.close()
    return OK


def health_report() -> tuple[bool, dict[str, str]]:
    report = {"database": database_status(), "redis": redis_status()}
    healthy = not any(status.startswith("error") for status in report.values())
    return healthy, report
