#!/usr/bin/env python3
"""Our attention variants and PyTorch's SDPA in one process, on the same
tensors, measured in turns.

bench-attention and torch_attention.py run one after the other, each with
its own random data, so a ratio between them also carries what changed in
between: the GPU's temperature and power state after a minute of full load,
and the data (the tensor cores' power, and so the clock under the 700 W
cap, depends on the bits they multiply). Here the plugins are loaded with
ctypes into the Python process that runs PyTorch; for each Wan shape the
same q, k, v go to every contender, and each round measures every
contender once, in an order that rotates from round to round. The ratio to
PyTorch's cuDNN backend is taken per round (paired) and its median and
range printed. Timing as both benchmarks: CUDA events around `calls`
back-to-back runs queued behind a GPU sleep, so the GPU alone is timed.

    python3 tests/bench/attention_vs_torch.py --plugins DIR[:DIR] \
        [--variants cudnn,flash,sage] [--heads 12,24,40] [--lengths 4680,32760,75600]
        [--rounds 5] [--lse on|off]

Prints, per shape and contender:

    pair <name> H <h> Lq <lq> Lk <lk> ms <median> tflops <t> vs-torch-cudnn <median> [<min> <max>] rel <r>

`rel` is ‖ours − PyTorch's cuDNN‖/‖PyTorch's cuDNN‖ on that shape, a check
that ours computed the same thing (bf16 output; sage is approximate). Not a
test: timings never decide pass or fail.
"""
import argparse
import math
import os
import statistics
import sys

import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

import attention_abi as abi
from torch_attention_common import (CROSS_KEYS, HEAD_DIM, HOLD_SECONDS, WAN_HEADS, WAN_LENGTHS,
                                    flops_and_calls, measure, wan_qkv)


def find_plugins(dirs, wanted):
    plugins = {}
    for folder in dirs:
        for name in wanted:
            path = os.path.join(folder, f"raylight-attention-{name}.so")
            if name in plugins or not os.path.exists(path):
                continue
            try:
                plugins[name] = abi.Plugin(path)
            except (OSError, RuntimeError) as error:
                print(f"# {name}: {error}", flush=True)
    for name in wanted:
        if name not in plugins:
            print(f"# {name}: no raylight-attention-{name}.so opens in {':'.join(dirs)}", flush=True)
    return plugins


def compare_shape(plugins, heads, lq, lk, rounds, with_lse):
    (q, k, v), (qt, kt, vt) = wan_qkv(heads, lq, lk)
    flops, calls = flops_and_calls(heads, lq, lk)
    stream = torch.cuda.current_stream().cuda_stream
    problem = abi.problem(heads, lq, lk, HEAD_DIM, abi.BF16, 1.0 / math.sqrt(HEAD_DIM))
    outputs = {}
    contenders = []
    for backend_name, backend in (("torch-cudnn", SDPBackend.CUDNN_ATTENTION),
                                  ("torch-flash", SDPBackend.FLASH_ATTENTION)):
        def torch_call(backend=backend, backend_name=backend_name):
            with sdpa_kernel(backend):
                outputs[backend_name] = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt)
        contenders.append((backend_name, torch_call))
    for name, plugin in plugins.items():
        why = plugin.supports(problem)
        if why is not None:
            print(f"# {name} H {heads} Lq {lq} Lk {lk}: {why}", flush=True)
            continue
        out = torch.empty_like(q)
        lse = torch.empty(heads, lq, device="cuda", dtype=torch.float32) if with_lse else None
        args = abi.args(q.data_ptr(), k.data_ptr(), v.data_ptr(), out.data_ptr(),
                        lse.data_ptr() if lse is not None else None, stream)
        outputs[name] = out
        # lse is bound so that its buffer lives as long as the call.
        contenders.append((name, lambda plugin=plugin, args=args, lse=lse: plugin.run(problem, args)))

    ms = {name: [] for name, _ in contenders}
    slowest_queue = 0.0
    for name, fn in contenders:   # warm-up: graphs built, kernels loaded
        fn()
    torch.cuda.synchronize()
    reference = outputs["torch-cudnn"].transpose(1, 2).float()
    rel = {}
    for name, _ in contenders:
        ours = outputs[name].float()
        ours = ours.transpose(1, 2) if name.startswith("torch") else ours
        rel[name] = ((ours - reference).norm() / reference.norm()).item()
    for r in range(rounds):
        turn = contenders[r % len(contenders):] + contenders[:r % len(contenders)]
        for name, fn in turn:
            t, queued = measure(fn, calls)
            ms[name].append(t)
            slowest_queue = max(slowest_queue, queued)
    if slowest_queue > HOLD_SECONDS:
        print(f"# H {heads} Lq {lq} Lk {lk}: queuing took {slowest_queue * 1e3:.1f} ms, "
              "the GPU may have waited for the CPU", flush=True)
    base = ms["torch-cudnn"]
    for name, _ in contenders:
        ratios = sorted(b / t for b, t in zip(base, ms[name]))
        median_ms = statistics.median(ms[name])
        print(f"pair {name:<11} H {heads:2d} Lq {lq:5d} Lk {lk:5d} ms {median_ms:9.3f} "
              f"tflops {flops / median_ms / 1e9:6.1f} vs-torch-cudnn {statistics.median(ratios):.3f} "
              f"[{ratios[0]:.3f} {ratios[-1]:.3f}] rel {rel[name]:.2e}", flush=True)


def int_list(text):
    return [int(x) for x in text.split(",") if x]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plugins", required=True, help="plugin folders, colon-separated")
    parser.add_argument("--variants", default="cudnn,flash,sage")
    parser.add_argument("--heads", type=int_list, default=WAN_HEADS)
    parser.add_argument("--lengths", type=int_list, default=WAN_LENGTHS)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lse", choices=["on", "off"], default="off",
                        help="ask ours for the log-sum-exp (PyTorch's inference SDPA computes none)")
    options = parser.parse_args()
    torch.manual_seed(int.from_bytes(os.urandom(4), "little"))
    print(f"# torch {torch.__version__} on {torch.cuda.get_device_name(0)}, "
          f"cuDNN {torch.backends.cudnn.version()}; our cudnn opens "
          f"{os.environ.get('RAYLIGHT_CUDNN_LIBRARY', 'libcudnn.so.9 from the loader path')}; "
          f"log-sum-exp {options.lse}; {options.rounds} rounds", flush=True)
    plugins = find_plugins(options.plugins.split(":"), [v for v in options.variants.split(",") if v])
    if not plugins:
        return 1
    for heads in options.heads:
        for length in options.lengths:
            for lk in (length, CROSS_KEYS):
                compare_shape(plugins, heads, length, lk, options.rounds, options.lse == "on")
                torch.cuda.empty_cache()   # the shape's tensors went with its call
    for plugin in plugins.values():
        plugin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
