"""The /rig/ page with the Django test client (the browser tests cover the dynamic parts)."""

from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).parent / "fixtures"


def test_it_shows_an_empty_form_first(seeded, client):
    page = client.get("/rig/")
    assert page.status_code == 200
    assert b'name="paste"' in page.content and b"gpu-options" in page.content


def test_part_rows_list_runnable_models_and_link_the_upgrade(seeded, client):
    page = client.get(
        "/rig/", {"gpu_name": ["nvidia-geforce-rtx-4090", ""], "gpu_count": ["2", "1"]}
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="rig-models"' in html and "Llama 3.1 8B Instruct" in html
    assert "2 × NVIDIA GeForce RTX 4090" in html
    assert "/rig/upgrade/?have=nvidia-geforce-rtx-4090%3A2" in html


def test_a_pasted_nvidia_smi_answers_and_htmx_gets_the_fragment(seeded, client):
    paste = (FIXTURES / "nvidia-smi-3090.txt").read_text()
    page = client.get("/rig/", {"paste": paste}, HTTP_HX_REQUEST="true")
    html = page.content.decode()
    assert page.status_code == 200 and "<html" not in html
    assert "read from nvidia-smi" in html


def test_bad_input_is_a_400_with_the_message(seeded, client):
    page = client.get("/rig/", {"paste": "nothing useful"})
    assert page.status_code == 400
    assert b"no nvidia-smi" in page.content
