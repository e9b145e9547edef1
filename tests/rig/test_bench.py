"""Pasted benchmarks: parsing real llama-bench and vllm bench output, comparing with the
estimate, submitting, approving in the admin and showing as evidence."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command

from configurator.rig.bench import parse_bench, quant_of_type
from configurator.rig.models import UserMeasurement

FIXTURES = Path(__file__).parent / "fixtures"
RIG = {"gpu": "nvidia-geforce-rtx-4090"}


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_it_reads_the_markdown_table_with_depths():
    rows = parse_bench(read("llama-bench-depth.md"))
    assert [(r.test, r.metric, r.tokens_per_s, r.depth) for r in rows] == [
        ("pp512", "prefill", 7340.20, 0),
        ("tg128", "decode", 120.60, 0),
        ("pp512 @ d512", "prefill", 6425.91, 512),
        ("tg128 @ d512", "decode", 116.71, 512),
    ]
    assert rows[0].quant == "Q4_K_M" and rows[0].size_gib == 4.36 and rows[0].backend == "CUDA"


def test_json_and_csv_give_the_same_tests_with_build_and_hardware():
    for name in ("llama-bench-4080.json", "llama-bench-4080.csv"):
        rows = parse_bench(read(name))
        assert [r.test for r in rows] == (
            ["pp512", "tg128"] if "json" in name else ["pp512", "tg128"]
        )
        assert rows[1].metric == "decode" and rows[1].engine_version == "b5163"
        assert rows[0].gpu_info == "NVIDIA GeForce RTX 4080"
        assert rows[0].size_gib == pytest.approx(4677120000 / 2**30)


def test_vllm_bench_json_is_a_batched_decode_row():
    (row,) = parse_bench(read("vllm-bench-c32.json"))
    assert (row.metric, row.concurrency, row.tokens_per_s) == ("batched_decode", 32, 434.40)
    assert row.prompt_tokens == 2048 and row.gen_tokens == 2048


def test_unrecognised_text_names_the_field():
    with pytest.raises(ValueError, match="^bench:"):
        parse_bench("hello")


def test_quant_names_map_from_llama_bench_file_types():
    assert quant_of_type("llama 7B mostly Q4_0") == "Q4_0"
    assert quant_of_type("qwen2 7B Q8_0") == "Q8_0"
    assert quant_of_type("gpt-oss 120B MXFP4 MoE") == "MXFP4"


@pytest.mark.django_db
def test_the_rig_page_compares_submits_and_after_approval_shows_evidence(seeded, client):
    bench = read("llama-bench-depth.md")
    params = {**RIG, "bench": bench, "bench_model": "qwen2-5-7b-instruct"}
    page = client.get("/rig/", params).content.decode()
    assert 'id="bench-table"' in page and "Measured ÷ estimated" in page
    # The estimate for a 7B Q4_K_M on a 4090 is bandwidth bound: within 2× of 120 tok/s.
    from configurator.rig.measure import compare
    from configurator.rig.service import BenchForm, CanRunForm

    rig_form, bench_form = CanRunForm(RIG), BenchForm(params)
    assert rig_form.is_valid() and bench_form.is_valid()
    compared = compare(rig_form.rig, bench_form.model_row, bench_form.quant_obj, bench_form.rows)
    tg = next(r for r in compared if r["test"] == "tg128")
    assert 0.5 < tg["ratio"] < 2.0

    sent = client.post("/rig/measurements/", params)
    assert sent.status_code == 201
    again = client.post("/rig/measurements/", params)
    assert again.status_code == 200 and UserMeasurement.objects.count() == 1
    measurement = UserMeasurement.objects.get()
    assert measurement.status == "pending" and len(measurement.rows) == 4
    assert 'id="rig-evidence"' not in client.get("/rig/", RIG).content.decode()

    admin = User.objects.create_superuser("boss", "boss@example.com", "pw-123456789")
    client.force_login(admin)
    done = client.post(
        "/admin/configurator/usermeasurement/",
        {"action": "approve", "_selected_action": [measurement.pk]},
    )
    assert done.status_code == 302
    measurement.refresh_from_db()
    assert measurement.status == "approved"
    page = client.get("/rig/", RIG).content.decode()
    assert 'id="rig-evidence"' in page and "tg128 120.6 tok/s" in page


@pytest.mark.django_db
def test_approved_rows_export_in_the_v2_calibration_schema(seeded, client, tmp_path):
    params = {**RIG, "bench": read("llama-bench-4080.json"), "bench_model": "qwen2-5-7b-instruct"}
    client.post("/rig/measurements/", params)
    measurement = UserMeasurement.objects.get()
    measurement.review(UserMeasurement.Status.APPROVED)
    out = tmp_path / "rows.json"
    call_command("export_measurements", "--out", str(out), stdout=StringIO())
    rows = json.loads(out.read_text())
    assert len(rows) == 2
    row = rows[1]
    required = {
        "id",
        "date",
        "engine",
        "engine_version",
        "backend",
        "test",
        "depth",
        "metric",
        "concurrency",
        "tokens_per_s",
        "model",
        "quant",
        "hardware",
        "placement",
        "source",
    }
    assert required <= set(row)
    assert (row["engine"], row["backend"], row["metric"], row["test"]) == (
        "llama.cpp",
        "CUDA",
        "decode",
        "tg128",
    )
    assert row["hardware"]["gpus"][0]["bandwidth_gbs"] == 1008
    assert row["quant"]["name"] == "Q4_K_M" and row["model"]["layers"] == 28
    # The calibration loader reads them as it reads the published rows.
    from configurator.engine.calibration.loader import load_measurements

    loaded, skipped = load_measurements(out)
    assert skipped == [] and [m.metric for m in loaded] == ["prefill", "decode"]
    assert loaded[1].tokens_per_s == pytest.approx(118.881588)


@pytest.mark.django_db
def test_a_build_page_links_to_measurements_on_its_parts(seeded, client):
    build = client.get("/api/builds", {"model": "llama-3-1-8b-instruct", "limit": 1}).json()
    parts = build["builds"][0]["parts_param"]
    page = client.get("/build/", {"parts": parts}).content.decode()
    link = page.split('id="measure-link" href="')[1].split('"')[0].replace("&amp;", "&")
    params = {"bench": read("llama-bench-depth.md"), "bench_model": "qwen2-5-7b-instruct"}
    from urllib.parse import parse_qsl, urlsplit

    params.update(parse_qsl(urlsplit(link).query))
    answer = client.get(urlsplit(link).path, params).content.decode()
    assert 'id="bench-table"' in answer and 'id="rig-models"' in answer


@pytest.mark.django_db
def test_measurement_submissions_are_rate_limited_per_client(seeded, client, settings):
    settings.MEASURE_RATE_PER_HOUR = 1
    params = {**RIG, "bench": read("llama-bench-depth.md"), "bench_model": "qwen2-5-7b-instruct"}
    assert client.post("/rig/measurements/", params).status_code == 201
    other = {**params, "bench": read("llama-bench-4080.json")}
    refused = client.post("/rig/measurements/", other)
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert b"too many submissions" in refused.content
    assert UserMeasurement.objects.count() == 1


JSON_4080 = read("llama-bench-4080.json")
VLLM_C32 = read("vllm-bench-c32.json")
HOSTILE_PASTES = {
    "NaN speed": JSON_4080.replace('"avg_ts": 7100.002165', '"avg_ts": NaN'),
    "Infinity speed": JSON_4080.replace('"avg_ts": 7100.002165', '"avg_ts": Infinity'),
    "negative speed": JSON_4080.replace('"avg_ts": 7100.002165', '"avg_ts": -7100'),
    "zero speed": JSON_4080.replace('"avg_ts": 7100.002165', '"avg_ts": 0'),
    "NaN size": JSON_4080.replace('"model_size": 4677120000', '"model_size": NaN'),
    "CSV nan speed": read("llama-bench-4080.csv").replace('"7285.676949"', '"nan"'),
    "5,000-digit integer": JSON_4080.replace('"n_prompt": 512', '"n_prompt": ' + "9" * 5000),
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "vllm Infinity": VLLM_C32.replace(
        '"output_throughput":', '"output_throughput": Infinity, "was":'
    ),
    "vllm throughput object": '{"output_throughput": {"a": 1}, "completed": 3}',
    "vllm infinite tokens": '{"output_throughput": 5, "completed": 2, "total_input_tokens": 1e999}',
}


@pytest.mark.parametrize("name", HOSTILE_PASTES)
def test_a_paste_with_numbers_no_benchmark_prints_is_refused_naming_bench(name):
    with pytest.raises(ValueError, match="^bench: "):
        parse_bench(HOSTILE_PASTES[name])


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["NaN speed", "Infinity speed", "vllm Infinity", "deep nesting"])
def test_submitting_such_a_paste_is_a_400_not_a_server_error(seeded, client, name):
    params = {**RIG, "bench": HOSTILE_PASTES[name], "bench_model": "qwen2-5-7b-instruct"}
    assert client.get("/rig/", params).status_code == 200
    refused = client.post("/rig/measurements/", params)
    assert refused.status_code == 400
    assert b"bench: " in refused.content
    assert UserMeasurement.objects.count() == 0


@pytest.mark.django_db
def test_approved_rows_join_the_evidence_of_estimates_on_the_same_hardware(seeded, client):
    params = {**RIG, "bench": read("llama-bench-depth.md"), "bench_model": "qwen2-5-7b-instruct"}
    client.post("/rig/measurements/", params)
    measurement = UserMeasurement.objects.get()
    asked = {"model": "qwen2-5-7b-instruct", "quant": "Q4_K_M", "gpu": "nvidia-geforce-rtx-4090"}

    def evidence(query: dict) -> list[dict]:
        return client.get("/api/estimate", query).json()["evidence"]

    def user_rows(rows: list[dict]) -> list[dict]:
        return [e for e in rows if e["id"].startswith("rigrank-user-")]

    assert user_rows(evidence(asked)) == []  # pending: not evidence yet
    measurement.review(UserMeasurement.Status.APPROVED)
    rows = evidence(asked)
    first = rows[0]
    assert first["id"] == f"rigrank-user-{measurement.pk}-1" and len(user_rows(rows)) == 4
    tg = next(e for e in user_rows(rows) if e["test"] == "tg128")
    assert tg["measured"] == 120.6 and tg["predicted"] > 0 and tg["source"].startswith("/rig/?")
    assert len(rows) == 4 + 5  # the five nearest published measurements follow
    # Other hardware (two cards) or another model: not this measurement.
    assert user_rows(evidence({**asked, "gpu": "nvidia-geforce-rtx-4090:2"})) == []
    assert user_rows(evidence({**asked, "model": "llama-3-1-8b-instruct"})) == []

    build = client.get(
        "/api/builds",
        {"model": "qwen2-5-7b-instruct", "must_include": "nvidia-geforce-rtx-4090", "limit": 1},
    ).json()["builds"][0]
    assert "nvidia-geforce-rtx-4090:1" in build["parts_param"]
    one = client.get("/api/build", {"parts": build["parts_param"], "model": "qwen2-5-7b-instruct"})
    assert user_rows(one.json()["estimate"]["evidence"])
    page = client.get("/build/", {"parts": build["parts_param"], "model": "qwen2-5-7b-instruct"})
    html = page.content.decode()
    assert "approved user measurements on this hardware first" in html
    assert "(user measurement)" in html and "120.6" in html


@pytest.mark.django_db
def test_make_calibrate_writes_the_approved_rows_refits_and_reports_what_moved(
    seeded, client, tmp_path, monkeypatch
):
    """The command's own work: approved rows written where the loader reads them, the
    fit run with the right flags, and every constant that moved reported. The fit itself
    (a minute and a half, rewriting the stored constants) is replaced by one that moves
    a constant in a copy of the constants file."""
    from configurator.engine.calibration import CONSTANTS_PATH
    from configurator.management.commands import calibrate, export_measurements

    constants = tmp_path / "constants.json"
    constants.write_text(CONSTANTS_PATH.read_text())
    rows_file = tmp_path / "measurements" / "rig-user-approved.json"
    monkeypatch.setattr(calibrate, "CONSTANTS_PATH", constants)
    monkeypatch.setattr(export_measurements, "DEFAULT_OUT", rows_file)
    params = {**RIG, "bench": read("llama-bench-4080.json"), "bench_model": "qwen2-5-7b-instruct"}
    client.post("/rig/measurements/", params)
    UserMeasurement.objects.get().review(UserMeasurement.Status.APPROVED)
    calls = []

    def fit(argv):
        calls.append(argv)
        data = json.loads(constants.read_text())
        name = sorted(data["values"])[0]
        data["values"][name] *= 1.10
        data["validation"]["rows"] += len(json.loads(rows_file.read_text()))
        constants.write_text(json.dumps(data))

    monkeypatch.setattr(calibrate.validate, "main", fit)
    out = StringIO()
    call_command("calibrate", "--in-sample", stdout=out)
    text = out.getvalue()
    rows = json.loads(rows_file.read_text())
    assert len(rows) == 2 and f"2 approved row(s) written to {rows_file}" in text
    assert calls == [["--fit", "--quiet", "--workers", "2", "--in-sample"]]
    name = sorted(json.loads(CONSTANTS_PATH.read_text())["values"])[0]
    assert re.search(rf"{re.escape(name)}\s+\S+ → \S+\s+\+10\.0 %", text), text
    before = json.loads(CONSTANTS_PATH.read_text())["validation"]["rows"]
    assert f"Rows fitted: {before} before, {before + 2} now." in text
