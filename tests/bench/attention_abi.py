"""The attention plugin ABI (plugins/attention/attention.h, version 1) for
Python through ctypes, so that a benchmark can run our variants in the same
process as PyTorch. tests/attention/test-attention-abi-ctypes.py checks
these layouts against the C header's and runs the CPU `reference` variant
through them, in CI.
"""
import ctypes

ABI_VERSION = 1
ENTRY_SYMBOL = "raylight_attention_variant"

OK = 0                     # RlAttentionResult
UNSUPPORTED = 1
F32, F16, BF16 = 0, 1, 2   # RlAttentionDType
LAYOUT_BLHD = 0
BACKEND_CPU, BACKEND_CUDA = 0, 1


class Problem(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("batch", ctypes.c_int32),
                ("heads", ctypes.c_int32), ("q_len", ctypes.c_int32), ("kv_len", ctypes.c_int32),
                ("head_dim", ctypes.c_int32), ("v_head_dim", ctypes.c_int32),
                ("qkv_dtype", ctypes.c_int32), ("out_dtype", ctypes.c_int32),
                ("layout", ctypes.c_int32), ("has_kv_lengths", ctypes.c_int32),
                ("device_index", ctypes.c_int32), ("scale", ctypes.c_float)]


class Args(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("q", ctypes.c_void_p), ("k", ctypes.c_void_p),
                ("v", ctypes.c_void_p), ("out", ctypes.c_void_p), ("lse", ctypes.c_void_p),
                ("kv_lengths", ctypes.c_void_p), ("stream", ctypes.c_void_p)]


OPEN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p),
                        ctypes.c_char_p, ctypes.c_size_t)
CLOSE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
SUPPORTS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Problem),
                            ctypes.c_char_p, ctypes.c_size_t)
COST_HINT = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_void_p, ctypes.POINTER(Problem))
RUN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Problem), ctypes.POINTER(Args),
                       ctypes.c_char_p, ctypes.c_size_t)


class Variant(ctypes.Structure):
    _fields_ = [("abi_version", ctypes.c_uint32), ("struct_size", ctypes.c_uint32),
                ("name", ctypes.c_char_p), ("description", ctypes.c_char_p),
                ("backend", ctypes.c_int32), ("qkv_dtypes", ctypes.c_uint32),
                ("out_dtypes", ctypes.c_uint32), ("head_dims", ctypes.c_void_p),
                ("max_head_dim", ctypes.c_int32), ("min_compute_capability", ctypes.c_int32),
                ("max_compute_capability", ctypes.c_int32), ("supports_kv_lengths", ctypes.c_int32),
                ("open", OPEN), ("close", CLOSE), ("supports", SUPPORTS),
                ("cost_hint", COST_HINT), ("run", RUN), ("approximate", ctypes.c_int32)]


def problem(heads, q_len, kv_len, head_dim, dtype, scale, batch=1, device_index=0):
    return Problem(ctypes.sizeof(Problem), batch, heads, q_len, kv_len, head_dim, head_dim, dtype,
                   dtype, LAYOUT_BLHD, 0, device_index, scale)


def args(q, k, v, out, lse=None, stream=None):
    """Pointers as integers (or None for lse and stream)."""
    return Args(ctypes.sizeof(Args), q, k, v, out, lse, None, stream)


class Plugin:
    """One variant's module, opened on `device_index`: raises RuntimeError
    with the variant's own reason when it cannot serve this host or
    machine, or is not of `backend`."""

    def __init__(self, path, backend=BACKEND_CUDA, device_index=0):
        self.library = ctypes.CDLL(path, mode=ctypes.RTLD_LOCAL)
        entry = getattr(self.library, ENTRY_SYMBOL)
        entry.restype = ctypes.POINTER(Variant)
        entry.argtypes = [ctypes.c_uint32]
        table = entry(ABI_VERSION)
        if not table:
            raise RuntimeError(f"{path}: refuses ABI version {ABI_VERSION}")
        self.table = table.contents
        self.name = self.table.name.decode()
        if self.table.backend != backend:
            raise RuntimeError(f"{path}: backend {self.table.backend}, not {backend}")
        error = ctypes.create_string_buffer(1024)
        instance = ctypes.c_void_p()
        if self.table.open(device_index, ctypes.byref(instance), error, len(error)) != OK:
            raise RuntimeError(f"{self.name}: {error.value.decode()}")
        self.instance = instance

    def supports(self, problem):
        """None when run() would accept `problem`, else the variant's reason."""
        why = ctypes.create_string_buffer(512)
        if self.table.supports(self.instance, ctypes.byref(problem), why, len(why)) != OK:
            return why.value.decode()
        return None

    def run(self, problem, args):
        error = ctypes.create_string_buffer(1024)
        status = self.table.run(self.instance, ctypes.byref(problem), ctypes.byref(args), error,
                                len(error))
        if status != OK:
            raise RuntimeError(f"{self.name}: {error.value.decode()}")

    def close(self):
        if self.instance is not None:
            self.table.close(self.instance)
            self.instance = None
