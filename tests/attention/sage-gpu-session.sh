#!/usr/bin/env bash
# One call on the GPU machine for the `sage` attention variant: build it,
# reference and naive (its test's oracles), the GPU test and the benchmark
# with gcc/nvcc directly (no meson), check the SASS (IGMMA/QGMMA present,
# no local memory), run the parity test with both schedules, then
# PyTorch's SDPA and bench-attention in the same run. Logs go to $OUT (or
# ./gpu-out); a summary is printed last. Usage, from the repo root:
#   bash tests/attention/sage-gpu-session.sh [test|all]
set -u
what=${1:-all}
out=${OUT:-$PWD/gpu-out}
build=/tmp/sage-build
mkdir -p "$out" "$build/plugins/attention" "$build/obj"
export PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH
summary=$out/summary.txt
: > "$summary"
step () { echo "=== $(date +%T) $*"; }
note () { echo "$*" | tee -a "$summary"; }

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv | tee -a "$summary"

step "build"
cat > "$build/raylight-config.h" <<CONFIG
#pragma once
#define RAYLIGHT_VERSION "sage-gpu-session"
#define RAYLIGHT_PLUGIN_DIR "$build/installed"
#define RAYLIGHT_BUILD_DIR "$build"
#define RAYLIGHT_SOURCE_DIR "$PWD"
#define RAYLIGHT_HAVE_CUDA 1
CONFIG
cflags="-std=gnu17 -O2 -g -D_GNU_SOURCE -fPIC -Wall -I. -I$build -I/usr/local/cuda/include"
nvflags="-std=c++17 -O3 -lineinfo --expt-relaxed-constexpr -Xcompiler=-fPIC -I. -I$build"
cuda_libs="-L/usr/local/cuda/lib64 -lcudart -lstdc++"
pids=()
nvcc -gencode=arch=compute_90a,code=sm_90a $nvflags -Xptxas -v -c plugins/attention/sage/sage-kernel.cu \
  -o $build/obj/sage-kernel.o > "$out/nvcc-sage.log" 2>&1 & pids+=($!)
nvcc -gencode=arch=compute_90a,code=sm_90a $nvflags -c plugins/attention/naive/naive-softmax.cu \
  -o $build/obj/naive-softmax.o > "$out/nvcc-naive.log" 2>&1 & pids+=($!)
