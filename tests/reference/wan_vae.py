"""A PyTorch Wan 2.1 (16-channel) and Wan 2.2 (48-channel) video VAE written
from the published architecture (Wan-Video/Wan2.1 wan/modules/vae.py,
Wan2.2 wan/modules/vae2_2.py, as ComfyUI runs them: comfy/ldm/wan/vae.py,
vae2_2.py, comfy/sd.py, comfy/utils.py tiled_scale_multidim; see
shared/reference/MODELS.md §2), used to check Raylight's C implementation on
random weights in the real key layout.

The chunked causal processing is reproduced as the original code does it:
one feature-cache slot per cached causal conv in call order, CACHE_T = 2,
encode in frame chunks 1, 4, 4, ..., decode one latent frame per call with
the 'Rep' first call of every temporal upsample. One exception, because
ComfyUI is what users compare against: ComfyUI's 2.1 vae.py (since 2026)
runs the decoder's temporal-upsample convs frame by frame on a one-frame
cache ([0, previous, frame] instead of [previous two, frame]), which moves
2.1 decodes from the third latent frame on; the 2.1 decode follows it
(--original-wan gives the original two-frame cache). The 2.2 VAE
(vae2_2.py) keeps the original arithmetic in ComfyUI too. The cases file
records the choice as decode_time_cache (frames the upsample convs keep).

  python wan_vae.py make-tiny DIR   writes, for v in 21 and 22:
      DIR/tiny-vae{v}.safetensors           bf16 weights, real key names, small dims
      DIR/tiny-vae{v}-cases.safetensors     inputs and fp32 expected outputs:
          decode_in  [B, z, T, h, w]   raw latent (ComfyUI LATENT, not normalised)
          decode_out [B, 3, 1+4(T-1), 8h|16h, 8w|16w] in [0, 1] (clamp((x+1)/2))
          decode_time_cache (i64 scalar) 1 (2.1, as ComfyUI) or 2 (2.2, or --original-wan)
          tiled_in, tiled_out, tiled_params (i64: tile t,h,w, overlap t,h,w)
          encode_in  [B, 3, F, H, W] in [0, 1];  encode_out [B, z, 1+(F-1)//4, ...] (mu)
  python wan_vae.py make-real DIR --version 21|22 [--frames 81 --height 480 --width 832]
      DIR/real-vae{v}.safetensors (random bf16 weights at the published widths) and
      DIR/real-vae{v}-inputs.safetensors ("latent" [1, z, T, h, w], "video" [1, 3, F, H, W])
  python wan_vae.py decode|tiled|encode CKPT INPUTS OUT [--dtype bfloat16] [--device cuda]
      reference output of the same runs as tests/wan-vae/wan-vae-run (OUT: safetensors "out")
  python wan_vae.py compare REF.safetensors RAW.f32    rel L2 and max abs of wan-vae-run's output
"""
import argparse
import itertools
import math
import sys

import numpy as np
import torch
import torch.nn.functional as F

import safetensors_io

CACHE_T = 2
DIM_MULT = [1, 2, 4, 4]
TEMPORAL_DOWN = [False, True, True]


# ------------------------------------------------------------------ structure

def detect(sd):
    """Version and dims from the keys, as ComfyUI's sd.py does."""
    if "decoder.middle.0.residual.0.gamma" not in sd:
        raise ValueError("not a Wan VAE")
    v22 = "decoder.upsamples.0.upsamples.0.residual.2.weight" in sd
    dim = sd["encoder.conv1.weight"].shape[0]
    dec_dim = sd["decoder.conv1.weight"].shape[0] // DIM_MULT[-1]
    z = sd["conv2.weight"].shape[0]
    return dict(v22=v22, dim=dim, dec_dim=dec_dim, z=z)


def enc_layers(cfg):
    """Encoder stages: list of (stage_prefix_fn, [('res', in, out) | ('resample', C, mode)], shortcut)."""
    d = cfg["dim"]
    dims = [d * u for u in [1] + DIM_MULT]
    stages = []
    flat = 0
    for i in range(len(DIM_MULT)):
        cin, cout = dims[i], dims[i + 1]
        layers = []
        for _ in range(2):
            layers.append(("res", cin, cout))
            cin = cout
        if i != len(DIM_MULT) - 1:
            layers.append(("resample", cout, "downsample3d" if TEMPORAL_DOWN[i] else "downsample2d"))
        if cfg["v22"]:
            names = [f"encoder.downsamples.{i}.downsamples.{j}" for j in range(len(layers))]
        else:
            names = [f"encoder.downsamples.{flat + j}" for j in range(len(layers))]
            flat += len(layers)
        shortcut = None
        if cfg["v22"]:
            shortcut = (dims[i], dims[i + 1], 2 if (i < 3 and TEMPORAL_DOWN[i]) else 1,
                        2 if i != len(DIM_MULT) - 1 else 1)
        stages.append((list(zip(names, layers)), shortcut))
    return stages, dims[-1]


