"""Memory arithmetic: weights, KV cache, compute buffers, and fine-tuning state.

All results are bytes. Formulas (for one sequence unless said otherwise):

- weights = parameters × bits per weight ÷ 8
- KV cache = attention layers × cached tokens × (2 × kv_heads × head_dim, or
  kv_lora_rank + qk_rope_head_dim for latent attention, + the indexer key for DeepSeek
  sparse attention) × KV bits ÷ 8; sliding-window layers cache at most their window
- recurrent state (hybrid linear-attention models) = recurrent layers × (heads × key dim
  × value dim + conv channels × (kernel - 1)) × 4 bytes, whatever the context (llama.cpp
  keeps it in f32)
- compute buffer ≈ tokens per forward pass × 4 bytes × (2 × hidden + 2 × FFN width),
  plus the logits (tokens × vocab × 4 bytes) on the device holding the output layer
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TypeVar

from . import gguf
from .engines import EngineProfile, TrainingProfile
from .model import DSA_INDEX_HEAD_DIM, ModelArch
from .quant import KEEPS_16BIT_EMBEDDINGS, Quant, gguf_recipe
from .workload import Workload

# bitsandbytes NF4 with double quantization: 4 bits + 0.127 bits of scales per weight.
NF4_BITS_PER_WEIGHT = 4.127
# Mixed-precision full fine-tuning with Adam: bf16 weights (2) + bf16 grads (2) + fp32
# master weights (4) + two fp32 Adam moments (8).
FULL_FINETUNE_BYTES_PER_PARAM = 16.0
# LoRA adapters are trained in fp32: weights, grads and two Adam moments.
ADAPTER_BYTES_PER_PARAM = 16.0
# Logits kept for the loss in training when the framework's own figure is not given:
# bf16 output upcast to fp32 plus its gradient.
TRAIN_LOGIT_BYTES = 8.0


@dataclass(frozen=True)
class WeightBits:
    """Bits per weight of each part of a model at one quant: the input embedding, the
    output head, the dense block weights (attention, norms, dense and shared FFN) and
    the routed experts."""

    embedding: float
    head: float
    dense: float
    experts: float


_T = TypeVar("_T")
# Distinct (model, quant) pairs remembered per function before the memo starts over.
MEMO_SIZE = 256


def _per_model_and_quant(function: Callable[..., _T]) -> Callable[..., _T]:
    """Memoise ``function(model, quant, *flags, **flags)`` on the identity of its (immutable)
    model and quant: an estimate, and a build search's many estimates, ask for the same
    model at the same format again and again. An entry keeps both objects, so their ids
    stay theirs while it lives (hashing a whole architecture would cost more)."""
    memo: dict[tuple, tuple[ModelArch, Quant, _T]] = {}

    @wraps(function)
    def memoised(model: ModelArch, quant: Quant, *flags: bool, **named: bool) -> _T:
        key = (id(model), id(quant), *flags, *named.items())
        hit = memo.get(key)
        if hit is not None and hit[0] is model and hit[1] is quant:
            return hit[2]
        value = function(model, quant, *flags, **named)
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[key] = (model, quant, value)
        return value

    return memoised


@_per_model_and_quant
def weight_bits(model: ModelArch, quant: Quant) -> WeightBits:
    """Where a format puts its bits. GGUF llama-quantize types follow llama.cpp's
    per-tensor recipe for this architecture (:mod:`.gguf`: Q6_K output head, Q6_K for
    half of attn_v/ffn_down in Q4_K_M, ...); GPTQ/AWQ/FP8/NVFP4/EXL checkpoints keep
    the embedding and head in 16 bits; MXFP4 checkpoints (gpt-oss) quantize only the
    experts; other formats use their bits everywhere."""
    bits = quant.bits_per_weight
    recipe = gguf_recipe(quant.name) if quant.family in ("GGUF", "") else None
    if recipe is not None:
        size = gguf.gguf_size(model, recipe)
        embedding = size.group_bits("embedding")
        head = size.group_bits("output") or embedding
        block_params = sum(size.params_by_group.get(g, 0.0) for g in ("attention", "ffn", "other"))
        block_bytes = sum(size.bytes_by_group.get(g, 0.0) for g in ("attention", "ffn", "other"))
        dense = block_bytes * 8 / block_params if block_params else bits
        experts = size.group_bits("experts") or dense
        return WeightBits(embedding, head, dense, experts)
    if quant.family == "MXFP4":
        return WeightBits(16.0, 16.0, 16.0, bits)
    if quant.family in KEEPS_16BIT_EMBEDDINGS:
        return WeightBits(16.0, 16.0, bits, bits)
    return WeightBits(bits, bits, bits, bits)


def effective_bits_per_weight(model: ModelArch, quant: Quant) -> float:
    """Bits per weight of the whole model at ``quant`` (its weights over its
    parameters): Llama 3.1 70B Q4_K_M is 4.82, Llama 3.1 8B Q4_K_M 4.89."""
    return weights_bytes(model, quant) * 8 / (model.text_params_b * 1e9 + 1e-9)


@dataclass(frozen=True)
class ModelParts:
    """One model at one quant, cut into the pieces placement moves around.

    Per transformer block: ``dense_layer_bytes`` (attention, norms, dense or shared FFN:
    read for every token) and ``expert_layer_bytes`` (all routed experts; a token reads
    ``expert_fraction_per_token`` of them). ``embedding_bytes``: weights held beside the
    blocks but not read per decoded token: the input table, the vision tower and any
    multi-token-prediction layers the engine loads (``held_extra_bytes`` of it);
    ``head_bytes``: the output projection (same size as the table). Parameter counts
    alongside, for FLOPs. ``weight_type``: the quant's name (its GGUF type picks the
    CPU kernel that multiplies it, :mod:`.cpu_kernels`).
    """

    model: ModelArch
    layers: int
    dense_layer_bytes: float
    expert_layer_bytes: float
    expert_fraction_per_token: float
    embedding_bytes: float
    head_bytes: float
    dense_layer_params: float
    expert_layer_params: float
    head_params: float
    held_extra_bytes: float = 0.0
    weight_type: str = ""

    @property
    def layer_bytes(self) -> float:
        """All weights of one block."""
        return self.dense_layer_bytes + self.expert_layer_bytes

    def expert_read_fraction(self, tokens: int) -> float:
        """Share of a block's routed experts read by a step over ``tokens`` tokens."""
        return self.model.expert_fraction_touched(tokens) if self.expert_layer_bytes > 0 else 0.0

    def active_layer_params(self) -> float:
        """Parameters of one block a single token uses."""
        return self.dense_layer_params + self.expert_layer_params * self.expert_fraction_per_token


