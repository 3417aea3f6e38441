#!/usr/bin/env bash
# Copied unchanged (but for this note) from the project's reference workload, shared/bench/gen-binlog.sh
# (see shared/bench/README.md), so that a clean clone can regenerate the benchmark binlog;
# keep the two in sync. Used by scripts/bench-parse.
# Regenerates the benchmark binlog: a throwaway MariaDB 10.11 primary (ROW format,
# FULL row image, CRC32 checksums, no annotate events) and a fixed workload mix.
# The file to benchmark is $BINLOG_DIR/binlog.000001 (closed by FLUSH BINARY LOGS).
#
#   bash gen-binlog.sh                 # -> /tmp/perf-binlogs/binlog.000001, server stopped
#   KEEP_RUNNING=1 bash gen-binlog.sh  # leave the primary up (pid in $BASE/pid)
#   WORKLOAD_ONLY=1 bash gen-binlog.sh # run only the workload against an already running
#                                      # server at $SOCK (used by replicate.sh for live lag)
#   START_ONLY=1 bash gen-binlog.sh    # only start a fresh primary and leave it running
# Env: BINLOG_DIR BASE PORT SOCK SCALE (multiplies every row/transaction count).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BINLOG_DIR=${BINLOG_DIR:-/tmp/perf-binlogs}
BASE=${BASE:-/tmp/perf-mdb1}
PORT=${PORT:-23306}
SOCK=${SOCK:-/tmp/perf-mdb1.sock}
SCALE=${SCALE:-1}
KEEP_RUNNING=${KEEP_RUNNING:-0}
WORKLOAD_ONLY=${WORKLOAD_ONLY:-0}
START_ONLY=${START_ONLY:-0}

SB_TABLES=4
SB_ROWS=$((75000 * SCALE))        # per sbtest table (sysbench prepare, multi-row INSERTs)
SB_WO_EVENTS=$((50000 * SCALE))   # oltp_write_only txns (2 UPDATE + DELETE + INSERT each)
SB_INS_EVENTS=$((50000 * SCALE))  # oltp_insert txns (1 single-row INSERT each)
WIDE_ROWS=$((100000 * SCALE))     # perf.wide initial fill, 1000-row INSERT..SELECT batches
WIDE_EVENTS=$((30000 * SCALE))    # wide_oltp.lua txns (INSERT + 2 UPDATE + DELETE each)
NARROW_BATCHES=$((1200 * SCALE))  # perf.narrow: 1000-row INSERT..SELECT statements
NARROW_UPD_BATCHES=$((400 * SCALE))  # 1000-row UPDATE statements (after an ALTER TABLE)
NARROW_DEL_BATCHES=$((100 * SCALE))  # 1000-row DELETE statements

SQL() { mariadb --no-defaults -S "$SOCK" -uroot "$@"; }
SB() { sysbench --db-driver=mysql --mysql-socket="$SOCK" --mysql-user=root --rand-seed=42 "$@"; }
phase() { echo "$(date +%T) $*" | tee -a "$BASE/phases.log"; }

start_primary() {
  if [ -S "$SOCK" ] && mariadb-admin --no-defaults -S "$SOCK" -uroot ping >/dev/null 2>&1; then
    echo "a server already answers on $SOCK; stop it first" >&2; exit 1
  fi
  rm -rf "$BASE" "$BINLOG_DIR"
  mkdir -p "$BASE" "$BINLOG_DIR"
  mariadb-install-db --no-defaults --user=root --datadir="$BASE/data" \
    --auth-root-authentication-method=normal --skip-test-db >"$BASE/install.log" 2>&1
  mariadbd --no-defaults --user=root --datadir="$BASE/data" --port="$PORT" \
    --bind-address=127.0.0.1 --socket="$SOCK" --pid-file="$BASE/mariadbd.pid" \
    --log-error="$BASE/error.log" --skip-name-resolve \
    --log-bin="$BINLOG_DIR/binlog" --binlog-format=ROW --server-id=1 \
    --binlog-row-image=FULL --binlog-annotate-row-events=OFF --max-binlog-size=1G \
    --innodb-buffer-pool-size=2G --innodb-log-file-size=1G \
    --innodb-flush-log-at-trx-commit=2 --sync-binlog=0 --max-connections=200 &
  echo $! >"$BASE/pid"
  for _ in $(seq 1 60); do
    mariadb-admin --no-defaults -S "$SOCK" -uroot ping >/dev/null 2>&1 && break
    sleep 1
  done
  # Replication/TCP account; kept out of the binlog so it holds only the workload.
  SQL -e "SET sql_log_bin=0; CREATE USER bench@'127.0.0.1' IDENTIFIED BY 'bench';
          GRANT ALL ON *.* TO bench@'127.0.0.1';"
}

