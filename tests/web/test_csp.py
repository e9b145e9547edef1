"""Content-Security-Policy: every response carries one that forbids inline script, and no
page (public or admin) relies on inline script or event-handler attributes."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from configurator.models import SharedBuild
from tests.web.conftest import LLAMA_70B

pytestmark = pytest.mark.usefixtures("seeded")

PARTS = "nvidia-geforce-rtx-3090-used:2"
QUERY = f"model={LLAMA_70B}&quant=Q4_K_M"


class InlineScripts(HTMLParser):
    """Collects inline scripts, on* handler attributes, javascript: URLs and <style>."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}=javascript:...>")
        if tag == "style":
            self.found.append("<style> element")
        if tag == "script" and not attributes.get("src"):
            kind = (attributes.get("type") or "").lower()
            if kind not in ("application/json", "application/ld+json"):
                self.found.append(f"inline <script type={kind!r}>")


def inline_code(html: str) -> list[str]:
    parser = InlineScripts()
    parser.feed(html)
    return parser.found


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d for d in (p.strip() for p in header.split(";")) if d}


def test_every_page_carries_a_policy_without_inline_script(client):
    response = client.get("/")
    directives = policy(response)
    assert directives["script-src"] == "script-src 'self'"
    assert "unsafe-inline" not in directives["script-src"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    assert directives["object-src"] == "object-src 'none'"
    assert directives["frame-ancestors"] == "frame-ancestors 'none'"
    assert "Content-Security-Policy" in client.get("/api/builds").headers


def public_pages(client) -> list[str]:
    share = client.post(reverse("share"), {"parts": PARTS, "model": LLAMA_70B})
    assert share.status_code == 303
    return [
        "/",
        f"/?{QUERY}",
        f"/build/?parts={PARTS}&{QUERY}",
        f"/compare/?b={PARTS}&b=nvidia-geforce-rtx-4090:1&{QUERY}",
        "/gpus/",
        "/platforms/",
        "/models/",
        f"/models/{LLAMA_70B}/",
        share["Location"],
        "/no-such-page/",
        "/build/?parts=nothing:1",
    ]


def test_no_public_page_has_inline_script_or_handlers(client):
    for url in public_pages(client):
        response = client.get(url)
        assert response.status_code < 500, url
        assert inline_code(response.content.decode()) == [], url
    assert SharedBuild.objects.exists()


def test_no_admin_page_has_inline_script_or_handlers(admin_client):
    """Every registered model's list, add, import and export pages (third-party ones
    included: their inline code is moved to static/js/admin-csp.js)."""
    urls = ["/admin/"]
    for model in admin.site._registry:
        meta = model._meta
        for page in ("changelist", "add", "import", "export"):
            try:
                urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_{page}"))
            except NoReverseMatch:
                continue
    html = admin_client.get("/admin/catalog/gpu/").content.decode()
    urls.append(re.search(r'href="(/admin/catalog/gpu/\d+/change/)"', html).group(1))
    found = {}
    for url in urls:
        response = admin_client.get(url)
        assert response.status_code in (200, 403), url
        if inline_code(response.content.decode()):
            found[url] = inline_code(response.content.decode())
    assert found == {}
    assert len(urls) > 30
    periodic = admin_client.get("/admin/django_celery_beat/periodictask/add/").content.decode()
    assert 'id="crontab-help"' in periodic and "js/admin-csp.js" in periodic
    export = admin_client.get("/admin/catalog/gpu/export/").content.decode()
    assert 'class="select-toggle"' in export and "js/admin-csp.js" in export
