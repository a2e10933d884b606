import pytest
from django.db import connection
from django.test import override_settings

pytestmark = [pytest.mark.redis]


@pytest.mark.django_db
def test_healthz_is_ok_when_database_and_redis_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_healthz_names_redis_when_it_does_not_answer(client):
    # Port 1 on loopback: nothing listens there, so the connection is refused.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["redis"].startswith("error")


@pytest.mark.django_db(transaction=True)
def test_healthz_names_the_database_when_it_does_not_answer(client):
    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port

    assert response.status_code == 503
    body = response.json()
    assert body["database"].startswith("error")
    assert body["redis"] == "ok"
