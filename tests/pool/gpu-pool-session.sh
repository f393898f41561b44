#!/usr/bin/env bash
# One call on the GPU machine for the pool and its parallelism (issue 5):
# build the workers, the model-family and attention plugins and the GPU
# pool tests with meson (-Dapp=disabled -Dui=disabled: no GLib, FFmpeg or
# GTK there), then run
#   * test-comm-nccl: the NCCL collectives on two GPUs;
#   * test-pool-nccl: GPU workers joining NCCL through the pool — U2, R2,
#     CFG2 and DP2 on two GPUs against one on a Wan 1.3B-shaped random
#     checkpoint (BLOCKS blocks, written first with make-checkpoint);
#   * bench-pool-speed on the same checkpoint: one sampling step (one DiT
#     forward) at 832×480×81 on 1 GPU vs 2 GPUs in Ulysses 2, and CFG 2
#     with cfg 5.
# NVLink SHARP stays off (NCCL_NVLS_ENABLE=0; nothing calls
# cuMulticastCreate). Logs go to $OUT (or ./gpu-out). Usage, from the repo
# root, carrying .gpu-debs (OpenBLAS and pkg-config for a bare machine):
#   BLOCKS=30 bash tests/pool/gpu-pool-session.sh
# The build alone took 176 s on the 2×H200 machine (32 cores): give a call
# DEADLINE (its time limit, default 225 s) of at least 400 s for both the
# parity checks and the speed line, or PARITY=0 / SPEED=0 for one of them.
# BUILD_DIR (default ./build-gpu) and DEBS (default .gpu-debs) move the
# build and the packages, e.g. to build a clean `git archive` of HEAD.
set -u
out=${OUT:-$PWD/gpu-out}
build=${BUILD_DIR:-$PWD/build-gpu}
debs=${DEBS:-.gpu-debs}
mkdir -p "$out"
step () { echo "=== $(date +%T) $*"; }
export NCCL_NVLS_ENABLE=0

step "device"
nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv | tee "$out/nvidia-smi.csv"
nvidia-smi topo -m > "$out/nvidia-smi-topo.txt" 2>&1; head -5 "$out/nvidia-smi-topo.txt"
. "$(dirname "$0")/../gpu-machine-debs.sh"
unpack_gpu_debs "$debs"

step "build"
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Dapp=disabled -Dui=disabled > "$out/meson-setup.log" 2>&1 \
    || { tail -30 "$out/meson-setup.log"; exit 1; }
fi
plugins=$(ninja -C "$build" -t targets all 2>/dev/null | grep -E '^plugins/[^ ]*\.so: ' | cut -d: -f1 | sort -u)
ninja -C "$build" -j"$(nproc)" workers/worker/raylight-worker tests/pool/test-pool-nccl \
  tests/comm/test-comm-nccl tests/bench/bench-pool-speed workers/checkpoint/make-checkpoint \
  $plugins > "$out/build.log" 2>&1 \
  || { grep -E "error|FAILED" -A3 "$out/build.log" | head -40; exit 1; }
echo "built: raylight-worker, test-pool-nccl, test-comm-nccl, bench-pool-speed, $(echo $plugins | wc -w) plugins"

step "checkpoint (Wan 1.3B key layout, ${BLOCKS:-30} blocks, random bf16)"
checkpoint=${TMPDIR:-/tmp}/raylight-pool-wan-1.3B.safetensors
awk -v n="${BLOCKS:-30}" 'match($0, /^blocks\.[0-9]+\./) { if (substr($0, 8) + 0 >= n) next } { print }' \
  tests/pool/data/wan21-t2v-1.3b-keys.txt > "$out/keys.txt"
"$build/workers/checkpoint/make-checkpoint" --seed 5 --dtype BF16 --input "$out/keys.txt" \
  "$checkpoint" > "$out/make-checkpoint.log" 2>&1 || { cat "$out/make-checkpoint.log"; exit 1; }

export RAYLIGHT_SOURCE_DIR=$PWD
export RAYLIGHT_WORKER=$build/workers/worker/raylight-worker
export RAYLIGHT_PLUGIN_PATH=$build/plugins
export OMP_NUM_THREADS=4

# Whatever the build left of a DEADLINE (seconds of the whole call) goes
# to the pool test, so its log comes back before the call's limit.
left=$(( ${DEADLINE:-225} - SECONDS - ${COMM_TIMEOUT:-40} ))
[ "$left" -lt 30 ] && left=30
step "test-pool-nccl (blocks ${BLOCKS:-30}, ${POOL_TIMEOUT:-$left} s)"
if [ "${PARITY:-1}" != 0 ]; then
  RAYLIGHT_NCCL_TEST_CHECKPOINT=$checkpoint RAYLIGHT_NCCL_TEST_LABEL=1.3B \
    timeout "${POOL_TIMEOUT:-$left}" stdbuf -oL "$build/tests/pool/test-pool-nccl" > "$out/test-pool-nccl.log" 2>&1
  echo "test-pool-nccl exit $?"
  grep -E "^ok|^not ok|^# " "$out/test-pool-nccl.log"
  grep -E "rank [0-9].*(error|failed|abort)" "$out/test-pool-nccl.log" | head -10
fi
if [ "${SPEED:-1}" != 0 ]; then
  step "bench-pool-speed"
  left=$(( ${DEADLINE:-225} - SECONDS - ${COMM_TIMEOUT:-40} ))
  [ "$left" -lt 30 ] && left=30
  timeout "$left" stdbuf -oL "$build/tests/bench/bench-pool-speed" --checkpoint "$checkpoint" \
    --label 1.3B --modes "1 U2 CFG2" > "$out/bench-pool-speed.log" 2>&1
  echo "bench-pool-speed exit $?"
  grep -E "^# " "$out/bench-pool-speed.log"
fi
rm -f "$checkpoint"
step "test-comm-nccl"
timeout "${COMM_TIMEOUT:-40}" "$build/tests/comm/test-comm-nccl" > "$out/test-comm-nccl.log" 2>&1
echo "test-comm-nccl exit $?"; grep -E "^#|not ok|error" "$out/test-comm-nccl.log" | head -20

step "done"
