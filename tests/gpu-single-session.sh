#!/usr/bin/env bash
# Every pending single-GPU measurement in ONE device call (one H100, kind
# nvidia-h100-x1, at most ~540 s), from the repo root:
#   [DEADLINE_S=515] bash tests/gpu-single-session.sh [PHASE...]   (PHASE: 1-5, default all)
# Phase 3 runs during the build; 1, 2, 4, 5 after it, in the order named.
#   1 cuda    test-cuda-ops (fused norms under the default and each
#             RL_CUDA_NORM_VARIANT 1-3), test-cuda-conv (cuDNN required),
#             test-cuda-copy, test-cuda-channel-norm; bench-ops: norm rows
#             of variants 0/2/3 as fractions of the copy bandwidth
#   2 vae     VAE 2.1 and 2.2 decode of 81 frames 832×480: ours cold (fresh
#             process, one run) and warm (median of 3 after a warm-up),
#             PyTorch cold (first run) and warm (3 more runs, same process),
#             parity (tests/wan/gpu-wan-session.sh vae21 vae22)
#   3 attn    test-attention-gpu, test-attention-sage-gpu (both schedules),
#             cudnn, flash, sage, sage16 against PyTorch's SDPA in one process
#             (tests/bench/attention_vs_torch.py)
#   4 dit     Wan 1.3B forward at 832×480×81, attention cudnn, flash, sage16,
#             sage vs PyTorch (gpu-wan-session.sh dit13), then one forward each
#             of sage16 and sage compared with PyTorch's output; sage and
#             flash on their mma.sync passes (RAYLIGHT_SAGE_KERNEL=mma,
#             RAYLIGHT_FLASH_KERNEL=mma: what Ampere and Ada run), and sage's
#             mma.sync forward against its wgmma one (same GEMMs: equal)
#   5 sample  10-step Wan 1.3B sample (832×480×17, euler/simple, cfg 5, shift
#             8, as gpu-wan-session's `sample`) through a pool and the CUDA
#             worker with attention flash, sage, sage16: PSNR, cosine and
#             relative L2 of each latent against flash's (and PyTorch's)
#             (tests/bench/compare-raw), then of the frames VAE 2.1 decodes
#             from them (peak 1) when phase 2 made its weights and time is left
# Order in the call: two meson builds start in the background (build-gpu:
# backend, worker, Wan plugin, tests, benches; build-gpu-attention: the
# attention plugins, their GPU tests and bench-attention, which need no CUDA
# backend and so are ready long before the norm kernels' compile ends);
# meanwhile the GPU runs PyTorch's halves (VAE cold+warm, DiT, sample
# reference), then phase 3 once the attention build is done, then
# phases 1, 2, 4, 5 on the finished main build. GPU work never overlaps.
# Each phase has a time budget and is skipped, and each command cut, when
# fewer seconds are left than it needs before $DEADLINE_S (seconds after the
# script's start). Benchmarks of phase 3 run while the main build still
# compiles on the CPU: their CUDA-event timings are GPU-bound.
# $OUT gets 8 files: summary.txt (the table, printed last), phase1-cuda.log,
# phase2-vae.log, phase3-attention.log, phase4-dit.log, phase5-sample.log,
# build.log, wan-full.log.
#
# The call (after committing: a clean snapshot of HEAD, see HELPERS.md):
#   git archive -o .final-nextgpu/src.tar HEAD
#   run(kind="nvidia-h100-x1", timeout_s=540, carry=[".final-nextgpu", ".gpu-debs"],
#       command="mkdir -p /tmp/src && tar -xf .final-nextgpu/src.tar -C /tmp/src && cp -r .gpu-debs /tmp/src/ && cd /tmp/src && bash tests/gpu-single-session.sh")
# (/.final-nextgpu/ is in .git/info/exclude; .gpu-debs holds OpenBLAS and
# pkg-config for bare machines, tests/gpu-machine-debs.sh. What travels: the
# tree ~22 MB, src.tar ~22 MB, .gpu-debs 12 MB: ~56 of the 64 MiB allowed.
# Arguments pick and order phases, e.g. `... gpu-single-session.sh 5 1 3`.)
set -u
start=$(date +%s)
deadline=${DEADLINE_S:-515}
phases=" "
for arg in "$@"; do
  case "$arg" in
    [1-5]) phases="$phases$arg " ;;
    *) echo "usage: [DEADLINE_S=515] bash tests/gpu-single-session.sh [1|2|3|4|5]..." >&2; exit 64 ;;
  esac