def held_extra_params_b(model: ModelArch, with_mtp: bool = False) -> float:
    """Weights held in memory that text decoding does not read, billions: the vision
    tower, and the multi-token-prediction layers when the engine loads them."""
    return model.vision_params_b + (model.mtp_params_b if with_mtp else 0.0)


@_per_model_and_quant
def model_parts(model: ModelArch, quant: Quant, with_mtp: bool = False) -> ModelParts:
    """Cut ``model`` at ``quant`` into per-block dense and routed-expert parts.
    ``with_mtp``: the engine loads the multi-token-prediction layers (for speculative
    decoding), so they take memory too."""
    bits = weight_bits(model, quant)
    layer_params = model.layer_params_b * 1e9 / model.layers
    active_params = model.active_layer_params_b * 1e9 / model.layers
    expert_params = 0.0
    fraction = 0.0
    if model.is_moe and model.experts_total > model.experts_per_token:
        one = (layer_params - active_params) / (model.experts_total - model.experts_per_token)
        expert_params = min(one * model.experts_total, layer_params * 0.98)
        fraction = model.experts_per_token / model.experts_total
    dense_params = layer_params - expert_params
    head_params = model.embedding_params_b * 1e9
    extra = held_extra_params_b(model, with_mtp) * 1e9
    # A tied head is the embedding table itself, at the type llama.cpp gives it.
    head_bits = bits.head if not model.tie_word_embeddings else bits.embedding
    return ModelParts(
        model=model,
        layers=model.layers,
        dense_layer_bytes=dense_params * bits.dense / 8,
        expert_layer_bytes=expert_params * bits.experts / 8,
        expert_fraction_per_token=fraction,
        embedding_bytes=(head_params * bits.embedding + extra * bits.dense) / 8,
        head_bytes=head_params * head_bits / 8,
        dense_layer_params=dense_params,
        expert_layer_params=expert_params,
        head_params=head_params,
        held_extra_bytes=extra * bits.dense / 8,
        weight_type=quant.name,
    )


def weights_bytes(model: ModelArch, quant: Quant, with_mtp: bool = False) -> float:
    """All weights the engine holds at ``quant``: the text model (each part at the bits
    the format gives it, see :func:`weight_bits`), its vision tower, and its
    multi-token-prediction layers when ``with_mtp``."""
    parts = model_parts(model, quant, with_mtp)
    return (
        parts.layers * parts.layer_bytes + parts.embedding_bytes + output_head_bytes(model, quant)
    )


