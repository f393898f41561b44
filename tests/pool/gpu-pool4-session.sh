#!/usr/bin/env bash
# One call on a 4-GPU machine for the pool's parallel modes (issue 5), all
# through raylight-worker processes joined by NCCL (tests/pool/test-pool-nccl
# for parity, memory and faults; tests/bench/bench-pool-speed for speed):
#   1. parity, Wan 1.3B geometry (30 blocks): a 4-step cfg-5 sample and one
#      forward in U2 R2 U4 U2xR2 CFG2 DP2 FSDP2 U2+FSDP2 FSDP4 FSDP2+OFFLOAD
#      against one GPU, every worker and the reference forced onto the same
#      attention variant (ATTENTION, default cudnn), plus the one-GPU sample
#      with another variant (FLOOR, default naive): the spread bf16 kernel
#      differences alone give this model;
#   2. speed, Wan 14B geometry with BLOCKS_14B blocks (default 10 of 40): one
#      sampling step at cfg 1 (one DiT forward) at 832×480×81 (32,760 tokens)
#      on 1 GPU, U2, U4, U2xR2, FSDP2, FSDP4 and U2+FSDP2, same process;
#   3. speed, Wan 1.3B: 1 GPU, U2, U4, U2xR2;
#   4. parity and the variant floor on a 1.3B checkpoint whose weights are
#      scaled by 1/sqrt(fan-in) (make-checkpoint --fan-in), as trained
#      weights are: the uniform [-1, 1) weights amplify bf16 rounding
#      fivefold over 4 steps at cfg 5 (tests/pool/RESULTS.md);
#   5. parity on the 14B geometry, with whatever time is left.
# PHASES names the phases to run and their order (default: parity-1.3B
# speed-14B speed-1.3B parity-1.3B-fan-in parity-14B; speed-14B-alt reruns
# the 14B speed pools with the variables in ALT_ENV; parity-14B-fan-in is
# phase 4 on the 14B geometry, MODES_FAN_IN; speed-14B-full the speed
# pools on the whole 40-block 14B, SPEED_MODES_14B_FULL, with the variables
# in FULL_ENV and the attention variant FULL_ATTENTION; the speed phases'
# variant is ATTENTION unless ALT_ATTENTION / FULL_ATTENTION say another,
# their latent SPEED_LATENT, default 21x60x104). Two more, only
# when named:
#   rss-14B-fsdp4  writes the full Wan 14B (BLOCKS_RSS, default all 40
#                  blocks: 28.6 GB of bf16) with make-checkpoint on every
#                  CPU, loads it into an FSDP4 pool (RSS_MODE), samples one
#                  step at LATENT and reads every worker's /proc memory
#                  (VmRSS, RssAnon/File/Shmem, VmHWM, Pss, the checkpoint's
#                  own mapped pages): summed RSS against issue 5's bar of
#                  1.3x the checkpoint. Deletes the file afterwards.
#   faults         issue 5's five faults on GPU workers joined by NCCL (U2,
#                  a 1.3B cut to BLOCKS_FAULTS=2 blocks): kill -9 of a rank
#                  mid-sampling, a rank that stops answering (SIGSTOP, 5 s
#                  heartbeat timeout), a missing worker binary, invalid
#                  degrees, a checkpoint deleted between jobs; one line
#                  each: the error seen, and whether the next job succeeded.
# Each phase gets the time DEADLINE (seconds for the whole script, default
# 450) leaves, less a reserve for the summary. NVLink SHARP stays off
# (NCCL_NVLS_ENABLE=0; nothing calls cuMulticastCreate).
#
# Binaries: PREBUILT names a build tree made elsewhere from the same
# sources (CUDA 13, sm_90a) at its original absolute path (a SOURCE_COMMIT
# file in it names the commit); it is used when every library it needs
# resolves here, else the tree is configured and built here (-Dapp=disabled
# -Dui=disabled, gpu_targets ci: sm_90a only, only the targets below; about
# 3 minutes, cuda-norm.cu's ptxas the longest step). DEBS (default
# .gpu-debs) holds OpenBLAS and pkg-config for a bare machine. The call of
# 2026-11-27 (tests/pool/RESULTS.md), from a workstation snapshot in
# /tmp/pool4-src with its build tree carried as .final-pool4/prebuilt.tar.gz:
#   r=$PWD; mkdir -p /tmp/pool4-src/build
#   tar -xzf .final-pool4/src.tar.gz -C /tmp/pool4-src
#   tar -xzf .final-pool4/prebuilt.tar.gz -C /tmp/pool4-src/build
#   cd /tmp/pool4-src && DEBS=$r/.gpu-debs DEADLINE=450 \
#     PREBUILT=/tmp/pool4-src/build bash tests/pool/gpu-pool4-session.sh
# with carry [.final-pool4, .gpu-debs] and timeout_s 480; it took 236 s.
#
# $OUT (default ./gpu-out) gets: session.log, build.log, summary.txt (also
# printed last), gpu-memory.csv (nvidia-smi every 500 ms), test-parity-1.3B.log
# and logs.tar.gz (every phase's log, the workers' lines split per pool and
# rank, the key lists). Usage from the source root:
#   DEADLINE=450 [PREBUILT=/abs/build] bash tests/pool/gpu-pool4-session.sh
# CPU dry run (tiny sizes, CPU workers): BACKEND=cpu ATTENTION=reference
# FLOOR=reference BLOCKS_13B=1 BLOCKS_14B=1 BLOCKS_RSS=1 LATENT=2x4x8
# SPEED_LATENT=2x4x8 PREBUILT=build-dir bash tests/pool/gpu-pool4-session.sh
# (on a 2-core workstation, 2026-11-27: PHASES="rss-14B-fsdp4 faults" took
# 78 s: the 1.1 GB 14B cut written in 6 s, its FSDP4 pool 36 s, the
# faults 32 s).
set -u
out=${OUT:-$PWD/gpu-out}
build=${PREBUILT:-${BUILD_DIR:-$PWD/build-gpu}}
debs=${DEBS:-.gpu-debs}
deadline=${DEADLINE:-450}
attention=${ATTENTION:-cudnn}
floor=${FLOOR:-naive}
blocks_13b=${BLOCKS_13B:-30}
blocks_14b=${BLOCKS_14B:-10}
reserve=${RESERVE:-25}
work=${TMPDIR:-/tmp}/raylight-pool4
parity_modes=${MODES:-U2 R2 U4 U2xR2 CFG2 DP2 FSDP2 U2+FSDP2 FSDP4 FSDP2+OFFLOAD}
phase_logs=
rm -rf "$work"
mkdir -p "$out" "$work/logs" "$work/ranks"
exec > >(tee "$out/session.log") 2>&1
step () { echo "=== $(date +%T) [${SECONDS}s] $*"; }
export NCCL_NVLS_ENABLE=0

