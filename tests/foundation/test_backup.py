"""`make backup` / `make restore FILE=...`: a round trip through the real commands (in a
separate process, against the test database, SQLite or PostgreSQL) keeps every price
observation, shared build and admin edit, and drops what was done after the backup."""

import os
import re
import subprocess
import sys
from decimal import Decimal

import pytest
from django.db import connection

from catalog.models import Part
from configurator.models import SharedBuild
from pricing.models import PriceObservation
from pricing.observations import observation_add
from tests.pricing.helpers import add_price, make_offer, make_part, make_retailer
from tests.services import ROOT, current_database_url

MAKEFILE = (ROOT / "Makefile").read_text()


def manage(*args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rigrank.settings",
        "DATABASE_URL": current_database_url(),
        "SECRET_KEY": "backup-test-secret-key-not-for-production-0123456789",
    }
    connection.close()  # the restore replaces what this process is connected to
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def state() -> dict:
    return {
        "observations": sorted(
            PriceObservation.objects.values_list("offer__part__slug", "amount", "observed_at")
        ),
        "shares": sorted(SharedBuild.objects.values_list("slug", "snapshot")),
        "names": sorted(Part.objects.values_list("slug", "name")),
    }


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_prices_shares_and_admin_edits(tmp_path):
    offer = make_offer(make_part("nvidia-rtx-4090"), make_retailer())
    for days, amount in [(30, "1699.00"), (10, "1649.00"), (1, "1599.99")]:
        add_price(offer, amount, days_ago=days)
    SharedBuild.objects.create(
        snapshot={"build": {"lines": []}, "query": "model=70b"}, software_version="0.1.0"
    )
    Part.objects.filter(slug="nvidia-rtx-4090").update(name="RTX 4090 (admin's own name)")
    before = state()

    made = manage("backup", "--output", str(tmp_path / "rigrank.backup"))
    path = tmp_path / "rigrank.backup"
    assert path.is_file() and str(path) in made.stdout
    assert oct(path.stat().st_mode & 0o777) == "0o600"

    observation_add(offer=offer, amount="1499.00", currency="USD", origin="manual")
    SharedBuild.objects.all().delete()
    Part.objects.filter(slug="nvidia-rtx-4090").update(name="renamed after the backup")
    assert state() != before

    manage("restore", str(path))
    after = state()
    assert after == before
    assert Decimal("1499.00") not in [amount for _, amount, _ in after["observations"]]


@pytest.mark.django_db(transaction=True)
def test_a_backup_without_output_goes_to_the_backups_folder():
    made = manage("backup")
    path = re.search(r"Backed up to (\S+) ", made.stdout).group(1)
    try:
        assert re.search(r"backups/rigrank-\d{8}-\d{6}\.(sqlite3|pgdump)$", path)
    finally:
        os.remove(path)


@pytest.mark.django_db(transaction=True)
def test_restoring_something_that_is_no_backup_says_so_and_changes_nothing(tmp_path):
    make_part("kept-part")
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rigrank.settings",
        "DATABASE_URL": current_database_url(),
        "SECRET_KEY": "backup-test-secret-key-not-for-production-0123456789",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "restore", str(junk)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert "is not a" in done.stderr and "backup" in done.stderr
    assert Part.objects.filter(slug="kept-part").exists()


def test_make_has_backup_and_restore_targets():
    assert re.search(r"^backup:.*\n\t\$\(PY\) manage\.py backup$", MAKEFILE, re.M)
    restore = MAKEFILE.split("\nrestore:")[1].split("\n\n")[0]
    assert 'manage.py restore "$(FILE)"' in restore
    assert "usage: make restore FILE=" in restore
