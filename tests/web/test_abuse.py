"""Abuse controls: share links de-duplicated and rate-limited, unvisited snapshots pruned,
the API rate-limited, admin sign-in throttled per account and per address."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from catalog.models import Part
from configurator.models import SharedBuild
from pricing.current import current_price
from pricing.models import Offer
from pricing.observations import observation_add
from tests.web.conftest import LLAMA_70B

pytestmark = pytest.mark.usefixtures("seeded")

WORKLOAD = {"model": LLAMA_70B, "quant": "Q4_K_M", "min_tps": "10"}


def top_build_params(client) -> dict[str, str]:
    html = client.get(reverse("home"), WORKLOAD).content.decode()
    url = re.search(r'href="(/build/\?parts=[^"]+)" class="build-link"', html).group(1)
    return {k: v[0] for k, v in parse_qs(urlparse(url.replace("&amp;", "&")).query).items()}


def test_sharing_the_same_parts_workload_and_prices_gives_the_same_link(client):
    params = top_build_params(client)
    first = client.post(reverse("share"), params)
    second = client.post(reverse("share"), params)
    assert first.status_code == second.status_code == 303
    assert first["Location"] == second["Location"]
    assert SharedBuild.objects.count() == 1


def test_a_new_price_or_workload_gives_a_new_link(client):
    params = top_build_params(client)
    first = client.post(reverse("share"), params)["Location"]
    other_workload = client.post(reverse("share"), {**params, "context": "8192"})["Location"]
    part = Part.objects.get(slug=params["parts"].split(":")[0])
    price = current_price(part)
    offer = Offer.objects.get(pk=price.offer_id)
    cheaper = price.original_amount - 10
    observation_add(offer=offer, amount=cheaper, currency=price.original_currency, origin="manual")
    repriced = client.post(reverse("share"), params)["Location"]
    assert len({first, other_workload, repriced}) == 3


def test_share_links_are_rate_limited_per_address(client, settings):
    settings.SHARE_RATE_PER_HOUR = 3
    params = top_build_params(client)
    codes = [client.post(reverse("share"), params).status_code for _ in range(3)]
    assert codes == [303, 303, 303]
    limited = client.post(reverse("share"), params)
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 3601
    assert "Too many shared links" in limited.content.decode()
    other = client.post(reverse("share"), params, REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 303


def test_an_ipv6_client_is_counted_by_its_64_network(client, settings):
    settings.API_RATE_PER_MINUTE = 2
    query = {"model": "8b", "gpu": "4090"}
    same_64 = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"]
    codes = [client.get("/api/estimate", query, REMOTE_ADDR=a).status_code for a in same_64]
    assert codes == [200, 200, 429]
    other_64 = client.get("/api/estimate", query, REMOTE_ADDR="2001:db8:1:3::1")
    assert other_64.status_code == 200
    mapped = ["::ffff:192.0.2.9", "192.0.2.9", "192.0.2.9"]
    codes = [client.get("/api/estimate", query, REMOTE_ADDR=a).status_code for a in mapped]
    assert codes == [200, 200, 429]


def test_the_api_is_rate_limited_per_address_with_a_json_429(client, settings):
    settings.API_RATE_PER_MINUTE = 2
    query = {"model": "8b", "gpu": "4090"}
    assert [client.get("/api/estimate", query).status_code for _ in range(2)] == [200, 200]
    limited = client.get("/api/estimate", query)
    assert limited.status_code == 429
    assert "too many requests" in limited.json()["errors"]["__all__"][0]
    assert int(limited["Retry-After"]) <= 61


def test_snapshots_nobody_opened_are_pruned_after_the_retention_period(client, settings):
    params = top_build_params(client)
    kept_url = client.post(reverse("share"), params)["Location"]
    gone_url = client.post(reverse("share"), {**params, "context": "8192"})["Location"]
    old = timezone.now() - timedelta(days=settings.SHARE_RETENTION_DAYS + 1)
    SharedBuild.objects.update(created_at=old)
    assert client.get(kept_url).status_code == 200  # opened today: kept
    out = StringIO()
    call_command("prune_shared_builds", stdout=out)
    assert "Deleted 1 shared build" in out.getvalue()
    assert client.get(kept_url).status_code == 200
    assert client.get(gone_url).status_code == 404


def login(client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(
        reverse("admin:login"),
        {"username": username, "password": password, "next": "/admin/"},
        REMOTE_ADDR=address,
    )


def test_admin_sign_in_is_throttled_per_account(client, django_user_model, settings):
    django_user_model.objects.create_superuser("boss", "boss@example.org", "right-horse-42")
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, "boss", f"guess-{n}", address=f"198.51.100.{n}").status_code == 200
    assert login(client, "boss", "one-more-guess", address="198.51.100.99").status_code == 429
    locked = login(client, "boss", "right-horse-42", address="203.0.113.9")
    assert locked.status_code == 429


def test_admin_sign_in_is_throttled_per_address(client, django_user_model, settings):
    django_user_model.objects.create_superuser("boss", "boss@example.org", "right-horse-42")
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert login(client, f"user{n}", "guess").status_code == 200
    assert login(client, "someone", "guess").status_code == 429
    assert login(client, "boss", "right-horse-42").status_code == 429
    assert login(client, "boss", "right-horse-42", address="203.0.113.9").status_code == 302


def test_admin_sign_in_works_when_the_client_address_is_not_an_ip(
    client, django_user_model, settings
):
    # A proxy's malformed X-Forwarded-For, or a login with no address at all, must not
    # reach the sign-in log's IP column (PostgreSQL refuses text that is not an address).
    settings.TRUSTED_PROXY_HOPS = 1
    user = django_user_model.objects.create_superuser("boss", "boss@example.org", "right-42x")
    signed_in = client.post(
        "/admin/login/?next=/admin/",
        {"username": "boss", "password": "right-42x"},
        HTTP_X_FORWARDED_FOR="not-an-address",
    )
    assert signed_in.status_code == 302
    Client().force_login(user)


def test_measurement_submissions_are_rate_limited_per_address(client, settings):
    settings.MEASURE_RATE_PER_HOUR = 2
    url = reverse("rig_submit_measurement")
    codes = [client.post(url, {"bench": "nothing"}).status_code for _ in range(2)]
    assert 429 not in codes
    limited = client.post(url, {"bench": "nothing"})
    assert limited.status_code == 429
    assert "too many submissions" in limited.content.decode()
    assert int(limited["Retry-After"]) <= 3601


def test_the_rig_api_is_rate_limited_too(client, settings):
    settings.API_RATE_PER_MINUTE = 1
    assert client.get("/api/parts", {"q": "4090"}).status_code == 200
    limited = client.get("/api/parts", {"q": "4090"})
    assert limited.status_code == 429
    assert limited.json()["errors"]["__all__"]
