"""Results pages keep working when Redis goes away: the cache falls back to process
memory (a real redis-server, stopped under the test), /healthz says the broker is down."""

from __future__ import annotations

import pytest
import redis

from tests.web.conftest import LLAMA_70B

pytestmark = pytest.mark.usefixtures("seeded")

QUERY = {"model": LLAMA_70B, "quant": "Q4_K_M", "min_tps": "10"}
GPU = "nvidia-geforce-rtx-4090:1"


@pytest.fixture
def redis_cache(private_redis, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "rigrank.cache.FallbackRedisCache",
            "LOCATION": private_redis.url,
            "KEY_PREFIX": "rigrank-test",
        }
    }
    settings.REDIS_URL = private_redis.url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    yield private_redis
    from configurator import adapters

    adapters.clear_local()


def pages(client) -> dict[str, int]:
    return {
        "/": client.get("/", QUERY).status_code,
        "/api/builds": client.get("/api/builds", QUERY).status_code,
        "/build/": client.get("/build/", {"parts": GPU, **QUERY}).status_code,
        "/gpus/": client.get("/gpus/").status_code,
    }


def test_results_pages_survive_redis_stopping(client, redis_cache):
    from configurator import adapters

    assert set(pages(client).values()) == {200}
    assert redis.Redis.from_url(redis_cache.url).dbsize() > 0  # the snapshot went to Redis
    redis_cache.stop()
    adapters.clear_local()  # a fresh process: nothing in memory yet
    assert set(pages(client).values()) == {200}
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.json()["failed"] == ["broker"]


def test_a_fresh_process_with_redis_down_builds_results_from_the_database(client, redis_cache):
    from configurator import adapters

    redis_cache.stop()
    adapters.clear_local()
    response = client.get("/api/builds", QUERY)
    assert response.status_code == 200
    assert response.json()["builds"]
