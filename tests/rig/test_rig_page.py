"""The /rig/ page with the Django test client (the browser tests cover the dynamic parts)."""

import re
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


def test_a_paste_with_a_number_past_python_int_limit_is_a_400_naming_paste(seeded, client):
    dimm = "Memory Device\n\tSize: " + "9" * 5000 + " GB\n\tSpeed: 4800 MT/s\n\tType: DDR5\n"
    for response in (client.get("/rig/", {"paste": dimm}), client.post("/rig/", {"paste": dimm})):
        assert response.status_code == 400
        assert b"paste: holds a number no such tool prints" in response.content


def test_a_posted_paste_answers_with_a_short_link_to_the_same_rig(seeded, client):
    paste = "\n".join(
        (FIXTURES / name).read_text()
        for name in ("nvidia-smi-2x3090.txt", "lscpu-epyc-7543.txt", "dmidecode-xeon-partial.txt")
    )
    page = client.post("/rig/", {"paste": paste})
    html = page.content.decode()
    assert page.status_code == 200 and 'id="rig-models"' in html
    link = html.split('id="rig-link" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "paste" not in link and len(link) < 300
    again = client.get(link).content.decode()
    # The short link describes the same machine: the same models at the same speeds.
    rows = lambda h: re.findall(r'data-model="([^"]+)"', h)  # noqa: E731
    assert rows(again) == rows(html)
    fragment = client.post("/rig/", {"paste": paste}, HTTP_HX_REQUEST="true")
    assert fragment["HX-Push-Url"].startswith("/rig/?gpu=nvidia-geforce-rtx-3090")


def test_the_form_posts_with_a_csrf_token(seeded, client):
    html = client.get("/rig/").content.decode()
    assert 'method="post"' in html and 'name="csrfmiddlewaretoken"' in html


BAD_INPUTS = [
    {"gpu": "nvidia-geforce-rtx-4090:abc"},
    {"gpu_name": "nvidia-geforce-rtx-4090", "gpu_count": "-2"},
    {"custom_gpu": "vram_gb=abc,bandwidth_gbs=1,fp16_tflops=1"},
    {"custom_gpu": "vram_gb=99999,bandwidth_gbs=1,fp16_tflops=1"},
    {"custom_cpu": "cores=8"},
    {"cpu": "amd-ryzen-9-9950x:9", "ram_gb": "64"},
    {
        "gpu": "nvidia-geforce-rtx-4090:64",
        "custom_gpu": "vram_gb=24,bandwidth_gbs=900,fp16_tflops=80:8",
    },
    {"gpu": "nvidia-geforce-rtx-4090", "min_tps": "fast"},
    {"gpu": "nvidia-geforce-rtx-4090", "context": "0"},
    {"gpu": "nvidia-geforce-rtx-4090", "engine": "warp-drive"},
    {"parts": "no-such-part:1"},
    {"parts": "nvidia-geforce-rtx-4090:x"},
    {"system": "apple-mac-studio-m2-ultra-192gb-used", "gpu": "nvidia-geforce-rtx-4090"},
]


@pytest.mark.parametrize("params", BAD_INPUTS)
def test_bad_input_is_a_400_naming_a_field_on_every_rig_endpoint(seeded, client, params):
    api = client.get("/api/canrun", params)
    assert api.status_code == 400, api.content
    assert api.json()["errors"]
    assert client.get("/rig/", params).status_code == 400
    assert client.post("/rig/", params).status_code == 400
    assert client.get("/rig/", params, HTTP_HX_REQUEST="true").status_code == 200


def test_the_rig_page_explains_its_terms_on_hover(seeded, client):
    html = client.get("/rig/", {"gpu": "nvidia-geforce-rtx-4090"}).content.decode()
    for word in ("decode", "prefill", "offload", "headroom", "bandwidth"):
        assert f'data-term="{word}"' in html


def test_the_link_the_describe_script_prints_opens_the_rig_page_with_its_lines(seeded, client):
    import subprocess
    import sys
    from pathlib import Path
    from urllib.parse import parse_qs, urlsplit

    script = Path(__file__).parents[2] / "scripts" / "describe_rig.py"

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(script), *args],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    lines = run()
    link = urlsplit(run("--url", "http://rigrank.example/").strip())
    assert (link.netloc, link.path) == ("rigrank.example", "/rig/")
    assert parse_qs(link.query)["paste"] == [lines.strip()]
    page = client.get(f"{link.path}?{link.query}")
    html = page.content.decode()
    assert html.count("rigrank-cpu:") == 1  # the lines, in the paste box
    # This machine's lscpu and /proc/meminfo: models listed, or (a virtual CPU without a
    # model number or clock) a 400 saying what to add.
    if page.status_code == 200:
        assert 'id="rig-models"' in html
    else:
        assert page.status_code == 400 and "paste:" in html and "lacks" in html


def test_part_rows_take_names_with_counts_and_suggest_catalogue_names(seeded, client):
    html = client.get("/rig/").content.decode()
    gpus = re.search(r'<datalist id="gpu-options">(.*?)</datalist>', html, re.S).group(1)
    cpus = re.search(r'<datalist id="cpu-options">(.*?)</datalist>', html, re.S).group(1)
    assert '<option value="nvidia-geforce-rtx-3090-ti-used">' in gpus and "RTX 3090 Ti" in gpus
    assert "Ryzen 9 9950X" in cpus
    page = client.get(
        "/rig/",
        {"gpu_name": "RTX 3090 Ti", "gpu_count": "2", "cpu_name": "Ryzen 9 9950X", "ram_gb": "96"},
    )
    html = page.content.decode()
    assert page.status_code == 200, re.findall(r'role="alert">(.*?)</div>', html, re.S)
    assert re.search(r"2 × NVIDIA GeForce RTX 3090 Ti", html) and "Ryzen 9 9950X" in html
    assert "96 GB RAM" in html and 'id="rig-models"' in html
