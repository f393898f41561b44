#!/usr/bin/env python3
"""The PyTorch side of the Wan GPU parity and benchmarks
(tests/wan/gpu-wan-session.sh): random weights at real size in the real
checkpoint layout, and the self-contained references of tests/reference/
(wan_dit.py, wan_vae.py, samplers.py: ComfyUI's semantics, SDPA attention)
timed on the same GPU in the same dtype as Raylight's run.

  make-dit DIR NAME --dim D --ffn F --layers N [--frames 81 --height 480 --width 832]
           [--sample-frames 17]
      DIR/NAME.safetensors          bf16 weights, every key of a Wan 2.1 T2V checkpoint
      DIR/NAME-inputs.safetensors   f32 x [1, 16, T, H/8, W/8], timestep [1], context [1, 512, 4096]
      DIR/NAME-sample.safetensors   f32 zero latent (sample-frames) and positive/negative context
  torch-dit CKPT INPUTS OUT [--repeat 3]        one forward in bf16: time, peak memory
  torch-sample CKPT INPUTS OUT [--steps 10 --cfg 5 --shift 8 --seed 42]
      KSampler euler/simple from the empty latent with ComfyUI's CPU noise, latent out raw
  torch-vae CKPT INPUTS OUT [--repeat 1] [--warm-repeat 0]
      VAE decode (wan_vae.decode_raw) in bf16, cold (no warm-up); --warm-repeat N adds N warm runs
  compare REF OURS [--limit L] [--what TEXT]    ‖ours−ref‖/‖ref‖ of two raw f32 files
  latent-file RAW SAMPLE_INPUTS OUT             a sampled latent (raw f32, shaped like SAMPLE_INPUTS'
      "latent") as a VAE decode input for bench-wan (safetensors, f32 "latent")

Every timed command prints one "RESULT ..." line that the session script
collects. Weights use small gates (time projection scaled by 0.1) so the
30-layer residual stream stays in the range trained models have; that is
what bf16 parity is about, not the values themselves.
"""
import argparse
import json
import math
import os
import re
import struct
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import samplers  # noqa: E402
import wan_dit  # noqa: E402
import wan_vae  # noqa: E402

ST_DTYPES = {torch.bfloat16: "BF16", torch.float32: "F32", torch.float16: "F16", torch.int32: "I32"}
NP_OF = {"BF16": np.int16, "F32": np.float32, "F16": np.float16, "I32": np.int32}
TORCH_OF = {"BF16": torch.bfloat16, "F32": torch.float32, "F16": torch.float16, "I32": torch.int32}


