#!/usr/bin/env bash
# GPU machine: build raylight-topology with meson (workers only) and write
# the machine's GPU topology and P2P bandwidth as JSON to $OUT, once with
# peer access and once forced through host memory, plus nvidia-smi's own
# view (`nvidia-smi topo -m`) to check the link types against. If meson
# cannot configure (another module's meson.build half-written), the tool is
# built directly with gcc: it is four files. Usage, from the repo root:
#   bash tests/pool/gpu-topology.sh
# Save $OUT/topology.json as tests/ui/data/topology-measured.json: the UI
# test (tests/ui/test-history-pool) then renders it in the Pool panel and
# saves the screenshot ui-pool-topology-measured.png.
set -u
out=${OUT:-$PWD/gpu-out}
mkdir -p "$out"
step () { echo "=== $(date +%T) $*"; }

step "device"
nvidia-smi --query-gpu=index,name,pci.bus_id,memory.total,driver_version --format=csv | tee "$out/nvidia-smi.csv"
nvidia-smi topo -m | tee "$out/nvidia-smi-topo.txt"

step "build"
tool=""
# An existing build-gpu (another session's) is reused, not set up again.
if { [ -f build-gpu/build.ninja ] || meson setup build-gpu -Dapp=disabled -Dui=disabled >"$out/meson-setup.log" 2>&1; } &&
   ninja -C build-gpu workers/topology/raylight-topology >"$out/ninja.log" 2>&1; then
  tool=build-gpu/workers/topology/raylight-topology
else
  echo "meson build failed (see meson-setup.log / ninja.log); building directly"
  mkdir -p build-gpu-topology
  if gcc -std=gnu17 -O2 -g -D_GNU_SOURCE -DRL_TOPOLOGY_HAVE_CUDA=1 -I. -I/usr/local/cuda/include \
       workers/topology/*.c -ldl -L/usr/local/cuda/lib64 -lcudart -Wl,-rpath,/usr/local/cuda/lib64 \
       -o build-gpu-topology/raylight-topology >"$out/gcc.log" 2>&1; then
    tool=build-gpu-topology/raylight-topology
  fi
fi
if [ -z "$tool" ]; then
  echo "could not build raylight-topology"
  exit 1
fi

step "topology with peer access"
"$tool" --output "$out/topology.json"; echo "exit $?"
cat "$out/topology.json"
step "topology through host memory (--no-peer)"
"$tool" --no-peer --output "$out/topology-no-peer.json"; echo "exit $?"
cat "$out/topology-no-peer.json"
step "done"
