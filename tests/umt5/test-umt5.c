/* The UMT5 encoder on the CPU backend: a tiny model (real key layout,
 * random weights) against the PyTorch reference's outputs
 * (tests/reference/umt5.py make-tiny) in bf16, f32 and scaled fp8, the
 * relative-position buckets against transformers' values, properties of
 * padding on fresh random inputs, and every way a checkpoint or an input
 * can be wrong. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plugins/wan/umt5-encoder.h"
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

static const void *
io_data (const RlSafetensors *io, const char *name, int64_t *numel)
{
  const RlSafetensorsTensor *t = rl_safetensors_find (io, name);

  if (t == NULL)
    return NULL;
  if (numel)
    *numel = t->numel;
  return t->data;
}

/* ------------------------------------------------- relative buckets */

static void
test_relative_bucket_known_values (void)
{
  /* transformers' _relative_position_bucket(bidirectional, 32, 128) in
   * torch float32, printed by umt5.py make-tiny. */
  static const int known[][2] = {
    { -200, 15 }, { -128, 15 }, { -127, 15 }, { -64, 14 }, { -63, 13 }, { -32, 12 }, { -31, 11 },
    { -16, 10 }, { -15, 9 }, { -8, 8 }, { -7, 7 }, { -1, 1 }, { 0, 0 }, { 1, 17 }, { 7, 23 },
    { 8, 24 }, { 15, 25 }, { 16, 26 }, { 31, 27 }, { 32, 28 }, { 63, 29 }, { 64, 30 },
    { 127, 31 }, { 128, 31 }, { 200, 31 },
  };
  const char *tables[] = { "bucket_cpu", "bucket_cuda" };
  RlSafetensors *io = NULL;
  int64_t n = 0;
  const int32_t *rel;

  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    {
      int got = umt5_relative_bucket (known[i][0], 32, 128);
      PT_CHECK (got == known[i][1], "bucket(%d) = %d, transformers gives %d", known[i][0], got, known[i][1]);
    }
  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-umt5-io.safetensors"), &io) == RL_OK, "%s", rl_last_error ());
  rel = io_data (io, "bucket_rel", &n);
  PT_REQUIRE (rel != NULL && n == 601, "fixture lacks bucket_rel");
  for (size_t t = 0; t < 2; t++)
    {
      const int32_t *want = io_data (io, tables[t], NULL);
      int wrong = 0;
      if (want == NULL)
        continue;
      for (int64_t i = 0; i < n; i++)
        if (umt5_relative_bucket (rel[i], 32, 128) != want[i] && wrong++ < 5)
          PT_CHECK (0, "bucket(%d) = %d, torch (%s) gives %d", rel[i],
                    umt5_relative_bucket (rel[i], 32, 128), tables[t], want[i]);
      printf ("# %s: %lld distances, %d differ\n", tables[t], (long long) n, wrong);
    }
  rl_safetensors_close (io);
}

/* ------------------------------------------------ tiny model vs torch */

typedef struct {
  double rel;
  double max_abs;
  int    nonzero_padding;   /* padding rows with a nonzero element */
} Comparison;

/* Encodes ids/mask (int32 in the fixture) with `st` and compares with
 * `want`; the output is poisoned with NaN first. */
