"""Owned hardware and result pages in real headless Chromium: a rig from pasted nvidia-smi
output, the cheapest upgrade, a llama-bench paste compared, submitted, approved in the
admin and shown as evidence, a fine-tuning card, the first visit with one-click share,
and the red compatibility banner after swapping in a third GPU."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.web.conftest import LLAMA_70B

pytestmark = pytest.mark.browser

FIXTURES = Path(__file__).parents[1] / "rig" / "fixtures"


def test_a_rig_pasted_from_nvidia_smi_lists_runnable_models(seeded_live, new_context, screenshot):
    page = new_context().new_page()
    page.goto(seeded_live.url + "/rig/")
    page.fill("#id_paste", (FIXTURES / "nvidia-smi-3090.txt").read_text())
    page.click("#rig-form button[type=submit]")
    page.locator("#rig-models tbody tr").first.wait_for()
    assert "read from nvidia-smi" in page.inner_text("#rig-hardware")
    assert "GeForce RTX 3090" in page.inner_text("#rig-hardware")
    row = page.locator('#rig-models tr[data-model="llama-3-1-8b-instruct"]')
    assert "status-runs" in row.get_attribute("class")
    decode = float(row.locator("td").nth(3).inner_text())
    assert 20 < decode < 936 / 16  # bandwidth bound: under 936 GB/s over 16 GB of BF16
    # The paste is posted; the address becomes the short link to the same rig.
    assert "gpu=nvidia-geforce-rtx-3090" in page.url and "paste=" not in page.url
    screenshot(page, "rig-from-nvidia-smi")


def test_the_cheapest_upgrade_for_a_target(seeded_live, new_context):
    page = new_context().new_page()
    page.goto(seeded_live.url + "/rig/?gpu_name=nvidia-geforce-rtx-3090-used&gpu_count=1")
    with page.expect_navigation():
        page.click("text=Cheapest upgrade for a model")
    assert page.input_value("#id_have") == "nvidia-geforce-rtx-3090-used:1"
    page.fill("#id_model", LLAMA_70B)
    page.fill("#id_min_tps", "10")
    page.click("#upgrade-form button[type=submit]")
    # The page opened with the default target (5 tokens/s); wait for the new answer.
    page.locator("#upgrade-results p.small", has_text="Instruct at Q4_K_M, 10 tokens/s").wait_for()
    first = page.locator("#upgrade-list .upgrade-card").first.inner_text()
    price = float(re.search(r"\$([\d,]+(?:\.\d+)?)", first).group(1).replace(",", ""))
    speed = float(re.search(r"([\d.]+) tokens/s", first).group(1))
    assert price > 0 and speed >= 10
    assert "Add " in first


def test_a_llama_bench_paste_is_compared_submitted_approved_and_shown_as_evidence(
    seeded_live, new_context, django_user_model
):
    page = new_context().new_page()
    page.goto(seeded_live.url + "/rig/")
    page.fill("#gpu-name-1", "nvidia-geforce-rtx-4090")
    page.fill("#id_bench", (FIXTURES / "llama-bench-depth.md").read_text())
    page.fill("#id_bench_model", "qwen2-5-7b-instruct")
    page.click("#rig-form button[type=submit]")
    page.locator("#bench-table").wait_for()
    table = page.inner_text("#bench-table")
    assert "tg128" in table and "120.6" in table and "×" in table
    with page.expect_navigation():
        page.click("#submit-measurement button[type=submit]")
    assert "waiting for review" in page.inner_text("#measurement-received")

    django_user_model.objects.create_superuser("boss", "boss@example.com", "a-long-pass-2026")
    admin = new_context().new_page()
    admin.goto(seeded_live.url + "/admin/configurator/usermeasurement/")
    admin.fill("#id_username", "boss")
    admin.fill("#id_password", "a-long-pass-2026")
    with admin.expect_navigation():
        admin.click("input[type=submit]")
    admin.check("input[name=_selected_action]")
    admin.select_option("select[name=action]", "approve")
    with admin.expect_navigation():
        admin.click("button[name=index]")
    assert "1 measurement(s) approved" in admin.inner_text("body")

    page.goto(seeded_live.url + "/rig/?gpu_name=nvidia-geforce-rtx-4090&gpu_count=1")
    evidence = page.inner_text("#rig-evidence")
    assert "Qwen2.5 7B Instruct" in evidence and "tg128 120.6 tok/s" in evidence
    # It is evidence for estimates on that card too: a build page with one 4090.
    model = "qwen2-5-7b-instruct"
    builds = page.request.get(
        seeded_live.url + f"/api/builds?model={model}&must_include=nvidia-geforce-rtx-4090&limit=1"
    ).json()["builds"]
    page.goto(seeded_live.url + f"/build/?parts={builds[0]['parts_param']}&model={model}")
    page.click("#evidence summary")
    first = page.locator("#evidence tbody tr").first.inner_text()
    assert "(user measurement)" in first and "RTX 4090" in first


def test_a_fine_tuning_result_card(seeded_live, new_context):
    page = new_context().new_page()
    page.goto(seeded_live.url + "/?model=llama-3-1-8b-instruct&mode=qlora&quant=NF4")
    card = page.locator("#build-1")
    card.locator(".training-metrics").wait_for()
    text = card.inner_text().lower()  # labels may be drawn in capitals
    assert "training" in text and "whole run" in text and "memory per gpu" in text
    assert "1 epoch × 10m tokens (assumed)" in text
    assert "peft" in text and "nf4" in text
    assert "generation" not in text and "per m tokens" not in text
    # The user's own dataset and epochs: the cards redraw in place with the whole run.
    title = card.locator(".build-link").inner_text()
    hours = float(card.locator("[data-metric=run-hours]").get_attribute("data-hours"))
    assert page.locator("#fine-tuning-options").is_visible()
    page.fill("#id_dataset_tokens", "50M")
    page.fill("#id_epochs", "3")
    page.press("#id_epochs", "Tab")
    runs = page.locator("#build-1 .training-metrics")
    runs.locator(".range", has_text="3 epochs × 50M tokens").wait_for()
    assert "dataset_tokens=50M" in page.url and "epochs=3" in page.url
    # The dataset does not change the search: the same build, and 15 times the tokens
    # take 15 times the hours.
    assert card.locator(".build-link").inner_text() == title
    new = float(runs.locator("[data-metric=run-hours]").get_attribute("data-hours"))
    assert new == pytest.approx(hours * 15, rel=1e-3)
    page.select_option("#id_mode", "inference")
    page.locator("#fine-tuning-options").wait_for(state="hidden")


def test_a_first_visit_shows_results_and_shares_in_one_click(seeded_live, new_context):
    page = new_context().new_page()
    page.goto(seeded_live.url + "/")
    assert page.locator("#result-list .build-card").count() >= 3
    title = page.inner_text("#build-1 .build-link")
    with page.expect_navigation():
        page.click("#build-1 .share-card")
    assert re.search(r"/b/[\w-]+/$", page.url)
    assert page.inner_text("h1") == title
    assert page.locator(".status-banner").count() == 1
    assert "| Type | Part |" in page.input_value("#export-markdown")


def test_the_compatibility_banner_turns_red_after_swapping_in_a_third_gpu(
    seeded_live, new_context, screenshot
):
    page = new_context().new_page()
    page.goto(seeded_live.url + f"/?model={LLAMA_70B}&min_tps=15")
    titles = page.locator("#result-list .build-link").all_inner_texts()
    index = next(i for i, t in enumerate(titles) if t.startswith("2 ×"))
    with page.expect_navigation():
        page.locator("#result-list .build-link").nth(index).click()
    banner = page.locator(".status-banner").first
    assert banner.get_attribute("data-compatible") == "true"
    gpu_row = page.locator('tr:has(td[data-label="GPU"])').first
    gpu_row.locator("input[name=qty]").fill("3")
    gpu_row.locator("input[name=qty]").dispatch_event("change")
    page.locator('.status-banner[data-compatible="false"]').wait_for()
    red = page.locator(".status-banner").first
    assert "Not compatible" in red.inner_text() and red.get_attribute("role") == "alert"
    # The banner is the first thing on the page, above the title.
    assert red.bounding_box()["y"] < page.locator("h1").bounding_box()["y"]
    screenshot(page, "build-third-gpu-incompatible")


def test_400b_at_q6_k_shows_a_sub_10k_trade_off_under_the_default_floor(seeded_live, new_context):
    page = new_context().new_page()
    page.goto(seeded_live.url + "/?model=llama-3-1-405b-instruct&quant=Q6_K")
    page.locator("#trade-offs li").first.wait_for()
    found = []
    for text in page.locator("#trade-offs li").all_inner_texts():
        price = re.search(r"— \$([\d,]+(?:\.\d+)?)", text)
        speed = re.search(r", ([\d.]+) tokens/s", text)
        if price and speed:
            found.append((float(price.group(1).replace(",", "")), float(speed.group(1))))
    # The default floor is 5 tokens/s; the two-socket DDR5 server the source material
    # recommends runs it at about 1 token/s for well under $10k.
    assert any(price < 10_000 and speed >= 1 for price, speed in found), found


def test_must_include_suggests_part_names_after_a_comma(seeded_live, new_context):
    page = new_context().new_page()
    page.goto(seeded_live.url + "/?model=" + LLAMA_70B)
    page.locator("#wizard details.more-options").evaluate("details => { details.open = true; }")
    page.fill("#id_must_include", "EPYC 9124:2, 3090 T")
    page.locator('#part-options option[value^="EPYC 9124:2, "]').first.wait_for(state="attached")
    options = page.locator("#part-options option").evaluate_all("els => els.map(e => e.value)")
    assert any(o.startswith("EPYC 9124:2, ") and "3090 Ti" in o for o in options), options