def layer_weight_bytes(model: ModelArch, quant: Quant) -> float:
    """Weights of one transformer block (all experts), averaged over blocks."""
    return model_parts(model, quant).layer_bytes


def active_layer_weight_bytes(model: ModelArch, quant: Quant) -> float:
    """Weights of one block that a single token reads (active experts only)."""
    parts = model_parts(model, quant)
    return parts.dense_layer_bytes + parts.expert_layer_bytes * parts.expert_fraction_per_token


def embedding_bytes(model: ModelArch, quant: Quant) -> float:
    """The input token-embedding table."""
    return model.embedding_params_b * 1e9 * weight_bits(model, quant).embedding / 8


def output_head_bytes(model: ModelArch, quant: Quant) -> float:
    """The output (LM head) matrix when stored on its own (0 when tied)."""
    return model.output_params_b * 1e9 * weight_bits(model, quant).head / 8


def kv_bytes_per_layer(model: ModelArch, context_tokens: float, kv_cache_bits: float) -> float:
    """Cache of one layer for one sequence holding ``context_tokens`` tokens, averaged
    over the layers: the KV cache of the attention layers plus the fixed recurrent
    state of the linear ones (so ``layers ×`` this is the whole model's)."""
    tokens = model.kv_cached_tokens_per_layer(int(context_tokens))
    kv = tokens * model.kv_values_per_token_per_layer() * kv_cache_bits / 8
    return kv + model.recurrent_state_bytes() / model.layers


def kv_cache_bytes(
    model: ModelArch, context_tokens: float, kv_cache_bits: float, sequences: int = 1
) -> float:
    """KV cache (and recurrent state) of the whole model for ``sequences`` sequences of
    ``context_tokens``."""
    return kv_bytes_per_layer(model, context_tokens, kv_cache_bits) * model.layers * sequences


def recurrent_state_bytes(model: ModelArch, sequences: int = 1) -> float:
    """Fixed recurrent state of a hybrid model's linear layers, bytes (0 otherwise)."""
    return model.recurrent_state_bytes() * sequences


def kv_read_bytes_per_layer(model: ModelArch, context_tokens: float, kv_cache_bits: float) -> float:
    """Cache bytes one decode step reads per layer for one sequence (averaged over the
    layers). As :func:`kv_bytes_per_layer`, except that DeepSeek sparse attention reads
    the latents of only ``sparse_attention_topk`` tokens (its indexer still reads every
    cached key)."""
    if not model.uses_sparse_attention:
        return kv_bytes_per_layer(model, context_tokens, kv_cache_bits)
    share = model.attention_layers / model.layers
    cached = model.kv_cached_tokens_per_attention_layer(context_tokens)
    index_values = model.indexer_head_dim or DSA_INDEX_HEAD_DIM
    latent_values = model.kv_values_per_token_per_layer() - index_values
    values = cached * index_values + model.attended_tokens(context_tokens) * latent_values
    return share * values * kv_cache_bits / 8 + model.recurrent_state_bytes() / model.layers


def ffn_width(model: ModelArch) -> int:
    """Width of the feed-forward activations one token produces."""
    if model.is_moe and model.moe_intermediate_size:
        return model.moe_intermediate_size * (model.experts_per_token + model.shared_experts)
    if model.intermediate_size:
        return model.intermediate_size
    return 4 * model.hidden_size


def compute_buffer_bytes(
    model: ModelArch, engine: EngineProfile, context_tokens: int, holds_output: bool
) -> float:
    """Scratch memory for one forward pass of ``engine.activation_tokens`` tokens
    (fp32 intermediates; flash attention assumed, so no tokens × context score matrix)."""
    tokens = min(engine.activation_tokens, context_tokens)
    buffer = tokens * 4.0 * (2 * model.hidden_size + 2 * ffn_width(model))
    if holds_output:
        buffer += tokens * 4.0 * model.vocab_size
    return buffer


@dataclass(frozen=True)
class TrainingMemory:
    """Memory of a fine-tuning job on each of ``gpus`` GPUs, bytes.

    ``frozen_weights_bytes``: the base model's weights (sharded over the GPUs);
    ``trainable_state_bytes``: weights, gradients and optimizer state of what is trained
    (sharded); ``activations_bytes``: saved block activations of one GPU's micro-batch;
    ``logits_bytes``: what the loss keeps of its logits; ``overhead_bytes``: runtime
    (CUDA context, allocator) per GPU.
    """

    gpus: int
    frozen_weights_bytes: float
    trainable_state_bytes: float
    activations_bytes: float
    overhead_bytes: float
    trainable_params_b: float
    gradient_checkpointing: bool
    logits_bytes: float = 0.0

    @property
    def per_gpu_bytes(self) -> float:
        """What one GPU holds: its share of weights and state, plus its activations."""
        shared = (self.frozen_weights_bytes + self.trainable_state_bytes) / self.gpus
        return shared + self.activations_bytes + self.logits_bytes + self.overhead_bytes


