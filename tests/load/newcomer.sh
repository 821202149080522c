#!/usr/bin/env bash
# The newcomer's path, timed (issue 18): from `eddy function new NAME --lang L` to the
# first record the new function handled, through one command, `eddy dev`, which creates
# the template's table NAME-items and its trigger, builds and deploys the function, and
# prints its log lines. A write (`aws dynamodb put-item`) follows as soon as `eddy dev`
# says it is watching; the clock stops when dev prints the function's INSERT line.
#
#   tests/load/newcomer.sh [rust|python|js ...]     # default: all three; release binary
#
# Needs the release binary (`cargo build --release`), the `aws` CLI (the test venv's, from
# tests/run.sh, is used when present) and, for Python and JavaScript, their toolchains:
# `eddy dev` installs them on first use into EDDY_TOOLCHAIN_DIR (default
# ~/.cache/eddy/toolchains), which the first run then includes in its time. Rust needs the
# wasm32-wasip2 target; each run builds a new project, so its SDK's dependencies compile.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
EDDY="${EDDY:-$ROOT/target/release/eddy}"
AWS="${AWS:-$ROOT/target/test-venv/bin/aws}"
[ -x "$AWS" ] || AWS="$(command -v aws)"
[ -x "$EDDY" ] || { echo "error: no $EDDY: cargo build --release" >&2; exit 1; }
# How long one step may take before the run is called failed, in seconds.
STEP_TIMEOUT_S="${STEP_TIMEOUT_S:-600}"

now() { date +%s.%N; }
# Waits until file $1 has a line matching $2, or fails after STEP_TIMEOUT_S.
wait_line() {
    local deadline=$(( $(date +%s) + STEP_TIMEOUT_S ))
    until grep -q -- "$2" "$1"; do
        [ "$(date +%s)" -lt "$deadline" ] || { echo "error: no '$2' in $1:" >&2; cat "$1" >&2; return 1; }
        sleep 0.05
    done
}

one() {
    local lang="$1" dir port server dev started watching handled
    dir="$(mktemp -d "${TMPDIR:-/tmp}/eddy-newcomer.XXXXXX")"
    # The files exist before the background processes open them, for wait_line.
    touch "$dir/server.out" "$dir/dev.out" "$dir/dev.err"
    "$EDDY" serve --listen 127.0.0.1:0 --in-memory > "$dir/server.out" 2> "$dir/server.err" &
    server=$!
    wait_line "$dir/server.out" "Eddy is listening on "
    port="$(sed -n 's/^Eddy is listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/server.out" | head -n 1)"
    export EDDY_ENDPOINT="http://127.0.0.1:$port"
    started="$(now)"
    (cd "$dir" && "$EDDY" function new hello --lang "$lang" > new.out)
    (cd "$dir" && exec "$EDDY" dev hello > dev.out 2> dev.err) &
    dev=$!
    wait_line "$dir/dev.err" "eddy: watching"
    watching="$(now)"
    AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1 \
        "$AWS" dynamodb put-item --endpoint-url "$EDDY_ENDPOINT" --table-name hello-items \
        --item '{"id": {"S": "1"}}'
    wait_line "$dir/dev.out" "INSERT"
    handled="$(now)"
    printf '%-7s new -> eddy dev watching %6.1f s   new -> first handled record %6.1f s\n' \
        "$lang" "$(echo "$watching - $started" | bc)" "$(echo "$handled - $started" | bc)"
    kill "$dev" "$server"
    wait "$dev" "$server" 2>/dev/null || true
    rm -rf "$dir"
}

for lang in "${@:-rust python js}"; do
    for l in $lang; do one "$l"; done
done
