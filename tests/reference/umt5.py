"""A PyTorch UMT5-XXL encoder written from the published architecture
(T5 v1.1 / UMT5 as ComfyUI runs it for Wan, comfy/text_encoders/t5.py with
umt5_config_xxl.json; see shared/reference/MODELS.md section 3), used to
check Raylight's C implementation (plugins/wan/umt5-encoder.c) on random
weights in the real key layout. It does not import transformers.

Full-size check of the C encoder on the GPU machine (2 of the 24 layers at
the real XXL shapes and vocabulary: a 2.9 GB file, ~40 s to write):

  cd tests/reference
  python umt5.py make-full /tmp/u --layers 2
  python umt5.py forward /tmp/u/umt5-full.safetensors /tmp/u/umt5-full-inputs.safetensors \
      /tmp/u/ref.safetensors --device cuda
  BUILD/tests/umt5/umt5-run /tmp/u/umt5-full.safetensors /tmp/u/umt5-full-inputs.safetensors \
      /tmp/u/ours.raw cuda 3
  python umt5.py compare /tmp/u/ref.safetensors /tmp/u/ours.raw --tolerance 1e-4

(torch CUDA vs torch CPU, both fp32, measured 1.6e-6 on an H200; torch bf16
vs fp32 3.6e-3, so 1e-2 is the bar for a bf16 path.)

  python umt5.py make-tiny DIR
      DIR/tiny-umt5.safetensors        bf16 weights, real key names, d_model 128
      DIR/tiny-umt5-fp8.safetensors    the same model as scaled fp8 (embedding bf16,
                                       norms f16), as umt5_xxl_fp8_e4m3fn_scaled is
      DIR/tiny-umt5-io.safetensors     ids/mask inputs, fp32 expected outputs for both
                                       files, a weighted prompt (ComfyUI's
                                       encode_token_weights), and relative-position
                                       bucket tables (torch CPU, and CUDA when present)

  python umt5.py make-full DIR [--layers 2] [--vocab 256384] [--length 512]
      DIR/umt5-full.safetensors        random bf16 weights at the real XXL size
                                       (d_model 4096, 64 heads, d_ff 10240), fewer layers
      DIR/umt5-full-inputs.safetensors ids/mask [2, length] (one prompt padded, one long)

  python umt5.py forward CKPT INPUTS OUT [--device cuda] [--dtype float32]
      OUT gets "out" f32 [B, L, d_model] (padding rows zero)

  python umt5.py compare EXPECTED ACTUAL
      relative L2 / max abs of ACTUAL (a raw little-endian f32 file, umt5-run's
      output, or a .safetensors with "out") against EXPECTED's "out"; exit
      status 1 above --tolerance (default 1e-4)
"""
import argparse
import math
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

import safetensors_io

NUM_BUCKETS = 32
MAX_DISTANCE = 128
EPS = 1e-6
EOS_ID = 1
PAD_ID = 0


def relative_bucket(rel):
    """T5's bidirectional bucket of rel = key_pos - query_pos (long tensor),
    computed in float32 as transformers / ComfyUI compute it."""
    half = NUM_BUCKETS // 2
    buckets = (rel > 0).to(torch.long) * half
    r = torch.abs(rel)
    max_exact = half // 2
    large = max_exact + (torch.log(r.float() / max_exact) / math.log(MAX_DISTANCE / max_exact)
                         * (half - max_exact)).to(torch.long)
    large = torch.min(large, torch.full_like(large, half - 1))
    return buckets + torch.where(r < max_exact, r, large)


def position_bias(table, length):
    """table [num_buckets, heads] -> [1, heads, L, L]."""
    pos = torch.arange(length, dtype=torch.long, device=table.device)
    rel = pos[None, :] - pos[:, None]
    values = F.embedding(relative_bucket(rel), table.float())
    return values.permute(2, 0, 1).unsqueeze(0).contiguous()


def t5_layer_norm(x, weight):
    variance = x.pow(2).mean(-1, keepdim=True)
    return weight.float() * (x * torch.rsqrt(variance + EPS))


def detect(sd):
    d_model = sd["shared.weight"].shape[1]
    layers = 0
    while f"encoder.block.{layers}.layer.0.SelfAttention.q.weight" in sd:
        layers += 1
    heads = sd["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"].shape[1]
    inner = sd["encoder.block.0.layer.0.SelfAttention.q.weight"].shape[0]
    return dict(d_model=d_model, layers=layers, heads=heads, d_kv=inner // heads,
                d_ff=sd["encoder.block.0.layer.1.DenseReluDense.wi_0.weight"].shape[0])


