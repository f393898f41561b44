/* The Wan DiT on the CPU backend: one forward of a tiny model (real key
 * layout, random bf16 weights) against the PyTorch reference's output
 * (tests/reference/wan_dit.py make-tiny), and every way a checkpoint can
 * be wrong. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugins/wan/wan-dit.h"
#include "tests/plain-test.h"
#include "tools/make-checkpoint-writer.h"

static char fixture_dir[1024];

static const char *
fixture (const char *name)
{
  static char path[1200];
  snprintf (path, sizeof path, "%s/%s", fixture_dir, name);
  return path;
}

static void
test_forward_matches_reference (void)
{
  const RlBackend *be = rl_backend_cpu ();
  RlContext *ctx = NULL;
  RlSafetensors *ckpt = NULL, *inputs = NULL, *expected = NULL;
  WanDitConfig config;
  WanDit *dit = NULL;
  RlTensor x, context, out, want;
  double err2 = 0, ref2 = 0, max_abs = 0;

  PT_REQUIRE (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-dit.safetensors"), &ckpt) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-dit-inputs.safetensors"), &inputs) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-dit-expected.safetensors"), &expected) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (wan_dit_config_detect (ckpt, &config) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (config.dim == 256 && config.num_layers == 2 && config.num_heads == 2 &&
            config.ffn_dim == 512 && config.in_dim == 16 && config.out_dim == 16,
            "detected dim %d layers %d heads %d", config.dim, config.num_layers, config.num_heads);
  PT_REQUIRE (wan_dit_load (be, ctx, ckpt, &config, RL_F32, &dit) == RL_OK, "%s", rl_last_error ());

  rl_safetensors_view (inputs, rl_safetensors_find (inputs, "x"), &x);
  rl_safetensors_view (inputs, rl_safetensors_find (inputs, "context"), &context);
  rl_safetensors_view (expected, rl_safetensors_find (expected, "out"), &want);
  PT_REQUIRE (rl_tensor_alloc (&out, be->context_allocator (ctx), RL_F32, 5, want.shape) == RL_OK, "alloc");
  /* Poison: every element must be written. */
  for (int64_t i = 0; i < rl_tensor_numel (&out); i++)
    ((float *) out.data)[i] = NAN;

  PT_REQUIRE (wan_dit_forward (dit, &x, rl_safetensors_find (inputs, "timestep")->data, &context, &out) == RL_OK,
              "%s", rl_last_error ());
  for (int64_t i = 0; i < rl_tensor_numel (&out); i++)
    {
      double a = ((float *) out.data)[i], b = ((const float *) want.data)[i];
      err2 += (a - b) * (a - b);
      ref2 += b * b;
      if (!(fabs (a - b) <= max_abs))
        max_abs = isnan (a) ? INFINITY : fabs (a - b);
    }
  printf ("# tiny Wan DiT vs PyTorch fp32: rel L2 %.3g, max abs %.3g\n", sqrt (err2 / ref2), max_abs);
  PT_CHECK (sqrt (err2 / ref2) <= 1e-4, "relative error %.3g > 1e-4", sqrt (err2 / ref2));
  PT_CHECK (isfinite (max_abs), "output has NaN (unwritten elements)");

  rl_tensor_release (&out);
  wan_dit_free (dit);
  rl_safetensors_close (expected);
  rl_safetensors_close (inputs);
  rl_safetensors_close (ckpt);
  be->context_free (ctx);
}

/* ---- checkpoints that are wrong, written with make-checkpoint */

#define MAX_SPECS 128

static size_t
add_spec (MakeCheckpointSpec *specs, size_t n, const char *name, int ndim,
          int64_t a, int64_t b, int64_t c, int64_t d, int64_t e)
{
  const int64_t dims[5] = { a, b, c, d, e };
  MakeCheckpointSpec *s = &specs[n];

  snprintf (s->name, sizeof s->name, "%s", name);
  s->dtype = RL_BF16;
  s->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    s->shape[i] = dims[i];
  return n + 1;
}

