#!/usr/bin/env bash
# The Wan VAE decodes on the CUDA backend with cuDNN convolutions, in one
# call on the GPU machine, from the repo root:
#   bash tests/wan/gpu-vae-conv-session.sh
# 1. tests/wan/gpu-wan-session.sh build vae21 vae22 (PyTorch and ours, 81
#    frames 832×480, parity, time, peak, time per op), cuDNN's algorithm
#    for every convolution shape logged (RAYLIGHT_CUDA_CONV_LOG=1);
# 2. tests/cuda/test-cuda-conv (both convolution paths against the CPU
#    backend, cuDNN required) and test-cuda-ops;
# 3. VAE 2.1 and 2.2 again warm (three timed runs after one warm-up), and
#    2.1 cold with the algorithms cuDNN's heuristics rank first.
# The build alone took 290 s on an H100 machine (cuda-norm.cu: 286 s), so
# give the call 480 s; $SESSION_BUDGET_S (default 360) bounds step 1.
# Bare machines may lack OpenBLAS/pkg-config (the CPU backend needs them):
# .gpu-debs/ holds the packages, unpacked only when missing. $OUT gets
# summary.txt, full.log, tests.log and extra.log.
set -u
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
start=$(date +%s)
export PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH
. "$(dirname "$0")/../gpu-machine-debs.sh"
unpack_gpu_debs
if ! ls /usr/local/cuda/lib64/libnccl.so* /usr/lib/x86_64-linux-gnu/libnccl.so* >/dev/null 2>&1; then
  nccl=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__) + "/lib")' 2>/dev/null)
  [ -n "$nccl" ] && ln -sf "$nccl"/libnccl.so.2 /usr/lib/x86_64-linux-gnu/libnccl.so && ldconfig
fi
if ! ldconfig -p | grep -q 'libcudnn.so.9'; then
  cudnn_dir=$(python3 -c 'import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])' 2>/dev/null)
  [ -n "$cudnn_dir" ] && export LD_LIBRARY_PATH=$cudnn_dir/lib:${LD_LIBRARY_PATH:-}
fi

RAYLIGHT_CUDA_CONV_LOG=1 SESSION_BUDGET_S=${SESSION_BUDGET_S:-360} \
  bash tests/wan/gpu-wan-session.sh build vae21 vae22

build=$PWD/build-gpu
data=${WAN_DATA:-/tmp/wan-data}
{
  echo "=== +$(( $(date +%s) - start ))s unit tests"
  ninja -C "$build" -j 16 tests/cuda/test-cuda-conv tests/cuda/test-cuda-ops tests/cuda/test-cuda-copy \
    tests/cuda/test-cuda-channel-norm 2>&1 | tail -3
  RAYLIGHT_TEST_REQUIRE_CUDNN=1 timeout 60 "$build/tests/cuda/test-cuda-conv"
  echo "test-cuda-conv exit $?"
  for t in copy channel-norm; do
    timeout 60 "$build/tests/cuda/test-cuda-$t"
    echo "test-cuda-$t exit $?"
  done
  timeout 90 "$build/tests/cuda/test-cuda-ops" | grep -E "^(not )?ok|conv|check failed"
  echo "test-cuda-ops exit ${PIPESTATUS[0]}"
} > "$out/tests.log" 2>&1
grep -E "exit|^not ok|check failed" "$out/tests.log"

export RAYLIGHT_PLUGIN_PATH=$build/plugins/wan
{
  echo "=== +$(( $(date +%s) - start ))s VAE 2.1 warm, 3 runs"
  timeout 60 "$build/tests/bench/bench-wan" "$data/real-vae21.safetensors" \
    "$data/real-vae21-inputs.safetensors" /tmp/vae21-warm.raw --repeat 3
  echo "=== +$(( $(date +%s) - start ))s VAE 2.1 cold, algorithms from cuDNN's heuristics"
  RAYLIGHT_CUDA_CONV_ALGO=heuristic timeout 60 "$build/tests/bench/bench-wan" \
    "$data/real-vae21.safetensors" "$data/real-vae21-inputs.safetensors" /tmp/vae21-heuristic.raw \
    --repeat 1 --no-warm-up
  python3 -u tests/bench/bench_wan_torch.py compare "$data/vae21-torch.raw" /tmp/vae21-heuristic.raw \
    --limit 1e-2 --what vae21-decode-heuristic
  echo "=== +$(( $(date +%s) - start ))s VAE 2.2 warm, 3 runs"
  timeout 60 "$build/tests/bench/bench-wan" "$data/real-vae22.safetensors" \
    "$data/real-vae22-inputs.safetensors" /tmp/vae22-warm.raw --repeat 3
} > "$out/extra.log" 2>&1
grep -E "^===|RESULT" "$out/extra.log"
echo "session $(( $(date +%s) - start )) s"
