"""``python manage.py canrun``: every catalogue model on your hardware, with the best
quantization that fits and meets the speed target.

Takes the hardware parameters of ``manage.py estimate`` (``--gpu NAME[:COUNT]``,
``--cpu NAME[:SOCKETS]``, ``--ram-gb``, ``--ram-mts``, ``--ram-channels``, ``--system``,
``--custom-gpu``), plus ``--custom-cpu``, ``--paste FILE`` (tool output; ``-`` reads
standard input), the filters ``--use``, ``--max-params-b``, ``--context`` and the speed
target ``--min-tps``. ``--json`` prints the object ``GET /api/canrun`` returns.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from configurator.engine.builds import finite
from configurator.forms import errors_as_flags, errors_by_field
from configurator.rig.service import CanRunForm, canrun_payload


def add_form_arguments(parser: CommandParser, form_class: type, skip: tuple = ()) -> None:
    """One flag per form field (``--ram-gb`` for ``ram_gb``); repeatable ones append."""
    for name, field in form_class.base_fields.items():
        if name in skip:
            continue
        flag = "--" + name.replace("_", "-")
        if name in form_class.REPEATABLE:
            parser.add_argument(flag, dest=name, action="append", help=field.help_text)
        else:
            parser.add_argument(flag, dest=name, help=field.help_text)


def form_data(options: dict[str, Any], form_class: type) -> dict[str, Any]:
    data = {}
    for name in form_class.base_fields:
        value = options.get(name)
        if value is None:
            continue
        joiner = form_class.REPEATABLE.get(name)
        data[name] = joiner.join(value) if joiner else value
    return data


def read_paste(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(errors="replace")
    except OSError as exc:
        raise CommandError(f"--paste: cannot read {path}: {exc.strerror}", returncode=2) from None


class Command(BaseCommand):
    help = (
        "List every catalogue model on your hardware with the best quantization that fits and "
        "meets --min-tps: [--gpu NAME[:COUNT]]... [--cpu NAME[:SOCKETS]] [--ram-gb N] "
        "[--system NAME] [--custom-gpu ...] [--custom-cpu ...] [--paste FILE] [--use U] "
        "[--max-params-b N] [--context N] [--min-tps N] [--json]"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_form_arguments(parser, CanRunForm, skip=("paste",))
        parser.add_argument(
            "--paste",
            dest="paste_file",
            help="File with nvidia-smi / rocm-smi / lscpu / free / dmidecode / "
            "system_profiler output ('-' for standard input).",
        )
        parser.add_argument("--json", action="store_true", help="Print JSON (as /api/canrun).")

    def handle(self, *args: Any, **options: Any) -> None:
        data = form_data(options, CanRunForm)
        if options.get("paste_file"):
            data["paste"] = read_paste(options["paste_file"])
        form = CanRunForm(data)
        if not form.is_valid():
            raise CommandError(errors_as_flags(errors_by_field(form)), returncode=2)
        result = canrun_payload(form)
        if options["json"]:
            self.stdout.write(json.dumps(finite(result), indent=2, ensure_ascii=False))
            return
        self._table(result)

    def _table(self, r: dict[str, Any]) -> None:
        out = self.stdout.write
        out("Hardware: " + "; ".join(f"{h['count']} × {h['name']}" for h in r["hardware"]))
        for note in r["notes"]:
            out(f"  note: {note}")
        out(
            f"Engine {r['engine']}, target {r['min_tps']:g} tokens/s; quality order: "
            f"{r['quality_order']}."
        )
        out("")
        head = f"{'model':<40}{'quant':<9}{'fit':<13}{'decode':>9}{'prefill':>10}{'TTFT':>8}"
        out(head + "  placement")
        for m in r["models"]:
            status = {"runs": "", "too_slow": " (below target)", "does_not_fit": " (does not fit)"}
            out(
                f"{m['model_name'][:39]:<40}{m['quant']:<9}{m['fit']:<13}"
                f"{m['decode_tokens_per_s']:>8.1f} {m['prefill_tokens_per_s']:>9.0f}"
                f"{m['time_to_first_token_s']:>7.1f}s  {m['placement']}{status[m['status']]}"
            )
        out("")
        count = len(r["models"])
        out(f"{count} models, {r['estimates_run']} estimates in {r['elapsed_ms']:.0f} ms.")
