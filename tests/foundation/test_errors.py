"""The error middleware: an estimator refusal the forms missed is a 400 naming the field;
any other exception stays a 500; everything under /api/ answers JSON."""

import pytest

pytestmark = [pytest.mark.urls("tests.foundation.errors_urls"), pytest.mark.django_db]


def test_it_turns_an_estimator_refusal_into_a_json_400_naming_the_field(client):
    response = client.get("/api/engine", {"context": "0"})
    assert response.status_code == 400
    assert response.json() == {
        "errors": {"context": ["context_tokens must be between 1 and 10000000 (got 0)"]}
    }


def test_it_turns_an_estimator_refusal_into_a_400_page(client):
    response = client.get("/engine", {"context": "20000000"})
    assert response.status_code == 400
    assert "context_tokens must be between 1 and 10000000" in response.content.decode()


def test_it_keeps_other_errors_server_errors_but_json_under_the_api(client):
    client.raise_request_exception = False
    api = client.get("/api/bug")
    assert api.status_code == 500
    assert api.json() == {"errors": {"__all__": ["internal error; it has been logged."]}}
    page = client.get("/bug")
    assert page.status_code == 500
    assert "Something went wrong" in page.content.decode()


@pytest.mark.urls("rigrank.urls")
def test_a_host_not_allowed_is_a_json_400_under_the_api_and_a_page_elsewhere(client):
    api = client.get("/api/estimate", {"model": "8b", "gpu": "4090"}, HTTP_HOST="evil.example")
    assert api.status_code == 400
    assert api.json() == {"errors": {"__all__": ["bad request."]}}
    page = client.get("/", HTTP_HOST="evil.example")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")


def test_a_server_error_outside_the_views_is_json_under_the_api(rf):
    from rigrank.errors import server_error

    api = server_error(rf.get("/api/builds"))
    assert api.status_code == 500
    assert api["Content-Type"].startswith("application/json")
    page = server_error(rf.get("/"))
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")
