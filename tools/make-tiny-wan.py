#!/usr/bin/env python3
"""Writes tiny Wan text-to-video model sets, in ComfyUI's folder layout, into
MODELS_DIR, for CI and the default job on machines without real weights.
Every DiT has the real key layout and its variant's shape traits at small
sizes (heads of Wan's 128, the ffn/dim ratio, latent channels), stored in
the dtype its real release uses:

  diffusion_models/
    tiny-wan2.1-t2v.safetensors                        2.1 T2V 1.3B-shaped: dim 256 (2 heads), ffn 512, 2 blocks, bf16
    tiny-wan2.1-t2v-14B-fp8-scaled.safetensors         2.1 T2V 14B-shaped: dim 384 (3 heads), ffn 1024, 3 blocks,
                                                       ComfyUI scaled fp8 (F8_E4M3 Linear weights, scale_weight, scaled_fp8)
    tiny-wan2.2-t2v-high-noise-14B-fp8-scaled.safetensors
    tiny-wan2.2-t2v-low-noise-14B-fp8-scaled.safetensors
                                                       2.2 T2V A14B experts: 14B-shaped, scaled fp8, own weights each
    tiny-wan2.2-ti2v-5B-fp16.safetensors               2.2 TI2V 5B-shaped: dim 256, ffn 768, 2 blocks, 48 latent channels, fp16
  text_encoders/tiny-umt5.safetensors                  UMT5 encoder, d_model 128, with the tokenizer as `spiece_model`
  vae/tiny-wan2.1-vae.safetensors                      the tiny 2.1 VAE (16 ch) of tests/wan-vae
  vae/tiny-wan2.2-vae.safetensors                      the tiny 2.2 VAE (48 ch) of tests/wan-vae

Weights are random (fixed seeds, so the files are identical on every run)
and scaled so activations stay finite. Run with the project's .venv python:

  .venv/bin/python tools/make-tiny-wan.py MODELS_DIR

`--failure-cases` adds broken or foreign files to diffusion_models/ for the
tests (tests/wan, tests/worker-jobs): tiny-wan2.1-missing-key (the 1.3B DiT
without blocks.1.ffn.2.weight), tiny-wan2.1-wrong-shape (blocks.0.cross_attn.k
.weight [256, 64]), tiny-vae-as-dit (the VAE in the wrong folder),
tiny-wan2.1-i2v, tiny-wan2.1-flf2v, tiny-wan2.2-i2v (36 input channels),
tiny-wan-vace, tiny-wan-fun-control (48 in, 16 out), tiny-flux and tiny-sd15
(other families' marker keys). `--train-tokenizer FILE` retrains the
committed SentencePiece model (data/tiny-models/tiny-spiece.model); it needs
the sentencepiece package.
"""
import argparse
import math
import os
import random
import shutil
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
import safetensors_io  # noqa: E402

TEXT_DIM = 128          # UMT5 d_model = the DiT's text_embedding input
UMT5_VOCAB = 256        # at least the tokenizer's piece count
UMT5_HEADS = 4
UMT5_KV = 32
UMT5_FF = 256
UMT5_LAYERS = 2
UMT5_BUCKETS = 32


class DitShape:
    """A tiny DiT: dim (a multiple of Wan's head size 128), ffn, blocks,
    latent channels in = out."""

    def __init__(self, dim, ffn, layers, channels):
        self.dim, self.ffn, self.layers, self.channels = dim, ffn, layers, channels


SHAPE_1_3B = DitShape(256, 512, 2, 16)     # real: 1536 / 8960 / 30 blocks
SHAPE_14B = DitShape(384, 1024, 3, 16)     # real: 5120 / 13824 / 40 blocks (ffn 2.7 × dim)
SHAPE_5B = DitShape(256, 768, 2, 48)       # real: 3072 / 14336 / 30 blocks, 48-channel latent


