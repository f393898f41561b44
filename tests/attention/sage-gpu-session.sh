#!/usr/bin/env bash
# One call on the GPU machine for the `sage` attention variants: build
# them, reference and naive (the test's oracles), the GPU test and the
# benchmark with gcc/nvcc directly (no meson, ~1 min), check the SASS
# (IGMMA/QGMMA present, no local memory), run the parity test (ping-pong
# with integer P·V, the default; e4m3 P·V with two-term V and the published
# one-term V; in-order; the mma.sync pass of Ampere/Ada), then PyTorch's
# SDPA and bench-attention in the
# same run, with each pass's time ($RAYLIGHT_SAGE_PASS_TIMES) for sage and
# sage with two-term e4m3 V.
# Logs go to $OUT (or ./gpu-out); a summary is printed last. Usage, from
# the repo root:
#   bash tests/attention/sage-gpu-session.sh [test|all|profile|bench]
set -u
what=${1:-all}
out=${OUT:-$PWD/gpu-out}
build=${RL_SAGE_BUILD:-/tmp/sage-build}   # one per tree, for A/B runs in one call
mkdir -p "$out" "$build/plugins/attention" "$build/obj"
export PATH=/opt/torch/.venv/bin:/usr/local/cuda/bin:$PATH
summary=$out/summary.txt
: > "$summary"
step () { echo "=== $(date +%T) $*"; }
note () { echo "$*" | tee -a "$summary"; }

step "device"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv | tee -a "$summary"

step "build"
cat > "$build/raylight-config.h" <<CONFIG
#pragma once
#define RAYLIGHT_VERSION "sage-gpu-session"
#define RAYLIGHT_PLUGIN_DIR "$build/installed"
#define RAYLIGHT_BUILD_DIR "$build"
#define RAYLIGHT_SOURCE_DIR "$PWD"
#define RAYLIGHT_HAVE_CUDA 1
CONFIG
cflags="-std=gnu17 -O2 -g -D_GNU_SOURCE -fPIC -Wall -I. -I$build -I/usr/local/cuda/include"
nvflags="-std=c++17 -O3 -lineinfo --expt-relaxed-constexpr -Xcompiler=-fPIC -I. -I$build"
cuda_libs="-L/usr/local/cuda/lib64 -lcudart -lstdc++"
pids=()
nvcc -gencode=arch=compute_90a,code=sm_90a $nvflags -Xptxas -v -c plugins/attention/sage/sage-kernel.cu \
  -o $build/obj/sage-kernel.o > "$out/nvcc-sage.log" 2>&1 & pids+=($!)
nvcc -gencode=arch=compute_90a,code=sm_90a $nvflags -c plugins/attention/naive/naive-softmax.cu \
  -o $build/obj/naive-softmax.o > "$out/nvcc-naive.log" 2>&1 & pids+=($!)
