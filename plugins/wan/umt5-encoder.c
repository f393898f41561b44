#include "plugins/wan/umt5-encoder.h"

#include "plugins/common/weight-set.h"

#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  RlTensor q, k, v, o;             /* layer.0.SelfAttention */
  RlTensor relative_bias;          /* [num_buckets, heads] */
  RlTensor attn_norm;              /* layer.0.layer_norm [d_model] */
  RlTensor wi_0, wi_1, wo;         /* layer.1.DenseReluDense */
  RlTensor ffn_norm;               /* layer.1.layer_norm [d_model] */
} Umt5Block;

struct Umt5Encoder {
  Umt5Config        config;
  const RlBackend  *backend;
  const RlOps      *ops;
  RlContext        *ctx;
  RlTensor          shared;        /* [vocab, d_model] */
  RlTensor          final_norm;    /* [d_model] */
  Umt5Block        *blocks;
  RlWeightSet      *weights;       /* owns every weight tensor above */
};

#define TRY(expr)                          \
  do {                                     \
    RlStatus try_status_ = (expr);         \
    if (try_status_ < 0)                   \
      return try_status_;                  \
  } while (0)

/* ------------------------------------------------------------ loading */

/* Loads weight `w` of block `block` into `out`, checking that it is
 * [rows, cols] (cols < 0: a vector [rows]). The key depends on the file's
 * naming (ComfyUI's or the original Wan code's). */
static RlStatus
load_weight (Umt5Encoder   *e,
             RlSafetensors *st,
             RlTensor      *out,
             Umt5Weight     w,
             int            block,
             int64_t        rows,
             int64_t        cols)
{
  const int64_t shape[2] = { rows, cols };
  char name[256];

  (void) st;
  umt5_weight_key (&e->config, w, block, name, sizeof name);
  return rl_weight_set_load (e->weights, out, name, cols < 0 ? 1 : 2, shape);
}

static RlStatus
load_block (Umt5Encoder   *e,
            RlSafetensors *st,
            Umt5Block     *b,
            int            i)
{
  const Umt5Config *c = &e->config;
  const int64_t d = c->d_model, inner = (int64_t) c->num_heads * c->d_kv;

  TRY (load_weight (e, st, &b->q, UMT5_W_Q, i, inner, d));
  TRY (load_weight (e, st, &b->k, UMT5_W_K, i, inner, d));
  TRY (load_weight (e, st, &b->v, UMT5_W_V, i, inner, d));
  TRY (load_weight (e, st, &b->o, UMT5_W_O, i, d, inner));
  TRY (load_weight (e, st, &b->relative_bias, UMT5_W_RELATIVE_BIAS, i, c->num_buckets, c->num_heads));
  TRY (load_weight (e, st, &b->attn_norm, UMT5_W_ATTN_NORM, i, d, -1));
  TRY (load_weight (e, st, &b->wi_0, UMT5_W_WI_0, i, c->d_ff, d));
  TRY (load_weight (e, st, &b->wi_1, UMT5_W_WI_1, i, c->d_ff, d));
  TRY (load_weight (e, st, &b->wo, UMT5_W_WO, i, d, c->d_ff));
  return load_weight (e, st, &b->ffn_norm, UMT5_W_FFN_NORM, i, d, -1);
}

static RlStatus
load_all (Umt5Encoder   *e,
          RlSafetensors *st)
{
  const Umt5Config *c = &e->config;

  TRY (load_weight (e, st, &e->shared, UMT5_W_SHARED, 0, c->vocab, c->d_model));
  for (int i = 0; i < c->num_layers; i++)
    TRY (load_block (e, st, &e->blocks[i], i));
  return load_weight (e, st, &e->final_norm, UMT5_W_FINAL_NORM, 0, c->d_model, -1);
}

