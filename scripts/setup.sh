#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine that has node, npm, g++ and cmake:
#   1. system packages: what wmnn needs (libtorch, Gloo and libjpeg-turbo headers, Debian's
#      Fashion-MNIST for the main job), and with `--for test` also the reference PyTorch the tests
#      compare with;
#   2. npm ci, 3. the native addon (Release), 4. the TypeScript.
# Usage: scripts/setup.sh [--for start|test]   (default: start, what running wmnn needs)
# Each step is skipped when its inputs have not changed, so a second run costs about a second.
# WMNN_SKIP_APT=1 skips step 1 (for a machine where you bring your own libtorch via LIBTORCH/Torch_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "[setup] $*" >&2; }

# --- 1. system packages ----------------------------------------------------------------------
purpose=start
if [ "${1:-}" = "--for" ]; then purpose="${2:-start}"; fi
APT_PACKAGES=(libtorch-dev libgloo-dev libjpeg62-turbo-dev dataset-fashion-mnist)
case "$purpose" in
  start) ;;
  test) APT_PACKAGES+=(python3-torch python3-torchvision clang-format) ;;
  *) say "unknown --for '$purpose' (use start or test)"; exit 2 ;;
esac
missing=()
if [ "${WMNN_SKIP_APT:-0}" != 1 ] && command -v dpkg-query >/dev/null 2>&1; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
      say "missing Debian packages: ${missing[*]}"
      say "run as root: apt-get update && apt-get install -y ${missing[*]}"
      exit 1
    fi
  fi
  say "installing ${missing[*]} (apt-get, a few minutes the first time)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A stamp records the hash of each step's inputs; a step runs again only when they change.
stamp_dir=build/.stamps
mkdir -p "$stamp_dir"
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }
up_to_date() { [ -f "$stamp_dir/$1" ] && [ "$(cat "$stamp_dir/$1")" = "$2" ]; }

# --- 2. npm ci -------------------------------------------------------------------------------
h=$(hash_of package.json package-lock.json; node --version)
if [ ! -d node_modules ] || ! up_to_date npm "$h"; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$h" > "$stamp_dir/npm"
fi

# --- 3. native addon -------------------------------------------------------------------------
# Two addons: the engine (wmnn.node) and the image codecs (wmnn-image.node).
addons=(build/Release/wmnn.node build/Release/wmnn-image.node)
built() { for a in "${addons[@]}"; do [ -f "$a" ] || return 1; done; }
h=$(hash_of CMakeLists.txt $(find native -type f | sort); node --version; echo "${LIBTORCH:-}${Torch_DIR:-}")
if ! built || ! up_to_date native "$h"; then
  say "building the native addons (cmake-js, Release; about a minute)"
  npx cmake-js compile --release --out build --log-level error 2>&1 | grep -E "wmnn:|error|Error" >&2 || true
  built || { say "native build failed: run 'npx cmake-js compile --release --out build' to see why"; exit 1; }
  echo "$h" > "$stamp_dir/native"
fi

# --- 4. TypeScript ---------------------------------------------------------------------------
h=$(hash_of tsconfig.json $(find src -name '*.ts' | sort))
if [ ! -f dist/cli/index.js ] || ! up_to_date ts "$h"; then
  say "compiling TypeScript"
  npx tsc -p tsconfig.json
  echo "$h" > "$stamp_dir/ts"
fi
