#!/usr/bin/env bash
# Runs one troupe node in the background and talks to it.
#
#   PORT=4000 NODE_NAME=hex_hub1 ./scripts/cluster.sh start [troupe start flags...]
#   PORT=4001 NODE_NAME=hex_hub2 ./scripts/cluster.sh start
#   PORT=4001 ./scripts/cluster.sh join hex_hub1@127.0.0.1
#   ./scripts/cluster.sh join hex_hub1@127.0.0.1     (every node started here joins)
#   PORT=4001 ./scripts/cluster.sh status | leave | stop
#
# The node is named by NODE_NAME (default "troupe"); a bare name gets
# @127.0.0.1 so that nodes on one machine form a loopback cluster. Its pid
# file, HTTP port and log are under ./run/<node name>/. PORT (default 4000) is
# the HTTP port the script polls and the CLI talks to; it must be a fixed port
# here. The inter-node port is the first free one of 9100-9155 unless
# CLUSTER_PORT is set, and `name@host` finds it. status, leave and stop act
# on the node at PORT, or on NODE_NAME's node when only NODE_NAME is given.
# join acts likewise; with neither PORT nor NODE_NAME it acts on every node
# this script runs here (but the one joined), so the same command typed in
# each node's terminal does what it says.
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

# What the user set, before defaults fill in: it decides which node a command targets.
GIVEN_PORT="${PORT-}"
GIVEN_NODE_NAME="${NODE_NAME-}"

# A bare name gets @127.0.0.1.
qualify() {
  case "$1" in
    *@*) echo "$1" ;;
    *) echo "$1@127.0.0.1" ;;
  esac
}

NODE_NAME="$(qualify "${NODE_NAME:-troupe}")"
export NODE_NAME
RECORDED_PORT_FILE="$ROOT/run/$NODE_NAME/http_port"
if [ -z "$GIVEN_PORT" ] && [ -n "$GIVEN_NODE_NAME" ] && [ "${1:-}" != start ] && [ -f "$RECORDED_PORT_FILE" ]; then
  PORT="$(cat "$RECORDED_PORT_FILE")"
fi
export PORT="${PORT:-4000}"
# stop with only PORT given: the node started here with that HTTP port.
if [ -z "$GIVEN_NODE_NAME" ] && [ -n "$GIVEN_PORT" ] && [ "${1:-}" != start ]; then
  for port_file in "$ROOT"/run/*/http_port; do
    [ -f "$port_file" ] && [ "$(cat "$port_file")" = "$PORT" ] && NODE_NAME="$(basename "$(dirname "$port_file")")" && break
  done
fi
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
  echo "$PORT" >"$RUN_DIR/http_port"

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
  echo "$NODE_NAME up (pid $pid): $URL cluster $(sed -n "s/^troupe $NODE_NAME up: .*cluster=//p" "$LOG_FILE" | head -n 1)"
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

# Every node this script runs here, as "name port" lines.
local_nodes() {
  local dir pid
  for dir in "$ROOT"/run/*/; do
    [ -f "$dir/pid" ] && [ -f "$dir/http_port" ] || continue
    pid="$(cat "$dir/pid")"
    [ -n "$pid" ] && is_troupe_pid "$pid" || continue
    echo "$(basename "$dir") $(cat "$dir/http_port")"
  done
}

# join TARGET: the node at PORT (or NODE_NAME's) joins; with neither set, every local node but TARGET does.
join() {
  local target="$1"
  if [ -n "$GIVEN_PORT" ] || [ -n "$GIVEN_NODE_NAME" ]; then
    cli join "$target"
    return
  fi
  ensure_built
  local nodes name port failed=0 joined=0
  nodes="$(local_nodes)"
  [ -n "$nodes" ] || die "no node started by this script is running here; start one, or set PORT to the HTTP port of the node that should join"
  while read -r name port; do
    [ "$name" = "$(qualify "$target")" ] && continue
    case "$(qualify "$target")" in "$name":*) continue ;; esac
    echo "$name:"
    if node "$CLI" join "$target" --url "http://127.0.0.1:$port"; then joined=$((joined + 1)); else failed=1; fi
  done <<<"$nodes"
  [ "$joined" -gt 0 ] || [ "$failed" -ne 0 ] || die "$target is the only node started by this script here: start another node, then join it to $target"
  return "$failed"
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  start) start "$@" ;;
  stop) [ $# -eq 0 ] || usage; stop ;;
  status) [ $# -eq 0 ] || usage; cli status ;;
  leave) [ $# -eq 0 ] || usage; cli leave ;;
  join) [ $# -eq 1 ] || usage; join "$1" ;;
  *) usage ;;
esac