def random_array(rng, *shape, scale=None):
    scale = scale if scale is not None else 1.0 / math.sqrt(shape[-1])
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def dit_state_dict(rng, shape=SHAPE_1_3B):
    d, t, c = shape.dim, TEXT_DIM, shape.channels
    sd = {
        "patch_embedding.weight": random_array(rng, d, c, 1, 2, 2, scale=0.2),
        "patch_embedding.bias": random_array(rng, d, scale=0.1),
        "text_embedding.0.weight": random_array(rng, d, t),
        "text_embedding.0.bias": random_array(rng, d, scale=0.1),
        "text_embedding.2.weight": random_array(rng, d, d),
        "text_embedding.2.bias": random_array(rng, d, scale=0.1),
        "time_embedding.0.weight": random_array(rng, d, 256),
        "time_embedding.0.bias": random_array(rng, d, scale=0.1),
        "time_embedding.2.weight": random_array(rng, d, d),
        "time_embedding.2.bias": random_array(rng, d, scale=0.1),
        "time_projection.1.weight": random_array(rng, 6 * d, d),
        "time_projection.1.bias": random_array(rng, 6 * d, scale=0.1),
        "head.modulation": random_array(rng, 1, 2, d, scale=0.1),
        # Small output weights: the velocity stays near unit scale.
        "head.head.weight": random_array(rng, 4 * c, d, scale=0.5 / math.sqrt(d)),
        "head.head.bias": random_array(rng, 4 * c, scale=0.05),
    }
    for i in range(shape.layers):
        p = f"blocks.{i}."
        sd[p + "modulation"] = random_array(rng, 1, 6, d, scale=0.1)
        for part in ("self_attn", "cross_attn"):
            for n in "qkvo":
                sd[f"{p}{part}.{n}.weight"] = random_array(rng, d, d)
                sd[f"{p}{part}.{n}.bias"] = random_array(rng, d, scale=0.1)
            sd[f"{p}{part}.norm_q.weight"] = 1 + random_array(rng, d, scale=0.1)
            sd[f"{p}{part}.norm_k.weight"] = 1 + random_array(rng, d, scale=0.1)
        sd[p + "norm3.weight"] = 1 + random_array(rng, d, scale=0.1)
        sd[p + "norm3.bias"] = random_array(rng, d, scale=0.1)
        sd[p + "ffn.0.weight"] = random_array(rng, shape.ffn, d)
        sd[p + "ffn.0.bias"] = random_array(rng, shape.ffn, scale=0.1)
        sd[p + "ffn.2.weight"] = random_array(rng, d, shape.ffn)
        sd[p + "ffn.2.bias"] = random_array(rng, d, scale=0.1)
    return sd


def umt5_state_dict(rng):
    inner = UMT5_KV * UMT5_HEADS
    d = TEXT_DIM
    sd = {"shared.weight": random_array(rng, UMT5_VOCAB, d, scale=1.0),
          "encoder.final_layer_norm.weight": 1 + random_array(rng, d, scale=0.1)}
    for i in range(UMT5_LAYERS):
        p = f"encoder.block.{i}.layer."
        for n in "qkv":
            sd[f"{p}0.SelfAttention.{n}.weight"] = random_array(rng, inner, d, scale=0.5 / math.sqrt(d))
        sd[p + "0.SelfAttention.o.weight"] = random_array(rng, d, inner)
        sd[p + "0.SelfAttention.relative_attention_bias.weight"] = random_array(
            rng, UMT5_BUCKETS, UMT5_HEADS, scale=1.0)
        sd[p + "0.layer_norm.weight"] = 1 + random_array(rng, d, scale=0.1)
        sd[p + "1.DenseReluDense.wi_0.weight"] = random_array(rng, UMT5_FF, d)
        sd[p + "1.DenseReluDense.wi_1.weight"] = random_array(rng, UMT5_FF, d)
        sd[p + "1.DenseReluDense.wo.weight"] = random_array(rng, d, UMT5_FF)
        sd[p + "1.layer_norm.weight"] = 1 + random_array(rng, d, scale=0.1)
    return sd


def as_bf16(sd):
    return {k: safetensors_io.to_bf16(v) for k, v in sd.items()}


def as_fp16(sd):
    return {k: v.astype(np.float16) for k, v in sd.items()}


def _e4m3fn_magnitudes():
    """The 127 finite non-negative float8_e4m3fn values, by code 0x00..0x7E."""
    codes = np.arange(127)
    exponent, mantissa = codes >> 3, codes & 7
    return np.where(exponent == 0, mantissa / 8.0 * 2.0 ** -6,
                    (1 + mantissa / 8.0) * 2.0 ** (exponent - 7.0))


def to_fp8_e4m3fn(arr):
    """float32 -> float8_e4m3fn codes (uint8), round to nearest even,
    saturating at ±448 as torch's .to(torch.float8_e4m3fn) of a clamped
    tensor does."""
    values = _e4m3fn_magnitudes()
    a = np.asarray(arr, dtype=np.float32)
    mag = np.minimum(np.abs(a), 448.0).astype(np.float64)
    hi = np.clip(np.searchsorted(values, mag), 0, 126)
    lo = np.clip(hi - 1, 0, 126)
    d_lo, d_hi = mag - values[lo], values[hi] - mag
    pick = np.where(d_lo < d_hi, lo, np.where(d_hi < d_lo, hi, np.where(lo % 2 == 0, lo, hi)))
    pick = np.where(values[hi] == mag, hi, pick)
    return (pick | (np.signbit(a).astype(np.int64) << 7)).astype(np.uint8)