def save(path, tensors):
    header, offset = {}, 0
    for name in sorted(tensors):
        t = tensors[name]
        n = t.numel() * t.element_size()
        header[name] = {"dtype": ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in sorted(tensors):
            t = tensors[name].detach().contiguous().cpu()
            raw = t.view(torch.int16) if t.dtype == torch.bfloat16 else t
            f.write(raw.numpy().tobytes())


def load(path, device):
    data = np.fromfile(path, dtype=np.uint8)
    n = int(np.frombuffer(data[:8].tobytes(), dtype="<u8")[0])
    header = json.loads(data[8:8 + n].tobytes())
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        s, e = info["data_offsets"]
        raw = data[8 + n + s:8 + n + e].view(NP_OF[info["dtype"]]).reshape(info["shape"])
        t = torch.from_numpy(raw.copy())
        if info["dtype"] == "BF16":
            t = t.view(torch.bfloat16)
        out[name] = t.to(device)
    return out


def gib(n):
    return n / 2 ** 30


# ------------------------------------------------------------------ weights

def dit_state_dict(dim, ffn, layers, device, seed, in_dim=16, out_dim=16, text_dim=4096, freq=256):
    g = torch.Generator(device=device).manual_seed(seed)

    def rnd(*shape, scale=None):
        scale = scale if scale is not None else 1.0 / math.sqrt(shape[-1])
        return (torch.randn(*shape, generator=g, device=device) * scale).to(torch.bfloat16)

    sd = {
        "patch_embedding.weight": rnd(dim, in_dim, 1, 2, 2, scale=0.2),
        "patch_embedding.bias": rnd(dim, scale=0.1),
        "text_embedding.0.weight": rnd(dim, text_dim), "text_embedding.0.bias": rnd(dim, scale=0.1),
        "text_embedding.2.weight": rnd(dim, dim), "text_embedding.2.bias": rnd(dim, scale=0.1),
        "time_embedding.0.weight": rnd(dim, freq), "time_embedding.0.bias": rnd(dim, scale=0.1),
        "time_embedding.2.weight": rnd(dim, dim), "time_embedding.2.bias": rnd(dim, scale=0.1),
        "time_projection.1.weight": rnd(6 * dim, dim, scale=0.1 / math.sqrt(dim)),
        "time_projection.1.bias": rnd(6 * dim, scale=0.01),
        "head.modulation": rnd(1, 2, dim, scale=0.1),
        "head.head.weight": rnd(4 * out_dim, dim), "head.head.bias": rnd(4 * out_dim, scale=0.1),
    }
    for i in range(layers):
        p = f"blocks.{i}."
        sd[p + "modulation"] = rnd(1, 6, dim, scale=0.1)
        for part in ("self_attn", "cross_attn"):
            for n in "qkvo":
                sd[f"{p}{part}.{n}.weight"] = rnd(dim, dim)
                sd[f"{p}{part}.{n}.bias"] = rnd(dim, scale=0.1)
            sd[f"{p}{part}.norm_q.weight"] = (1 + rnd(dim, scale=0.1).float()).to(torch.bfloat16)
            sd[f"{p}{part}.norm_k.weight"] = (1 + rnd(dim, scale=0.1).float()).to(torch.bfloat16)
        sd[p + "norm3.weight"] = (1 + rnd(dim, scale=0.1).float()).to(torch.bfloat16)
        sd[p + "norm3.bias"] = rnd(dim, scale=0.1)
        sd[p + "ffn.0.weight"] = rnd(ffn, dim)
        sd[p + "ffn.0.bias"] = rnd(ffn, scale=0.1)
        sd[p + "ffn.2.weight"] = rnd(dim, ffn)
        sd[p + "ffn.2.bias"] = rnd(dim, scale=0.1)
    return sd


def latent_shape(frames, height, width, channels=16, space=8):
    return [1, channels, 1 + (frames - 1) // 4, height // space, width // space]


def make_dit(a):
    dev = torch.device("cuda")
    t0 = time.time()
    sd = dit_state_dict(a.dim, a.ffn, a.layers, dev, a.seed)
    save(f"{a.dir}/{a.name}.safetensors", sd)
    g = torch.Generator().manual_seed(a.seed + 1)
    shape = latent_shape(a.frames, a.height, a.width)
    save(f"{a.dir}/{a.name}-inputs.safetensors", {
        "x": torch.randn(*shape, generator=g),
        "timestep": torch.tensor([937.5]),
        "context": torch.randn(1, 512, 4096, generator=g),
    })
    if a.sample_frames:
        save(f"{a.dir}/{a.name}-sample.safetensors", {
            "latent": torch.zeros(*latent_shape(a.sample_frames, a.height, a.width)),
            "positive": torch.randn(1, 512, 4096, generator=g),
            "negative": torch.randn(1, 512, 4096, generator=g),
        })
    params = sum(v.numel() for v in sd.values())
    tokens = shape[2] * (shape[3] // 2) * (shape[4] // 2)
    print(f"made {a.name}: {params / 1e9:.3f} B params, {a.layers} layers, latent {shape} "
          f"({tokens} tokens) in {time.time() - t0:.1f} s")


# ------------------------------------------------------------------ runs

def timed(fn, repeat, warm_up=True):
    if warm_up:
        fn()                               # cuDNN/cuBLAS plans, allocator
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    times = []
    out = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return out, times


def torch_dit(a):
    dev = torch.device("cuda")
    sd = load(a.ckpt, dev)
    inp = load(a.inputs, dev)
    torch.cuda.synchronize()
    weights = torch.cuda.memory_allocated()
    with torch.no_grad():
        y, times = timed(lambda: wan_dit.forward(sd, inp["x"], inp["timestep"], inp["context"],
                                                 torch.bfloat16), a.repeat)
    peak = torch.cuda.max_memory_allocated()
    y.float().cpu().numpy().tofile(a.out)
    print(f"RESULT torch-dit median_ms={times[len(times) // 2]:.2f} min_ms={times[0]:.2f} "
          f"repeat={a.repeat} max_allocated_gib={gib(peak):.3f} weights_gib={gib(weights):.3f} "
          f"max_reserved_gib={gib(torch.cuda.max_memory_reserved()):.3f}")


def latent_constants(channels):
    """Wan 2.1 latents_mean / latents_std, read from the C source so both
    sides use one copy (plugins/wan/vae-config.c)."""
    src = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "plugins",
                            "wan", "vae-config.c")).read()
    tag = "wan21" if channels == 16 else "wan22"

    def array(name):
        body = re.search(rf"{tag}_{name}\[\d+\]\s*=\s*\{{([^}}]*)\}}", src).group(1)
        return torch.tensor([float(v.rstrip("f")) for v in re.findall(r"-?[\d.]+(?:e-?\d+)?f?", body)])

    return array("mean"), array("std")


def torch_sample(a):
    dev = torch.device("cuda")
    sd = load(a.ckpt, dev)
    inp = load(a.inputs, torch.device("cpu"))
    latent = inp["latent"]
    pos, neg = inp["positive"].to(dev), inp["negative"].to(dev)
    # ComfyUI's prepare_noise: torch.randn on the CPU generator of the seed.
    noise = torch.randn(latent.shape, dtype=torch.float32, generator=torch.manual_seed(a.seed))

    def model(context):
        def denoise(x, sigma):
            s = sigma.reshape([-1]).float()
            v = wan_dit.forward(sd, x.to(dev), (s * 1000.0).to(dev), context, torch.bfloat16)
            return (x.to(dev) - s.to(dev).reshape(-1, 1, 1, 1, 1) * v.float()).cpu()
        return denoise

    t0 = time.perf_counter()
    with torch.no_grad():
        z, calls = samplers.ksampler("euler", "simple", a.steps, a.cfg, 1.0, a.shift, noise, latent,
                                     None, model(pos), model(neg))
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    mean, std = latent_constants(latent.shape[1])
    z = z * std.reshape(1, -1, 1, 1, 1) + mean.reshape(1, -1, 1, 1, 1)   # process_out
    z.float().numpy().tofile(a.out)
    print(f"RESULT torch-sample steps={a.steps} cfg={a.cfg} model_calls={calls} seconds={seconds:.2f}")


def torch_vae(a):
    dev = torch.device("cuda")
    sd = {k: v.to(torch.bfloat16) for k, v in load(a.ckpt, dev).items()}
    z = load(a.inputs, dev)["latent"].to(torch.bfloat16)
    torch.cuda.synchronize()
    weights = torch.cuda.memory_allocated()
    with torch.no_grad():
        y, times = timed(lambda: wan_vae.process_output(wan_vae.decode_raw(sd, z).float()), a.repeat,
                         warm_up=False)
    peak = torch.cuda.max_memory_allocated()
    y.float().cpu().numpy().tofile(a.out)
    print(f"RESULT torch-vae median_ms={times[len(times) // 2]:.2f} repeat={a.repeat} "
          f"max_allocated_gib={gib(peak):.3f} weights_gib={gib(weights):.3f} "
          f"max_reserved_gib={gib(torch.cuda.max_memory_reserved()):.3f} out={list(y.shape)}")
    if a.warm_repeat > 0:
        # The cold runs above were the warm-up: cuDNN plans and the allocator's pool are in place.
        del y
        with torch.no_grad():
            _, warm = timed(lambda: wan_vae.process_output(wan_vae.decode_raw(sd, z).float()),
                            a.warm_repeat, warm_up=False)
        print(f"RESULT torch-vae-warm median_ms={warm[len(warm) // 2]:.2f} min_ms={warm[0]:.2f} "
              f"repeat={a.warm_repeat} max_allocated_gib={gib(torch.cuda.max_memory_allocated()):.3f}")


def compare(a):
    ref = np.fromfile(a.ref, dtype=np.float32).astype(np.float64)
    got = np.fromfile(a.ours, dtype=np.float32).astype(np.float64)
    if ref.size != got.size:
        print(f"RESULT compare {a.what} sizes differ: ref {ref.size} ours {got.size} FAIL")
        return 1
    finite = bool(np.isfinite(got).all())
    rel = np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-30) if finite else float("inf")
    verdict = "ok" if rel <= a.limit else "FAIL"
    print(f"RESULT compare {a.what} rel_l2={rel:.3e} max_abs={np.abs(got - ref).max():.3e} "
          f"limit={a.limit:g} {verdict}")
    return 0 if verdict == "ok" else 1


