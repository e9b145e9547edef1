"""Settings are read from the environment, in a fresh interpreter each time."""

import json
import os
import subprocess
import sys

import pytest

from tests.services import ROOT

PROBE = """
import gc, json, django
django.setup()
from django.conf import settings
from rigrank.celery import app
db = settings.DATABASES["default"]
print(json.dumps({
    "engine": db["ENGINE"], "name": str(db["NAME"]), "host": db.get("HOST", ""),
    "port": str(db.get("PORT", "")), "password": db.get("PASSWORD", ""),
    "eager": app.conf.task_always_eager, "broker": app.conf.broker_url,
    "cache": settings.CACHES["default"]["BACKEND"], "debug": settings.DEBUG,
    "acks_late": app.conf.task_acks_late,
    "reject_on_worker_lost": app.conf.task_reject_on_worker_lost,
    "prefetch": app.conf.worker_prefetch_multiplier,
    "time_limit": app.conf.task_time_limit, "soft_time_limit": app.conf.task_soft_time_limit,
    "gc_young": gc.get_threshold()[0],
    "cache_entries": settings.CACHES["default"].get("OPTIONS", {}).get("MAX_ENTRIES"),
}))
"""


def read_settings(**env: str) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    base.update({"DJANGO_SETTINGS_MODULE": "rigrank.settings", "SECRET_KEY": "x" * 50})
    base.update(env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=base, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_it_defaults_to_sqlite_and_eager_celery():
    s = read_settings()
    assert s["engine"] == "django.db.backends.sqlite3"
    assert s["name"].endswith("db.sqlite3")
    assert s["eager"] is True
    assert s["broker"] == "memory://"
    assert s["cache"].endswith("LocMemCache")
    # Sized for a large catalogue's per-part price entries, and fewer young collections
    # during build searches (both read from the environment).
    assert s["cache_entries"] == 2_000 and s["gc_young"] == 10_000


def test_cache_size_and_collector_threshold_come_from_the_environment():
    s = read_settings(LOCAL_CACHE_ENTRIES="4000", GC_YOUNG_THRESHOLD="2500")
    assert (s["cache_entries"], s["gc_young"]) == (4000, 2500)


def test_it_uses_postgres_and_redis_from_the_environment():
    s = read_settings(
        DATABASE_URL="postgres://rig:p%23ss@db.internal:5433/rigrank",
        REDIS_URL="redis://cache.internal:6380/2",
    )
    assert s["engine"] == "django.db.backends.postgresql"
    assert (s["host"], s["port"], s["name"]) == ("db.internal", "5433", "rigrank")
    assert s["password"] == "p#ss"  # percent-encoded '#' survives
    assert s["eager"] is False
    assert s["broker"] == "redis://cache.internal:6380/2"
    assert s["cache"].endswith("RedisCache")


def test_it_configures_reliable_task_defaults():
    s = read_settings(REDIS_URL="redis://127.0.0.1:6379/0")
    assert s["acks_late"] is True
    assert s["reject_on_worker_lost"] is True
    assert s["prefetch"] == 1
    assert 0 < s["soft_time_limit"] < s["time_limit"]


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "rigrank.settings",
            "DEBUG": "0",
            "SECRET_KEY_FILE": str(tmp_path / "no-such-file"),
        }
    )
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode != 0
    assert "SECRET_KEY must be set" in out.stderr


def test_it_reads_the_secret_key_file_when_secret_key_is_unset(tmp_path):
    key_file = tmp_path / ".secret_key"
    key_file.write_text("k" * 50 + "\n")
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"DJANGO_SETTINGS_MODULE": "rigrank.settings", "SECRET_KEY_FILE": str(key_file)})
    code = "import django; django.setup(); from django.conf import settings; "
    code += "print(settings.SECRET_KEY)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "k" * 50


def test_the_readme_commands_run_as_typed_in_a_new_shell(tmp_path):
    """`.venv/bin/python manage.py ...` from the project directory, with no activated
    virtualenv and no SECRET_KEY exported (make setup wrote .secret_key)."""
    key_file = tmp_path / ".secret_key"
    key_file.write_text("w" * 50)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SECRET_KEY_FILE": str(key_file),
        "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
    }
    python = ".venv/bin/python"
    migrate = subprocess.run(
        [python, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert migrate.returncode == 0, migrate.stderr
    out = subprocess.run(
        [python, "manage.py", "estimate", "--model", "70b", "--quant", "Q4_K_M"]
        + ["--custom-gpu", "vram_gb=48,bandwidth_gbs=960,fp16_tflops=150:2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert "tokens/s" in out.stdout


def test_it_allows_a_development_key_with_debug_on():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env.update({"DJANGO_SETTINGS_MODULE": "rigrank.settings", "DEBUG": "1"})
    out = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1])["debug"] is True


@pytest.mark.django_db
def test_it_runs_a_task_inline_in_eager_mode():
    from ops.models import TaskProbe
    from ops.tasks import probe
    from rigrank.celery import app

    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        result = probe.delay("eager-token")
    finally:
        app.conf.task_always_eager = was_eager
    assert result.successful()
    row = TaskProbe.objects.get(token="eager-token")
    assert row.completed_at is not None
    assert row.attempts == 1


def test_deploy_check_is_clean_with_production_settings():
    # Whatever the test session set for itself (e.g. async-unsafe for the live server)
    # is not part of a production environment.
    drop = {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "rigrank.settings",
            "DEBUG": "0",
            "HTTPS": "1",
            "SECRET_KEY": "k3Jq9xV2-production-like-secret-key-with-enough-entropy-8fPz",
            "ALLOWED_HOSTS": "rigrank.example.org",
        }
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "no issues" in out.stdout
