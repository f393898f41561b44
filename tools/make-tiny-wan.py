#!/usr/bin/env python3
"""Writes a tiny Wan 2.1 text-to-video model set, in ComfyUI's folder layout,
into MODELS_DIR, for CI and the default job on machines without real weights:

  diffusion_models/tiny-wan2.1-t2v.safetensors  DiT, real key layout, dim 256
  text_encoders/tiny-umt5.safetensors           UMT5 encoder, d_model 128, with
                                                the tokenizer as `spiece_model`
  vae/tiny-wan2.1-vae.safetensors               the tiny 2.1 VAE of tests/wan-vae

Weights are random (fixed seed, so the files are identical on every run) and
scaled so activations stay finite. Run with the project's .venv python:

  .venv/bin/python tools/make-tiny-wan.py MODELS_DIR

`--failure-cases` adds broken files for tests: diffusion_models/
tiny-wan2.1-missing-key.safetensors (the DiT without blocks.1.ffn.2.weight)
and diffusion_models/tiny-vae-as-dit.safetensors (the VAE in the wrong
folder). `--train-tokenizer FILE` retrains the committed SentencePiece model
(data/tiny-models/tiny-spiece.model); it needs the sentencepiece package.
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
DIT_DIM = 256           # two heads of Wan's 128
DIT_FFN = 512
DIT_LAYERS = 2
LATENT_CHANNELS = 16
UMT5_VOCAB = 256        # at least the tokenizer's piece count
UMT5_HEADS = 4
UMT5_KV = 32
UMT5_FF = 256
UMT5_LAYERS = 2
UMT5_BUCKETS = 32


def random_array(rng, *shape, scale=None):
    scale = scale if scale is not None else 1.0 / math.sqrt(shape[-1])
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def dit_state_dict(rng):
    d, t = DIT_DIM, TEXT_DIM
    sd = {
        "patch_embedding.weight": random_array(rng, d, LATENT_CHANNELS, 1, 2, 2, scale=0.2),
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
        "head.head.weight": random_array(rng, 4 * LATENT_CHANNELS, d, scale=0.5 / math.sqrt(d)),
        "head.head.bias": random_array(rng, 4 * LATENT_CHANNELS, scale=0.05),
    }
    for i in range(DIT_LAYERS):
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
        sd[p + "ffn.0.weight"] = random_array(rng, DIT_FFN, d)
        sd[p + "ffn.0.bias"] = random_array(rng, DIT_FFN, scale=0.1)
        sd[p + "ffn.2.weight"] = random_array(rng, d, DIT_FFN)
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


MISSING_KEY = "blocks.1.ffn.2.weight"


def write_models(models_dir, spiece_path, vae_path, failure_cases):
    rng = np.random.default_rng(20261127)
    for sub in ("diffusion_models", "text_encoders", "vae"):
        os.makedirs(os.path.join(models_dir, sub), exist_ok=True)

    dit = as_bf16(dit_state_dict(rng))
    safetensors_io.save(os.path.join(models_dir, "diffusion_models", "tiny-wan2.1-t2v.safetensors"), dit)
    if failure_cases:
        del dit[MISSING_KEY]
        safetensors_io.save(os.path.join(models_dir, "diffusion_models",
                                         "tiny-wan2.1-missing-key.safetensors"), dit)
        shutil.copyfile(vae_path, os.path.join(models_dir, "diffusion_models",
                                               "tiny-vae-as-dit.safetensors"))

    with open(spiece_path, "rb") as f:
        spiece = np.frombuffer(f.read(), dtype=np.uint8)
    encoder = as_bf16(umt5_state_dict(rng))
    encoder["spiece_model"] = spiece
    safetensors_io.save(os.path.join(models_dir, "text_encoders", "tiny-umt5.safetensors"), encoder)

    shutil.copyfile(vae_path, os.path.join(models_dir, "vae", "tiny-wan2.1-vae.safetensors"))


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
    ap.add_argument("--train-tokenizer", metavar="FILE")
    ap.add_argument("--failure-cases", action="store_true")
    args = ap.parse_args()
    if args.train_tokenizer:
        train_tokenizer(args.train_tokenizer)
    if args.models_dir:
        write_models(args.models_dir, args.spiece, args.vae, args.failure_cases)
        print(f"wrote the tiny Wan 2.1 model set to {args.models_dir}")
    elif not args.train_tokenizer:
        ap.error("give MODELS_DIR (and/or --train-tokenizer FILE)")


if __name__ == "__main__":
    main()
