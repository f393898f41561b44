#!/usr/bin/env bash
# One call on the GPU machine: build the CUDA targets, run the cuda test
# suite, then the PyTorch reference and our benchmarks in the same run.
# The GEMM comparison alternates torch_gemm_ops.py and bench-gemm processes
# over $ROUNDS rounds (default 3) and summarises medians across them: the
# clocks under a long matmul drift between processes by more than the
# differences being measured.
# Logs and results go to $OUT (or ./gpu-out). Usage, from the repo root:
#   [ROUNDS=3] [PREBUILT=1] bash tests/cuda/gpu-session.sh [tests|bench|all]
# (with PREBUILT=1, .gpu-prebuilt/ may also hold libgemm-shim.so for the
# in-process GEMM comparison; see the end of this script).
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

. "$(dirname "$0")/../gpu-machine-debs.sh"
unpack_gpu_debs
if ! ls /usr/local/cuda/lib64/libnccl.so* /usr/lib/x86_64-linux-gnu/libnccl.so* >/dev/null 2>&1; then
  nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__) + "/lib")' 2>/dev/null)
  step "linking NCCL from $nccl"
  [ -n "$nccl" ] && ln -sf "$nccl"/libnccl.so.2 /usr/lib/x86_64-linux-gnu/libnccl.so && ldconfig
fi

