#!/usr/bin/env python3
"""PyTorch reference numbers for tests/bench/bench-gemm and bench-ops.

Runs the same shapes as the C benchmarks on the current GPU and prints one
flat JSON object: TFLOP/s for the GEMMs (torch.matmul, bf16, and
torch._scaled_mm for fp8), GB/s for the device-to-device copy and for the
memory-bound ops written in plain PyTorch (what ComfyUI runs). Timing: CUDA
events, warm-up first, median of the repeats, random inputs (never zeros).

    python3 tests/bench/torch_gemm_ops.py > torch.json

The GEMM inputs have the same distributions as bench-gemm's (uniform in
[-1, 1), weights scaled by 0.02; fp8 uniform in [-200, 200)): the GPU's
clock under a matmul depends on the data's bit patterns, so matching them
keeps the ratio about the kernels. With --summarise it instead reads the
JSON files of several alternating rounds (torch's and bench-gemm --json's)
and prints per-shape medians across the rounds with their range:

    python3 tests/bench/torch_gemm_ops.py --summarise torch-*.json ours-*.json
"""
import json
import statistics
import sys

try:
    import torch
except ImportError:  # --summarise needs no torch
    torch = None

M = 32760                      # Wan 14B, 480p 81 frames: 21 x 30 x 52 tokens
GEMM_SHAPES = [(5120, 5120), (5120, 13824), (13824, 5120), (5120, 15360)]  # (K, N)
DIM, HEADS, HEAD_DIM, FRAMES = 5120, 40, 128, 21


def timed_ms(fn, warmup=5, repeats=30):
    """Event timings of `repeats` calls after `warmup`, sorted."""
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
    return sorted(times)


def median_ms(fn, warmup=5, repeats=30):
    return statistics.median(timed_ms(fn, warmup, repeats))


def gemms(out):
    # All bf16 shapes first, in bench-gemm's order: that program also times
    # its default bf16 products first, so each side's bf16 numbers come at
    # the same point of its process's GPU load (a product run after seconds
    # of other products runs at a lower clock).
    for k, n in GEMM_SHAPES:
        x = (torch.rand(M, k, device="cuda") * 2 - 1).to(torch.bfloat16)
        w = ((torch.rand(n, k, device="cuda") * 2 - 1) * 0.02).to(torch.bfloat16)
        times = timed_ms(lambda: torch.matmul(x, w.t()))
        flops = 2.0 * M * k * n
        out[f"gemm_bf16_{M}x{k}x{n}"] = flops / (statistics.median(times) * 1e-3) / 1e12
        # 10th and 90th percentile runs, as bench-gemm prints its spread.
        out[f"gemm_bf16_{M}x{k}x{n}_slow"] = flops / (times[-1 - len(times) // 10] * 1e-3) / 1e12
        out[f"gemm_bf16_{M}x{k}x{n}_fast"] = flops / (times[len(times) // 10] * 1e-3) / 1e12
        del x, w
    for k, n in GEMM_SHAPES:
        try:
            x8 = ((torch.rand(M, k, device="cuda") * 2 - 1) * 200).to(torch.float8_e4m3fn)
            w8 = ((torch.rand(n, k, device="cuda") * 2 - 1) * 200).to(torch.float8_e4m3fn)
            one = torch.ones((), device="cuda")
            ms = median_ms(lambda: torch._scaled_mm(x8, w8.t(), scale_a=one, scale_b=one,
                                                    out_dtype=torch.bfloat16))
            out[f"gemm_fp8_{M}x{k}x{n}"] = 2.0 * M * k * n / (ms * 1e-3) / 1e12
        except Exception as error:  # older torch or no fp8 support
            print(f"fp8 skipped: {error}", file=sys.stderr)


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


def summarise(paths):
    """Medians across rounds of torch's and our GEMM numbers, as a table."""
    rounds = [json.load(open(path)) for path in paths]
    torch_rounds = [r for r in rounds if "torch" in r]
    ours_rounds = [r for r in rounds if "torch" not in r]
    print(f"{len(torch_rounds)} torch rounds, {len(ours_rounds)} bench-gemm rounds, alternating; "
          "TFLOP/s medians across rounds (min-max)\n")
    print("| GEMM | M x K x N | ours | torch | ratio of medians | per-round ratios |")
    print("|---|---|---:|---:|---:|---|")
    worst = float("inf")
    for k, n in GEMM_SHAPES:
        shape = f"{M}x{k}x{n}"
        for label, ours_key, torch_key in (
                ("bf16 heuristic (default)", f"ours_bf16_{shape}", f"gemm_bf16_{shape}"),
                ("bf16 autotuned (opt-in)", f"ours_autotuned_{shape}", f"gemm_bf16_{shape}"),
                ("bf16 + bias+GELU", f"ours_gelu_{shape}", f"gemm_bf16_{shape}"),
                ("fp8 e4m3 (scale pointers) vs _scaled_mm", f"ours_fp8_{shape}",
                 f"gemm_fp8_{shape}")):
            ours = [r[ours_key] for r in ours_rounds if r.get(ours_key, -1) > 0]
            ref = [r[torch_key] for r in torch_rounds if torch_key in r]
            if not ours or not ref:
                continue
            ratio = statistics.median(ours) / statistics.median(ref)
            paired = [o / t for o, t in zip(ours, ref)]
            if ours_key.startswith("ours_bf16"):
                worst = min(worst, ratio)
            print(f"| {label} | {shape.replace('x', ' x ')} | {statistics.median(ours):.1f} "
                  f"({min(ours):.0f}-{max(ours):.0f}) | {statistics.median(ref):.1f} "
                  f"({min(ref):.0f}-{max(ref):.0f}) | {ratio:.3f} | "
                  f"{', '.join(f'{p:.3f}' for p in paired)} |")
    print(f"\nworst bf16 (default) ratio of medians: {worst:.3f} (target >= 0.95)")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--summarise":
        summarise(sys.argv[2:])
        return
    torch.manual_seed(torch.seed())
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
    memory_ops(out)
    gemms(out)
    json.dump(out, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
