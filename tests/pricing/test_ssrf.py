"""The scraper and the selector tester fetch only public addresses: loopback, private and
link-local ones are refused on every hop unless PRICE_FETCH_ALLOW_PRIVATE is set (the
test settings set it; these tests switch it off against the real loopback shop)."""

import pytest
import requests
from django.urls import reverse
from werkzeug import Response

from pricing.conf import FetchPolicy
from pricing.fetch import FetchError, fetch_page, session_for
from pricing.models import PriceObservation
from rigrank.netguard import BlockedAddress, check_url
from tests.pricing.helpers import make_retailer

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_private(settings):
    settings.PRICE_FETCH_ALLOW_PRIVATE = False
    settings.PRICE_FETCH_ALLOWED_NETWORKS = []


def test_a_loopback_shop_is_not_fetched_at_all(site, no_private):
    url = site.page("/p/4090", "jsonld_product.html")
    with pytest.raises(FetchError) as caught:
        fetch_page(url, policy=FetchPolicy.from_settings())
    assert caught.value.outcome == "bad_url"
    assert "loopback address (127.0.0.1)" in caught.value.message
    assert site.paths() == []  # not even robots.txt


def test_a_redirect_to_a_private_address_is_refused_at_that_hop(site, settings, no_private):
    settings.PRICE_FETCH_ALLOWED_NETWORKS = ["127.0.0.1/32"]  # the shop itself is allowed
    inside = f"http://127.0.0.2:{site.server.port}/admin"
    site.handle("/p/moved", lambda request: Response("", 302, {"Location": inside}))
    with pytest.raises(FetchError) as caught:
        fetch_page(site.url("/p/moved"), policy=FetchPolicy.from_settings())
    assert caught.value.outcome == "bad_url"
    assert "127.0.0.2" in caught.value.message
    assert site.paths() == ["/robots.txt", "/p/moved"]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://10.1.2.3/", "private"),
        ("http://192.168.0.1:8080/", "private"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://localhost/", "loopback"),
    ],
)
def test_non_public_addresses_are_named_and_refused(no_private, url, kind):
    with pytest.raises(BlockedAddress, match=kind):
        check_url(url)


def test_public_addresses_pass(no_private):
    check_url("http://93.184.215.14/")  # a public address, not contacted here


def test_every_connection_checks_the_address_it_reached(site, no_private):
    """The session refuses the peer even when nothing checked the URL first (a name that
    resolves to a public address once and to a private one the next time)."""
    url = site.page("/p/direct", "jsonld_product.html")
    session = session_for(FetchPolicy.from_settings())
    with pytest.raises(requests.exceptions.ConnectionError, match="loopback"):
        session.get(url, timeout=2)
    assert site.paths() == []


def test_the_selector_tester_refuses_a_private_url(admin_client, site, no_private):
    retailer = make_retailer(price_selector=".price-box")
    url = site.page("/p/psu", "selector_only.html")
    response = admin_client.post(
        reverse("admin:pricing_retailer_test", args=[retailer.pk]),
        {"url": url, "price_selector": ".price-box .now", "condition": ""},
    )
    assert response.status_code == 200
    assert "loopback address" in response.content.decode()
    assert site.paths() == []
    assert not PriceObservation.objects.exists()
