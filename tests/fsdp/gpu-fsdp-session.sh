#!/usr/bin/env bash
# One call on a 2-GPU machine: FSDP2, CPU offload and Ulysses 2 + FSDP2 of a
# Wan 2.1 1.3B-shaped DiT (then 14B-shaped with 4 blocks, when time is
# left) with random bf16 weights, against the replicated
# one-GPU forward measured in the same run (tests/fsdp/fsdp-gpu-bench.c):
# parity, ms per forward and ratios, device memory per GPU, and how much of
# the block all-gathers the side stream hides. Logs go to $OUT (or ./gpu-out).
#   [PREBUILT=build-dir] bash tests/fsdp/gpu-fsdp-session.sh [LAYERS [FRAMES HEIGHT WIDTH]]
# LAYERS (default 30, Wan 1.3B) and the latent size (default 3×60×104:
# 832×480, 9 frames) keep the run inside one short device call.
set -u
layers=${1:-30}
latent=${2:-3}" "${3:-60}" "${4:-104}
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
build=build-gpu
step () { echo "=== $(date +%T) $*"; }

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/nvidia-smi.csv"
nvidia-smi topo -m > "$out/topology.txt" 2>&1

# Bare GPU servers may lack OpenBLAS/pkg-config (the CPU backend needs them)
# and a system NCCL.
. "$(dirname "$0")/../gpu-machine-debs.sh"
unpack_gpu_debs
nccl=
if ! ls /usr/local/cuda/lib64/libnccl.so* >/dev/null 2>&1 \
   && ! ls /usr/lib/x86_64-linux-gnu/libnccl.so* >/dev/null 2>&1; then
  nccl=$(/opt/torch/.venv/bin/python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__) + "/lib")' 2>/dev/null)
  step "linking NCCL from $nccl"
  if [ -n "$nccl" ]; then
    ln -sf "$nccl"/libnccl.so.2 /usr/lib/x86_64-linux-gnu/libnccl.so
    ln -sf "$nccl"/libnccl.so.2 /usr/lib/x86_64-linux-gnu/libnccl.so.2
    inc=$(dirname "$nccl")/include
    [ -f /usr/local/cuda/include/nccl.h ] || ln -sf "$inc"/nccl*.h /usr/local/cuda/include/ 2>/dev/null
    ldconfig
  fi
fi

