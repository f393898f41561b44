#!/usr/bin/env python3
"""Compare Raylight's initial noise (workers/sampling/noise.c, via the
dump-noise tool) with ComfyUI's comfy.sample.prepare_noise on PyTorch.

Usage (on a machine with PyTorch):
    python tests/reference/check_noise.py BUILD_DIR/tests/sampling/dump-noise

For each case it prints the shape, seed, max |ours - torch| and how many
elements are bit-identical. Exit status 0 when every case is within 1e-6
(the acceptance bar; bit-identical is the goal), 1 otherwise.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

TOLERANCE = 1e-6

# (shape, seed, batch_index or None)
CASES = [
    ([1, 16, 21, 60, 104], 0, None),
    ([1, 16, 21, 60, 104], 123456789, None),
    ([1, 48, 31, 44, 80], 2**64 - 1, None),
    ([2, 16, 3, 30, 52], 42, None),
    ([1, 4, 8, 8], 0, None),
    ([1, 4, 8, 8], 1, None),
    ([7], 0, None),
    ([7], 987654321, None),
    ([15], 5, None),
    ([16], 5, None),
    ([17], 5, None),
    ([1], 3, None),
    ([33], 2**32 + 7, None),
    ([4, 1, 3, 5], 11, [0, 2, 2, 5]),
    ([3, 2, 3], 12, [1, 0, 1]),   # 6 elements per sample: scalar path with cache
    ([2, 4, 8, 8], 13, [3, 1]),
]


def prepare_noise(shape, seed, batch_index):
    """comfy/sample.py prepare_noise, float32 latent."""
    generator = torch.manual_seed(seed)
    if batch_index is None:
        return torch.randn(shape, dtype=torch.float32, generator=generator, device="cpu")
    unique_inds, inverse = np.unique(batch_index, return_inverse=True)
    noises = []
    for i in range(unique_inds[-1] + 1):
        noise = torch.randn([1] + list(shape[1:]), dtype=torch.float32,
                            generator=generator, device="cpu")
        if i in unique_inds:
            noises.append(noise)
    noises = [noises[i] for i in inverse]
    return torch.cat(noises, axis=0)


def run_case(tool, shape, seed, batch_index, workdir):
    out = os.path.join(workdir, "noise.bin")
    cmd = [tool, str(seed), out] + [str(d) for d in shape]
    if batch_index is not None:
        cmd += ["--batch-index", ",".join(str(i) for i in batch_index)]
    subprocess.run(cmd, check=True)
    ours = np.fromfile(out, dtype="<f4").reshape(shape)
    ref = prepare_noise(shape, seed, batch_index).numpy()
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    identical = int(np.sum(ours.view(np.uint32) == ref.view(np.uint32)))
    max_diff = float(diff.max()) if diff.size else 0.0
    worst = int(np.argmax(diff)) if diff.size else 0
    return max_diff, identical, ours.reshape(-1), ref.reshape(-1), worst


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    tool = sys.argv[1]
    print(f"torch {torch.__version__}, cpu capability {torch.backends.cpu.get_cpu_capability()}")
    failed = 0
    with tempfile.TemporaryDirectory() as workdir:
        for shape, seed, batch_index in CASES:
            max_diff, identical, ours, ref, worst = run_case(tool, shape, seed, batch_index, workdir)
            total = ours.size
            status = "ok" if max_diff <= TOLERANCE else "FAIL"
            if status == "FAIL":
                failed += 1
            extra = f" batch_index={batch_index}" if batch_index is not None else ""
            print(f"{status:4} shape={shape} seed={seed}{extra}: max|diff|={max_diff:.3e} "
                  f"bit-identical {identical}/{total}")
            if identical != total:
                print(f"     worst at flat index {worst}: ours={ours[worst]!r} torch={ref[worst]!r}")
    print("all cases within 1e-6" if not failed else f"{failed} case(s) above 1e-6")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