static RlStatus
encode_and_compare (RlSafetensors *st, const RlSafetensors *io, const char *ids_name,
                    const char *mask_name, const char *want_name, Comparison *cmp)
{
  const RlBackend *be = rl_backend_cpu ();
  const RlSafetensorsTensor *ids_t = rl_safetensors_find (io, ids_name);
  const int32_t *mask32 = io_data (io, mask_name, NULL);
  const float *want = io_data (io, want_name, NULL);
  RlContext *ctx = NULL;
  Umt5Config config;
  Umt5Encoder *enc = NULL;
  RlTensor out = { 0 };
  uint8_t *mask = NULL;
  int64_t B, L, D;
  double err2 = 0, ref2 = 0;
  RlStatus s;

  memset (cmp, 0, sizeof *cmp);
  if (ids_t == NULL || mask32 == NULL || want == NULL)
    return rl_set_error (RL_E_NOT_FOUND, "fixture lacks %s, %s or %s", ids_name, mask_name, want_name);
  B = ids_t->shape[0];
  L = ids_t->shape[1];
  s = umt5_config_detect (st, &config);
  if (s == RL_OK) s = be->context_new (0, &ctx);
  if (s == RL_OK) s = umt5_load (be, ctx, st, &config, &enc);
  if (s < 0)
    goto out;
  D = config.d_model;
  mask = malloc ((size_t) (B * L));
  for (int64_t i = 0; i < B * L; i++)
    mask[i] = (uint8_t) mask32[i];
  {
    const int64_t shape[3] = { B, L, D };
    s = rl_tensor_alloc (&out, be->context_allocator (ctx), RL_F32, 3, shape);
  }
  if (s < 0)
    goto out;
  for (int64_t i = 0; i < B * L * D; i++)
    ((float *) out.data)[i] = NAN;
  s = umt5_encode (enc, ids_t->data, mask, B, L, &out);
  if (s < 0)
    goto out;
  for (int64_t i = 0; i < B * L * D; i++)
    {
      double a = ((float *) out.data)[i], b = want[i];
      err2 += (a - b) * (a - b);
      ref2 += b * b;
      if (!(fabs (a - b) <= cmp->max_abs))
        cmp->max_abs = isnan (a) ? INFINITY : fabs (a - b);
    }
  for (int64_t row = 0; row < B * L; row++)
    if (!mask[row])
      for (int64_t j = 0; j < D; j++)
        if (((float *) out.data)[row * D + j] != 0.0f)
          {
            cmp->nonzero_padding++;
            break;
          }
  cmp->rel = isfinite (cmp->max_abs) ? sqrt (err2 / ref2) : INFINITY;

out:
  free (mask);
  rl_tensor_release (&out);
  umt5_free (enc);
  be->context_free (ctx);
  return s;
}

static void
check_fixture (RlSafetensors *st, const char *label, const char *suffix)
{
  static const char *const cases[][2] = { { "ids", "mask" }, { "ids_long", "mask_long" } };
  RlSafetensors *io = NULL;

  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-umt5-io.safetensors"), &io) == RL_OK, "%s", rl_last_error ());
  for (size_t c = 0; c < 2; c++)
    {
      char want[64];
      Comparison cmp;
      RlStatus s;

      snprintf (want, sizeof want, "%s%s", c ? "out_long" : "out", suffix);
      s = encode_and_compare (st, io, cases[c][0], cases[c][1], want, &cmp);
      PT_CHECK (s == RL_OK, "%s %s: %s", label, want, rl_last_error ());
      if (s < 0)
        continue;
      printf ("# tiny UMT5 %s (%s) vs PyTorch fp32: rel L2 %.3g, max abs %.3g\n", label, cases[c][0],
              cmp.rel, cmp.max_abs);
      PT_CHECK (cmp.rel <= 1e-4, "%s %s: relative error %.3g > 1e-4", label, cases[c][0], cmp.rel);
      PT_CHECK (isfinite (cmp.max_abs), "%s %s: NaN in the output (unwritten elements)", label, cases[c][0]);
      PT_CHECK (cmp.nonzero_padding == 0, "%s %s: %d padding rows are not zero", label, cases[c][0],
                cmp.nonzero_padding);
    }
  rl_safetensors_close (io);
}

static void
test_tiny_bf16_matches_reference (void)
{
  RlSafetensors *st = NULL;
  Umt5Config config;

  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-umt5.safetensors"), &st) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (umt5_config_detect (st, &config) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (config.d_model == 128 && config.d_kv == 32 && config.num_heads == 4 && config.d_ff == 256 &&
            config.num_layers == 3 && config.vocab == 300 && config.num_buckets == 32,
            "detected d_model %d d_kv %d heads %d d_ff %d layers %d vocab %d buckets %d", config.d_model,
            config.d_kv, config.num_heads, config.d_ff, config.num_layers, config.vocab, config.num_buckets);
  check_fixture (st, "bf16", "");
  rl_safetensors_close (st);
}

static void
test_tiny_fp8_scaled_matches_reference (void)
{
  RlSafetensors *st = NULL;

  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-umt5-fp8.safetensors"), &st) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (rl_safetensors_is_scaled_fp8 (st), "the fixture is a scaled fp8 file");
  check_fixture (st, "scaled fp8", "_fp8");
  rl_safetensors_close (st);
}

/* ComfyUI name → original Wan t5.py name (Umt5Config's naming table, written
 * out independently here), or the name itself when `to_wan` is false. */
