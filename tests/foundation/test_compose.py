"""docker-compose.yml agrees with what the Makefile and scripts/serve.sh run.

No container engine runs here, so the file is parsed and compared, not started.
"""

import re

import yaml

from tests.services import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
SERVE = (ROOT / "scripts" / "serve.sh").read_text()
MAKEFILE = (ROOT / "Makefile").read_text()


def command(service: str) -> str:
    cmd = SERVICES[service]["command"]
    return " ".join(cmd) if isinstance(cmd, list) else cmd


def test_it_defines_web_worker_beat_redis_and_db_with_healthchecks():
    assert set(SERVICES) == {"web", "worker", "beat", "redis", "db"}
    for name, service in SERVICES.items():
        assert "healthcheck" in service, f"{name} has no healthcheck"


def test_the_database_is_postgres_16_on_a_named_volume():
    db = SERVICES["db"]
    assert db["image"].startswith("postgres:16")
    volume = db["volumes"][0].split(":")[0]
    assert volume in COMPOSE["volumes"]


def test_app_services_share_the_documented_environment():
    readme = (ROOT / "README.md").read_text()
    for name in ("web", "worker", "beat"):
        env = SERVICES[name]["environment"]
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS"} <= set(env)
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
        for variable in env:
            assert f"`{variable}`" in readme, f"{variable} is not in README's table"


def test_web_worker_and_beat_run_what_make_run_runs():
    assert "gunicorn rigrank.wsgi" in command("web")
    assert re.search(r'gunicorn"? rigrank\.wsgi', SERVE)
    assert "celery -A rigrank worker" in command("worker")
    assert re.search(r'celery"? -A rigrank worker', SERVE)
    beat_scheduler = "--scheduler django_celery_beat.schedulers:DatabaseScheduler"
    assert "celery -A rigrank beat" in command("beat") and beat_scheduler in command("beat")
    assert re.search(r'celery"? -A rigrank beat', SERVE) and beat_scheduler in SERVE


def test_web_prepares_the_database_like_make_setup():
    setup = MAKEFILE.split("\nsetup:")[1].split("\n\n")[0]
    steps = re.findall(r"manage\.py (\w+)", setup)
    assert "migrate" in steps and "load_seed" in steps
    for step in steps:
        if step != "collectstatic":  # the image collects static files at build time
            assert f"manage.py {step}" in command("web"), f"web does not run {step}"


def test_redis_persists_to_a_named_volume():
    redis = SERVICES["redis"]
    assert "--appendonly yes" in command("redis")
    mounts = dict(volume.split(":", 1) for volume in redis["volumes"])
    assert mounts.get("redisdata") == "/data"
    assert "redisdata" in COMPOSE["volumes"]


def test_the_image_runs_as_an_unprivileged_user():
    dockerfile = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users, "no USER line: the container runs as root"
    final = users[-1].split(":")[0]
    assert final not in {"root", "0"}
    assert dockerfile.rindex("USER") > dockerfile.rindex("RUN ")  # nothing runs as root after