done
[ "$phases" = " " ] && phases=" 1 2 3 4 5 "
order=$phases
wanted () { case "$phases" in *" $1 "*) return 0 ;; esac; return 1; }

out=${OUT:-$PWD/gpu-out}
work=$(mktemp -d)
build=$PWD/build-gpu
attention_build=$PWD/build-gpu-attention
summary=$out/summary.txt
table=$work/table.tsv
mkdir -p "$out"
: > "$summary"
: > "$table"
export PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=16
export WAN_DATA=${WAN_DATA:-/tmp/wan-data} WAN_LOGS=$work/wan-logs
export RAYLIGHT_PLUGIN_PATH=$build/plugins/wan
export RAYLIGHT_WORKER=$build/workers/worker/raylight-worker
# The worker and bench-wan find the attention plugins in the attention build.
export RAYLIGHT_ATTENTION_PATH=$attention_build/plugins/attention
mkdir -p "$WAN_DATA" "$WAN_LOGS"

elapsed () { echo $(( $(date +%s) - start )); }
left () { echo $(( deadline - $(date +%s) + start )); }
step () { echo "=== $(date +%T) +$(elapsed)s $*" | tee -a "$summary"; }
# A row of the final table: PHASE, WHAT, RESULT.
row () { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$table"; }

# limited LOG LIMIT COMMAND...: COMMAND's output appended to LOG, cut after
# LIMIT seconds or 5 s before the deadline; 125 when no time is left.
limited () {
  local log=$1 limit=$2; shift 2
  local until_deadline=$(( $(left) - 5 ))
  if [ "$until_deadline" -lt 5 ]; then
    echo "--- skipped, deadline: $*" >> "$log"
    return 125
  fi
  [ "$limit" -gt "$until_deadline" ] && limit=$until_deadline
  echo "--- +$(elapsed)s, limit ${limit}s: $*" >> "$log"
  timeout "$limit" "$@" >> "$log" 2>&1
  local status=$?
  echo "--- exit $status" >> "$log"
  return $status
}

# phase N NEED TITLE: false (and a table row saying why) unless phase N is
# wanted and NEED seconds are left.
phase () {
  if ! wanted "$1"; then
    return 1
  fi
  if [ "$(left)" -lt "$2" ]; then
    row "$1" "$3" "skipped: $(left) s left, needs $2"
    step "phase $1 ($3) skipped: $(left) s left"
    return 1
  fi
  step "phase $1: $3"
}

# field FILE PATTERN KEY: KEY's value on the first line of FILE matching PATTERN.
field () {
  grep -m1 -E "$2" "$1" 2>/dev/null | grep -oE "(^| )$3=[^ ]*" | head -1 | cut -d= -f2
}
# similarity LOG WHAT: the numbers of compare-raw's line for WHAT in LOG.
similarity () {
  grep "what=$2 " "$1" 2>/dev/null | tail -1 | grep -oE '(rel_l2|cosine|psnr_db|finite)=[^ ]*|error="[^"]*"' | tr '\n' ' '
}
# ratio A B: A / B to 3 decimals, "-" when either is missing.
ratio () {
  if [ -n "$1" ] && [ -n "$2" ]; then awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'
  else echo "-"; fi
}

print_table () {
  step "summary"
  awk -F'\t' '{ printf "%-2s %-34s %s\n", $1, $2, $3 }' "$table" | tee -a "$summary"
}

# ---------------------------------------------------------------- setup
step "device"
# Machine setup only where there is a GPU (a CPU dry run changes nothing).
if command -v nvidia-smi > /dev/null; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv,noheader 2>&1 \
    | tee -a "$summary"
  # shellcheck disable=SC1091  # sourced from the script's folder, read separately
  . "$(dirname "$0")/gpu-machine-debs.sh"
  unpack_gpu_debs > "$work/setup.log" 2>&1
  # shellcheck disable=SC1091  # sourced from the script's folder, read separately
  . "$(dirname "$0")/torch-cudnn-env.sh"
  use_torch_cudnn >> "$summary"   # not in a pipe: its exports must stay in this shell
  tail -1 "$summary"
else
  echo "no nvidia-smi: no GPU here" | tee -a "$summary"
fi

# ---------------------------------------------------------------- builds
main_targets="workers/worker/raylight-worker plugins/wan/raylight-family-wan.so tests/bench/bench-wan
  tests/bench/bench-wan-sample tests/bench/bench-ops tests/bench/compare-raw tests/cuda/test-cuda-ops
  tests/cuda/test-cuda-conv tests/cuda/test-cuda-copy tests/cuda/test-cuda-channel-norm"
attention_targets="plugins/attention/raylight-attention-reference.so
  plugins/attention/raylight-attention-naive.so plugins/attention/raylight-attention-flash.so
  plugins/attention/raylight-attention-cudnn.so plugins/attention/raylight-attention-sage.so
  plugins/attention/raylight-attention-sage16.so tests/attention/test-attention-gpu
  tests/attention/test-attention-sage-gpu tests/bench/bench-attention"

# start_build NAME DIR JOBS TARGETS: configure once and build in the
# background, each step cut at the deadline; sets build_pid[NAME].
start_build () {
  local name=$1 dir=$2 jobs=$3 targets=$4
  (
    if [ ! -f "$dir/build.ninja" ]; then
      timeout "$(left)" meson setup "$dir" -Dapp=disabled -Dui=disabled || exit 1
    fi
    # shellcheck disable=SC2086  # the target list is word-split on purpose
    timeout "$(left)" ninja -C "$dir" -j "$jobs" $targets
  ) > "$work/build-$name.log" 2>&1 &
  build_pid[$name]=$!
}
declare -A build_pid=() built=([main]=0 [attention]=0)
# A build that cannot end before the deadline is not started.
if [ "$(left)" -lt 120 ]; then
  row B "builds" "not started: $(left) s left"
elif wanted 1 || wanted 2 || wanted 4 || wanted 5; then
  step "build-gpu (background): backend, worker, Wan plugin, tests, benches"
  start_build main "$build" 12 "$main_targets"
fi
if [ "$(left)" -ge 120 ] && { wanted 3 || wanted 4 || wanted 5; }; then
  step "build-gpu-attention (background): attention plugins, tests, bench"
  start_build attention "$attention_build" 6 "$attention_targets"
fi

# wait_build NAME: waits for NAME's build; sets built[NAME]=1 when it passed.
wait_build () {
  local name=$1 status
  [ -n "${build_pid[$name]:-}" ] || return 0
  step "waiting for build $name"
  wait "${build_pid[$name]}"
  status=$?
  unset "build_pid[$name]"
  { echo "----- build $name (exit $status)"; tail -40 "$work/build-$name.log"; } >> "$out/build.log"
  local dir=$build
  [ "$name" = attention ] && dir=$attention_build
  awk '$4 ~ /\.o$/ && ($2 - $1) > 20000 { printf "slow compile %.0f s %s\n", ($2 - $1) / 1000, $4 }' \
    "$dir/.ninja_log" 2>/dev/null >> "$out/build.log"
  if [ "$status" = 0 ]; then
    built[$name]=1
    row B "build $name" "ok at +$(elapsed) s"
  else
    row B "build $name" "FAILED (exit $status): $(grep -m1 -E 'error|FAILED' "$work/build-$name.log")"
  fi
  step "build $name exit $status"
}

# ---------------------------------------------------------------- PyTorch halves, while we compile
wan_session () {   # SIDE BUDGET STAGE...: tests/wan/gpu-wan-session.sh's SIDE half of the stages
  local side=$1 budget=$2; shift 2
  local limit=$(( budget + 30 < $(left) - 5 ? budget + 30 : $(left) - 5 ))
  WAN_SIDE=$side SESSION_BUDGET_S=$budget VAE_WARM_REPEAT=3 WAN13_VARIANTS=cudnn,flash,sage16,sage \
    OUT=$work/wan timeout "$limit" bash tests/wan/gpu-wan-session.sh "$@" > /dev/null 2>&1
}
torch_stages=
wanted 2 && torch_stages="vae21 vae22"
{ wanted 4 || wanted 5; } && torch_stages="$torch_stages dit13"
wanted 5 && torch_stages="$torch_stages sample"
if [ -n "$torch_stages" ] && [ "$(left)" -gt 300 ]; then
  step "PyTorch halves:$torch_stages"
  # shellcheck disable=SC2086  # one word per stage
  wan_session torch "$(( $(left) - 300 < 200 ? $(left) - 300 : 200 ))" $torch_stages
fi

# ---------------------------------------------------------------- 3: attention
wait_build attention
if phase 3 60 "attention" && [ "${built[attention]}" = 0 ]; then
  row 3 "attention" "not run: the attention build did not pass"
elif wanted 3 && [ "${built[attention]}" = 1 ]; then
  log=$out/phase3-attention.log
  tests=$attention_build/tests/attention
  limited "$log" 150 "$tests/test-attention-gpu"
  status=$?
  row 3 "test-attention-gpu" "exit $status ($(grep -c '^ok' "$log") ok, $(grep -c '^not ok' "$log") not ok)"
  for schedule in ping-pong in-order; do
    limited "$log" 60 env RAYLIGHT_SAGE_SCHEDULE=$schedule "$tests/test-attention-sage-gpu"
    status=$?
    row 3 "test-attention-sage-gpu $schedule" "exit $status"
  done
  # Ours and PyTorch's SDPA in one process on the same tensors, in turns
  # (tests/bench/attention_vs_torch.py): ratios per round, paired.
  limited "$work/attention-vs-torch.txt" 150 python3 tests/bench/attention_vs_torch.py \
    --plugins "$attention_build/plugins/attention" --variants cudnn,flash,sage,sage16 --rounds 3
  { echo "----- attention_vs_torch"; cat "$work/attention-vs-torch.txt"; } >> "$log" 2>/dev/null
  # Per variant: the median paired ratio to torch's cuDNN (min-max over the
  # shapes), self- and cross-attention.
  awk '$1 == "pair" && $2 !~ /^torch/ {
         kind = ($6 == $8) ? "self" : "cross"; key = $2 " " kind; r = $14
         if (!(key in lo) || r < lo[key]) lo[key] = r
         if (!(key in hi) || r > hi[key]) hi[key] = r }
       END { for (key in lo) printf "3\tpaired %s\tx torch cuDNN %.2f-%.2f\n", key, lo[key], hi[key] }' \
    "$work/attention-vs-torch.txt" 2>/dev/null | sort >> "$table"