step "device"
if [ "${BACKEND:-cuda}" = cuda ]; then
  nvidia-smi --query-gpu=index,name,memory.total,driver_version --format=csv
  nvidia-smi topo -m 2>&1 | head -8
  nvidia-smi --query-gpu=timestamp,index,memory.used --format=csv,noheader,nounits -lms 500 \
    > "$out/gpu-memory.csv" 2>/dev/null &
  smi_pid=$!
fi
. "$(dirname "$0")/../gpu-machine-debs.sh"
unpack_gpu_debs "$debs"

# Wan 2.1 key lists cut to N blocks: cut_keys LIST N > keys.txt
cut_keys () {
  awk -v n="$2" 'match($0, /^blocks\.[0-9]+\./) { b = substr($0, 8) + 0; if (b >= n) next } { print }' "$1"
}
cut_keys tests/pool/data/wan21-t2v-1.3b-keys.txt "$blocks_13b" > "$work/logs/keys-1.3B.txt"
cut_keys tests/pool/data/wan21-t2v-14b-keys.txt "$blocks_14b" > "$work/logs/keys-14B.txt"
label14="14B-${blocks_14b}blocks"
ckpt13=$work/wan-1.3B.safetensors
ckpt13f=$work/wan-1.3B-fan-in.safetensors
ckpt14=$work/wan-$label14.safetensors
# make_checkpoint NAME KEYS OUTPUT: random bf16 weights, in the background.
make_checkpoint () {
  "$build/workers/checkpoint/make-checkpoint" --seed 5 --dtype BF16 ${4:-} --input "$2" "$3" \
    > "$work/logs/make-checkpoint-$1.log" 2>&1
}