RlStatus
umt5_load (const RlBackend   *backend,
           RlContext         *ctx,
           RlSafetensors     *st,
           const Umt5Config  *config,
           Umt5Encoder      **out)
{
  Umt5Encoder *e;
  RlStatus s;

  *out = NULL;
  if (config->num_layers <= 0 || config->num_heads <= 0 || config->d_kv <= 0)
    return rl_set_error (RL_E_INVALID_ARG, "umt5: config has %d layers, %d heads of %d; detect it "
                         "with umt5_config_detect", config->num_layers, config->num_heads, config->d_kv);
  e = calloc (1, sizeof *e);
  if (e == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "umt5: out of memory");
  e->config = *config;
  e->backend = backend;
  e->ops = backend->ops;
  e->ctx = ctx;
  e->blocks = calloc ((size_t) config->num_layers, sizeof *e->blocks);
  if (e->blocks == NULL)
    {
      free (e);
      return rl_set_error (RL_E_NO_MEMORY, "umt5: out of memory");
    }
  /* Keys come whole from umt5_weight_key, so the set needs no prefix. */
  s = rl_weight_set_new (backend, ctx, st, "", config->variant, &e->weights);
  if (s == RL_OK)
    s = load_all (e, st);
  if (s < 0)
    {
      umt5_free (e);
      return s;
    }
  *out = e;
  return RL_OK;
}

void
umt5_free (Umt5Encoder *e)
{
  if (e == NULL)
    return;
  rl_weight_set_free (e->weights);
  free (e->blocks);
  free (e);
}

const Umt5Config *
umt5_config (const Umt5Encoder *e)
{
  return &e->config;
}

/* ------------------------------------------------------------ forward */

/* Activations of one encode, allocated once and reused by every block.
 * Heads-major copies ([B·H, L, d_kv]) feed the batched matmuls. */
typedef struct {
  int64_t   B, L, H, inner;
  RlTensor ids;          /* i32 [B, L] */
  RlTensor buckets;      /* i32 [L·L] relative-position bucket of (key − query) */
  RlTensor key_mask;     /* f32 [B, 1, 1, L] 0 or −FLT_MAX (padding keys) */
  RlTensor row_mask;     /* f32 [B, L, 1]    1 or 0 (zero_out_masked) */
  RlTensor x;            /* f32 [B, L, d_model] residual stream */
  RlTensor h;            /* f32 [B, L, d_model] normalised input of a sub-block */
  RlTensor q, k, v;      /* f32 [B, L, inner] */
  RlTensor qh, kh, vh;   /* f32 [B·H, L, d_kv] */
  RlTensor scores;       /* f32 [B·H, L, L] */
  RlTensor oh;           /* f32 [B·H, L, d_kv] */
  RlTensor attn;         /* f32 [B, L, inner] */
  RlTensor bias_lk;      /* f32 [L·L, H] gathered bias, query-key major */
  RlTensor bias;         /* f32 [1, H, L, L] */
  RlTensor proj;         /* f32 [B, L, d_model] */
  RlTensor gate, up;     /* f32 [B, L, d_ff] */
} Activations;

static RlStatus
alloc_act (Umt5Encoder   *e,
           RlTensor      *t,
           RlDType        dtype,
           int            ndim,
           const int64_t *shape)
{
  return rl_tensor_alloc (t, e->backend->context_allocator (e->ctx), dtype, ndim, shape);
}

static RlStatus
alloc_3d (Umt5Encoder *e,
          RlTensor    *t,
          int64_t      a,
          int64_t      b,
          int64_t      c)
{
  const int64_t shape[3] = { a, b, c };

  return alloc_act (e, t, RL_F32, 3, shape);
}

static void
release_activations (Activations *a)
{
  RlTensor *all[] = { &a->ids, &a->buckets, &a->key_mask, &a->row_mask, &a->x, &a->h, &a->q, &a->k, &a->v,
                      &a->qh, &a->kh, &a->vh, &a->scores, &a->oh, &a->attn, &a->bias_lk, &a->bias,
                      &a->proj, &a->gate, &a->up };

  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    rl_tensor_release (all[i]);
}