def dec_layers(cfg):
    d = cfg["dec_dim"]
    dims = [d * u for u in [DIM_MULT[-1]] + DIM_MULT[::-1]]
    temporal_up = TEMPORAL_DOWN[::-1]
    stages = []
    flat = 0
    for i in range(len(DIM_MULT)):
        cin, cout = dims[i], dims[i + 1]
        if not cfg["v22"] and i in (1, 2, 3):
            cin //= 2
        layers = []
        for _ in range(3):
            layers.append(("res", cin, cout))
            cin = cout
        if i != len(DIM_MULT) - 1:
            layers.append(("resample", cout, "upsample3d" if temporal_up[i] else "upsample2d"))
        if cfg["v22"]:
            names = [f"decoder.upsamples.{i}.upsamples.{j}" for j in range(len(layers))]
        else:
            names = [f"decoder.upsamples.{flat + j}" for j in range(len(layers))]
            flat += len(layers)
        shortcut = None
        if cfg["v22"] and i != len(DIM_MULT) - 1:
            shortcut = (dims[i], dims[i + 1], 2 if temporal_up[i] else 1, 2)
        stages.append((list(zip(names, layers)), shortcut))
    return stages, dims[0], dims[-1]


def key_shapes(cfg):
    """(name, shape) of every tensor in the real layout."""
    out = []

    def conv(name, o, i, k):
        out.append((name + ".weight", [o, i, *k]))
        out.append((name + ".bias", [o]))

    def res(name, cin, cout):
        out.append((name + ".residual.0.gamma", [cin, 1, 1, 1]))
        conv(name + ".residual.2", cout, cin, (3, 3, 3))
        out.append((name + ".residual.3.gamma", [cout, 1, 1, 1]))
        conv(name + ".residual.6", cout, cout, (3, 3, 3))
        if cin != cout:
            conv(name + ".shortcut", cout, cin, (1, 1, 1))

    def attn(name, c):
        out.append((name + ".norm.gamma", [c, 1, 1]))
        conv(name + ".to_qkv", 3 * c, c, (1, 1))
        conv(name + ".proj", c, c, (1, 1))

    def resample(name, c, mode):
        o = c // 2 if (mode.startswith("up") and not cfg["v22"]) else c
        conv(name + ".resample.1", o, c, (3, 3))
        if mode == "upsample3d":
            conv(name + ".time_conv", 2 * c, c, (3, 1, 1))
        if mode == "downsample3d":
            conv(name + ".time_conv", c, c, (3, 1, 1))

    def layers(stages):
        for lst, _ in stages:
            for name, spec in lst:
                if spec[0] == "res":
                    res(name, spec[1], spec[2])
                else:
                    resample(name, spec[1], spec[2])

    z = cfg["z"]
    pix = 12 if cfg["v22"] else 3
    estages, ec = enc_layers(cfg)
    conv("encoder.conv1", cfg["dim"], pix, (3, 3, 3))
    layers(estages)
    res("encoder.middle.0", ec, ec)
    attn("encoder.middle.1", ec)
    res("encoder.middle.2", ec, ec)
    out.append(("encoder.head.0.gamma", [ec, 1, 1, 1]))
    conv("encoder.head.2", 2 * z, ec, (3, 3, 3))
    conv("conv1", 2 * z, 2 * z, (1, 1, 1))
    conv("conv2", z, z, (1, 1, 1))
    dstages, dc0, dclast = dec_layers(cfg)
    conv("decoder.conv1", dc0, z, (3, 3, 3))
    res("decoder.middle.0", dc0, dc0)
    attn("decoder.middle.1", dc0)
    res("decoder.middle.2", dc0, dc0)
    layers(dstages)
    out.append(("decoder.head.0.gamma", [dclast, 1, 1, 1]))
    conv("decoder.head.2", pix, dclast, (3, 3, 3))
    return out


