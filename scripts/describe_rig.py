#!/usr/bin/env python3
"""Describe this computer for RigRank's "what runs on my rig" page.

Standard library only: copy this one file to the machine and run it. It asks
nvidia-smi, rocm-smi, lscpu, /proc/meminfo and (on a Mac) system_profiler, and prints
lines such as ``rigrank-gpu: NVIDIA GeForce RTX 3090 | 24576``. Paste them on
RigRank's /rig/ page or give them to ``manage.py canrun --paste``, or run with
``--url https://your-rigrank`` to print a link that opens the page with them.

    python3 describe_rig.py
    python3 describe_rig.py --url http://127.0.0.1:8000
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
from urllib.parse import urlencode

TIMEOUT_S = 20


def run(*command: str) -> str:
    """A command's standard output, or "" if it is missing or fails."""
    if shutil.which(command[0]) is None:
        return ""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


def nvidia_gpus() -> list[str]:
    text = run("nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits")
    lines = []
    for row in text.splitlines():
        name, _, memory = row.rpartition(",")
        if name.strip():
            lines.append(f"rigrank-gpu: {name.strip()} | {memory.strip()}")
    return lines


def amd_gpus() -> list[str]:
    names = run("rocm-smi", "--showproductname", "--csv")
    memory = run("rocm-smi", "--showmeminfo", "vram", "--csv")
    totals: dict[str, float] = {}
    for row in memory.splitlines()[1:]:
        cells = row.split(",")
        if len(cells) >= 2 and cells[1].strip().isdigit():
            totals[cells[0]] = int(cells[1]) / 2**20
    lines = []
    for row in names.splitlines()[1:]:
        cells = row.split(",")
        if len(cells) < 3 or not cells[0].startswith("card"):
            continue
        series = re.search(r"\[([^\]]+)\]\s*$", cells[1])
        name = series.group(1) if series else cells[2] or cells[1]
        mib = totals.get(cells[0])
        lines.append(f"rigrank-gpu: {name.strip()} | {mib:.0f}" if mib else f"rigrank-gpu: {name}")
    return lines


def linux_cpu_and_ram() -> list[str]:
    lines = []
    lscpu = run("lscpu")
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lscpu.splitlines())
    )
    if fields.get("Model name"):
        flags = [f for f in ("avx2", "fma", "avx512f") if f in fields.get("Flags", "").split()]
        lines.append(
            f"rigrank-cpu: {fields['Model name']} | {fields.get('Socket(s)', '1')} | "
            f"{fields.get('Core(s) per socket', '')} | {fields.get('CPU max MHz', '')} | "
            + ",".join(flags)
        )
    try:
        with open("/proc/meminfo") as handle:
            meminfo = handle.read()
    except OSError:
        meminfo = ""
    total = re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.M)
    if total:
        gib = int(total.group(1)) / 2**20
        installed = next(
            (
                s
                for s in (8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048)
                if s * 0.9 <= gib <= s
            ),
            round(gib),
        )
        lines.append(f"rigrank-ram: {installed} | | | |")
    return lines


def mac() -> list[str]:
    text = run("system_profiler", "SPHardwareDataType")
    chip = re.search(r"^\s*Chip:\s*(.+)$", text, re.M)
    memory = re.search(r"^\s*Memory:\s*(\d+)\s*GB", text, re.M)
    model = re.search(r"^\s*Model Name:\s*(.+)$", text, re.M)
    if not chip:
        return []
    return [
        f"rigrank-mac: {chip.group(1).strip()} | {memory.group(1) if memory else ''} | "
        f"{model.group(1).strip() if model else ''}"
    ]


def describe() -> list[str]:
    if platform.system() == "Darwin":
        return mac()
    return nvidia_gpus() + amd_gpus() + linux_cpu_and_ram()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="RigRank's address: print a link to its rig page instead.")
    args = parser.parse_args(argv)
    lines = describe()
    if not lines:
        print("Found no GPU, CPU or Mac description on this machine.", file=sys.stderr)
        return 1
    text = "\n".join(lines)
    if args.url:
        print(f"{args.url.rstrip('/')}/rig/?{urlencode({'paste': text})}")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