static RlStatus
alloc_activations (Umt5Encoder *e,
                   Activations *a)
{
  const Umt5Config *c = &e->config;
  const int64_t BH = a->B * a->H;

  TRY (alloc_3d (e, &a->x, a->B, a->L, c->d_model));
  TRY (alloc_3d (e, &a->h, a->B, a->L, c->d_model));
  TRY (alloc_3d (e, &a->q, a->B, a->L, a->inner));
  TRY (alloc_3d (e, &a->k, a->B, a->L, a->inner));
  TRY (alloc_3d (e, &a->v, a->B, a->L, a->inner));
  TRY (alloc_3d (e, &a->qh, BH, a->L, c->d_kv));
  TRY (alloc_3d (e, &a->kh, BH, a->L, c->d_kv));
  TRY (alloc_3d (e, &a->vh, BH, a->L, c->d_kv));
  TRY (alloc_3d (e, &a->scores, BH, a->L, a->L));
  TRY (alloc_3d (e, &a->oh, BH, a->L, c->d_kv));
  TRY (alloc_3d (e, &a->attn, a->B, a->L, a->inner));
  TRY (alloc_3d (e, &a->proj, a->B, a->L, c->d_model));
  TRY (alloc_3d (e, &a->gate, a->B, a->L, c->d_ff));
  TRY (alloc_3d (e, &a->up, a->B, a->L, c->d_ff));
  {
    const int64_t lk[2] = { a->L * a->L, a->H }, bias[4] = { 1, a->H, a->L, a->L };
    TRY (alloc_act (e, &a->bias_lk, RL_F32, 2, lk));
    TRY (alloc_act (e, &a->bias, RL_F32, 4, bias));
  }
  return RL_OK;
}

/* Moves a host array into a new device tensor. */
static RlStatus
upload (Umt5Encoder   *e,
        RlTensor      *out,
        void          *host,
        RlDType        dtype,
        int            ndim,
        const int64_t *shape)
{
  RlTensor host_t = { 0 };

  TRY (rl_tensor_wrap (&host_t, host, rl_device_cpu (), dtype, ndim, shape, NULL, NULL));
  TRY (alloc_act (e, out, dtype, ndim, shape));
  return e->backend->transfer (e->ctx, out, &host_t);
}

/* The host-built inputs: ids, the bucket table, the additive key mask
 * (ComfyUI: (1 − mask) filled with −finfo.max) and the output row mask. */
static RlStatus
upload_inputs (Umt5Encoder   *e,
               Activations   *a,
               const int32_t *ids,
               const uint8_t *mask)
{
  const Umt5Config *c = &e->config;
  const int64_t B = a->B, L = a->L;
  const int64_t ids_shape[2] = { B, L }, buckets_shape[1] = { L * L };
  const int64_t key_shape[4] = { B, 1, 1, L }, row_shape[3] = { B, L, 1 };
  int32_t *ids_copy = malloc (sizeof (int32_t) * (size_t) (B * L));
  int32_t *buckets = malloc (sizeof (int32_t) * (size_t) (L * L));
  float *key_mask = malloc (sizeof (float) * (size_t) (B * L));
  float *row_mask = malloc (sizeof (float) * (size_t) (B * L));
  RlStatus s = RL_OK;

  if (ids_copy == NULL || buckets == NULL || key_mask == NULL || row_mask == NULL)
    s = rl_set_error (RL_E_NO_MEMORY, "umt5: out of memory for %lld×%lld inputs", (long long) B, (long long) L);
  for (int64_t i = 0; s == RL_OK && i < B * L; i++)
    {
      bool token = mask == NULL || mask[i] != 0;
      ids_copy[i] = ids[i];
      key_mask[i] = token ? 0.0f : -FLT_MAX;
      row_mask[i] = token ? 1.0f : 0.0f;
    }
  for (int64_t qi = 0; s == RL_OK && qi < L; qi++)
    for (int64_t ki = 0; ki < L; ki++)
      buckets[qi * L + ki] = umt5_relative_bucket (ki - qi, c->num_buckets, c->max_distance);
  if (s == RL_OK) s = upload (e, &a->ids, ids_copy, RL_I32, 2, ids_shape);
  if (s == RL_OK) s = upload (e, &a->buckets, buckets, RL_I32, 1, buckets_shape);
  if (s == RL_OK) s = upload (e, &a->key_mask, key_mask, RL_F32, 4, key_shape);
  if (s == RL_OK) s = upload (e, &a->row_mask, row_mask, RL_F32, 3, row_shape);
  free (ids_copy);
  free (buckets);
  free (key_mask);
  free (row_mask);
  return s;
}

