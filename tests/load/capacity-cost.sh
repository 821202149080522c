#!/usr/bin/env bash
# The cost of capacity accounting and admission on unthrottled PutItem and GetItem
# throughput, in one run (the goal of issue 17: at most 5%). The same server binary is
# started afresh on a scratch store (--in-memory) for each configuration, and
# eddy-load's `put` and `get` workloads run against each:
#   1. an on-demand (PAY_PER_REQUEST) table: units computed and charged, no buckets;
#   2. a PROVISIONED table with capacity far above what the machine can drive
#      (CAPACITY_UNITS read and write units, 1,000,000 by default: DynamoDB's default
#      table quota of 40,000 is below what an in-memory store takes here, and a
#      throttled request would measure nothing): units computed and charged, and
#      every request admitted through
#      the token buckets, never refused;
#   3. only if the server has a switch to turn accounting off (`eddy serve
#      --capacity-accounting off`, looked for in `eddy serve --help`): the on-demand
#      table with accounting off, the baseline the overhead is measured against;
#   4. only if EDDY_BASELINE names a server binary built without capacity accounting
#      (e.g. from the commit before it): the on-demand table on that binary, a baseline
#      across builds when the server has no switch.
# Every request must succeed (a throttled one fails the run: the point is the cost on
# requests that are not throttled). It prints the req/s of each and the ratios, then the
# server's CPU time per request of each (Linux: read from /proc) and their ratios.
#
#   tests/load/capacity-cost.sh                  # builds release binaries, 10 s per run
#   ROUNDS=1 DURATION_S=3 WARMUP_S=1 CONNECTIONS=8 GETS=1000 \
#     EDDY=target/debug/eddy EDDY_LOAD=target/debug/eddy-load tests/load/capacity-cost.sh
#                                                # a smoke run of the script itself
set -euo pipefail

cd "$(dirname "$0")/../.."
# The listening address; port 0 lets the system choose a free one each time.
LISTEN=${LISTEN:-127.0.0.1:0}
DURATION_S=${DURATION_S:-10}
WARMUP_S=${WARMUP_S:-2}
CONNECTIONS=${CONNECTIONS:-64}
GETS=${GETS:-20000}
CAPACITY_UNITS=${CAPACITY_UNITS:-1000000}
ROUNDS=${ROUNDS:-3}
# Longest wait for a server to print its endpoint, in tenths of a second.
STARTUP_WAIT_DS=300
if [[ -z "${EDDY:-}" || -z "${EDDY_LOAD:-}" ]]; then
    cargo build --release -p eddy -p eddy-load
fi
EDDY=${EDDY:-target/release/eddy}
EDDY_LOAD=${EDDY_LOAD:-target/release/eddy-load}
EDDY_BASELINE=${EDDY_BASELINE:-}

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

# start NAME BINARY [FLAGS]: starts a server and waits until it listens.
start() {
    local name=$1 binary=$2
    shift 2
    # Made before the server starts, so that the first look for its endpoint finds it
    # (the background command's redirection may not have run yet).
    : >"$scratch/server-$name.log"
    "$binary" serve --listen "$LISTEN" --in-memory "$@" >"$scratch/server-$name.log" 2>&1 &
    server=$!
    for _ in $(seq "$STARTUP_WAIT_DS"); do
        endpoint=$(sed -n 's/^Eddy is listening on //p' "$scratch/server-$name.log")
        [[ -n "$endpoint" ]] && return 0
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    cat "$scratch/server-$name.log" >&2
    echo "capacity-cost: the server ($name) did not start" >&2
    exit 1
}

# cpu_ticks: the server's user and system CPU time so far, in clock ticks (Linux).
cpu_ticks() {
    awk '{ print $14 + $15 }' "/proc/$server/stat"
}

