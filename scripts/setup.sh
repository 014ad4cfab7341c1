#!/usr/bin/env bash
# Project set-up, safe to run any number of times (quiet and fast when there is nothing to do):
#   1. npm dependencies (`npm ci` when node_modules is missing or older than package-lock.json);
#   2. Jupyter Notebook + nbconvert (Debian packages when we are root and apt-get exists; otherwise the
#      command to run is printed) and the tslab TypeScript kernel, registered to start THIS project's tslab;
#      with them a headless Chromium for the notebook's browser test (optional: its absence never fails set-up);
#   3. an audio synthesizer + General-MIDI soundfont (optional: its absence never fails set-up);
#   4. PyTorch for python3 with OpenBLAS, for python/musicgen_torch and its tests (optional, as audio).
#
# Usage: bash scripts/setup.sh [--no-jupyter] [--no-audio] [--no-torch] [--require-jupyter] [--verbose] [--help]
#   --no-jupyter       only what the command-line generator needs (npm dependencies, audio; no browser, no torch)
#   --no-audio         skip the synthesizer / soundfont
#   --no-torch         skip PyTorch
#   --require-jupyter  exit 1 when Jupyter or the tslab kernel cannot be set up (used by `npm run notebook`)
#   --verbose          say what was checked even when nothing had to be done
set -euo pipefail

# Debian packages. One list each; other scripts may edit them.
APT_JUPYTER="jupyter-notebook jupyter-nbconvert jupyter-client"
APT_AUDIO="fluidsynth fluid-soundfont-gm fonts-dejavu-core"
APT_BROWSER="chromium"
# PyTorch 1.13 for /usr/bin/python3 (with numpy); OpenBLAS, because Debian's torch calls the system BLAS and the
# reference one is 14 times slower (measured, docs/distributed.md).
APT_TORCH="python3-torch libopenblas0-pthread"
PIP_TORCH="torch numpy"
# Homebrew formulae / pip packages suggested on other platforms.
BREW_JUPYTER="jupyterlab"
PIP_JUPYTER="notebook nbconvert"
BREW_AUDIO="fluid-synth"
BREW_BROWSER="--cask chromium"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TSLAB_BIN="$ROOT/node_modules/.bin/tslab"

WANT_JUPYTER=1 WANT_AUDIO=1 WANT_TORCH=1 REQUIRE_JUPYTER=0 VERBOSE=0
for arg in "$@"; do
  case "$arg" in
    --no-jupyter) WANT_JUPYTER=0 WANT_TORCH=0 ;;
    --no-torch) WANT_TORCH=0 ;;
    --no-audio) WANT_AUDIO=0 ;;
    --require-jupyter) REQUIRE_JUPYTER=1 ;;
    -v | --verbose) VERBOSE=1 ;;
    -h | --help) sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "setup: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