/* [B, L, H·d_kv] → heads-major [B·H, L, d_kv] (a transposing copy). */
static RlStatus
split_heads (Umt5Encoder    *e,
             Activations    *a,
             RlTensor       *dst,
             const RlTensor *src)
{
  const int64_t split[4] = { a->B, a->L, a->H, e->config.d_kv };
  const int64_t heads[4] = { a->B, a->H, a->L, e->config.d_kv };
  RlTensor view = { 0 }, dst4 = { 0 };
  RlStatus s;

  s = rl_tensor_reshape (&view, src, 4, split);
  if (s == RL_OK) s = rl_tensor_transpose (&view, &view, 1, 2);
  if (s == RL_OK) s = rl_tensor_reshape (&dst4, dst, 4, heads);
  if (s == RL_OK) s = e->ops->copy (e->ctx, &dst4, &view);
  rl_tensor_release (&view);
  rl_tensor_release (&dst4);
  return s;
}

/* Heads-major [B·H, L, d_kv] → [B, L, H·d_kv]. */
static RlStatus
merge_heads (Umt5Encoder    *e,
             Activations    *a,
             RlTensor       *dst,
             const RlTensor *src)
{
  const int64_t heads[4] = { a->B, a->H, a->L, e->config.d_kv };
  const int64_t split[4] = { a->B, a->L, a->H, e->config.d_kv };
  RlTensor view = { 0 }, dst4 = { 0 };
  RlStatus s;

  s = rl_tensor_reshape (&view, src, 4, heads);
  if (s == RL_OK) s = rl_tensor_transpose (&view, &view, 1, 2);
  if (s == RL_OK) s = rl_tensor_reshape (&dst4, dst, 4, split);
  if (s == RL_OK) s = e->ops->copy (e->ctx, &dst4, &view);
  rl_tensor_release (&view);
  rl_tensor_release (&dst4);
  return s;
}

/* bias[0, h, q, k] = relative_bias[bucket(k − q), h]: a gather of the
 * bucket table, then [L, L, H] → [H, L, L]. */
static RlStatus
position_bias (Umt5Encoder     *e,
               Activations     *a,
               const Umt5Block *b)
{
  const int64_t lkh[3] = { a->L, a->L, a->H }, hlk[3] = { a->H, a->L, a->L };
  RlTensor view = { 0 }, dst = { 0 };
  RlStatus s;

  TRY (e->ops->embedding (e->ctx, &a->bias_lk, &b->relative_bias, &a->buckets));
  s = rl_tensor_reshape (&view, &a->bias_lk, 3, lkh);
  if (s == RL_OK)
    {
      const int perm[3] = { 2, 0, 1 };
      s = rl_tensor_permute (&view, &view, perm);
    }
  if (s == RL_OK) s = rl_tensor_reshape (&dst, &a->bias, 3, hlk);
  if (s == RL_OK) s = e->ops->copy (e->ctx, &dst, &view);
  rl_tensor_release (&view);
  rl_tensor_release (&dst);
  return s;
}

/* x += o(softmax(q kᵀ + bias + key_mask) v), q, k, v from h = RMS(x)·w.
 * No 1/√d_kv: T5 folds it into the weights. */
static RlStatus
self_attention (Umt5Encoder     *e,
                Activations     *a,
                const Umt5Block *b)
{
  const Umt5Config *c = &e->config;
  const int64_t scores4[4] = { a->B, a->H, a->L, a->L };
  RlTensor s4 = { 0 };
  RlStatus s;

  TRY (e->ops->rms_norm (e->ctx, &a->h, &a->x, &b->attn_norm, c->eps));
  TRY (e->ops->gemm (e->ctx, &a->q, &a->h, &b->q, NULL, RL_ACT_NONE));
  TRY (e->ops->gemm (e->ctx, &a->k, &a->h, &b->k, NULL, RL_ACT_NONE));
  TRY (e->ops->gemm (e->ctx, &a->v, &a->h, &b->v, NULL, RL_ACT_NONE));
  TRY (split_heads (e, a, &a->qh, &a->q));
  TRY (split_heads (e, a, &a->kh, &a->k));
  TRY (split_heads (e, a, &a->vh, &a->v));
  TRY (position_bias (e, a, b));

  TRY (e->ops->batched_gemm (e->ctx, &a->scores, &a->qh, false, &a->kh, true, 1.0f, 0.0f));
  TRY (rl_tensor_reshape (&s4, &a->scores, 4, scores4));
  s = e->ops->add (e->ctx, &s4, &s4, &a->bias, 1.0f, 1.0f);
  if (s == RL_OK) s = e->ops->add (e->ctx, &s4, &s4, &a->key_mask, 1.0f, 1.0f);
  rl_tensor_release (&s4);
  if (s < 0)
    return s;
  TRY (e->ops->softmax (e->ctx, &a->scores, &a->scores));
  TRY (e->ops->batched_gemm (e->ctx, &a->oh, &a->scores, false, &a->vh, false, 1.0f, 0.0f));

  TRY (merge_heads (e, a, &a->attn, &a->oh));
  TRY (e->ops->gemm (e->ctx, &a->proj, &a->attn, &b->o, NULL, RL_ACT_NONE));
  return e->ops->add (e->ctx, &a->x, &a->x, &a->proj, 1.0f, 1.0f);
}