def weight(sd, key):
    """Dequantised float32 weight (scaled fp8: stored * scale_weight)."""
    w = sd[key].float()
    scale_key = key[:-len("weight")] + "scale_weight"
    if scale_key in sd:
        w = w * sd[scale_key].float()
    return w


def forward(sd, ids, mask, dtype=torch.float32):
    """ids long [B, L], mask [B, L] (1 = token) -> [B, L, d_model] float32,
    rows of padding tokens zero (ComfyUI's zero_out_masked)."""
    cfg = detect(sd)
    heads, d_kv = cfg["heads"], cfg["d_kv"]
    B, L = ids.shape
    x = F.embedding(ids, weight(sd, "shared.weight")).float()
    # ComfyUI: key mask broadcast over queries, -finfo.max where masked.
    m = 1.0 - mask.to(torch.float32).reshape(B, 1, 1, L).expand(B, 1, L, L)
    m = m.masked_fill(m.to(torch.bool), -torch.finfo(torch.float32).max)

    def lin(h, key):
        return F.linear(h.to(dtype), weight(sd, key).to(dtype)).float()

    for i in range(cfg["layers"]):
        p = f"encoder.block.{i}.layer."
        h = t5_layer_norm(x, sd[p + "0.layer_norm.weight"])
        q = lin(h, p + "0.SelfAttention.q.weight").view(B, L, heads, d_kv).transpose(1, 2)
        k = lin(h, p + "0.SelfAttention.k.weight").view(B, L, heads, d_kv).transpose(1, 2)
        v = lin(h, p + "0.SelfAttention.v.weight").view(B, L, heads, d_kv).transpose(1, 2)
        bias = m + position_bias(sd[p + "0.SelfAttention.relative_attention_bias.weight"], L)
        # T5 has no 1/sqrt(d) scaling; ComfyUI cancels SDPA's by scaling k.
        a = F.scaled_dot_product_attention(q.to(dtype), (k * math.sqrt(d_kv)).to(dtype), v.to(dtype),
                                           attn_mask=bias.to(dtype)).float()
        a = a.transpose(1, 2).reshape(B, L, heads * d_kv)
        x = x + lin(a, p + "0.SelfAttention.o.weight")

        h = t5_layer_norm(x, sd[p + "1.layer_norm.weight"])
        g = F.gelu(lin(h, p + "1.DenseReluDense.wi_0.weight"), approximate="tanh")
        u = lin(h, p + "1.DenseReluDense.wi_1.weight")
        x = x + lin(g * u, p + "1.DenseReluDense.wo.weight")
    x = t5_layer_norm(x, sd["encoder.final_layer_norm.weight"])
    return x * mask.to(torch.float32).unsqueeze(-1)


def encode_token_weights(sd, ids, weights, mask):
    """ComfyUI's encode_token_weights for one UMT5 prompt (ids [L] long,
    weights [L], mask [L]): the prompt and the empty prompt (EOS, padding)
    encoded as one batch, then z = (z - z_empty) * w + z_empty for every
    token whose weight is not 1. Returns [1, L, d_model]."""
    L = ids.shape[0]
    empty = torch.full((L,), PAD_ID, dtype=torch.long)
    empty[0] = EOS_ID
    empty_mask = torch.zeros(L, dtype=mask.dtype)
    empty_mask[0] = 1
    out = forward(sd, torch.stack([ids, empty]), torch.stack([mask, empty_mask]))
    z, z_empty = out[0:1].clone(), out[1]
    for j in range(L):
        w = float(weights[j])
        if w != 1.0:
            z[0, j] = (z[0, j] - z_empty[j]) * w + z_empty[j]
    return z


def random_state_dict(gen, d_model, d_kv, heads, d_ff, layers, vocab):
    inner = d_kv * heads

    def rnd(*shape, scale=None):
        scale = scale if scale is not None else 1.0 / math.sqrt(shape[-1])
        return torch.randn(*shape, generator=gen) * scale

    sd = {"shared.weight": rnd(vocab, d_model, scale=1.0),
          "encoder.final_layer_norm.weight": 1 + rnd(d_model, scale=0.1)}
    for i in range(layers):
        p = f"encoder.block.{i}.layer."
        for n in "qkv":
            sd[f"{p}0.SelfAttention.{n}.weight"] = rnd(inner, d_model, scale=0.5 / math.sqrt(d_model))
        sd[p + "0.SelfAttention.o.weight"] = rnd(d_model, inner)
        sd[p + "0.SelfAttention.relative_attention_bias.weight"] = rnd(NUM_BUCKETS, heads, scale=1.0)
        sd[p + "0.layer_norm.weight"] = 1 + rnd(d_model, scale=0.1)
        sd[p + "1.DenseReluDense.wi_0.weight"] = rnd(d_ff, d_model)
        sd[p + "1.DenseReluDense.wi_1.weight"] = rnd(d_ff, d_model)
        sd[p + "1.DenseReluDense.wo.weight"] = rnd(d_model, d_ff)
        sd[p + "1.layer_norm.weight"] = 1 + rnd(d_model, scale=0.1)
    return sd