# ------------------------------------------------------------------ layers

class Cache:
    """The feature cache of one encode/decode: slot i belongs to the i-th
    cached layer called; idx restarts at 0 for every chunk."""

    def __init__(self, one_frame_time_conv=False):
        self.slots = []
        self.idx = 0
        # True reproduces the newest ComfyUI comfy/ldm/wan/vae.py decode, whose
        # temporal-upsample convs see one cached frame (and a zero) instead of
        # the original two cached frames.
        self.one_frame_time_conv = one_frame_time_conv

    def take(self):
        if self.idx == len(self.slots):
            self.slots.append(None)
        i = self.idx
        self.idx += 1
        return i


def rms_norm(x, gamma):
    # F.normalize over channels (eps 1e-12) * sqrt(C) * gamma
    return F.normalize(x, dim=1) * (x.shape[1] ** 0.5) * gamma


def causal_conv(x, sd, key, cache, pad_t=1, pad_hw=1, stride=(1, 1, 1)):
    """CausalConv3d: all temporal padding (2*pad_t) in front, reduced by the
    cached frames put in front of x."""
    w, b = sd[key + ".weight"], sd[key + ".bias"]
    front = 2 * pad_t
    if cache is not None:
        i = cache.take()
        prev = cache.slots[i]
        cache_x = x[:, :, -CACHE_T:].clone()
        if cache_x.shape[2] < 2 and prev is not None:
            cache_x = torch.cat([prev[:, :, -1:], cache_x], dim=2)
        if prev is not None and front > 0:
            x = torch.cat([prev, x], dim=2)
            front = max(0, front - prev.shape[2])
        cache.slots[i] = cache_x
    x = F.pad(x, (pad_hw, pad_hw, pad_hw, pad_hw, front, 0))
    return F.conv3d(x, w, b, stride=stride)


def conv1x1(x, sd, key):
    return F.conv3d(x, sd[key + ".weight"], sd[key + ".bias"])


def per_frame(x, fn):
    b, c, t, h, w = x.shape
    y = fn(x.permute(0, 2, 1, 3, 4).reshape(b * t, c, h, w))
    return y.reshape(b, t, *y.shape[1:]).permute(0, 2, 1, 3, 4)


def residual_block(x, sd, key, cache):
    h = F.silu(rms_norm(x, sd[key + ".residual.0.gamma"]))
    h = causal_conv(h, sd, key + ".residual.2", cache)
    h = F.silu(rms_norm(h, sd[key + ".residual.3.gamma"]))
    h = causal_conv(h, sd, key + ".residual.6", cache)
    if key + ".shortcut.weight" in sd:
        return h + conv1x1(x, sd, key + ".shortcut")
    return h + x


def attention_block(x, sd, key):
    c = x.shape[1]

    def frame(y):
        bt, _, h, w = y.shape
        y = rms_norm(y, sd[key + ".norm.gamma"])
        qkv = F.conv2d(y, sd[key + ".to_qkv.weight"], sd[key + ".to_qkv.bias"])
        q, k, v = qkv.reshape(bt, 1, 3 * c, h * w).permute(0, 1, 3, 2).chunk(3, dim=-1)
        o = F.scaled_dot_product_attention(q, k, v)
        o = o.squeeze(1).permute(0, 2, 1).reshape(bt, c, h, w)
        return F.conv2d(o, sd[key + ".proj.weight"], sd[key + ".proj.bias"])

    return x + per_frame(x, frame)


