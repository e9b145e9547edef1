import json
import shutil

import gguf
import numpy as np
import pytest
from django.core.management.base import CommandError

from catalog.models import LlmModel, QuantFormat
from tests.catalog.conftest import FIXTURES
from tests.hubfake import LLAMA_31_8B_TOTAL_SIZE, serve_repo

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
    # The config names its repo (_name_or_path), so its source is that repo's config.json.
    assert model.config_source == (
        "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json"
    )
    assert not model.approximate


def test_it_computes_a_moe_models_size_from_its_architecture(run):
    run(
        "import_model",
        str(CONFIGS / "deepseek-v3.json"),
        slug="deepseek-v3",
        name="DeepSeek V3",
        config_source="https://huggingface.co/deepseek-ai/DeepSeek-V3/blob/main/config.json",
    )

    model = LlmModel.objects.get(slug="deepseek-v3")
    assert (model.experts_total, model.experts_per_token, model.shared_experts) == (256, 8, 1)
    assert (model.moe_intermediate_size, model.dense_layers) == (2048, 3)
    assert (model.kv_lora_rank, model.qk_rope_head_dim, model.head_dim) == (512, 64, 128)
    # The checkpoint's 685 B: 671 B main model + the 14 B MTP module, whose copies of the
    # embedding and output head (2 x 0.93 B) the count shares with the main model
    # (https://huggingface.co/deepseek-ai/DeepSeek-V3, README).
    assert model.mtp_layers == 1
    assert model.total_params_b == pytest.approx(685 - 2 * 0.927, rel=0.01)
    assert model.active_params_b == pytest.approx(37, rel=0.03)


def test_it_reads_a_multimodal_config_through_its_text_config(run):
    run(
        "import_model",
        str(CONFIGS / "gemma-3-27b-it.json"),
        name="Gemma 3 27B IT",
        config_source="https://huggingface.co/google/gemma-3-27b-it/blob/main/config.json",
    )

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

    with pytest.raises(
        CommandError, match=r"num_key_value_heads \(5\) must divide num_attention_heads \(32\)"
    ):
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


def test_it_fetches_config_json_from_the_hub_at_hf_endpoint(run, hub):
    serve_repo(
        hub,
        "meta-llama/Llama-3.1-8B-Instruct",
        (CONFIGS / "llama-3.1-8b-instruct.json").read_bytes(),
        total_size=LLAMA_31_8B_TOTAL_SIZE,
    )

    run("import_model", "meta-llama/Llama-3.1-8B-Instruct")

    model = LlmModel.objects.get()
    assert model.name == "Llama-3.1-8B-Instruct"
    assert model.family == "llama"
    assert model.hf_repo == "meta-llama/Llama-3.1-8B-Instruct"
    assert model.config_source == hub.url_for(
        "/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json"
    )
    # total_size ÷ 2 bytes (bf16): the checkpoint's exact count.
    assert model.total_params_b == pytest.approx(LLAMA_31_8B_TOTAL_SIZE / 2 / 1e9, abs=1e-3)
    assert model.recomputed_params_b().total_b == pytest.approx(model.total_params_b, rel=0.001)


def test_without_a_safetensors_index_the_count_comes_from_the_architecture(run, hub):
    config = json.loads((CONFIGS / "llama-3.1-8b-instruct.json").read_text())
    serve_repo(hub, "someone/llama-single-file", config)

    run("import_model", "someone/llama-single-file")

    model = LlmModel.objects.get()
    assert model.total_params_b == pytest.approx(model.recomputed_params_b().total_b, abs=1e-3)


def test_it_says_it_cannot_reach_an_offline_hub(run, offline_hub):
    with pytest.raises(CommandError, match=f"cannot reach {offline_hub} to fetch org/model"):
        run("import_model", "org/model")
    assert not LlmModel.objects.exists()


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
    serve_repo(hub, "state-spaces/mamba-2.8b-hf", (CONFIGS / "mamba-2.8b.json").read_bytes())

    with pytest.raises(CommandError, match="unsupported config"):
        run("import_model", "state-spaces/mamba-2.8b-hf")
    assert not LlmModel.objects.exists()


# GGUF headers, written with the gguf package's own writer --------------------------

# Large enough (over a million parameters) for the engine to accept.
HIDDEN, HEADS, KV_HEADS, FFN, VOCAB, LAYERS = 64, 4, 2, 128, 16000, 2
HEAD_DIM = HIDDEN // HEADS