step "build ($build)"
targets="workers/worker/raylight-worker tests/pool/test-pool-nccl plugins/wan/raylight-family-wan.so
  workers/checkpoint/make-checkpoint tests/bench/bench-pool-speed"
[ "${BACKEND:-cuda}" = cuda ] && targets="$targets tests/bench/bench-comm-nccl"
[ "${BACKEND:-cuda}" = cuda ] && targets="$targets plugins/attention/raylight-attention-cudnn.so
  plugins/attention/raylight-attention-naive.so"
prebuilt_ok=0
if [ -n "${PREBUILT:-}" ] && [ -x "$build/workers/worker/raylight-worker" ] \
   && [ -x "$build/tests/bench/bench-pool-speed" ] \
   && ! ldd "$build/workers/worker/raylight-worker" "$build/tests/pool/test-pool-nccl" \
        "$build/tests/bench/bench-pool-speed" "$build"/plugins/*/*.so 2>&1 | grep -q "not found"; then
  prebuilt_ok=1
  echo "using the binaries in $build$([ -f "$build/SOURCE_COMMIT" ] && echo ", built from $(cat "$build/SOURCE_COMMIT")")"
  make_checkpoint 1.3B "$work/logs/keys-1.3B.txt" "$ckpt13" & ck13=$!
  make_checkpoint "$label14" "$work/logs/keys-14B.txt" "$ckpt14" & ck14=$!
  make_checkpoint 1.3B-fan-in "$work/logs/keys-1.3B.txt" "$ckpt13f" --fan-in & ck13f=$!
else
  [ -n "${PREBUILT:-}" ] && { echo "prebuilt binaries unusable here:"; ldd "$build/workers/worker/raylight-worker" 2>&1 | grep "not found"; }
  build=${BUILD_DIR:-$PWD/build-gpu}
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Dapp=disabled -Dui=disabled > "$out/build.log" 2>&1 \
      || { tail -30 "$out/build.log"; exit 1; }
  fi
  # The checkpoint writer is plain C: built first, it writes both
  # checkpoints while nvcc compiles the backend.
  ninja -C "$build" workers/checkpoint/make-checkpoint >> "$out/build.log" 2>&1 \
    || { grep -E "error|FAILED" -A3 "$out/build.log" | head -30; exit 1; }
  make_checkpoint 1.3B "$work/logs/keys-1.3B.txt" "$ckpt13" & ck13=$!
  make_checkpoint "$label14" "$work/logs/keys-14B.txt" "$ckpt14" & ck14=$!
  make_checkpoint 1.3B-fan-in "$work/logs/keys-1.3B.txt" "$ckpt13f" --fan-in & ck13f=$!
  ninja -C "$build" -j"$(nproc)" $targets >> "$out/build.log" 2>&1 \
    || { grep -E "error|FAILED" -A3 "$out/build.log" | head -40; exit 1; }
fi
step "built"

export RAYLIGHT_SOURCE_DIR=$PWD
export RAYLIGHT_WORKER=$build/workers/worker/raylight-worker
export RAYLIGHT_PLUGIN_PATH=$build/plugins
export RAYLIGHT_ATTENTION_PATH=$build/plugins/attention
export RAYLIGHT_TEST_SEED=${SEED:-20261127}
export RAYLIGHT_NCCL_TEST_ATTENTION=$attention
export OMP_NUM_THREADS=4
# Which transport NCCL picked between the workers (P2P over NVLink, or SHM
# through host memory), and each communicator's collective totals at exit.
export NCCL_DEBUG=${NCCL_DEBUG:-INFO} NCCL_DEBUG_SUBSYS=${NCCL_DEBUG_SUBSYS:-INIT}
export RAYLIGHT_COMM_STATS=1
# Each DiT forward's wall time in the workers' logs (one device
# synchronisation per forward), for the forward-only speed table.
export RAYLIGHT_FORWARD_TIMES=${RAYLIGHT_FORWARD_TIMES:-1}
[ "${BACKEND:-cuda}" = cpu ] && export RAYLIGHT_NCCL_TEST_BACKEND=cpu
[ -n "${LATENT:-}" ] && export RAYLIGHT_NCCL_TEST_LATENT=$LATENT
speed_args="--latent ${SPEED_LATENT:-21x60x104}"
[ "${BACKEND:-cuda}" = cpu ] && speed_args="$speed_args --backend cpu"

# phase_command NAME CAP CHECKPOINT-PID COMMAND...: COMMAND, its output in
# logs/test-NAME.log, for at most CAP seconds and never past DEADLINE − reserve.
phase_command () {
  local name=$1 cap=$2 wait_pid=$3 left
  shift 3
  wait "$wait_pid" 2>/dev/null
  left=$((deadline - reserve - SECONDS))
  [ "$left" -lt "$cap" ] && cap=$left
  if [ "$cap" -lt 20 ]; then
    step "$name skipped: ${left}s left"
    echo "# phase $name skipped: ${left} s left" >> "$work/logs/skipped.txt"
    return
  fi
  step "$name (at most ${cap}s)"
  timeout -k 5 "$cap" stdbuf -oL "$@" > "$work/logs/test-$name.log" 2>&1
  local rc=$?
  echo "$name exit $rc$([ $rc = 124 ] && echo ' (timed out)')" | tee -a "$work/logs/exits.txt"
  phase_logs="$phase_logs $work/logs/test-$name.log"
  grep -E "^# (parity|speed|rss|fault) |^not ok|check failed" "$work/logs/test-$name.log" | head -40
}

# phase NAME CAP CHECKPOINT-PID VAR=VALUE...: test-pool-nccl with those
# variables.
phase () {
  local name=$1 cap=$2 wait_pid=$3
  shift 3
  phase_command "$name" "$cap" "$wait_pid" env "$@" "$build/tests/pool/test-pool-nccl"
}

# speed_phase NAME CAP CHECKPOINT-PID CHECKPOINT LABEL MODES ATTENTION
# [VAR=VALUE...]: bench-pool-speed's pools for MODES, with those variables.
speed_phase () {
  local name=$1 cap=$2 wait_pid=$3 checkpoint=$4 model=$5 modes=$6 variant=$7
  shift 7
  phase_command "$name" "$cap" "$wait_pid" env "$@" "$build/tests/bench/bench-pool-speed" \
    --checkpoint "$checkpoint" --label "$model" --modes "$modes" --attention "$variant" $speed_args
}

# The full-size 14B checkpoint for rss-14B-fsdp4, written when the phase
# starts (all CPUs: it would slow the phases around it) and only when the
# disk and the deadline leave room for it and the pool after it.
rss_phase () {
  local blocks=${BLOCKS_RSS:-40} keys ckpt label need_mb avail_mb left t0
  wait "$ck13" "$ck14" "$ck13f" 2>/dev/null   # the other writers, off the CPUs
  label="14B-${blocks}blocks"
  keys=$work/logs/keys-$label-rss.txt
  ckpt=$work/wan-$label-rss.safetensors
  cut_keys tests/pool/data/wan21-t2v-14b-keys.txt "$blocks" > "$keys"
  # 670 MiB per 14B block and 443 MiB of the rest, plus 2 GiB to spare.
  need_mb=$((blocks * 670 + 443 + 2048))
  avail_mb=$(df -Pm "$work" | awk 'NR == 2 { print $4 }')
  left=$((deadline - reserve - SECONDS))
  if [ "${avail_mb:-0}" -lt "$need_mb" ] || [ "$left" -lt 60 ]; then
    step "rss-$label skipped: ${avail_mb} MiB free of ${need_mb} needed, ${left}s left"
    echo "# phase rss-$label skipped: ${avail_mb} MiB free (${need_mb} needed), ${left} s left" \
      >> "$work/logs/skipped.txt"
    return
  fi
  step "writing the $label checkpoint (at most $((left / 2))s)"
  t0=$SECONDS
  timeout -k 5 $((left / 2)) "$build/workers/checkpoint/make-checkpoint" --seed 5 --dtype BF16 \
    --input "$keys" "$ckpt" > "$work/logs/make-checkpoint-$label-rss.log" 2>&1 \
    || { echo "writing the $label checkpoint failed"; cat "$work/logs/make-checkpoint-$label-rss.log"; rm -f "$ckpt"; return; }
  echo "$label checkpoint written in $((SECONDS - t0)) s: $(stat -c %s "$ckpt") bytes," \
    "$(grep -o '[0-9]* threads' "$work/logs/make-checkpoint-$label-rss.log")" | tee -a "$work/logs/rss-write.txt"
  phase "rss-$label-${RSS_MODE:-FSDP4}" "${CAP_RSS:-150}" "" RAYLIGHT_NCCL_TEST_CHECKPOINT="$ckpt" \
    RAYLIGHT_NCCL_TEST_LABEL="$label" RAYLIGHT_NCCL_TEST_PARITY=0 \
    RAYLIGHT_NCCL_TEST_RSS="${RSS_MODE:-FSDP4}"
  rm -f "$ckpt"
}

# The phases, in the order PHASES names them (default: parity first).
run_phase () {
  case "$1" in
    parity-1.3B)
      wait "$ck13" || { echo "writing the 1.3B checkpoint failed"; cat "$work/logs/make-checkpoint-1.3B.log"; }
      ls -l "$ckpt13"
      phase parity-1.3B "${CAP_PARITY:-140}" "$ck13" RAYLIGHT_NCCL_TEST_CHECKPOINT="$ckpt13" \
        RAYLIGHT_NCCL_TEST_LABEL=1.3B RAYLIGHT_NCCL_TEST_MODES="$parity_modes" \
        RAYLIGHT_NCCL_TEST_FLOOR="$floor" RAYLIGHT_NCCL_TEST_KILL=0 ;;
    speed-14B)
      wait "$ck14" || { echo "writing the 14B checkpoint failed"; cat "$work/logs/make-checkpoint-$label14.log"; }
      ls -l "$ckpt14"
      speed_phase "speed-$label14" "${CAP_SPEED14:-120}" "$ck14" "$ckpt14" "$label14" \
        "${SPEED_MODES_14B:-1 U2 U4 U2xR2 FSDP2 FSDP4 U2+FSDP2}" "$attention" ;;
    speed-14B-full)
      # The whole Wan 14B (40 blocks, 28.6 GB of bf16, written here on every
      # CPU and deleted after): the speed pools of issue 5's bar.
      full=${BLOCKS_14B_FULL:-40}
      keys40=$work/logs/keys-14B-$full.txt ckpt40=$work/wan-14B-${full}blocks-speed.safetensors
      cut_keys tests/pool/data/wan21-t2v-14b-keys.txt "$full" > "$keys40"
      wait "$ck13" "$ck14" "$ck13f" 2>/dev/null
      make_checkpoint "14B-${full}blocks-speed" "$keys40" "$ckpt40" & ck40=$!
      speed_phase "speed-14B-${full}blocks" "${CAP_SPEED14_FULL:-200}" "$ck40" "$ckpt40" \
        "14B-${full}blocks" "${SPEED_MODES_14B_FULL:-1 U2 U4 FSDP2 U2+FSDP2}" \
        "${FULL_ATTENTION:-$attention}" ${FULL_ENV:-}
      rm -f "$ckpt40" ;;
    speed-14B-alt)
      # The same speed pools under other NCCL settings (ALT_ENV, e.g.
      # "NCCL_P2P_LEVEL=SYS NCCL_CUMEM_ENABLE=0"), to tell a transport
      # problem from a compute one.
      speed_phase "speed-$label14-alt" "${CAP_SPEED14:-120}" "$ck14" "$ckpt14" "$label14-alt" \
        "${SPEED_MODES_ALT:-1 U2 U4}" "${ALT_ATTENTION:-$attention}" ${ALT_ENV:-} ;;
    speed-1.3B)
      speed_phase speed-1.3B "${CAP_SPEED13:-60}" "$ck13" "$ckpt13" 1.3B \
        "${SPEED_MODES_13B:-1 U2 U4 U2xR2}" "$attention" ;;
    parity-1.3B-fan-in)
      phase parity-1.3B-fan-in "${CAP_FAN_IN:-60}" "$ck13f" RAYLIGHT_NCCL_TEST_CHECKPOINT="$ckpt13f" \
        RAYLIGHT_NCCL_TEST_LABEL=1.3B-fan-in RAYLIGHT_NCCL_TEST_MODES="${MODES_FAN_IN:-R2 U2xR2 U4 DP2}" \
        RAYLIGHT_NCCL_TEST_FLOOR="$floor" RAYLIGHT_NCCL_TEST_KILL=0 ;;
    parity-14B-fan-in)
      # The 14B geometry with 1/sqrt(fan-in)-scaled weights, written here
      # (its only user) while nothing else runs.
      ckpt14f=$work/wan-$label14-fan-in.safetensors
      make_checkpoint "$label14-fan-in" "$work/logs/keys-14B.txt" "$ckpt14f" --fan-in & ck14f=$!
      phase "parity-$label14-fan-in" "${CAP_PARITY14:-140}" "$ck14f" \
        RAYLIGHT_NCCL_TEST_CHECKPOINT="$ckpt14f" RAYLIGHT_NCCL_TEST_LABEL="$label14-fan-in" \
        RAYLIGHT_NCCL_TEST_MODES="${MODES_FAN_IN:-R2 U2xR2 U4 DP2}" \
        RAYLIGHT_NCCL_TEST_FLOOR="$floor" RAYLIGHT_NCCL_TEST_KILL=0
      rm -f "$ckpt14f" ;;
    parity-14B)
      phase "parity-$label14" "${CAP_PARITY14:-140}" "$ck14" RAYLIGHT_NCCL_TEST_CHECKPOINT="$ckpt14" \
        RAYLIGHT_NCCL_TEST_LABEL="$label14" RAYLIGHT_NCCL_TEST_MODES="$parity_modes" \
        RAYLIGHT_NCCL_TEST_FLOOR="$floor" RAYLIGHT_NCCL_TEST_KILL=0 ;;
    rss-14B-fsdp4) rss_phase ;;
    faults)
      # Its own 1.3B cut to BLOCKS_FAULTS blocks, written by the test.
      phase faults "${CAP_FAULTS:-90}" "" RAYLIGHT_NCCL_TEST_LABEL="1.3B-${BLOCKS_FAULTS:-2}blocks" \
        RAYLIGHT_NCCL_TEST_BLOCKS="${BLOCKS_FAULTS:-2}" RAYLIGHT_NCCL_TEST_PARITY=0 \
        RAYLIGHT_NCCL_TEST_FAULTS=1 ;;
    comm-bench)
      # NCCL's all-to-all and all-gather through RlComm on 2 and 4 ranks next
      # to the copy engines' peer bandwidth, under each setting of
      # COMM_BENCH_ENV ("default" and VAR=VALUE[,VAR=VALUE] entries, space
      # separated); "--register" as an entry registers the buffers.
      step "comm-bench"
      for setting in ${COMM_BENCH_ENV:-default}; do
        args= envs=
        case "$setting" in
          default) ;;
          --register) args=--register ;;
          *) envs=$(echo "$setting" | tr ',' ' ') ;;
        esac
        for ranks in 2 4; do
          echo "--- $setting, $ranks ranks"
          env $envs NCCL_DEBUG=WARN timeout -k 5 60 "$build/tests/bench/bench-comm-nccl" \
            --ranks "$ranks" $args 2>&1 | sed "s|^|$setting |" | tee -a "$work/logs/comm-bench.log"
        done
      done
;;
    *) echo "unknown phase $1 (parity-1.3B speed-14B speed-14B-full speed-14B-alt speed-1.3B parity-1.3B-fan-in parity-14B-fan-in parity-14B rss-14B-fsdp4 faults)" ;;
  esac
}
for p in ${PHASES:-parity-1.3B speed-14B speed-1.3B parity-1.3B-fan-in parity-14B}; do
  run_phase "$p"
done
[ -n "${smi_pid:-}" ] && kill "$smi_pid" 2>/dev/null

step "logs"
logs=$phase_logs   # in the order the phases ran
# The workers' lines ("raylight-worker[rank N]: ...", and their
# communicators' totals "raylight comm nccl (world rank N, ...") per pool
# and rank.
[ -n "$logs" ] && awk -v dir="$work/ranks" '
  /^# === pool / { pool = sprintf ("%02d-%s-%s", ++n, $4, $5); gsub (/[^A-Za-z0-9.+_-]/, "_", pool) }
  /^raylight-worker\[rank [0-9]+\]/ && pool != "" {
    r = $0; sub (/^raylight-worker\[rank /, "", r); sub (/\].*/, "", r)
    print > (dir "/" pool "-rank" r ".log")
  }
  /^raylight comm nccl \(world rank [0-9]+,/ && pool != "" {
    r = $0; sub (/^raylight comm nccl \(world rank /, "", r); sub (/,.*/, "", r)
    print > (dir "/" pool "-rank" r ".log")
  }' $logs
[ -f "$work/logs/test-parity-1.3B.log" ] && cp "$work/logs/test-parity-1.3B.log" "$out/"
tar -czf "$out/logs.tar.gz" -C "$work" logs ranks

# The table: parity, speed, peak GPU memory per pool, attention variants.
{
  echo "== $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | sort | uniq -c | tr -s ' ' | tr '\n' ' ')"
  echo "== parity: 4-step cfg-5 sample and one forward (1 step, cfg 1) vs one GPU, max|diff|/max|ref| (bar 1e-2), attention $attention"
  printf "%-16s %-20s %-10s %-10s %-10s %s\n" model mode sample rms forward result
  [ -n "$logs" ] && grep -h "^# parity " $logs | awk '
    $5 == "skipped:" { printf "%-16s %-20s %s\n", $3, $4, "skipped (" $7 " GPUs)"; next }
    { r = $0 ~ /\(floor/ ? "floor (no bar)" : $NF
      printf "%-16s %-20s %-10s %-10s %-10s %s\n", $3, $4, $6, $8, $10, r }'
  echo "== speed: one step at cfg 1 = one DiT forward, best of 3, same process as 1 GPU"
  printf "%-16s %-10s %-9s %-9s %-10s %s\n" model mode seconds speedup "x 1GPU" "x U2"
  [ -n "$logs" ] && grep -h "^# speed " $logs | awk '
    $5 == "skipped:" { printf "%-16s %-10s skipped\n", $3, $4; next }
    { u2 = "-"; for (i = 11; i < NF; i++) if ($i == "time" && $(i + 3) == "U2") u2 = $(i + 1)
      printf "%-16s %-10s %-9s %-9s %-10s %s\n", $3, $4, $5, $8, $10, u2 }'
  if [ -s "$out/gpu-memory.csv" ] && [ -n "$logs" ]; then
    echo "== peak memory used per GPU while each pool ran (MiB, nvidia-smi, every 500 ms)"
    grep -h "^# === pool " $logs | awk '{ print $NF, $4, $5 }' > "$work/markers.txt"
    awk -F', ' '
      function secs(t,  p) { split (t, p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }
      NR == FNR { split ($0, m, " "); start[++n] = secs(m[1]); name[n] = m[2] " " m[3]; next }
      { split ($1, dt, " "); t = secs(dt[2]); g = $2 + 0; mem = $3 + 0; if (g > gmax) gmax = g
        while (cur < n && t >= start[cur + 1]) cur++
        if (cur > 0 && mem > peak[cur, g]) peak[cur, g] = mem }
      END { line = sprintf ("%-34s", "pool")
            for (g = 0; g <= gmax; g++) line = line sprintf ("    GPU%d", g)
            print line
            for (i = 1; i <= n; i++) { line = sprintf ("%-34s", name[i])
              for (g = 0; g <= gmax; g++) line = line sprintf (" %7d", peak[i, g])
              print line } }' "$work/markers.txt" "$out/gpu-memory.csv"
  fi
  echo "== attention variants per pool (rank: variants run; * = fallback from $attention)"
  for f in "$work"/ranks/*-rank*.log; do
    [ -f "$f" ] || continue
    pool=$(basename "$f" .log)
    v=$(grep -oE "running '[a-z0-9_-]+'|using '[a-z0-9_-]+' instead|backend's own attention" "$f" \
        | sed -E "s/running '(.*)'/\1/; s/using '(.*)' instead/\1*/; s/backend's own attention/backend*/" \
        | sort -u | paste -sd, -)
    echo "${pool%-rank*} r${pool##*-rank}=${v:-none}"
  done | awk '{ line[$1] = line[$1] " " $2 } END { for (p in line) print p ":" line[p] }' | sort
  echo "== NCCL transports between the workers (channel connections, all pools)"
  [ -n "$logs" ] && cat $logs | grep -oE "NCCL INFO Channel [0-9/]+ : [0-9]+\[[0-9a-f]+\] -> [0-9]+\[[0-9a-f]+\] via [A-Za-z0-9/_]+" \
    | sed -E 's/.* via //' | sort | uniq -c
  echo "== collectives of rank 0 per pool (blocking ones: launch to completion)"
  for f in "$work"/ranks/*-rank0.log; do
    [ -f "$f" ] || continue
    grep "^raylight comm nccl" "$f" | sed -E "s/^raylight comm nccl \(world rank 0, /$(basename "$f" -rank0.log): (/"
  done
  if [ -n "$logs" ] && grep -qh "^# rss " $logs; then
    echo "== host memory of the workers with the model loaded and one step sampled (/proc, MiB)"
    cat "$work/logs/rss-write.txt" 2>/dev/null
    grep -h "^# rss " $logs | sed 's/^# rss //'
  fi
  if [ -n "$logs" ] && grep -qh "^# fault " $logs; then
    echo "== faults on $([ "${BACKEND:-cuda}" = cuda ] && echo "GPU workers over NCCL" || echo "CPU workers") (U2): error seen, next job"
    grep -h "^# fault " $logs | sed 's/^# fault //'
  fi
  # One DiT forward alone (RAYLIGHT_FORWARD_TIMES): rank 0's fastest
  # forward after the warm-up step, against the one-GPU pool of the same
  # model in the same phase.
  speed_pat="forward of latent \\[1, [0-9]+, $(echo "${SPEED_LATENT:-21x60x104}" | sed 's/x/, /g')\\]"
  if ls "$work"/ranks/*-rank0.log > /dev/null 2>&1 && grep -qE "$speed_pat" "$work"/ranks/*-rank0.log; then
    echo "== one DiT forward (rank 0, fastest after the warm-up; steps above add sampling and the pool round trip)"
    for f in "$work"/ranks/*-rank0.log; do
      n=$(grep -cE "$speed_pat" "$f")
      [ "$n" -ge 2 ] || continue
      pool=$(basename "$f" -rank0.log)
      grep -E "$speed_pat" "$f" | tail -n +2 | sed -E 's/.*\]: ([0-9.]+) ms$/\1/' \
        | sort -g | head -1 | sed "s|^|$pool |"
    done | awk '{ pool = $1; ms = $2; sub (/^[0-9]+-/, "", pool)
                  mode = pool; sub (/^.*-/, "", mode); model = pool; sub (/-[^-]*$/, "", model)
                  if (mode == "1") one[model] = ms
                  rows[++n] = model " " mode " " ms }
                END { printf "%-20s %-10s %10s %9s\n", "model", "mode", "forward ms", "speedup"
                      for (i = 1; i <= n; i++) { split (rows[i], r, " ")
                        printf "%-20s %-10s %10.1f %9s\n", r[1], r[2], r[3],
                               (r[1] in one) ? sprintf ("%.2fx", one[r[1]] / r[3]) : "-" } }'
  fi
  # RAYLIGHT_OP_PROFILE=1 (e.g. through ALT_ENV): rank 0's op profile of
  # the last sampling job of each pool, its slowest rows.
  for f in "$work"/ranks/*-rank0.log; do
    [ -f "$f" ] && grep -q "op profile of the sampling job" "$f" || continue
    echo "== op profile, $(basename "$f" -rank0.log), rank 0, last job"
    awk '/op profile of the sampling job/ { n = 0; delete rows } { rows[n++] = $0 }
         END { for (i = 0; i < n && i < 16; i++) print rows[i] }' "$f" \
      | sed -E 's/^raylight-worker\[rank 0\]: //'
  done
  if [ -f "$work/logs/comm-bench.log" ]; then
    echo "== NCCL bandwidth through RlComm (bench-comm-nccl; out GB/s = bytes leaving a rank)"
    cat "$work/logs/comm-bench.log"
  fi
  cat "$work/logs/skipped.txt" 2>/dev/null
  grep -v " exit 0$" "$work/logs/exits.txt" 2>/dev/null
  for f in $logs; do
    if grep -q "^# speed " "$f"; then
      echo "$(basename "$f"): $(grep -c '^# speed .* speedup ' "$f") modes timed, $(grep -c '^# speed .* failed' "$f") failed"
    else
      echo "$(basename "$f"): $(grep -c '^ok' "$f") ok, $(grep -c '^not ok' "$f") not ok"
    fi
  done
} > "$out/summary.txt" 2>&1
step "done"
cat "$out/summary.txt"
sleep 1   # lets tee write the last lines to session.log
