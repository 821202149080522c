#!/usr/bin/env bash
# The cost as the data grows (issue 20), in one run, with the release build and the
# server's default settings (fsync'd writes, on a fresh data directory, never
# --in-memory):
#   1. plain table: `eddy-load --workloads growth` measures GetItem and Query on the
#      small preload (20,000 g-items, 1,000 x 10 q-items), writes ITEMS unique ~200-byte
#      items with PutItem on CONNECTIONS connections (one row per STEP items: req/s,
#      p50/p99/max, the server's CPU per write), waits for the server to go idle, and
#      measures GetItem (over every item) and Query on the full table;
#   2. the data directory's size (du);
#   3. restarts on that directory: SIGTERM, then the time from spawning the server
#      until `GET /` answers and until GetItem finds a grown item; then KILL_PUT_S
#      seconds of puts, SIGKILL, and the same times (the journal to replay);
#   4. the same growth on a table with a GSI (projection GSI_PROJECTION, ALL by
#      default) and a NEW_AND_OLD_IMAGES stream, in a fresh directory, and the write
#      cost against the plain table as the server's CPU per write (including the
#      compactions after the writes, until the server was idle) and as write time;
#   5. a summary of every figure the issue asks for, PASS/MISS against its goals.
# The 10 M default takes about a quarter of an hour of the whole machine and writes
# a few GB under SCRATCH_PARENT (default $TMPDIR or /tmp); run it on a quiet machine.
#
#   tests/load/growth.sh                                # builds the release binaries
#   ITEMS=300000 STEP=100000 tests/load/growth.sh      # a short run of the script
set -euo pipefail

cd "$(dirname "$0")/../.."
ITEMS=${ITEMS:-10000000}
# Items for the table with a GSI and a stream (it takes several times the disk).
GSI_ITEMS=${GSI_ITEMS:-$ITEMS}
STEP=${STEP:-1000000}
CONNECTIONS=${CONNECTIONS:-64}
DURATION_S=${DURATION_S:-10}
WARMUP_S=${WARMUP_S:-2}
KILL_PUT_S=${KILL_PUT_S:-3}
GSI_PROJECTION=${GSI_PROJECTION:-all}
SCRATCH_PARENT=${SCRATCH_PARENT:-${TMPDIR:-/tmp}}
# Longest wait for a fresh server to print its endpoint, in tenths of a second.
STARTUP_WAIT_DS=300
# The issue's goal for the first request after a restart, in milliseconds.
RESTART_GOAL_MS=1000
# The issue's goals for the growth (eddy-load prints its own verdicts too).
STEP_RATIO_GOAL=0.8
P99_GOAL_MS=15
READ_RATIO_GOAL=0.9
WRITE_COST_GOAL=1.5
if [[ -z "${EDDY:-}" || -z "${EDDY_LOAD:-}" ]]; then
    cargo build --release -p eddy -p eddy-load
fi
EDDY=${EDDY:-target/release/eddy}
EDDY_LOAD=${EDDY_LOAD:-target/release/eddy-load}
TABLE=growth

scratch=$(mktemp -d -p "$SCRATCH_PARENT" eddy-growth.XXXXXX)
server=""
probe=""
stop() { # stop [SIGNAL]: stops the server this script started, and waits for it.
    if [[ -n "$server" ]]; then
        kill "-${1:-TERM}" "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=""
    fi
}
trap 'if [[ -n "$probe" ]]; then kill "$probe" 2>/dev/null || true; fi; stop; rm -rf "$scratch"' EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
now_us() { date +%s%6N; }

# start DIR PORT: spawns the server on DIR and PORT, in the background; sets $server
# and $spawned_us (just before the spawn).
start() {
    local dir=$1 port=$2
    spawned_us=$(now_us)
    "$EDDY" serve --listen "127.0.0.1:$port" --data-dir "$dir" >>"$dir.log" 2>&1 &
    server=$!
}

