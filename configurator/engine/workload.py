"""What the user wants to do with the model."""

from __future__ import annotations

from dataclasses import dataclass

from . import checks

MODES = ("inference", "lora", "qlora", "full")
MAX_CONTEXT_TOKENS = 10_000_000


@dataclass(frozen=True)
class Workload:
    """Context and concurrency of an inference or fine-tuning job.

    ``context_tokens``: the context each sequence must hold (KV cache is sized for it;
    for fine-tuning, the training sequence length). ``prompt_tokens``: tokens in a typical
    prompt (prefill work, and the depth at which decode speed is quoted).
    ``gen_tokens``: tokens generated per request. ``concurrent_sequences``: sequences
    decoded together (for fine-tuning, the micro-batch per GPU). ``kv_cache_bits``: bits
    per KV element (16 for F16, 8.5 for Q8_0, 4.5 for Q4_0). ``mode``: inference, lora,
    qlora or full. ``lora_rank``: adapter rank. ``gradient_checkpointing``: None takes
    the usual default of each mode (on for QLoRA, as PEFT's k-bit preparation does; off
    for LoRA and full, as the Hugging Face Trainer does). ``activation_offloading``:
    saved activations go to host RAM in the forward pass and come back for the backward
    (torchtune's ``enable_activation_offloading``); None takes the framework's way.
    """

    context_tokens: int = 4096
    prompt_tokens: int = 512
    gen_tokens: int = 128
    concurrent_sequences: int = 1
    kv_cache_bits: float = 16.0
    mode: str = "inference"
    lora_rank: int = 16
    gradient_checkpointing: bool | None = None
    activation_offloading: bool | None = None

    def __post_init__(self) -> None:
        checks.integer("context_tokens", self.context_tokens, 1, MAX_CONTEXT_TOKENS)
        checks.integer("prompt_tokens", self.prompt_tokens, 1, self.context_tokens)
        checks.integer("gen_tokens", self.gen_tokens, 1, MAX_CONTEXT_TOKENS)
        checks.integer("concurrent_sequences", self.concurrent_sequences, 1, 4096)
        checks.number("kv_cache_bits", self.kv_cache_bits, 2.0, 32.0)
        checks.choice("mode", self.mode, MODES)
        checks.integer("lora_rank", self.lora_rank, 1, 4096)
        if self.gradient_checkpointing is not None and not isinstance(
            self.gradient_checkpointing, bool
        ):
            value = self.gradient_checkpointing
            raise ValueError(f"gradient_checkpointing must be true, false or unset (got {value!r})")
        if self.activation_offloading is not None and not isinstance(
            self.activation_offloading, bool
        ):
            value = self.activation_offloading
            raise ValueError(f"activation_offloading must be true, false or unset (got {value!r})")

    @property
    def is_training(self) -> bool:
        """True for the fine-tuning modes."""
        return self.mode != "inference"

    @property
    def uses_gradient_checkpointing(self) -> bool:
        """Whether activations are recomputed in the backward pass."""
        if self.gradient_checkpointing is not None:
            return self.gradient_checkpointing
        return self.mode == "qlora"
