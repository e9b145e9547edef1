import io
import json

import pytest
from django.core.management.base import CommandError

from catalog.models import Gpu, LlmModel, Part, QuantFormat

pytestmark = pytest.mark.django_db


def empty_catalogue():
    Part.objects.all().delete()
    LlmModel.objects.all().delete()
    QuantFormat.objects.all().delete()


def test_it_exports_the_seed_format(loaded, run):
    document = json.loads(run("export_catalog"))

    assert set(document) == {"parts", "llm_models", "quant_formats"}
    assert len(document["parts"]) == 11
    gpu = next(p for p in document["parts"] if p["slug"] == "nvidia-geforce-rtx-3090-used")
    seed = json.loads((loaded / "parts" / "gpu.json").read_text())[0]
    del seed["reference_price"]
    assert gpu == seed
    assert document["llm_models"] == json.loads((loaded / "llm_models.json").read_text())


def test_it_writes_unknown_text_specs_as_null(loaded, run):
    document = json.loads(run("export_catalog"))

    board = next(p for p in document["parts"] if p["kind"] == "motherboard")
    assert board["specs"]["chipset"] is None


def test_it_round_trips_into_an_empty_database(loaded, run, tmp_path):
    exported = run("export_catalog")
    empty_catalogue()
    path = tmp_path / "catalogue.json"
    path.write_text(exported)

    output = run("import_catalog", str(path))

    assert "parts: 11 created" in output
    assert run("export_catalog") == exported


def test_it_round_trips_the_shipped_seed_through_stdin(run, monkeypatch):
    run("load_seed")
    exported = run("export_catalog")
    empty_catalogue()
    monkeypatch.setattr("sys.stdin", io.StringIO(exported))

    run("import_catalog", "-")

    assert run("export_catalog") == exported


def test_importing_what_is_already_there_changes_nothing(loaded, run, tmp_path):
    path = tmp_path / "catalogue.json"
    path.write_text(run("export_catalog"))

    output = run("import_catalog", str(path))

    assert "parts: 0 created, 0 updated, 11 unchanged" in output


def test_it_reports_each_bad_row_by_position_and_field_and_imports_nothing(loaded, run, tmp_path):
    document = json.loads(run("export_catalog"))
    empty_catalogue()
    # parts are exported by kind, then slug: rows 1-2 are the GPUs, row 3 the CPU
    assert document["parts"][1]["slug"] == "nvidia-geforce-rtx-3090-used"
    document["parts"][1]["specs"]["bandwidth_gbs"] = 1500
    document["parts"][2]["spec_source"] = "not a url"
    document["quant_formats"][0]["bits_per_weight"] = 40
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))

    with pytest.raises(CommandError) as error:
        run("import_catalog", str(path))

    message = str(error.value)
    assert "3 problem(s)" in message
    assert "nothing was imported" in message
    assert (
        "parts row 2 (nvidia-geforce-rtx-3090-used): specs.bandwidth_gbs: 1500 GB/s disagrees"
        " with bus width x data rate" in message
    )
    assert "parts row 3 (amd-epyc-9554): spec_source: Enter a valid URL." in message
    assert "quant_formats row 1" in message and "bits_per_weight: Effective bits per weight" in (
        message
    )
    assert Part.objects.count() == 0
    assert LlmModel.objects.count() == 0


def test_it_updates_existing_rows_from_the_file(loaded, run, tmp_path):
    document = json.loads(run("export_catalog"))
    gpu = next(p for p in document["parts"] if p["slug"] == "amd-radeon-rx-7900-xtx")
    gpu["notes"] = "Reference card."
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps(document))

    output = run("import_catalog", str(path))

    assert "parts: 0 created, 1 updated, 10 unchanged" in output
    assert Gpu.objects.get(slug="amd-radeon-rx-7900-xtx").notes == "Reference card."


def test_it_refuses_a_file_that_is_not_a_catalogue(run, tmp_path, db):
    path = tmp_path / "list.json"
    path.write_text("[]")

    with pytest.raises(CommandError, match="must be a JSON object with keys parts"):
        run("import_catalog", str(path))


def test_it_refuses_unknown_sections(run, tmp_path, db):
    path = tmp_path / "typo.json"
    path.write_text('{"part": []}')

    with pytest.raises(CommandError, match="unknown key.s. part; expected parts"):
        run("import_catalog", str(path))


def test_it_says_when_the_file_is_missing(run, tmp_path, db):
    with pytest.raises(CommandError, match="no such file"):
        run("import_catalog", str(tmp_path / "missing.json"))