GGUF_SOURCE = "https://huggingface.co/example/tiny-llama-test"


def write_gguf(path, *, experts=0, experts_used=0, tied=False, metadata=True, source=GGUF_SOURCE):
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_name("Tiny Llama Test")
    if source:
        writer.add_source_url(source)
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
    assert (model.intermediate_size, model.vocab_size, model.max_context) == (128, VOCAB, 4096)
    assert (model.family, model.license) == ("llama", "apache-2.0")
    assert not model.tie_word_embeddings and model.mlp_gated
    assert model.config_source == GGUF_SOURCE


def test_a_local_file_without_a_published_source_needs_config_source(run, tmp_path):
    path = write_gguf(tmp_path / "anonymous.gguf", source=None)

    with pytest.raises(CommandError, match="pass --config-source with the http"):
        run("import_model", str(path))
    with pytest.raises(CommandError, match="--config-source must be an http"):
        run("import_model", str(path), config_source="file:///etc/passwd")
    assert not LlmModel.objects.exists()

    run("import_model", str(path), config_source="https://example.org/tiny/config.json")
    assert LlmModel.objects.get().config_source == "https://example.org/tiny/config.json"


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


LLAMA_SOURCE = "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('"num_hidden_layers": 32', '"num_hidden_layers": NaN'), "NaN"),
        (lambda t: t.replace('"hidden_size": 4096', '"hidden_size": Infinity'), "Infinity"),
        (lambda t: t.replace('"hidden_size": 4096', '"hidden_size": -4096'), "hidden_size"),
        (lambda t: t.replace('"hidden_size": 4096', '"hidden_size": 4096.5'), "hidden_size"),
        (
            lambda t: t.replace('"num_hidden_layers": 32', '"num_hidden_layers": 100000'),
            "num_hidden_layers must be between 1 and 1000",
        ),
        (lambda t: t.replace('"vocab_size": 128256', '"vocab_size": "many"'), "vocab_size"),
        (lambda t: t[:-2] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}", "nested deeper"),
        (lambda t: t[:-2] + ', "x": ' + "[" * 40 + "]" * 40 + "}", "nested deeper"),
        (
            lambda t: t.replace('"hidden_size": 4096', '"hidden_size": ' + "9" * 5000),
            "a number with 5,000 digits",
        ),
        (
            lambda t: t[:-2] + ', "layer_types": ["full_attention", "linear_attention"]}',
            "layer_types lists 2 layers but num_hidden_layers is 32",
        ),
    ],
    ids=[
        "nan",
        "infinity",
        "negative",
        "fraction",
        "huge",
        "text",
        "deep",
        "nested",
        "digits",
        "pattern",
    ],
)
def test_it_refuses_impossible_configs_naming_the_field(run, tmp_path, change, message):
    text = (CONFIGS / "llama-3.1-8b-instruct.json").read_text().rstrip() + "\n"
    path = tmp_path / "config.json"
    path.write_text(change(text))

    with pytest.raises(CommandError, match=message):
        run("import_model", str(path), config_source=LLAMA_SOURCE)
    assert not LlmModel.objects.exists()


def test_it_derives_head_dim_from_hidden_size_and_heads(run, tmp_path):
    config = json.loads((CONFIGS / "llama-3.1-8b-instruct.json").read_text())
    config.pop("head_dim", None)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))

    run("import_model", str(path))

    assert LlmModel.objects.get().head_dim == 4096 // 32


def test_it_imports_a_hybrid_linear_attention_config_with_its_state(run, hub):
    from tests.engine.real_configs import QWEN3_NEXT_80B_CONFIG

    serve_repo(hub, "Qwen/Qwen3-Next-80B-A3B-Instruct", QWEN3_NEXT_80B_CONFIG)

    run("import_model", "Qwen/Qwen3-Next-80B-A3B-Instruct")

    model = LlmModel.objects.get()
    assert (model.full_attention_layers, model.linear_attention_kind) == (12, "gated_deltanet")
    assert (
        model.recurrent_state_heads,
        model.recurrent_state_key_dim,
        model.recurrent_state_value_dim,
        model.recurrent_conv_channels,
        model.recurrent_conv_kernel,
    ) == (32, 128, 128, 8192, 4)
    assert (model.experts_total, model.experts_per_token, model.shared_experts) == (512, 10, 1)