def resample(x, sd, key, mode, cache):
    b, c, t, h, w = x.shape
    if mode == "upsample3d":
        i = cache.take()
        state = cache.slots[i]
        if state is None:
            cache.slots[i] = "Rep"          # first call: one frame stays one frame
        else:
            cache_x = x[:, :, -CACHE_T:].clone()
            if cache_x.shape[2] < 2 and not isinstance(state, str):
                cache_x = torch.cat([state[:, :, -1:], cache_x], dim=2)
            if cache_x.shape[2] < 2 and isinstance(state, str):
                cache_x = torch.cat([torch.zeros_like(cache_x), cache_x], dim=2)
            wt, bt = sd[key + ".time_conv.weight"], sd[key + ".time_conv.bias"]
            if cache.one_frame_time_conv and not isinstance(state, str):
                cache_x = x[:, :, -1:].clone()
            if cache.one_frame_time_conv and t > 1:
                # newest ComfyUI vae.py: each frame alone, the cache holding one frame
                ys = []
                for f in range(t):
                    xf = x[:, :, f:f + 1]
                    st = cache.slots[i]
                    if isinstance(st, str):
                        ys.append(F.conv3d(F.pad(xf, (0, 0, 0, 0, 2, 0)), wt, bt))
                    else:
                        ys.append(F.conv3d(F.pad(torch.cat([st, xf], 2), (0, 0, 0, 0, 1, 0)), wt, bt))
                    cache.slots[i] = xf.clone()
                y = torch.cat(ys, dim=2)
            elif isinstance(state, str):
                y = F.conv3d(F.pad(x, (0, 0, 0, 0, 2, 0)), wt, bt)
            else:
                xin = torch.cat([state, x], dim=2)
                y = F.conv3d(F.pad(xin, (0, 0, 0, 0, max(0, 2 - state.shape[2]), 0)), wt, bt)
            if not (cache.one_frame_time_conv and t > 1):
                cache.slots[i] = cache_x
            y = y.reshape(b, 2, c, t, h, w)
            x = torch.stack((y[:, 0], y[:, 1]), 3).reshape(b, c, 2 * t, h, w)
    w2, b2 = sd[key + ".resample.1.weight"], sd[key + ".resample.1.bias"]
    if mode.startswith("upsample"):
        x = per_frame(x, lambda y: F.conv2d(F.interpolate(y, scale_factor=2.0, mode="nearest-exact"),
                                            w2, b2, padding=1))
    else:
        x = per_frame(x, lambda y: F.conv2d(F.pad(y, (0, 1, 0, 1)), w2, b2, stride=2))
    if mode == "downsample3d":
        i = cache.take()
        prev = cache.slots[i]
        if prev is None:
            cache.slots[i] = x.clone()
        else:
            cache_x = x[:, :, -1:].clone()
            x = F.conv3d(torch.cat([prev[:, :, -1:], x], dim=2), sd[key + ".time_conv.weight"],
                         sd[key + ".time_conv.bias"], stride=(2, 1, 1))
            cache.slots[i] = cache_x
    return x


