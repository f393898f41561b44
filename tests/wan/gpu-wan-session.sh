#!/usr/bin/env bash
# Wan on the CUDA backend at real size, one call on the GPU machine: build
# (meson, no app/UI), random weights in the real checkpoint layouts, our
# run and PyTorch's reference (tests/reference, SDPA) in the same dtype
# (bf16) on the same GPU, ‖ours−ref‖/‖ref‖ and time/memory ratios. Usage,
# from the repo root:
#   bash tests/wan/gpu-wan-session.sh [STAGE...]
# stages (default all): build dit13 dit14 sample vae21 vae22 umt5
#   dit13   Wan 2.1 1.3B (30 blocks) one forward at 832×480×81 (32,760 tokens):
#           parity ≤ 1e-2, time and peak memory per attention variant (cudnn, flash, naive)
#   dit14   Wan 2.1 14B geometry with $WAN14_LAYERS blocks (default 4): parity, time, memory
#   sample  10-step euler/simple CFG 5 sample of the 1.3B model through a pool and
#           raylight-worker --backend cuda (832×480×17): parity ≤ 3e-2
#   vae21 / vae22  VAE decode of 81 frames at 832×480 (2.1: 16 ch; 2.2: 48 ch) through the
#           family plugin: parity ≤ 1e-2, time and memory, time per op
# $WAN13_VARIANTS / $WAN14_VARIANTS pick the attention variants timed.
#   umt5    UMT5-XXL geometry with 2 layers, 512 tokens: parity ≤ 1e-2
# The build runs in the background while PyTorch makes the weights and runs
# the references (GPU work, few CPU cores); our runs follow. $SESSION_BUDGET_S
# (default 280) stops starting steps once that many seconds have passed, so
# a call's limit never cuts a step in half. $OUT gets summary.txt and
# full.log (every step's output) only.
# Hooks for tests/gpu-single-session.sh, which runs the PyTorch half while
# our build compiles and ours after it: $WAN_SIDE (both | torch | ours) runs
# one half of each stage, $WAN_LOGS keeps the step logs (the ratios of the
# ours half read the torch half's), $VAE_WARM_REPEAT=N adds N warm runs to
# both sides' VAE decodes (same process as the cold run for PyTorch).
set -u
out=${OUT:-$PWD/gpu-out}
data=${WAN_DATA:-/tmp/wan-data}
logs=${WAN_LOGS:-$(mktemp -d)}
side=${WAN_SIDE:-both}
vae_warm=${VAE_WARM_REPEAT:-0}
build=$PWD/build-gpu
budget=${SESSION_BUDGET_S:-280}
start=$(date +%s)
mkdir -p "$out" "$data"
export PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH
export PYTHONUNBUFFERED=1
summary=$out/summary.txt
full=$out/full.log
step () { echo "=== $(date +%T) +$(( $(date +%s) - start ))s $*" | tee -a "$summary" >> "$full"; }
left () { echo $(( budget - ($(date +%s) - start) )); }
stages=" ${*:-build dit13 dit14 sample vae21 vae22 umt5} "
want () { case "$stages" in *" $1 "*) return 0 ;; esac; return 1; }
torch_side="python3 -u tests/bench/bench_wan_torch.py"   # word-split on purpose

# Runs a command with a time limit; its output goes to full.log, its
# RESULT lines (and attention choices) to the summary.
run_logged () {
  local name=$1 limit=$2; shift 2
  if [ "$(left)" -lt 10 ]; then echo "skipped $name: session budget spent" | tee -a "$summary"; return 1; fi
  [ "$limit" -gt "$(left)" ] && limit=$(left)
  timeout "$limit" "$@" > "$logs/$name.log" 2>&1
  local status=$?
  { echo "----- $name (exit $status): $*"; cat "$logs/$name.log"; } >> "$full"
  grep -E "^RESULT|attention: (running|using|default)|rel L2|^made|^wrote" "$logs/$name.log" \
    | sed "s/^/[$name] /" | tee -a "$summary"
  [ $status = 0 ] || { echo "[$name] exit status $status; tail:"; tail -4 "$logs/$name.log"; } | tee -a "$summary"
  return $status
}

