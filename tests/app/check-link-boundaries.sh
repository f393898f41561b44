#!/usr/bin/env bash
# The architecture's link rules, checked on the built files:
#  - the app process never links CUDA, cuBLAS or NCCL (DESIGN.md);
#  - a model-family plugin exports only its entry point, so the worker and
#    the plugin share one runtime (libraylight-core) instead of two copies.
# Usage: check-link-boundaries.sh RAYLIGHT_EXE PLUGIN.so...
set -u
status=0
app=$1
shift

if ldd "$app" | grep -Eiq 'libcuda|libcudart|libcublas|libnccl'; then
  echo "FAIL: $app links GPU libraries:"
  ldd "$app" | grep -Ei 'libcuda|libcudart|libcublas|libnccl'
  status=1
else
  echo "ok: $app links no GPU library"
fi

for plugin in "$@"; do
  exported=$(nm -D --defined-only "$plugin" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^_' | sort)
  if [ "$exported" != "raylight_family_entry" ]; then
    echo "FAIL: $plugin exports more than its entry point:"
    echo "$exported" | head -20
    status=1
  else
    echo "ok: $plugin exports only raylight_family_entry"
  fi
done
exit $status
