#!/usr/bin/env bash
# Installs Eddy's pinned JavaScript toolchain (componentize-js + esbuild, from the npm
# registry) into $EDDY_TOOLCHAIN_DIR/js-componentize-js-0.23.0/ and prints that directory
# as the last line on stdout.
#
# Idempotent: exits at once when the toolchain is there. Atomic: npm installs into a
# temporary sibling directory that is renamed into place only when complete, so two
# concurrent runs, or a killed one, never leave a half toolchain behind. npm's own output
# goes to a log file that is printed only when the install fails.
#
# Environment: EDDY_TOOLCHAIN_DIR (required), EDDY_SDK_DIR (default: this script's
# parent directory; it holds js/toolchain/package.json and package-lock.json, the pins).
set -euo pipefail

# The pinned toolchain's directory name: change it with the pins in toolchain/package.json,
# so that a new pin installs beside the old one instead of mixing with it.
TOOLCHAIN_NAME="js-componentize-js-0.23.0"
# The oldest Node.js major version the toolchain runs on (componentize-js needs >= 18;
# tested with 20).
NODE_MAJOR_MIN=18

say() { printf 'eddy: js toolchain: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

: "${EDDY_TOOLCHAIN_DIR:?EDDY_TOOLCHAIN_DIR must name the toolchain cache directory}"
sdk_dir="${EDDY_SDK_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
pins="$sdk_dir/js/toolchain"
dest="$EDDY_TOOLCHAIN_DIR/$TOOLCHAIN_NAME"

# The marker is written last, inside the temporary directory, so a directory without it
# never gets renamed into place; its presence means a complete install.
if [[ -f "$dest/.eddy-complete" ]]; then
    printf '%s\n' "$dest"
    exit 0
fi

command -v node >/dev/null 2>&1 || die "node is missing: install Node.js $NODE_MAJOR_MIN or newer (https://nodejs.org)"
command -v npm >/dev/null 2>&1 || die "npm is missing: install it with Node.js $NODE_MAJOR_MIN or newer"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if (( node_major < NODE_MAJOR_MIN )); then
    die "node $(node --version) is too old: componentize-js needs Node.js $NODE_MAJOR_MIN or newer"
fi
[[ -f "$pins/package.json" && -f "$pins/package-lock.json" ]] || die "the SDK has no pins: $pins/package.json and package-lock.json are missing"

mkdir -p "$EDDY_TOOLCHAIN_DIR"
tmp="$(mktemp -d "$EDDY_TOOLCHAIN_DIR/.$TOOLCHAIN_NAME.XXXXXX")"
# mktemp makes the directory private; a toolchain cache may be shared by several users.
chmod 755 "$tmp"
log="$tmp.log"
cleanup() { rm -rf "$tmp" "$log"; }
trap cleanup EXIT

cp "$pins/package.json" "$pins/package-lock.json" "$tmp/"

say "installing componentize-js 0.23.0 and esbuild 0.28.2 (step 1/2: npm ci, about 20 s) …"
# --ignore-scripts: the only install script is esbuild's, which merely checks its binary;
# the binary comes in its platform package (@esbuild/<os>-<arch>) either way.
if ! (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >"$log" 2>&1; then
    if grep -Eq 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|ECONNRESET|network' "$log"; then
        say "npm install failed: the npm registry is unreachable. npm said:"
    else
        say "npm install failed. npm said:"
    fi
    cat "$log" >&2
    exit 1
fi

say "checking the installed tools (step 2/2) …"
if ! (cd "$tmp" && node --input-type=module -e '
    await import("@bytecodealliance/componentize-js");
    const esbuild = (await import("esbuild")).default;
    await esbuild.transform("export const ok = 1", { format: "esm" });
') >"$log" 2>&1; then
    say "the installed toolchain does not load. node said:"
    cat "$log" >&2
    exit 1
fi
: >"$tmp/.eddy-complete"

# rename(2) onto a missing directory is atomic; onto a complete one (a concurrent run won)
# it fails, and that run's toolchain is used.
if ! node -e 'require("fs").renameSync(process.argv[1], process.argv[2])' "$tmp" "$dest" 2>/dev/null; then
    [[ -f "$dest/.eddy-complete" ]] || die "could not move the toolchain into $dest"
fi
say "installed in $dest"
printf '%s\n' "$dest"
