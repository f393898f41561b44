#!/usr/bin/env python3
"""Writes GGUF test files with the `gguf` package and its own dequantisation.

For every block type raylight decodes (F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
Q2_K Q3_K Q4_K Q5_K Q6_K) one tensor "t.<TYPE>" goes into OUT/all.gguf, and
gguf.quants.dequantize's float32 result into OUT/<TYPE>.bin, which the C test
compares bit for bit. Types gguf can quantise are quantised from random
normal data; for the K types (it only dequantises those) random valid blocks
are written: random bytes with finite random f16 super-block scales.
OUT/all.gguf also carries one metadata key of every value type, which the C
test checks. OUT/aligned.gguf uses general.alignment = 128.

usage: make_gguf_testfiles.py OUT_DIR SEED
       make_gguf_testfiles.py OUT_DIR SEED corpus   (small seed files for the
                                                      GGUF fuzz target)
"""
import os
from importlib import metadata
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q

ROWS, COLS = 6, 512  # COLS: a multiple of 256 so every type fits whole blocks

QUANTISED = [Q.Q4_0, Q.Q4_1, Q.Q5_0, Q.Q5_1, Q.Q8_0]
# Byte offsets of the f16 scale fields inside one block of each K type.
K_SCALE_OFFSETS = {
    Q.Q2_K: (80, 82),
    Q.Q3_K: (108,),
    Q.Q4_K: (0, 2),
    Q.Q5_K: (0, 2),
    Q.Q6_K: (208,),
}


def random_k_blocks(rng, qtype):
    block_elems, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = ROWS * COLS // block_elems
    blocks = rng.integers(0, 256, size=(n_blocks, block_bytes), dtype=np.uint8)
    for offset in K_SCALE_OFFSETS[qtype]:
        # Finite f16 scales of varied magnitude and sign, never 0.
        scales = (rng.uniform(0.25, 1.0, n_blocks) * 2.0 ** rng.integers(-12, 2, n_blocks)
                  * rng.choice([-1.0, 1.0], n_blocks)).astype(np.float16)
        blocks[:, offset:offset + 2] = scales.view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(ROWS, -1)


def make_tensors(rng):
    """(name, array to store, raw_dtype, reference float32) for every type."""
    tensors = []
    data = rng.standard_normal((ROWS, COLS)).astype(np.float32) * np.float32(0.5)
    tensors.append(("t.F32", data, None, data))
    half = data.astype(np.float16)
    tensors.append(("t.F16", half, None, half.astype(np.float32)))
    bf16 = gguf.quants.quantize(data, Q.BF16)
    tensors.append(("t.BF16", bf16, Q.BF16, gguf.quants.dequantize(bf16, Q.BF16)))
    for qtype in QUANTISED:
        blocks = gguf.quants.quantize(data, qtype)
        tensors.append(("t." + qtype.name, blocks, qtype, gguf.quants.dequantize(blocks, qtype)))
    for qtype in K_SCALE_OFFSETS:
        blocks = random_k_blocks(rng, qtype)
        tensors.append(("t." + qtype.name, blocks, qtype, gguf.quants.dequantize(blocks, qtype)))
    return tensors


def add_metadata(writer):
    writer.add_uint8("test.u8", 200)
    writer.add_int8("test.i8", -100)
    writer.add_uint16("test.u16", 60000)
    writer.add_int16("test.i16", -30000)
    writer.add_uint32("test.u32", 4000000000)
    writer.add_int32("test.i32", -2000000000)
    writer.add_float32("test.f32", 0.15625)
    writer.add_bool("test.bool", True)
    writer.add_string("test.string", "Wan 2.1 \u00e9")
    writer.add_uint64("test.u64", 18000000000000000000)
    writer.add_int64("test.i64", -9000000000000000000)
    writer.add_float64("test.f64", -2.5e-300)
    writer.add_array("test.ints", [3, -1, 4, 1, -5])
    writer.add_array("test.strings", ["alpha", "", "gamma\u00e9"])


def write_gguf(path, tensors, alignment=None):
    writer = gguf.GGUFWriter(path, arch="raylighttest")
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    add_metadata(writer)
    for name, array, raw_dtype, _ in tensors:
        writer.add_tensor(name, array, raw_dtype=raw_dtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def write_corpus(out, rng):
    """A few small files: every block type once, one row of one block."""
    global ROWS, COLS
    ROWS, COLS = 1, 256
    tensors = make_tensors(rng)
    for i in range(0, len(tensors), 4):
        write_gguf(os.path.join(out, f"seed-{i // 4}.gguf"), tensors[i:i + 4])
    write_gguf(os.path.join(out, "aligned.gguf"), tensors[:2], alignment=64)


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    out, seed = sys.argv[1], int(sys.argv[2])
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    if len(sys.argv) == 4:
        write_corpus(out, rng)
        return
    tensors = make_tensors(rng)
    for name, _, _, reference in tensors:
        reference = np.ascontiguousarray(reference, dtype=np.float32).reshape(ROWS, COLS)
        reference.tofile(os.path.join(out, name[2:] + ".bin"))
    write_gguf(os.path.join(out, "all.gguf"), tensors)
    write_gguf(os.path.join(out, "aligned.gguf"), tensors[:4], alignment=128)
    print(f"# gguf {metadata.version('gguf')} numpy {np.__version__}: wrote {len(tensors)} tensors to {out}")


if __name__ == "__main__":
    main()