workload() {
  phase "schema"
  SQL <<'EOF'
CREATE DATABASE sbtest;
CREATE DATABASE perf;
CREATE TABLE perf.wide (
  id      INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  u64     BIGINT UNSIGNED NOT NULL,
  amount  DECIMAL(12,2) NOT NULL,
  ratio   DOUBLE,
  name    VARCHAR(64) NOT NULL,
  note    TEXT,
  created DATETIME(6) NOT NULL,
  day     DATE,
  updated TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
  attrs   JSON,
  status  ENUM('new','paid','shipped','cancelled') NOT NULL,
  payload BLOB,
  KEY (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE perf.narrow (
  id      BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  user_id INT NOT NULL,
  qty     SMALLINT NOT NULL,
  price   DECIMAL(10,2) NOT NULL,
  state   TINYINT NOT NULL,
  ts      DATETIME NOT NULL,
  KEY (user_id)
) ENGINE=InnoDB;
EOF

  phase "sysbench prepare: $SB_TABLES x $SB_ROWS rows"
  SB oltp_write_only --mysql-db=sbtest --tables=$SB_TABLES --table-size=$SB_ROWS \
    --threads=$SB_TABLES prepare >"$BASE/sb-prepare.log"

  phase "perf.wide fill: $WIDE_ROWS rows"
  {
    echo "USE perf;"
    for ((i = 0; i < WIDE_ROWS / 1000; i++)); do
      echo "INSERT INTO wide (id,u64,amount,ratio,name,note,created,day,attrs,status,payload)
SELECT seq, CRC32(seq)*4294967296 + CRC32(seq+1), (CRC32(seq*3) % 10000000000)/100,
  CRC32(seq*5)/1000.0, CONCAT('user-', LPAD(seq,8,'0'), '-', SUBSTR(MD5(seq),1,6)),
  IF(seq % 10 = 0, NULL, REPEAT(MD5(seq), 1 + seq % 8)),
  TIMESTAMP'2023-01-01 00:00:00' + INTERVAL seq*37 SECOND + INTERVAL seq % 1000000 MICROSECOND,
  DATE'2020-01-01' + INTERVAL seq % 3650 DAY,
  JSON_OBJECT('sku', SUBSTR(MD5(seq*11),1,9), 'qty', seq % 20,
              'tags', JSON_ARRAY(SUBSTR(MD5(seq),1,5), 'x'), 'price', (seq % 10000)/100),
  ELT(1 + seq % 4, 'new','paid','shipped','cancelled'),
  IF(seq % 5 = 0, NULL, UNHEX(REPEAT(MD5(seq), 1 + seq % 4)))
FROM seq_$((i * 1000 + 1))_to_$(((i + 1) * 1000));"
    done
  } | SQL

  phase "sysbench oltp_write_only: $SB_WO_EVENTS txns"
  SB oltp_write_only --mysql-db=sbtest --tables=$SB_TABLES --table-size=$SB_ROWS \
    --threads=4 --events=$SB_WO_EVENTS --time=0 run >"$BASE/sb-write-only.log"

  phase "wide_oltp.lua: $WIDE_EVENTS txns"
  SB "$HERE/wide_oltp.lua" --wide_rows=$WIDE_ROWS --threads=4 --events=$WIDE_EVENTS \
    --time=0 run >"$BASE/sb-wide.log"

  phase "perf.narrow fill: $NARROW_BATCHES x 1000 rows"
  {
    echo "USE perf;"
    for ((i = 0; i < NARROW_BATCHES; i++)); do
      echo "INSERT INTO narrow (user_id,qty,price,state,ts) SELECT CRC32(seq) % 100000,
  1 + seq % 20, (CRC32(seq*7) % 100000)/100, seq % 4,
  TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND FROM seq_$((i * 1000 + 1))_to_$(((i + 1) * 1000));"
    done
  } | SQL

  phase "sysbench oltp_insert: $SB_INS_EVENTS txns"
  SB oltp_insert --mysql-db=sbtest --tables=$SB_TABLES --table-size=$SB_ROWS \
    --threads=4 --events=$SB_INS_EVENTS --time=0 run >"$BASE/sb-insert.log"

  phase "perf.narrow ALTER + $NARROW_UPD_BATCHES x 1000-row UPDATE + $NARROW_DEL_BATCHES x 1000-row DELETE"
  {
    echo "USE perf;"
    echo "ALTER TABLE narrow ADD COLUMN tag VARCHAR(16) NULL;"
    for ((i = 0; i < NARROW_UPD_BATCHES; i++)); do
      echo "UPDATE narrow SET state = state + 1, tag = 'b$i' WHERE id BETWEEN $((i * 1000 + 1)) AND $(((i + 1) * 1000));"
    done
    for ((i = 0; i < NARROW_DEL_BATCHES; i++)); do
      lo=$(((NARROW_BATCHES - NARROW_DEL_BATCHES + i) * 1000 + 1))
      echo "DELETE FROM narrow WHERE id BETWEEN $lo AND $((lo + 999));"
    done
  } | SQL
  phase "workload done"
}

if [ "$WORKLOAD_ONLY" = 1 ]; then
  mkdir -p "$BASE"
  workload
  exit 0
fi

start_primary
phase "primary up, pid $(cat "$BASE/pid")"
[ "$START_ONLY" = 1 ] && exit 0
workload
SQL -e "FLUSH BINARY LOGS; SHOW BINARY LOGS;" | tee -a "$BASE/phases.log"
ls -l "$BINLOG_DIR" | tee -a "$BASE/phases.log"
if [ "$KEEP_RUNNING" != 1 ]; then
  kill "$(cat "$BASE/pid")"
  while kill -0 "$(cat "$BASE/pid")" 2>/dev/null; do sleep 1; done
  phase "primary stopped"
fi
