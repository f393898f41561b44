#!/usr/bin/env python3
"""The Python bindings of the attention ABI (tests/bench/attention_abi.py),
which tests/bench/attention_vs_torch.py uses to run our variants next to
PyTorch, held to the C header: every struct field's offset and size as the
C compiler lays it out (attention-abi-layout), the constants, and one run
of the CPU `reference` variant through the bindings against attention
computed here in float64, with a padded-key problem and a refused one.

    test-attention-abi-ctypes.py LAYOUT_PROGRAM REFERENCE_MODULE

TAP on stdout.
"""
import ctypes
import math
import os
import random
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench"))
import attention_abi as abi  # noqa: E402

results = []


def check(ok, what):
    results.append((bool(ok), what))
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {what}", flush=True)


def check_layouts(layout_program):
    structs = {"RlAttentionProblem": abi.Problem, "RlAttentionArgs": abi.Args,
               "RlAttentionVariant": abi.Variant}
    c_fields = {name: [] for name in structs}
    c_sizes, constants, symbols = {}, {}, {}
    lines = subprocess.run([layout_program], check=True, capture_output=True, text=True).stdout
    for line in lines.splitlines():
        words = line.split()
        if words[0] == "constant":
            constants[words[1]] = int(words[2])
        elif words[0] == "symbol":
            symbols[words[1]] = words[2]
        elif words[1] == "sizeof":
            c_sizes[words[0]] = int(words[2])
        else:
            c_fields[words[0]].append((words[1], int(words[2]), int(words[3])))
    for name, struct in structs.items():
        py_fields = [(field, getattr(struct, field).offset, getattr(struct, field).size)
                     for field, _ in struct._fields_]
        check(py_fields == c_fields[name],
              f"{name}: fields, offsets and sizes as C lays them out"
              + ("" if py_fields == c_fields[name] else f" (C {c_fields[name]}, Python {py_fields})"))
        check(ctypes.sizeof(struct) == c_sizes[name],
              f"{name}: sizeof {ctypes.sizeof(struct)} (C {c_sizes[name]})")
    for name, value in constants.items():
        check(getattr(abi, name, None) == value, f"constant {name} = {value} (Python {getattr(abi, name, None)})")
    check(abi.ENTRY_SYMBOL == symbols.get("ENTRY_SYMBOL"), f"entry symbol {symbols.get('ENTRY_SYMBOL')}")


def attention_f64(q, k, v, heads, lq, lk, dim, scale, keys):
    """out [Lq, H, D] and lse [H, Lq] from flat [L, H, D] lists, keys < `keys`."""
    out = [0.0] * (lq * heads * dim)
    lse = [0.0] * (heads * lq)
    for h in range(heads):
        for i in range(lq):
            scores = [scale * sum(q[(i * heads + h) * dim + d] * k[(j * heads + h) * dim + d]
                                  for d in range(dim)) for j in range(keys)]
            top = max(scores)
            weights = [math.exp(s - top) for s in scores]
            total = sum(weights)
            lse[h * lq + i] = top + math.log(total)
            for d in range(dim):
                out[(i * heads + h) * dim + d] = sum(
                    w * v[(j * heads + h) * dim + d] for j, w in enumerate(weights)) / total
    return out, lse


def check_reference_run(module):
    plugin = abi.Plugin(module, backend=abi.BACKEND_CPU)
    check(plugin.name == "reference", f"the module's variant is named {plugin.name!r}")
    heads, lq, lk, dim = 3, 5, 7, 8
    scale = 1.0 / math.sqrt(dim)
    generator = random.Random(20261128)
    q, k, v = ([generator.uniform(-2.0, 2.0) for _ in range(length * heads * dim)]
               for length in (lq, lk, lk))
    buffers = {name: (ctypes.c_float * len(values))(*values) for name, values in
               (("q", q), ("k", k), ("v", v))}
    for keys in (lk, 4):
        # Poisoned outputs: every element must be written.
        out = (ctypes.c_float * (lq * heads * dim))(*([float("nan")] * (lq * heads * dim)))
        lse = (ctypes.c_float * (heads * lq))(*([float("nan")] * (heads * lq)))
        problem = abi.problem(heads, lq, lk, dim, abi.F32, scale)
        lengths = (ctypes.c_int32 * 1)(keys)
        call = abi.args(ctypes.addressof(buffers["q"]), ctypes.addressof(buffers["k"]),
                        ctypes.addressof(buffers["v"]), ctypes.addressof(out), ctypes.addressof(lse))
        if keys != lk:
            problem.has_kv_lengths = 1
            call.kv_lengths = ctypes.addressof(lengths)
        check(plugin.supports(problem) is None, f"reference supports f32 B1 H{heads} Lq{lq} Lk{lk} keys {keys}")
        plugin.run(problem, call)
        want_out, want_lse = attention_f64(q, k, v, heads, lq, lk, dim, scale, keys)
        out_error = max(abs(a - b) for a, b in zip(out, want_out))
        lse_error = max(abs(a - b) for a, b in zip(lse, want_lse))
        check(out_error < 1e-5, f"keys {keys}: out within 1e-5 of float64 (max error {out_error:.2e})")
        check(lse_error < 1e-5, f"keys {keys}: lse within 1e-5 of float64 (max error {lse_error:.2e})")
    refused = abi.problem(heads, lq, lk, dim, abi.F32, scale)
    refused.layout = 7
    why = plugin.supports(refused)
    check(why is not None and "layout 7" in why, f"an unknown layout is refused with its reason ({why!r})")
    try:
        plugin.run(refused, abi.args(ctypes.addressof(buffers["q"]), ctypes.addressof(buffers["k"]),
                                     ctypes.addressof(buffers["v"]), ctypes.addressof(buffers["q"])))
        check(False, "run() of a refused problem raises")
    except RuntimeError as error:
        check("reference" in str(error), f"run() of a refused problem raises, naming the variant ({error})")
    plugin.close()
    plugin.close()   # the second is a no-op, as close() is NULL-safe in C
    check(plugin.instance is None, "close() releases the instance once")


def main():
    if len(sys.argv) != 3:
        print("usage: test-attention-abi-ctypes.py LAYOUT_PROGRAM REFERENCE_MODULE", file=sys.stderr)
        return 2
    check_layouts(sys.argv[1])
    check_reference_run(sys.argv[2])
    print(f"1..{len(results)}")
    return 0 if all(ok for ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
