#!/usr/bin/env python3
"""PyTorch reference numbers for tests/bench/bench-gemm and bench-ops.

Runs the same shapes as the C benchmarks on the current GPU and prints one
flat JSON object: TFLOP/s for the GEMMs (torch.matmul, bf16, and
torch._scaled_mm for fp8), GB/s for the device-to-device copy and for the
memory-bound ops written in plain PyTorch (what ComfyUI runs). Timing: CUDA
events, warm-up first, median of the repeats, random inputs (never zeros).

    python3 tests/bench/torch_gemm_ops.py > torch.json
"""
import json
import statistics
import sys

import torch

M = 32760                      # Wan 14B, 480p 81 frames: 21 x 30 x 52 tokens
GEMM_SHAPES = [(5120, 5120), (5120, 13824), (13824, 5120), (5120, 15360)]  # (K, N)
DIM, HEADS, HEAD_DIM, FRAMES = 5120, 40, 128, 21


def median_ms(fn, warmup=3, repeats=15):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def gemms(out):
    for k, n in GEMM_SHAPES:
        x = torch.randn(M, k, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16) * 0.02
        ms = median_ms(lambda: torch.matmul(x, w.t()))
        out[f"gemm_bf16_{M}x{k}x{n}"] = 2.0 * M * k * n / (ms * 1e-3) / 1e12
        try:
            x8 = (x * 0.5).to(torch.float8_e4m3fn)
            w8 = (w * 20).to(torch.float8_e4m3fn)
            one = torch.ones((), device="cuda")
            ms = median_ms(lambda: torch._scaled_mm(x8, w8.t(), scale_a=one, scale_b=one,
                                                    out_dtype=torch.bfloat16))
            out[f"gemm_fp8_{M}x{k}x{n}"] = 2.0 * M * k * n / (ms * 1e-3) / 1e12
        except Exception as error:  # older torch or no fp8 support
            print(f"fp8 skipped: {error}", file=sys.stderr)
        del x, w


def gbps(nbytes, ms):
    return nbytes / (ms * 1e-3) / 1e9


def memory_ops(out):
    n = 1 << 29  # 1 GiB of bytes copied: read + write counted
    src = torch.randint(0, 255, (n,), device="cuda", dtype=torch.uint8)
    dst = torch.empty_like(src)
    out["copy_d2d"] = gbps(2 * n, median_ms(lambda: dst.copy_(src)))
    del src, dst

    x = torch.randn(1, M, DIM, device="cuda", dtype=torch.bfloat16)
    shift = torch.randn(1, 1, DIM, device="cuda", dtype=torch.float32) * 0.1
    scale = torch.randn(1, 1, DIM, device="cuda", dtype=torch.float32) * 0.1
    xb = x.numel() * 2

    def norm_modulate():
        h = torch.nn.functional.layer_norm(x, (DIM,), eps=1e-6)
        return torch.addcmul(shift, h, 1 + scale).to(torch.bfloat16)
    out["norm_modulate"] = gbps(2 * xb, median_ms(norm_modulate))

    y = torch.randn_like(x)
    gate = torch.randn(1, 1, DIM, device="cuda", dtype=torch.float32) * 0.1
    out["gated_residual"] = gbps(3 * xb, median_ms(lambda: x.addcmul_(y, gate.to(x.dtype))))
    out["add"] = gbps(3 * xb, median_ms(lambda: torch.add(x, y)))
    out["silu"] = gbps(2 * xb, median_ms(lambda: torch.nn.functional.silu(x)))

    q = x.view(1, M, HEADS, HEAD_DIM)
    angles = torch.rand(M, HEAD_DIM // 2, device="cuda") * 6.28
    cos, sin = angles.cos(), angles.sin()

    def rope():  # ComfyUI-style: rotation of adjacent pairs in fp32, cast back
        pairs = q.float().reshape(1, M, HEADS, HEAD_DIM // 2, 2)
        x0, x1 = pairs[..., 0], pairs[..., 1]
        c, s = cos[None, :, None, :], sin[None, :, None, :]
        return torch.stack((c * x0 - s * x1, s * x0 + c * x1), -1).flatten(3).to(torch.bfloat16)
    out["rope"] = gbps(2 * xb + 2 * cos.numel() * 4, median_ms(rope))
    xf = torch.randn(1, M, DIM, device="cuda", dtype=torch.float32)
    out["convert_f32_bf16"] = gbps(xf.numel() * 6, median_ms(lambda: xf.to(torch.bfloat16)))


def main():
    torch.manual_seed(torch.seed())
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    memory_ops(out)
    gemms(out)
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