def latent_file(a):
    shape = load(a.inputs, torch.device("cpu"))["latent"].shape
    raw = np.fromfile(a.raw, dtype=np.float32)
    if raw.size != math.prod(shape):
        print(f"latent-file: {a.raw} holds {raw.size} floats, the latent {list(shape)} needs {math.prod(shape)}")
        return 1
    save(a.out, {"latent": torch.from_numpy(raw.reshape(shape))})
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make-dit")
    m.add_argument("dir")
    m.add_argument("name")
    m.add_argument("--dim", type=int, required=True)
    m.add_argument("--ffn", type=int, required=True)
    m.add_argument("--layers", type=int, required=True)
    m.add_argument("--frames", type=int, default=81)
    m.add_argument("--height", type=int, default=480)
    m.add_argument("--width", type=int, default=832)
    m.add_argument("--sample-frames", type=int, default=0)
    m.add_argument("--seed", type=int, default=20261127)
    for name in ("torch-dit", "torch-vae", "torch-sample"):
        r = sub.add_parser(name)
        r.add_argument("ckpt")
        r.add_argument("inputs")
        r.add_argument("out")
        r.add_argument("--repeat", type=int, default=3 if name == "torch-dit" else 1)
        r.add_argument("--steps", type=int, default=10)
        r.add_argument("--cfg", type=float, default=5.0)
        r.add_argument("--shift", type=float, default=8.0)
        r.add_argument("--seed", type=int, default=42)
        if name == "torch-vae":
            r.add_argument("--warm-repeat", type=int, default=0,
                           help="after the timed cold runs, N more timed runs (warm), one more RESULT line")
    c = sub.add_parser("compare")
    c.add_argument("ref")
    c.add_argument("ours")
    c.add_argument("--limit", type=float, default=1e-2)
    c.add_argument("--what", default="")
    lf = sub.add_parser("latent-file")
    lf.add_argument("raw")
    lf.add_argument("inputs")
    lf.add_argument("out")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return {"make-dit": make_dit, "torch-dit": torch_dit, "torch-sample": torch_sample,
            "torch-vae": torch_vae, "compare": compare, "latent-file": latent_file}[a.cmd](a) or 0


if __name__ == "__main__":
    sys.exit(main())
