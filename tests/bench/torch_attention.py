#!/usr/bin/env python3
"""PyTorch SDPA reference numbers for tests/bench/bench-attention.

Times torch.nn.functional.scaled_dot_product_attention with the flash and
cuDNN backends on the same Wan shapes as the C benchmark (B=1, H in 12/24/40,
L in 4680/32760/75600, D=128, bf16; self-attention and 512-token
cross-attention), q/k/v laid out [B, L, H, D] and viewed as [B, H, L, D]
exactly as Wan's attention does. Prints one line per measurement:

    torch <backend> H <h> Lq <lq> Lk <lk> ms <median ms> tflops <TFLOP/s>

bench-attention reads these lines (--torch FILE) and prints ratios, which
are indicative only (another process, later, other data, maybe another
clock); attention_vs_torch.py measures both in one process, in turns.
Timing: CUDA events around `calls` back-to-back calls, one warm-up, median
of the repeats, random inputs. The calls are queued behind a GPU sleep, so
the events time the GPU alone, as bench-attention times ours: timed one
call at a time, a 0.07-0.3 ms problem also measured the Python call and
cuDNN's graph lookup on the CPU.
"""
import statistics
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

from torch_attention_common import (CROSS_KEYS, HOLD_SECONDS, WAN_HEADS, WAN_LENGTHS, flops_and_calls,
                                    measure, wan_qkv)

BACKENDS = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}


def median_ms(fn, repeats, calls, label):
    fn()
    torch.cuda.synchronize()
    times = []
    slowest_queue = 0.0
    for _ in range(repeats):
        ms, queued = measure(fn, calls)
        times.append(ms)
        slowest_queue = max(slowest_queue, queued)
    if slowest_queue > HOLD_SECONDS:
        print(f"# torch {label}: queuing {calls} calls took {slowest_queue * 1e3:.1f} ms, "
              "the GPU may have waited for the CPU", flush=True)
    return statistics.median(times)


def shapes():
    for heads in WAN_HEADS:
        for length in WAN_LENGTHS:
            yield heads, length, length
            yield heads, length, CROSS_KEYS


def main():
    torch.manual_seed(int.from_bytes(__import__("os").urandom(4), "little"))
    print(f"# torch {torch.__version__} on {torch.cuda.get_device_name(0)}, "
          f"cuDNN {torch.backends.cudnn.version()}", flush=True)
    for heads, lq, lk in shapes():
        (q, k, v), (qt, kt, vt) = wan_qkv(heads, lq, lk)
        flops, calls = flops_and_calls(heads, lq, lk)
        repeats = 3 if flops > 1e13 else 10
        for name, backend in BACKENDS.items():
            try:
                with sdpa_kernel(backend):
                    ms = median_ms(lambda: torch.nn.functional.scaled_dot_product_attention(qt, kt, vt),
                                   repeats, calls, f"{name} H {heads} Lq {lq} Lk {lk}")
            except RuntimeError as error:
                print(f"# torch {name} H {heads} Lq {lq} Lk {lk}: {str(error).splitlines()[0]}")
                continue
            print(f"torch {name} H {heads} Lq {lq} Lk {lk} ms {ms:.4f} tflops {flops / ms / 1e9:.1f}",
                  flush=True)
        torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
