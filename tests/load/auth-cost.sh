#!/usr/bin/env bash
# The cost of SigV4 verification on GetItem throughput, in one run: the same server binary
# is started three times on a scratch store (--in-memory) and eddy-load's `get` workload
# runs against each:
#   1. --auth off,   requests unsigned (a fixed dummy signature): the baseline;
#   2. --auth off,   requests signed per request as an SDK signs them (the load generator
#                    shares the machine, so its own signing work is measured apart);
#   3. --auth sigv4, requests signed with the root key (EDDY_ROOT_* / AWS_*): an
#                    administrator's, which no policy is evaluated for;
#   4. --auth sigv4, requests signed with the key of a user whose policy allows them
#                    (AmazonDynamoDBFullAccess, made with `eddy key create` and
#                    `eddy user policy put`): verification and policy evaluation.
# It prints the four req/s figures and the ratios: 3/2 is what verifying costs the
# server, 4/2 verifying and evaluating a policy, 3/1 signing and verifying together on
# this machine.
#
#   tests/load/auth-cost.sh                      # builds release binaries, 10 s per run
#   DURATION_S=3 WARMUP_S=1 CONNECTIONS=8 GETS=1000 \
#     EDDY=target/debug/eddy EDDY_LOAD=target/debug/eddy-load tests/load/auth-cost.sh
#                                                # a smoke run of the script itself
set -euo pipefail

cd "$(dirname "$0")/../.."
# The listening address; port 0 lets the system choose a free one each time.
LISTEN=${LISTEN:-127.0.0.1:0}
DURATION_S=${DURATION_S:-10}
WARMUP_S=${WARMUP_S:-2}
CONNECTIONS=${CONNECTIONS:-64}
GETS=${GETS:-20000}
# Longest wait for a server to print its endpoint, in tenths of a second.
STARTUP_WAIT_DS=300
if [[ -z "${EDDY:-}" || -z "${EDDY_LOAD:-}" ]]; then
    cargo build --release -p eddy -p eddy-load
fi
EDDY=${EDDY:-target/release/eddy}
EDDY_LOAD=${EDDY_LOAD:-target/release/eddy-load}

ROOT_ID=EDDYAUTHCOSTROOT0000
ROOT_SECRET=$(head -c 30 /dev/urandom | base64)
scratch=$(mktemp -d)
server=""
endpoint=""
stop() {
    if [[ -n "$server" ]]; then
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
        server=""
    fi
}
trap 'stop; rm -rf "$scratch"' EXIT

# start MODE: starts the server with --auth MODE and waits until it listens.
start() {
    EDDY_ROOT_ACCESS_KEY_ID=$ROOT_ID EDDY_ROOT_SECRET_ACCESS_KEY=$ROOT_SECRET \
        "$EDDY" serve --listen "$LISTEN" --in-memory --auth "$1" \
        >"$scratch/server-$1.log" 2>&1 &
    server=$!
    for _ in $(seq "$STARTUP_WAIT_DS"); do
        endpoint=$(sed -n 's/^Eddy is listening on //p' "$scratch/server-$1.log")
        [[ -n "$endpoint" ]] && return 0
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    cat "$scratch/server-$1.log" >&2
    echo "auth-cost: the server (--auth $1) did not start" >&2
    exit 1
}

# load NAME [FLAGS]: runs the get workload and prints its req/s (the table row's third
# column); the whole report goes to $scratch/NAME.txt.
load() {
    local name=$1
    shift
    AWS_ACCESS_KEY_ID=${LOAD_KEY_ID:-$ROOT_ID} AWS_SECRET_ACCESS_KEY=${LOAD_SECRET:-$ROOT_SECRET} \
        "$EDDY_LOAD" --endpoint "$endpoint" --workloads get \
        --connections "$CONNECTIONS" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" \
        --gets "$GETS" --parts 1 "$@" >"$scratch/$name.txt"
    local row
    row=$(grep '^| get |' "$scratch/$name.txt") || {
        cat "$scratch/$name.txt" >&2
        exit 1
    }
    # A run with errors measures nothing: every request must have succeeded.
    awk -F'|' -v name="$name" '{ gsub(/ /, ""); if ($9 != 0 || $10 != 0) {
        print "auth-cost: " name ": " $9 " non-2xx and " $10 " bad bodies" > "/dev/stderr"; exit 1 }
        print $4 }' <<<"$row"
}

start off
unsigned=$(load off-unsigned)
signed_off=$(load off-signed --sign --no-setup)
stop
start sigv4
signed=$(load sigv4-signed --sign)
# A user allowed every DynamoDB action, made as a user would, signing the same workload
# on the table the root run set up.
user=$(AWS_ACCESS_KEY_ID=$ROOT_ID AWS_SECRET_ACCESS_KEY=$ROOT_SECRET \
    "$EDDY" key create --user bench --endpoint "$endpoint")
AWS_ACCESS_KEY_ID=$ROOT_ID AWS_SECRET_ACCESS_KEY=$ROOT_SECRET \
    "$EDDY" user policy put bench full --managed AmazonDynamoDBFullAccess \
    --endpoint "$endpoint" >/dev/null
user_id=$(sed -n 's/.*"AccessKeyId": *"\([^"]*\)".*/\1/p' <<<"$user")
user_secret=$(sed -n 's/.*"SecretAccessKey": *"\([^"]*\)".*/\1/p' <<<"$user")
policy=$(LOAD_KEY_ID=$user_id LOAD_SECRET=$user_secret load sigv4-policy --sign --no-setup)
stop

echo "GetItem req/s, $CONNECTIONS connections, ${DURATION_S}s measured per run:"
printf '  %-36s %10s\n' "--auth off, unsigned requests" "$unsigned" \
    "--auth off, signed requests" "$signed_off" \
    "--auth sigv4, signed requests" "$signed" \
    "--auth sigv4, a user's policy evaluated" "$policy"
awk -v u="$unsigned" -v o="$signed_off" -v s="$signed" -v p="$policy" 'BEGIN {
    printf "  verification (sigv4 / off, both signed):     %.3f (%+.1f%%)\n", s / o, (s / o - 1) * 100
    printf "  verification + policy (user / off signed):   %.3f (%+.1f%%)\n", p / o, (p / o - 1) * 100
    printf "  signing + verification (sigv4 / unsigned):   %.3f (%+.1f%%)\n", s / u, (s / u - 1) * 100
}'