# Time and memory ratios of the RESULT lines of a torch and an ours log.
ratio () {
  python3 - "$1" "$2" <<'PYTHON' | tee -a "$summary"
import re, sys
def rows(path):
    try:
        return [dict(re.findall(r"(\w+)=([^\s]+)", l)) for l in open(path) if l.startswith("RESULT")]
    except OSError:
        return []
t, ours = rows(sys.argv[1]), rows(sys.argv[2])
for o in ours if t else []:
    t0 = t[0]
    print(f"ratio {o['attention']} (ran {o['ran']}): time ours/torch {float(o['median_ms']) / float(t0['median_ms']):.3f} "
          f"({o['median_ms']} / {t0['median_ms']} ms); peak alloc ours/torch "
          f"{float(o['alloc_peak_gib']) / float(t0['max_allocated_gib']):.3f} "
          f"({o['alloc_peak_gib']} / {t0['max_allocated_gib']} GiB); device peak ours {o['device_peak_gib']} GiB, "
          f"torch reserved {t0['max_reserved_gib']} GiB")
PYTHON
}

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee -a "$summary"

# cuDNN for the cudnn attention variant: the system's, else PyTorch's wheel.
if ! ldconfig -p | grep -q 'libcudnn.so.9'; then
  cudnn_dir=$(python3 -c 'import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])' 2>/dev/null)
  [ -n "$cudnn_dir" ] && export LD_LIBRARY_PATH=$cudnn_dir/lib:${LD_LIBRARY_PATH:-}
fi
export RAYLIGHT_PLUGIN_PATH=$build/plugins/wan
export RAYLIGHT_WORKER=$build/workers/worker/raylight-worker
export OMP_NUM_THREADS=8

build_pid=
if want build; then
  step "build (background)"
  (
    if [ ! -f "$build/build.ninja" ]; then
      meson setup "$build" -Dapp=disabled -Dui=disabled > "$logs/meson-setup.log" 2>&1 || exit 1
    fi
    ninja -C "$build" -j 12 workers/worker/raylight-worker plugins/wan/raylight-family-wan.so \
      plugins/attention/raylight-attention-reference.so plugins/attention/raylight-attention-naive.so \
      plugins/attention/raylight-attention-flash.so plugins/attention/raylight-attention-cudnn.so \
      tests/bench/bench-wan tests/bench/bench-wan-sample tests/umt5/umt5-run > "$logs/ninja.log" 2>&1
  ) &
  build_pid=$!
fi
wait_build () {
  [ -n "$build_pid" ] || return 0
  step "waiting for the build"
  wait "$build_pid"
  local status=$?
  build_pid=
  { echo "----- build (exit $status)"; cat "$logs/meson-setup.log" "$logs/ninja.log" 2>/dev/null | tail -60; } >> "$full"
  if [ $status != 0 ]; then
    { grep -hE "error|FAILED" "$logs/meson-setup.log" "$logs/ninja.log" | head -30; echo "BUILD FAILED"; } | tee -a "$summary"
    exit 1
  fi
  awk '$4 ~ /\.o$/ && ($2-$1) > 20000 {printf "slow compile %.0f s %s\n", ($2-$1)/1000, $4}' "$build/.ninja_log" | tee -a "$summary"
  step "build done"
}

make_dit () {   # NAME DIM FFN LAYERS [SAMPLE_FRAMES]
  [ -f "$data/$1.safetensors" ] || run_logged "make-$1" 120 $torch_side make-dit "$data" "$1" --dim "$2" --ffn "$3" \
    --layers "$4" --sample-frames "${5:-0}"
}

# ---- the PyTorch side (GPU) while our build compiles (CPU)
if [ "$side" != ours ]; then
if want dit13; then
  step "DiT 1.3B: weights, PyTorch forward (bf16, SDPA)"
  make_dit wan13 1536 8960 30 17 && run_logged torch-wan13 120 $torch_side torch-dit "$data/wan13.safetensors" \
    "$data/wan13-inputs.safetensors" "$data/wan13-torch.raw" --repeat 3
fi
if want dit14; then
  step "DiT 14B geometry, ${WAN14_LAYERS:-4} blocks: weights, PyTorch forward"
  make_dit wan14 5120 13824 "${WAN14_LAYERS:-4}" && run_logged torch-wan14 120 $torch_side torch-dit "$data/wan14.safetensors" \
    "$data/wan14-inputs.safetensors" "$data/wan14-torch.raw" --repeat 3
fi
if want sample; then
  step "sample: PyTorch, 10 steps euler/simple cfg 5 shift 8 (1.3B, 832×480×17)"
  make_dit wan13 1536 8960 30 17 && run_logged torch-sample 120 $torch_side torch-sample "$data/wan13.safetensors" \
    "$data/wan13-sample.safetensors" "$data/sample-torch.raw" --steps 10 --cfg 5 --shift 8 --seed 42
fi
if want umt5; then
  step "UMT5-XXL geometry, 2 layers: weights, PyTorch encode (bf16)"
  [ -f "$data/umt5-full.safetensors" ] || run_logged make-umt5 120 python3 -u tests/reference/umt5.py \
    make-full "$data" --layers 2
  run_logged torch-umt5 120 python3 -u tests/reference/umt5.py forward "$data/umt5-full.safetensors" \
    "$data/umt5-full-inputs.safetensors" "$data/umt5-torch.safetensors" --device cuda --dtype bfloat16
