"""Quality loss per format from the seed, shown beside each format and used to pick the
best quality that fits."""

from __future__ import annotations

import pytest
from django.urls import reverse

from catalog.models import LlmModel, QuantFormat
from configurator import adapters, wizard

pytestmark = pytest.mark.django_db


def test_every_measured_format_names_its_model_and_source(seeded):
    measured = QuantFormat.objects.exclude(mean_kld=None)
    assert measured.count() >= 20
    for fmt in measured:
        assert fmt.quality_model and fmt.quality_source.startswith("https://")


def test_it_picks_the_best_quality_that_fits_from_the_catalogue(seeded):
    llama = LlmModel.objects.get(slug="llama-3-1-70b-instruct")
    row, choice = adapters.best_quality_that_fits(llama, 48, 6, engines=("llama.cpp",))
    assert row.name == "Q4_K_S" and choice.basis == "measured"
    row, _ = adapters.best_quality_that_fits(llama, 49, 6, engines=("llama.cpp",))
    assert row.name == "Q4_K_M"
    assert adapters.best_quality_that_fits(llama, 10, 0) is None


def test_the_wizard_and_the_model_page_show_each_formats_quality_loss(seeded, client):
    label = wizard.quant_label(QuantFormat.objects.get(name="Q4_K_M", applies_to="weights"))
    assert label.startswith("Q4_K_M — ") and "KLD 0.0291 on Llama 3 8B" in label

    page = client.get(reverse("model_detail", args=["llama-3-1-70b-instruct"])).content.decode()
    assert "Quality loss: KLD 0.0291" in page
    # The table shows the model's own bits per weight: Q4_K_M is 4.82 on the 70B.
    assert "4.82" in page
