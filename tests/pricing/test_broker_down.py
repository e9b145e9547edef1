""" "Refresh prices now" with the broker stopped: the run says so and is not left open,
and /healthz reports the broker down (a real redis-server, stopped under the test)."""

import time

import pytest
from django.urls import reverse

from pricing.models import RefreshRun
from rigrank.celery import app
from tests.pricing.helpers import make_offer, make_part, make_retailer

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(private_redis, settings):
    """Celery and the settings pointed at the private Redis, as with REDIS_URL set."""
    before = {"broker_url": app.conf.broker_url, "task_always_eager": app.conf.task_always_eager}
    was = (settings.REDIS_URL, settings.CELERY_TASK_ALWAYS_EAGER)
    settings.REDIS_URL = private_redis.url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app.conf.update(broker_url=private_redis.url, task_always_eager=False)
    # Connections and producers made earlier in the session (an eager task's memory://
    # transport, say) would publish elsewhere: start both pools afresh.
    app._pool = None
    app.amqp._producer_pool = None
    yield private_redis
    app.conf.update(before)
    app._pool = None
    app.amqp._producer_pool = None
    settings.REDIS_URL, settings.CELERY_TASK_ALWAYS_EAGER = was


def test_refresh_now_with_the_broker_down_says_so_and_closes_the_run(
    admin_client, site, broker, django_capture_on_commit_callbacks
):
    site.page("/p/good", "jsonld_product.html")
    make_offer(make_part("good"), make_retailer(), site.url("/p/good"))
    assert admin_client.get("/healthz").json()["broker"]["status"] == "ok"
    broker.stop()
    assert admin_client.get("/healthz").json()["failed"] == ["broker"]

    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("pricing:run_new"))
    assert time.monotonic() - started < 20
    assert response.status_code == 302
    run = RefreshRun.objects.get()
    assert run.is_finished
    assert (run.total, run.skipped, run.remaining) == (1, 1, 0)
    page = admin_client.get(response.url).content.decode()
    assert "The task broker (Redis) is down" in page
    assert "Finished" in page
    assert site.hits("/p/good") == []
