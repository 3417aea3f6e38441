# Helpers shared by the benchmark scripts (sourced, not run): throwaway MariaDB servers on free
# loopback ports under $DIR, processes tracked in $PIDS (the caller's cleanup stops them), and the
# reference workload's primary. The caller sets DIR, PIDS=(), WORKLOAD and SCALE first.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
USER_FLAG=(); [ "$(id -u)" -eq 0 ] && USER_FLAG=(--user=root)
now() { date +%s.%N; }
log() { echo "$(date +%T) $*" >&2; }
sqls() { mariadb --no-defaults -S "$1" -uroot -N -B -e "$2"; } # socket, statement
cpu_secs() { # pid -> user+system CPU seconds so far
  awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat" 2>/dev/null || echo 0
}
# Row changes otter committed (its otter_rows_total metric, at metrics port $1); empty until the
# metrics endpoint is up (curl's failure must not end the script: pipefail).
otter_rows() { curl -s --max-time 2 "http://127.0.0.1:$1/metrics" 2>/dev/null | awk '/^otter_rows_total/ { printf "%d", $2 }' || true; }
forget() { # pid: no longer ours to stop
  local i keep=()
  for i in "${PIDS[@]}"; do [ "$i" != "$1" ] && keep+=("$i"); done
  PIDS=("${keep[@]}")
  return 0
}
stop_pid() { # pid: SIGTERM, wait, forget
  local i
  kill "$1" 2>/dev/null || true
  for i in $(seq 1 600); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  forget "$1"
}

# One empty data directory, copied for every server (mariadb-install-db once).
mariadb-install-db --no-defaults "${USER_FLAG[@]}" --datadir="$DIR/template" \
  --auth-root-authentication-method=normal --skip-test-db >"$DIR/install.log" 2>&1

# Options every server gets (A adds its binlog; replicas their replication settings).
COMMON=(--innodb-buffer-pool-size=2G --innodb-log-file-size=1G --innodb-flush-log-at-trx-commit=2
  --sync-binlog=0 --max-connections=200 --skip-name-resolve --bind-address=127.0.0.1)
# TARGET_OPTS (env): more options for every target B only (e.g. to try a server setting).
read -r -a TARGET_OPTS <<<"${TARGET_OPTS:-}"

start_target() { # name server_id [extra options...] -> sets T_SOCK T_PORT T_PID
  local name=$1 id=$2 port
  shift 2
  port=$(free_port)
  rm -rf "$DIR/$name"
  mkdir -p "$DIR/$name/tmp"
  cp -a "$DIR/template" "$DIR/$name/data"
  mariadbd --no-defaults "${USER_FLAG[@]}" --datadir="$DIR/$name/data" --port="$port" \
    --socket="$DIR/$name/sock" --log-error="$DIR/$name/error.log" --tmpdir="$DIR/$name/tmp" \
    --pid-file="$DIR/$name/pid" --server-id="$id" "${COMMON[@]}" "${TARGET_OPTS[@]}" "$@" &
  T_PID=$!
  PIDS+=("$T_PID")
  T_SOCK="$DIR/$name/sock"
  T_PORT=$port
  for _ in $(seq 1 300); do
    mariadb-admin --no-defaults -S "$T_SOCK" -uroot ping >/dev/null 2>&1 && return 0
    kill -0 "$T_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "target $name did not start; $DIR/$name/error.log:" >&2
  tail -20 "$DIR/$name/error.log" >&2
  exit 1
}
stop_target() { stop_pid "$T_PID"; rm -rf "$DIR/${1:-b}"; }

start_source() { # name -> A_SOCK A_PORT A_PID A_BASE; a fresh primary via the workload script
  A_BASE="$DIR/$1"
  A_PORT=$(free_port)
  A_SOCK="$DIR/$1.sock"
  START_ONLY=1 BASE="$A_BASE" BINLOG_DIR="$A_BASE-binlog" PORT="$A_PORT" SOCK="$A_SOCK" \
    bash "$WORKLOAD" >"$DIR/$1.start.log" 2>&1 || { cat "$DIR/$1.start.log" >&2; exit 1; }
  A_PID=$(cat "$A_BASE/pid")
  PIDS+=("$A_PID")
}
run_workload() { # runs the reference workload against A
  WORKLOAD_ONLY=1 SCALE="$SCALE" BASE="$A_BASE" SOCK="$A_SOCK" bash "$WORKLOAD" >>"$DIR/workload.log" 2>&1
}

# Latency under a load that lasts as long as it lasts: runs "$@" (a sysbench command, without
# --time and `run`) in 5 s windows with its latency histogram until the file $1 exists, and
# appends to the file $2 the histograms of the windows that ended before it existed (a window
# that overlaps the end of the load is left out, unless it is the only one).
hist_until() {
  local stop=$1 hist=$2 one kept=0
  shift 2
  one=$(mktemp "$DIR/hist.XXXXXX")
  while :; do
    "$@" --time=5 --histogram=on --percentile=99 run 2>/dev/null |
      awk '$2 ~ /^[|]/ && $1 ~ /^[0-9.]+$/ { print $1, $NF }' >"$one"
    if [ -e "$stop" ]; then
      [ "$kept" = 1 ] || cat "$one" >>"$hist"
      break
    fi
    cat "$one" >>"$hist"
    kept=1
  done
  rm -f "$one"
}
# The p99 in ms over every transaction of the histograms in the file $1 (merged: a p99 over
# thousands of samples, not one short window's few dozen slowest).
p99_of() {
  python3 - "$1" <<'PY'
import sys
buckets = {}
for line in open(sys.argv[1]):
    v, n = line.split()
    buckets[float(v)] = buckets.get(float(v), 0) + int(n)
total, seen = sum(buckets.values()), 0
for v in sorted(buckets):
    seen += buckets[v]
    if seen >= 0.99 * total:
        print(f"{v:.3f}")
        break
PY
}
# hist_until, then the p99 of what it gathered.
p99_until() {
  local stop=$1 hist
  shift
  hist=$(mktemp "$DIR/hist.XXXXXX")
  hist_until "$stop" "$hist" "$@"
  p99_of "$hist"
  rm -f "$hist"
}
# Appends to the file $2 the histograms of $1 seconds of 5 s windows of "${@:3}".
hist_for() {
  local secs=$1 hist=$2 stop
  shift 2
  stop=$(mktemp -u "$DIR/stop.XXXXXX")
  (sleep "$((secs + 1))"; touch "$stop") &
  hist_until "$stop" "$hist" "$@"
  wait $!
  rm -f "$stop"
}
p99_for() { # seconds, sysbench command... -> p99 ms over that many seconds of 5 s windows
  local secs=$1 hist
  shift
  hist=$(mktemp "$DIR/hist.XXXXXX")
  hist_for "$secs" "$hist" "$@"
  p99_of "$hist"
  rm -f "$hist"
}