# load NAME [FLAGS]: runs the put workload (after the set-up) and then the get workload
# (on the same data), and prints "PUT GET PUT_CPU GET_CPU": the req/s (the rows' third
# column) and the server's CPU time per request in microseconds, warm-up included (the
# CPU the server spent during each workload over the requests it answered). CPU per
# request is the steadier figure on a shared machine: throughput moves with whatever
# else runs, the work a request costs does not. Each report goes to $scratch/NAME-*.txt.
load() {
    local name=$1
    shift
    local figures="" cpus="" tick_us
    tick_us=$((1000000 / $(getconf CLK_TCK)))
    for workload in put get; do
        local before after row
        # The set-up (table, preload) runs before the first workload and outside its
        # CPU time: one second of puts on one connection, not measured.
        if [[ $workload == put ]]; then
            "$EDDY_LOAD" --endpoint "$endpoint" --workloads put --duration-s 1 --warmup-s 0 \
                --connections 1 --gets "$GETS" --parts 1 "$@" >/dev/null
        fi
        before=$(cpu_ticks)
        "$EDDY_LOAD" --endpoint "$endpoint" --workloads "$workload" --no-setup \
            --connections "$CONNECTIONS" --duration-s "$DURATION_S" --warmup-s "$WARMUP_S" \
            --gets "$GETS" --parts 1 "$@" >"$scratch/$name-$workload.txt"
        after=$(cpu_ticks)
        row=$(grep "^| $workload |" "$scratch/$name-$workload.txt") || {
            cat "$scratch/$name-$workload.txt" >&2
            exit 1
        }
        # A run with errors (a throttled request among them) measures nothing.
        figures+=$(awk -F'|' -v name="$name $workload" '{ gsub(/ /, ""); if ($9 != 0 || $10 != 0) {
            print "capacity-cost: " name ": " $9 " non-2xx and " $10 " bad bodies" > "/dev/stderr"; exit 1 }
            print $4 }' <<<"$row")" "
        cpus+=$(awk -F'|' -v t=$((after - before)) -v us="$tick_us" -v d="$DURATION_S" -v w="$WARMUP_S" '{
            gsub(/ /, ""); printf "%.2f", t * us / ($4 * (d + w)) }' <<<"$row")" "
    done
    echo "$figures$cpus"
}

# The configurations run in turn, ROUNDS times, and each one's median counts: the
# machine is shared (builds, other benchmarks), and alternating spreads any slow
# stretch over all of them instead of one.
has_switch=""
if "$EDDY" serve --help | grep -q -- '--capacity-accounting'; then
    has_switch=yes
fi
declare -A puts gets put_cpus get_cpus
# measure CONFIG BINARY LOAD_FLAGS [-- SERVER_FLAGS]: one round of one configuration.
measure() {
    local config=$1 binary=$2 load_flags=$3
    shift 3
    start "$config" "$binary" "$@"
    local put get put_cpu get_cpu
    # The flags are words without spaces, split on purpose.
    # shellcheck disable=SC2086
    read -r put get put_cpu get_cpu <<<"$(load "$config" --table "cc-$config" $load_flags)"
    stop
    puts[$config]+="$put "
    gets[$config]+="$get "
    put_cpus[$config]+="$put_cpu "
    get_cpus[$config]+="$get_cpu "
}
configs=(on-demand provisioned)
if [[ -n "$has_switch" ]]; then
    configs+=(off)
fi
if [[ -n "$EDDY_BASELINE" ]]; then
    configs+=(baseline)
