"""A PyTorch Wan 2.1/2.2 DiT written from the published architecture
(Wan-Video/Wan2.1 wan/modules/model.py as ComfyUI runs it,
comfy/ldm/wan/model.py; see shared/reference/MODELS.md §1.3-1.4), used to
check Raylight's C implementation on random weights in the real key layout.

  python wan_dit.py make-tiny DIR        writes DIR/tiny-dit.safetensors (bf16 weights),
                                         DIR/tiny-dit-inputs.safetensors, and
                                         DIR/tiny-dit-expected.safetensors (fp32 forward)
  python wan_dit.py forward CKPT INPUTS OUT [--dtype float32|bfloat16] [--device cuda]
"""
import argparse
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

import safetensors_io

HEAD_DIM = 128


def detect(sd):
    dim = sd["head.modulation"].shape[-1]
    layers = 0
    while f"blocks.{layers}.modulation" in sd:
        layers += 1
    return dict(dim=dim, heads=dim // HEAD_DIM, ffn=sd["blocks.0.ffn.0.weight"].shape[0],
                layers=layers, in_dim=sd["patch_embedding.weight"].shape[1],
                out_dim=sd["head.head.weight"].shape[0] // 4)


def sinusoid(freq_dim, t):
    half = freq_dim // 2
    t = t.float()
    freqs = torch.pow(10000, -torch.arange(half, device=t.device).float().div(half))
    s = torch.outer(t, freqs)
    return torch.cat([torch.cos(s), torch.sin(s)], dim=1)


def rope_table(F_, Hp, Wp, device):
    axes = [HEAD_DIM - 4 * (HEAD_DIM // 6), 2 * (HEAD_DIM // 6), 2 * (HEAD_DIM // 6)]
    angles = []
    grids = torch.meshgrid(torch.arange(F_), torch.arange(Hp), torch.arange(Wp), indexing="ij")
    for axis, d in enumerate(axes):
        omega = 1.0 / (10000.0 ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        pos = grids[axis].reshape(-1).to(torch.float64)
        angles.append(torch.outer(pos, omega))
    angle = torch.cat(angles, dim=1)
    return angle.cos().float().to(device), angle.sin().float().to(device)


def apply_rope(x, cos, sin):
    # x [B, L, H, D]; pairs (2j, 2j+1); computed in fp32
    xf = x.float().reshape(*x.shape[:-1], -1, 2)
    x0, x1 = xf[..., 0], xf[..., 1]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    y = torch.stack([c * x0 - s * x1, s * x0 + c * x1], dim=-1)
    return y.reshape(x.shape).to(x.dtype)


def rms_norm(x, weight, eps=1e-6):
    xf = x.float()
    y = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)
    return (y * weight.float()).to(x.dtype)


def linear(x, sd, key, dtype):
    return F.linear(x.to(dtype), sd[key + ".weight"].to(dtype), sd[key + ".bias"].to(dtype))


def attention(q, k, v):
    # [B, L, H, D] -> [B, L, H, D]
    o = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
    return o.transpose(1, 2)


def forward(sd, x, t, context, dtype):
    """x [B,C,T,H,W] f32, t [B] f32 (sigma*1000), context [B,Lc,4096]."""
    cfg = detect(sd)
    dim, heads = cfg["dim"], cfg["heads"]
    B, _, T, H, W = x.shape
    pad_h, pad_w = (-H) % 2, (-W) % 2
    if pad_h or pad_w:
        x = F.pad(x, (0, pad_w, 0, pad_h, 0, 0), mode="circular")
    xe = F.conv3d(x.float(), sd["patch_embedding.weight"].float(), sd["patch_embedding.bias"].float(),
                  stride=(1, 2, 2))
    Fn, Hp, Wp = xe.shape[2:]
    h = xe.flatten(2).transpose(1, 2).float()  # residual stream in fp32
    L = h.shape[1]

    s = sinusoid(256, t)
    e = linear(F.silu(linear(s, sd, "time_embedding.0", torch.float32)), sd, "time_embedding.2", torch.float32)
    e0 = linear(F.silu(e), sd, "time_projection.1", torch.float32).unflatten(1, (6, dim))

    c = linear(context, sd, "text_embedding.0", dtype)
    c = linear(F.gelu(c, approximate="tanh"), sd, "text_embedding.2", dtype)

    cos, sin = rope_table(Fn, Hp, Wp, x.device)
    for i in range(cfg["layers"]):
        p = f"blocks.{i}."
        m = sd[p + "modulation"].float() + e0  # [B, 6, dim]
        m = [m[:, j:j + 1] for j in range(6)]
        y = F.layer_norm(h, (dim,), eps=1e-6) * (1 + m[1]) + m[0]
        y = y.to(dtype)
        q = rms_norm(linear(y, sd, p + "self_attn.q", dtype), sd[p + "self_attn.norm_q.weight"])
        k = rms_norm(linear(y, sd, p + "self_attn.k", dtype), sd[p + "self_attn.norm_k.weight"])
        v = linear(y, sd, p + "self_attn.v", dtype)
        q = apply_rope(q.view(B, L, heads, HEAD_DIM), cos, sin)
        k = apply_rope(k.view(B, L, heads, HEAD_DIM), cos, sin)
        a = attention(q, k, v.view(B, L, heads, HEAD_DIM)).reshape(B, L, dim)
        h = h + linear(a, sd, p + "self_attn.o", dtype).float() * m[2]

        y = F.layer_norm(h, (dim,), sd[p + "norm3.weight"].float(), sd[p + "norm3.bias"].float(), eps=1e-6)
        y = y.to(dtype)
        q = rms_norm(linear(y, sd, p + "cross_attn.q", dtype), sd[p + "cross_attn.norm_q.weight"])
        k = rms_norm(linear(c, sd, p + "cross_attn.k", dtype), sd[p + "cross_attn.norm_k.weight"])
        v = linear(c, sd, p + "cross_attn.v", dtype)
        Lc = c.shape[1]
        a = attention(q.view(B, L, heads, HEAD_DIM), k.view(B, Lc, heads, HEAD_DIM),
                      v.view(B, Lc, heads, HEAD_DIM)).reshape(B, L, dim)
        h = h + linear(a, sd, p + "cross_attn.o", dtype).float()

        y = (F.layer_norm(h, (dim,), eps=1e-6) * (1 + m[4]) + m[3]).to(dtype)
        f = F.gelu(linear(y, sd, p + "ffn.0", dtype), approximate="tanh")
        h = h + linear(f, sd, p + "ffn.2", dtype).float() * m[5]

    hm = sd["head.modulation"].float() + e[:, None, :]
    y = (F.layer_norm(h, (dim,), eps=1e-6) * (1 + hm[:, 1:2]) + hm[:, 0:1]).to(dtype)
    y = linear(y, sd, "head.head", dtype).float()
    C = cfg["out_dim"]
    u = y.view(B, Fn, Hp, Wp, 1, 2, 2, C)
    u = torch.einsum("bfhwpqrc->bcfphqwr", u).reshape(B, C, Fn, Hp * 2, Wp * 2)
    return u[:, :, :T, :H, :W]


def tiny_state_dict(gen, dim=256, ffn=512, layers=2, in_dim=16, out_dim=16, text_dim=4096):
    def rnd(*shape, scale=None):
        scale = scale if scale is not None else 1.0 / math.sqrt(shape[-1])
        return torch.randn(*shape, generator=gen) * scale

    sd = {
        "patch_embedding.weight": rnd(dim, in_dim, 1, 2, 2, scale=0.2),
        "patch_embedding.bias": rnd(dim, scale=0.1),
        "text_embedding.0.weight": rnd(dim, text_dim), "text_embedding.0.bias": rnd(dim, scale=0.1),
        "text_embedding.2.weight": rnd(dim, dim), "text_embedding.2.bias": rnd(dim, scale=0.1),
        "time_embedding.0.weight": rnd(dim, 256), "time_embedding.0.bias": rnd(dim, scale=0.1),
        "time_embedding.2.weight": rnd(dim, dim), "time_embedding.2.bias": rnd(dim, scale=0.1),
        "time_projection.1.weight": rnd(6 * dim, dim), "time_projection.1.bias": rnd(6 * dim, scale=0.1),
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
            sd[f"{p}{part}.norm_q.weight"] = 1 + rnd(dim, scale=0.1)
            sd[f"{p}{part}.norm_k.weight"] = 1 + rnd(dim, scale=0.1)
        sd[p + "norm3.weight"] = 1 + rnd(dim, scale=0.1)
        sd[p + "norm3.bias"] = rnd(dim, scale=0.1)
        sd[p + "ffn.0.weight"] = rnd(ffn, dim)
        sd[p + "ffn.0.bias"] = rnd(ffn, scale=0.1)
        sd[p + "ffn.2.weight"] = rnd(dim, ffn)
        sd[p + "ffn.2.bias"] = rnd(dim, scale=0.1)
    return sd


def bf16_round(t):
    return t.to(torch.bfloat16).float()


def make_tiny(out_dir):
    gen = torch.Generator().manual_seed(20261127)
    sd = {k: bf16_round(v) for k, v in tiny_state_dict(gen).items()}
    safetensors_io.save(f"{out_dir}/tiny-dit.safetensors",
                        {k: safetensors_io.to_bf16(v.numpy()) for k, v in sd.items()})
    # Odd latent width exercises pad_to_patch_size; two batch items, two timesteps.
    x = torch.randn(2, 16, 3, 6, 5, generator=gen)
    t = torch.tensor([999.0, 437.5])
    context = torch.randn(2, 24, 4096, generator=gen)
    safetensors_io.save(f"{out_dir}/tiny-dit-inputs.safetensors",
                        {"x": x.numpy(), "timestep": t.numpy(), "context": context.numpy()})
    with torch.no_grad():
        y = forward(sd, x.double().float(), t, context, torch.float32)
    safetensors_io.save(f"{out_dir}/tiny-dit-expected.safetensors", {"out": y.contiguous().numpy()})
    print(f"wrote tiny Wan DiT fixtures to {out_dir}: out std {y.std().item():.4f}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("make-tiny")
    a.add_argument("dir")
    b = sub.add_parser("forward")
    b.add_argument("ckpt")
    b.add_argument("inputs")
    b.add_argument("out")
    b.add_argument("--dtype", default="float32")
    b.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if args.cmd == "make-tiny":
        make_tiny(args.dir)
        return 0
    dev = torch.device(args.device)
    sd = {k: torch.from_numpy(v).to(dev) for k, v in safetensors_io.load(args.ckpt).items()}
    inp = {k: torch.from_numpy(v).to(dev) for k, v in safetensors_io.load(args.inputs).items()}
    with torch.no_grad():
        y = forward(sd, inp["x"], inp["timestep"], inp["context"], getattr(torch, args.dtype))
    safetensors_io.save(args.out, {"out": y.float().cpu().contiguous().numpy()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
