"""import_model fetches from the Hugging Face hub only at public addresses: a hub (or a
redirect) on a loopback or private address is refused unless PRICE_FETCH_ALLOW_PRIVATE
is set, which the test settings do and these tests undo."""

import pytest
from django.core.management.base import CommandError
from werkzeug import Response

from catalog.models import LlmModel
from tests.catalog.conftest import FIXTURES

pytestmark = pytest.mark.django_db

CONFIG = (FIXTURES / "configs" / "llama-3.1-8b-instruct.json").read_bytes()
COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture
def hub(httpserver, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("").rstrip("/"))
    httpserver.expect_request(f"/{REPO}/resolve/main/config.json").respond_with_data(
        CONFIG,
        content_type="application/json",
        headers={"X-Repo-Commit": COMMIT, "ETag": '"config-etag"'},
    )
    return httpserver


def test_a_hub_on_a_loopback_address_is_refused(run, hub, settings):
    settings.PRICE_FETCH_ALLOW_PRIVATE = False
    with pytest.raises(CommandError) as caught:
        run("import_model", REPO)
    assert "loopback address (127.0.0.1)" in str(caught.value)
    assert hub.log == []
    assert not LlmModel.objects.exists()


def test_a_redirect_to_a_private_address_is_refused(run, httpserver, monkeypatch, settings):
    settings.PRICE_FETCH_ALLOW_PRIVATE = False
    settings.PRICE_FETCH_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the hub itself is allowed
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("").rstrip("/"))
    inside = f"http://10.0.0.7:{httpserver.port}/config.json"
    httpserver.expect_request(f"/{REPO}/resolve/main/config.json").respond_with_response(
        Response("", 302, {"Location": inside, "X-Repo-Commit": COMMIT, "ETag": '"e"'})
    )
    with pytest.raises(CommandError) as caught:
        run("import_model", REPO)
    assert "private address (10.0.0.7)" in str(caught.value)
    assert not LlmModel.objects.exists()


def test_the_same_hub_is_used_when_private_addresses_are_allowed(run, hub):
    run("import_model", REPO)
    assert LlmModel.objects.get().name == "Llama-3.1-8B-Instruct"
