"""Minimal safetensors reader/writer on numpy, so reference scripts need no
extra package on the GPU machine (only torch and numpy)."""
import json
import struct

import numpy as np

_DTYPES = {
    "F32": np.float32,
    "F16": np.float16,
    "I32": np.int32,
    "I64": np.int64,
    "U8": np.uint8,
}


def save(path, tensors, metadata=None):
    """tensors: dict name -> numpy array (float32/float16/int) or
    (bytes, 'BF16', shape) for bfloat16 data."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        value = tensors[name]
        if isinstance(value, tuple):
            raw, dtype, shape = value
        else:
            arr = np.ascontiguousarray(value)
            dtype = {np.dtype(v): k for k, v in _DTYPES.items()}[arr.dtype]
            raw, shape = arr.tobytes(), list(arr.shape)
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def load(path):
    """Returns dict name -> numpy array (BF16 converted to float32)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[base + start:base + end]
        if info["dtype"] == "BF16":
            u16 = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            arr = u16.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=_DTYPES[info["dtype"]])
        out[name] = arr.reshape(info["shape"]).copy()
    return out


def to_bf16(arr):
    """float32 numpy -> (raw bytes, 'BF16', shape), rounding to nearest even."""
    a = np.ascontiguousarray(arr, dtype=np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    return rounded.tobytes(), "BF16", list(a.shape)
