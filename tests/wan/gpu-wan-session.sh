#!/usr/bin/env bash
# Wan on the CUDA backend at real size, one call on the GPU machine: build
# (meson, no app/UI), random weights in the real checkpoint layouts, our
# run and PyTorch's reference (tests/reference, SDPA) in the same dtype
# (bf16) on the same GPU, ‖ours−ref‖/‖ref‖ and time/memory ratios. Logs and
# a summary go to $OUT (or ./gpu-out). Usage, from the repo root:
#   bash tests/wan/gpu-wan-session.sh [STAGE...]
# stages (default all, in this order): build dit13 dit14 sample vae21 vae22 umt5
#   dit13   Wan 2.1 1.3B (30 blocks) one forward at 832×480×81 (32,760 tokens):
#           parity ≤ 1e-2, time and peak memory per attention variant (cudnn, flash, naive)
#   dit14   Wan 2.1 14B geometry with $WAN14_LAYERS blocks (default 4): parity, time, memory
#   sample  10-step euler/simple CFG 5 sample of the 1.3B model through a pool and
#           raylight-worker --backend cuda (832×480×17): parity ≤ 3e-2
#   vae21 / vae22  VAE decode of 81 frames at 832×480 (2.1: 16 ch; 2.2: 48 ch): parity ≤ 1e-2
#   umt5    UMT5-XXL geometry with 2 layers, 512 tokens: parity ≤ 1e-2
# $SESSION_BUDGET_S (default 280) stops starting stages once that many
# seconds have passed, so a call's limit never cuts a stage in half.
set -u
out=${OUT:-$PWD/gpu-out}
data=${WAN_DATA:-/tmp/wan-data}
build=$PWD/build-gpu
budget=${SESSION_BUDGET_S:-280}
start=$(date +%s)
mkdir -p "$out" "$data"
export PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH
summary=$out/summary.txt
step () { echo "=== $(date +%T) +$(( $(date +%s) - start ))s $*" | tee -a "$summary"; }
left () { echo $(( budget - ($(date +%s) - start) )); }
stages=${*:-build dit13 dit14 sample vae21 vae22 umt5}
py () { python3 -u tests/bench/bench_wan_torch.py "$@"; }
# Runs a command with a time limit, its output into $out/NAME.log, RESULT lines into the summary.
run_logged () {
  local name=$1 limit=$2; shift 2
  if [ "$(left)" -lt 10 ]; then echo "skipped $name: session budget spent" | tee -a "$summary"; return 1; fi
  [ "$limit" -gt "$(left)" ] && limit=$(left)
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  local status=$?
  grep -E "^RESULT|attention: (running|using)|rel L2" "$out/$name.log" | sed "s/^/[$name] /" | tee -a "$summary"
  [ $status = 0 ] || { echo "[$name] exit status $status; tail:" | tee -a "$summary"; tail -5 "$out/$name.log" | tee -a "$summary"; }
  return $status
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
export OMP_NUM_THREADS=16

case " $stages " in *" build "*)
  step "build"
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Dapp=disabled -Dui=disabled > "$out/meson-setup.log" 2>&1 \
      || { tail -30 "$out/meson-setup.log"; echo "MESON SETUP FAILED" | tee -a "$summary"; exit 1; }
  fi
  ninja -C "$build" workers/worker/raylight-worker plugins/wan/raylight-family-wan.so \
    plugins/attention/raylight-attention-reference.so plugins/attention/raylight-attention-naive.so \
    plugins/attention/raylight-attention-flash.so plugins/attention/raylight-attention-cudnn.so \
    tests/bench/bench-wan-dit tests/bench/bench-wan-sample tests/wan-vae/wan-vae-run \
    tests/umt5/umt5-run > "$out/ninja.log" 2>&1 \
    || { grep -E "error|FAILED" "$out/ninja.log" | head -30 | tee -a "$summary"; echo "BUILD FAILED" | tee -a "$summary"; exit 1; }
  tail -1 "$out/ninja.log"
;; esac