# fresh NAME: a server on a fresh data directory $scratch/NAME; sets $dir, $port, $ep.
fresh() {
    dir="$scratch/$1"
    port=$(free_port)
    ep="http://127.0.0.1:$port"
    : >"$dir.log"
    start "$dir" "$port"
    for _ in $(seq "$STARTUP_WAIT_DS"); do
        grep -q '^Eddy is listening on' "$dir.log" && return 0
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    cat "$dir.log" >&2
    echo "growth.sh: the server ($1) did not start" >&2
    exit 1
}

# growth KIND: the growth workload on a fresh server; its report goes to stdout and
# $scratch/KIND.txt.
growth() {
    local kind=$1 items=$2
    fresh "$kind"
    echo "== growth, $kind table: $items items in steps of $STEP, $CONNECTIONS connections =="
    "$EDDY_LOAD" --endpoint "$ep" --workloads growth --table "$TABLE" \
        --growth-items "$items" --growth-step "$STEP" --growth-table-kind "$kind" \
        --growth-gsi-projection "$GSI_PROJECTION" --connections "$CONNECTIONS" \
        --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" --cpu-pids "$server" |
        tee "$scratch/$kind.txt"
    du -sb "$dir" | cut -f1 >"$scratch/$kind.du"
    echo "data directory after the $kind growth: $(du -sh "$dir" | cut -f1) ($(cat "$scratch/$kind.du") bytes)"
    echo
}

# restart LABEL: starts the server again on $dir and $port and times its first
# answers (eddy-load --restart-probe polls from before the spawn); the report goes to
# $scratch/restart-LABEL.txt.
restart() {
    local label=$1
    start "$dir" "$port"
    "$EDDY_LOAD" --endpoint "$ep" --restart-probe --table "$TABLE" \
        --spawned-at-us "$spawned_us" >"$scratch/restart-$label.txt" &
    probe=$!
    # The probe waits up to 300 s; a server that exits (a refused directory or port)
    # ends the wait at once.
    while kill -0 "$probe" 2>/dev/null; do
        if ! kill -0 "$server" 2>/dev/null; then
            kill "$probe" 2>/dev/null || true
            tail -20 "$dir.log" >&2
            echo "growth.sh: the server exited while restarting ($label)" >&2
            exit 1
        fi
        sleep 0.05
    done
    wait "$probe"
    probe=""
    echo "after $label: $(grep '^restart:' "$scratch/restart-$label.txt")"
}

# field FILE KEY: KEY's value in FILE's last `*-result` line.
field() {
    awk -v k="$2" '/^(growth|restart)-result / { for (i = 2; i <= NF; i++) {
        split($i, a, "="); if (a[1] == k) v = a[2] } } END { print v }' "$1"
}
# verdict A OP B: PASS when A OP B holds (OP: >= or <=), else MISS.
verdict() {
    awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
        ok = (op == ">=") ? (a + 0 >= b + 0) : (a + 0 <= b + 0); print (ok ? "PASS" : "MISS") }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b + 0 > 0) ? a / b : 0 }'; }

# 1-3: the plain table, its size, and the restarts.
growth plain "$ITEMS"
echo "== restart on the plain table's data directory ($(du -sh "$dir" | cut -f1)) =="
t0=$(now_us)
stop TERM
shutdown_ms=$((($(now_us) - t0) / 1000))
echo "SIGTERM: the server stopped in $shutdown_ms ms"
restart sigterm
"$EDDY_LOAD" --endpoint "$ep" --workloads put --no-setup --table "$TABLE" \
    --connections "$CONNECTIONS" --duration-s "$KILL_PUT_S" --warmup-s 0 >/dev/null
stop KILL
echo "SIGKILL after $KILL_PUT_S s of puts"
restart sigkill
stop TERM
rm -rf "$dir"
echo

# 4: the table with a GSI and a stream.
growth gsi-stream "$GSI_ITEMS"
stop TERM
rm -rf "$dir"

