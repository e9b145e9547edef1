"""The paste parsers read real tool output (tests/rig/fixtures, sources in its README)."""

from pathlib import Path

from configurator.rig.paste import installed_gb, parse

FIXTURES = Path(__file__).parent / "fixtures"


def read(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_it_reads_one_gpu_and_its_memory_from_the_nvidia_smi_table():
    seen = parse(read("nvidia-smi-3090.txt"))
    assert [(g.name, g.memory_mib) for g in seen.gpus] == [("NVIDIA GeForce RTX 3090", 24576)]
    assert seen.tools == ["nvidia-smi"]


def test_it_reads_mixed_gpus_in_order():
    seen = parse(read("nvidia-smi-5090-3090.txt"))
    assert [g.name for g in seen.gpus] == ["NVIDIA GeForce RTX 5090", "NVIDIA GeForce RTX 3090"]
    assert [g.memory_mib for g in seen.gpus] == [32607, 24576]


def test_it_reads_an_output_cut_off_after_the_last_gpu():
    assert len(parse(read("nvidia-smi-2x3090.txt")).gpus) == 2


def test_it_flags_a_name_nvidia_smi_shortened():
    (gpu,) = parse(read("nvidia-smi-truncated-name.txt")).gpus
    assert gpu.truncated and gpu.memory_mib == 24259


def test_it_reads_nvidia_smi_list_and_csv_forms():
    listing = (
        "GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-5f1c)\n"
        "GPU 1: NVIDIA GeForce RTX 4090 (UUID: GPU-77aa)\n"
    )
    assert [g.name for g in parse(listing).gpus] == ["NVIDIA GeForce RTX 4090"] * 2
    query = "name, memory.total [MiB]\nNVIDIA GeForce RTX 3090, 24576 MiB\n"
    assert [(g.name, g.memory_mib) for g in parse(query).gpus] == [
        ("NVIDIA GeForce RTX 3090", 24576)
    ]


def test_it_takes_the_bracketed_marketing_name_from_rocm_smi_csv():
    seen = parse(read("rocm-smi-productname-mi100.csv"))
    assert [g.name for g in seen.gpus] == ["AMD Instinct MI100"] * 2
    assert not any(g.truncated for g in seen.gpus)


def test_it_flags_rocm_smi_output_with_only_hex_ids():
    (gpu,) = parse(read("rocm-smi-productname-hex.txt")).gpus
    assert gpu.truncated and gpu.name == "0x744c"


def test_it_reads_lscpu_name_sockets_and_cores():
    cpu = parse(read("lscpu-epyc-7r13-2s.txt")).cpu
    assert (cpu.name, cpu.sockets, cpu.cores_per_socket, cpu.max_mhz) == (
        "AMD EPYC 7R13 48-Core Processor",
        2,
        48,
        2650.0,
    )
    ryzen = parse(read("lscpu-ryzen-2700.txt")).cpu
    assert ryzen.cores_per_socket == 8 and "avx2" in ryzen.flags


def test_it_rounds_free_up_to_an_installed_size():
    assert parse(read("free-g-32gb.txt")).ram.total_gb == 32
    assert parse(read("free-m-128gb.txt")).ram.total_gb == 128
    assert installed_gb(62) == 64 and installed_gb(125.8) == 128 and installed_gb(40) == 40


def test_it_counts_populated_dimms_and_channels_from_dmidecode():
    ram = parse(read("dmidecode-threadripper.txt")).ram
    assert (ram.total_gb, ram.dimms, ram.channels, ram.speed_mts, ram.memory_type) == (
        16,
        1,
        1,
        3200,
        "DDR4",
    )
    xeon = parse(read("dmidecode-xeon-partial.txt")).ram
    # Two modules share channel 0; the configured speed (2133) wins over the rated 2400.
    assert (xeon.total_gb, xeon.dimms, xeon.channels, xeon.speed_mts) == (96, 3, 2, 2133)


def test_it_reads_the_chip_and_memory_from_system_profiler():
    mac = parse(read("system-profiler-m2-max.txt")).mac
    assert (mac.chip, mac.memory_gb, mac.model_name) == ("Apple M2 Max", 32, "MacBook Pro")


def test_it_reads_several_tools_pasted_together():
    text = (
        read("nvidia-smi-3090.txt") + "\n" + read("lscpu-ryzen-2700.txt") + read("free-g-32gb.txt")
    )
    seen = parse(text)
    assert seen.tools == ["nvidia-smi", "lscpu", "free"]
    assert len(seen.gpus) == 1 and seen.cpu.sockets == 1 and seen.ram.total_gb == 32


def test_it_finds_nothing_in_unrelated_text():
    assert parse("hello world\nthis is not a tool output").empty


def test_it_reads_the_lines_the_describe_script_prints():
    seen = parse(
        "rigrank-gpu: NVIDIA GeForce RTX 3090 | 24576\n"
        "rigrank-gpu: NVIDIA GeForce RTX 3090 | 24576\n"
        "rigrank-cpu: AMD Ryzen 9 9950X 16-Core Processor | 1 | 16\n"
        "rigrank-ram: 64 | | | |\n"
    )
    assert [g.memory_mib for g in seen.gpus] == [24576, 24576]
    assert (seen.cpu.name, seen.cpu.sockets, seen.cpu.cores_per_socket) == (
        "AMD Ryzen 9 9950X 16-Core Processor",
        1,
        16,
    )
    assert seen.ram.total_gb == 64 and seen.tools == ["describe_rig"]


def test_the_describe_script_runs_with_the_standard_library_and_prints_lines():
    import subprocess
    import sys

    script = Path(__file__).parents[2] / "scripts" / "describe_rig.py"
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(script)], capture_output=True, text=True, timeout=60
    )
    # This machine has lscpu and /proc/meminfo (and no GPU tools): a CPU and RAM line.
    assert done.returncode == 0, done.stderr
    assert parse(done.stdout).cpu is not None
    assert parse(done.stdout).ram.total_gb > 0
