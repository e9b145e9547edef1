import json
import shutil

import gguf
import numpy as np
import pytest
from django.core.management.base import CommandError

from catalog.models import LlmModel
from tests.catalog.conftest import FIXTURES

pytestmark = pytest.mark.django_db

CONFIGS = FIXTURES / "configs"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def test_it_imports_a_local_config_json(run):
    output = run("import_model", str(CONFIGS / "llama-3.1-8b-instruct.json"))

    model = LlmModel.objects.get()
    assert output.startswith("Created llama-3-1-8b-instruct: Llama-3.1-8B-Instruct, 8.03B total")
    assert (model.layers, model.hidden_size, model.attention_heads, model.kv_heads) == (
        32,
        4096,
        32,
        8,
    )
    assert (model.vocab_size, model.max_context, model.tie_word_embeddings) == (
        128256,
        131072,
        False,
    )
    assert model.total_params_b == pytest.approx(8.03, abs=0.01)
    assert model.active_params_b == model.total_params_b
    assert model.config_source.startswith("file:///") and not model.approximate


def test_it_computes_a_moe_models_size_from_its_architecture(run):
    run("import_model", str(CONFIGS / "deepseek-v3.json"), slug="deepseek-v3", name="DeepSeek V3")

    model = LlmModel.objects.get(slug="deepseek-v3")
    assert (model.experts_total, model.experts_per_token, model.shared_experts) == (256, 8, 1)
    assert (model.moe_intermediate_size, model.dense_layers) == (2048, 3)
    assert (model.kv_lora_rank, model.qk_rope_head_dim, model.head_dim) == (512, 64, 128)
    assert model.total_params_b == pytest.approx(671, rel=0.01)
    assert model.active_params_b == pytest.approx(37, rel=0.03)


def test_it_reads_a_multimodal_config_through_its_text_config(run):
    run("import_model", str(CONFIGS / "gemma-3-27b-it.json"), name="Gemma 3 27B IT")

    model = LlmModel.objects.get(slug="gemma-3-27b-it")
    assert (model.layers, model.hidden_size, model.head_dim, model.vocab_size) == (
        62,
        5376,
        128,
        262208,
    )
    assert model.tie_word_embeddings
    # Every sixth layer is global: layers 5, 11, ..., 59, so 52 of 62 use the window.
    assert (model.sliding_window, model.sliding_window_layers_fraction) == (1024, 0.8387)
    assert model.total_params_b == pytest.approx(27.0, rel=0.02)


def test_it_accepts_a_directory_holding_config_json(run, tmp_path):
    shutil.copy(CONFIGS / "llama-3.1-8b-instruct.json", tmp_path / "config.json")

    run("import_model", str(tmp_path))

    assert LlmModel.objects.filter(slug="llama-3-1-8b-instruct").exists()


def test_it_refuses_an_unsupported_architecture_and_creates_nothing(run):
    with pytest.raises(CommandError) as error:
        run("import_model", str(CONFIGS / "mamba-2.8b.json"))

    assert "unsupported config: missing num_attention_heads" in str(error.value)
    assert not LlmModel.objects.exists()


def test_it_refuses_a_config_that_is_not_json(run, tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")

    with pytest.raises(CommandError, match="not valid JSON"):
        run("import_model", str(path))
    assert not LlmModel.objects.exists()


def test_it_refuses_an_inconsistent_config(run, tmp_path):
    config = json.loads((CONFIGS / "llama-3.1-8b-instruct.json").read_text())
    config["num_key_value_heads"] = 5
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))

    with pytest.raises(CommandError, match=r"num_key_value_heads \(5\) must divide num_attention_heads \(32\)"):
        run("import_model", str(path))
    assert not LlmModel.objects.exists()


def test_it_will_not_overwrite_a_model_unless_asked(run):
    source = str(CONFIGS / "llama-3.1-8b-instruct.json")
    run("import_model", source)

    with pytest.raises(CommandError, match="already exists; pass --update"):
        run("import_model", source)
    run("import_model", source, update=True, license="Llama 3.1 Community License")

    assert LlmModel.objects.get().license == "Llama 3.1 Community License"


def test_it_says_what_sources_it_understands(run):
    with pytest.raises(CommandError, match="not a .gguf file, a config.json or a Hugging Face"):
        run("import_model", "no such thing")


# The hub, played by a local HTTP server ------------------------------------------


