/* The Wan DiT's weights in every dtype its releases use, on the CPU
 * backend: the same random values (tools/make-checkpoint-writer: a value is
 * a function of seed, tensor and element, so every file holds the same
 * numbers rounded to its dtype) stored as f32, bf16, fp16, plain
 * fp8_e4m3fn and ComfyUI's scaled fp8 (F8_E4M3 Linear weights divided by a
 * per-tensor scale_weight, the 0-element scaled_fp8 marker), loaded and
 * run through one forward each. Every low-precision result must be close
 * to the f32 one, within what its rounding allows — and a scaled file read
 * without its scales is not. A full checkpoint's model.diffusion_model.
 * prefix is found. As in the real files, only the blocks' Linear
 * weights are fp8; embeddings, norms, modulation and biases stay 16-bit.
 *
 * UNETLoader's weight_dtype (fp8_e4m3fn, fp8_e5m2): the bf16 file loaded
 * with its matrices stored in fp8 holds about half the bytes, and its
 * forward is close to the f32 one within fp8's rounding while differing
 * from the bf16 one (the conversion happened). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plugins/common/weight-dtype-option.h"
#include "plugins/wan/wan-dit.h"
#include "tests/plain-test.h"
#include "tools/make-checkpoint-writer.h"

#define DIM       128
#define FFN       256
#define LAYERS    2
#define CHANNELS  16
#define TEXT_DIM  64
#define MAX_SPECS 96
#define SEED      20261127

/* A setup step that must work for the run to mean anything: TAP bail-out. */
#define MUST(cond, ...)                                                      \
  do {                                                                       \
    if (!(cond)) {                                                           \
      printf ("Bail out! %s:%d: %s: ", __FILE__, __LINE__, #cond);           \
      printf (__VA_ARGS__);                                                  \
      putchar ('\n');                                                        \
      exit (1);                                                              \
    }                                                                        \
  } while (0)

typedef enum {
  STORE_F32,
  STORE_BF16,
  STORE_F16,
  STORE_FP8,            /* blocks' Linear weights F8_E4M3, no scale; the rest bf16 */
  STORE_SCALED_FP8,     /* the same with scale_weight and the scaled_fp8 marker */
} Store;

static const char *const store_names[] = { "f32", "bf16", "fp16", "fp8_e4m3fn", "scaled fp8" };

/* Put before every key: "" for a diffusion-model file, or the
 * "model.diffusion_model." of a full checkpoint. */
static const char *key_prefix = "";

/* UNETLoader's weight_dtype for the next forward's load, as the option
 * string reaches the family; NULL: none. */
static const char *load_options = NULL;
/* The weight bytes of the last forward's model (wan_dit_weight_bytes). */
static uint64_t loaded_weight_bytes;

static size_t
add (MakeCheckpointSpec *specs, size_t n, Store store, const char *name, int ndim,
     int64_t a, int64_t b, int64_t c, int64_t d, int64_t e)
{
  const int64_t dims[5] = { a, b, c, d, e };
  MakeCheckpointSpec *s = &specs[n];
  bool block_linear = strncmp (name, "blocks.", 7) == 0 && ndim == 2;

  snprintf (s->name, sizeof s->name, "%s%s", key_prefix, name);
  switch (store)
    {
    case STORE_F32: s->dtype = RL_F32; break;
    case STORE_F16: s->dtype = RL_F16; break;
    case STORE_BF16: s->dtype = RL_BF16; break;
    case STORE_FP8:
    case STORE_SCALED_FP8: s->dtype = block_linear ? RL_F8_E4M3FN : RL_BF16; break;
    }
  s->ndim = ndim;
  for (int i = 0; i < ndim; i++)
    s->shape[i] = dims[i];
  return n + 1;
}

/* A tiny text-to-video DiT in the real key layout, in one fixed order (the
 * tensor index picks the values, so every store holds the same numbers). */
static size_t
tiny_specs (MakeCheckpointSpec *specs, Store store)
{
  static const char *const attn_parts[] = { "self_attn", "cross_attn" };
  size_t n = 0;
  char key[128];

  n = add (specs, n, store, "patch_embedding.weight", 5, DIM, CHANNELS, 1, 2, 2);
  n = add (specs, n, store, "patch_embedding.bias", 1, DIM, 0, 0, 0, 0);
  n = add (specs, n, store, "text_embedding.0.weight", 2, DIM, TEXT_DIM, 0, 0, 0);
  n = add (specs, n, store, "text_embedding.0.bias", 1, DIM, 0, 0, 0, 0);
  n = add (specs, n, store, "text_embedding.2.weight", 2, DIM, DIM, 0, 0, 0);
  n = add (specs, n, store, "text_embedding.2.bias", 1, DIM, 0, 0, 0, 0);
  n = add (specs, n, store, "time_embedding.0.weight", 2, DIM, 256, 0, 0, 0);
  n = add (specs, n, store, "time_embedding.0.bias", 1, DIM, 0, 0, 0, 0);
  n = add (specs, n, store, "time_embedding.2.weight", 2, DIM, DIM, 0, 0, 0);
  n = add (specs, n, store, "time_embedding.2.bias", 1, DIM, 0, 0, 0, 0);
  n = add (specs, n, store, "time_projection.1.weight", 2, 6 * DIM, DIM, 0, 0, 0);
  n = add (specs, n, store, "time_projection.1.bias", 1, 6 * DIM, 0, 0, 0, 0);
  n = add (specs, n, store, "head.modulation", 3, 1, 2, DIM, 0, 0);
  n = add (specs, n, store, "head.head.weight", 2, 4 * CHANNELS, DIM, 0, 0, 0);
  n = add (specs, n, store, "head.head.bias", 1, 4 * CHANNELS, 0, 0, 0, 0);
  for (int i = 0; i < LAYERS; i++)
    {
#define KEY(...) (snprintf (key, sizeof key, __VA_ARGS__), key)
      n = add (specs, n, store, KEY ("blocks.%d.modulation", i), 3, 1, 6, DIM, 0, 0);
      for (int part = 0; part < 2; part++)
        {
          for (const char *p = "qkvo"; *p; p++)
            {
              n = add (specs, n, store, KEY ("blocks.%d.%s.%c.weight", i, attn_parts[part], *p), 2,
                       DIM, DIM, 0, 0, 0);
              n = add (specs, n, store, KEY ("blocks.%d.%s.%c.bias", i, attn_parts[part], *p), 1,
                       DIM, 0, 0, 0, 0);
            }
          n = add (specs, n, store, KEY ("blocks.%d.%s.norm_q.weight", i, attn_parts[part]), 1,
                   DIM, 0, 0, 0, 0);
          n = add (specs, n, store, KEY ("blocks.%d.%s.norm_k.weight", i, attn_parts[part]), 1,
                   DIM, 0, 0, 0, 0);
        }
      n = add (specs, n, store, KEY ("blocks.%d.norm3.weight", i), 1, DIM, 0, 0, 0, 0);
      n = add (specs, n, store, KEY ("blocks.%d.norm3.bias", i), 1, DIM, 0, 0, 0, 0);
      n = add (specs, n, store, KEY ("blocks.%d.ffn.0.weight", i), 2, FFN, DIM, 0, 0, 0);
      n = add (specs, n, store, KEY ("blocks.%d.ffn.0.bias", i), 1, FFN, 0, 0, 0, 0);
      n = add (specs, n, store, KEY ("blocks.%d.ffn.2.weight", i), 2, DIM, FFN, 0, 0, 0);
      n = add (specs, n, store, KEY ("blocks.%d.ffn.2.bias", i), 1, DIM, 0, 0, 0, 0);
#undef KEY
    }
  MUST (n <= MAX_SPECS, "%zu specs", n);
  return n;
}

/* Deterministic inputs: latent [1, 16, 2, 6, 6], text [1, 8, 64], t = 700. */
static void
fill (RlTensor *t, float freq)
{
  float *p = t->data;

  for (int64_t i = 0; i < rl_tensor_numel (t); i++)
    p[i] = sinf (freq * (float) i + 0.3f);
}

/* Writes the model in `store`, loads it (the file is unlinked before the
 * forward: the mapping keeps it), runs one forward into a new f32 buffer. */
static float *
forward (Store store, bool drop_scales, int64_t *numel)
{
  MakeCheckpointSpec *specs = calloc (MAX_SPECS, sizeof *specs);
  char path[] = "/tmp/raylight-wan-dtype-XXXXXX";
  int fd = mkstemp (path);
  const RlBackend *be = rl_backend_cpu ();
  const int64_t x_shape[5] = { 1, CHANNELS, 2, 6, 6 }, ctx_shape[3] = { 1, 8, TEXT_DIM };
  const float timestep = 700.0f;
  RlContext *ctx = NULL;
  RlSafetensors *st = NULL;
  WanDitConfig config;
  WanDit *dit = NULL;
  RlTensor x = { 0 }, text = { 0 }, out = { 0 };
  size_t n = tiny_specs (specs, store);
  float *result;

  close (fd);
  MUST (make_checkpoint_write (path, specs, n, SEED,
                                     store == STORE_SCALED_FP8 ? MAKE_CHECKPOINT_SCALED_FP8 : 0,
                                     NULL, 0) == RL_OK, "%s", rl_last_error ());
  MUST (rl_safetensors_open (path, &st) == RL_OK, "%s", rl_last_error ());
  unlink (path);
  PT_CHECK (rl_safetensors_is_scaled_fp8 (st) == (store == STORE_SCALED_FP8),
            "%s: scaled fp8 detected as %d", store_names[store], rl_safetensors_is_scaled_fp8 (st));
  MUST (wan_dit_config_detect (st, &config) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (config.dim == DIM && config.num_layers == LAYERS && config.ffn_dim == FFN &&
            config.text_dim == TEXT_DIM, "%s: detected dim %d, %d layers", store_names[store],
            config.dim, config.num_layers);
  MUST (rl_weight_dtype_option_parse (load_options, &config.matrix_dtype) == RL_OK, "%s",
        rl_last_error ());
  MUST (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  MUST (wan_dit_load (be, ctx, st, &config, RL_F32, &dit) == RL_OK, "%s: %s",
              store_names[store], rl_last_error ());
  if (drop_scales)
    {
      /* What a reader that ignored scale_weight would compute. */
      for (size_t i = 0; i < n; i++)
        {
          const RlSafetensorsTensor *t = rl_safetensors_find (st, specs[i].name);
          if (t->has_scale)
            ((RlSafetensorsTensor *) t)->scale = 1.0f;
        }
      wan_dit_free (dit);
      MUST (wan_dit_load (be, ctx, st, &config, RL_F32, &dit) == RL_OK, "%s", rl_last_error ());
    }

  MUST (rl_tensor_alloc (&x, be->context_allocator (ctx), RL_F32, 5, x_shape) == RL_OK, "alloc");
  MUST (rl_tensor_alloc (&text, be->context_allocator (ctx), RL_F32, 3, ctx_shape) == RL_OK, "alloc");
  MUST (rl_tensor_alloc (&out, be->context_allocator (ctx), RL_F32, 5, x_shape) == RL_OK, "alloc");
  fill (&x, 0.37f);
  fill (&text, 0.11f);
  MUST (wan_dit_forward (dit, &x, &timestep, &text, &out) == RL_OK, "%s: %s", store_names[store],
              rl_last_error ());
  loaded_weight_bytes = wan_dit_weight_bytes (dit);
  *numel = rl_tensor_numel (&out);
  result = malloc ((size_t) *numel * sizeof *result);
  memcpy (result, out.data, (size_t) *numel * sizeof *result);

  rl_tensor_release (&out);
  rl_tensor_release (&text);
  rl_tensor_release (&x);
  wan_dit_free (dit);
  be->context_free (ctx);
  rl_safetensors_close (st);
  free (specs);
  return result;
}

static double
relative_error (const float *a, const float *ref, int64_t n)
{
  double err2 = 0, ref2 = 0;

  for (int64_t i = 0; i < n; i++)
    {
      if (!isfinite (a[i]))
        return INFINITY;
      err2 += ((double) a[i] - ref[i]) * ((double) a[i] - ref[i]);
      ref2 += (double) ref[i] * ref[i];
    }
  return sqrt (err2 / ref2);
}

static void
test_dtypes_close_to_f32 (void)
{
  /* Bounds: a few times the measured errors (bf16 8 mantissa bits, fp16
   * 11, e4m3 4), far below what a misread tensor gives (order 1). */
  static const double bounds[] = { 0, 2e-2, 3e-3, 1.2e-1, 1.2e-1 };
  int64_t n, m;
  float *ref = forward (STORE_F32, false, &n);

  for (Store store = STORE_BF16; store <= STORE_SCALED_FP8; store++)
    {
      float *got = forward (store, false, &m);
      double err = relative_error (got, ref, n);

      PT_CHECK (m == n, "output sizes");
      printf ("# %-11s vs f32: relative L2 %.3g (bound %.3g)\n", store_names[store], err, bounds[store]);
      PT_CHECK (err <= bounds[store], "%s: relative error %.3g > %.3g", store_names[store], err,
                bounds[store]);
      PT_CHECK (err > 0, "%s: exactly the f32 result; the file was not stored in %s",
                store_names[store], store_names[store]);
      free (got);
    }
  free (ref);
}

static void
test_scaled_fp8_needs_its_scales (void)
{
  int64_t n, m;
  float *ref = forward (STORE_F32, false, &n);
  float *unscaled = forward (STORE_SCALED_FP8, true, &m);
  double err = relative_error (unscaled, ref, n);

  printf ("# scaled fp8 read without scale_weight vs f32: relative L2 %.3g\n", err);
  PT_CHECK (err > 0.3, "ignoring scale_weight changed the result only by %.3g", err);
  free (unscaled);
  free (ref);
}

/* A full checkpoint's "model.diffusion_model." keys are found as ComfyUI
 * finds them (unet_prefix_from_state_dict): the same forward, bit for bit. */
static void
test_full_checkpoint_prefix (void)
{
  int64_t n, m;
  float *plain = forward (STORE_BF16, false, &n), *prefixed;

  key_prefix = "model.diffusion_model.";
  prefixed = forward (STORE_BF16, false, &m);
  key_prefix = "";
  PT_CHECK (m == n && memcmp (plain, prefixed, (size_t) n * sizeof *plain) == 0,
            "the prefixed checkpoint gives another result");
  free (prefixed);
  free (plain);
}

/* Matrices stored in fp8 on load: half the bytes, a forward within fp8's
 * rounding of the f32 one (bounds as for fp8 files, e5m2 has one mantissa
 * bit less) yet not the bf16 one. A matrix left in bf16 or converted with
 * a wrong scale breaks one of the three. */
static void
test_weight_dtype_stores_fp8 (void)
{
  static const struct { const char *options; double bound; } cases[] = {
    { "weight_dtype=fp8_e4m3fn", 1.2e-1 },
    { "weight_dtype=fp8_e4m3fn_fast", 1.2e-1 },
    { "type=x;weight_dtype=fp8_e5m2", 2.4e-1 },
  };
  int64_t n, m;
  float *ref = forward (STORE_F32, false, &n);
  float *bf16 = forward (STORE_BF16, false, &m);
  uint64_t bf16_bytes = loaded_weight_bytes;

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      load_options = cases[i].options;
      float *got = forward (STORE_BF16, false, &m);
      double err = relative_error (got, ref, n), from_bf16 = relative_error (got, bf16, n);
      double ratio = (double) loaded_weight_bytes / (double) bf16_bytes;

      load_options = NULL;
      printf ("# %s: %.0f%% of the bf16 weight bytes, relative L2 %.3g vs f32 (bound %.3g), "
              "%.3g vs bf16\n", cases[i].options, 100 * ratio, err, cases[i].bound, from_bf16);
      PT_CHECK (ratio > 0.5 && ratio < 0.6, "%s: %.3f of the bf16 bytes", cases[i].options, ratio);
      PT_CHECK (err <= cases[i].bound, "%s: relative error %.3g > %.3g", cases[i].options, err,
                cases[i].bound);
      PT_CHECK (from_bf16 > 1e-3, "%s: the bf16 result (%.3g); matrices were not converted",
                cases[i].options, from_bf16);
      free (got);
    }
  free (bf16);
  free (ref);
}

static void
test_weight_dtype_option (void)
{
  RlDType d = RL_F32;

  PT_CHECK (rl_weight_dtype_option_parse (NULL, &d) == RL_OK && d == RL_DTYPE_INVALID, "NULL options");
  PT_CHECK (rl_weight_dtype_option_parse ("weight_dtype=default", &d) == RL_OK && d == RL_DTYPE_INVALID,
            "default");
  PT_CHECK (rl_weight_dtype_option_parse ("weight_dtype=fp8_e5m2", &d) == RL_OK && d == RL_F8_E5M2,
            "fp8_e5m2");
  PT_CHECK (rl_weight_dtype_option_parse ("a=1;weight_dtype=fp8_e4m3fn_fast;b=2", &d) == RL_OK
            && d == RL_F8_E4M3FN, "fp8_e4m3fn_fast between other options");
  PT_CHECK (rl_weight_dtype_option_parse ("old_weight_dtype=fp8_e5m2", &d) == RL_OK && d == RL_DTYPE_INVALID,
            "a key that only ends in weight_dtype");
  PT_CHECK (rl_weight_dtype_option_parse ("weight_dtype=fp8_e4m3", &d) == RL_E_INVALID_ARG
            && strstr (rl_last_error (), "'fp8_e4m3'") != NULL, "an unknown value is refused by name");
}

int
main (void)
{
  PT_RUN (test_dtypes_close_to_f32);
  PT_RUN (test_scaled_fp8_needs_its_scales);
  PT_RUN (test_full_checkpoint_prefix);
  PT_RUN (test_weight_dtype_option);
  PT_RUN (test_weight_dtype_stores_fp8);
  return pt_finish ();
}
