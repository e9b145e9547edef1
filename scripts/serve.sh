#!/usr/bin/env bash
# Serve RigRank on $HOST:$PORT. gunicorn unless DEBUG=1 (then Django's runserver).
# With REDIS_URL set, a Celery worker and beat run beside the web server, each under a
# supervisor that restarts it if it dies (back-off from 1 s doubling to
# RESTART_BACKOFF_MAX_S, reset once it has run a minute) while the web server keeps
# serving; all stop together on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV_BIN=.venv/bin
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}
pids=()

# Ask every process to stop, give them STOP_GRACE_S seconds for a warm shutdown, then kill
# what is left (and its children). A task cut short is not lost: tasks are acknowledged
# only when they finish, so the broker hands it to the next worker.
stop_all() {
  trap - INT TERM EXIT
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  local deadline=$((SECONDS + ${STOP_GRACE_S:-10}))
  while ((SECONDS < deadline)); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break
    sleep 0.5
  done
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      echo "serve.sh: process $pid did not stop in time; killing it" >&2
      pkill -KILL -P "$pid" 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
}
trap stop_all INT TERM EXIT

# Run "$@" and start it again whenever it exits, until this supervisor is told to stop
# (TERM or INT, which it passes on, then waits for a warm shutdown).
supervise() {
  local name=$1
  shift
  local child="" stopping=0 delay=1 started status
  trap 'stopping=1; [[ -n "$child" ]] && kill -TERM "$child" 2>/dev/null' TERM INT
  trap - EXIT
  while ((!stopping)); do
    started=$SECONDS
    "$@" &
    child=$!
    status=0
    wait "$child" || status=$?
    while ((stopping)) && kill -0 "$child" 2>/dev/null; do wait "$child" || true; done
    ((stopping)) && break
    ((SECONDS - started >= 60)) && delay=1
    echo "serve.sh: $name exited (status $status); restarting it in ${delay} s" >&2
    sleep "$delay" &
    wait $! || true
    delay=$((delay * 2 > ${RESTART_BACKOFF_MAX_S:-60} ? ${RESTART_BACKOFF_MAX_S:-60} : delay * 2))
  done
}

if [[ -n "${REDIS_URL:-}" ]]; then
  supervise worker "$VENV_BIN/celery" -A rigrank worker --loglevel=INFO \
    --concurrency="${WORKER_CONCURRENCY:-2}" &
  pids+=($!)
  supervise beat "$VENV_BIN/celery" -A rigrank beat --loglevel=INFO \
    --scheduler django_celery_beat.schedulers:DatabaseScheduler &
  pids+=($!)
fi

if [[ "${DEBUG:-0}" =~ ^(1|true|True|yes|on)$ ]]; then
  "$VENV_BIN/python" manage.py runserver "$HOST:$PORT" &
else
  "$VENV_BIN/gunicorn" rigrank.wsgi --bind "$HOST:$PORT" --workers "${WEB_WORKERS:-2}" \
    --access-logfile - --timeout 60 &
fi
pids+=($!)
echo "RigRank is serving on http://$HOST:$PORT/ (Ctrl-C stops it)"
wait -n "${pids[@]}"