/* A tiny text-to-video Wan in the real key layout: dim 128, 1 block. */
static size_t
tiny_wan_specs (MakeCheckpointSpec *specs)
{
  const int64_t dim = 128, ffn = 256;
  size_t n = 0;
  char key[128];

  n = add_spec (specs, n, "patch_embedding.weight", 5, dim, 16, 1, 2, 2);
  n = add_spec (specs, n, "patch_embedding.bias", 1, dim, 0, 0, 0, 0);
  n = add_spec (specs, n, "text_embedding.0.weight", 2, dim, 4096, 0, 0, 0);
  n = add_spec (specs, n, "text_embedding.0.bias", 1, dim, 0, 0, 0, 0);
  n = add_spec (specs, n, "text_embedding.2.weight", 2, dim, dim, 0, 0, 0);
  n = add_spec (specs, n, "text_embedding.2.bias", 1, dim, 0, 0, 0, 0);
  n = add_spec (specs, n, "time_embedding.0.weight", 2, dim, 256, 0, 0, 0);
  n = add_spec (specs, n, "time_embedding.0.bias", 1, dim, 0, 0, 0, 0);
  n = add_spec (specs, n, "time_embedding.2.weight", 2, dim, dim, 0, 0, 0);
  n = add_spec (specs, n, "time_embedding.2.bias", 1, dim, 0, 0, 0, 0);
  n = add_spec (specs, n, "time_projection.1.weight", 2, 6 * dim, dim, 0, 0, 0);
  n = add_spec (specs, n, "time_projection.1.bias", 1, 6 * dim, 0, 0, 0, 0);
  n = add_spec (specs, n, "head.modulation", 3, 1, 2, dim, 0, 0);
  n = add_spec (specs, n, "head.head.weight", 2, 64, dim, 0, 0, 0);
  n = add_spec (specs, n, "head.head.bias", 1, 64, 0, 0, 0, 0);
  n = add_spec (specs, n, "blocks.0.modulation", 3, 1, 6, dim, 0, 0);
  for (int part = 0; part < 2; part++)
    {
      const char *attn = part ? "cross_attn" : "self_attn";
      for (const char *p = "qkvo"; *p; p++)
        {
          snprintf (key, sizeof key, "blocks.0.%s.%c.weight", attn, *p);
          n = add_spec (specs, n, key, 2, dim, dim, 0, 0, 0);
          snprintf (key, sizeof key, "blocks.0.%s.%c.bias", attn, *p);
          n = add_spec (specs, n, key, 1, dim, 0, 0, 0, 0);
        }
      snprintf (key, sizeof key, "blocks.0.%s.norm_q.weight", attn);
      n = add_spec (specs, n, key, 1, dim, 0, 0, 0, 0);
      snprintf (key, sizeof key, "blocks.0.%s.norm_k.weight", attn);
      n = add_spec (specs, n, key, 1, dim, 0, 0, 0, 0);
    }
  n = add_spec (specs, n, "blocks.0.norm3.weight", 1, dim, 0, 0, 0, 0);
  n = add_spec (specs, n, "blocks.0.norm3.bias", 1, dim, 0, 0, 0, 0);
  n = add_spec (specs, n, "blocks.0.ffn.0.weight", 2, ffn, dim, 0, 0, 0);
  n = add_spec (specs, n, "blocks.0.ffn.0.bias", 1, ffn, 0, 0, 0, 0);
  n = add_spec (specs, n, "blocks.0.ffn.2.weight", 2, dim, ffn, 0, 0, 0);
  n = add_spec (specs, n, "blocks.0.ffn.2.bias", 1, dim, 0, 0, 0, 0);
  return n;
}

static size_t
remove_spec (MakeCheckpointSpec *specs, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (specs[i].name, name) == 0)
      {
        memmove (&specs[i], &specs[i + 1], (n - i - 1) * sizeof *specs);
        return n - 1;
      }
  return n;
}

static MakeCheckpointSpec *
find_spec (MakeCheckpointSpec *specs, size_t n, const char *name)
{
  for (size_t i = 0; i < n; i++)
    if (strcmp (specs[i].name, name) == 0)
      return &specs[i];
  return NULL;
}

/* Writes `specs`, then detects and loads; returns the first failure's
 * status with its message in `message`. */
static RlStatus
try_load (const MakeCheckpointSpec *specs, size_t n, char *message, size_t size)
{
  char path[] = "/tmp/raylight-wan-XXXXXX";
  int fd = mkstemp (path);
  const RlBackend *be = rl_backend_cpu ();
  RlContext *ctx = NULL;
  RlSafetensors *st = NULL;
  WanDitConfig config;
  WanDit *dit = NULL;
  RlStatus s;

  close (fd);
  s = make_checkpoint_write (path, specs, n, 7, 0, NULL, 0);
  if (s == RL_OK) s = rl_safetensors_open (path, &st);
  if (s == RL_OK) s = wan_dit_config_detect (st, &config);
  if (s == RL_OK) s = be->context_new (0, &ctx);
  if (s == RL_OK) s = wan_dit_load (be, ctx, st, &config, RL_F32, &dit);
  snprintf (message, size, "%s", s < 0 ? rl_last_error () : "");
  wan_dit_free (dit);
  be->context_free (ctx);
  rl_safetensors_close (st);
  unlink (path);
  return s;
}