fi

wait_build main
if [ "${built[main]}" != 1 ]; then
  for p in 1 2 4 5; do
    wanted $p && row $p "phase $p" "not run: the main build did not pass or start"
  done
  phases=" 3 "
fi

# ---------------------------------------------------------------- 1: cuda tests and norm kernels
phase_1 () {
  phase 1 60 "cuda tests, norm kernels" || return 0
  local log=$out/phase1-cuda.log t status copy
  for t in ops conv copy channel-norm; do
    limited "$log" 100 env RAYLIGHT_TEST_REQUIRE_CUDNN=1 "$build/tests/cuda/test-cuda-$t"
    status=$?
    row 1 "test-cuda-$t" "exit $status"
  done
  row 1 "cuda tests, all" "$(grep -c '^ok' "$log") ok, $(grep -c '^not ok' "$log") not ok"
  grep -hE "^# (default|variant [0-9])" "$log" | awk '{ e = 0; for (i = 1; i < NF; i++) if ($i == "err") e = $(i + 1)
    split($0, w, ":"); k = substr(w[1], 3); if (!(k in m) || e + 0 > m[k]) m[k] = e + 0 }
    END { for (k in m) printf "1\tfused norm parity, %s\tworst rel err %.3g\n", k, m[k] }' | sort >> "$table"
  limited "$work/bench-ops.txt" 90 "$build/tests/bench/bench-ops"
  cat "$work/bench-ops.txt" >> "$log"
  copy=$(grep -m1 -oE "device-to-device copy: [0-9]+" "$work/bench-ops.txt" | grep -oE "[0-9]+$")
  row 1 "copy bandwidth" "${copy:--} GB/s"
  awk -F'|' 'NF > 6 { name = $2; gsub(/^ +| +$/, "", name); fraction = $5 + 0
      if (name ~ /^norm\+modulate \(LN, per batch\)|^norm\+modulate \(LN, 21 frames\)|^RMSNorm\+RoPE fused/) v = "0 (default)"
      else if (name ~ /L1 vectors/) v = "3 (vectors from L1)"
      else if (name ~ /pipelined/) v = "2 (pipelined)"
      else next
      column = name ~ /per batch/ ? 1 : name ~ /21 frames/ ? 2 : 3
      value[v, column] = fraction; variants[v] = 1 }
    END { for (v in variants) printf "1\tnorm variant %s\tper batch %.3f, 21 frames %.3f, RMSNorm+RoPE %.3f of copy\n",
            v, value[v, 1], value[v, 2], value[v, 3] }' "$work/bench-ops.txt" | sort >> "$table"
}

