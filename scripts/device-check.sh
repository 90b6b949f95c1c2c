#!/usr/bin/env bash
# The checks that need a GPU machine, in one run of a few minutes: build the addon against that
# machine's CUDA PyTorch, run the CUDA-relevant tests (AMP and devices on CUDA, the NCCL backend,
# `--nproc 2` over NCCL where there are two GPUs), the GPU bench, and a short
# `wmnn reproduce --device cuda` on Fashion-MNIST; print a summary; exit 1 if a step failed.
#
# The GPU machine has python3 with a CUDA torch, nvcc and cmake, but no Node and no registry.
# What else it needs travels in .device/ (git-ignored), made on a machine with Node after set-up:
#   bash scripts/device-check.sh --pack   # node, N-API and libjpeg headers, node_modules, dist,
#                                         # a Fashion-MNIST subset: about 45 MiB
# then, on the GPU machine, in the repository root with .device/ carried:
#   bash scripts/device-check.sh          # logs, bench and reproduce reports into $OUT (or .device/out)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PACK=$ROOT/.device
# Fashion-MNIST: the training images carried (a subset keeps .device/ small) and reproduce's sizes.
TRAIN_IMAGES=6000
TEST_IMAGES=2000
# Each step is bounded, and the whole run stops starting steps after DEADLINE_S seconds, so the
# summary is printed within a 10-minute command.
DEADLINE_S=540

pack() {
  set -e
  bash scripts/setup.sh
  rm -rf "$PACK"
  mkdir -p "$PACK/include" "$PACK/jpeg/include" "$PACK/jpeg/lib" "$PACK/fashion-mnist"
  local node node_include multiarch lib fmnist
  node=$(command -v node)
  xz -T0 -6 -c "$node" >"$PACK/node.xz"
  # The addon uses N-API alone (node-addon-api): four headers of Node's.
  node_include=$(dirname "$(dirname "$node")")/include/node
  cp "$node_include"/{node_api.h,node_api_types.h,js_native_api.h,js_native_api_types.h} "$PACK/include/"
  # libjpeg-turbo, for a machine without libjpeg's development files.
  multiarch=$(gcc -print-multiarch)
  cp /usr/include/{jpeglib.h,jmorecfg.h,jerror.h} "/usr/include/$multiarch/jconfig.h" "$PACK/jpeg/include/"
  lib=$(readlink -f "/usr/lib/$multiarch/libjpeg.so")
  cp "$lib" "$PACK/jpeg/lib/$(objdump -p "$lib" | awk '/SONAME/ {print $2}')"
  # The compiler is not needed there: tsx runs the tests, dist/ the CLI.
  tar -cJf "$PACK/tree.tar.xz" --exclude=node_modules/typescript --exclude=node_modules/@types node_modules dist
  fmnist=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
  python3 - "$fmnist" "$PACK/fashion-mnist" "$TRAIN_IMAGES" <<'PY'
# The first N training images and labels as idx files of N items; the test split as it is.
import gzip, shutil, struct, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
for name, item, header in (("train-images-idx3-ubyte", 28 * 28, 16), ("train-labels-idx1-ubyte", 1, 8)):
    with gzip.open(f"{src}/{name}.gz") as f:
        data = bytearray(f.read(header + n * item))
    struct.pack_into(">I", data, 4, n)
    with gzip.open(f"{dst}/{name}.gz", "wb") as f:
        f.write(data)
for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
    shutil.copy(f"{src}/{name}.gz", dst)
PY
  du -sh "$PACK"
}

# Node and the JavaScript tree from .device/, then the addon against python3's torch (CMakeLists.txt
# finds it). A step of its own: `step` runs this script again with --build.
build() {
  set -e
  mkdir -p "$PACK/bin"
  xz -dc "$PACK/node.xz" >"$PACK/bin/node"
  chmod +x "$PACK/bin/node"
  tar -xJf "$PACK/tree.tar.xz"
  echo "node $(node --version); python's torch: $(python3 -c 'import torch; print(torch.__version__, torch.utils.cmake_prefix_path)')"
  local options=() libs
  if command -v ninja >/dev/null; then options+=(-G Ninja); fi
  if [ ! -f /usr/include/jpeglib.h ]; then
    libs=("$PACK"/jpeg/lib/libjpeg.so.*)
    ln -sf "$(basename "${libs[0]}")" "$PACK/jpeg/lib/libjpeg.so"
    options+=(-DJPEG_INCLUDE_DIR="$PACK/jpeg/include" -DJPEG_LIBRARY="$PACK/jpeg/lib/libjpeg.so")
  fi
  # What cmake-js passes: Node's headers; the addon goes where it puts it (build/Release).
  cmake -S . -B build/device-cmake -DCMAKE_BUILD_TYPE=Release -DCMAKE_JS_INC="$PACK/include" \
    -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$ROOT/build/Release" "${options[@]}"
  cmake --build build/device-cmake -j "$(nproc)"
  node bin/wmnn.js --version
}