def lora_params_b(model: ModelArch, rank: int) -> float:
    """Adapter parameters of LoRA on every linear layer of every block, billions."""
    h = model.hidden_size
    q_out = model.attention_heads * model.head_dim
    kv_out = model.kv_heads * model.head_dim
    attention = (h + q_out) + 2 * (h + kv_out) + (q_out + h)
    width = model.moe_intermediate_size or model.intermediate_size or 4 * h
    mlp = (3 if model.mlp_gated else 2) * (h + width)
    return rank * (attention + mlp) * model.layers / 1e9


def activation_bytes_per_token_per_layer(model: ModelArch) -> float:
    """Activations autograd keeps per token per block with 16-bit activations and no
    recomputation (after Korthikanti et al. 2022 with flash attention: about 17 × hidden
    bytes for attention and norms plus 6 × FFN width for a gated MLP, 4 × for a plain one)."""
    width = model.intermediate_size or 4 * model.hidden_size
    if model.is_moe and model.moe_intermediate_size:
        width = model.moe_intermediate_size * (model.experts_per_token + model.shared_experts)
    return 17.0 * model.hidden_size + (6.0 if model.mlp_gated else 4.0) * width


def activation_bytes(
    model: ModelArch, tokens: int, checkpointing: bool, offloaded: bool = False
) -> float:
    """Block activations one GPU holds at the peak of the backward pass for ``tokens``
    tokens of its micro-batch: every block's saved tensors without checkpointing; with
    it, each block's input (2 × hidden bytes a token) plus the one block being
    recomputed; with the saved tensors (or checkpoints) offloaded to host RAM, only the
    block being worked on."""
    per_layer = activation_bytes_per_token_per_layer(model)
    if offloaded:
        return tokens * per_layer
    if not checkpointing:
        return tokens * per_layer * model.layers
    return tokens * (2.0 * model.hidden_size * model.layers + per_layer)


def training_memory(
    model: ModelArch,
    quant: Quant,
    workload: Workload,
    gpus: int,
    overhead_gb: float,
    profile: TrainingProfile | None = None,
    logit_bytes: float = TRAIN_LOGIT_BYTES,
) -> TrainingMemory:
    """Fine-tuning memory for ``workload.mode`` (lora, qlora or full) on ``gpus`` GPUs.

    Frozen weights and trainable state are sharded over the GPUs (FSDP / ZeRO-3); each
    GPU keeps the activations of its own micro-batch of ``concurrent_sequences``
    sequences of ``context_tokens`` tokens, plus ``logit_bytes`` per token per vocabulary
    entry for the loss (the framework's: bf16 logits, their fp32 copy and gradient when
    materialised whole, far less when the loss is chunked). LoRA freezes the base at
    the quant's precision (bf16 normally); QLoRA at 4-bit NF4 (embeddings and output
    head stay bf16); full fine-tuning keeps ``profile.full_state_bytes`` per parameter.
    """
    profile = profile or TrainingProfile()
    params = model.total_params_b * 1e9
    tokens = workload.context_tokens * workload.concurrent_sequences
    embed_params = (model.embedding_params_b + model.output_params_b) * 1e9
    if workload.mode == "full":
        frozen = 0.0
        trainable_b = model.total_params_b
        state = params * profile.full_state_bytes
    else:
        if workload.mode == "qlora":
            frozen = (params - embed_params) * NF4_BITS_PER_WEIGHT / 8 + embed_params * 2
        else:
            frozen = params * quant.bytes_per_weight
        trainable_b = lora_params_b(model, workload.lora_rank)
        state = trainable_b * 1e9 * ADAPTER_BYTES_PER_PARAM
    checkpointing = workload.uses_gradient_checkpointing
    offloaded = workload.activation_offloading
    if offloaded is None:
        offloaded = checkpointing and profile.offloads_checkpoints
    return TrainingMemory(
        gpus=max(gpus, 1),
        frozen_weights_bytes=frozen,
        trainable_state_bytes=state,
        activations_bytes=activation_bytes(model, tokens, checkpointing, offloaded),
        overhead_bytes=overhead_gb * 1e9,
        trainable_params_b=trainable_b,
        gradient_checkpointing=checkpointing,
        logits_bytes=tokens * model.vocab_size * logit_bytes,
    )