# ---------------------------------------------------------------- 2: VAE decode
phase_2 () {
  phase 2 50 "VAE 2.1 / 2.2 decode, cold and warm" || return 0
  local v L ours_cold ours_warm torch_cold torch_warm
  wan_session ours "$(( $(left) - 10 < 110 ? $(left) - 10 : 110 ))" vae21 vae22
  for v in 21 22; do
    L=$WAN_LOGS
    ours_cold=$(field "$L/ours-vae$v.log" "^RESULT vae " median_ms)
    ours_warm=$(field "$L/ours-vae$v-warm.log" "^RESULT vae " median_ms)
    torch_cold=$(field "$L/torch-vae$v.log" "^RESULT torch-vae " median_ms)
    torch_warm=$(field "$L/torch-vae$v.log" "^RESULT torch-vae-warm " median_ms)
    row 2 "VAE $v cold ms: ours / torch" "${ours_cold:--} / ${torch_cold:--} = $(ratio "$ours_cold" "$torch_cold")"
    row 2 "VAE $v warm ms (median of 3)" "${ours_warm:--} / ${torch_warm:--} = $(ratio "$ours_warm" "$torch_warm")"
    row 2 "VAE $v peak GiB ours / torch" "$(field "$L/ours-vae$v.log" "^RESULT vae " alloc_peak_gib) / $(field "$L/torch-vae$v.log" "^RESULT torch-vae " max_allocated_gib)"
    row 2 "VAE $v parity" "rel_l2 $(field "$L/compare-vae$v.log" "^RESULT compare" rel_l2) ($(grep -m1 -oE '(ok|FAIL)$' "$L/compare-vae$v.log" 2>/dev/null))"
    cat "$L/torch-vae$v.log" "$L/ours-vae$v.log" "$L/ours-vae$v-warm.log" "$L/compare-vae$v.log" \
      >> "$out/phase2-vae.log" 2>/dev/null
  done
}

