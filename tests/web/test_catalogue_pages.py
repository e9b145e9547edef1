"""Catalogue pages: GPUs by price per GB and per GB/s, platforms by bandwidth per
dollar, models with their memory needs per quantization."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from tests.web.conftest import LLAMA_70B, clear_caches

pytestmark = pytest.mark.usefixtures("seeded")

HX = {"HTTP_HX_REQUEST": "true"}


def column(html: str, label: str) -> list[Decimal]:
    cells = re.findall(rf'data-label="{re.escape(label)}" class="num">([^<]*)<', html)
    return [Decimal(re.sub(r"[^\d.]", "", c)) for c in cells if re.search(r"\d", c)]


def test_it_sorts_gpus_by_price_per_gb_of_vram_by_default(client):
    response = client.get(reverse("gpu_list"))
    html = response.content.decode()
    assert response.status_code == 200
    per_gb = column(html, "Per GB VRAM")
    assert len(per_gb) > 20 and per_gb == sorted(per_gb)
    assert "Prices as of" in html and 'aria-sort="ascending"' in html


def test_it_sorts_gpus_by_price_per_gb_per_second(client):
    html = client.get(reverse("gpu_list"), {"sort": "per_bandwidth"}).content.decode()
    per_bandwidth = column(html, "Per GB/s")
    assert len(per_bandwidth) > 20 and per_bandwidth == sorted(per_bandwidth)


def test_it_answers_gpu_sorting_over_htmx_with_the_table_only(client):
    response = client.get(reverse("gpu_list"), {"sort": "vram", "condition": "used"}, **HX)
    html = response.content.decode()
    assert "<html" not in html and html.lstrip().startswith('<div id="gpu-table">')
    assert "HX-Request" in response["Vary"]
    vram = column(html, "VRAM")
    assert vram == sorted(vram, reverse=True)
    assert "(used)" in html and "RTX 5090<" not in html


def test_it_ignores_an_unknown_sort(client):
    response = client.get(reverse("gpu_list"), {"sort": "'; drop table", "condition": "x"})
    assert response.status_code == 200
    assert "sorted by Price per GB of VRAM" in response.content.decode()


def test_it_ranks_platforms_by_memory_bandwidth_per_dollar(client):
    html = client.get(reverse("platform_list")).content.decode()
    per_dollar = column(html, "GB/s per $1,000")
    assert len(per_dollar) > 10 and per_dollar == sorted(per_dollar, reverse=True)
    assert "2 × AMD EPYC" in html and "24 × 4800 MT/s" in html
    fragment = client.get(reverse("platform_list"), {"sort": "bandwidth"}, **HX).content.decode()
    bandwidth = column(fragment, "Bandwidth")
    assert bandwidth == sorted(bandwidth, reverse=True)


def test_platforms_rank_by_the_bandwidth_the_estimator_uses_with_the_peak_beside(client):
    """An EPYC 9124 has up to 12 channels of DDR5-4800 (461 GB/s peak) but its 16 cores
    sit on two core complexes (64 MB of L3, 32 MB per Zen 4 CCD), and the estimator caps
    what they pull at two CCD links."""
    from configurator.engine import rates
    from configurator.engine.calibration import load_constants
    from configurator.engine.hardware import CpuSystem

    html = client.get(reverse("platform_list"), {"sort": "bandwidth"}).content.decode()
    epyc_9124 = CpuSystem(
        name="EPYC 9124",
        sockets=1,
        cores_per_socket=16,
        memory_channels=12,
        memory_mts=4800.0,
        ram_gb=1.0,
        fp32_gflops_per_socket=1.0,
        memory_type="DDR5",
        ccds_per_socket=2,
    )
    cap = rates.cpu_bandwidth_gbs(epyc_9124, load_constants())
    row = re.search(r"<strong>AMD EPYC 9124</strong>.*?</tr>", html, re.S).group(0)
    effective = column(row, "Bandwidth")[0]
    assert abs(float(effective) - cap) < 1
    peak = float(re.search(r"peak ([\d,]+) GB/s", row).group(1).replace(",", ""))
    assert peak > 2 * float(effective)  # every channel filled, yet the cores cap it
    shown = column(html, "Bandwidth")
    assert shown == sorted(shown, reverse=True)


def test_gpus_show_the_bandwidth_the_estimator_uses_with_the_peak_beside(client):
    """Each row shows the bandwidth the estimator gives decode on that card (its rate
    for the card's class of GPU: an HBM A100 and a GDDR6X RTX 3090 reach different
    shares of their peaks) and the peak beside it."""
    from catalog.models import Gpu
    from configurator.adapters import part_of
    from configurator.engine import rates
    from configurator.engine.calibration import load_constants

    html = client.get(reverse("gpu_list"), {"sort": "bandwidth"}).content.decode()
    shares = []
    for slug, peak in (("nvidia-a100-80gb-pcie-used", 1935), ("nvidia-geforce-rtx-3090-used", 936)):
        gpu = Gpu.objects.get(slug=slug)
        expected = rates.gpu_bandwidth_gbs(part_of(gpu, None).engine_gpu, load_constants())
        row = re.search(rf"{re.escape(gpu.name)}</strong>.*?</tr>", html, re.S).group(0)
        assert f"peak {peak:,} GB/s" in row
        shown = float(column(row, "Bandwidth")[0])
        assert abs(shown - expected) <= 1 and shown < peak
        shares.append(shown / peak)
    assert shares[0] != shares[1]
    shown = column(html, "Bandwidth")
    assert shown == sorted(shown, reverse=True)


def test_it_lists_models_with_links_to_their_pages(client):
    html = client.get(reverse("model_list")).content.decode()
    assert f'href="/models/{LLAMA_70B}/"' in html
    assert "DeepSeek R1" in html


def test_it_shows_memory_needs_per_quantization(client):
    html = client.get(reverse("model_detail", args=[LLAMA_70B])).content.decode()
    weights = dict(
        re.findall(
            r"<strong>([^<]+)</strong>.*?data-label=\"Weights\" class=\"num\">([\d.,]+) GB",
            html,
            re.S,
        )
    )
    assert 130 < float(weights["F16"]) < 150  # "a 70B model at fp16 needs ~140 GB"
    assert 38 < float(weights["Q4_K_M"]) < 46
    assert "With 131,072 ctx" in html
    assert f"?model={LLAMA_70B}&amp;quant=Q4_K_M" in html


def test_it_gives_404_for_an_unknown_model(client):
    assert client.get(reverse("model_detail", args=["no-such-model"])).status_code == 404


def test_it_marks_stale_prices_wherever_prices_appear(client, settings):
    settings.PRICE_STALE_DAYS = 10  # the seed's reference prices are 20 days old
    clear_caches()
    gpus = client.get(reverse("gpu_list")).content.decode()
    assert "⚠ stale" in gpus and re.search(r"\d+ stale prices</span> marked ⚠", gpus)
    results = client.get(
        reverse("home"), {"model": LLAMA_70B, "quant": "Q4_K_M", "min_tps": "10"}
    ).content.decode()
    assert "stale price" in results and 'class="stale-mark"' in results
    build = re.search(r'href="(/build/\?parts=[^"]+)" class="build-link"', results).group(1)
    page = client.get(build.replace("&amp;", "&")).content.decode()
    assert page.count("⚠ stale") >= 5
