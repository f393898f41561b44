#!/usr/bin/env bash
# One call on the GPU machine for the attention plugins: build them and
# their GPU test and benchmark with gcc/nvcc directly (no meson, no
# OpenBLAS: none of these need the CPU backend), run the parity test, then
# ours against PyTorch's SDPA in one process (tests/bench/
# attention_vs_torch.py) and bench-attention. Logs go to $OUT (or
# ./gpu-out). Usage, from the repo root:
#   bash tests/attention/gpu-session.sh [test|bench|all|sanitize|flash]
# (flash: the GPU test, then each flash kernel path on the bench shapes,
# without PyTorch.)
set -u
what=${1:-all}
out=${OUT:-$PWD/gpu-out}
build=$PWD/build-attention-gpu
mkdir -p "$out" "$build/plugins/attention" "$build/obj"
export PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH
step () { echo "=== $(date +%T) $*"; }

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv

# cuDNN: the system's, else the one PyTorch's wheels bring.
cudnn_include=/usr/local/cuda/include
if ! ls /usr/local/cuda/include/cudnn_graph.h /usr/include/cudnn_graph.h >/dev/null 2>&1; then
  cudnn_dir=$(python3 -c 'import nvidia.cudnn, os; print(os.path.dirname(nvidia.cudnn.__file__))' 2>/dev/null \
              || python3 -c 'import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])')
  cudnn_include=$cudnn_dir/include
fi
# shellcheck disable=SC1091  # sourced from the tests folder, read separately
. "$(dirname "$0")/../torch-cudnn-env.sh"
use_torch_cudnn
echo "cudnn headers: $cudnn_include; LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"

step "build"
cat > "$build/raylight-config.h" <<CONFIG
#pragma once
#define RAYLIGHT_VERSION "gpu-session"
#define RAYLIGHT_PLUGIN_DIR "$build/installed"
#define RAYLIGHT_BUILD_DIR "$build"
#define RAYLIGHT_SOURCE_DIR "$PWD"
#define RAYLIGHT_HAVE_CUDA 1
CONFIG
cflags="-std=gnu17 -O2 -g -D_GNU_SOURCE -fPIC -Wall -I. -I$build -I/usr/local/cuda/include -I$cudnn_include"
nvflags="-gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=sm_80 -std=c++17 -O3 -lineinfo --expt-relaxed-constexpr -Xcompiler=-fPIC -I. -I$build --resource-usage"
cuda_libs="-L/usr/local/cuda/lib64 -lcudart -lstdc++"
pids=()
nvcc $nvflags -c plugins/attention/flash/flash-kernel.cu -o $build/obj/flash-kernel.o > "$out/nvcc-flash.log" 2>&1 & pids+=($!)
nvcc $nvflags -c plugins/attention/flash/flash-hopper.cu -o $build/obj/flash-hopper.o > "$out/nvcc-flash-hopper.log" 2>&1 & pids+=($!)
nvcc $nvflags -c plugins/attention/naive/naive-softmax.cu -o $build/obj/naive-softmax.o > "$out/nvcc-naive.log" 2>&1 & pids+=($!)
runtime_objs=()
for f in workers/runtime/*.c plugins/attention/attention-registry.c plugins/attention/attention-merge.c plugins/attention/attention-op.c; do
  o=$build/obj/$(basename $f .c).o; runtime_objs+=($o)
  gcc $cflags -c $f -o $o & pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait $p || failed=1; done
grep -E "registers|spill|error" "$out/nvcc-flash.log" "$out/nvcc-flash-hopper.log" | head -30
[ $failed = 0 ] || { cat "$out"/nvcc-*.log; echo "BUILD FAILED"; exit 1; }
ar rcs $build/obj/libattention.a "${runtime_objs[@]}"
mods=$build/plugins/attention
gcc $cflags -shared -fopenmp plugins/attention/reference/attention-reference.c -o $mods/raylight-attention-reference.so $build/obj/libattention.a -lm &&
gcc $cflags -shared plugins/attention/naive/attention-naive.c $build/obj/naive-softmax.o -o $mods/raylight-attention-naive.so $cuda_libs -lcublas &&
gcc $cflags -shared plugins/attention/flash/attention-flash.c $build/obj/flash-kernel.o $build/obj/flash-hopper.o -o $mods/raylight-attention-flash.so $cuda_libs &&
gcc $cflags -shared plugins/attention/cudnn/attention-cudnn.c -o $mods/raylight-attention-cudnn.so $cuda_libs -ldl &&
gcc $cflags tests/attention/test-attention-gpu.c -o $build/test-attention-gpu $build/obj/libattention.a $cuda_libs -ldl -lm -lpthread &&
gcc $cflags tests/bench/bench-attention.c -o $build/bench-attention $build/obj/libattention.a $cuda_libs -ldl -lm -lpthread \
  || { echo "BUILD FAILED"; exit 1; }
export OMP_NUM_THREADS=16

if [ "$what" = all ] || [ "$what" = test ] || [ "$what" = flash ]; then
  step "test-attention-gpu"
  timeout ${RL_TEST_TIMEOUT:-240} $build/test-attention-gpu 2>&1 | tee "$out/test-attention-gpu.log"
  echo "exit status ${PIPESTATUS[0]}"
fi
if [ "$what" = sanitize ]; then
  step "compute-sanitizer memcheck on test-attention-gpu"
  timeout 400 compute-sanitizer --tool memcheck --leak-check no $build/test-attention-gpu 2>&1 | tail -40 | tee "$out/sanitizer.log"
fi
if [ "$what" = all ] || [ "$what" = bench ] || [ "$what" = flash ]; then
  # Each flash kernel path forced in turn (KERNEL or KERNEL:STAGES), before
  # PyTorch so that a short call still gets them; ratios come with the
  # combined table below.
  for spec in hopper:2 hopper:3 hopper-lookahead:2 hopper-lookahead:3 hopper-pingpong:2 hopper-serial:2 mma; do
    kernel=${spec%%:*}; stages=; [ "$spec" != "$kernel" ] && stages=${spec#*:}
    step "bench-attention, flash kernel $kernel, ${stages:-default} K/V stages"
    RAYLIGHT_FLASH_KERNEL=$kernel RAYLIGHT_FLASH_STAGES=$stages timeout ${RL_BENCH_TIMEOUT:-120} \
      $build/bench-attention --variants flash 2>&1 | tee "$out/bench-attention-flash-$kernel-${stages:-default}.txt"
  done
fi
if [ "$what" = all ] || [ "$what" = bench ]; then
  # The ratios: ours and PyTorch's SDPA in one process, on the same
  # tensors, in turns (paired per round). Two processes one after the
  # other differ by the GPU's power state and their data (our cudnn, the
  # same kernel as PyTorch's, read 0.82-1.02x that way, 0.98-1.02x in turns).
  # Variants built elsewhere (sage: sage-gpu-session.sh) are found through
  # $RAYLIGHT_ATTENTION_PATH.
  step "ours against PyTorch's SDPA, one process"
  PYTHONUNBUFFERED=1 timeout 300 python3 tests/bench/attention_vs_torch.py \
    --plugins "$mods${RAYLIGHT_ATTENTION_PATH:+:$RAYLIGHT_ATTENTION_PATH}" \
    --variants "${RL_PAIR_VARIANTS:-cudnn,flash,sage}" --rounds "${RL_PAIR_ROUNDS:-5}" 2>&1 \
    | tee "$out/attention-vs-torch.txt"
  step "bench-attention (ours alone)"
  timeout 240 $build/bench-attention --variants flash,cudnn 2>&1 | tee "$out/bench-attention.txt"
fi
step "done"
