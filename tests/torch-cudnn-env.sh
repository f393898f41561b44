# shellcheck shell=bash
# Sourced by the GPU session scripts: gives our cuDNN users (the `cudnn`
# attention variant, the CUDA backend's convolutions) the libcudnn that
# PyTorch runs, so that a comparison with PyTorch compares our code and
# not two cuDNN releases. On the GPU machine the system's library was
# 9.14.0 while torch 2.11.0 pins nvidia-cudnn-cu13 9.19.0.56 (session 12).
# RL_CUDNN_SYSTEM=1 keeps the system's; without a system libcudnn,
# PyTorch's is put on the loader path either way. Needs the python3 that
# has torch on PATH.
use_torch_cudnn () {
  local dir
  dir=$(python3 -c 'import nvidia.cudnn; print(list(nvidia.cudnn.__path__)[0])' 2>/dev/null)
  if [ "${RL_CUDNN_SYSTEM:-0}" != 1 ] && [ -z "${RAYLIGHT_CUDNN_LIBRARY:-}" ] && [ -n "$dir" ] \
     && [ -e "$dir/lib/libcudnn.so.9" ]; then
    export RAYLIGHT_CUDNN_LIBRARY=$dir/lib/libcudnn.so.9
    export LD_LIBRARY_PATH=$dir/lib:${LD_LIBRARY_PATH:-}
  elif ! ldconfig -p | grep -q 'libcudnn.so.9' && [ -n "$dir" ]; then
    export LD_LIBRARY_PATH=$dir/lib:${LD_LIBRARY_PATH:-}
  fi
  echo "cudnn for our code: ${RAYLIGHT_CUDNN_LIBRARY:-libcudnn.so.9 from the loader path}"
}
