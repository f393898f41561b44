#!/usr/bin/env bash
# One call on the GPU machine: build the CUDA targets, run the cuda test
# suite, then the PyTorch reference and our benchmarks in the same run.
# Logs and results go to $OUT (or ./gpu-out). Usage, from the repo root:
#   bash tests/cuda/gpu-session.sh [tests|bench|all]
# Bare GPU servers may lack OpenBLAS and pkg-config (the CPU backend, the
# reference of the parity tests, needs them): .gpu-debs/, when present,
# holds Debian packages of both, unpacked only if missing.
set -u
what=${1:-all}
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
build=build-gpu
export PATH=/opt/torch/.venv/bin:$PATH
step () { echo "=== $(date +%T) $*"; }

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv | tee "$out/nvidia-smi.csv"

if ! pkg-config --exists openblas 2>/dev/null && [ -d .gpu-debs ]; then
  step "unpacking OpenBLAS / pkg-config from .gpu-debs"
  for deb in .gpu-debs/*.deb; do dpkg -x "$deb" /; done
  ln -sf /usr/lib/x86_64-linux-gnu/openblas-pthread/pkgconfig/openblas.pc /usr/lib/x86_64-linux-gnu/pkgconfig/openblas.pc 2>/dev/null \
    || { mkdir -p /usr/lib/x86_64-linux-gnu/pkgconfig && ln -sf /usr/lib/x86_64-linux-gnu/openblas-pthread/pkgconfig/openblas.pc /usr/lib/x86_64-linux-gnu/pkgconfig/openblas.pc; }
  echo /usr/lib/x86_64-linux-gnu/openblas-pthread > /etc/ld.so.conf.d/openblas-pthread.conf
  ldconfig
fi
if ! ls /usr/local/cuda/lib64/libnccl.so* /usr/lib/x86_64-linux-gnu/libnccl.so* >/dev/null 2>&1; then
  nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__) + "/lib")' 2>/dev/null)
  step "linking NCCL from $nccl"
  [ -n "$nccl" ] && ln -sf "$nccl"/libnccl.so.2 /usr/lib/x86_64-linux-gnu/libnccl.so && ldconfig
fi

# Without meson (another module's half-written meson.build can stop the
# configure of a shared checkout): compile just what these programs need.
build_direct () {
  local dir=$build/direct objs=() pids=()
  mkdir -p $dir $build/tests/cuda $build/tests/bench
  local cflags="-std=gnu17 -O2 -D_GNU_SOURCE -fPIC -I. -I/usr/local/cuda/include $(pkg-config --cflags openblas)"
  for f in workers/runtime/*.c workers/backend-cpu/*.c workers/backend-cuda/*.c; do
    o=$dir/$(echo $f | tr / _).o; objs+=($o)
    gcc $cflags -fopenmp -c $f -o $o & pids+=($!)
  done
  for f in workers/backend-cuda/*.cu; do
    o=$dir/$(echo $f | tr / _).o; objs+=($o)
    nvcc -gencode=arch=compute_90a,code=sm_90a -std=c++17 -O3 -lineinfo --expt-relaxed-constexpr \
      -Xcompiler=-fPIC -I. -c $f -o $o & pids+=($!)
  done
  for p in "${pids[@]}"; do wait $p || return 1; done
  ar rcs $dir/libraylight-gpu.a "${objs[@]}"
  local libs="-Wl,-u,rl_backend_cpu -Wl,-u,rl_backend_cuda $dir/libraylight-gpu.a $(pkg-config --libs openblas) -L/usr/local/cuda/lib64 -lcublasLt -lcublas -lcudart -fopenmp -lpthread -lm"
  for t in tests/cuda/test-cuda-ops tests/cuda/test-cuda-runtime tests/bench/bench-gemm tests/bench/bench-ops; do
    gcc $cflags $t.c -o $build/$t $libs || return 1
  done
}

step "configure"
direct=0
if [ ! -f $build/build.ninja ] && [ ! -d $build/direct ]; then
  meson setup $build -Dapp=disabled -Dui=disabled -Dcuda=enabled > "$out/configure.log" 2>&1 \
    || { tail -8 "$out/configure.log"; echo "configure failed: building directly"; direct=1; }
elif [ -d $build/direct ]; then
  direct=1
fi
step "build"
targets="tests/cuda/test-cuda-ops tests/cuda/test-cuda-runtime tests/bench/bench-gemm tests/bench/bench-ops"
if [ $direct = 1 ]; then
  build_direct > "$out/build.log" 2>&1 || { grep -E "error" -A4 "$out/build.log" | head -60; exit 1; }
else
  ninja -C $build -j16 $targets > "$out/build.log" 2>&1 || { grep -E "error|FAILED" -A4 "$out/build.log" | head -60; exit 1; }
fi

if [ -f tests/cuda/probe-fp8.c ]; then
  step "fp8 probe"
  gcc -O1 -I/usr/local/cuda/include tests/cuda/probe-fp8.c -o $build/probe-fp8 \
    -L/usr/local/cuda/lib64 -lcublasLt -lcudart && ./$build/probe-fp8
fi

if [ "$what" != bench ]; then
  step "tests"
  for t in test-cuda-runtime test-cuda-ops; do
    RAYLIGHT_TEST_SEED=${RAYLIGHT_TEST_SEED:-} OMP_NUM_THREADS=16 ./$build/tests/cuda/$t > "$out/$t.tap" 2>&1
    echo "$t exit $? : $(grep -c '^ok' "$out/$t.tap") ok, $(grep -c '^not ok' "$out/$t.tap") not ok"
    grep -E "^not ok|check failed|Bail" "$out/$t.tap" | head -30
  done
  # (meson test --no-rebuild refuses to run while other suites' programs
  # are unbuilt, so the two TAP programs run directly above.)
fi

if [ "$what" != tests ]; then
  step "torch reference"
  PYTHONUNBUFFERED=1 python3 tests/bench/torch_gemm_ops.py > "$out/torch.json" 2> "$out/torch.err" \
    || tail -5 "$out/torch.err"
  step "bench-ops"
  ./$build/tests/bench/bench-ops --torch "$out/torch.json" 2>&1 | tee "$out/bench-ops.txt"
  for variant in 1; do
    echo "norm variant $variant:"
    RL_CUDA_NORM_VARIANT=$variant ./$build/tests/bench/bench-ops --torch "$out/torch.json" 2>&1 | grep -E "norm|RoPE"
  done
  step "bench-gemm"
  ./$build/tests/bench/bench-gemm --torch "$out/torch.json" 2>&1 | tee "$out/bench-gemm.txt"
  cat "$out/torch.json"
fi
step "done"