fi
for round in $(seq "$ROUNDS"); do
    echo "capacity-cost: round $round of $ROUNDS" >&2
    # Each round starts with the next configuration, so that none always runs first
    # (the first run of a round measured costlier here, whichever it was).
    for at in $(seq 0 $((${#configs[@]} - 1))); do
        case ${configs[$(((at + round - 1) % ${#configs[@]}))]} in
        on-demand) measure on-demand "$EDDY" "" ;;
        provisioned) measure provisioned "$EDDY" "--wcu $CAPACITY_UNITS --rcu $CAPACITY_UNITS" ;;
        off) measure off "$EDDY" "" --capacity-accounting off ;;
        baseline) measure baseline "$EDDY_BASELINE" "" ;;
        esac
    done
done
# median FIGURES: the middle of the figures (the lower middle of an even count).
median() {
    tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
ondemand_put=$(median "${puts[on-demand]}") ondemand_get=$(median "${gets[on-demand]}")
prov_put=$(median "${puts[provisioned]}") prov_get=$(median "${gets[provisioned]}")
off_put="" off_get="" base_put="" base_get=""
if [[ -n "$has_switch" ]]; then
    off_put=$(median "${puts[off]}") off_get=$(median "${gets[off]}")
fi
if [[ -n "$EDDY_BASELINE" ]]; then
    base_put=$(median "${puts[baseline]}") base_get=$(median "${gets[baseline]}")
fi

echo "PutItem and GetItem req/s, $CONNECTIONS connections, ${DURATION_S}s measured per run, median of $ROUNDS rounds:"
printf '  %-50s %10s %10s\n' "" put get \
    "on-demand table" "$ondemand_put" "$ondemand_get" \
    "provisioned table ($CAPACITY_UNITS RCU and WCU)" "$prov_put" "$prov_get"
if [[ -n "$off_put" ]]; then
    printf '  %-50s %10s %10s\n' "on-demand table, --capacity-accounting off" "$off_put" "$off_get"
fi
if [[ -n "$base_put" ]]; then
    printf '  %-50s %10s %10s\n' "on-demand table, $EDDY_BASELINE" "$base_put" "$base_get"
fi
# paired A_FIGURES B_FIGURES: the median over the rounds of A's figure over B's in the
# same round. The machine drifts from one round to the next (a run can be 30% slower
# than the one before it, whatever it measures); a pair measured a minute apart
# drifts far less, so the median of the pairs is the steadier ratio.
paired() {
    paste <(tr ' ' '\n' <<<"$1" | grep .) <(tr ' ' '\n' <<<"$2" | grep .) |
        awk '{ print $1 / $2 }' | sort -g |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
# ratio LABEL A B FIGURES_PUT FIGURES_GET: prints A over B, for put and get, paired by
# round; FIGURES_* name the arrays (puts, gets, put_cpus, get_cpus).
ratio() {
    local -n put_figures=$4 get_figures=$5
    awk -v l="$1" -v p="$(paired "${put_figures[$2]}" "${put_figures[$3]}")" \
        -v g="$(paired "${get_figures[$2]}" "${get_figures[$3]}")" 'BEGIN {
        printf "  %-50s put %.3f (%+.1f%%)  get %.3f (%+.1f%%)\n", l, p, (p - 1) * 100, g, (g - 1) * 100
    }'
}
echo "Ratios of req/s, the median over the rounds of each round's ratio:"
ratio "admission (provisioned / on-demand):" provisioned on-demand puts gets
if [[ -n "$off_put" ]]; then
    ratio "accounting (on-demand, on / off):" on-demand off puts gets
    ratio "accounting + admission (provisioned / off):" provisioned off puts gets
fi
if [[ -n "$base_put" ]]; then
    ratio "accounting (on-demand, this / baseline build):" on-demand baseline puts gets
    ratio "accounting + admission (provisioned / baseline):" provisioned baseline puts gets
fi
# The server's CPU time per request, the steadier measure of what accounting costs.
echo "Server CPU per request (microseconds, warm-up included), median of $ROUNDS rounds:"
printf '  %-50s %10s %10s\n' "" put get \
    "on-demand table" "$(median "${put_cpus[on-demand]}")" "$(median "${get_cpus[on-demand]}")" \
    "provisioned table ($CAPACITY_UNITS RCU and WCU)" "$(median "${put_cpus[provisioned]}")" "$(median "${get_cpus[provisioned]}")"
if [[ -n "$has_switch" ]]; then
    printf '  %-50s %10s %10s\n' "on-demand table, --capacity-accounting off" "$(median "${put_cpus[off]}")" "$(median "${get_cpus[off]}")"
    echo "Ratios of CPU per request, the median over the rounds of each round's ratio:"
    ratio "CPU per request (on-demand, on / off):" on-demand off put_cpus get_cpus
    ratio "CPU per request (provisioned / off):" provisioned off put_cpus get_cpus
fi
if [[ -n "$EDDY_BASELINE" ]]; then
    printf '  %-50s %10s %10s\n' "on-demand table, $EDDY_BASELINE" "$(median "${put_cpus[baseline]}")" "$(median "${get_cpus[baseline]}")"
    echo "Ratios of CPU per request, the median over the rounds of each round's ratio:"
    ratio "CPU per request (on-demand, this / baseline):" on-demand baseline put_cpus get_cpus
    ratio "CPU per request (provisioned / baseline):" provisioned baseline put_cpus get_cpus
fi
if [[ -z "$off_put" && -z "$base_put" ]]; then
    echo "  (no baseline without accounting: the server has no --capacity-accounting switch and"
    echo "   EDDY_BASELINE is unset; set it to a build without capacity accounting to compare)"
fi