/* x += wo(gelu_tanh(wi_0 h) · wi_1 h), h = RMS(x)·w. */
static RlStatus
feed_forward (Umt5Encoder     *e,
              Activations     *a,
              const Umt5Block *b)
{
  TRY (e->ops->rms_norm (e->ctx, &a->h, &a->x, &b->ffn_norm, e->config.eps));
  TRY (e->ops->gemm (e->ctx, &a->gate, &a->h, &b->wi_0, NULL, RL_ACT_GELU_TANH));
  TRY (e->ops->gemm (e->ctx, &a->up, &a->h, &b->wi_1, NULL, RL_ACT_NONE));
  TRY (e->ops->mul (e->ctx, &a->gate, &a->gate, &a->up));
  TRY (e->ops->gemm (e->ctx, &a->proj, &a->gate, &b->wo, NULL, RL_ACT_NONE));
  return e->ops->add (e->ctx, &a->x, &a->x, &a->proj, 1.0f, 1.0f);
}

static RlStatus
block_forward (Umt5Encoder     *e,
               Activations     *a,
               const Umt5Block *b,
               int              index)
{
  RlStatus s = self_attention (e, a, b);

  if (s == RL_OK)
    s = feed_forward (e, a, b);
  if (s < 0)
    return rl_prefix_error (s, "umt5 block %d: ", index);
  return RL_OK;
}

static RlStatus
check_arguments (const Umt5Encoder *e,
                 const int32_t     *ids,
                 int64_t            B,
                 int64_t            L,
                 const RlTensor    *out)
{
  const Umt5Config *c = &e->config;
  char desc[RL_TENSOR_DESCRIBE_SIZE];

  if (ids == NULL || B <= 0 || L <= 0)
    return rl_set_error (RL_E_INVALID_ARG, "umt5: encode needs ids and a batch and length of at "
                         "least 1 (got %lld × %lld)", (long long) B, (long long) L);
  if (out == NULL || out->ndim != 3 || out->shape[0] != B || out->shape[1] != L ||
      out->shape[2] != c->d_model || out->dtype != RL_F32 || !rl_tensor_is_contiguous (out))
    return rl_set_error (RL_E_SHAPE, "umt5: output %s must be contiguous f32 [%lld, %lld, %d]",
                         out ? rl_tensor_describe (out, desc, sizeof desc) : "NULL",
                         (long long) B, (long long) L, c->d_model);
  for (int64_t i = 0; i < B * L; i++)
    if (ids[i] < 0 || ids[i] >= c->vocab)
      return rl_set_error (RL_E_INVALID_ARG, "umt5: token id %d at row %lld, position %lld is outside "
                           "the vocabulary of %d; the tokenizer does not match this encoder",
                           ids[i], (long long) (i / L), (long long) (i % L), c->vocab);
  return RL_OK;
}

RlStatus
umt5_encode (Umt5Encoder   *e,
             const int32_t *ids,
             const uint8_t *mask,
             int64_t        batch,
             int64_t        length,
             RlTensor      *out)
{
  const Umt5Config *c = &e->config;
  Activations a = { 0 };
  RlStatus s;

  TRY (check_arguments (e, ids, batch, length, out));
  a.B = batch;
  a.L = length;
  a.H = c->num_heads;
  a.inner = (int64_t) c->num_heads * c->d_kv;

  s = alloc_activations (e, &a);
  if (s == RL_OK) s = upload_inputs (e, &a, ids, mask);
  if (s == RL_OK) s = e->ops->embedding (e->ctx, &a.x, &e->shared, &a.ids);
  for (int i = 0; s == RL_OK && i < c->num_layers; i++)
    s = block_forward (e, &a, &e->blocks[i], i);
  if (s == RL_OK) s = e->ops->rms_norm (e->ctx, out, &a.x, &e->final_norm, c->eps);
  if (s == RL_OK) s = e->ops->mul (e->ctx, out, out, &a.row_mask);
  release_activations (&a);
  return s;
}