dit () {   # NAME DIM FFN LAYERS VARIANTS REPEAT [SAMPLE_FRAMES]
  local name=$1 dim=$2 ffn=$3 layers=$4 variants=$5 repeat=$6 sample_frames=${7:-0}
  step "DiT $name: weights"
  [ -f "$data/$name.safetensors" ] || run_logged "make-$name" 120 py make-dit "$data" "$name" \
    --dim "$dim" --ffn "$ffn" --layers "$layers" --sample-frames "$sample_frames" || return 1
  step "DiT $name: PyTorch reference forward (bf16, SDPA)"
  run_logged "torch-$name" 120 py torch-dit "$data/$name.safetensors" "$data/$name-inputs.safetensors" \
    "$data/$name-torch.raw" --repeat "$repeat"
  step "DiT $name: ours (family plugin + worker attention, CUDA, bf16)"
  run_logged "ours-$name" 150 "$build/tests/bench/bench-wan-dit" "$data/$name.safetensors" \
    "$data/$name-inputs.safetensors" "$data/$name-ours.raw" --attention "$variants" --repeat "$repeat"
  run_logged "compare-$name" 60 py compare "$data/$name-torch.raw" "$data/$name-ours.raw" \
    --limit 1e-2 --what "dit-$name"
  python3 - "$out/torch-$name.log" "$out/ours-$name.log" <<'EOF' | tee -a "$summary"
import re, sys
def fields(path):
    rows = []
    for line in open(path):
        if line.startswith("RESULT"):
            rows.append(dict(re.findall(r"(\w+)=([^\s]+)", line)))
    return rows
torch_rows, ours = fields(sys.argv[1]), fields(sys.argv[2])
if torch_rows:
    t = torch_rows[0]
    for o in ours:
        print(f"ratio {o['attention']} (ran {o['ran']}): time ours/torch = {float(o['median_ms']) / float(t['median_ms']):.3f} "
              f"({o['median_ms']} / {t['median_ms']} ms); peak alloc ours/torch = "
              f"{float(o['alloc_peak_gib']) / float(t['max_allocated_gib']):.3f} "
              f"({o['alloc_peak_gib']} / {t['max_allocated_gib']} GiB); device peak ours {o['device_peak_gib']} GiB "
              f"vs torch reserved {t['max_reserved_gib']} GiB")
EOF
}

case " $stages " in *" dit13 "*) dit wan13 1536 8960 30 cudnn,flash,naive 3 17 ;; esac
case " $stages " in *" dit14 "*) dit wan14 5120 13824 "${WAN14_LAYERS:-4}" cudnn,flash 3 ;; esac

case " $stages " in *" sample "*)
  step "sample: 10 steps euler/simple cfg 5 shift 8, 1.3B at 832×480×17"
  if [ -f "$data/wan13-sample.safetensors" ]; then
    run_logged "torch-sample" 120 py torch-sample "$data/wan13.safetensors" "$data/wan13-sample.safetensors" \
      "$data/sample-torch.raw" --steps 10 --cfg 5 --shift 8 --seed 42
    run_logged "ours-sample" 150 "$build/tests/bench/bench-wan-sample" "$data/wan13.safetensors" \
      "$data/wan13-sample.safetensors" "$data/sample-ours.raw" --backend cuda --attention cudnn \
      --steps 10 --cfg 5 --shift 8 --seed 42
    run_logged "compare-sample" 60 py compare "$data/sample-torch.raw" "$data/sample-ours.raw" \
      --limit 3e-2 --what "sample-10-steps"
  else
    echo "sample: no $data/wan13-sample.safetensors (run dit13 first)" | tee -a "$summary"
  fi
;; esac

vae () {   # VERSION
  local v=$1
  step "VAE $v: weights and latent (81 frames 832×480)"
  [ -f "$data/real-vae$v.safetensors" ] || run_logged "make-vae$v" 120 \
    python3 -u tests/reference/wan_vae.py make-real "$data" --version "$v" || return 1
  step "VAE $v: PyTorch decode (bf16)"
  run_logged "torch-vae$v" 200 py torch-vae "$data/real-vae$v.safetensors" \
    "$data/real-vae$v-inputs.safetensors" "$data/vae$v-torch.raw"
  step "VAE $v: ours (CUDA, bf16)"
  run_logged "ours-vae$v" 200 "$build/tests/wan-vae/wan-vae-run" decode "$data/real-vae$v.safetensors" \
    "$data/real-vae$v-inputs.safetensors" "$data/vae$v-ours.raw" cuda bf16 1
  grep -iE "decode|peak|time" "$out/ours-vae$v.log" | tail -4 | sed "s/^/[ours-vae$v] /" | tee -a "$summary"
  run_logged "compare-vae$v" 60 py compare "$data/vae$v-torch.raw" "$data/vae$v-ours.raw" \
    --limit 1e-2 --what "vae$v-decode"
}
case " $stages " in *" vae21 "*) vae 21 ;; esac
case " $stages " in *" vae22 "*) vae 22 ;; esac

case " $stages " in *" umt5 "*)
  step "UMT5-XXL geometry, 2 layers"
  [ -f "$data/umt5-full.safetensors" ] || run_logged "make-umt5" 120 \
    python3 -u tests/reference/umt5.py make-full "$data" --layers 2
  run_logged "torch-umt5" 120 python3 -u tests/reference/umt5.py forward "$data/umt5-full.safetensors" \
    "$data/umt5-full-inputs.safetensors" "$data/umt5-torch.safetensors" --device cuda --dtype bfloat16
  run_logged "ours-umt5" 120 "$build/tests/umt5/umt5-run" "$data/umt5-full.safetensors" \
    "$data/umt5-full-inputs.safetensors" "$data/umt5-ours.raw" cuda 3
  grep -iE "encode|load" "$out/ours-umt5.log" | tail -4 | sed "s/^/[ours-umt5] /" | tee -a "$summary"
  run_logged "compare-umt5" 60 python3 -u tests/reference/umt5.py compare "$data/umt5-torch.safetensors" \
    "$data/umt5-ours.raw" --tolerance 1e-2
;; esac
step "done"
