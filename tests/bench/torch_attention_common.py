"""What the PyTorch-side attention benchmarks (torch_attention.py,
attention_vs_torch.py) share: Wan's q, k, v and the timing. The calls of
one measurement are queued behind a GPU sleep, so the CUDA events around
them time the GPU alone and not the CPU's launch cost (a Python call,
cuDNN's graph lookup), which on a 0.07-0.3 ms problem is as long as the
work."""
import time

import torch

# The GPU sleeps this many cycles (~25 ms at the H100's 1.98 GHz) while
# the CPU queues the start event, the calls and the end event.
HOLD_CYCLES = 50_000_000
HOLD_SECONDS = 0.012   # queuing slower than this may have let the GPU idle
HEAD_DIM = 128
# Wan's attention shapes: heads of the 1.3B, 5B and 14B models; tokens of
# 480p and 720p clips; each also as cross-attention to the 512 text tokens.
WAN_HEADS = [12, 24, 40]
WAN_LENGTHS = [4680, 32760, 75600]
CROSS_KEYS = 512


def wan_qkv(heads, lq, lk):
    """q, k, v in bf16, random normal, laid out [1, L, H, D] as Wan makes
    them, and their [1, H, L, D] views as Wan hands them to SDPA."""
    q = torch.randn(1, lq, heads, HEAD_DIM, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(1, lk, heads, HEAD_DIM, device="cuda", dtype=torch.bfloat16)
    v = torch.randn(1, lk, heads, HEAD_DIM, device="cuda", dtype=torch.bfloat16)
    return (q, k, v), tuple(t.transpose(1, 2) for t in (q, k, v))


def flops_and_calls(heads, lq, lk):
    """The problem's FLOP and the calls per measurement: several where one
    is short, so the events' resolution and the GPU's idle start matter little."""
    flops = 4.0 * heads * lq * lk * HEAD_DIM
    return flops, 1 if flops > 1e12 else 10


def measure(fn, calls):
    """(ms per call, seconds the CPU took to queue them) of one measurement:
    `calls` runs of fn queued behind a GPU sleep."""
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    torch.cuda._sleep(HOLD_CYCLES)
    queued_from = time.perf_counter()
    start.record()
    for _ in range(calls):
        fn()
    end.record()
    queued = time.perf_counter() - queued_from
    end.synchronize()
    return start.elapsed_time(end) / calls, queued
