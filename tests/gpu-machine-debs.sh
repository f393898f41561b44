# Sourced by the GPU session scripts (bash). Bare GPU machines may lack
# OpenBLAS and pkg-config, which the CPU backend's build needs; .gpu-debs/
# (carried with the call) holds their Debian packages. Unpacks them and
# registers OpenBLAS only when pkg-config cannot find it already.
#   unpack_gpu_debs [DIR]   (DIR defaults to .gpu-debs)
unpack_gpu_debs () {
  local debs=${1:-.gpu-debs}
  if pkg-config --exists openblas 2>/dev/null || [ ! -d "$debs" ]; then
    return 0
  fi
  echo "=== $(date +%T) unpacking OpenBLAS / pkg-config from $debs"
  for deb in "$debs"/*.deb; do dpkg -x "$deb" /; done
  mkdir -p /usr/lib/x86_64-linux-gnu/pkgconfig
  ln -sf /usr/lib/x86_64-linux-gnu/openblas-pthread/pkgconfig/openblas.pc \
    /usr/lib/x86_64-linux-gnu/pkgconfig/openblas.pc
  echo /usr/lib/x86_64-linux-gnu/openblas-pthread > /etc/ld.so.conf.d/openblas-pthread.conf
  ldconfig
}
