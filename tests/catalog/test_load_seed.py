import pytest
from django.core.management.base import CommandError

from catalog.models import Cpu, Gpu, LlmModel, Motherboard, Part, QuantFormat

pytestmark = pytest.mark.django_db


def test_it_loads_every_kind_with_its_specs(seed_dir, run):
    output = run("load_seed", seed_dir=seed_dir)

    assert "parts: 11 created" in output
    assert Part.objects.count() == 11
    assert set(Part.objects.values_list("kind", flat=True)) == set(Part.Kind.values)
    gpu = Gpu.objects.get(slug="nvidia-geforce-rtx-3090-used")
    assert (gpu.kind, gpu.condition, gpu.vram_gb, gpu.bandwidth_gbs) == ("gpu", "used", 24, 936.2)
    assert Cpu.objects.get(slug="amd-epyc-9554").vector_extensions == [
        "AVX2",
        "AVX-512",
        "AVX-512-BF16",
    ]
    assert Motherboard.objects.get().pcie_x16_electrical == [16, 16]
    assert LlmModel.objects.get(slug="mixtral-8x7b-instruct-v0-1").experts_total == 8
    assert QuantFormat.objects.get(name="F16", applies_to="kv_cache").bits_per_weight == 16


def test_it_stores_unknown_text_specs_as_blank(loaded):
    assert Motherboard.objects.get().chipset == ""
    assert Gpu.objects.get(slug="amd-radeon-rx-7900-xtx").fp16_tflops is None


def test_it_changes_nothing_when_run_twice(seed_dir, run):
    run("load_seed", seed_dir=seed_dir)
    stamps = dict(Part.objects.values_list("slug", "updated_at"))
    model_stamps = dict(LlmModel.objects.values_list("slug", "updated_at"))

    output = run("load_seed", seed_dir=seed_dir)

    assert "0 created, 0 updated, 11 unchanged" in output
    assert "0 created, 0 updated, 2 unchanged" in output
    assert "0 created, 0 updated, 3 unchanged" in output
    assert dict(Part.objects.values_list("slug", "updated_at")) == stamps
    assert dict(LlmModel.objects.values_list("slug", "updated_at")) == model_stamps
    assert Part.objects.count() == 11


def test_it_updates_a_row_whose_seed_changed(loaded, edit_seed, run):
    edit_seed("parts/gpu.json", lambda rows: rows[1]["specs"].update(tdp_w=350))

    output = run("load_seed", seed_dir=loaded)

    assert "parts: 0 created, 1 updated, 10 unchanged" in output
    assert Gpu.objects.get(slug="amd-radeon-rx-7900-xtx").tdp_w == 350


def test_it_ignores_reference_prices(seed_dir, edit_seed, run):
    edit_seed("parts/gpu.json", lambda rows: rows[0]["reference_price"].update(amount="bogus"))

    run("load_seed", seed_dir=seed_dir)

    assert Gpu.objects.filter(slug="nvidia-geforce-rtx-3090-used").exists()


def test_it_reports_each_bad_row_by_file_row_and_field_and_loads_nothing(seed_dir, edit_seed, run):
    def break_gpus(rows):
        rows[1]["specs"]["vram_gb"] = 0
        rows[1]["specs"]["memory_type"] = "GDDR9"

    edit_seed("parts/gpu.json", break_gpus)
    edit_seed("llm_models.json", lambda rows: rows[0].update(kv_heads=5))

    with pytest.raises(CommandError) as error:
        run("load_seed", seed_dir=seed_dir)

    message = str(error.value)
    assert "nothing was loaded" in message
    assert "parts/gpu.json row 2 (amd-radeon-rx-7900-xtx): specs.vram_gb:" in message
    assert "parts/gpu.json row 2 (amd-radeon-rx-7900-xtx): specs.memory_type:" in message
    assert "llm_models.json row 1 (llama-3-1-8b-instruct): kv_heads: Must divide" in message
    assert Part.objects.count() == 0
    assert LlmModel.objects.count() == 0


def test_it_rejects_misspelt_and_mistyped_fields_instead_of_dropping_them(seed_dir, edit_seed, run):
    def misspell(rows):
        rows[0]["specs"]["vram_gbs"] = 24
        rows[0]["specs"]["tdp_w"] = "350"
        rows[0]["specs"]["length_mm"] = 313.5

    edit_seed("parts/gpu.json", misspell)

    with pytest.raises(CommandError) as error:
        run("load_seed", seed_dir=seed_dir)

    message = str(error.value)
    assert "specs.vram_gbs: Unknown field" in message
    assert "specs.tdp_w: Must be a whole number (got '350')" in message
    assert "specs.length_mm: Must be a whole number (got 313.5)" in message


def test_it_rejects_a_slug_used_twice(seed_dir, edit_seed, run):
    def repeat(rows):
        rows[0]["slug"] = "amd-epyc-9554"

    edit_seed("parts/gpu.json", repeat)

    with pytest.raises(CommandError) as error:
        run("load_seed", seed_dir=seed_dir)

    # cpu.json is read before gpu.json
    assert "parts/gpu.json row 1 (amd-epyc-9554): slug: Repeats parts/cpu.json row 1" in str(
        error.value
    )