static void
test_bad_checkpoints (void)
{
  MakeCheckpointSpec *specs = calloc (MAX_SPECS, sizeof *specs);
  char msg[1024];
  size_t n;

  n = tiny_wan_specs (specs);
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_OK, "the intact tiny model loads: %s", msg);

  n = remove_spec (specs, n, "blocks.0.ffn.2.bias");
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, "blocks.0.ffn.2.bias"),
            "missing key named: %s", msg);

  n = tiny_wan_specs (specs);
  find_spec (specs, n, "blocks.0.cross_attn.k.weight")->shape[1] = 64;
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_FORMAT &&
            strstr (msg, "blocks.0.cross_attn.k.weight") && strstr (msg, "[128, 64]") &&
            strstr (msg, "expected [128, 128]"),
            "wrong shape named with both shapes: %s", msg);

  n = tiny_wan_specs (specs);
  n = add_spec (specs, n, "img_emb.proj.0.bias", 1, 1280, 0, 0, 0, 0);
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_NOT_SUPPORTED && strstr (msg, "image-to-video"),
            "i2v refused clearly: %s", msg);

  n = tiny_wan_specs (specs);
  find_spec (specs, n, "patch_embedding.weight")->shape[1] = 36;
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_NOT_SUPPORTED && strstr (msg, "36 input"),
            "Wan2.2 I2V refused clearly: %s", msg);

  /* Every other Wan variant, by the marker key ComfyUI's detection uses. */
  {
    static const struct { const char *key; const char *named; } variants[] = {
      { "vace_patch_embedding.weight", "VACE" },
      { "control_adapter.conv.weight", "camera-control" },
      { "casual_audio_encoder.encoder.final_linear.weight", "S2V" },
      { "audio_proj.audio_proj_glob_1.layer.bias", "HuMo" },
      { "face_adapter.fuser_blocks.0.k_norm.weight", "Animate" },
      { "img_emb.emb_pos", "first-last-frame" },
      { "ref_conv.weight", "reference image" },
    };
    for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++)
      {
        n = tiny_wan_specs (specs);
        n = add_spec (specs, n, variants[v].key, 1, 4, 0, 0, 0, 0);
        PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_NOT_SUPPORTED &&
                  strstr (msg, variants[v].named) && strstr (msg, "text-to-video"),
                  "%s refused naming %s: %s", variants[v].key, variants[v].named, msg);
      }
  }

  /* 48 input channels with 16 out is Fun control, not the 5B. */
  n = tiny_wan_specs (specs);
  find_spec (specs, n, "patch_embedding.weight")->shape[1] = 48;
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_NOT_SUPPORTED && strstr (msg, "Fun control"),
            "Fun control refused clearly: %s", msg);

  /* Other families' files, named by what they look like. */
  {
    static const struct { const char *key; const char *named; } families[] = {
      { "double_blocks.0.img_attn.norm.key_norm.scale", "Flux" },
      { "model.diffusion_model.input_blocks.0.0.weight", "Stable Diffusion UNet" },
      { "joint_blocks.0.context_block.attn.qkv.weight", "Stable Diffusion 3" },
      { "txt_norm.weight", "Qwen-Image" },
      { "txt_in.individual_token_refiner.blocks.0.norm1.weight", "HunyuanVideo" },
      { "condition_embedder.time_embedder.linear_1.weight", "diffusers layout" },
      { "encoder.block.0.layer.0.SelfAttention.q.weight", "text encoder" },
    };
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
      {
        n = add_spec (specs, 0, families[f].key, 2, 8, 8, 0, 0, 0);
        PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, families[f].named) &&
                  strstr (msg, "not a Wan diffusion model"), "%s named as %s: %s", families[f].key,
                  families[f].named, msg);
      }
  }

  n = 0;
  n = add_spec (specs, n, "decoder.conv1.weight", 5, 384, 16, 3, 3, 3);
  n = add_spec (specs, n, "encoder.conv1.weight", 5, 96, 3, 3, 3, 3);
  PT_CHECK (try_load (specs, n, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, "VAE"),
            "other family named: %s", msg);
  free (specs);
}

int
main (int argc, char **argv)
{
  snprintf (fixture_dir, sizeof fixture_dir, "%s/tests/wan/data",
            getenv ("RAYLIGHT_SOURCE_DIR") ? getenv ("RAYLIGHT_SOURCE_DIR") : ".");
  PT_RUN (test_forward_matches_reference);
  PT_RUN (test_bad_checkpoints);
  return pt_finish ();
}