def as_scaled_fp8(sd):
    """ComfyUI's scaled fp8 layout: every Linear weight of the blocks stored
    as F8_E4M3 divided by its per-tensor `scale_weight` (F32 scalar, max|w|
    / 448), the rest bf16, and the 0-element `scaled_fp8` marker."""
    out = {}
    for k, v in sd.items():
        if k.startswith("blocks.") and k.endswith(".weight") and v.ndim == 2:
            scale = np.float32(np.abs(v).max() / 448.0)
            codes = to_fp8_e4m3fn(v / scale)
            out[k] = (codes.tobytes(), "F8_E4M3", list(v.shape))
            out[k[:-len("weight")] + "scale_weight"] = np.array(scale, dtype=np.float32)
        else:
            out[k] = safetensors_io.to_bf16(v)
    out["scaled_fp8"] = (b"", "F8_E4M3", [0])
    return out


MISSING_KEY = "blocks.1.ffn.2.weight"
WRONG_SHAPE_KEY = "blocks.0.cross_attn.k.weight"


def dit_path(models_dir, name):
    return os.path.join(models_dir, "diffusion_models", name + ".safetensors")


def write_failure_cases(models_dir, dit_f32, vae_path, rng):
    """Files a user can pick by mistake, each refused with a clear message."""
    d = SHAPE_1_3B.dim
    missing = as_bf16(dit_f32)
    del missing[MISSING_KEY]
    safetensors_io.save(dit_path(models_dir, "tiny-wan2.1-missing-key"), missing)

    wrong = as_bf16(dit_f32)
    wrong[WRONG_SHAPE_KEY] = safetensors_io.to_bf16(random_array(rng, d, 64))
    safetensors_io.save(dit_path(models_dir, "tiny-wan2.1-wrong-shape"), wrong)

    shutil.copyfile(vae_path, dit_path(models_dir, "tiny-vae-as-dit"))

    i2v = dict(dit_f32)
    i2v["patch_embedding.weight"] = random_array(rng, d, 36, 1, 2, 2, scale=0.2)
    for n, shape in (("0", [1280]), ("1", [1280, 1280]), ("3", [d, 1280]), ("4", [d])):
        i2v[f"img_emb.proj.{n}.weight"] = random_array(rng, *shape)
        i2v[f"img_emb.proj.{n}.bias"] = random_array(rng, shape[0], scale=0.1)
    safetensors_io.save(dit_path(models_dir, "tiny-wan2.1-i2v"), as_bf16(i2v))
    flf2v = dict(i2v)
    flf2v["img_emb.emb_pos"] = random_array(rng, 1, 514, 1280, scale=0.02)
    safetensors_io.save(dit_path(models_dir, "tiny-wan2.1-flf2v"), as_bf16(flf2v))

    i2v22 = dict(dit_f32)
    i2v22["patch_embedding.weight"] = random_array(rng, d, 36, 1, 2, 2, scale=0.2)
    safetensors_io.save(dit_path(models_dir, "tiny-wan2.2-i2v"), as_bf16(i2v22))

    vace = dict(dit_f32)
    vace["vace_patch_embedding.weight"] = random_array(rng, d, 96, 1, 2, 2, scale=0.2)
    safetensors_io.save(dit_path(models_dir, "tiny-wan-vace"), as_bf16(vace))

    fun = dict(dit_f32)
    fun["patch_embedding.weight"] = random_array(rng, d, 48, 1, 2, 2, scale=0.2)
    safetensors_io.save(dit_path(models_dir, "tiny-wan-fun-control"), as_bf16(fun))

    # Other families, by the marker keys their detection uses (small shapes).
    flux = {"img_in.weight": random_array(rng, 128, 64),
            "double_blocks.0.img_attn.norm.key_norm.scale": random_array(rng, 128),
            "double_blocks.0.img_attn.norm.query_norm.scale": random_array(rng, 128),
            "final_layer.linear.weight": random_array(rng, 64, 128)}
    safetensors_io.save(dit_path(models_dir, "tiny-flux"), as_bf16(flux))
    sd15 = {"model.diffusion_model.input_blocks.0.0.weight": random_array(rng, 32, 4, 3, 3),
            "model.diffusion_model.out.2.weight": random_array(rng, 4, 32, 3, 3),
            "first_stage_model.decoder.conv_in.weight": random_array(rng, 32, 4, 3, 3)}
    safetensors_io.save(dit_path(models_dir, "tiny-sd15"), as_fp16(sd15))