runtime_objs=()
for f in workers/runtime/*.c plugins/attention/attention-registry.c plugins/attention/attention-merge.c plugins/attention/attention-op.c; do
  o=$build/obj/$(basename $f .c).o; runtime_objs+=($o)
  gcc $cflags -c $f -o $o & pids+=($!)
done
# Diagnosis builds, run only if the parity test fails: the descriptor's
# two offsets swapped, and the fp8 A-operand registers 1 and 2 swapped
# (row + 8 versus column + 16), the two layout facts most likely wrong.
mkdir -p $build/exp-offsets $build/exp-a-order
sed -e 's/(128 >> 4) << 16/(SWAPPED >> 4) << 16/; s/(1024 >> 4) << 32/(128 >> 4) << 32/; s/(SWAPPED >> 4) << 16/(1024 >> 4) << 16/' \
  plugins/attention/sage/sage-kernel.cu > $build/exp-offsets/sage-kernel.cu
sed -e 's/p8\[kk\]\[1\] = /p8[kk][SWAP] = /; s/p8\[kk\]\[2\] = /p8[kk][1] = /; s/p8\[kk\]\[SWAP\] = /p8[kk][2] = /' \
  plugins/attention/sage/sage-kernel.cu > $build/exp-a-order/sage-kernel.cu
for e in exp-offsets exp-a-order; do
  nvcc -gencode=arch=compute_90a,code=sm_90a $nvflags -c $build/$e/sage-kernel.cu -o $build/$e/sage-kernel.o \
    > "$out/nvcc-$e.log" 2>&1 & pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait $p || failed=1; done
for e in exp-offsets exp-a-order; do
  diff plugins/attention/sage/sage-kernel.cu $build/$e/sage-kernel.cu | grep -c '^>' | sed "s/^/$e changed lines: /"
done
[ $failed = 0 ] || { cat "$out"/nvcc-*.log; echo "BUILD FAILED"; exit 1; }
ar rcs $build/obj/libattention.a "${runtime_objs[@]}"
mods=$build/plugins/attention
gcc $cflags -shared -fopenmp plugins/attention/reference/attention-reference.c -o $mods/raylight-attention-reference.so $build/obj/libattention.a -lm &&
gcc $cflags -shared plugins/attention/naive/attention-naive.c $build/obj/naive-softmax.o -o $mods/raylight-attention-naive.so $cuda_libs -lcublas &&
gcc $cflags -shared plugins/attention/sage/attention-sage.c $build/obj/sage-kernel.o -o $mods/raylight-attention-sage.so $cuda_libs &&
gcc $cflags -DRL_SAGE_PV16=1 -shared plugins/attention/sage/attention-sage.c $build/obj/sage-kernel.o -o $mods/raylight-attention-sage16.so $cuda_libs &&
gcc $cflags tests/attention/test-attention-sage-gpu.c -o $build/test-attention-sage-gpu $build/obj/libattention.a $cuda_libs -ldl -lm -lpthread &&
gcc $cflags tests/bench/bench-attention.c -o $build/bench-attention $build/obj/libattention.a $cuda_libs -ldl -lm -lpthread \
  || { echo "BUILD FAILED"; exit 1; }
grep -A2 "attention" "$out/nvcc-sage.log" | grep -E "registers|spill" | sed 's/^/ptxas attention: /' | tee -a "$summary"
cuobjdump -sass $build/obj/sage-kernel.o > "$out/sage.sass" 2>&1
note "sass: IGMMA $(grep -c IGMMA "$out/sage.sass")  QGMMA $(grep -c QGMMA "$out/sage.sass")  LDL/STL $(grep -cE '\b(LDL|STL)\b' "$out/sage.sass")  MUFU.EX2 $(grep -c 'MUFU.EX2' "$out/sage.sass")"
export OMP_NUM_THREADS=16

test_failed=0
for schedule in ping-pong in-order; do
  step "test-attention-sage-gpu ($schedule)"
  RAYLIGHT_SAGE_SCHEDULE=$schedule timeout ${RL_TEST_TIMEOUT:-60} $build/test-attention-sage-gpu 2>&1 \
    | tee "$out/test-sage-$schedule.log"
  status=${PIPESTATUS[0]}
  note "test ($schedule): exit $status"
  [ $status = 0 ] || test_failed=1
  grep -E "^# sage|^not ok|check failed" "$out/test-sage-$schedule.log" | head -30 >> "$summary"
done
if [ $test_failed = 1 ]; then
  for e in exp-offsets exp-a-order; do
    step "diagnosis: $e"
    mkdir -p $build/$e/plugins
    gcc $cflags -shared plugins/attention/sage/attention-sage.c $build/$e/sage-kernel.o \
      -o $build/$e/plugins/raylight-attention-sage.so $cuda_libs
    RAYLIGHT_ATTENTION_PATH=$build/$e/plugins RAYLIGHT_SAGE_SCHEDULE=in-order timeout 40 \
      $build/test-attention-sage-gpu 2>&1 | tee "$out/test-sage-$e.log"
    grep -E "^# sage|^# variant sage" "$out/test-sage-$e.log" | head -8 | sed "s/^/$e: /" >> "$summary"
  done
  what=test   # timings of a wrong kernel mean nothing
fi
[ "$what" = test ] && { step "summary"; cat "$summary"; exit 0; }

step "torch SDPA"
PYTHONUNBUFFERED=1 timeout ${RL_TORCH_TIMEOUT:-90} python3 tests/bench/torch_attention.py 2>&1 | tee "$out/torch-attention.txt"
for schedule in ping-pong in-order; do
  step "bench-attention sage ($schedule)"
  RAYLIGHT_SAGE_SCHEDULE=$schedule timeout ${RL_BENCH_TIMEOUT:-50} $build/bench-attention \
    --torch "$out/torch-attention.txt" --variants sage,sage16 2>&1 | tee "$out/bench-sage-$schedule.txt"
  grep -E "^(sage|torch)" "$out/bench-sage-$schedule.txt" | sed "s/^/$schedule /" >> "$summary"
done
if command -v ncu >/dev/null; then
  # Where the time goes at the smallest shape (H 12, L 4680): the four
  # preparation kernels against the attention kernel, two calls of sage.
  step "ncu: kernel times of sage at H 12, L 4680"
  timeout ${RL_NCU_TIMEOUT:-60} ncu --metrics gpu__time_duration.sum --launch-count 10 \
    $build/bench-attention --variants sage > "$out/ncu-sage.txt" 2>&1
  grep -E "channel_|quantise_|attention|gpu__time_duration" "$out/ncu-sage.txt" \
    | grep -oE "(channel_stats|channel_finish|quantise_q|quantise_kv|attention<[^>]*>|attention)|[0-9.,]+ *(usecond|msecond|nsecond)" \
    | paste - - | sed 's/^/ncu /' >> "$summary"
fi
step "summary"
cat "$summary"