say() { echo "setup: $*"; }
warn() { echo "setup: warning: $*" >&2; }
info() { if [ "$VERBOSE" = 1 ]; then say "$@"; fi; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" = 0 ]; }

# ---------------------------------------------------------------- node + npm dependencies
if ! have node || ! have npm; then
  echo "setup: error: Node.js 20 or newer (with npm) is required; install it from https://nodejs.org/" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "setup: error: Node.js $(node -v) is too old; version 20 or newer is required" >&2
  exit 1
fi

cd "$ROOT"
stamp="node_modules/.package-lock.json"
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  say "installing npm dependencies (npm ci)…"
  # @tensorflow/tfjs-node is optional: where its native library cannot be downloaded npm drops it and
  # carries on, and the code falls back to the WebAssembly backend.
  if ! npm ci --no-audit --no-fund; then
    echo "setup: error: 'npm ci' failed (see above); fix that and run scripts/setup.sh again" >&2
    exit 1
  fi
  if [ -d node_modules/@tensorflow/tfjs-node ]; then
    say "npm dependencies installed (native tfjs-node backend available)"
  else
    say "npm dependencies installed (optional native tfjs-node unavailable here: using the WebAssembly backend)"
  fi
else
  info "npm dependencies up to date"
fi

# ---------------------------------------------------------------- system packages
APT_UPDATED=0
# apt_missing PKG... — prints the packages of the list that are not installed.
apt_missing() {
  local p status
  for p in "$@"; do
    status="$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)"
    case "$status" in *" installed") ;; *) printf '%s ' "$p" ;; esac
  done
}
# apt_install WHAT PKG... — installs with apt-get (root only); returns non-zero on failure.
apt_install() {
  local what="$1"; shift
  local log="$ROOT/out/setup-apt.log"
  mkdir -p "$ROOT/out"
  say "installing $what with apt-get: $* (log: out/setup-apt.log)…"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$APT_UPDATED" = 0 ]; then
    if ! apt-get -o DPkg::Lock::Timeout=300 update -q >>"$log" 2>&1; then
      warn "apt-get update failed; last lines of out/setup-apt.log:"; tail -n 5 "$log" >&2
      return 1
    fi
    APT_UPDATED=1
  fi
  if ! apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "$@" >>"$log" 2>&1; then
    warn "apt-get install failed; last lines of out/setup-apt.log:"; tail -n 5 "$log" >&2
    return 1
  fi
}
# install_hint KIND — the command a user should run on this platform.
install_hint() {
  local apt_pkgs brew_pkgs pip_pkgs
  case "$1" in
    jupyter) apt_pkgs="$APT_JUPYTER" brew_pkgs="$BREW_JUPYTER" pip_pkgs="$PIP_JUPYTER" ;;
    browser) apt_pkgs="$APT_BROWSER" brew_pkgs="$BREW_BROWSER" pip_pkgs="" ;;
    torch) apt_pkgs="$APT_TORCH" brew_pkgs="" pip_pkgs="$PIP_TORCH" ;;
    *) apt_pkgs="$APT_AUDIO" brew_pkgs="$BREW_AUDIO" pip_pkgs="" ;;
  esac
  if have apt-get; then echo "sudo apt-get install -y $apt_pkgs"
  elif have brew && [ -n "$brew_pkgs" ]; then echo "brew install $brew_pkgs"
  elif [ -n "$pip_pkgs" ]; then echo "python3 -m pip install --user $pip_pkgs"
  elif [ "$1" = browser ]; then echo "install Chromium with your package manager (or set CHROMIUM_PATH to a Chromium/Chrome binary)"
  else echo "install FluidSynth and a General-MIDI soundfont (.sf2) with your package manager"; fi
}

# ---------------------------------------------------------------- Jupyter + tslab kernel
jupyter_ok() { have jupyter && have jupyter-notebook && have jupyter-nbconvert && have jupyter-kernelspec; }

# The python that runs Jupyter (tslab's installer needs one that can import jupyter_client).
jupyter_python() {
  local cand shebang
  shebang="$(head -n 1 "$(command -v jupyter)" 2>/dev/null | sed -n 's/^#! *//p')"
  case "$shebang" in
    */env\ *) shebang="${shebang##* }" ;;
    *\ *) shebang="${shebang%% *}" ;;
  esac
  for cand in /usr/bin/python3 "$shebang" python3; do
    [ -n "$cand" ] || continue
    if "$cand" -c 'import jupyter_client' >/dev/null 2>&1; then echo "$cand"; return 0; fi
  done
  return 1
}

# Prints argv[0] of the registered "tslab" kernel (empty when there is none); $1 = a python with jupyter_client.
registered_tslab() {
  "$1" - 2>/dev/null <<'PY' || true
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
try:
    print(KernelSpecManager().get_kernel_spec("tslab").argv[0])
except NoSuchKernel:
    pass
PY
}

jupyter_failed() {
  warn "$1"
  if [ "$REQUIRE_JUPYTER" = 1 ]; then exit 1; fi
  warn "the notebook commands need it; the command-line generator works without it"
}