# ---------------------------------------------------------------- 4: DiT forward per attention variant
phase_4 () {
  phase 4 50 "Wan 1.3B forward per attention variant" || return 0
  local log=$out/phase4-dit.log torch_ms v ms ran
  wan_session ours "$(( $(left) - 10 < 90 ? $(left) - 10 : 90 ))" dit13
  cat "$WAN_LOGS/torch-wan13.log" "$WAN_LOGS/ours-wan13.log" "$WAN_LOGS/compare-wan13.log" >> "$log" 2>/dev/null
  torch_ms=$(field "$WAN_LOGS/torch-wan13.log" "^RESULT torch-dit" median_ms)
  row 4 "DiT 1.3B torch ms" "${torch_ms:--} (peak $(field "$WAN_LOGS/torch-wan13.log" "^RESULT torch-dit" max_allocated_gib) GiB)"
  for v in cudnn flash sage16 sage; do
    ms=$(field "$WAN_LOGS/ours-wan13.log" "^RESULT dit attention=$v " median_ms)
    ran=$(field "$WAN_LOGS/ours-wan13.log" "^RESULT dit attention=$v " ran)
    row 4 "DiT 1.3B $v ms (ran $ran)" "${ms:--} = $(ratio "$ms" "$torch_ms") x torch"
  done
  row 4 "DiT 1.3B cudnn parity" "rel_l2 $(field "$WAN_LOGS/compare-wan13.log" "^RESULT compare" rel_l2)"
  # One forward each of the approximate variants against PyTorch's output.
  for v in sage16 sage; do
    limited "$log" 40 "$build/tests/bench/bench-wan" "$WAN_DATA/wan13.safetensors" \
      "$WAN_DATA/wan13-inputs.safetensors" "$work/wan13-$v.raw" --attention $v --repeat 1 --no-warm-up || continue
    limited "$log" 20 "$build/tests/bench/compare-raw" "$WAN_DATA/wan13-torch.raw" "$work/wan13-$v.raw" \
      --what "dit13-$v-vs-torch"
    row 4 "DiT 1.3B $v output vs torch" "$(similarity "$log" "dit13-$v-vs-torch")"
  done
  # The mma.sync passes (what Ampere and Ada run), forced on the H100:
  # the forward's time with sage's and with flash's.
  local run mma_log
  for run in "sage:RAYLIGHT_SAGE_KERNEL=mma" "flash:RAYLIGHT_FLASH_KERNEL=mma"; do
    v=${run%%:*}
    mma_log=$work/wan13-$v-mma.log
    limited "$mma_log" 60 env "${run#*:}" "$build/tests/bench/bench-wan" "$WAN_DATA/wan13.safetensors" \
      "$WAN_DATA/wan13-inputs.safetensors" "$work/wan13-$v-mma-timed.raw" --attention $v --repeat 3
    cat "$mma_log" >> "$log" 2>/dev/null
    ms=$(field "$mma_log" "^RESULT dit attention=$v " median_ms)
    row 4 "DiT 1.3B $v, mma.sync pass, ms" "${ms:--} = $(ratio "$ms" "$torch_ms") x torch"
  done
  # sage's two passes give each attention call the same bits, so the whole
  # forward must match too once the rest is the same: cuBLASLt's
  # deterministic pick (its autotuned one may differ between runs) and one
  # block per tile for wgmma (the persistent grid's split tiles sum in
  # another order).
  for run in "wgmma:RAYLIGHT_SAGE_GRID=tiles" "mma:RAYLIGHT_SAGE_KERNEL=mma"; do
    limited "$log" 40 env RL_CUDA_GEMM_AUTOTUNE=0 "${run#*:}" "$build/tests/bench/bench-wan" \
      "$WAN_DATA/wan13.safetensors" "$WAN_DATA/wan13-inputs.safetensors" "$work/wan13-sage-${run%%:*}.raw" \
      --attention sage --repeat 1 --no-warm-up
  done
  limited "$log" 20 "$build/tests/bench/compare-raw" "$work/wan13-sage-wgmma.raw" "$work/wan13-sage-mma.raw" \
    --what "dit13-sage-mma-vs-wgmma"
  row 4 "DiT 1.3B sage mma.sync vs wgmma output" "$(similarity "$log" "dit13-sage-mma-vs-wgmma")"
}