static bool
has_weights (const double *weights,
             int64_t       length)
{
  for (int64_t i = 0; weights != NULL && i < length; i++)
    if (weights[i] != 1.0)
      return true;
  return false;
}

/* out[0, start:start+n] = (z − z_empty)·w + z_empty over one run of tokens
 * sharing weight w; z and z_empty are rows 0 and 1 of `both`. */
static RlStatus
mix_run (Umt5Encoder    *e,
         const RlTensor *both,
         RlTensor       *out,
         int64_t         start,
         int64_t         n,
         float           w)
{
  RlTensor z = { 0 }, empty = { 0 }, dst = { 0 };
  RlStatus s;

  s = rl_tensor_narrow (&z, both, 0, 0, 1);
  if (s == RL_OK) s = rl_tensor_narrow (&z, &z, 1, start, n);
  if (s == RL_OK) s = rl_tensor_narrow (&empty, both, 0, 1, 1);
  if (s == RL_OK) s = rl_tensor_narrow (&empty, &empty, 1, start, n);
  if (s == RL_OK) s = rl_tensor_narrow (&dst, out, 1, start, n);
  /* dst is contiguous (a run of whole rows of out): z − z_empty first, then
   * scaled and shifted back, the two roundings ComfyUI's torch code makes. */
  if (s == RL_OK) s = e->ops->add (e->ctx, &dst, &z, &empty, 1.0f, -1.0f);
  if (s == RL_OK) s = e->ops->add (e->ctx, &dst, &dst, &empty, w, 1.0f);
  rl_tensor_release (&z);
  rl_tensor_release (&empty);
  rl_tensor_release (&dst);
  return s;
}

RlStatus
umt5_encode_weighted (Umt5Encoder   *e,
                      const int32_t *ids,
                      const double  *weights,
                      const uint8_t *mask,
                      int64_t        length,
                      RlTensor      *out)
{
  const int64_t d = e->config.d_model;
  int32_t *ids2 = NULL;
  uint8_t *mask2 = NULL;
  RlTensor both = { 0 }, row = { 0 };
  RlStatus s;

  if (!has_weights (weights, length))
    return umt5_encode (e, ids, mask, 1, length, out);
  TRY (check_arguments (e, ids, 1, length, out));

  /* Row 0 the prompt, row 1 ComfyUI's empty tokens: EOS then padding. */
  ids2 = malloc (sizeof (int32_t) * 2 * (size_t) length);
  mask2 = malloc (2 * (size_t) length);
  if (ids2 == NULL || mask2 == NULL)
    s = rl_set_error (RL_E_NO_MEMORY, "umt5: out of memory for a weighted prompt of %lld tokens",
                      (long long) length);
  else
    {
      const int64_t shape[3] = { 2, length, d };
      for (int64_t i = 0; i < length; i++)
        {
          ids2[i] = ids[i];
          mask2[i] = mask == NULL || mask[i] != 0;
          ids2[length + i] = i == 0 ? UMT5_EOS_ID : UMT5_PAD_ID;
          mask2[length + i] = i == 0;
        }
      s = rl_tensor_alloc (&both, e->backend->context_allocator (e->ctx), RL_F32, 3, shape);
    }
  if (s == RL_OK) s = umt5_encode (e, ids2, mask2, 2, length, &both);
  if (s == RL_OK) s = rl_tensor_narrow (&row, &both, 0, 0, 1);
  if (s == RL_OK) s = e->ops->copy (e->ctx, out, &row);
  for (int64_t i = 0; s == RL_OK && i < length;)
    {
      int64_t end = i + 1;
      if (weights[i] == 1.0)
        {
          i++;
          continue;
        }
      while (end < length && weights[end] == weights[i])
        end++;
      s = mix_run (e, &both, out, i, end - i, (float) weights[i]);
      i = end;
    }
  rl_tensor_release (&row);
  rl_tensor_release (&both);
  free (ids2);
  free (mask2);
  return s;
}