def bf16_round(t):
    return t.to(torch.bfloat16).float()


def token_batch(gen, vocab, lengths, total):
    """Rows of random ids (>= 2), EOS, then padding, as ComfyUI lays them out."""
    ids = torch.full((len(lengths), total), PAD_ID, dtype=torch.long)
    mask = torch.zeros(len(lengths), total, dtype=torch.int32)
    for b, n in enumerate(lengths):
        ids[b, :n] = torch.randint(2, vocab, (n,), generator=gen)
        ids[b, n] = EOS_ID
        mask[b, :n + 1] = 1
    return ids, mask


def fp8_scaled(sd):
    """The state dict as ComfyUI's scaled fp8 file stores it: 2-D linear
    weights e4m3fn with an F32 scalar scale_weight, embedding bf16, norms
    and relative biases f16. Returns (tensors to save, dequantised sd)."""
    out, deq = {}, {}
    for k, v in sd.items():
        is_linear = v.dim() == 2 and k != "shared.weight" and "relative_attention_bias" not in k
        if is_linear:
            scale = (v.abs().max() / 448.0).float()
            q = (v / scale).to(torch.float8_e4m3fn)
            out[k] = (q.view(torch.uint8).numpy().tobytes(), "F8_E4M3", list(v.shape))
            out[k[:-len("weight")] + "scale_weight"] = np.array(scale.item(), dtype=np.float32)
            deq[k] = q.float() * scale
        elif k == "shared.weight":
            out[k] = safetensors_io.to_bf16(v.numpy())
            deq[k] = bf16_round(v)
        else:
            out[k] = v.numpy().astype(np.float16)
            deq[k] = v.half().float()
    out["scaled_fp8"] = (b"", "F8_E4M3", [0])
    return out, deq


def bucket_table(device):
    rel = torch.arange(-300, 301, dtype=torch.long, device=device)
    return relative_bucket(rel).to(torch.int32).cpu().numpy()


def make_tiny(out_dir):
    gen = torch.Generator().manual_seed(20261127)
    vocab = 300
    sd = {k: bf16_round(v) for k, v in random_state_dict(gen, d_model=128, d_kv=32, heads=4, d_ff=256,
                                                        layers=3, vocab=vocab).items()}
    tensors = {k: safetensors_io.to_bf16(v.numpy()) for k, v in sd.items()}
    # ComfyUI's files carry the tokenizer as a U8 blob; the encoder ignores it.
    tensors["spiece_model"] = np.frombuffer(b"\x0a\x05tiny!" * 7, dtype=np.uint8)
    safetensors_io.save(f"{out_dir}/tiny-umt5.safetensors", tensors)
    fp8_tensors, fp8_sd = fp8_scaled(sd)
    safetensors_io.save(f"{out_dir}/tiny-umt5-fp8.safetensors", fp8_tensors)

    # Short: two prompts padded to 20. Long: 150 tokens + EOS in 160, so
    # distances reach the logarithmic and the clamped buckets.
    ids, mask = token_batch(gen, vocab, [17, 8], 20)
    ids_long, mask_long = token_batch(gen, vocab, [150], 160)
    io = {"ids": ids.to(torch.int32).numpy(), "mask": mask.numpy(),
          "ids_long": ids_long.to(torch.int32).numpy(), "mask_long": mask_long.numpy(),
          "bucket_rel": np.arange(-300, 301, dtype=np.int32),
          "bucket_cpu": bucket_table("cpu")}
    if torch.cuda.is_available():
        io["bucket_cuda"] = bucket_table("cuda")
        diff = np.nonzero(io["bucket_cuda"] != io["bucket_cpu"])[0]
        print("buckets CPU vs CUDA differ at rel", (diff - 300).tolist())
    # ComfyUI prompt weights on the first row: "(...:1.2)", "(...:0.5)", "(...:0.8)".
    weights = torch.ones(ids.shape[1], dtype=torch.float32)
    weights[3:7] = 1.2
    weights[10] = 0.5
    weights[12:14] = 0.8
    io["weights"] = weights.numpy()
    with torch.no_grad():
        io["out_weighted"] = encode_token_weights(sd, ids[0], weights, mask[0]).contiguous().numpy()
        for name, weights in (("", sd), ("_fp8", fp8_sd)):
            io["out" + name] = forward(weights, ids, mask).contiguous().numpy()
            io["out_long" + name] = forward(weights, ids_long, mask_long).contiguous().numpy()
    safetensors_io.save(f"{out_dir}/tiny-umt5-io.safetensors", io)
    print("buckets:", {int(r): int(b) for r, b in zip(io["bucket_rel"], io["bucket_cpu"])
                       if r in (-200, -128, -127, -64, -63, -32, -31, -16, -15, -8, -7, -1, 0, 1, 7, 8,
                                15, 16, 31, 32, 63, 64, 127, 128, 200)})
    print(f"wrote tiny UMT5 fixtures to {out_dir}: out std {io['out'].std():.4f}, "
          f"long std {io['out_long'].std():.4f}, fp8 vs bf16 rel diff "
          f"{np.linalg.norm(io['out_fp8'] - io['out']) / np.linalg.norm(io['out']):.3g}")