# ---------------------------------------------------------------- 5: sage's effect on a sample
phase_5 () {
  phase 5 45 "10-step sample, flash vs sage vs sage16" || return 0
  local log=$out/phase5-sample.log v status
  for v in flash sage sage16; do
    limited "$log" 60 "$build/tests/bench/bench-wan-sample" "$WAN_DATA/wan13.safetensors" \
      "$WAN_DATA/wan13-sample.safetensors" "$work/sample-$v.raw" --backend cuda --attention $v \
      --steps 10 --cfg 5 --shift 8 --seed 42
    status=$?
    row 5 "sample $v" "exit $status, $(field "$log" "^RESULT sample .*attention=$v " seconds) s incl. load"
  done
  grep -E "attention: (running|using|default)" "$log" | sort | uniq -c | head -12 >> "$summary"
  for v in sage sage16; do
    limited "$log" 20 "$build/tests/bench/compare-raw" "$work/sample-flash.raw" "$work/sample-$v.raw" \
      --what "sample-$v-vs-flash"
    row 5 "sample $v vs flash" "$(similarity "$log" "sample-$v-vs-flash")"
  done
  if [ -f "$WAN_DATA/sample-torch.raw" ]; then
    for v in flash sage sage16; do
      limited "$log" 20 "$build/tests/bench/compare-raw" "$WAN_DATA/sample-torch.raw" "$work/sample-$v.raw" \
        --what "sample-$v-vs-torch"
      row 5 "sample $v vs torch" "$(similarity "$log" "sample-$v-vs-torch")"
    done
  fi
  # The decoded frames (VAE 2.1 of phase 2's weights, 17 frames, 0..1), when
  # those weights exist and a minute is left.
  [ -f "$WAN_DATA/real-vae21.safetensors" ] && [ "$(left)" -ge 60 ] || return 0
  for v in flash sage sage16; do
    limited "$log" 30 python3 -u tests/bench/bench_wan_torch.py latent-file "$work/sample-$v.raw" \
      "$WAN_DATA/wan13-sample.safetensors" "$work/sample-$v-latent.safetensors" \
      && limited "$log" 40 "$build/tests/bench/bench-wan" "$WAN_DATA/real-vae21.safetensors" \
        "$work/sample-$v-latent.safetensors" "$work/frames-$v.raw" --repeat 1 --no-warm-up
  done
  for v in sage sage16; do
    limited "$log" 20 "$build/tests/bench/compare-raw" "$work/frames-flash.raw" "$work/frames-$v.raw" \
      --peak 1 --what "frames-$v-vs-flash"
    row 5 "decoded frames $v vs flash" "$(similarity "$log" "frames-$v-vs-flash")"
  done
}

# Phases 1, 2, 4 and 5 in the order the arguments name them (default 1 2 4 5),
# so that a short call spends its time on the first named.
for p in $order; do
  case $p in 1|2|4|5) "phase_$p" ;; esac
done

cp "$work/wan/full.log" "$out/wan-full.log" 2>/dev/null
# A build still running at the deadline (its phases were skipped) ends here.
wait_build attention
wait_build main
print_table
echo "session $(elapsed) s of $deadline"