runtime_objs=()
for f in workers/runtime/*.c plugins/attention/attention-registry.c plugins/attention/attention-merge.c plugins/attention/attention-op.c; do
  o=$build/obj/$(basename $f .c).o; runtime_objs+=($o)
  gcc $cflags -c $f -o $o & pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait $p || failed=1; done
[ $failed = 0 ] || { cat "$out"/nvcc-*.log; echo "BUILD FAILED"; exit 1; }
ar rcs $build/obj/libattention.a "${runtime_objs[@]}"
mods=$build/plugins/attention
gcc $cflags -shared -fopenmp plugins/attention/reference/attention-reference.c -o $mods/raylight-attention-reference.so $build/obj/libattention.a -lm &&
gcc $cflags -shared plugins/attention/naive/attention-naive.c $build/obj/naive-softmax.o -o $mods/raylight-attention-naive.so $cuda_libs -lcublas &&
gcc $cflags -shared plugins/attention/sage/attention-sage.c $build/obj/sage-kernel.o -o $mods/raylight-attention-sage.so $cuda_libs -lm &&
gcc $cflags -DRL_SAGE_PV16=1 -shared plugins/attention/sage/attention-sage.c $build/obj/sage-kernel.o -o $mods/raylight-attention-sage16.so $cuda_libs -lm &&
gcc $cflags tests/attention/test-attention-sage-gpu.c -o $build/test-attention-sage-gpu $build/obj/libattention.a $cuda_libs -ldl -lm -lpthread &&
gcc $cflags tests/bench/bench-attention.c -o $build/bench-attention $build/obj/libattention.a $cuda_libs -ldl -lm -lpthread \
  || { echo "BUILD FAILED"; exit 1; }
grep -A2 "attention" "$out/nvcc-sage.log" | grep -E "registers|spill" | sed 's/^/ptxas attention: /' | tee -a "$summary"
cuobjdump -sass $build/obj/sage-kernel.o > "$out/sage.sass" 2>&1
# Local memory in the attention kernels (the preparation kernel, capped at
# 85 registers for three blocks per SM, spills a few bytes).
attention_sass=$(awk '/Function : /{keep = /attention/} keep' "$out/sage.sass")
note "sass: IGMMA $(grep -c IGMMA "$out/sage.sass")  QGMMA $(grep -c QGMMA "$out/sage.sass")  IMMA (mma.sync) $(grep -c 'IMMA' "$out/sage.sass")  LDL/STL in attention $(echo "$attention_sass" | grep -cE '\b(LDL|STL)\b')  MUFU.EX2 $(grep -c 'MUFU.EX2' "$out/sage.sass")"
export OMP_NUM_THREADS=16

if [ "$what" = bench ]; then
  # Only the benchmark, once per "name:environment" word of
  # $RL_BENCH_RUNS, with $RL_BENCH_ARGS (e.g. --lengths 32760): for
  # experiments with the kernel's options on a few shapes.
  # With RL_BENCH_TORCH=1, PyTorch's SDPA runs first and each line gets its
  # ratios against it (same run).
  torch_args=()
  if [ "${RL_BENCH_TORCH:-0}" = 1 ]; then
    step "torch SDPA"
    PYTHONUNBUFFERED=1 timeout ${RL_TORCH_TIMEOUT:-90} python3 tests/bench/torch_attention.py \
      > "$out/torch-attention.txt" 2>&1
    grep -E "^torch" "$out/torch-attention.txt" | head -40 >> "$summary"
    torch_args=(--torch "$out/torch-attention.txt")
  fi
  for run in ${RL_BENCH_RUNS:-default:RAYLIGHT_SAGE_PV=int8}; do
    name=${run%%:*}
    step "bench-attention $name"
    env $(echo "${run#*:}" | tr ',' ' ') timeout ${RL_BENCH_TIMEOUT:-60} $build/bench-attention \
      "${torch_args[@]}" --variants sage ${RL_BENCH_ARGS:-} > "$out/bench-$name.txt" 2>&1
    grep -E "^sage" "$out/bench-$name.txt" | sed "s/^/$name /" | tee -a "$summary"
  done
  step "summary"; cat "$summary"; exit 0
fi

if [ "$what" = profile ]; then
  # Hardware counters of the attention kernel alone (no tests, no torch):
  # per P·V design, the last self-attention launch at H 12 and the first
  # 512-key cross-attention one at that length ($RL_PROFILE_LENGTHS, 32760
  # by default), with the pipes' utilisation and the warps' stall reasons.
  for run in "int8:RAYLIGHT_SAGE_PV=int8" "two-term:RAYLIGHT_SAGE_PV=fp8 RAYLIGHT_SAGE_V_TERMS=2" \
             "one-term:RAYLIGHT_SAGE_PV=fp8 RAYLIGHT_SAGE_V_TERMS=1" \
             ${RL_PROFILE_EXTRA:-}; do
    name=${run%%:*}
    for length in ${RL_PROFILE_LENGTHS:-32760}; do
      step "ncu $name L $length"
      env ${run#*:} timeout ${RL_NCU_TIMEOUT:-120} ncu --clock-control none -k regex:attention \
        --launch-skip 10 --launch-count 2 --section SpeedOfLight --section WarpStateStats \
        --section SchedulerStats --section ComputeWorkloadAnalysis --section InstructionStats \
        --section MemoryWorkloadAnalysis \
        --metrics "regex:^smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio$" \
        $build/bench-attention --variants sage --lengths $length \
        > "$out/ncu-$name-$length.txt" 2>&1
      note "ncu $name L $length: exit $?"
      grep -E "attention<|Duration|Throughput|Stall|Issued|Eligible|Pipe|Executed Ipc|L2 Hit|Mem Busy" \
        "$out/ncu-$name-$length.txt" | head -60 | sed "s/^/$name $length /" >> "$summary"
      # The stall reasons above 0.05 warps per issued instruction.
      awk '/issue_stalled/ && $NF + 0 > 0.05 { print $1, $NF }' "$out/ncu-$name-$length.txt" \
        | sed "s/smsp__average_warps_issue_stalled_//; s/_per_issue_active.ratio//; s/^/$name $length stall /" >> "$summary"
    done
  done
  # Where the default's warps wait, per SASS instruction: the samples of
  # the last self-attention launch and the first cross-attention one at
  # H 12, L 32760 (top 40 instructions each).
  for launch in 10 11; do
    step "ncu source, launch $launch"
    timeout ${RL_NCU_TIMEOUT:-120} ncu --clock-control none -k regex:attention --launch-skip $launch \
      --launch-count 1 --section SourceCounters --page source --print-source sass --csv \
      $build/bench-attention --variants sage --lengths 32760 > "$out/ncu-source-$launch.csv" 2>&1
    python3 - "$out/ncu-source-$launch.csv" <<'PY' | sed "s/^/source $launch /" >> "$summary"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], errors="replace")))
header = next((i for i, r in enumerate(rows) if "Source" in r and any(c.startswith("Warp Stall Sampling (All") for c in r)), None)
if header is None:
    print("no source table"); sys.exit()
h = rows[header]
src, addr = h.index("Source"), h.index("Address") if "Address" in h else 0
allc = next(i for i, c in enumerate(h) if c.startswith("Warp Stall Sampling (All"))
data = [r for r in rows[header + 1:] if len(r) == len(h)]
def num(x):
    try: return float(x.replace(",", ""))
    except ValueError: return 0.0
total = sum(num(r[allc]) for r in data) or 1.0
for r in sorted(data, key=lambda r: -num(r[allc]))[:40]:
    print(f"{num(r[allc]) / total * 100:5.1f}% {r[addr]} {r[src][:90]}")
PY
  done
  step "summary"; cat "$summary"; exit 0
fi

test_failed=0
# name, then the environment of each run of the parity test (words of
# $RL_TEST_RUNS instead, "name:VAR=v,VAR=v", for experiments).
# Schedules are pinned where a run tests something else: unpinned, the
# test's small shapes would all run in order (sage-schedule.h); "auto" runs
# the choice itself.
default_test_runs="ping-pong:RAYLIGHT_SAGE_SCHEDULE=ping-pong auto:RAYLIGHT_SAGE_PV=int8
  one-term-v:RAYLIGHT_SAGE_PV=fp8,RAYLIGHT_SAGE_V_TERMS=1,RAYLIGHT_SAGE_SCHEDULE=ping-pong
  two-term-v:RAYLIGHT_SAGE_PV=fp8,RAYLIGHT_SAGE_SCHEDULE=ping-pong
  two-term-v-in-order:RAYLIGHT_SAGE_PV=fp8,RAYLIGHT_SAGE_SCHEDULE=in-order
  in-order:RAYLIGHT_SAGE_SCHEDULE=in-order
  in-order-lag-0:RAYLIGHT_SAGE_SCHEDULE=in-order,RAYLIGHT_SAGE_LAG=0
  grid-tiles:RAYLIGHT_SAGE_GRID=tiles,RAYLIGHT_SAGE_SCHEDULE=ping-pong
  stagger:RAYLIGHT_SAGE_STAGGER=1,RAYLIGHT_SAGE_SCHEDULE=ping-pong
  prepare-launches:RAYLIGHT_SAGE_PREPARE=launches
  mma:RAYLIGHT_SAGE_KERNEL=mma
  mma-two-term-v:RAYLIGHT_SAGE_KERNEL=mma,RAYLIGHT_SAGE_PV=fp8"
for run in ${RL_TEST_RUNS:-$default_test_runs}; do
  name=${run%%:*}
  step "test-attention-sage-gpu ($name)"
  env $(echo "${run#*:}" | tr ',' ' ') timeout ${RL_TEST_TIMEOUT:-60} $build/test-attention-sage-gpu 2>&1 \
    | tee "$out/test-sage-$name.log"
  status=${PIPESTATUS[0]}
  note "test ($name): exit $status"
  [ "$name" = one-term-v ] || [ $status = 0 ] || test_failed=1
  grep -E "^# sage|^not ok|check failed" "$out/test-sage-$name.log" | head -30 | sed "s/^/$name /" >> "$summary"
done
[ $test_failed = 1 ] && note "A TEST FAILED: timings below are of a kernel that failed somewhere"
[ "$what" = test ] && { step "summary"; cat "$summary"; exit 0; }

step "sage against PyTorch's SDPA, one process"
# The ratios that count: same tensors, in turns, paired per round
# (tests/bench/attention_vs_torch.py). The bench-attention runs below
# compare the kernel's settings with each other.
PYTHONUNBUFFERED=1 timeout ${RL_PAIR_TIMEOUT:-150} python3 tests/bench/attention_vs_torch.py \
  --plugins "$mods" --variants sage,sage16 --rounds 3 > "$out/attention-vs-torch.txt" 2>&1
grep -E "^(#|pair (sage|sage16) )" "$out/attention-vs-torch.txt" | tee -a "$summary"
step "torch SDPA"
PYTHONUNBUFFERED=1 timeout ${RL_TORCH_TIMEOUT:-90} python3 tests/bench/torch_attention.py 2>&1 | tee "$out/torch-attention.txt"
# name:variant:environment. sage: the defaults (persistent blocks, integer
# P·V, the schedule by the problem); sage-2v / sage-1v: e4m3 P·V with
# two-term V / one-term V (the published design); sage-stagger: blocks
# start at different key tiles; sage-in-order and sage-ping-pong pinned;
# sage16 (in-order) and with ping-pong (it spills a little there); then
# sage again with each pass timed (the launch waits for its events, so its
# own ms are not comparable).
for run in "sage:sage:RAYLIGHT_SAGE_PV=int8" "sage-2v:sage:RAYLIGHT_SAGE_PV=fp8 RAYLIGHT_SAGE_V_TERMS=2" \
           "sage-1v:sage:RAYLIGHT_SAGE_PV=fp8 RAYLIGHT_SAGE_V_TERMS=1" \
           "sage-stagger:sage:RAYLIGHT_SAGE_STAGGER=1" "sage-in-order:sage:RAYLIGHT_SAGE_SCHEDULE=in-order" \
           "sage-ping-pong:sage:RAYLIGHT_SAGE_SCHEDULE=ping-pong" \
           "sage16:sage16:RAYLIGHT_SAGE_V_TERMS=2" "sage16-ping-pong:sage16:RAYLIGHT_SAGE_SCHEDULE=ping-pong" \
           "sage-mma:sage:RAYLIGHT_SAGE_KERNEL=mma" "sage16-mma:sage16:RAYLIGHT_SAGE_KERNEL=mma" \
           "passes:sage:RAYLIGHT_SAGE_PASS_TIMES=1" \
           "passes-2v:sage:RAYLIGHT_SAGE_PASS_TIMES=1 RAYLIGHT_SAGE_PV=fp8 RAYLIGHT_SAGE_V_TERMS=2"; do
  name=${run%%:*} rest=${run#*:}
  step "bench-attention $name"
  env ${rest#*:} timeout ${RL_BENCH_TIMEOUT:-60} $build/bench-attention \
    --torch "$out/torch-attention.txt" --variants ${rest%%:*} > "$out/bench-$name.txt" 2> "$out/passes-$name.txt"
  cat "$out/bench-$name.txt"
  case $name in
    passes*)
      # The median of each shape's passes (11 runs: warm-up and 10 timed).
      python3 tests/attention/sage-pass-times.py "$out/passes-$name.txt" | sed "s/^/$name /" >> "$summary"
      ;;
    *) grep -E "^(sage|torch)" "$out/bench-$name.txt" | sed "s/^/$name /" >> "$summary" ;;
  esac
done
if command -v ncu > /dev/null; then
  # Where the attention kernel's time goes: the last timed self-attention
  # launch at H 12, L 32760 and the first 512-key cross-attention one.
  step "ncu: attention kernel, H 12 L 32760 self and cross"
  timeout ${RL_NCU_TIMEOUT:-90} ncu --clock-control none -k regex:attention --launch-skip 10 --launch-count 2 \
    --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy \
    --section MemoryWorkloadAnalysis $build/bench-attention --variants sage --lengths 32760 \
    > "$out/ncu-attention.txt" 2>&1
  grep -E "attention<|Duration|Throughput|Stall|Issued|Eligible|No Eligible|Active Warps|L2 Hit|Mem Busy|Max Bandwidth|One or More" \
    "$out/ncu-attention.txt" | head -80 | sed 's/^/ncu /' >> "$summary"
fi
step "summary"
cat "$summary"
