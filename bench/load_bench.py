"""Requests per second under load, through gunicorn as `make run` serves it.

Starts gunicorn (WEB_WORKERS, default 2) on a free port against the configured database,
then, with CONNECTIONS concurrent clients for SECONDS each, measures:

- ``/healthz`` (one database query: the floor of what any page costs);
- the wizard's results page for one query, repeated (served from the results cache);
- the same as an htmx fragment;

and, one request at a time, the p95 of a *first* results page for queries nobody asked
before (searched, not cached). Targets (issue 13): repeated results ≥ 0.5× the
requests/s of /healthz in the same run; first results page p95 ≤ 150 ms on the seed
catalogue. Figures are printed, not asserted.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
FIRST_QUERIES = int(os.environ.get("BENCH_FIRST_QUERIES", "20"))
# BENCH_PORT: serve on this port (default: any free one).
QUERY = {"model": "llama-3-1-70b-instruct", "quant": "Q4_K_M", "min_tps": "10"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, float]:
    """One GET on a new connection (gunicorn's sync workers close after each response);
    returns (status, seconds)."""
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}Connection: close\r\n\r\n"
    started = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request.encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    elapsed = time.perf_counter() - started
    head = b"".join(chunks[:1])[:12]
    status = int(head[9:12]) if head.startswith(b"HTTP/") else 0
    return status, elapsed


def load(port: int, path: str, headers: dict[str, str] | None = None) -> dict[str, float]:
    """CONNECTIONS clients requesting ``path`` for SECONDS; requests/s and latencies."""
    stop = time.perf_counter() + SECONDS
    samples: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def client() -> None:
        mine, bad = [], 0
        while time.perf_counter() < stop:
            try:
                status, elapsed = get(port, path, headers)
            except OSError:
                bad += 1
                continue
            if status == 200:
                mine.append(elapsed)
            else:
                bad += 1
        with lock:
            samples.extend(mine)
            failures[0] += bad

    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(CONNECTIONS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {
        "rps": len(samples) / wall,
        "p50_ms": statistics.median(samples) * 1000 if samples else float("nan"),
        "p95_ms": _p95(samples) * 1000 if samples else float("nan"),
        "failures": failures[0],
    }


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _start_server(port: int) -> subprocess.Popen:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "rigrank.settings", "DEBUG": "0"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return subprocess.Popen(
        [str(gunicorn), "rigrank.wsgi", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", os.environ.get("WEB_WORKERS", "2"), "--timeout", "60"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def main() -> None:
    from catalog.models import Part

    if not Part.objects.exists():
        print("no seed catalogue: run `make setup` first")
        return
    port = int(os.environ.get("BENCH_PORT") or 0) or _free_port()
    server = _start_server(port)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if get(port, "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                print("gunicorn did not start")
                return
            time.sleep(0.3)
        results = f"/?{urlencode(QUERY)}"
        for _ in range(6):  # every worker builds its catalogue snapshot and caches the page
            get(port, results)
            get(port, results, {"HX-Request": "true"})
        health = load(port, "/healthz")
        full = load(port, results)
        fragment = load(port, results, {"HX-Request": "true"})
        firsts = []
        for n in range(FIRST_QUERIES):
            query = {**QUERY, "min_tps": f"{5 + n * 0.37:.2f}", "budget": str(9000 + 250 * n)}
            status, elapsed = get(port, f"/?{urlencode(query)}")
            if status == 200:
                firsts.append(elapsed)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    workers = os.environ.get("WEB_WORKERS", "2")
    print(
        f"gunicorn, {workers} workers, {CONNECTIONS} concurrent connections, "
        f"{SECONDS:g} s each (new connection per request)"
    )
    for name, row in (
        ("/healthz", health),
        ("results page, repeated", full),
        ("results fragment (htmx), repeated", fragment),
    ):
        print(
            f"  {name:<36} {row['rps']:8.1f} req/s  p50 {row['p50_ms']:6.1f} ms  "
            f"p95 {row['p95_ms']:6.1f} ms  failures {row['failures']:.0f}"
        )
    ratio = full["rps"] / health["rps"] if health["rps"] else float("nan")
    print(f"  repeated results / healthz: {ratio:.2f}x (target >= 0.5x)")
    if firsts:
        print(
            f"  first (uncached) results page, {len(firsts)} new queries one at a time: "
            f"p50 {statistics.median(firsts) * 1000:.0f} ms, p95 {_p95(firsts) * 1000:.0f} ms "
            "(target <= 150 ms)"
        )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rigrank.settings")
    import django

    django.setup()
    main()