if [ "$WANT_JUPYTER" = 1 ]; then
  if ! jupyter_ok; then
    if have apt-get && have dpkg-query && is_root; then
      # shellcheck disable=SC2086
      apt_install "Jupyter Notebook" $APT_JUPYTER || true
      hash -r
    fi
  fi
  if ! jupyter_ok; then
    jupyter_failed "Jupyter Notebook / nbconvert not found; install them with:  $(install_hint jupyter)"
  elif [ ! -x "$TSLAB_BIN" ]; then
    jupyter_failed "$TSLAB_BIN is missing (npm dependencies incomplete?); run: npm ci"
  elif ! py="$(jupyter_python)"; then
    jupyter_failed "no python that can import jupyter_client was found, so the tslab kernel cannot be registered"
  else
    current="$(registered_tslab "$py")"
    if [ "$current" = "$TSLAB_BIN" ] && [ -x "$current" ]; then
      info "tslab kernel registered ($current)"
    else
      say "registering the tslab (TypeScript) kernel for Jupyter: $TSLAB_BIN…"
      # --user works as root and as a normal user (the per-user kernels directory).
      if "$TSLAB_BIN" install --python="$py" --binary="$TSLAB_BIN" --user >/dev/null \
        && [ "$(registered_tslab "$py")" = "$TSLAB_BIN" ]; then
        say "tslab kernel registered"
      else
        jupyter_failed "could not register the tslab kernel; try: $TSLAB_BIN install --python=$py --binary=$TSLAB_BIN --user"
      fi
    fi
  fi
fi

# ---------------------------------------------------------------- headless browser (optional)
# Chromium, driven by playwright-core, for tests/notebook-browser.test.ts (a real browser run of the notebook).
if [ "$WANT_JUPYTER" = 1 ] && [ -n "$APT_BROWSER" ]; then
  if have dpkg-query && have apt-get; then
    # shellcheck disable=SC2086
    missing="$(apt_missing $APT_BROWSER)"
    if [ -n "$missing" ]; then
      if is_root; then
        # shellcheck disable=SC2086
        apt_install "a headless browser for the notebook's browser test" $missing \
          || warn "the notebook's browser test needs it (optional; skipped without it unless CI is set); install later with: $(install_hint browser)"
      else
        say "note: optional browser missing ($missing); for the notebook's browser test run: sudo apt-get install -y $missing"
      fi
    else
      info "browser installed ($APT_BROWSER)"
    fi
  elif [ -z "${CHROMIUM_PATH:-}" ] && ! have chromium && ! have chromium-browser; then
    say "note: optional Chromium not found (the notebook's browser test needs it): $(install_hint browser)"
  fi
fi

# ---------------------------------------------------------------- audio (optional)
if [ "$WANT_AUDIO" = 1 ] && [ -n "$APT_AUDIO" ]; then
  if have dpkg-query && have apt-get; then
    # shellcheck disable=SC2086
    missing="$(apt_missing $APT_AUDIO)"
    if [ -n "$missing" ]; then
      if is_root; then
        # shellcheck disable=SC2086
        apt_install "the audio synthesizer" $missing \
          || warn "audio rendering will be unavailable (optional); install later with: $(install_hint audio)"
      else
        say "note: optional audio packages missing ($missing); for audio rendering run: sudo apt-get install -y $missing"
      fi
    else
      info "audio packages installed ($APT_AUDIO)"
    fi
  elif ! have fluidsynth; then
    say "note: optional FluidSynth not found; for audio rendering: $(install_hint audio)"
  fi
fi
# ---------------------------------------------------------------- PyTorch (optional)
# For python/musicgen_torch (docs/distributed.md) and tests/torch-*.test.ts, which skip without it unless CI is set.
if [ "$WANT_TORCH" = 1 ] && [ -n "$APT_TORCH" ]; then
  if have dpkg-query && have apt-get; then
    # shellcheck disable=SC2086
    missing="$(apt_missing $APT_TORCH)"
    if [ -n "$missing" ]; then
      if is_root; then
        # shellcheck disable=SC2086
        apt_install "PyTorch for the data-parallel trainer" $missing \
          || warn "python/musicgen_torch needs it (optional); install later with: $(install_hint torch)"
      else
        say "note: optional PyTorch missing ($missing); for python/musicgen_torch run: sudo apt-get install -y $missing"
      fi
    else
      info "PyTorch installed ($APT_TORCH)"
    fi
  elif ! python3 -c 'import torch, numpy' >/dev/null 2>&1; then
    say "note: optional PyTorch not found (python/musicgen_torch needs it): $(install_hint torch)"
  fi
fi
exit 0
