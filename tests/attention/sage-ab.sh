#!/usr/bin/env bash
# Same-run A/B of the sage kernel on the GPU machine: the working tree
# against a base version of plugins/attention/sage, both built with
# sage-gpu-session.sh (RL_SAGE_BUILD keeps the builds apart), the parity
# test on the working tree's build, then bench-attention over the 18 Wan
# shapes alternating new, base, new, base, with ratios against PyTorch's
# SDPA run once in the same call. Prepare the base here, carry it there:
#   git archive -o .final-sage/base.tar <commit> plugins/attention/sage
#   run (carry .final-sage, ~2 min):  bash tests/attention/sage-ab.sh $OUT/ab
# Environment: TESTS, the parity runs ("name:VAR=v,VAR=v" words, as
# RL_TEST_RUNS); RUNS, the bench runs per tree (same form); BENCH_ARGS
# (e.g. --lengths 4680); PASSES=1, each tree's pass times too.
# Prints the failures, then per shape: tree-run-round H Lq Lk ms × cuDNN.
set -u
root=$PWD out=$1 base_tar=${BASE_TAR:-$PWD/.final-sage/base.tar}
mkdir -p "$out"
[ -f "$base_tar" ] || { echo "no $base_tar: git archive the base first"; exit 2; }
rm -rf /tmp/sage-ab-base && mkdir -p /tmp/sage-ab-base && cp -r "$root"/. /tmp/sage-ab-base/ \
  && tar -xf "$base_tar" -C /tmp/sage-ab-base
( cd /tmp/sage-ab-base && RL_SAGE_BUILD=/tmp/sb-base RL_BENCH_TORCH=1 RL_BENCH_RUNS="base:RAYLIGHT_SAGE_PV=int8" \
    OUT="$out/base" bash tests/attention/sage-gpu-session.sh bench > "$out/base.log" 2>&1 )
RL_SAGE_BUILD=/tmp/sb-new \
  RL_TEST_RUNS="${TESTS:-ping-pong:RAYLIGHT_SAGE_SCHEDULE=ping-pong in-order:RAYLIGHT_SAGE_SCHEDULE=in-order}" \
  OUT="$out/new" bash tests/attention/sage-gpu-session.sh test > "$out/new-test.log" 2>&1
grep -E "exit|sass|not ok|failed" "$out/new/summary.txt"
torch=$out/base/torch-attention.txt
for round in 1 2; do
  for tree in new base; do
    for run in ${RUNS:-int8:RAYLIGHT_SAGE_PV=int8}; do
      env $(echo "${run#*:}" | tr ',' ' ') /tmp/sb-$tree/bench-attention --torch "$torch" --variants sage \
        ${BENCH_ARGS:-} 2>/dev/null | grep -E "^sage" | sed "s/^/$tree-${run%%:*}-$round /" >> "$out/all.txt"
    done
  done
done
sort -k2,2 -k3n -k4n -k5n "$out/all.txt" | awk '{print $1, $3, $4, $5, $6, $8}'
[ -n "${PASSES:-}" ] || exit 0
for tree in new base; do
  RAYLIGHT_SAGE_PASS_TIMES=1 /tmp/sb-$tree/bench-attention --variants sage ${BENCH_ARGS:-} \
    2> "$out/passes-$tree.txt" > /dev/null
  python3 tests/attention/sage-pass-times.py "$out/passes-$tree.txt" | sed "s/^/passes $tree /"
done