def write_hybrid_gguf(path):
    """A tiny Mamba-2 hybrid (granitehybrid-style): attention only in the last of four
    layers, head_count_kv 0 elsewhere, ssm.* keys as llama.cpp writes them."""
    layers, inner, state, heads, groups = 4, 128, 16, 8, 1
    writer = gguf.GGUFWriter(str(path), arch="granitehybrid")
    writer.add_name("Tiny Hybrid Test")
    writer.add_source_url(GGUF_SOURCE)
    writer.add_file_type(0)  # ALL_F32
    writer.add_block_count(layers)
    writer.add_embedding_length(HIDDEN)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv([0, 0, 0, KV_HEADS])
    writer.add_context_length(4096)
    writer.add_feed_forward_length(FFN)
    writer.add_ssm_inner_size(inner)
    writer.add_ssm_state_size(state)
    writer.add_ssm_time_step_rank(heads)
    writer.add_ssm_group_count(groups)
    writer.add_ssm_conv_kernel(4)
    writer.add_token_list([f"tok{i}" for i in range(VOCAB)])

    def tensor(name, *shape):
        writer.add_tensor(name, np.zeros(shape, dtype=np.float32))

    tensor("token_embd.weight", VOCAB, HIDDEN)
    tensor("output.weight", VOCAB, HIDDEN)
    for i in range(layers):
        if i == layers - 1:
            tensor(f"blk.{i}.attn_q.weight", HEADS * HEAD_DIM, HIDDEN)
            tensor(f"blk.{i}.attn_k.weight", KV_HEADS * HEAD_DIM, HIDDEN)
            tensor(f"blk.{i}.attn_v.weight", KV_HEADS * HEAD_DIM, HIDDEN)
            tensor(f"blk.{i}.attn_output.weight", HIDDEN, HEADS * HEAD_DIM)
        else:
            tensor(f"blk.{i}.ssm_in.weight", 2 * inner + 2 * groups * state + heads, HIDDEN)
            tensor(f"blk.{i}.ssm_out.weight", HIDDEN, inner)
        tensor(f"blk.{i}.ffn_gate.weight", FFN, HIDDEN)
        tensor(f"blk.{i}.ffn_up.weight", FFN, HIDDEN)
        tensor(f"blk.{i}.ffn_down.weight", HIDDEN, FFN)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_hybrid_gguf_keeps_its_layer_pattern_and_file_quantization(run, tmp_path):
    path = write_hybrid_gguf(tmp_path / "hybrid.gguf")

    output = run("import_model", str(path))

    model = LlmModel.objects.get()
    assert (model.full_attention_layers, model.linear_attention_kind) == (1, "mamba2")
    assert (
        model.recurrent_state_heads,
        model.recurrent_state_key_dim,
        model.recurrent_state_value_dim,
        model.recurrent_conv_channels,
    ) == (8, 16, 128 // 8, 128 + 2 * 16)
    tensors = gguf.GGUFReader(path).tensors
    size = sum(int(t.n_bytes) for t in tensors)
    assert f"GGUF file: F32, {size / 1e9:.2f} GB of tensors, 32.00 bits/weight" in output
    assert f"F32 x{len(tensors)}" in output
    fmt = QuantFormat.objects.get(name="F32", applies_to="weights")
    assert fmt.bits_per_weight == 32.0 and fmt.source == GGUF_SOURCE


def test_a_multimodal_checkpoint_beyond_its_text_model_is_its_vision_tower(run, hub):
    from catalog.architecture import Architecture, parameter_count
    from catalog.hf_config import fields_from_hf_config

    config = json.loads((CONFIGS / "gemma-3-27b-it.json").read_text())
    text_b = parameter_count(Architecture.from_mapping(fields_from_hf_config(config))).total_b
    # A bf16 checkpoint of the text model plus a 0.417 B SigLIP tower.
    serve_repo(hub, "google/gemma-3-27b-it", config, total_size=round((text_b + 0.417) * 2e9))

    run("import_model", "google/gemma-3-27b-it")

    model = LlmModel.objects.get()
    assert model.vision_params_b == pytest.approx(0.417, abs=0.002)
    assert model.total_params_b == pytest.approx(text_b + 0.417, abs=0.002)
