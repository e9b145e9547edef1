"""``python manage.py recommend``: ranked, priced builds for a workload.

Flags are the API's parameters with dashes (``--min-tps`` for ``min_tps``); ``--json``
prints the same object as ``GET /api/builds``. ``--parts slug:qty,...`` evaluates one
given build instead. Invalid input exits with status 2 and names each bad flag.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from configurator.engine.builds import Build, Recommendation, finite, parse_parts_param
from configurator.forms import HELP, RecommendForm, errors_as_flags, errors_by_field
from configurator.recommend import evaluate_build, recommend
from configurator.training_run import Dataset, attach, attach_all, run_figures

FLAGS = [name for name in RecommendForm.base_fields if name != "allow_used"]


def _tps(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


class Command(BaseCommand):
    help = (
        "Ranked, priced, compatible builds for a model and workload: "
        "--model M --quant Q [--context N] [--batch N] [--mode inference|lora|qlora|full] "
        "[--budget USD] [--min-tps N] [--min-prefill-tps N] [--max-watts N] "
        "[--allow-used/--new-only] [--form tower|rack|small|laptop] "
        "[--objective cheapest|fastest|value|power|pareto] [--limit K] "
        "[--expert-offload N|all] [--backend B] [--threads N] "
        "[--spec-decode draft:<model>|mtp|eagle|ngram] [--acceptance-rate A] "
        "[--dataset-tokens N|250k|12M|1.5B] [--epochs N] [--json]."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        for name in FLAGS:
            help_text = RecommendForm.base_fields[name].help_text or HELP[name]
            parser.add_argument(f"--{name.replace('_', '-')}", dest=name, help=help_text)
        used = parser.add_mutually_exclusive_group()
        used.add_argument(
            "--allow-used",
            dest="allow_used",
            action="store_const",
            const="true",
            help="Builds may use used parts (the default).",
        )
        used.add_argument(
            "--new-only",
            dest="allow_used",
            action="store_const",
            const="false",
            help="Only new parts.",
        )
        parser.add_argument(
            "--parts",
            help="Evaluate this build instead (slug:qty,...; a build's key from the output).",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON (as /api/builds).")

    def handle(self, *args: Any, **options: Any) -> None:
        data = {
            name: options[name] for name in [*FLAGS, "allow_used"] if options.get(name) is not None
        }
        form = RecommendForm(data)
        errors = {} if form.is_valid() else errors_by_field(form)
        parts = None
        if options.get("parts"):
            try:
                parts = parse_parts_param(options["parts"])
            except ValueError as exc:
                errors["parts"] = [str(exc)]
        if errors:
            raise CommandError(errors_as_flags(errors), returncode=2)
        request = form.build_request()
        self.dataset = form.dataset()
        if parts is not None:
            try:
                build = evaluate_build(request, parts)
            except ValueError as exc:
                raise CommandError(f"--parts: {exc}", returncode=2) from exc
            if options["json"]:
                data = attach(build.to_dict(), self.dataset, request.kwh_price)
                self.stdout.write(json.dumps(finite(data), indent=2, ensure_ascii=False))
            else:
                self._build(build, detail=True)
            return
        result = recommend(request)
        if options["json"]:
            data = result.to_dict()
            attach_all(data, self.dataset, request.kwh_price)
            self.stdout.write(json.dumps(finite(data), indent=2, ensure_ascii=False))
            return
        self._table(result)

    # Text output ------------------------------------------------------------------------

    def _table(self, rec: Recommendation) -> None:
        req = rec.request
        out = self.stdout.write
        out(f"{req.label}; {req.workload.mode}, batch {req.workload.concurrent_sequences}")
        targets = [f"objective {req.objective}"]
        unit = "training tokens/s" if req.training else "tokens/s"
        if req.min_tps:
            targets.append(f"≥ {req.min_tps:g} {unit}")
        if req.budget is not None:
            targets.append(f"budget {req.budget} {rec.currency}")
        if req.max_watts is not None:
            targets.append(f"≤ {req.max_watts:g} W")
        out("Targets: " + ", ".join(targets))
        out(f"Prices in {rec.currency} as of {rec.prices_as_of}")
        out("")
        if not rec.builds:
            out("No build meets every target.")
        for build in rec.builds:
            self._build(build)
        if rec.near_misses:
            out("")
            out("Near misses:")
            for miss in rec.near_misses:
                total = f"{miss.build.total:,.2f}" if miss.build.total is not None else "?"
                out(f"  {total:>12} {miss.build.title}: {miss.reason}")
        if rec.trade_offs:
            out("")
            out("Trade-offs outside your targets:")
            for trade in rec.trade_offs:
                build = trade.build
                total = f"{build.total:,.2f}" if build.total is not None else "?"
                out(f"  {trade.label}: {build.title}, {total}, {build.tokens_per_s:.1f} {unit}")
                out(f"    parts: {build.key}")
        if rec.relax:
            out("")
            out("To get a build, relax:")
            for item in rec.relax:
                out(f"  --{item.field.replace('_', '-')}: {item.message}")
        for note in rec.notes:
            out(f"Note: {note}")

    def _run(self, est: Any) -> None:
        """A fine-tuning build's run over the dataset (--dataset-tokens, --epochs)."""
        run = run_figures(est, getattr(self, "dataset", Dataset()))
        if run is None or run["hours"] is None:
            return
        assumed = " (assumed; --dataset-tokens sets yours)" * run["dataset_tokens_assumed"]
        self.stdout.write(
            f"    fine-tuning run: {run['hours']:.1f} hours for {run['epochs']} epoch(s) over "
            f"{run['dataset_tokens']:,} tokens{assumed}"
        )

    def _training(self, build: Build) -> None:
        """A fine-tuning build's figures: training speed, memory per GPU, the software."""
        from configurator.templatetags.rig_extras import TRAINING_ENGINES

        est = build.estimate
        train = est.training
        self.stdout.write(
            f"    training {_tps(train.tokens_per_s)} tokens/s ({train.mode} fine-tuning), "
            f"{train.per_gpu_gb:.1f} GB per GPU on {train.gpus} GPU(s), "
            f"{train.trainable_params_b:.3g} B parameters trained"
            + (", gradient checkpointing on" if train.gradient_checkpointing else "")
        )
        self.stdout.write(f"    runs with {TRAINING_ENGINES.get(train.mode, 'Transformers')}")
        self._run(est)

    def _build(self, build: Build, detail: bool = False) -> None:
        out = self.stdout.write
        est = build.estimate
        total = f"{build.total:,.2f} {build.currency}" if build.total is not None else "unpriced"
        rank = f"#{build.rank} " if build.rank else ""
        out(f"{rank}{build.title} — {total}")
        if est is not None and est.training is not None:
            self._training(build)
        elif est is not None:
            low, high = est.decode_range
            spec = est.spec_decode
            if spec and est.decode_tokens_per_s > 0:
                scale = build.tokens_per_s / est.decode_tokens_per_s
                low, high = low * scale, high * scale
            out(
                f"    decode {_tps(build.tokens_per_s)} tokens/s ({_tps(low)}–{_tps(high)}), "
                f"prefill {_tps(est.prefill_tokens_per_s)} tokens/s, "
                f"TTFT {est.time_to_first_token_s:.2f} s, {est.power_w:.0f} W, "
                f"{build.electricity_cost_per_mtok or 0:.2f} {build.currency}/M tokens electricity"
            )
            out(f"    {est.bottleneck}")
            out(f"    engine {build.engine} ({est.backend or 'default backend'})")
            self._run(est)
            if spec:
                out(
                    f"    speculative decoding ({spec['method']}, {spec['draft_tokens']} drafted, "
                    f"acceptance {spec['acceptance_rate']:.0%}): ×{spec['speedup']:.2f} over "
                    f"{_tps(est.decode_tokens_per_s)} tokens/s without"
                )
        if build.rank_reason:
            out(f"    {build.rank_reason}")
        for line in build.lines:
            price = f"{line.unit_price:,.2f}" if line.unit_price is not None else "no price"
            flag = " (stale)" if line.stale else ""
            out(f"    {line.qty:>2} × {line.name} @ {price} [{line.origin}{flag}]")
        marks = {"fail": "✗", "unknown": "?", "warn": "!", "pass": "·"}
        for rule in build.rules:
            if detail or rule["status"] != "pass":
                out(f"    {marks[rule['status']]} {rule['name']}: {rule['detail']}")
        for shortfall in build.shortfalls:
            out(f"    ✗ {shortfall.constraint}: {shortfall.message}")
        out(f"    parts: {build.key}")
