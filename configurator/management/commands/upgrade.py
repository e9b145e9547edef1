"""``python manage.py upgrade``: the cheapest way from parts you own to a model at a speed.

``--have SLUG[:QTY],...`` (owned parts, cost nothing), ``--model M``, ``--min-tps N`` and
the other parameters of ``manage.py recommend``; ``--json`` prints ``GET /api/upgrade``'s
object (``upgrades``: items with ``added`` parts, ``price`` and the ``estimate``).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from configurator.engine.builds import finite
from configurator.forms import RecommendForm, errors_as_flags
from configurator.rig.service import UpgradeForm, upgrade_payload


class Command(BaseCommand):
    help = (
        "Cheapest upgrades of the parts you own that run a model at a speed: --have "
        "SLUG[:QTY],... --model M [--quant Q] [--min-tps N] [--budget B] [--json]"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--have", required=True, help=UpgradeForm.base_fields["have"].help_text)
        for name, field in RecommendForm.base_fields.items():
            parser.add_argument("--" + name.replace("_", "-"), dest=name, help=field.help_text)
        parser.add_argument("--json", action="store_true", help="Print JSON (as /api/upgrade).")

    def handle(self, *args: Any, **options: Any) -> None:
        data = {"have": options["have"]}
        for name in RecommendForm.base_fields:
            if options.get(name) is not None:
                data[name] = options[name]
        form = UpgradeForm(data)
        if not form.is_valid():
            raise CommandError(errors_as_flags(form.all_errors), returncode=2)
        result = upgrade_payload(form)
        if options["json"]:
            self.stdout.write(json.dumps(finite(result), indent=2, ensure_ascii=False))
            return
        out = self.stdout.write
        have = ", ".join(f"{h['qty']} × {h['name']}" for h in result["have"])
        out(f"You own: {have}")
        training = result["mode"] != "inference"
        unit = "training tokens/s" if training else "tokens/s"
        speed = "tokens_per_s" if training else "decode_tokens_per_s"
        what = f" ({result['mode']} fine-tuning)" if training else ""
        out(
            f"Target: {result['model_name']} at {result['quant']}, {result['min_tps']:g} "
            f"{unit}{what}"
        )
        current = result["current"]
        if current and current["meets_targets"]:
            out("What you own already meets the target.")
        elif current:
            now = f"{current[speed]:.1f} {unit}" if current["fits"] else "the model does not fit"
            notes = [m.rstrip(". ") for m in current["shortfalls"] + current["violations"]]
            out(f"Now: {now}; " + "; ".join(notes) + ".")
        out("")
        if not result["upgrades"]:
            out("No upgrade in the catalogue reaches the target.")
        for i, u in enumerate(result["upgrades"], 1):
            added = ", ".join(f"{a['qty']} × {a['name']}" for a in u["added"])
            out(f"{i:>2}. {u['price_text']:>10}  {u[speed]:6.1f} {unit}  {u['kind']}: add {added}")
        out("")
        out(f"{result['considered']} upgrades considered in {result['elapsed_ms']:.0f} ms.")