def avg_down(x, cin, cout, ft, fs):
    """Wan 2.2 AvgDown3D: fold (t, h, w) sub-positions into channels and
    average groups of channels."""
    factor = ft * fs * fs
    group = cin * factor // cout
    pad_t = (ft - x.shape[2] % ft) % ft
    x = F.pad(x, (0, 0, 0, 0, pad_t, 0)).contiguous()
    B, C, T, H, W = x.shape
    x = x.view(B, C, T // ft, ft, H // fs, fs, W // fs, fs)
    x = x.permute(0, 1, 3, 5, 7, 2, 4, 6).contiguous()
    x = x.view(B, cout, group, T // ft, H // fs, W // fs)
    return x.mean(dim=2)


def dup_up(x, cin, cout, ft, fs, first_chunk):
    """Wan 2.2 DupUp3D: repeat channels, unfold them into (t, h, w)
    sub-positions; the first chunk drops its first ft-1 frames."""
    factor = ft * fs * fs
    x = x.repeat_interleave(cout * factor // cin, dim=1)
    B, _, T, H, W = x.shape
    x = x.view(B, cout, ft, fs, fs, T, H, W).permute(0, 1, 5, 2, 6, 3, 7, 4).contiguous()
    x = x.view(B, cout, T * ft, H * fs, W * fs)
    if first_chunk:
        x = x[:, :, ft - 1:]
    return x


def run_stages(x, sd, stages, cache, first_chunk, decoder):
    for lst, shortcut in stages:
        x_in = x
        for name, spec in lst:
            if spec[0] == "res":
                x = residual_block(x, sd, name, cache)
            else:
                x = resample(x, sd, name, spec[2], cache)
        if shortcut is not None:
            cin, cout, ft, fs = shortcut
            if decoder:
                x = x + dup_up(x_in, cin, cout, ft, fs, first_chunk)
            else:
                x = x + avg_down(x_in, cin, cout, ft, fs)
    return x


def head(x, sd, key, cache):
    x = F.silu(rms_norm(x, sd[key + ".0.gamma"]))
    return causal_conv(x, sd, key + ".2", cache)


def encoder(x, sd, cfg, cache):
    stages, _ = enc_layers(cfg)
    x = causal_conv(x, sd, "encoder.conv1", cache)
    x = run_stages(x, sd, stages, cache, False, decoder=False)
    x = residual_block(x, sd, "encoder.middle.0", cache)
    x = attention_block(x, sd, "encoder.middle.1")
    x = residual_block(x, sd, "encoder.middle.2", cache)
    return head(x, sd, "encoder.head", cache)


def decoder(x, sd, cfg, cache, first_chunk):
    stages, _, _ = dec_layers(cfg)
    x = causal_conv(x, sd, "decoder.conv1", cache)
    x = residual_block(x, sd, "decoder.middle.0", cache)
    x = attention_block(x, sd, "decoder.middle.1")
    x = residual_block(x, sd, "decoder.middle.2", cache)
    x = run_stages(x, sd, stages, cache, first_chunk, decoder=True)
    return head(x, sd, "decoder.head", cache)


def patchify(x):
    # "b c f (h q) (w r) -> b (c r q) f h w", q = r = 2
    B, C, T, H, W = x.shape
    x = x.view(B, C, T, H // 2, 2, W // 2, 2)          # b c f h q w r
    return x.permute(0, 1, 6, 4, 2, 3, 5).reshape(B, C * 4, T, H // 2, W // 2)


def unpatchify(x):
    B, C4, T, h, w = x.shape
    x = x.view(B, C4 // 4, 2, 2, T, h, w)              # b c r q f h w
    return x.permute(0, 1, 4, 5, 3, 6, 2).reshape(B, C4 // 4, T, h * 2, w * 2)


def encode(sd, video):
    """video [B, 3, F, H, W] in [0, 1] -> mu [B, z, 1+(F-1)//4, ...]."""
    cfg = detect(sd)
    x = (video.float() * 2.0 - 1.0).to(sd["conv2.weight"].dtype)    # ComfyUI: process_input, then the VAE dtype
    if cfg["v22"]:
        x = patchify(x)
    cache = Cache()
    n = 1 + (x.shape[2] - 1) // 4
    outs = []
    for i in range(n):
        cache.idx = 0
        chunk = x[:, :, :1] if i == 0 else x[:, :, 1 + 4 * (i - 1):1 + 4 * i]
        outs.append(encoder(chunk, sd, cfg, cache))
    out = conv1x1(torch.cat(outs, dim=2), sd, "conv1")
    return out[:, :cfg["z"]]


ORIGINAL_WAN = False     # --original-wan: the 2.1 decode with the original two-frame cache


def comfy_one_frame_time_conv(cfg):
    """Whether ComfyUI decodes this VAE with one-frame temporal-upsample caches."""
    return not cfg["v22"] and not ORIGINAL_WAN


def decode_raw(sd, z, one_frame_time_conv=None):
    """latent [B, z, T, h, w] -> decoder output in [-1, 1]-ish, before ComfyUI's clamp.
    one_frame_time_conv None: as ComfyUI decodes this VAE."""
    cfg = detect(sd)
    if one_frame_time_conv is None:
        one_frame_time_conv = comfy_one_frame_time_conv(cfg)
    x = conv1x1(z, sd, "conv2")
    cache = Cache(one_frame_time_conv)
    outs = []
    for i in range(z.shape[2]):
        cache.idx = 0
        outs.append(decoder(x[:, :, i:i + 1], sd, cfg, cache, first_chunk=(i == 0)))
    out = torch.cat(outs, dim=2)
    return unpatchify(out) if cfg["v22"] else out


def process_output(x):
    return torch.clamp((x + 1.0) / 2.0, min=0.0, max=1.0)


def decode_tiled(sd, z, tile, overlap):
    """ComfyUI VAE.decode_tiled_3d = tiled_scale_multidim over (t, h, w) with
    upscale (4t-3, s, s), index formula (4, s, s), linear feathering."""
    cfg = detect(sd)
    s = 16 if cfg["v22"] else 8

    def size(d, v):
        return max(0, v * 4 - 3) if d == 0 else v * s

    def pos(d, v):
        return v * 4 if d == 0 else v * s

    S = z.shape[2:]
    if all(S[d] <= tile[d] for d in range(3)):
        return process_output(decode_raw(sd, z))
    B = z.shape[0]
    out = torch.zeros([B, 3] + [size(d, S[d]) for d in range(3)], device=z.device)
    div = torch.zeros_like(out)
    positions = [range(0, S[d] - overlap[d], tile[d] - overlap[d]) if S[d] > tile[d] else [0]
                 for d in range(3)]
    for it in itertools.product(*positions):
        s_in = z
        ups = []
        for d in range(3):
            p = max(0, min(S[d] - overlap[d], it[d]))
            l = min(tile[d], S[d] - p)
            s_in = s_in.narrow(d + 2, p, l)
            ups.append(pos(d, p))
        ps = decode_raw(sd, s_in).float()
        mask = torch.ones_like(ps)
        for d in range(2, 5):
            feather = round(size(d - 2, overlap[d - 2]))
            if feather >= mask.shape[d]:
                continue
            for t in range(feather):
                a = (t + 1) / feather
                mask.narrow(d, t, 1).mul_(a)
                mask.narrow(d, mask.shape[d] - 1 - t, 1).mul_(a)
        o, od = out, div
        for d in range(3):
            o = o.narrow(d + 2, ups[d], mask.shape[d + 2])
            od = od.narrow(d + 2, ups[d], mask.shape[d + 2])
        o.add_(ps * mask)
        od.add_(mask)
    return process_output(out / div)


# ------------------------------------------------------------------ fixtures

def tiny_state_dict(cfg, gen):
    sd = {}
    for name, shape in key_shapes(cfg):
        if name.endswith(".gamma"):
            v = 1.0 + 0.1 * torch.randn(*shape, generator=gen)
        elif name.endswith(".bias"):
            v = 0.1 * torch.randn(*shape, generator=gen)
        else:
            fan_in = int(np.prod(shape[1:]))
            v = torch.randn(*shape, generator=gen) / math.sqrt(fan_in)
            if name.startswith("decoder.head"):
                v = v * 0.5            # keep most outputs inside ComfyUI's clamp
        sd[name] = v.to(torch.bfloat16).float()
    return sd


def make_one(out_dir, tag, cfg, dec_shape, enc_shape, tile, overlap, gen):
    sd = tiny_state_dict(cfg, gen)
    names = [n for n, _ in key_shapes(cfg)]
    assert len(names) == len(set(names))
    safetensors_io.save(f"{out_dir}/tiny-vae{tag}.safetensors",
                        {k: safetensors_io.to_bf16(sd[k].numpy()) for k in names})
    z_in = torch.randn(*dec_shape, generator=gen)
    video = torch.rand(*enc_shape, generator=gen)
    tiled_in = z_in[:1].contiguous()
    with torch.no_grad():
        raw = decode_raw(sd, z_in)
        dec = process_output(raw)
        tiled = decode_tiled(sd, tiled_in, tile, overlap)
        untiled = process_output(decode_raw(sd, tiled_in))
        mu = encode(sd, video)
    clamped = ((raw < -1) | (raw > 1)).float().mean().item()
    print(f"v{tag}: decode {list(dec.shape)} raw std {raw.std().item():.3f} clamped {clamped:.4f}; "
          f"tiled-vs-untiled max {(tiled - untiled).abs().max().item():.4f}; "
          f"encode {list(mu.shape)} std {mu.std().item():.3f}")
    safetensors_io.save(f"{out_dir}/tiny-vae{tag}-cases.safetensors", {
        "decode_in": z_in.numpy(), "decode_out": dec.contiguous().numpy(),
        "tiled_in": tiled_in.numpy(), "tiled_out": tiled.contiguous().numpy(),
        "tiled_params": np.array(list(tile) + list(overlap), dtype=np.int64),
        "encode_in": video.numpy(), "encode_out": mu.contiguous().numpy(),
        "decode_time_cache": np.array(1 if comfy_one_frame_time_conv(cfg) else 2, dtype=np.int64),
    })


def make_tiny(out_dir):
    gen = torch.Generator().manual_seed(20261127)
    make_one(out_dir, "21", dict(v22=False, dim=8, dec_dim=8, z=16),
             dec_shape=(2, 16, 3, 4, 6), enc_shape=(1, 3, 9, 32, 48),
             tile=(2, 3, 4), overlap=(1, 1, 2), gen=gen)
    make_one(out_dir, "22", dict(v22=True, dim=8, dec_dim=8, z=48),
             dec_shape=(1, 48, 3, 4, 3), enc_shape=(1, 3, 9, 64, 48),
             tile=(2, 3, 2), overlap=(1, 1, 1), gen=gen)


def make_real(out_dir, version, frames, height, width):
    v22 = version == "22"
    cfg = dict(v22=v22, dim=160 if v22 else 96, dec_dim=256 if v22 else 96, z=48 if v22 else 16)
    s = 16 if v22 else 8
    gen = torch.Generator().manual_seed(20261128)
    sd = tiny_state_dict(cfg, gen)
    names = [n for n, _ in key_shapes(cfg)]
    safetensors_io.save(f"{out_dir}/real-vae{version}.safetensors",
                        {k: safetensors_io.to_bf16(sd[k].numpy()) for k in names})
    T = 1 + (frames - 1) // 4
    latent = torch.randn(1, cfg["z"], T, height // s, width // s, generator=gen)
    video = torch.rand(1, 3, frames, height, width, generator=gen)
    safetensors_io.save(f"{out_dir}/real-vae{version}-inputs.safetensors",
                        {"latent": latent.numpy(), "video": video.numpy()})
    print(f"wrote real-size Wan{version} VAE ({sum(int(np.prod(sh)) for _, sh in key_shapes(cfg))} params), "
          f"latent {list(latent.shape)}, video {list(video.shape)} to {out_dir}")


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("make-tiny")
    a.add_argument("dir")
    a.add_argument("--original-wan", action="store_true",
                   help="decode 2.1 with the original Wan code's two-frame upsample cache")
    r = sub.add_parser("make-real")
    r.add_argument("dir")
    r.add_argument("--version", choices=["21", "22"], default="21")
    r.add_argument("--frames", type=int, default=81)
    r.add_argument("--height", type=int, default=480)
    r.add_argument("--width", type=int, default=832)
    for name in ("decode", "tiled", "encode"):
        b = sub.add_parser(name)
        b.add_argument("ckpt")
        b.add_argument("inputs")
        b.add_argument("out")
        b.add_argument("--dtype", default="float32")
        b.add_argument("--device", default="cpu")
        b.add_argument("--tiling", default="999,32,32,1,8,8")
        b.add_argument("--original-wan", action="store_true",
                       help="decode 2.1 with the original Wan code's two-frame upsample cache")
        b.add_argument("--original-wan-diff", action="store_true",
                       help="decode: also print how far the original Wan code's two-frame cache moves the output")
    c = sub.add_parser("compare")
    c.add_argument("ref")
    c.add_argument("raw")
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    global ORIGINAL_WAN
    ORIGINAL_WAN = getattr(args, "original_wan", False)
    if args.cmd == "make-tiny":
        make_tiny(args.dir)
        return 0
    if args.cmd == "make-real":
        make_real(args.dir, args.version, args.frames, args.height, args.width)
        return 0
    if args.cmd == "compare":
        ref = safetensors_io.load(args.ref)["out"].astype(np.float64)
        got = np.fromfile(args.raw, dtype=np.float32).astype(np.float64).reshape(ref.shape)
        rel = np.linalg.norm(got - ref) / max(np.linalg.norm(ref), 1e-30)
        print(f"rel L2 {rel:.3g}, max abs {np.abs(got - ref).max():.3g}")
        return 0
    dev, dtype = torch.device(args.device), getattr(torch, args.dtype)
    sd = {k: torch.from_numpy(v).to(dev, dtype) for k, v in safetensors_io.load(args.ckpt).items()}
    inp = safetensors_io.load(args.inputs)
    with torch.no_grad():
        if args.cmd == "encode":
            y = encode(sd, torch.from_numpy(inp["video"]).to(dev)).float()
        else:
            z = torch.from_numpy(inp["latent"]).to(dev, dtype)
            if args.cmd == "tiled":
                t = [int(v) for v in args.tiling.split(",")]
                y = decode_tiled(sd, z, t[:3], t[3:]).float()
            else:
                y = process_output(decode_raw(sd, z).float())
                if args.original_wan_diff:
                    y2 = process_output(decode_raw(sd, z, one_frame_time_conv=False).float())
                    d = (y2 - y).double()
                    per_frame = d.abs().amax(dim=(0, 1, 3, 4)).tolist()
                    print(f"original Wan two-frame upsample cache vs this decode: rel L2 "
                          f"{(d.norm() / y.double().norm()).item():.3g}, max abs {d.abs().max().item():.3g}; "
                          f"per-frame max abs {[round(v, 4) for v in per_frame]}")
    print(f"{args.cmd}: out {list(y.shape)} mean {y.float().mean().item():.4f} std {y.float().std().item():.4f}")
    safetensors_io.save(args.out, {"out": y.cpu().contiguous().numpy()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
