"""Speculative decoding: the expected decode speed when a cheap drafter proposes ``k``
tokens and the target model verifies them in one forward pass.

With a per-token acceptance rate ``a`` (each drafted token is accepted with probability
``a`` given the ones before it were), one draft-and-verify cycle commits on average
``(1 - a^(k+1)) / (1 - a)`` tokens (Leviathan et al., 2023, "Fast Inference from
Transformers via Speculative Decoding", eq. 1). The cycle costs ``k`` draft steps plus
one verification step of the target over ``k + 1`` tokens: weights are read once, the
matrix work and KV reads grow with the tokens, so on memory-bound hardware verification
costs little more than one ordinary step and the speed-up approaches the tokens per
cycle; on compute-bound hardware (CPUs, large batches) it shrinks or turns into a loss.

Drafters: ``draft`` — a smaller model of the same family, timed on the same machine;
``mtp`` — the model's own multi-token-prediction layer(s) (DeepSeek-V3, GLM-4.5, Qwen3-
Next, MiMo): one extra decoder layer and the shared output head per drafted token;
``eagle`` — an EAGLE head (one decoder layer fed the target's hidden states, sharing its
output head), costed like ``mtp``; ``ngram`` — prompt lookup, free to draft.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import checks

METHODS = ("draft", "mtp", "eagle", "ngram")

# Default per-token acceptance rates, from published figures:
# - mtp: DeepSeek-V3 technical report (arXiv 2412.19437, §5.4.3): "the acceptance rate
#   of the second token prediction ranges between 85% and 90%" -> 0.85.
# - eagle: EAGLE-2/EAGLE-3 papers (arXiv 2406.16858, 2503.01840) report average
#   acceptance lengths of 4-6 tokens per cycle at 5-8 drafted tokens on chat benchmarks,
#   i.e. about 0.75-0.85 per token -> 0.75.
# - draft: a same-family draft model; llama.cpp's and vLLM's speculative-decoding
#   examples report 60-80 % of drafted tokens accepted on chat and code -> 0.65.
# - ngram: prompt lookup accepts little outside copy-heavy tasks -> 0.3.
DEFAULT_ACCEPTANCE = {"mtp": 0.85, "eagle": 0.75, "draft": 0.65, "ngram": 0.3}
DEFAULT_DRAFT_TOKENS = {"mtp": 1, "eagle": 4, "draft": 4, "ngram": 4}


@dataclass(frozen=True)
class SpecDecode:
    """A speculative-decoding setup: ``method`` (draft, mtp, eagle, ngram),
    ``draft_tokens`` drafted per cycle (``k``), ``acceptance_rate`` per drafted token
    (None: the method's published default), and for ``draft`` the draft model's name
    and its single-stream step time on the same machine (``draft_step_s``, set by the
    estimator)."""

    method: str
    draft_tokens: int | None = None
    acceptance_rate: float | None = None
    draft_model: str = ""

    def __post_init__(self) -> None:
        checks.choice("spec_decode", self.method, METHODS)
        if self.draft_tokens is not None:
            checks.integer("spec_decode.draft_tokens", self.draft_tokens, 1, 32)
        if self.acceptance_rate is not None:
            checks.number("spec_decode.acceptance_rate", self.acceptance_rate, 0.0, 0.99)

    @property
    def k(self) -> int:
        """Tokens drafted per cycle."""
        return self.draft_tokens or DEFAULT_DRAFT_TOKENS[self.method]

    @property
    def alpha(self) -> float:
        """Per-token acceptance rate used."""
        if self.acceptance_rate is not None:
            return self.acceptance_rate
        return DEFAULT_ACCEPTANCE[self.method]

    @classmethod
    def parse(cls, text: str, acceptance_rate: float | None = None) -> SpecDecode:
        """``draft:<model>``, ``mtp``, ``eagle`` or ``ngram`` (optionally ``:k`` for the
        drafted tokens of mtp/eagle/ngram, e.g. ``eagle:5``)."""
        raw = str(text).strip()
        method, _, rest = raw.partition(":")
        method = method.strip().lower()
        if method not in METHODS:
            raise ValueError(
                f"spec_decode must be draft:<model>, mtp, eagle or ngram (got {raw!r})"
            )
        if method == "draft":
            if not rest.strip():
                raise ValueError("spec_decode: draft needs a model, as draft:<model>")
            return cls(method, acceptance_rate=acceptance_rate, draft_model=rest.strip())
        tokens = None
        if rest.strip():
            if not rest.strip().isdigit():
                raise ValueError(f"spec_decode: {method}:N takes a whole number (got {rest!r})")
            tokens = int(rest)
        return cls(method, tokens, acceptance_rate)


def tokens_per_cycle(alpha: float, k: int) -> float:
    """Expected tokens committed per draft-and-verify cycle."""
    if alpha >= 1.0:
        return k + 1.0
    return (1.0 - alpha ** (k + 1)) / (1.0 - alpha)


def drafter_step_s(
    spec: SpecDecode, target_step_s: float, layers: int, head_share: float, draft_step_s: float
) -> float:
    """Time to draft one token: the draft model's own step, or for mtp/eagle one decoder
    layer plus the output head (``head_share`` of a target step), 0 for ngram."""
    if spec.method == "ngram":
        return 0.0
    if spec.method == "draft":
        return draft_step_s
    return target_step_s * (1.0 / max(layers, 1) + head_share)


def speculative_tokens_per_s(spec: SpecDecode, verify_step_s: float, draft_step_s: float) -> float:
    """Decode tokens/s with speculation: tokens per cycle over the cycle's time."""
    cycle = spec.k * draft_step_s + verify_step_s
    return tokens_per_cycle(spec.alpha, spec.k) / cycle
