"""Fixtures shared by the whole suite.

Service-backed tests (Redis, a real Celery worker, PostgreSQL, Chromium) skip with a
clear reason on a machine without the service, and fail instead of skipping when
``CI=true``: CI must exercise the real thing.
"""

import os

import pytest

from tests.hubfake import hub, offline_hub  # noqa: F401  (fixtures: a local Hugging Face hub)
from tests.services import IN_CI, redis_reachable, redis_url_for_tests


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI, when a service a test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: service tests must run, not skip)")
    pytest.skip(reason)


@pytest.fixture
def redis_url() -> str:
    url = redis_url_for_tests()
    require(redis_reachable(url), f"Redis is not reachable at {url} (set REDIS_URL)")
    return url


@pytest.fixture
def private_redis():
    """A redis-server of the test's own on a free port; the test may stop it."""
    import shutil

    from tests.services import RedisServer

    require(shutil.which("redis-server") is not None, "redis-server is not installed")
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def worker_factory(redis_url, transactional_db):
    """Start real ``celery worker`` processes against Redis and the test database."""
    from tests.services import WorkerProcess

    workers: list[WorkerProcess] = []

    def start(queue: str, **env: str) -> WorkerProcess:
        worker = WorkerProcess(queue=queue, redis_url=redis_url, extra_env=env)
        worker.start()
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.kill()


def pytest_report_header(config) -> str:
    return (
        f"rigrank: CI={os.environ.get('CI', '')!r} "
        f"DATABASE_URL={'set' if os.environ.get('DATABASE_URL') else 'unset (SQLite)'} "
        f"REDIS_URL={'set' if os.environ.get('REDIS_URL') else 'unset (eager Celery)'}"
    )
