#!/usr/bin/env bash
# One call on the GPU machine: build raylight-worker (CPU + CUDA backends)
# and the pool tests directly with gcc/nvcc (no meson: another module's
# half-written meson.build must not stop this), then run the GPU pool test
# and the CPU fault tests there. Logs go to $OUT (or ./gpu-out). Usage,
# from the repo root:  bash tests/pool/gpu-pool-session.sh
set -u
out=${OUT:-$PWD/gpu-out}
build=$PWD/build-gpu-pool
dir=$build/direct
mkdir -p "$out" "$dir"
step () { echo "=== $(date +%T) $*"; }

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/nvidia-smi.csv"
if ! pkg-config --exists openblas 2>/dev/null && [ -d .gpu-debs ]; then
  step "unpacking OpenBLAS / pkg-config from .gpu-debs"
  for deb in .gpu-debs/*.deb; do dpkg -x "$deb" /; done
  mkdir -p /usr/lib/x86_64-linux-gnu/pkgconfig
  ln -sf /usr/lib/x86_64-linux-gnu/openblas-pthread/pkgconfig/openblas.pc \
    /usr/lib/x86_64-linux-gnu/pkgconfig/openblas.pc
  echo /usr/lib/x86_64-linux-gnu/openblas-pthread > /etc/ld.so.conf.d/openblas-pthread.conf
  ldconfig
fi

cat > "$dir/raylight-config.h" <<CONFIG
#pragma once
#define RAYLIGHT_BUILD_DIR "$build"
#define RAYLIGHT_SOURCE_DIR "$PWD"
#define RAYLIGHT_LIBEXEC_DIR "/usr/local/libexec"
#define RAYLIGHT_DATA_DIR "/usr/local/share/raylight"
#define RAYLIGHT_PLUGIN_DIR "/usr/local/lib/raylight/plugins"
#define RAYLIGHT_VERSION "0.1.0"
#define RAYLIGHT_HAVE_CUDA 1
#define RAYLIGHT_HAVE_UI 0
CONFIG

step "build"
cflags="-std=gnu17 -O2 -g -D_GNU_SOURCE -fPIC -I$dir -I. -I/usr/local/cuda/include $(pkg-config --cflags openblas)"
objs=() pids=()
for f in workers/runtime/*.c workers/backend-cpu/*.c workers/backend-cuda/*.c \
         workers/checkpoint/safetensors.c workers/checkpoint/json-lite.c \
         workers/checkpoint/gguf.c workers/checkpoint/gguf-dequant.c \
         workers/protocol/*.c workers/pool/*.c tools/make-checkpoint-writer.c; do
  o=$dir/$(echo $f | tr / _).o; objs+=($o)
  gcc $cflags -fopenmp -c $f -o $o 2>>"$out/build.log" & pids+=($!)
done
for f in workers/backend-cuda/*.cu; do
  o=$dir/$(echo $f | tr / _).o; objs+=($o)
  nvcc -gencode=arch=compute_90a,code=sm_90a -std=c++17 -O3 --expt-relaxed-constexpr \
    -Xcompiler=-fPIC -I. -I$dir -c $f -o $o 2>>"$out/build.log" & pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait $p || failed=1; done
[ $failed = 0 ] || { grep -E "error" -A3 "$out/build.log" | head -40; exit 1; }
ar rcs $dir/libraylight.a "${objs[@]}"
libs="-Wl,-u,rl_backend_cpu -Wl,-u,rl_backend_cuda $dir/libraylight.a $(pkg-config --libs openblas) \
  -L/usr/local/cuda/lib64 -lcublasLt -lcublas -lcudart -lstdc++ -fopenmp -lpthread -lm"
mkdir -p $build/workers/worker $build/tests/pool
gcc $cflags workers/worker/*.c -o $build/workers/worker/raylight-worker $libs 2>>"$out/build.log" \
  || { tail -20 "$out/build.log"; exit 1; }
for t in test-pool-cuda test-pool-faults test-pool test-pool-leaks; do
  gcc $cflags tests/pool/$t.c -o $build/tests/pool/$t $libs 2>>"$out/build.log" \
    || { tail -20 "$out/build.log"; exit 1; }
done

step "tests"
export RAYLIGHT_WORKER=$build/workers/worker/raylight-worker OMP_NUM_THREADS=4
for t in test-pool-cuda test-pool-faults test-pool test-pool-leaks; do
  $build/tests/pool/$t > "$out/$t.tap" 2>&1
  echo "$t exit $? : $(grep -c '^ok' "$out/$t.tap") ok, $(grep -c '^not ok' "$out/$t.tap") not ok"
  grep -E "^not ok|check failed|^# rank|SKIP|error:" "$out/$t.tap" | head -20
done
step "done"
