import pytest


@pytest.mark.django_db
def test_it_reports_database_broker_and_version(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == settings.RIGRANK_VERSION
    assert body["database"]["status"] == "ok"
    expected_broker = "eager" if settings.CELERY_TASK_ALWAYS_EAGER else "ok"
    assert body["broker"]["status"] == expected_broker


@pytest.mark.django_db
def test_it_answers_503_when_the_broker_is_unreachable(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["broker"]["status"] == "down"
    assert body["broker"] == {"status": "down", "reason": "broker unreachable"}
    assert body["failed"] == ["broker"]
    assert body["database"]["status"] == "ok"
    assert "127.0.0.1" not in response.content.decode()
    assert ":1" not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_when_the_database_is_unreachable(client, monkeypatch):
    from django.db import connection

    connection.close()
    if connection.vendor == "sqlite":
        monkeypatch.setitem(connection.settings_dict, "NAME", "/nonexistent/dir/rigrank.db")
    else:
        monkeypatch.setitem(connection.settings_dict, "PORT", "1")
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
    assert response.status_code == 503
    body = response.json()
    assert body["database"]["status"] == "down"
    assert body["database"] == {"status": "down", "reason": "database unreachable"}
    assert body["failed"] == ["database"]
    assert "nonexistent" not in response.content.decode()
