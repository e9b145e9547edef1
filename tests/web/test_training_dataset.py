"""The wizard's fine-tuning dataset and epochs: errors by the field, the run's hours on
the cards and the build page, and a share link that keeps them."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.urls import reverse

from configurator.models import SharedBuild

pytestmark = pytest.mark.usefixtures("seeded")

FINE_TUNE = {"model": "llama-3-1-8b-instruct", "mode": "lora", "min_tps": "0"}


def _home(client, **params):
    response = client.get(reverse("home"), {**FINE_TUNE, **params})
    return response, response.content.decode()


def _first_build_url(html: str) -> str:
    url = re.search(r'href="(/build/\?parts=[^"]+)" class="build-link"', html).group(1)
    return url.replace("&amp;", "&")


def test_the_wizard_names_a_bad_dataset_or_epochs_with_the_allowed_range(client):
    response, html = _home(client, dataset_tokens="12 megatokens")
    assert response.status_code == 400
    assert "Fine-tuning dataset (tokens) must be from 1,000 to 10,000,000,000,000 tokens" in html
    assert 'href="#id_dataset_tokens"' in html
    response, html = _home(client, epochs="500")
    assert response.status_code == 400
    assert "Epochs must be a whole number from 1 to 100." in html


def test_results_give_the_whole_run_over_the_users_dataset(client):
    response, html = _home(client, dataset_tokens="12,000,000", epochs="3")
    assert response.status_code == 200
    assert "a 12M-token dataset × 3 epochs" in html  # the workload line
    assert "3 epochs × 12M tokens<" in html and "tokens (assumed)" not in html
    # The form is redrawn in the short form, the link carries it.
    assert 'name="dataset_tokens" value="12M"' in html
    assert "dataset_tokens=12M&epochs=3" in _first_build_url(html)
    # Nothing stated: the default is used and said to be assumed.
    _, html = _home(client)
    assert "a 10M-token dataset (assumed; none given)" in html
    assert "1 epoch × 10M tokens (assumed)" in html


def test_inference_links_leave_the_dataset_out(client):
    _, html = _home(client, mode="inference", min_tps="1", dataset_tokens="12M")
    assert "dataset_tokens" not in _first_build_url(html)
    assert "Whole run" not in html
    # The fine-tuning fields are hidden for inference: what they hold is no error there.
    response, html = _home(client, mode="inference", min_tps="1", dataset_tokens="lots")
    assert response.status_code == 200 and "Ranked builds" in html


def test_a_share_link_keeps_the_dataset_and_epochs(client):
    _, html = _home(client, dataset_tokens="1.5B", epochs="2")
    url = _first_build_url(html)
    page = client.get(url).content.decode()
    assert "Your dataset: 1,500,000,000 tokens × 2 epochs = 3,000,000,000 training tokens" in page
    params = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    response = client.post(reverse("share"), params)
    assert response.status_code == 303
    shared = SharedBuild.objects.get()
    query = parse_qs(shared.snapshot["query"])
    assert query["dataset_tokens"] == ["1.5B"] and query["epochs"] == ["2"]
    est = shared.snapshot["build"]["estimate"]
    run = est["training_run"]
    assert run["total_tokens"] == 3_000_000_000 and not run["dataset_tokens_assumed"]
    assert run["hours"] * 3600 * est["training"]["tokens_per_s"] == pytest.approx(3e9, rel=1e-4)
    shown = client.get(response["Location"]).content.decode()
    assert "Your dataset: 1,500,000,000 tokens × 2 epochs" in shown
    assert "lora fine-tuning over 1,500,000,000 tokens × 2 epochs." in shown  # the lead
    assert f'data-hours="{run["hours"]}"' in shown
    # Sharing the same build for another dataset is another link.
    client.post(reverse("share"), {**params, "dataset_tokens": "250k"})
    assert SharedBuild.objects.count() == 2


def _visible_text(html: str) -> str:
    """The words a reader sees, without the part pickers (a part may be named "Ada
    Generation"), scripts and tags."""
    html = re.sub(r"<(select|script)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_fine_tuning_build_and_shared_pages_read_as_fine_tuning(client):
    _, html = _home(client, dataset_tokens="50M")
    url = _first_build_url(html)
    page = client.get(url).content.decode()
    description = re.search(r'<meta name="description" content="([^"]*)"', page).group(1)
    assert "training tokens/s" in description
    params = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
    shared = client.get(client.post(reverse("share"), params)["Location"]).content.decode()
    assert "training tokens/s" in re.search(r"<title>([^<]*)</title>", shared).group(1)
    assert "Fine-tuning (lora) with Hugging Face PEFT" in _visible_text(page)  # assumptions
    for html in (page, shared):
        text = _visible_text(html)
        assert "Training speed" in text and "Memory per GPU" in text
        for word in ("decode", "Decode", "Generation", "prefill", "per M tokens", "Break-even"):
            assert word not in text, word


def test_comparing_fine_tuning_builds_reads_as_fine_tuning(client):
    _, html = _home(client, dataset_tokens="50M")
    keys = re.findall(r'data-build-key="([^"]+)"', html)[:2]
    assert len(keys) == 2
    from urllib.parse import urlencode

    query = urlencode({**FINE_TUNE, "dataset_tokens": "50M", "b": keys}, doseq=True)
    page = client.get(reverse("compare") + "?" + query).content.decode()
    text = _visible_text(page)
    assert text.count("Training speed") == 3  # two cards and the chart's heading
    assert text.count("Memory per GPU") == 2 and "over 50M tokens" in text
    for word in ("Generation", "Prompt processing", "per M tokens", "Break-even", "Decode"):
        assert word not in text, word
    chart = re.search(r'<script id="chart-compare" type="application/json">(.*?)</script>', page)
    assert "training tokens/s" in chart.group(1)