static const char *
renamed (const char *name, bool to_wan, char *buf, size_t size)
{
  static const char *const map[][2] = {
    { "layer.0.SelfAttention.q.weight", "attn.q.weight" },
    { "layer.0.SelfAttention.k.weight", "attn.k.weight" },
    { "layer.0.SelfAttention.v.weight", "attn.v.weight" },
    { "layer.0.SelfAttention.o.weight", "attn.o.weight" },
    { "layer.0.SelfAttention.relative_attention_bias.weight", "pos_embedding.embedding.weight" },
    { "layer.0.layer_norm.weight", "norm1.weight" },
    { "layer.1.DenseReluDense.wi_0.weight", "ffn.gate.0.weight" },
    { "layer.1.DenseReluDense.wi_1.weight", "ffn.fc1.weight" },
    { "layer.1.DenseReluDense.wo.weight", "ffn.fc2.weight" },
    { "layer.1.layer_norm.weight", "norm2.weight" },
  };
  int block, used = 0;

  if (!to_wan)
    return name;
  if (strcmp (name, "shared.weight") == 0)
    return "token_embedding.weight";
  if (strcmp (name, "encoder.final_layer_norm.weight") == 0)
    return "norm.weight";
  if (sscanf (name, "encoder.block.%d.%n", &block, &used) == 1 && used > 0)
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
      if (strcmp (name + used, map[i][0]) == 0)
        {
          snprintf (buf, size, "blocks.%d.%s", block, map[i][1]);
          return buf;
        }
  return name;
}

/* The bf16 fixture rewritten in memory with f32 weights (exact), and
 * optionally in the original Wan naming, so those paths meet the same
 * expected output. */
static unsigned char *
f32_copy (const RlSafetensors *src, bool to_wan, size_t *size)
{
  char name_buf[256];
  size_t n = rl_safetensors_count (src), header_cap = 64 + n * 256, data_size = 0, hn = 0, offset = 0;
  char *header = malloc (header_cap);
  unsigned char *file;

  for (size_t i = 0; i < n; i++)
    {
      const RlSafetensorsTensor *t = rl_safetensors_tensor_at (src, i);
      data_size += t->dtype == RL_BF16 ? t->nbytes * 2 : t->nbytes;
    }
  hn += snprintf (header + hn, header_cap - hn, "{");
  for (size_t i = 0; i < n; i++)
    {
      const RlSafetensorsTensor *t = rl_safetensors_tensor_at (src, i);
      size_t bytes = t->dtype == RL_BF16 ? t->nbytes * 2 : t->nbytes;
      hn += snprintf (header + hn, header_cap - hn, "%s\"%s\":{\"dtype\":\"%s\",\"shape\":[", i ? "," : "",
                      renamed (t->name, to_wan, name_buf, sizeof name_buf), t->dtype == RL_BF16 ? "F32" : rl_dtype_safetensors_name (t->dtype));
      for (int d = 0; d < t->ndim; d++)
        hn += snprintf (header + hn, header_cap - hn, d ? ",%lld" : "%lld", (long long) t->shape[d]);
      hn += snprintf (header + hn, header_cap - hn, "],\"data_offsets\":[%zu,%zu]}", offset, offset + bytes);
      offset += bytes;
    }
  hn += snprintf (header + hn, header_cap - hn, "}");
  while (hn % 8)
    header[hn++] = ' ';
  *size = 8 + hn + data_size;
  file = malloc (*size);
  for (int b = 0; b < 8; b++)
    file[b] = (unsigned char) ((uint64_t) hn >> (8 * b));
  memcpy (file + 8, header, hn);
  offset = 8 + hn;
  for (size_t i = 0; i < n; i++)
    {
      const RlSafetensorsTensor *t = rl_safetensors_tensor_at (src, i);
      if (t->dtype == RL_BF16)
        for (int64_t j = 0; j < t->numel; j++)
          {
            uint32_t bits = (uint32_t) ((const uint16_t *) t->data)[j] << 16;
            memcpy (file + offset + 4 * j, &bits, 4);
          }
      else
        memcpy (file + offset, t->data, t->nbytes);
      offset += t->dtype == RL_BF16 ? t->nbytes * 2 : t->nbytes;
    }
  free (header);
  return file;
}