fi
for v in 21 22; do
  if want vae$v; then
    step "VAE $v: weights, PyTorch decode of 81 frames 832×480 (bf16)"
    [ -f "$data/real-vae$v.safetensors" ] || run_logged make-vae$v 120 python3 -u tests/reference/wan_vae.py \
      make-real "$data" --version $v
    run_logged torch-vae$v 200 $torch_side torch-vae "$data/real-vae$v.safetensors" "$data/real-vae$v-inputs.safetensors" \
      "$data/vae$v-torch.raw" --warm-repeat "$vae_warm"
  fi
done
fi

# ---- ours
wait_build
if [ "$side" != torch ]; then
if want dit13; then
  step "DiT 1.3B: ours (family plugin + worker attention, CUDA, bf16), cudnn / flash / naive"
  run_logged ours-wan13 150 "$build/tests/bench/bench-wan" "$data/wan13.safetensors" \
    "$data/wan13-inputs.safetensors" "$data/wan13-ours.raw" --attention "${WAN13_VARIANTS:-cudnn,flash,naive}" \
    --repeat 3 --profile
  grep -A16 "^profile" "$logs/ours-wan13.log" | sed "s/^/[ours-wan13] /" | tee -a "$summary"
  run_logged compare-wan13 60 $torch_side compare "$data/wan13-torch.raw" "$data/wan13-ours.raw" --limit 1e-2 --what dit-1.3B
  ratio "$logs/torch-wan13.log" "$logs/ours-wan13.log"
fi
if want dit14; then
  step "DiT 14B geometry: ours"
  run_logged ours-wan14 150 "$build/tests/bench/bench-wan" "$data/wan14.safetensors" \
    "$data/wan14-inputs.safetensors" "$data/wan14-ours.raw" --attention "${WAN14_VARIANTS:-cudnn,flash}" --repeat 3
  run_logged compare-wan14 60 $torch_side compare "$data/wan14-torch.raw" "$data/wan14-ours.raw" --limit 1e-2 \
    --what dit-14B-geometry
  ratio "$logs/torch-wan14.log" "$logs/ours-wan14.log"
fi
if want sample; then
  step "sample: ours through a pool and raylight-worker --backend cuda"
  run_logged ours-sample 150 "$build/tests/bench/bench-wan-sample" "$data/wan13.safetensors" \
    "$data/wan13-sample.safetensors" "$data/sample-ours.raw" --backend cuda --pool-attention "${SAMPLE_ATTENTION:-cudnn}" \
    --steps 10 --cfg 5 --shift 8 --seed 42
  run_logged compare-sample 60 $torch_side compare "$data/sample-torch.raw" "$data/sample-ours.raw" --limit 3e-2 \
    --what sample-10-steps
fi
if want umt5; then
  step "UMT5: ours (CUDA)"
  run_logged ours-umt5 120 "$build/tests/umt5/umt5-run" "$data/umt5-full.safetensors" \
    "$data/umt5-full-inputs.safetensors" "$data/umt5-ours.raw" cuda 3
  tail -4 "$logs/ours-umt5.log" | sed "s/^/[ours-umt5] /" | tee -a "$summary"
  run_logged compare-umt5 60 python3 -u tests/reference/umt5.py compare "$data/umt5-torch.safetensors" \
    "$data/umt5-ours.raw" --tolerance 1e-2
fi
for v in 21 22; do
  if want vae$v; then
    step "VAE $v: ours (CUDA, bf16)"
    run_logged ours-vae$v 200 "$build/tests/bench/bench-wan" "$data/real-vae$v.safetensors" \
      "$data/real-vae$v-inputs.safetensors" "$data/vae$v-ours.raw" --repeat 1 --no-warm-up --profile
    grep -A14 "^profile" "$logs/ours-vae$v.log" | sed "s/^/[ours-vae$v] /" | tee -a "$summary"
    run_logged compare-vae$v 60 $torch_side compare "$data/vae$v-torch.raw" "$data/vae$v-ours.raw" --limit 1e-2 \
      --what vae$v-decode
    if [ "$vae_warm" -gt 0 ]; then
      run_logged ours-vae$v-warm 120 "$build/tests/bench/bench-wan" "$data/real-vae$v.safetensors" \
        "$data/real-vae$v-inputs.safetensors" "$data/vae$v-ours-warm.raw" --repeat "$vae_warm"
    fi
  fi
done
fi
step "done"
