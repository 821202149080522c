#!/usr/bin/env bash
# Installs the pinned Python toolchain for Eddy functions: componentize-py (from PyPI) in
# its own virtual environment under $EDDY_TOOLCHAIN_DIR/python-componentize-py-<version>/.
#
# Idempotent (exits at once when the toolchain is there) and atomic (installs into a
# temporary sibling directory and renames it into place), so concurrent runs or a killed
# run never leave a half-installed toolchain behind. The tools' own output goes to a log
# file that is printed only when a step fails. Prints the installed directory on stdout
# as its last line.
set -euo pipefail

# The pinned version: the one that builds a working component from functions/wit.
COMPONENTIZE_PY_VERSION="0.25.1"
NAME="python-componentize-py-${COMPONENTIZE_PY_VERSION}"

fail() { printf 'eddy: python toolchain: %s\n' "$*" >&2; exit 1; }

[ -n "${EDDY_TOOLCHAIN_DIR:-}" ] || fail "EDDY_TOOLCHAIN_DIR is not set"
DEST="$EDDY_TOOLCHAIN_DIR/$NAME"
# The marker file is written last, inside the temporary directory: a directory without
# it was never renamed into place by this script.
MARKER="$DEST/.installed"

# The venv's interpreter links to the base Python it was made with; if that went away
# (a Python upgrade), the toolchain is replaced rather than reported as installed.
if [ -f "$MARKER" ] && [ -x "$DEST/bin/componentize-py" ] \
    && "$DEST/venv/bin/python" -c '' >/dev/null 2>&1; then
    printf '%s\n' "$DEST"
    exit 0
fi
if [ -e "$DEST" ]; then
    # Renamed away first, so that no run ever sees a half-deleted toolchain under DEST.
    STALE="$(mktemp -d "$EDDY_TOOLCHAIN_DIR/.$NAME.stale.XXXXXX")"
    mv -T "$DEST" "$STALE/old" 2>/dev/null || true
    rm -rf "$STALE"
fi

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 || fail "$PYTHON not found (install Python 3.9 or newer)"
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' \
    || fail "$PYTHON is older than 3.9 (componentize-py needs Python 3.9 or newer)"

mkdir -p "$EDDY_TOOLCHAIN_DIR"
TMP="$(mktemp -d "$EDDY_TOOLCHAIN_DIR/.$NAME.tmp.XXXXXX")"
LOG="$TMP.log"
cleanup() { rm -rf "$TMP" "$LOG"; }
trap cleanup EXIT

progress() {
    printf 'eddy: python toolchain: installing componentize-py %s (step %s) ...\n' \
        "$COMPONENTIZE_PY_VERSION" "$1" >&2
}
# Runs one step with its output in the log; on failure prints the log and a one-line reason.
step() {
    local reason="$1"
    shift
    if ! "$@" >>"$LOG" 2>&1; then
        cat "$LOG" >&2
        fail "$reason"
    fi
}

progress "1/3: python venv"
step "'$PYTHON -m venv' failed (on Debian: apt-get install python3-venv)" \
    "$PYTHON" -m venv "$TMP/venv"

progress "2/3: pip install"
step "pip could not install componentize-py $COMPONENTIZE_PY_VERSION from PyPI (is the registry reachable?)" \
    "$TMP/venv/bin/python" -m pip install --disable-pip-version-check --no-input \
    "componentize-py==$COMPONENTIZE_PY_VERSION"

progress "3/3: check"
# pip's own entry script names the temporary directory in its #! line, which breaks with
# the rename below; this wrapper finds the venv relative to itself instead.
mkdir -p "$TMP/bin"
cat >"$TMP/bin/componentize-py" <<'WRAPPER'
#!/usr/bin/env bash
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec "$here/venv/bin/python" -c \
    'import sys; from componentize_py import script; sys.argv[0] = "componentize-py"; sys.exit(script())' "$@"
WRAPPER
chmod 755 "$TMP/bin/componentize-py" "$TMP"
step "the installed componentize-py does not run" "$TMP/bin/componentize-py" --version
touch "$TMP/.installed"

# A concurrent run may have finished first: then its directory stays and ours is dropped.
# `mv -T` renames atomically and fails (rather than nesting) when DEST exists and is not empty.
if ! mv -T "$TMP" "$DEST" 2>/dev/null; then
    [ -f "$MARKER" ] || fail "could not move the toolchain into $DEST"
fi
printf '%s\n' "$DEST"