# Without meson (another module's half-written meson.build can stop the
# configure of a shared checkout): compile just what these programs need.
build_direct () {
  local dir=$build/direct objs=() pids=()
  mkdir -p $dir $build/tests/cuda $build/tests/bench $build/tests/checkpoint
  local cflags="-std=gnu17 -O2 -D_GNU_SOURCE -fPIC -I. -I/usr/local/cuda/include $(pkg-config --cflags openblas)"
  for f in workers/runtime/*.c workers/backend-cpu/*.c workers/backend-cuda/*.c workers/checkpoint/*.c; do
    o=$dir/$(echo $f | tr / _).o; objs+=($o)
    gcc $cflags -fopenmp -ffp-contract=off -c $f -o $o & pids+=($!)
  done
  for f in workers/backend-cuda/*.cu workers/checkpoint/*.cu; do
    o=$dir/$(echo $f | tr / _).o; objs+=($o)
    nvcc -gencode=arch=compute_90a,code=sm_90a -std=c++17 -O3 -lineinfo --expt-relaxed-constexpr \
      -Xcompiler=-fPIC -I. -c $f -o $o & pids+=($!)
  done
  for p in "${pids[@]}"; do wait $p || return 1; done
  ar rcs $dir/libraylight-gpu.a "${objs[@]}"
  local libs="-Wl,-u,rl_backend_cpu -Wl,-u,rl_backend_cuda -Wl,-u,rl_gguf_dequantize -Wl,-u,rl_gguf_dequantize_cuda $dir/libraylight-gpu.a $(pkg-config --libs openblas) -L/usr/local/cuda/lib64 -lcublasLt -lcublas -lcudart -fopenmp -lpthread -lm"
  for t in tests/cuda/test-cuda-ops tests/cuda/test-cuda-runtime tests/checkpoint/test-gguf-cuda tests/bench/bench-gemm tests/bench/bench-ops; do
    gcc $cflags $t.c -o $build/$t $libs || return 1
  done
}

# With PREBUILT=1, .gpu-prebuilt/ holds these programs built on a matching
# host from the same sources (same CUDA, glibc and Debian libraries; copy
# them there from your build right before the call); if every library they
# need resolves here they run as they are, which saves the device time of
# compiling the kernels. Opt-in, so that stale programs never run silently.
prebuilt=0
if [ "${PREBUILT:-0}" = 1 ] && [ -d .gpu-prebuilt ]; then
  export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/lib/x86_64-linux-gnu/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  prebuilt=1
  for f in .gpu-prebuilt/*; do
    if ldd "$f" 2>&1 | grep -q "not found"; then
      echo "prebuilt $f misses libraries:"; ldd "$f" | grep "not found"; prebuilt=0
    fi
  done
fi
if [ $prebuilt = 1 ]; then
  step "using .gpu-prebuilt"
  mkdir -p $build/tests/cuda $build/tests/bench $build/tests/checkpoint
  for t in cuda/test-cuda-ops cuda/test-cuda-runtime checkpoint/test-gguf-cuda bench/bench-gemm bench/bench-ops; do
    cp .gpu-prebuilt/$(basename $t) $build/tests/$t
  done
fi

step "configure"
direct=0
[ $prebuilt = 1 ] && direct=2
if [ $direct = 2 ]; then
  :
elif [ ! -f $build/build.ninja ] && [ ! -d $build/direct ]; then
  meson setup $build -Dapp=disabled -Dui=disabled -Dcuda=enabled > "$build.configure.log" 2>&1 \
    || { tail -8 "$build.configure.log"; echo "configure failed: building directly"; direct=1; }
elif [ -d $build/direct ]; then
  direct=1
fi
step "build"
targets="tests/cuda/test-cuda-ops tests/cuda/test-cuda-runtime tests/checkpoint/test-gguf-cuda tests/bench/bench-gemm tests/bench/bench-ops"
# Logs of configure and build come back only when the build fails (the
# machine returns at most 8 files).
if [ $direct = 2 ]; then
  :
elif [ $direct = 1 ]; then
  build_direct > "$build.build.log" 2>&1 \
    || { cp "$build.build.log" "$out/build.log"; grep -E "error" -A4 "$build.build.log" | head -60; exit 1; }
else
  ninja -C $build -j16 $targets > "$build.build.log" 2>&1 \
    || { cp "$build.build.log" "$out/build.log"; grep -E "error|FAILED" -A4 "$build.build.log" | head -60; exit 1; }
fi

if [ -f tests/cuda/probe-fp8.c ]; then
  step "fp8 probe"
  gcc -O1 -I/usr/local/cuda/include tests/cuda/probe-fp8.c -o $build/probe-fp8 \
    -L/usr/local/cuda/lib64 -lcublasLt -lcudart -lm && ./$build/probe-fp8 2>&1 | tee "$out/probe-fp8.txt"
fi

if [ "$what" != bench ]; then
  step "tests"
  for t in cuda/test-cuda-runtime cuda/test-cuda-ops checkpoint/test-gguf-cuda; do
    name=$(basename $t)
    OMP_NUM_THREADS=16 ./$build/tests/$t > "$out/tests.log.$name" 2>&1
    echo "$name exit $? : $(grep -c '^ok' "$out/tests.log.$name") ok, $(grep -c '^not ok' "$out/tests.log.$name") not ok"
    grep -E "^not ok|check failed|Bail" "$out/tests.log.$name" | head -30
  done
  grep -hE "^# (gemm x|norm_modulate|rms_norm\+rope|default: |packed rows|seed|fp8)" "$out"/tests.log.*
  # One log file back (the machine returns at most 8 files).
  for f in "$out"/tests.log.*; do echo "=== $f"; cat "$f"; done > "$out/tests.log" && rm -f "$out"/tests.log.*
  # (meson test --no-rebuild refuses to run while other suites' programs
  # are unbuilt, so the two TAP programs run directly above.)
fi

if [ "$what" != tests ]; then
  rounds=${ROUNDS:-3}
  rm -rf $build/rounds && mkdir -p $build/rounds
  for r in $(seq 1 $rounds); do
    step "round $r: torch reference"
    PYTHONUNBUFFERED=1 python3 tests/bench/torch_gemm_ops.py > $build/rounds/torch-$r.json 2> $build/rounds/torch-$r.err \
      || tail -5 $build/rounds/torch-$r.err
    step "round $r: bench-gemm"
    ./$build/tests/bench/bench-gemm --torch $build/rounds/torch-$r.json --json $build/rounds/ours-$r.json \
      > $build/rounds/bench-gemm-$r.txt 2>&1 || tail -5 $build/rounds/bench-gemm-$r.txt
  done
  cp $build/rounds/torch-1.json "$out/torch.json"
  for r in $(seq 1 $rounds); do cat $build/rounds/bench-gemm-$r.txt; echo; done > "$out/bench-gemm-rounds.txt"
  step "bench-ops (torch numbers of round 1)"
  ./$build/tests/bench/bench-ops --torch "$out/torch.json" 2>&1 | tee "$out/bench-ops.txt"
  step "bench-gemm summary over $rounds rounds"
  python3 tests/bench/torch_gemm_ops.py --summarise $build/rounds/torch-*.json $build/rounds/ours-*.json \
    2>&1 | tee "$out/bench-gemm.txt"
  # The same products interleaved with torch.matmul in one process (the
  # rounds above compare processes, whose clocks differ: under a bf16
  # product an H100 sits at its 700 W cap, 1.1-1.7 GHz with temperature).
  # Our GEMM comes in through a small shared library (tests/bench/gemm-shim.c).
  shim=.gpu-prebuilt/libgemm-shim.so
  if [ $prebuilt = 0 ]; then
    shim=$build/libgemm-shim.so
    lib=$build/workers/backend-cuda/libraylight-backend-cuda.a
    [ $direct = 1 ] && lib=$build/direct/libraylight-gpu.a
    gcc -shared -fPIC -std=gnu17 -O2 -I. -I/usr/local/cuda/include tests/bench/gemm-shim.c $lib \
      -L/usr/local/cuda/lib64 -lcublasLt -lcudart -lstdc++ -o $shim || shim=
  fi
  if [ -n "$shim" ] && [ -f "$shim" ]; then
    step "GEMM interleaved with torch.matmul in one process"
    PYTHONUNBUFFERED=1 python3 tests/bench/gemm_interleaved.py "$shim" > "$out/bench-gemm-interleaved.txt" 2>&1
    grep -E "^##|default|^\| torch|worst" "$out/bench-gemm-interleaved.txt"
  fi
fi
step "done"