def make_full(out_dir, layers, vocab, length):
    gen = torch.Generator().manual_seed(4096)
    sd = random_state_dict(gen, d_model=4096, d_kv=64, heads=64, d_ff=10240, layers=layers, vocab=vocab)
    safetensors_io.save(f"{out_dir}/umt5-full.safetensors",
                        {k: safetensors_io.to_bf16(v.numpy()) for k, v in sd.items()})
    ids, mask = token_batch(gen, vocab, [40, length - 1], length)
    safetensors_io.save(f"{out_dir}/umt5-full-inputs.safetensors",
                        {"ids": ids.to(torch.int32).numpy(), "mask": mask.numpy()})
    print(f"wrote {layers}-layer full-size UMT5 (vocab {vocab}) and inputs [2, {length}] to {out_dir}")


def compare(expected_path, actual_path, tolerance):
    want = safetensors_io.load(expected_path)["out"].astype(np.float64)
    if actual_path.endswith(".safetensors"):
        got = safetensors_io.load(actual_path)["out"].astype(np.float64)
    else:
        got = np.fromfile(actual_path, dtype="<f4").astype(np.float64)
    if got.size != want.size:
        print(f"size mismatch: {got.size} vs {want.size}")
        return 1
    got = got.reshape(want.shape)
    rel = np.linalg.norm(got - want) / np.linalg.norm(want)
    print(f"rel L2 {rel:.3g}, max abs {np.abs(got - want).max():.3g}, "
          f"padding rows max |x| {np.abs(got[want == 0]).max() if (want == 0).any() else 0:.3g}")
    return 0 if rel <= tolerance else 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("make-tiny")
    a.add_argument("dir")
    f = sub.add_parser("make-full")
    f.add_argument("dir")
    f.add_argument("--layers", type=int, default=2)
    f.add_argument("--vocab", type=int, default=256384)
    f.add_argument("--length", type=int, default=512)
    b = sub.add_parser("forward")
    b.add_argument("ckpt")
    b.add_argument("inputs")
    b.add_argument("out")
    b.add_argument("--dtype", default="float32")
    b.add_argument("--device", default="cpu")
    c = sub.add_parser("compare")
    c.add_argument("expected")
    c.add_argument("actual")
    c.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if args.cmd == "make-tiny":
        make_tiny(args.dir)
        return 0
    if args.cmd == "make-full":
        make_full(args.dir, args.layers, args.vocab, args.length)
        return 0
    if args.cmd == "compare":
        return compare(args.expected, args.actual, args.tolerance)
    dev = torch.device(args.device)
    sd = {k: torch.from_numpy(v).to(dev) for k, v in safetensors_io.load(args.ckpt).items()
          if k not in ("spiece_model",)}
    inp = safetensors_io.load(args.inputs)
    ids = torch.from_numpy(inp["ids"]).long().to(dev)
    mask = torch.from_numpy(inp["mask"]).to(dev)
    with torch.no_grad():
        y = forward(sd, ids, mask, getattr(torch, args.dtype))
    safetensors_io.save(args.out, {"out": y.float().cpu().contiguous().numpy()})
    print(f"wrote {args.out}: {list(y.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
