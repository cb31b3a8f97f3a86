#!/usr/bin/env bash
# Runs an N-node troupe cluster on loopback, in the foreground.
#
#   ./scripts/local-cluster.sh [N]    start n1..nN (default 3) and wait; Ctrl-C stops them all
#   ./scripts/local-cluster.sh stop   stop a cluster started by this script elsewhere
#
# Node i is ni@127.0.0.1 with HTTP port 4000+i and cluster port 9100+i, seeded
# with every other node, data under ./run/local/ni/. Fast timers unless set:
# HEARTBEAT_INTERVAL=1000, HEARTBEAT_TIMEOUT=4000. Also defaulted:
# CLUSTERING_ENABLED=true, CLUSTER_DISCOVERY_TYPE=static, HTTP_BIND and
# CLUSTER_BIND=127.0.0.1. Deadlines in seconds: CONVERGE_TIMEOUT (60),
# STOP_TIMEOUT (20). A second Ctrl-C while stopping kills the nodes at once.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SCRIPT="$ROOT/scripts/$(basename "${BASH_SOURCE[0]}")"
cd "$ROOT"

LOCAL_DIR="$ROOT/run/local"
SUPERVISOR_PID_FILE="$LOCAL_DIR/supervisor.pid"
CLI="$ROOT/dist/lib/cli/main.js"
HTTP_BASE=4000
CLUSTER_BASE=9100
CONVERGE_TIMEOUT="${CONVERGE_TIMEOUT:-60}"
STOP_TIMEOUT="${STOP_TIMEOUT:-20}"

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$SCRIPT" >&2
  exit 2
}

die() {
  echo "local-cluster.sh: $*" >&2
  exit 1
}

is_alive() {
  kill -0 "$1" 2>/dev/null
}

# True if $1 is a live troupe node process (a recycled PID is not).
is_troupe_pid() {
  local args
  args="$(ps -o args= -p "$1" 2>/dev/null)" || return 1
  case "$args" in *cli/main.js\ start*) return 0 ;; *) return 1 ;; esac
}

# SIGTERM to every PID given, wait for all with a deadline, then SIGKILL the rest.
# A signal received meanwhile (second Ctrl-C) cuts the wait short.
terminate() {
  local pid force=0
  trap 'force=1' INT TERM
  for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
  local deadline=$((SECONDS + STOP_TIMEOUT))
  for pid in "$@"; do
    while is_alive "$pid"; do
      if [ "$force" -eq 1 ] || [ "$SECONDS" -ge "$deadline" ]; then
        echo "local-cluster.sh: pid $pid did not stop in time: SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.2
    done
  done
  trap - INT TERM
}

node_pids_from_files() {
  local file pid
  for file in "$LOCAL_DIR"/n*/pid; do
    [ -f "$file" ] || continue
    pid="$(cat "$file")"
    if [ -n "$pid" ] && is_troupe_pid "$pid"; then echo "$pid"; fi
  done
}

stop_running() {
  if [ -f "$SUPERVISOR_PID_FILE" ]; then
    local supervisor
    supervisor="$(cat "$SUPERVISOR_PID_FILE")"
    if [ -n "$supervisor" ] && is_alive "$supervisor"; then
      echo "stopping the local cluster (supervisor pid $supervisor)"
      kill -TERM "$supervisor" 2>/dev/null || true
      local deadline=$((SECONDS + STOP_TIMEOUT + 5))
      while is_alive "$supervisor" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
    fi
  fi
  local pids
  mapfile -t pids < <(node_pids_from_files)
  if [ "${#pids[@]}" -gt 0 ]; then
    echo "stopping ${#pids[@]} node(s): ${pids[*]}"
    terminate "${pids[@]}"
  fi
  rm -f "$LOCAL_DIR"/n*/pid "$SUPERVISOR_PID_FILE"
  echo "local cluster stopped"
}