if [ "${1:-}" = --pack ]; then
  pack
  exit
fi
export PATH=$PACK/bin:$PATH
export LD_LIBRARY_PATH=$PACK/jpeg/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
case "${1:-}" in
  --build) build; exit ;;
  "") ;;
  *) echo "usage: scripts/device-check.sh [--pack]" >&2; exit 2 ;;
esac

OUT_DIR=${OUT:-$PACK/out}
mkdir -p "$OUT_DIR"
SUMMARY=$OUT_DIR/summary.txt
: >"$SUMMARY"
failed=0

indent() { sed 's/^/    /' | tee -a "$SUMMARY"; }

# step NAME LIMIT_S COMMAND...: runs COMMAND with its output in NAME.log, records the outcome.
step() {
  local name=$1 limit=$2 left start status
  shift 2
  left=$((DEADLINE_S - SECONDS))
  if [ "$left" -le 0 ]; then
    echo "$name: not run (out of time)" | tee -a "$SUMMARY"
    failed=1
    return 1
  fi
  [ "$limit" -le "$left" ] || limit=$left
  echo "== $name (at most ${limit}s)"
  start=$SECONDS
  timeout "$limit" "$@" >"$OUT_DIR/$name.log" 2>&1
  status=$?
  if [ "$status" -eq 0 ]; then
    echo "$name: ok ($((SECONDS - start))s)" | tee -a "$SUMMARY"
  else
    echo "$name: FAILED, status $status ($((SECONDS - start))s); its log ends:" | tee -a "$SUMMARY"
    tail -n 25 "$OUT_DIR/$name.log" | indent
    failed=1
  fi
  return "$status"
}


# The tests' and the bench's PyTorch reference: this machine's (Debian's 1.13 is not there).
WMNN_REFERENCE_PYTHON=$(command -v python3)
export WMNN_REFERENCE_PYTHON

rm -rf "$PACK/reproduce"
step build 240 bash "$ROOT/scripts/device-check.sh" --build || exit 1
info=$(node --input-type=module -e "const m = await import('./dist/native/engine.js'); console.log(JSON.stringify(m.buildInfo()))")
echo "build: $info" | tee -a "$SUMMARY"
gpus=$(node -e 'const i = JSON.parse(process.argv[1]); console.log(i.cudaAvailable ? i.cudaDevices : 0)' "$info")
[ "${gpus:-0}" -gt 0 ] || { echo "no usable CUDA device: nothing more to check" | tee -a "$SUMMARY"; exit 1; }

step tests 150 node scripts/run-tests.mjs test/engine/amp test/engine/binding test/distributed/env test/distributed/backend
grep -E '^ *(not )?ok [0-9]+ - |^# (tests|pass|fail|skipped) ' "$OUT_DIR/tests.log" | indent
# The bench's JSON reports stay in .device/: the logs hold their tables, and few files come back.
step bench 150 node --import tsx scripts/bench.ts --device cuda --out "$PACK/bench-report.json"
sed -n '/^side/,/^$/p' "$OUT_DIR/bench.log" | indent
if [ "$gpus" -ge 2 ]; then
  step bench-parallel 150 node --import tsx scripts/bench.ts --device cuda --nproc "$gpus" --out "$PACK/bench-report.json"
  sed -n '/^ranks/,/^$/p' "$OUT_DIR/bench-parallel.log" | indent
fi
if [ -d "$PACK/fashion-mnist" ]; then
  step reproduce 180 node bin/wmnn.js reproduce --device cuda --amp auto --train_db_path "$PACK/fashion-mnist" \
    --test_db_path "$PACK/fashion-mnist" --train_size "$TRAIN_IMAGES" --test_size "$TEST_IMAGES" --epochs 3 \
    --pretrained_epochs 1 --attack_epochs 1 --wm_path data/trigger_set --out "$PACK/reproduce"
  # Its models and logs stay in .device/: few files come back.
  cp "$PACK/reproduce/report.md" "$OUT_DIR/reproduce-report.md" 2>/dev/null
  tail -n 12 "$OUT_DIR/reproduce.log" | indent
else
  echo "reproduce: not run (no .device/fashion-mnist)" | tee -a "$SUMMARY"
fi

echo
echo "== summary ($SECONDS s)"
cat "$SUMMARY"
exit "$failed"