@pytest.fixture
def hub(httpserver, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", httpserver.url_for("").rstrip("/"))
    return httpserver


def serve_config(hub, repo_id, body):
    hub.expect_request(f"/{repo_id}/resolve/main/config.json").respond_with_data(
        body,
        content_type="application/json",
        headers={"X-Repo-Commit": COMMIT, "ETag": '"config-etag"'},
    )


def test_it_fetches_config_json_from_the_hub_at_hf_endpoint(run, hub):
    serve_config(
        hub,
        "meta-llama/Llama-3.1-8B-Instruct",
        (CONFIGS / "llama-3.1-8b-instruct.json").read_bytes(),
    )

    run("import_model", "meta-llama/Llama-3.1-8B-Instruct")

    model = LlmModel.objects.get()
    assert model.name == "Llama-3.1-8B-Instruct"
    assert model.family == "llama"
    assert model.config_source == hub.url_for(
        "/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json"
    )
    assert model.total_params_b == pytest.approx(8.03, abs=0.01)


def test_it_reports_a_repository_the_hub_does_not_have(run, hub):
    hub.expect_request("/nobody/nothing/resolve/main/config.json").respond_with_data(
        "Repository not found", status=404, headers={"X-Error-Code": "RepoNotFound"}
    )

    with pytest.raises(CommandError, match="nobody/nothing: no such repository on http://"):
        run("import_model", "nobody/nothing")
    assert not LlmModel.objects.exists()


def test_it_reports_a_repository_without_config_json(run, hub):
    hub.expect_request("/org/weights-only/resolve/main/config.json").respond_with_data(
        "Entry not found",
        status=404,
        headers={"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT},
    )

    with pytest.raises(CommandError, match="org/weights-only has no config.json"):
        run("import_model", "org/weights-only")


def test_it_refuses_an_unsupported_config_from_the_hub(run, hub):
    serve_config(hub, "state-spaces/mamba-2.8b-hf", (CONFIGS / "mamba-2.8b.json").read_bytes())

    with pytest.raises(CommandError, match="unsupported config"):
        run("import_model", "state-spaces/mamba-2.8b-hf")
    assert not LlmModel.objects.exists()


# GGUF headers, written with the gguf package's own writer --------------------------

HIDDEN, HEADS, KV_HEADS, FFN, VOCAB, LAYERS = 64, 4, 2, 128, 100, 2
HEAD_DIM = HIDDEN // HEADS


def write_gguf(path, *, experts=0, experts_used=0, tied=False, metadata=True):
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_name("Tiny Llama Test")
    writer.add_license("apache-2.0")
    if metadata:
        writer.add_block_count(LAYERS)
    writer.add_embedding_length(HIDDEN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_context_length(4096)
    writer.add_feed_forward_length(FFN)
    if experts:
        writer.add_expert_count(experts)
        writer.add_expert_used_count(experts_used)
    writer.add_token_list([f"tok{i}" for i in range(VOCAB)])

    def tensor(name, *shape):
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))

    tensor("token_embd.weight", VOCAB, HIDDEN)
    if not tied:
        tensor("output.weight", VOCAB, HIDDEN)
    tensor("output_norm.weight", HIDDEN)
    for i in range(LAYERS):
        tensor(f"blk.{i}.attn_norm.weight", HIDDEN)
        tensor(f"blk.{i}.attn_q.weight", HEADS * HEAD_DIM, HIDDEN)
        tensor(f"blk.{i}.attn_k.weight", KV_HEADS * HEAD_DIM, HIDDEN)
        tensor(f"blk.{i}.attn_v.weight", KV_HEADS * HEAD_DIM, HIDDEN)
        tensor(f"blk.{i}.attn_output.weight", HIDDEN, HEADS * HEAD_DIM)
        tensor(f"blk.{i}.ffn_norm.weight", HIDDEN)
        if experts:
            tensor(f"blk.{i}.ffn_gate_inp.weight", experts, HIDDEN)
            for name in ("ffn_gate_exps", "ffn_up_exps"):
                tensor(f"blk.{i}.{name}.weight", experts, FFN, HIDDEN)
            tensor(f"blk.{i}.ffn_down_exps.weight", experts, HIDDEN, FFN)
        else:
            tensor(f"blk.{i}.ffn_gate.weight", FFN, HIDDEN)
            tensor(f"blk.{i}.ffn_up.weight", FFN, HIDDEN)
            tensor(f"blk.{i}.ffn_down.weight", HIDDEN, FFN)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_it_imports_a_gguf_header(run, tmp_path):
    path = write_gguf(tmp_path / "tiny.gguf")

    run("import_model", str(path))

    model = LlmModel.objects.get(slug="tiny-llama-test")
    assert (model.layers, model.hidden_size, model.attention_heads, model.kv_heads) == (
        2,
        64,
        4,
        2,
    )
    assert (model.intermediate_size, model.vocab_size, model.max_context) == (128, 100, 4096)
    assert (model.family, model.license) == ("llama", "apache-2.0")
    assert not model.tie_word_embeddings and model.mlp_gated
    assert model.config_source == path.resolve().as_uri()


def test_a_gguf_parameter_count_comes_from_its_tensors_and_agrees_with_the_architecture(
    run, tmp_path
):
    path = write_gguf(tmp_path / "tiny.gguf")
    tensors = gguf.GGUFReader(path).tensors

    run("import_model", str(path))

    model = LlmModel.objects.get()
    assert model.total_params_b * 1e9 == pytest.approx(sum(int(t.n_elements) for t in tensors))
    assert model.recomputed_params_b().total_b == pytest.approx(model.total_params_b)


def test_a_gguf_without_an_output_tensor_has_tied_embeddings(run, tmp_path):
    run("import_model", str(write_gguf(tmp_path / "tied.gguf", tied=True)))

    assert LlmModel.objects.get().tie_word_embeddings


def test_a_moe_gguf_counts_only_the_used_experts_as_active(run, tmp_path):
    run("import_model", str(write_gguf(tmp_path / "moe.gguf", experts=4, experts_used=2)))

    model = LlmModel.objects.get()
    assert (model.experts_total, model.experts_per_token) == (4, 2)
    routed = LAYERS * 4 * 3 * HIDDEN * FFN
    assert (model.total_params_b - model.active_params_b) * 1e9 == pytest.approx(routed / 2)
    assert model.recomputed_params_b().active_b == pytest.approx(model.active_params_b)


def test_it_refuses_a_gguf_missing_its_architecture_numbers(run, tmp_path):
    path = write_gguf(tmp_path / "broken.gguf", metadata=False)

    with pytest.raises(CommandError, match="missing llama.block_count"):
        run("import_model", str(path))
    assert not LlmModel.objects.exists()


def test_it_refuses_a_file_that_is_not_gguf(run, tmp_path):
    path = tmp_path / "fake.gguf"
    path.write_bytes(b"not a gguf file at all")

    with pytest.raises(CommandError, match="not a readable GGUF file"):
        run("import_model", str(path))
