"""The /accuracy/ page and the evidence shown with every estimate."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from configurator.engine.evidence import validation_data
from tests.web.test_build_page import chart, top_build_urls

pytestmark = pytest.mark.usefixtures("seeded")


def test_it_shows_the_validation_tables_and_a_scatter_per_metric(client):
    response = client.get(reverse("accuracy"))
    html = response.content.decode()
    assert response.status_code == 200
    data = validation_data()
    assert f"{len(data['rows'])} published measurements" in html
    overall = data["summary"]["leave_one_source_out"]["decode"]["overall"]
    table = re.search(r'id="table-leave_one_source_out-decode">(.*?)</table>', html, re.S).group(1)
    assert f"{overall['median']} %" in table and f"{overall['p90']} %" in table
    scatter = chart(html, "chart-accuracy-decode")
    points = scatter["data"]["datasets"][0]["data"]
    assert len(points) == sum(1 for r in data["rows"] if r["metric"] == "decode")


def test_the_build_page_lists_its_evidence_and_links_its_ranges_to_accuracy(client):
    html = client.get(top_build_urls(client)[0]).content.decode()
    assert 'id="evidence"' in html and "nearest published measurements" in html
    evidence = re.search(r'id="evidence">(.*?)</details>', html, re.S).group(1)
    assert evidence.count("<tr>") >= 2 and 'href="http' in evidence
    assert html.count(f'href="{reverse("accuracy")}"') >= 2


def test_the_api_returns_evidence_with_measured_and_predicted_values(client):
    response = client.get(
        "/api/estimate",
        {"model": "llama-3-1-70b-instruct", "quant": "Q4_K_M", "gpu": "nvidia-geforce-rtx-4090:2"},
    )
    data = json.loads(response.content)
    assert response.status_code == 200, data
    assert 1 <= len(data["evidence"]) <= 5
    for item in data["evidence"]:
        assert item["source"].startswith("http")
        assert item["measured"] > 0 and item["predicted"] > 0
