#!/usr/bin/env bash
# Stream triggers in-process and on `eddy worker` processes over NATS JetStream (issue
# 19), in one run, with the release build:
#   1. drain: DRAIN_RECORDS items are written into an 8-shard table first; then a trigger
#      from TRIM_HORIZON (BatchSize 100) runs the stamp guest in mode=count (one small
#      write per batch, so the end of the drain can be seen: close to a no-op) and
#      `eddy-load --trigger-drain` prints records/s, from the first batch handled to the
#      last, and the CPU the server, the workers and nats-server spent per record;
#      in-process, then with 1, 2 and 3 workers;
#   2. latency: LAG_RECORDS items at LAG_RATE/s, each timed from just before its PutItem
#      until the stamp guest's handler holds it (`eddy-load --trigger-lag`): in-process,
#      then through one worker.
# On a 2-core machine the workers share the cores with the server and nats-server, so
# records/s does not scale with workers here; CPU per record is the figure to compare.
#
#   tests/load/workers.sh                              # builds the release binaries
#   DRAIN_RECORDS=20000 LAG_RECORDS=1000 tests/load/workers.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
DRAIN_RECORDS=${DRAIN_RECORDS:-100000}
LAG_RECORDS=${LAG_RECORDS:-3000}
LAG_RATE=${LAG_RATE:-1000}
WORKER_COUNTS=${WORKER_COUNTS:-"1 2 3"}
# Longest wait for a process to listen, in tenths of a second.
STARTUP_WAIT_DS=300
if [[ -z "${EDDY:-}" || -z "${EDDY_LOAD:-}" ]]; then
    cargo build --release -p eddy -p eddy-load
fi
EDDY=${EDDY:-$ROOT/target/release/eddy}
EDDY_LOAD=${EDDY_LOAD:-$ROOT/target/release/eddy-load}
NATS=${EDDY_TEST_NATS_SERVER:-$ROOT/target/nats-venv/bin/nats-server}
AWS=${AWS:-$ROOT/target/test-venv/bin/aws}
GUEST=${GUEST:-$ROOT/functions/target/wasm32-wasip2/release/stamp.wasm}
[[ -x "$NATS" ]] || { echo "workers.sh: no nats-server at $NATS (tests/run.sh installs it)" >&2; exit 1; }
[[ -x "$AWS" ]] || AWS=$(command -v aws)
if [[ ! -f "$GUEST" ]]; then
    cargo build --release --target wasm32-wasip2 --manifest-path functions/Cargo.toml \
        --target-dir functions/target -p stamp
fi
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1

scratch=$(mktemp -d)
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
}
trap 'stop_all; rm -rf "$scratch"' EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() {
    for _ in $(seq "$STARTUP_WAIT_DS"); do
        (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "workers.sh: nothing listens on $1" >&2
    exit 1
}

# setup MODE: a fresh nats-server (workers only) and server; sets $ep, $nats_url, $server.
runs=0
setup() {
    runs=$((runs + 1))
    local mode=$1 dir="$scratch/$runs-$1" flags=()
    mkdir -p "$dir"
    if [[ $mode != in-process ]]; then
        local np
        np=$(free_port)
        "$NATS" -js -a 127.0.0.1 -p "$np" -sd "$dir/js" >"$dir/nats.log" 2>&1 &
        nats_pid=$!
        pids+=("$nats_pid")
        wait_port "$np"
        nats_url="nats://127.0.0.1:$np"
        flags=(--nats "$nats_url" --trigger-workers)
    fi
    local port
    port=$(free_port)
    "$EDDY" serve --listen "127.0.0.1:$port" --data-dir "$dir/eddy" --table-shards 8 \
        "${flags[@]}" >"$dir/server.log" 2>&1 &
    server=$!
    pids+=("$server")
    wait_port "$port"
    ep="http://127.0.0.1:$port"
    for t in lag-source lag-seen; do
        local key=pk stream=()
        [[ $t == lag-seen ]] && key=id
        [[ $t == lag-source ]] && stream=(--stream-specification StreamEnabled=true,StreamViewType=NEW_IMAGE)
        "$AWS" --endpoint-url "$ep" dynamodb create-table --table-name "$t" \
            --attribute-definitions "AttributeName=$key,AttributeType=S" \
            --key-schema "AttributeName=$key,KeyType=HASH" --billing-mode PAY_PER_REQUEST \
            "${stream[@]}" >/dev/null
    done
}

# workers K: starts K workers against the current server.
workers() {
    worker_pids=()
    for _ in $(seq "$1"); do
        "$EDDY" worker --nats "$nats_url" --endpoint "$ep" >>"$scratch/workers.log" 2>&1 &
        worker_pids+=("$!")
        pids+=("$!")
    done
}

trigger() { # trigger FUNCTION START
    "$EDDY" trigger create --endpoint "$ep" --function "$1" --table lag-source \
        --batch-size 100 --starting-position "$2" >/dev/null
}

drain() { # drain MODE [WORKERS]
    local mode=$1 k=${2:-0} label
    setup "$mode"
    "$EDDY" function deploy drain "$GUEST" --endpoint "$ep" --table lag-seen \
        --env table=lag-seen --env mode=count >/dev/null
    "$EDDY_LOAD" --endpoint "$ep" --lag-table lag-source --trigger-drain-load "$DRAIN_RECORDS" >&2
    trigger drain TRIM_HORIZON
    local cpu=("$server")
    if [[ $k -gt 0 ]]; then
        workers "$k"
        cpu+=("$nats_pid" "${worker_pids[@]}")
        label="$k worker(s)"
    else
        label="in-process"
    fi
    echo "drain, $label:"
    "$EDDY_LOAD" --endpoint "$ep" --lag-seen-table lag-seen --trigger-drain "$DRAIN_RECORDS" \
        --cpu-pids "$(IFS=,; echo "${cpu[*]}")"
    stop_all
}

lag() { # lag MODE [WORKERS]
    local mode=$1 k=${2:-0}
    setup "$mode"
    "$EDDY" function deploy lag "$GUEST" --endpoint "$ep" --table lag-seen \
        --env table=lag-seen >/dev/null
    trigger lag LATEST
    if [[ $k -gt 0 ]]; then
        workers "$k"
        # The worker has compiled the function and holds every lane once a probe write
        # comes through.
        "$EDDY_LOAD" --endpoint "$ep" --trigger-lag 10 --lag-rate 10 >/dev/null
        echo "latency, $k worker(s) through JetStream:"
    else
        "$EDDY_LOAD" --endpoint "$ep" --trigger-lag 10 --lag-rate 10 >/dev/null
        echo "latency, in-process:"
    fi
    "$EDDY_LOAD" --endpoint "$ep" --trigger-lag "$LAG_RECORDS" --lag-rate "$LAG_RATE"
    stop_all
}

drain in-process
for k in $WORKER_COUNTS; do
    drain "workers-$k" "$k"
done
lag in-process
lag workers-1 1
