#!/usr/bin/env bash
# Runs one troupe node in the background and talks to it.
#
#   PORT=4001 NODE_NAME=n2 ./scripts/cluster.sh start [troupe start flags...]
#   PORT=4001 NODE_NAME=n2 ./scripts/cluster.sh join n1@127.0.0.1:9100
#   PORT=4001 NODE_NAME=n2 ./scripts/cluster.sh status | leave | stop
#
# The node is named by NODE_NAME (default "troupe"); a bare name gets
# @127.0.0.1 so that nodes on one machine form a loopback cluster. Its pid
# file and log are under ./run/<node name>/. PORT (default 4000) is the HTTP
# port the script polls and the CLI talks to; it must be a fixed port here.
# Unless set: CLUSTERING_ENABLED=true, CLUSTER_DISCOVERY_TYPE=static.
# Deadlines in seconds: START_TIMEOUT (30), STOP_TIMEOUT (20).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT="$ROOT/scripts/$(basename "${BASH_SOURCE[0]}")"
cd "$ROOT"

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SCRIPT" >&2
  exit 2
}

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

NODE_NAME="${NODE_NAME:-troupe}"
case "$NODE_NAME" in
  *@*) ;;
  *) NODE_NAME="$NODE_NAME@127.0.0.1" ;;
esac
export NODE_NAME
export PORT="${PORT:-4000}"
export CLUSTERING_ENABLED="${CLUSTERING_ENABLED:-true}"
export CLUSTER_DISCOVERY_TYPE="${CLUSTER_DISCOVERY_TYPE:-static}"

START_TIMEOUT="${START_TIMEOUT:-30}"
STOP_TIMEOUT="${STOP_TIMEOUT:-20}"
RUN_DIR="$ROOT/run/$NODE_NAME"
PID_FILE="$RUN_DIR/pid"
LOG_FILE="$RUN_DIR/node.log"
URL="http://127.0.0.1:$PORT"
CLI="$ROOT/dist/lib/cli/main.js"

ensure_built() {
  if [ ! -d "$ROOT/dist" ]; then
    echo "cluster.sh: dist/ is missing: building" >&2
    npm run build >&2
  fi
  [ -f "$CLI" ] || die "$CLI is missing: run npm run build"
}

# True if $1 is a live troupe node process (a recycled PID is not).
is_troupe_pid() {
  local args
  args="$(ps -o args= -p "$1" 2>/dev/null)" || return 1
  case "$args" in *cli/main.js\ start*) return 0 ;; *) return 1 ;; esac
}

# Prints the PID of the running node; removes a stale pid file.
running_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  if [ -n "$pid" ] && is_troupe_pid "$pid"; then
    echo "$pid"
    return 0
  fi
  rm -f "$PID_FILE"
  return 1
}

http_ok() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null -m 2 "$1" 2>/dev/null
  else
    node -e 'fetch(process.argv[1], { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "$1"
  fi
}

start() {
  ensure_built
  local pid
  if pid="$(running_pid)"; then
    die "$NODE_NAME is already running (pid $pid, $URL); stop it first"
  fi
  mkdir -p "$RUN_DIR"
  [ -f "$LOG_FILE" ] && mv -f "$LOG_FILE" "$LOG_FILE.1"
  # setsid: the node gets its own session, so a Ctrl-C in this terminal never reaches it.
  local detach=()
  command -v setsid >/dev/null 2>&1 && detach=(setsid)
  nohup "${detach[@]}" node "$CLI" start "$@" >"$LOG_FILE" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PID_FILE"

  # Up = this process printed its "up" line and answers /health/live.
  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -q "^troupe $NODE_NAME up: " "$LOG_FILE" 2>/dev/null && http_ok "$URL/health/live"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PID_FILE"
      echo "cluster.sh: $NODE_NAME exited during start; last lines of $LOG_FILE:" >&2
      tail -n 20 "$LOG_FILE" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cluster.sh: $NODE_NAME not live at $URL/health/live within ${START_TIMEOUT}s (pid $pid still running; see $LOG_FILE)" >&2
      exit 1
    fi
    sleep 0.2
  done
  echo "$NODE_NAME up (pid $pid): $URL"
  echo "log: $LOG_FILE"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    echo "$NODE_NAME is not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cluster.sh: $NODE_NAME did not stop within ${STOP_TIMEOUT}s: SIGKILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  echo "$NODE_NAME stopped"
}

cli() {
  ensure_built
  node "$CLI" "$@" --url "$URL"
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  start) start "$@" ;;
  stop) [ $# -eq 0 ] || usage; stop ;;
  status) [ $# -eq 0 ] || usage; cli status ;;
  leave) [ $# -eq 0 ] || usage; cli leave ;;
  join) [ $# -eq 1 ] || usage; cli join "$1" ;;
  *) usage ;;
esac