# Without meson, only what the bench needs, in parallel: a shared checkout's
# half-written meson.build elsewhere must not stop this run.
build_direct () {
  local dir=$build/direct objs=() pids=() f o
  mkdir -p $dir/obj $build/tests/fsdp $build/workers/checkpoint
  printf '#pragma once\n#define RAYLIGHT_HAVE_CUDA 1\n#define RAYLIGHT_HAVE_UI 0\n' > $dir/raylight-config.h
  local cflags="-std=gnu17 -O2 -D_GNU_SOURCE -fPIC -fopenmp -I. -I$dir -I/usr/local/cuda/include $(pkg-config --cflags openblas)"
  for f in workers/runtime/*.c workers/backend-cpu/*.c workers/backend-cuda/*.c \
           workers/comm/comm.c workers/comm/comm-shm.c workers/comm/comm-nccl.c \
           workers/parallel/lse-merge.c workers/parallel/parallel-util.c workers/parallel/ring-attention.c \
           workers/parallel/seq-split.c workers/parallel/usp-attention.c workers/parallel/usp-plan.c \
           workers/checkpoint/gguf.c workers/checkpoint/json-lite.c workers/checkpoint/mapped-file.c \
           workers/checkpoint/safetensors-set.c workers/checkpoint/safetensors.c workers/checkpoint/gguf-dequant.c \
           workers/fsdp/*.c plugins/common/weight-set.c plugins/wan/wan-config.c plugins/wan/wan-dit.c \
           tools/make-checkpoint-writer.c; do
    o=$dir/obj/$(echo $f | tr / _).o; objs+=($o)
    gcc $cflags -c $f -o $o & pids+=($!)
  done
  for f in workers/backend-cuda/*.cu workers/parallel/lse-merge-cuda.cu workers/checkpoint/gguf-dequant-cuda.cu; do
    o=$dir/obj/$(echo $f | tr / _).o; objs+=($o)
    nvcc -gencode=arch=compute_90a,code=sm_90a -std=c++17 -O3 --expt-relaxed-constexpr \
      -Xcompiler=-fPIC -I. -I$dir -c $f -o $o & pids+=($!)
  done
  for p in "${pids[@]}"; do wait $p || return 1; done
  ar rcs $dir/libfsdp-gpu.a "${objs[@]}"
  local libs="-Wl,-u,rl_backend_cpu -Wl,-u,rl_backend_cuda -Wl,-u,rl_gguf_dequantize_cuda $dir/libfsdp-gpu.a \
    $(pkg-config --libs openblas) -L/usr/local/cuda/lib64 -lnccl -lcublasLt -lcublas -lcudart -lstdc++ -fopenmp -lpthread -lm"
  gcc $cflags tests/fsdp/fsdp-gpu-bench.c -o $build/tests/fsdp/fsdp-gpu-bench $libs || return 1
  gcc $cflags tools/make-checkpoint.c -o $build/workers/checkpoint/make-checkpoint $libs || return 1
}

step "build"
targets="tests/fsdp/fsdp-gpu-bench workers/checkpoint/make-checkpoint"
built=0
export LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/lib/x86_64-linux-gnu/openblas-pthread${nccl:+:$nccl}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
# Binaries built on the workstation (same CUDA 13, sm_90a), carried as
# $PREBUILT/{tests/fsdp/fsdp-gpu-bench,workers/checkpoint/make-checkpoint},
# save the build when every library they need resolves here.
if [ -n "${PREBUILT:-}" ] && [ -x "$PREBUILT/tests/fsdp/fsdp-gpu-bench" ] \
   && ! ldd "$PREBUILT/tests/fsdp/fsdp-gpu-bench" "$PREBUILT/workers/checkpoint/make-checkpoint" | grep -q "not found"; then
  echo "using the binaries in $PREBUILT"
  build=$PREBUILT
  built=1
elif [ ! -d $build/direct ] && { [ -f $build/build.ninja ] \
     || meson setup $build -Dapp=disabled -Dui=disabled -Dcuda=enabled > "$out/configure.log" 2>&1; }; then
  ninja -C $build -j16 $targets > "$out/build.log" 2>&1 && built=1 \
    || { grep -E "error|FAILED" "$out/build.log" | head -20; echo "meson build failed: building directly"; }
elif [ $built = 0 ]; then
  tail -5 "$out/configure.log" 2>/dev/null; echo "configure failed: building directly"
fi
if [ $built = 0 ]; then
  build_direct > "$out/build-direct.log" 2>&1 || { grep -E "error" -A3 "$out/build-direct.log" | head -40; exit 1; }
fi

# Wan 2.1 key layout (shared/reference/checkpoint-keys) at DIM/FFN with
# LAYERS blocks, random bf16: write_keys DIM FFN LAYERS > keys.txt
write_keys () {
  local d=$1 f=$2 n=$3 i a p
  echo "patch_embedding.weight [$d, 16, 1, 2, 2]"; echo "patch_embedding.bias [$d]"
  echo "text_embedding.0.weight [$d, 4096]"; echo "text_embedding.0.bias [$d]"
  for l in text_embedding.2 time_embedding.2; do echo "$l.weight [$d, $d]"; echo "$l.bias [$d]"; done
  echo "time_embedding.0.weight [$d, 256]"; echo "time_embedding.0.bias [$d]"
  echo "time_projection.1.weight [$((6 * d)), $d]"; echo "time_projection.1.bias [$((6 * d))]"
  echo "head.modulation [1, 2, $d]"; echo "head.head.weight [64, $d]"; echo "head.head.bias [64]"
  for ((i = 0; i < n; i++)); do
    echo "blocks.$i.modulation [1, 6, $d]"
    for a in self_attn cross_attn; do
      for p in q k v o; do echo "blocks.$i.$a.$p.weight [$d, $d]"; echo "blocks.$i.$a.$p.bias [$d]"; done
      echo "blocks.$i.$a.norm_q.weight [$d]"; echo "blocks.$i.$a.norm_k.weight [$d]"
    done
    echo "blocks.$i.norm3.weight [$d]"; echo "blocks.$i.norm3.bias [$d]"
    echo "blocks.$i.ffn.0.weight [$f, $d]"; echo "blocks.$i.ffn.0.bias [$f]"
    echo "blocks.$i.ffn.2.weight [$d, $f]"; echo "blocks.$i.ffn.2.bias [$d]"
  done
}

# bench NAME DIM FFN LAYERS: make the checkpoint, run every phase on it.
bench () {
  local name=$1 ckpt=${TMPDIR:-/tmp}/wan-$1-random.safetensors
  step "checkpoint: Wan $name shapes (dim $2, ffn $3), $4 blocks, random bf16"
  write_keys $2 $3 $4 > "$out/keys-$name.txt"
  ./$build/workers/checkpoint/make-checkpoint --seed 5 --dtype BF16 --input "$out/keys-$name.txt" "$ckpt" \
    > "$out/make-checkpoint-$name.log" 2>&1 || { tail -5 "$out/make-checkpoint-$name.log"; return 1; }
  ls -l "$ckpt"
  step "bench $name"
  OMP_NUM_THREADS=8 timeout 120 ./$build/tests/fsdp/fsdp-gpu-bench "$ckpt" $latent 2>&1 | tee "$out/bench-$name.txt"
  echo "bench $name exit ${PIPESTATUS[0]}"
  rm -f "$ckpt"
}

started=$SECONDS
bench 1.3B 1536 8960 "$layers"
# The 14B geometry with few blocks, when the first run left time for it.
if [ $((SECONDS - started)) -lt ${SECOND_BUDGET_S:-100} ]; then
  bench 14B-${LAYERS_14B:-4}blocks 5120 13824 "${LAYERS_14B:-4}"
fi
step "done"