if [ "${1:-}" = "stop" ]; then
  [ $# -eq 1 ] || usage
  stop_running
  exit 0
fi

N="${1:-3}"
[ $# -le 1 ] || usage
[[ "$N" =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 50 ] || die "N must be a number from 1 to 50, got '$N'"

if [ ! -d "$ROOT/dist" ]; then
  echo "local-cluster.sh: dist/ is missing: building" >&2
  npm run build >&2
fi
[ -f "$CLI" ] || die "$CLI is missing: run npm run build"

if [ -f "$SUPERVISOR_PID_FILE" ] && is_alive "$(cat "$SUPERVISOR_PID_FILE")"; then
  die "a local cluster is already running (pid $(cat "$SUPERVISOR_PID_FILE")); run $0 stop first"
fi
if [ -n "$(node_pids_from_files)" ]; then
  die "nodes of an earlier local cluster still run; run $0 stop first"
fi

export CLUSTERING_ENABLED="${CLUSTERING_ENABLED:-true}"
export CLUSTER_DISCOVERY_TYPE="${CLUSTER_DISCOVERY_TYPE:-static}"
export HEARTBEAT_INTERVAL="${HEARTBEAT_INTERVAL:-1000}"
export HEARTBEAT_TIMEOUT="${HEARTBEAT_TIMEOUT:-4000}"
export HTTP_BIND="${HTTP_BIND:-127.0.0.1}"
export CLUSTER_BIND="${CLUSTER_BIND:-127.0.0.1}"

mkdir -p "$LOCAL_DIR"
echo $$ >"$SUPERVISOR_PID_FILE"

PIDS=()
URLS=()
stop_all() {
  trap - INT TERM
  echo
  echo "stopping ${#PIDS[@]} node(s)..."
  [ "${#PIDS[@]}" -eq 0 ] || terminate "${PIDS[@]}"
  wait 2>/dev/null || true
  rm -f "$LOCAL_DIR"/n*/pid "$SUPERVISOR_PID_FILE"
  echo "local cluster stopped"
}
trap 'stop_all; exit 130' INT
trap 'stop_all; exit 143' TERM

detach=()
command -v setsid >/dev/null 2>&1 && detach=(setsid)

for i in $(seq 1 "$N"); do
  seeds=()
  for j in $(seq 1 "$N"); do
    [ "$j" -eq "$i" ] || seeds+=("n$j@127.0.0.1:$((CLUSTER_BASE + j))")
  done
  dir="$LOCAL_DIR/n$i"
  mkdir -p "$dir"
  # setsid: a Ctrl-C reaches only this script, which then stops each node exactly once.
  NODE_NAME="n$i@127.0.0.1" PORT=$((HTTP_BASE + i)) CLUSTER_PORT=$((CLUSTER_BASE + i)) \
    CLUSTER_NODES="$(IFS=,; echo "${seeds[*]}")" DATA_DIR="$dir/data" \
    "${detach[@]}" node "$CLI" start >"$dir/node.log" 2>&1 </dev/null &
  PIDS+=($!)
  echo "$!" >"$dir/pid"
  URLS+=("http://127.0.0.1:$((HTTP_BASE + i))")
done

# Converged = every node answers and sees N members up.
converged() {
  node -e '
    const [n, ...urls] = process.argv.slice(1);
    Promise.all(urls.map((url) => fetch(`${url}/api/cluster/status`, { signal: AbortSignal.timeout(2000) }).then((r) => r.json())))
      .then((all) => process.exit(all.every((s) => s.members.filter((m) => m.state === "up").length === Number(n)) ? 0 : 1), () => process.exit(1));
  ' "$N" "${URLS[@]}"
}

echo "starting $N node(s); waiting until each sees $N members up (deadline ${CONVERGE_TIMEOUT}s)..."
deadline=$((SECONDS + CONVERGE_TIMEOUT))
until converged; do
  for i in $(seq 1 "$N"); do
    if ! is_alive "${PIDS[$((i - 1))]}"; then
      echo "local-cluster.sh: n$i exited during start; last lines of $LOCAL_DIR/n$i/node.log:" >&2
      tail -n 20 "$LOCAL_DIR/n$i/node.log" >&2
      stop_all
      exit 1
    fi
  done
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "local-cluster.sh: the cluster did not converge within ${CONVERGE_TIMEOUT}s; logs in $LOCAL_DIR/n*/node.log" >&2
    stop_all
    exit 1
  fi
  sleep 0.5
done

node "$CLI" status --url "${URLS[0]}"

# Show the replicated tables at work: a table (created once), a write through the first node, a read through the last.
FACTOR=$((N < 3 ? N : 3))
if node "$CLI" tables list --url "${URLS[0]}" --json 2>/dev/null | grep -q '"name": "demo"' \
  || node "$CLI" tables create demo --partitions 4 --replication-factor "$FACTOR" --url "${URLS[0]}"; then
  node "$CLI" put demo greeting "\"hello from n1 at $(date +%T)\"" --url "${URLS[0]}" \
    && echo "read through n$N:" && node "$CLI" get demo greeting --url "${URLS[$((N - 1))]}" \
    || echo "local-cluster.sh: the demo table write or read failed (see the logs); the cluster keeps running" >&2
fi

cat <<TRY

$N nodes up. Try:
  curl -s ${URLS[0]}/api/cluster/status
  curl -s ${URLS[0]}/health/ready
  curl -s ${URLS[0]}/metrics | grep '^troupe_members'
  curl -s -X POST ${URLS[$((N - 1))]}/api/cluster/leave
  PORT=$((HTTP_BASE + 1)) node dist/lib/cli/main.js status
  kill -9 \$(cat run/local/n$N/pid)    # then watch the others mark n$N suspect, then down
  PORT=$((HTTP_BASE + 2)) node dist/lib/cli/main.js watch demo      # changes as they commit
  curl -s -X PUT ${URLS[0]}/api/tables/demo/keys/k -H 'content-type: application/json' -d '{"n":1}'
  curl -s ${URLS[$((N - 1))]}/api/tables/demo/keys/k   # docs/TABLES.md walks through failover
Logs: $LOCAL_DIR/n*/node.log. Stop: Ctrl-C here, or $0 stop
TRY

# Wait for the nodes; one that exits (killed to try failure detection) leaves the others running.
while true; do
  alive=0
  for pid in "${PIDS[@]}"; do is_alive "$pid" && alive=$((alive + 1)); done
  [ "$alive" -gt 0 ] || break
  wait -n 2>/dev/null || true
done
rm -f "$LOCAL_DIR"/n*/pid "$SUPERVISOR_PID_FILE"
echo "all nodes exited"
