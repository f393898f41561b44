#!/usr/bin/env python3
"""torch.matmul against the CUDA backend's cuBLASLt GEMM in one process.

bench-gemm and torch_gemm_ops.py run in separate processes, so each side's
number carries the clock and temperature of its own moment; on an H100 a
bf16 product of Wan's size moves its clock by several percent within a
second, and one shape measured 0.909 of torch in one run and 0.962 in
another. Here both run on torch's stream in one process: each round times a
block of back-to-back launches of every variant (torch.matmul, our default
= the heuristic's first pick, and the heuristic's next candidates), in an
order rotated every round, so all variants share the GPU's state. The
profiler names the kernel each variant launches.

    gcc -shared -fPIC -I. tests/bench/gemm-shim.c <backend-cuda lib> \
        -lcublasLt -lcudart -o libgemm-shim.so
    python3 tests/bench/gemm_interleaved.py ./libgemm-shim.so [--rounds N]

Prints one table per shape: ms per launch (median over rounds), TFLOP/s,
the 10th-90th percentile of the rounds, and the median of the per-round
ratios to torch (1.0 = as fast as torch). Not a test.
"""
import argparse
import ctypes
import statistics

import torch

M = 32760
SHAPES = [(5120, 5120), (5120, 13824), (13824, 5120), (5120, 15360)]  # (K, N)


def kernel_names(fn):
    """Names of the GPU kernels one call of fn launches."""
    import warnings
    from torch.profiler import ProfilerActivity, profile
    warnings.filterwarnings("ignore", message=".*Profiler clears events.*")
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    names = []
    for event in prof.key_averages():
        device_time = getattr(event, "self_device_time_total", None)
        if device_time is None:
            device_time = getattr(event, "self_cuda_time_total", 0)
        if device_time > 0:
            names.append(event.key)
    return names


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("lib")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--block", type=int, default=4, help="back-to-back launches per timing")
    parser.add_argument("--candidates", type=int, default=4, help="heuristic candidates timed")
    parser.add_argument("--named", type=int, default=8, help="heuristic candidates named")
    parser.add_argument("--once", action="store_true",
                        help="one product per side and shape, no timing (for CUBLASLT_LOG_LEVEL"
                             "=2 / CUBLAS_LOGINFO_DBG=1 logs of each side's algorithm)")
    parser.add_argument("--workspaces", type=int, nargs="*", default=[8, 1],
                        help="smaller workspaces (MiB) whose default pick is timed too")
    args = parser.parse_args()

    lib = ctypes.CDLL(args.lib)
    lib.rl_bench_gemm_new.restype = ctypes.c_void_p
    lib.rl_bench_gemm_new.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.rl_bench_gemm_free.argtypes = [ctypes.c_void_p]
    lib.rl_bench_gemm_bf16.restype = ctypes.c_int
    lib.rl_bench_gemm_bf16.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                       ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_void_p, ctypes.c_void_p]
    contexts = [lib.rl_bench_gemm_new(c, 0) for c in range(max(args.candidates, args.named))]
    # The default pick under smaller workspaces (torch's cuBLAS handle may
    # offer the heuristic less than our 32 MiB, which changes its pick).
    small = {mib: lib.rl_bench_gemm_new(0, mib) for mib in args.workspaces}
    if not all(contexts) or not all(small.values()):
        raise SystemExit("gemm_interleaved: creating the GEMM contexts failed")
    stream = torch.cuda.current_stream().cuda_stream
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"{args.rounds} rounds of {args.block} back-to-back launches per variant, "
          f"order rotated each round\n")
    worst = float("inf")
    for k, n in SHAPES:
        x = (torch.rand(M, k, device="cuda") * 2 - 1).to(torch.bfloat16)
        w = ((torch.rand(n, k, device="cuda") * 2 - 1) * 0.02).to(torch.bfloat16)
        y = torch.empty(M, n, device="cuda", dtype=torch.bfloat16)

        def ours(candidate, context=None):
            context = context or contexts[candidate]

            def run():
                if lib.rl_bench_gemm_bf16(context, M, k, n, x.data_ptr(), w.data_ptr(),
                                          y.data_ptr(), stream) != 0:
                    raise SystemExit("gemm_interleaved: our GEMM failed")
            return run

        if args.once:
            print(f"## {M} x {k} x {n}: torch.matmul, then ours", flush=True)
            torch.matmul(x, w.t())
            torch.cuda.synchronize()
            ours(0)()
            torch.cuda.synchronize()
            continue
        variants = [("torch.matmul", lambda: torch.matmul(x, w.t()))]
        variants += [(f"ours, candidate {c}" + (" (default)" if c == 0 else ""), ours(c))
                     for c in range(args.candidates)]
        variants += [(f"ours, {mib} MiB workspace", ours(0, small[mib])) for mib in small]
        # Parity first: a fast wrong product is no result.
        reference = torch.matmul(x, w.t()).float()
        ours(0)()
        error = ((y.float() - reference).norm() / reference.norm()).item()
        print(f"## {M} x {k} x {n}: ours vs torch.matmul relative error {error:.2e}")
        for label, fn in variants[:1]:
            print(f"  kernels of {label}: {', '.join(kernel_names(fn))}")
        for c in range(args.named):
            print(f"  kernels of candidate {c}: {', '.join(kernel_names(ours(c)))}")
        for mib in small:
            print(f"  kernels with {mib} MiB workspace: "
                  f"{', '.join(kernel_names(ours(0, small[mib])))}")
        for _, fn in variants:
            for _ in range(3):
                fn()
        torch.cuda.synchronize()
        times = {label: [] for label, _ in variants}
        ratios = {label: [] for label, _ in variants}
        for r in range(args.rounds):
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            events = []
            for label, fn in order:
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(args.block):
                    fn()
                end.record()
                events.append((label, start, end))
            torch.cuda.synchronize()
            round_ms = {label: s.elapsed_time(e) / args.block for label, s, e in events}
            for label in round_ms:
                times[label].append(round_ms[label])
                ratios[label].append(round_ms["torch.matmul"] / round_ms[label])
        flops = 2.0 * M * k * n
        print(f"\n| variant | ms/launch | TFLOP/s | TFLOP/s p10-p90 of rounds | vs torch (median of per-round ratios) | min-max ratio |")
        print("|---|---:|---:|---|---:|---|")
        for label, _ in variants:
            ms = statistics.median(times[label])
            q = statistics.quantiles(times[label], n=10)
            ratio = statistics.median(ratios[label])
            print(f"| {label} | {ms:.3f} | {flops / ms / 1e9:.1f} | "
                  f"{flops / q[-1] / 1e9:.0f}-{flops / q[0] / 1e9:.0f} | {ratio:.3f} | "
                  f"{min(ratios[label]):.3f}-{max(ratios[label]):.3f} |")
            if label.endswith("(default)"):
                worst = min(worst, ratio)
        print()
        del x, w, y, reference
        torch.cuda.empty_cache()
    for context in contexts + list(small.values()):
        lib.rl_bench_gemm_free(context)
    if not args.once:
        print(f"worst default ratio vs torch.matmul, same process: {worst:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
