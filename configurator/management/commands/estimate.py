"""``python manage.py estimate``: one estimate on named hardware.

A stable interface other tools call. Names resolve by slug or name (exact match first,
then a unique case-insensitive substring); an ambiguous or unknown name exits 2 listing
the candidates. ``--json`` prints the same object as ``GET /api/estimate``.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from configurator.engine.builds import finite
from configurator.estimates import estimate_payload
from configurator.forms import EstimateForm, errors_as_flags, errors_by_field

REPEATABLE = EstimateForm.REPEATABLE


class Command(BaseCommand):
    help = (
        "Estimate memory fit, decode and prefill speed and power of a model on hardware: "
        "--model M --quant Q [--gpu NAME[:COUNT]]... [--cpu NAME[:SOCKETS]] [--ram-gb N] "
        "[--ram-mts N] [--ram-channels N] [--system NAME] "
        "[--custom-gpu vram_gb=V,bandwidth_gbs=B,fp16_tflops=F[,tdp_w=W][:COUNT]]... "
        "[--engine llama.cpp|ik_llama.cpp|vllm|sglang|exllamav2|exllamav3|mlx|transformers] "
        "[--split layer|tensor] [--context N] "
        "[--prompt-tokens N] [--batch N] [--kv-quant F16|Q8_0|Q4_0] "
        "[--mode inference|lora|qlora|full] [--expert-offload N|all] [--backend B] "
        "[--threads N] [--custom-cpu ...] [--custom-system vendor=...,...] "
        "[--spec-decode draft:<model>|mtp|eagle|ngram] [--acceptance-rate A] "
        "[--framework peft|unsloth|...] [--dataset-tokens N|250k|12M|1.5B] [--epochs N] "
        "[--json]"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        for name, field in EstimateForm.base_fields.items():
            flag = "--" + name.replace("_", "-")
            if name in REPEATABLE:
                parser.add_argument(flag, dest=name, action="append", help=field.help_text)
            else:
                parser.add_argument(flag, dest=name, help=field.help_text)
        parser.add_argument("--json", action="store_true", help="Print JSON (as /api/estimate).")

    def handle(self, *args: Any, **options: Any) -> None:
        data = {}
        for name in EstimateForm.base_fields:
            value = options.get(name)
            if value is None:
                continue
            data[name] = REPEATABLE[name].join(value) if name in REPEATABLE else value
        form = EstimateForm(data)
        if not form.is_valid() or form.resolved is None:
            raise CommandError(errors_as_flags(errors_by_field(form)), returncode=2)
        try:
            result = estimate_payload(form.resolved)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        if options["json"]:
            self.stdout.write(json.dumps(finite(result), indent=2, ensure_ascii=False))
        else:
            self._table(result)

    def _training_run(self, run: dict[str, Any] | None) -> None:
        """The fine-tuning run: hours over the dataset, energy where there is a figure."""
        if not run:
            return
        out = self.stdout.write
        assumed = " (assumed: none given; --dataset-tokens sets yours)" * bool(
            run["dataset_tokens_assumed"]
        )
        hours = run["hours"]
        out(
            f"Training: {run['tokens_per_s']:.0f} tokens/s; the run over "
            f"{run['dataset_tokens']:,} tokens{assumed} × {run['epochs']} epoch(s) takes "
            + (f"{hours:.1f} hours" if hours is not None else "— (no training speed)")
        )
        if run["energy_kwh"] is not None:
            out(f"Energy:   {run['energy_kwh']:.1f} kWh at {run['power_w']:.0f} W")
        else:
            out("Energy:   not estimated (no power figure for training)")

    def _table(self, r: dict[str, Any]) -> None:
        out = self.stdout.write
        hardware = ", ".join(f"{h['count']} × {h['name']}" for h in r["hardware"]) or "—"
        approx = " (approximate architecture)" if r["approximate_model"] else ""
        out(f"{r['model_name']}{approx} at {r['quant']} ({r['bits_per_weight']:g} bits/weight)")
        out(
            f"on {hardware}; context {r['context']}, prompt {r['prompt_tokens']}, "
            f"batch {r['batch']}"
        )
        out("")
        if r["fits"]:
            out("Fits in memory: yes")
        else:
            out(
                f"Fits in memory: NO — {r.get('reason') or ''} "
                f"(missing {r.get('missing_gb') or 0:.1f} GB)"
            )
        low, high = r["decode_range"]
        out(f"Decode:   {r['decode_tokens_per_s']:.2f} tokens/s (range {low:.2f}–{high:.2f})")
        if r["batch"] > 1:
            out(f"Aggregate at batch {r['batch']}: {r['aggregate_tokens_per_s']:.1f} tokens/s")
        out(
            f"Prefill:  {r['prefill_tokens_per_s']:.0f} tokens/s; "
            f"time to first token {r['time_to_first_token_s']:.2f} s"
        )
        out(
            f"Power:    {r['power_w']:.0f} W; {r['kwh_per_million_tokens']:.2f} kWh per "
            "million tokens"
        )
        out(f"Bottleneck: {r['bottleneck']}")
        self._training_run(r.get("training_run"))
        if r.get("backend"):
            out(f"Engine:   {r['engine']} ({r['backend']})")
        spec = r.get("spec_decode")
        if spec:
            out(
                f"Speculative ({spec['method']}, {spec['draft_tokens']} drafted, acceptance "
                f"{spec['acceptance_rate']:.0%}): {spec['decode_tokens_per_s']:.2f} tokens/s, "
                f"×{spec['speedup']:.2f}"
            )
        out("")
        out(f"{'device':<34}{'weights':>9}{'KV':>8}{'other':>8}{'total':>9}{'capacity':>10}")
        for device in r["memory"]:
            out(
                f"{device['device'][:33]:<34}{device['weights_gb']:>8.1f}G"
                f"{device['kv_cache_gb']:>7.1f}G{device['overhead_gb']:>7.1f}G"
                f"{device['total_gb']:>8.1f}G{device['capacity_gb']:>9.1f}G"
            )
        out("")
        out("Assumptions:")
        for line in r["assumptions"]:
            out(f"  - {line}")
        if r.get("evidence"):
            out("")
            out("Evidence (nearest published measurements, measured / predicted):")
            for item in r["evidence"]:
                out(
                    f"  - {item['setup']} {item['test']}: {item['measured']:g} / "
                    f"{item['predicted']:g} {item['unit']} ({item['date']}) {item['source']}"
                )
