#!/usr/bin/env bash
# Builds a JavaScript function project into an Eddy component.
#
#     build.sh PROJECT_DIR HANDLER OUT_WASM
#
# HANDLER is Lambda's `module.function`: `handler.handler` is the export `handler` of
# PROJECT_DIR/handler.js (or handler.mjs). Installs the toolchain first if needed
# (install.sh), then bundles the handler with the SDK (esbuild) and turns the bundle into a
# component of the world in $EDDY_SDK_DIR/wit/function.wit (componentize-js); see
# build.mjs. Nothing is written into PROJECT_DIR except OUT_WASM (if it lies there).
#
# Environment: EDDY_TOOLCHAIN_DIR (required), EDDY_SDK_DIR (required: the directory laid
# out like the repository's functions/).
set -euo pipefail

if (( $# != 3 )); then
    printf 'usage: build.sh PROJECT_DIR HANDLER OUT_WASM\n' >&2
    exit 2
fi
: "${EDDY_TOOLCHAIN_DIR:?EDDY_TOOLCHAIN_DIR must name the toolchain cache directory}"
: "${EDDY_SDK_DIR:?EDDY_SDK_DIR must name the SDK directory (the one holding wit/ and js/)}"

project_dir="$1"
handler="$2"
out_wasm="$3"
[[ -d "$project_dir" ]] || { printf 'eddy: js build: no project directory %s\n' "$project_dir" >&2; exit 1; }

toolchain="$(bash "$EDDY_SDK_DIR/js/install.sh" | tail -n 1)"
exec node "$EDDY_SDK_DIR/js/build.mjs" "$toolchain" "$EDDY_SDK_DIR" "$project_dir" "$handler" "$out_wasm"