static void
check_f32_copy (bool to_wan)
{
  const char *label = to_wan ? "f32, Wan naming" : "f32";
  RlSafetensors *bf16 = NULL, *st = NULL;
  unsigned char *file;
  size_t size;
  Umt5Config config;

  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-umt5.safetensors"), &bf16) == RL_OK, "%s", rl_last_error ());
  file = f32_copy (bf16, to_wan, &size);
  rl_safetensors_close (bf16);
  PT_CHECK (rl_safetensors_open_memory (file, size, label, &st) == RL_OK, "%s", rl_last_error ());
  if (st != NULL)
    {
      PT_CHECK (rl_safetensors_find (st, to_wan ? "token_embedding.weight" : "shared.weight")->dtype == RL_F32,
                "weights rewritten as f32");
      PT_CHECK (umt5_config_detect (st, &config) == RL_OK &&
                config.naming == (to_wan ? UMT5_NAMING_WAN : UMT5_NAMING_HF) && config.num_layers == 3 &&
                config.num_heads == 4, "%s detected: %s", label, rl_last_error ());
      check_fixture (st, label, "");
    }
  rl_safetensors_close (st);
  free (file);
}

static void
test_tiny_f32_weights_match_reference (void)
{
  check_f32_copy (false);
}

static void
test_tiny_wan_naming_matches_reference (void)
{
  check_f32_copy (true);
}

/* ------------------------------------------ properties on random input */

/* Fresh random rows each run: encoding them together equals encoding each
 * alone, and ids at padding positions change nothing. */
