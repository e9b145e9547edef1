"""python manage.py recommend: the ranked builds as a table or as the API's JSON."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from configurator.engine.builds import RULES

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("recommend", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_it_prints_ranked_builds_with_their_parts(seeded):
    text = run("--model", "llama-3-1-70b-instruct", "--quant", "Q4_K_M", "--min-tps", "10")
    assert "#1 " in text and "tokens/s" in text
    assert "parts: " in text
    assert "Near misses:" in text and "GB more VRAM" in text
    assert "Prices in USD as of" in text
    # Rules that do not simply pass are listed under each build: warn (!), unknown (?).
    flagged = [ln for ln in text.splitlines() if ln.startswith(("    ? ", "    ! "))]
    assert flagged and all(ln.split()[1].rstrip(":") in RULES for ln in flagged)


def test_json_has_the_same_fields_as_the_api(seeded, client):
    data = json.loads(
        run("--model", "llama-3-1-70b-instruct", "--min-tps", "10", "--limit", "3", "--json")
    )
    api = json.loads(client.get("/api/builds", {"min_tps": "10", "limit": "3"}).content)
    assert set(data) == set(api)
    assert set(data["builds"][0]) == set(api["builds"][0])
    assert [b["key"] for b in data["builds"]] == [b["key"] for b in api["builds"]]
    assert [b["rules"] for b in data["builds"]] == [b["rules"] for b in api["builds"]]


def test_new_only_and_objective_flags_reach_the_request(seeded):
    data = json.loads(run("--new-only", "--objective", "fastest", "--budget", "6000", "--json"))
    assert data["request"]["allow_used"] is False
    assert data["request"]["objective"] == "fastest"
    for build in data["builds"]:
        assert all(line["condition"] == "new" for line in build["lines"])
        assert float(build["total"]) <= 6000


def test_invalid_flags_exit_2_naming_each_flag(seeded):
    with pytest.raises(CommandError) as caught:
        run("--model", "falcon-40b", "--context", "9000", "--form", "desk")
    assert caught.value.returncode == 2
    message = str(caught.value)
    assert "--context: context must be from 1 to 2,048 tokens" in message
    assert "--form: form must be one of" in message


def test_it_evaluates_a_given_build(seeded):
    key = json.loads(run("--min-tps", "10", "--limit", "1", "--json"))["builds"][0]["key"]
    text = run("--parts", key, "--min-tps", "10")
    assert "parts: " + key in text
    data = json.loads(run("--parts", key, "--json"))
    assert data["key"] == key
    with pytest.raises(CommandError) as caught:
        run("--parts", "nothing-here:1")
    assert caught.value.returncode == 2 and "--parts" in str(caught.value)
