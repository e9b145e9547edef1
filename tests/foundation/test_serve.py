"""What `make run` starts with REDIS_URL set: gunicorn, a Celery worker and beat, which
work together and all stop on Ctrl-C."""

import json
import os
import signal
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest

from ops.models import TaskProbe
from tests.foundation.test_fresh_clone import free_port
from tests.services import ROOT, broker_client, current_database_url, wait_for


def health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return json.loads(response.read())
    except OSError:
        return None


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def start_serve(
    redis_url: str, log_name: str, **extra_env: str
) -> tuple[subprocess.Popen, int, Path]:
    """scripts/serve.sh as `make run` starts it with REDIS_URL, in its own process group,
    logging to test-artifacts/``log_name``; the process, its port and the log."""
    port = free_port()
    env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "REDIS_URL": redis_url,
        "DATABASE_URL": current_database_url(),
        "SECRET_KEY": "serve-test-secret-key-not-for-production-0123456789",
        "DEBUG": "0",
        "WEB_WORKERS": "1",
        "WORKER_CONCURRENCY": "1",
        **extra_env,
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log_path = ROOT / "test-artifacts" / log_name
    log_path.parent.mkdir(exist_ok=True)
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(ROOT / "scripts" / "serve.sh")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return server, port, log_path


@pytest.mark.django_db(transaction=True)
def test_serve_runs_web_worker_and_beat_and_ctrl_c_stops_all_three(redis_url):
    server, port, log_path = start_serve(redis_url, "serve.log")
    try:
        wait_for(lambda: health(port) is not None, 60, "gunicorn to answer /healthz")
        assert health(port)["broker"]["status"] == "ok"

        token = uuid.uuid4().hex
        broker_client(redis_url).send_task("ops.probe", args=[token], queue="celery")
        done = TaskProbe.objects.filter(token=token, completed_at__isnull=False).exists
        wait_for(done, 60, "the worker started by serve.sh to run a task")
        assert "beat: Starting" in log_path.read_text(errors="replace")
    except AssertionError as failure:
        log = log_path.read_text(errors="replace")[-4000:]
        raise AssertionError(f"{failure}\n--- serve.sh log ---\n{log}") from None
    finally:
        os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground group
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            left = subprocess.run(
                ["ps", "-ww", "-o", "pid,stat,cmd", "-g", str(server.pid)],
                capture_output=True,
                text=True,
            ).stdout
            os.killpg(server.pid, signal.SIGKILL)
            message = f"serve.sh did not stop on Ctrl-C; still running:\n{left}"
            raise AssertionError(message) from None
    wait_for(lambda: not group_alive(server.pid), 30, "every process to stop after Ctrl-C")
    assert health(port) is None


def processes_in_group(pgid: int) -> list[tuple[int, int, str]]:
    # -ww: never cut the command line to $COLUMNS (CI sets it; a deep checkout path then
    # pushed "rigrank worker" off the end and the worker could not be found)
    out = subprocess.run(
        ["ps", "-ww", "-o", "pid=,ppid=,args=", "-g", str(pgid)], capture_output=True, text=True
    ).stdout
    rows = []
    for line in out.splitlines():
        pid, ppid, args = line.strip().split(None, 2)
        rows.append((int(pid), int(ppid), args))
    return rows


def main_process(pgid: int, needle: str) -> int | None:
    """The pid of the process running ``needle`` whose parent is not one too (the
    Celery master, not its pool children)."""
    rows = processes_in_group(pgid)
    matching = {pid: ppid for pid, ppid, args in rows if needle in args and "bash" not in args}
    mains = [pid for pid, ppid in matching.items() if ppid not in matching]
    return mains[0] if len(mains) == 1 else None


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_or_beat_is_restarted_while_gunicorn_keeps_serving(redis_url):
    server, port, log_path = start_serve(
        redis_url, "serve-supervise.log", RESTART_BACKOFF_MAX_S="2"
    )
    try:
        wait_for(lambda: health(port) is not None, 60, "gunicorn to answer /healthz")
        wait_for(lambda: main_process(server.pid, "rigrank worker"), 60, "the worker")
        wait_for(lambda: main_process(server.pid, "rigrank beat"), 60, "beat")
        worker = main_process(server.pid, "rigrank worker")
        beat = main_process(server.pid, "rigrank beat")

        os.kill(worker, signal.SIGKILL)  # a hard crash: no warm shutdown
        os.kill(beat, signal.SIGKILL)
        # gunicorn serves on (a moment's grace: beat may be holding SQLite's write lock)
        wait_for(lambda: health(port) is not None, 15, "gunicorn to keep answering")

        def restarted(name: str, old: int) -> bool:
            return (main_process(server.pid, name) or old) != old

        wait_for(lambda: restarted("rigrank worker", worker), 30, "a new worker")
        wait_for(lambda: restarted("rigrank beat", beat), 30, "a new beat")
        assert server.poll() is None

        token = uuid.uuid4().hex
        broker_client(redis_url).send_task("ops.probe", args=[token], queue="celery")
        done = TaskProbe.objects.filter(token=token, completed_at__isnull=False).exists
        wait_for(done, 90, "the restarted worker to run a task")
        text = log_path.read_text(errors="replace")
        assert "serve.sh: worker exited (status 137); restarting it" in text
        assert "serve.sh: beat exited (status 137); restarting it" in text
        assert health(port)["status"] == "ok"
    except AssertionError as failure:
        log = log_path.read_text(errors="replace")[-4000:]
        raise AssertionError(f"{failure}\n--- serve.sh log ---\n{log}") from None
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise AssertionError("serve.sh did not stop on Ctrl-C") from None
    wait_for(lambda: not group_alive(server.pid), 30, "every process to stop after Ctrl-C")