static void
test_rows_independent_and_padding_ignored (void)
{
  const RlBackend *be = rl_backend_cpu ();
  unsigned seed = (unsigned) time (NULL);
  RlSafetensors *st = NULL;
  RlContext *ctx = NULL;
  Umt5Config config;
  Umt5Encoder *enc = NULL;
  enum { B = 3 };
  int64_t L, D;
  int32_t *ids, *ids2;
  uint8_t *mask;
  RlTensor all = { 0 }, one = { 0 }, repadded = { 0 };
  double max_row = 0, max_pad = 0, scale = 0;

  srand (seed);
  printf ("# seed %u\n", seed);
  L = 12 + rand () % 30;
  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-umt5.safetensors"), &st) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (umt5_config_detect (st, &config) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (umt5_load (be, ctx, st, &config, &enc) == RL_OK, "%s", rl_last_error ());
  D = config.d_model;
  ids = malloc (sizeof (int32_t) * B * (size_t) L);
  ids2 = malloc (sizeof (int32_t) * B * (size_t) L);
  mask = malloc (B * (size_t) L);
  for (int b = 0; b < B; b++)
    {
      int64_t tokens = 1 + rand () % L;   /* tokens + EOS, then padding */
      for (int64_t j = 0; j < L; j++)
        {
          ids[b * L + j] = j + 1 < tokens ? 2 + rand () % (config.vocab - 2) : j + 1 == tokens ? UMT5_EOS_ID : UMT5_PAD_ID;
          mask[b * L + j] = j < tokens;
          ids2[b * L + j] = j < tokens ? ids[b * L + j] : rand () % config.vocab;
        }
    }
  {
    const int64_t shape_all[3] = { B, L, D }, shape_one[3] = { 1, L, D };
    rl_tensor_alloc (&all, be->context_allocator (ctx), RL_F32, 3, shape_all);
    rl_tensor_alloc (&repadded, be->context_allocator (ctx), RL_F32, 3, shape_all);
    rl_tensor_alloc (&one, be->context_allocator (ctx), RL_F32, 3, shape_one);
  }
  PT_CHECK (umt5_encode (enc, ids, mask, B, L, &all) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (umt5_encode (enc, ids2, mask, B, L, &repadded) == RL_OK, "%s", rl_last_error ());
  for (int b = 0; b < B; b++)
    {
      PT_CHECK (umt5_encode (enc, ids + b * L, mask + b * L, 1, L, &one) == RL_OK, "%s", rl_last_error ());
      for (int64_t i = 0; i < L * D; i++)
        {
          double a = ((float *) all.data)[b * L * D + i];
          max_row = fmax (max_row, fabs (a - ((float *) one.data)[i]));
          max_pad = fmax (max_pad, fabs (a - ((float *) repadded.data)[b * L * D + i]));
          scale = fmax (scale, fabs (a));
        }
    }
  printf ("# L %lld: batch vs alone max abs %.3g, other padding ids max abs %.3g (max |out| %.3g)\n",
          (long long) L, max_row, max_pad, scale);
  PT_CHECK (scale > 0.1, "output is not trivially zero");
  PT_CHECK (max_row <= 1e-5 * scale, "rows depend on each other: %.3g", max_row);
  PT_CHECK (max_pad <= 1e-5 * scale, "ids at padding positions leak into the output: %.3g", max_pad);
  free (ids);
  free (ids2);
  free (mask);
  rl_tensor_release (&all);
  rl_tensor_release (&one);
  rl_tensor_release (&repadded);
  umt5_free (enc);
  be->context_free (ctx);
  rl_safetensors_close (st);
}

/* Weighted prompts: all-1 weights change nothing; otherwise the mix
 * against the empty prompt, checked against a host computation from a
 * plain batch encode of [prompt, empty] and against PyTorch's
 * encode_token_weights (fixture "out_weighted"). */
static void
test_weighted_prompt (void)
{
  const RlBackend *be = rl_backend_cpu ();
  RlSafetensors *st = NULL, *io = NULL;
  RlContext *ctx = NULL;
  Umt5Config config;
  Umt5Encoder *enc = NULL;
  const RlSafetensorsTensor *ids_t;
  const int32_t *mask32;
  const float *weights32, *want;
  int64_t L, D;
  int32_t both_ids[128];      /* [2, L]: the prompt, then the empty prompt */
  uint8_t both_mask[128];
  double weights[64], ones[64], max_mix = 0, err2 = 0, ref2 = 0, max_ref = 0;
  RlTensor out = { 0 }, plain = { 0 }, both = { 0 };

  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-umt5.safetensors"), &st) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-umt5-io.safetensors"), &io) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (umt5_config_detect (st, &config) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (umt5_load (be, ctx, st, &config, &enc) == RL_OK, "%s", rl_last_error ());
  ids_t = rl_safetensors_find (io, "ids");
  mask32 = io_data (io, "mask", NULL);
  weights32 = io_data (io, "weights", NULL);
  want = io_data (io, "out_weighted", NULL);
  L = ids_t->shape[1];
  D = config.d_model;
  PT_REQUIRE (L <= 64, "fixture row of %lld ids", (long long) L);
  for (int64_t j = 0; j < L; j++)
    {
      both_ids[j] = ((const int32_t *) ids_t->data)[j];
      both_mask[j] = (uint8_t) mask32[j];
      both_ids[L + j] = j == 0 ? UMT5_EOS_ID : UMT5_PAD_ID;
      both_mask[L + j] = j == 0;
      ones[j] = 1.0;
      weights[j] = weights32 ? weights32[j] : (j >= 3 && j < 7 ? 1.2 : j == 10 ? 0.5 : 1.0);
    }
  {
    const int64_t one_shape[3] = { 1, L, D }, two_shape[3] = { 2, L, D };
    rl_tensor_alloc (&out, be->context_allocator (ctx), RL_F32, 3, one_shape);
    rl_tensor_alloc (&plain, be->context_allocator (ctx), RL_F32, 3, one_shape);
    rl_tensor_alloc (&both, be->context_allocator (ctx), RL_F32, 3, two_shape);
  }
  PT_CHECK (umt5_encode (enc, both_ids, both_mask, 1, L, &plain) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (umt5_encode_weighted (enc, both_ids, ones, both_mask, L, &out) == RL_OK, "%s", rl_last_error ());
  PT_CHECK (memcmp (out.data, plain.data, rl_tensor_nbytes (&out)) == 0, "weights of 1 change the output");

  PT_CHECK (umt5_encode (enc, both_ids, both_mask, 2, L, &both) == RL_OK, "%s", rl_last_error ());
  for (int64_t i = 0; i < L * D; i++)
    ((float *) out.data)[i] = NAN;
  PT_CHECK (umt5_encode_weighted (enc, both_ids, weights, both_mask, L, &out) == RL_OK, "%s",
            rl_last_error ());
  for (int64_t j = 0; j < L; j++)
    for (int64_t k = 0; k < D; k++)
      {
        double z = ((float *) both.data)[j * D + k], e = ((float *) both.data)[(L + j) * D + k];
        double expect = weights[j] == 1.0 ? z : (z - e) * weights[j] + e;
        double got = ((float *) out.data)[j * D + k];
        max_mix = isnan (got) ? INFINITY : fmax (max_mix, fabs (got - expect));
        if (want != NULL)
          {
            err2 += (got - want[j * D + k]) * (got - want[j * D + k]);
            ref2 += (double) want[j * D + k] * want[j * D + k];
            max_ref = fmax (max_ref, fabs (got - want[j * D + k]));
          }
      }
  printf ("# weighted prompt: max abs vs host mix %.3g\n", max_mix);
  PT_CHECK (max_mix <= 1e-5, "weighted mix differs from (z - z_empty)*w + z_empty by %.3g", max_mix);
  if (want != NULL)
    {
      printf ("# weighted prompt vs PyTorch encode_token_weights: rel L2 %.3g, max abs %.3g\n",
              sqrt (err2 / ref2), max_ref);
      PT_CHECK (sqrt (err2 / ref2) <= 1e-4, "weighted prompt vs PyTorch: %.3g", sqrt (err2 / ref2));
    }
  else
    printf ("# fixture has no out_weighted: PyTorch comparison skipped\n");
  rl_tensor_release (&out);
  rl_tensor_release (&plain);
  rl_tensor_release (&both);
  umt5_free (enc);
  be->context_free (ctx);
  rl_safetensors_close (io);
  rl_safetensors_close (st);
}

static void
test_bad_inputs (void)
{
  const RlBackend *be = rl_backend_cpu ();
  RlSafetensors *st = NULL;
  RlContext *ctx = NULL;
  Umt5Config config;
  Umt5Encoder *enc = NULL;
  int32_t ids[2][4] = { { 5, 6, 1, 0 }, { 7, 300, 1, 0 } };
  RlTensor out = { 0 }, wrong = { 0 };
  const int64_t shape[3] = { 2, 4, 128 }, wrong_shape[3] = { 2, 4, 64 };

  PT_REQUIRE (rl_safetensors_open (fixture ("tiny-umt5.safetensors"), &st) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (umt5_config_detect (st, &config) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (be->context_new (0, &ctx) == RL_OK, "%s", rl_last_error ());
  PT_REQUIRE (umt5_load (be, ctx, st, &config, &enc) == RL_OK, "%s", rl_last_error ());
  rl_tensor_alloc (&out, be->context_allocator (ctx), RL_F32, 3, shape);
  rl_tensor_alloc (&wrong, be->context_allocator (ctx), RL_F32, 3, wrong_shape);
  PT_CHECK (umt5_encode (enc, &ids[0][0], NULL, 2, 4, &out) == RL_E_INVALID_ARG &&
            strstr (rl_last_error (), "300") && strstr (rl_last_error (), "row 1, position 1"),
            "id outside the vocabulary named: %s", rl_last_error ());
  ids[1][1] = 8;
  PT_CHECK (umt5_encode (enc, &ids[0][0], NULL, 2, 4, &wrong) == RL_E_SHAPE &&
            strstr (rl_last_error (), "[2, 4, 128]"), "wrong output shape named: %s", rl_last_error ());
  PT_CHECK (umt5_encode (enc, &ids[0][0], NULL, 2, 4, &out) == RL_OK, "%s", rl_last_error ());
  {
    /* A row without any token (all keys masked) gives zeros, not NaN. */
    const uint8_t none[8] = { 1, 1, 1, 0, 0, 0, 0, 0 };
    int bad = 0;
    PT_CHECK (umt5_encode (enc, &ids[0][0], none, 2, 4, &out) == RL_OK, "%s", rl_last_error ());
    for (int64_t i = 0; i < 8 * 128; i++)
      {
        float v = ((float *) out.data)[i];
        bad += !isfinite (v) || (i >= 3 * 128 && v != 0.0f) || (i < 128 && v == 0.0f);
      }
    PT_CHECK (bad == 0, "%d elements wrong with an all-padding row", bad);
  }
  rl_tensor_release (&out);
  rl_tensor_release (&wrong);
  umt5_free (enc);
  be->context_free (ctx);
  rl_safetensors_close (st);
}

/* ---- checkpoints that are wrong, written with make-checkpoint */

#define MAX_SPECS 64

static size_t
add_spec (MakeCheckpointSpec *specs, size_t n, const char *name, int ndim, int64_t a, int64_t b)
{
  MakeCheckpointSpec *s = &specs[n];

  snprintf (s->name, sizeof s->name, "%s", name);
  s->dtype = RL_BF16;
  s->ndim = ndim;
  s->shape[0] = a;
  s->shape[1] = b;
  return n + 1;
}

/* A tiny UMT5 in the real key layout: d_model 64, 2 heads of 16, 2 blocks. */
static size_t
tiny_umt5_specs (MakeCheckpointSpec *specs, int blocks)
{
  const int64_t d = 64, inner = 32, ff = 96;
  size_t n = 0;
  char key[128];

  n = add_spec (specs, n, "shared.weight", 2, 50, d);
  for (int i = 0; i < blocks; i++)
    {
#define KEY(fmt) (snprintf (key, sizeof key, "encoder.block.%d.layer." fmt, i), key)
      n = add_spec (specs, n, KEY ("0.SelfAttention.q.weight"), 2, inner, d);
      n = add_spec (specs, n, KEY ("0.SelfAttention.k.weight"), 2, inner, d);
      n = add_spec (specs, n, KEY ("0.SelfAttention.v.weight"), 2, inner, d);
      n = add_spec (specs, n, KEY ("0.SelfAttention.o.weight"), 2, d, inner);
      n = add_spec (specs, n, KEY ("0.SelfAttention.relative_attention_bias.weight"), 2, 32, 2);
      n = add_spec (specs, n, KEY ("0.layer_norm.weight"), 1, d, 0);
      n = add_spec (specs, n, KEY ("1.DenseReluDense.wi_0.weight"), 2, ff, d);
      n = add_spec (specs, n, KEY ("1.DenseReluDense.wi_1.weight"), 2, ff, d);
      n = add_spec (specs, n, KEY ("1.DenseReluDense.wo.weight"), 2, d, ff);
      n = add_spec (specs, n, KEY ("1.layer_norm.weight"), 1, d, 0);
#undef KEY
    }
  n = add_spec (specs, n, "encoder.final_layer_norm.weight", 1, d, 0);
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

/* Writes `specs`, detects, loads and encodes a few tokens; returns the
 * first failure's status with its message in `message`. */
static RlStatus
try_load (const MakeCheckpointSpec *specs, size_t n, unsigned flags, char *message, size_t size)
{
  char path[] = "/tmp/raylight-umt5-XXXXXX";
  int fd = mkstemp (path);
  const RlBackend *be = rl_backend_cpu ();
  RlContext *ctx = NULL;
  RlSafetensors *st = NULL;
  Umt5Config config;
  Umt5Encoder *enc = NULL;
  RlTensor out = { 0 };
  const int32_t ids[3] = { 7, 1, 0 };
  const uint8_t mask[3] = { 1, 1, 0 };
  RlStatus s;

  close (fd);
  s = make_checkpoint_write (path, specs, n, 11, flags, NULL, 0);
  if (s == RL_OK) s = rl_safetensors_open (path, &st);
  if (s == RL_OK) s = umt5_config_detect (st, &config);
  if (s == RL_OK) s = be->context_new (0, &ctx);
  if (s == RL_OK) s = umt5_load (be, ctx, st, &config, &enc);
  if (s == RL_OK)
    {
      const int64_t shape[3] = { 1, 3, config.d_model };
      s = rl_tensor_alloc (&out, be->context_allocator (ctx), RL_F32, 3, shape);
    }
  if (s == RL_OK) s = umt5_encode (enc, ids, mask, 1, 3, &out);
  if (s == RL_OK)
    for (int64_t i = 0; i < 3 * config.d_model; i++)
      if (!isfinite (((float *) out.data)[i]) || (i >= 2 * config.d_model && ((float *) out.data)[i] != 0))
        s = rl_set_error (RL_E_FORMAT, "output element %lld is %g", (long long) i, ((float *) out.data)[i]);
  snprintf (message, size, "%s", s < 0 ? rl_last_error () : "");
  rl_tensor_release (&out);
  umt5_free (enc);
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

  n = tiny_umt5_specs (specs, 2);
  PT_CHECK (try_load (specs, n, 0, msg, sizeof msg) == RL_OK, "the intact tiny encoder loads: %s", msg);

  for (size_t i = 0; i < n; i++)
    if (specs[i].ndim == 2 && strcmp (specs[i].name, "shared.weight") != 0 && !strstr (specs[i].name, "relative"))
      specs[i].dtype = RL_F8_E4M3FN;
  PT_CHECK (try_load (specs, n, MAKE_CHECKPOINT_SCALED_FP8, msg, sizeof msg) == RL_OK,
            "a scaled fp8 encoder loads and encodes: %s", msg);

  n = tiny_umt5_specs (specs, 2);
  n = remove_spec (specs, n, "encoder.block.1.layer.1.DenseReluDense.wo.weight");
  PT_CHECK (try_load (specs, n, 0, msg, sizeof msg) == RL_E_FORMAT &&
            strstr (msg, "encoder.block.1.layer.1.DenseReluDense.wo.weight"), "missing key named: %s", msg);

  n = tiny_umt5_specs (specs, 2);
  find_spec (specs, n, "encoder.block.1.layer.0.SelfAttention.o.weight")->shape[1] = 48;
  PT_CHECK (try_load (specs, n, 0, msg, sizeof msg) == RL_E_FORMAT &&
            strstr (msg, "encoder.block.1.layer.0.SelfAttention.o.weight") && strstr (msg, "[64, 48]") &&
            strstr (msg, "expected [64, 32]"), "wrong shape named with both shapes: %s", msg);

  n = tiny_umt5_specs (specs, 2);
  find_spec (specs, n, "encoder.block.0.layer.0.layer_norm.weight")->shape[0] = 63;
  PT_CHECK (try_load (specs, n, 0, msg, sizeof msg) == RL_E_FORMAT &&
            strstr (msg, "encoder.block.0.layer.0.layer_norm.weight") && strstr (msg, "[63]"),
            "wrong norm size named: %s", msg);

  n = tiny_umt5_specs (specs, 2);
  n = remove_spec (specs, n, "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight");
  PT_CHECK (try_load (specs, n, 0, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, "T5 v1.1") &&
            strstr (msg, "umt5_xxl"), "classic T5 (shared bias) refused by name: %s", msg);

  n = tiny_umt5_specs (specs, 2);
  n = remove_spec (specs, n, "encoder.block.0.layer.1.DenseReluDense.wi_0.weight");
  n = remove_spec (specs, n, "encoder.block.0.layer.1.DenseReluDense.wi_1.weight");
  n = add_spec (specs, n, "encoder.block.0.layer.1.DenseReluDense.wi.weight", 2, 96, 64);
  PT_CHECK (try_load (specs, n, 0, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, "original T5"),
            "ungated T5 refused: %s", msg);

  n = tiny_umt5_specs (specs, 2);
  find_spec (specs, n, "encoder.block.0.layer.0.SelfAttention.q.weight")->shape[0] = 33;
  PT_CHECK (try_load (specs, n, 0, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, "not a multiple"),
            "heads not dividing q refused: %s", msg);

  n = 0;
  n = add_spec (specs, n, "token_embedding.weight", 2, 50, 64);
  n = add_spec (specs, n, "blocks.0.attn.q.weight", 2, 32, 64);
  n = add_spec (specs, n, "blocks.0.ffn.gate.0.weight", 2, 96, 64);
  PT_CHECK (try_load (specs, n, 0, msg, sizeof msg) == RL_E_FORMAT &&
            strstr (msg, "blocks.0.pos_embedding.embedding.weight"),
            "incomplete file in the Wan naming names the missing key in that naming: %s", msg);

  n = 0;
  n = add_spec (specs, n, "head.modulation", 2, 2, 64);
  n = add_spec (specs, n, "blocks.0.self_attn.q.weight", 2, 64, 64);
  PT_CHECK (try_load (specs, n, 0, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, "Wan diffusion model") &&
            strstr (msg, "UNETLoader"), "a DiT given as text encoder named: %s", msg);

  n = 0;
  n = add_spec (specs, n, "decoder.conv1.weight", 2, 16, 16);
  PT_CHECK (try_load (specs, n, 0, msg, sizeof msg) == RL_E_FORMAT && strstr (msg, "VAE"),
            "a VAE named: %s", msg);
  free (specs);
}

int
main (void)
{
  snprintf (fixture_dir, sizeof fixture_dir, "%s/tests/umt5/data",
            getenv ("RAYLIGHT_SOURCE_DIR") ? getenv ("RAYLIGHT_SOURCE_DIR") : ".");
  PT_RUN (test_relative_bucket_known_values);
  PT_RUN (test_tiny_bf16_matches_reference);
  PT_RUN (test_tiny_f32_weights_match_reference);
  PT_RUN (test_tiny_wan_naming_matches_reference);
  PT_RUN (test_tiny_fp8_scaled_matches_reference);
  PT_RUN (test_rows_independent_and_padding_ignored);
  PT_RUN (test_weighted_prompt);
  PT_RUN (test_bad_inputs);
  PT_RUN (test_bad_checkpoints);
  return pt_finish ();
}