def test_it_names_the_file_that_is_not_valid_json(seed_dir, run):
    (seed_dir / "parts" / "psu.json").write_text('[{"slug": "x",}]')

    with pytest.raises(CommandError, match=r"parts/psu.json: not valid JSON \(line 1"):
        run("load_seed", seed_dir=seed_dir)


def test_it_validates_without_writing_on_a_dry_run(seed_dir, run):
    output = run("load_seed", seed_dir=seed_dir, dry_run=True)

    assert output.startswith("Dry run")
    assert Part.objects.count() == 0


def test_it_loads_the_shipped_seed_catalogue(run):
    output = run("load_seed")

    assert "created" in output
    assert Part.objects.exists()
    assert run("load_seed").count(" 0 created, 0 updated") == 3


def test_it_keeps_rows_the_seed_does_not_mention(loaded, edit_seed, run):
    edit_seed("parts/storage.json", lambda rows: rows.clear())

    run("load_seed", seed_dir=loaded)

    assert Part.objects.filter(slug="samsung-990-pro-2tb").exists()


def test_it_refuses_a_slug_that_belongs_to_another_kind(loaded, edit_seed, run):
    def move(rows):
        rows[0]["slug"] = "amd-epyc-9554"

    edit_seed("parts/gpu.json", move)
    edit_seed("parts/cpu.json", lambda rows: rows.clear())

    with pytest.raises(CommandError, match="slug: Already used by a part of kind 'cpu'"):
        run("load_seed", seed_dir=loaded)


def test_it_keeps_an_admin_edit_to_a_part_and_lists_it_as_a_conflict(loaded, run):
    gpu = Gpu.objects.get(slug="amd-radeon-rx-7900-xtx")
    gpu.tdp_w = 300
    gpu.save()

    output = run("load_seed", seed_dir=loaded)

    assert Gpu.objects.get(slug="amd-radeon-rx-7900-xtx").tdp_w == 300
    assert "1 edited row(s) kept" in output
    assert "parts/gpu.json row 2 (amd-radeon-rx-7900-xtx)" in output
    assert "load_seed --overwrite" in output


def test_it_keeps_an_admin_edit_even_when_the_seed_row_changes_too(loaded, edit_seed, run):
    model = LlmModel.objects.get(slug="mixtral-8x7b-instruct-v0-1")
    model.max_context = 16_384
    model.save()
    edit_seed("llm_models.json", lambda rows: [r.update(license="changed") for r in rows])

    output = run("load_seed", seed_dir=loaded)

    model.refresh_from_db()
    assert (model.max_context, model.license) == (16_384, "Apache-2.0")
    assert "llm_models.json row" in output and "mixtral-8x7b-instruct-v0-1" in output
    # The other model was not edited, so it takes the seed's new licence.
    assert LlmModel.objects.exclude(pk=model.pk).get().license == "changed"


def test_it_keeps_an_admin_edit_to_a_quant_format(loaded, run):
    fmt = QuantFormat.objects.get(name="F16", applies_to="kv_cache")
    fmt.quality_note = "admin's note"
    fmt.save()

    run("load_seed", seed_dir=loaded)

    fmt.refresh_from_db()
    assert fmt.quality_note == "admin's note"


def test_it_writes_the_seed_over_edits_with_overwrite(loaded, run):
    gpu = Gpu.objects.get(slug="amd-radeon-rx-7900-xtx")
    seeded_tdp = gpu.tdp_w
    gpu.tdp_w = 300
    gpu.save()

    output = run("load_seed", seed_dir=loaded, overwrite=True)

    assert Gpu.objects.get(slug="amd-radeon-rx-7900-xtx").tdp_w == seeded_tdp
    assert "edited row" not in output
    # Overwritten rows are seed rows again: the next load changes nothing and lists nothing.
    again = run("load_seed", seed_dir=loaded)
    assert "parts: 0 created, 0 updated, 11 unchanged" in again
    assert "edited row" not in again


def test_it_does_not_touch_rows_an_admin_created_or_imported(loaded, run):
    gpu = Gpu.objects.get(slug="amd-radeon-rx-7900-xtx")
    copy = gpu.make_variant()
    copy.tdp_w = 123
    copy.save()

    run("load_seed", seed_dir=loaded)

    copy.refresh_from_db()
    assert copy.tdp_w == 123


def test_rows_loaded_before_tracking_are_kept_and_explained(loaded, edit_seed, run):
    Gpu.objects.filter(slug="amd-radeon-rx-7900-xtx").update(seed_hash="")
    edit_seed("parts/gpu.json", lambda rows: rows[1]["specs"].update(tdp_w=350))

    output = run("load_seed", seed_dir=loaded)

    assert Gpu.objects.get(slug="amd-radeon-rx-7900-xtx").tdp_w != 350
    assert "(loaded before edits were tracked)" in output
    assert "`load_seed --overwrite` once" in output
    # Nothing else changed in the seed, so nothing was written.
    assert "parts: 0 created, 0 updated" in output
