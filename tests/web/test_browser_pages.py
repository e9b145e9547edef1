"""Progressive enhancement and layout in real headless Chromium: the wizard without
JavaScript, field messages, keyboard access, and phone-width pages without horizontal
scrolling. Saves screenshots of the main pages to test-artifacts/screenshots/."""

from __future__ import annotations

import pytest

from tests.web.conftest import LLAMA_70B

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def test_it_answers_by_plain_form_submit_without_javascript(seeded_live, new_context):
    page = new_context(java_script_enabled=False).new_page()
    page.goto(seeded_live.url + "/")
    page.fill("#id_model", LLAMA_70B)
    page.select_option("#id_quant", "Q4_K_M")
    page.fill("#id_min_tps", "10")
    with page.expect_navigation():
        page.click("#wizard button[type=submit]")
    assert "min_tps=10" in page.url and "quant=Q4_K_M" in page.url
    assert page.locator("#result-list .build-card").count() >= 3
    assert "Llama 3.3 70B Instruct at Q4_K_M" in page.inner_text("#workload-label")
    # The values in effect are drawn back into the form.
    assert page.input_value("#id_context") == "4096"

    page.fill("#id_budget", "-5")
    with page.expect_navigation():
        page.click("#wizard button[type=submit]")
    assert "Budget (USD) must be a number from 0.01" in page.inner_text("#id_budget_error")
    assert page.get_attribute("#id_budget", "aria-invalid") == "true"
    assert page.locator("#result-list").count() == 0

    page.fill("#id_budget", "")
    page.fill("#id_context", "500000")
    with page.expect_navigation():
        page.click("#wizard button[type=submit]")
    assert "131,072" in page.inner_text("#id_context_error")


def test_it_fits_a_phone_is_keyboard_reachable_and_looks_right(
    seeded_live, new_context, screenshot
):
    base = seeded_live.url
    phone = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    desktop = new_context().new_page()

    results = f"/?model={LLAMA_70B}&quant=Q4_K_M&min_tps=10"
    phone.goto(base + results)
    build_url = phone.get_attribute("#build-1 .build-link", "href")
    keys = phone.locator("#result-list input[name=b]").evaluate_all(
        "els => els.slice(0, 3).map(e => e.value)"
    )
    compare = "/compare/?" + "&".join(f"b={k}" for k in keys) + results.replace("/?", "&")
    pages = {
        "home": "/",
        "home-results": results,
        "build": build_url,
        "compare": compare,
        "gpus": "/gpus/",
        "platforms": "/platforms/?sort=bandwidth",
        "models": "/models/",
        "model": f"/models/{LLAMA_70B}/",
        "shared-missing": "/b/doesNotExist1/",
    }
    for name, url in pages.items():
        phone.goto(base + url)
        assert phone.evaluate(NO_SIDEWAYS_SCROLL), f"{name} scrolls sideways at 375 px"
        screenshot(phone, f"phone-{name}")
        desktop.goto(base + url)
        screenshot(desktop, f"desktop-{name}")

    # Keyboard: Tab from the top reaches the skip link, the navigation and the wizard.
    desktop.goto(base + "/")
    reached = []
    for _ in range(12):
        desktop.keyboard.press("Tab")
        reached.append(
            desktop.evaluate(
                "document.activeElement.id || document.activeElement.textContent.trim()"
            )
        )
    assert reached[0] == "Skip to content"
    assert "id_model" in reached and "id_quant" in reached
    desktop.focus("#id_min_tps")
    desktop.keyboard.press("Enter")  # submits the form through htmx
    desktop.locator("#result-list .build-card").first.wait_for()