def write_models(models_dir, spiece_path, vae_path, vae22_path, failure_cases):
    rng = np.random.default_rng(20261127)
    for sub in ("diffusion_models", "text_encoders", "vae"):
        os.makedirs(os.path.join(models_dir, sub), exist_ok=True)

    dit_f32 = dit_state_dict(rng)
    safetensors_io.save(dit_path(models_dir, "tiny-wan2.1-t2v"), as_bf16(dit_f32))

    with open(spiece_path, "rb") as f:
        spiece = np.frombuffer(f.read(), dtype=np.uint8)
    encoder = as_bf16(umt5_state_dict(rng))
    encoder["spiece_model"] = spiece
    safetensors_io.save(os.path.join(models_dir, "text_encoders", "tiny-umt5.safetensors"), encoder)

    shutil.copyfile(vae_path, os.path.join(models_dir, "vae", "tiny-wan2.1-vae.safetensors"))
    shutil.copyfile(vae22_path, os.path.join(models_dir, "vae", "tiny-wan2.2-vae.safetensors"))

    # The other variants, each from its own seed (adding one changes no other file).
    variants = (("tiny-wan2.1-t2v-14B-fp8-scaled", SHAPE_14B, as_scaled_fp8, 21014),
                ("tiny-wan2.2-t2v-high-noise-14B-fp8-scaled", SHAPE_14B, as_scaled_fp8, 22141),
                ("tiny-wan2.2-t2v-low-noise-14B-fp8-scaled", SHAPE_14B, as_scaled_fp8, 22140),
                ("tiny-wan2.2-ti2v-5B-fp16", SHAPE_5B, as_fp16, 2205))
    for name, shape, store, seed in variants:
        sd = dit_state_dict(np.random.default_rng(seed), shape)
        safetensors_io.save(dit_path(models_dir, name), store(sd))

    if failure_cases:
        write_failure_cases(models_dir, dit_f32, vae_path, np.random.default_rng(404))


def train_tokenizer(path):
    import io
    import sentencepiece as spm

    words = ("a cat dog walks runs on the beach at sunset in snow city street night camera "
             "slowly pans over a red blue green car bird flies sky ocean waves forest tree "
             "mountain river light rain woman man child smiles looks bright colors static "
             "blurry low quality worst jpeg artifacts ugly deformed extra fingers poorly drawn "
             "hands faces overexposed subtitles style works painting picture still overall "
             "gray").split()
    rng = random.Random(20261127)
    lines = [" ".join(rng.choice(words) for _ in range(rng.randint(3, 16))) for _ in range(3000)]
    # Wan's default negative prompt is Chinese: give its characters pieces.
    lines += ["色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰",
              "最差质量，低质量，JPEG压缩残留，丑陋的，残缺的，多余的手指"] * 20
    out = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=out,
                                   model_type="unigram", vocab_size=256,
                                   normalization_rule_name="nmt_nfkc", pad_id=0, eos_id=1,
                                   unk_id=2, bos_id=-1, character_coverage=1.0,
                                   hard_vocab_limit=False, num_threads=1, minloglevel=2)
    with open(path, "wb") as f:
        f.write(out.getvalue())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models_dir", nargs="?")
    ap.add_argument("--spiece", default=os.path.join(ROOT, "data", "tiny-models", "tiny-spiece.model"))
    ap.add_argument("--vae", default=os.path.join(ROOT, "tests", "wan-vae", "data", "tiny-vae21.safetensors"))
    ap.add_argument("--vae22", default=os.path.join(ROOT, "tests", "wan-vae", "data", "tiny-vae22.safetensors"))
    ap.add_argument("--train-tokenizer", metavar="FILE")
    ap.add_argument("--failure-cases", action="store_true")
    args = ap.parse_args()
    if args.train_tokenizer:
        train_tokenizer(args.train_tokenizer)
    if args.models_dir:
        write_models(args.models_dir, args.spiece, args.vae, args.vae22, args.failure_cases)
        print(f"wrote the tiny Wan 2.1 / 2.2 model sets to {args.models_dir}")
    elif not args.train_tokenizer:
        ap.error("give MODELS_DIR (and/or --train-tokenizer FILE)")


if __name__ == "__main__":
    main()