# 5: the summary.
echo
echo "== summary: $ITEMS items of ~200 B, steps of $STEP, $CONNECTIONS connections, default server settings =="
for kind in plain gsi-stream; do
    f="$scratch/$kind.txt"
    echo "$kind table:"
    printf '  %-44s %s / %s req/s = %s (goal >= %s): %s\n' "write throughput, last / first step:" \
        "$(field "$f" last_rps)" "$(field "$f" first_rps)" "$(field "$f" step_ratio)" "$STEP_RATIO_GOAL" \
        "$(verdict "$(field "$f" step_ratio)" '>=' "$STEP_RATIO_GOAL")"
    printf '  %-44s %s ms at step %s (goal <= %s ms): %s\n' "worst step p99:" \
        "$(field "$f" worst_p99_ms)" "$(field "$f" worst_step)" "$P99_GOAL_MS" \
        "$(verdict "$(field "$f" worst_p99_ms)" '<=' "$P99_GOAL_MS")"
    printf '  %-44s %s / %s req/s = %s (goal >= %s): %s\n' "GetItem, full table / 20 k:" \
        "$(field "$f" get_rps)" "$(field "$f" get0_rps)" "$(field "$f" get_ratio)" "$READ_RATIO_GOAL" \
        "$(verdict "$(field "$f" get_ratio)" '>=' "$READ_RATIO_GOAL")"
    printf '  %-44s %s / %s req/s = %s (goal >= %s): %s\n' "Query, full table / 20 k:" \
        "$(field "$f" query_rps)" "$(field "$f" query0_rps)" "$(field "$f" query_ratio)" "$READ_RATIO_GOAL" \
        "$(verdict "$(field "$f" query_ratio)" '>=' "$READ_RATIO_GOAL")"
    printf '  %-44s %s s; server CPU %s us/write, %s us with the %s s until idle\n' "writes:" \
        "$(field "$f" write_s)" "$(field "$f" cpu_us_per_write)" "$(field "$f" cpu_us_per_write_settled)" \
        "$(field "$f" settle_s)"
    printf '  %-44s %s bytes\n' "data directory after the growth:" "$(cat "$scratch/$kind.du")"
done
echo "restart on the plain table's data directory ($(cat "$scratch/plain.du") bytes):"
for label in sigterm sigkill; do
    f="$scratch/restart-$label.txt"
    printf '  %-44s GET / %s ms, GetItem %s ms (goal <= %s ms): %s\n' "spawn to first answer, after $label:" \
        "$(field "$f" root_ms)" "$(field "$f" get_item_ms)" "$RESTART_GOAL_MS" \
        "$(verdict "$(field "$f" get_item_ms)" '<=' "$RESTART_GOAL_MS")"
done
printf '  %-44s %s ms\n' "SIGTERM to exit:" "$shutdown_ms"
cpu_ratio=$(ratio "$(field "$scratch/gsi-stream.txt" cpu_us_per_write_settled)" \
    "$(field "$scratch/plain.txt" cpu_us_per_write_settled)")
# Per item, in case GSI_ITEMS differs from ITEMS.
time_ratio=$(awk -v a="$(field "$scratch/gsi-stream.txt" write_s)" -v n="$GSI_ITEMS" \
    -v b="$(field "$scratch/plain.txt" write_s)" -v m="$ITEMS" \
    'BEGIN { printf "%.3f", (b + 0 > 0) ? (a / n) / (b / m) : 0 }')
echo "write cost, gsi-stream / plain (GSI projection $GSI_PROJECTION):"
printf '  %-44s %s (goal <= %s): %s\n' "server CPU per write (until idle):" "$cpu_ratio" \
    "$WRITE_COST_GOAL" "$(verdict "$cpu_ratio" '<=' "$WRITE_COST_GOAL")"
printf '  %-44s %s (goal <= %s): %s\n' "time per item written:" "$time_ratio" \
    "$WRITE_COST_GOAL" "$(verdict "$time_ratio" '<=' "$WRITE_COST_GOAL")"
