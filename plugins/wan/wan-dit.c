#include "plugins/wan/wan-dit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/common/weight-set.h"
#include "workers/parallel/seq-split.h"
#include "workers/parallel/usp-attention.h"
#include "workers/runtime/rope-table.h"

typedef struct {
  RlTensor weight;
  RlTensor bias;
} WanLinear;

typedef struct {
  RlTensor modulation;          /* [1, 6, dim] */
  WanLinear q, k, v, o;          /* self_attn */
  RlTensor norm_q, norm_k;      /* [dim] */
  RlTensor norm3_weight, norm3_bias;
  WanLinear cq, ck, cv, co;      /* cross_attn */
  RlTensor cnorm_q, cnorm_k;
  WanLinear ffn0, ffn2;
} WanBlock;

struct WanDit {
  WanDitConfig      config;
  const RlBackend  *backend;
  const RlOps      *ops;
  RlContext        *ctx;
  RlDType           act_dtype;
  RlTensor          patch_weight, patch_bias;
  WanLinear         text0, text2, time0, time2, time_proj;
  RlTensor          head_modulation;     /* [1, 2, dim] */
  WanLinear         head;
  WanBlock         *blocks;
  RlWeightSet      *weights;             /* owns every weight tensor above */
  WanSeqParallel    parallel;            /* sp NULL: single rank */
  /* The RoPE tables of the last forward's tokens, kept on the device: a
   * sampler runs every step on the same grid, and building them on the
   * host (cos and sin of 64 angles per token, in double) takes ~0.1 s at
   * 32,760 tokens. rope_key = { F, Hp, Wp, token offset, L }. */
  RlTensor          rope_cos, rope_sin;
  int64_t           rope_key[5];
};

#define TRY(expr)                          \
  do {                                     \
    RlStatus try_status_ = (expr);         \
    if (try_status_ < 0)                   \
      return try_status_;                  \
  } while (0)

/* ------------------------------------------------------------ loading */

typedef struct {
  WanDit       *dit;
  RlWeightSet  *weights;
} Loader;

static RlStatus
load_tensor (Loader        *l,
             RlTensor      *out,
             const char    *key,
             int            ndim,
             const int64_t *shape)
{
  return rl_weight_set_load (l->weights, out, key, ndim, shape);
}

static RlStatus
load_linear (Loader     *l,
             WanLinear  *lin,
             const char *key,
             int64_t     n_out,
             int64_t     n_in)
{
  char name[160];
  const int64_t wshape[2] = { n_out, n_in }, bshape[1] = { n_out };

  snprintf (name, sizeof name, "%s.weight", key);
  TRY (load_tensor (l, &lin->weight, name, 2, wshape));
  snprintf (name, sizeof name, "%s.bias", key);
  return load_tensor (l, &lin->bias, name, 1, bshape);
}

static RlStatus
load_vector (Loader     *l,
             RlTensor   *t,
             const char *key,
             int64_t     n)
{
  return load_tensor (l, t, key, 1, &n);
}

static RlStatus
load_block (Loader   *l,
            WanBlock *b,
            int       i)
{
  const WanDitConfig *c = &l->dit->config;
  const int64_t dim = c->dim, mod_shape[3] = { 1, 6, dim };
  char key[128];

#define KEY(fmt) (snprintf (key, sizeof key, "blocks.%d." fmt, i), key)
  TRY (load_tensor (l, &b->modulation, KEY ("modulation"), 3, mod_shape));
  TRY (load_linear (l, &b->q, KEY ("self_attn.q"), dim, dim));
  TRY (load_linear (l, &b->k, KEY ("self_attn.k"), dim, dim));
  TRY (load_linear (l, &b->v, KEY ("self_attn.v"), dim, dim));
  TRY (load_linear (l, &b->o, KEY ("self_attn.o"), dim, dim));
  TRY (load_vector (l, &b->norm_q, KEY ("self_attn.norm_q.weight"), dim));
  TRY (load_vector (l, &b->norm_k, KEY ("self_attn.norm_k.weight"), dim));
  TRY (load_vector (l, &b->norm3_weight, KEY ("norm3.weight"), dim));
  TRY (load_vector (l, &b->norm3_bias, KEY ("norm3.bias"), dim));
  TRY (load_linear (l, &b->cq, KEY ("cross_attn.q"), dim, dim));
  TRY (load_linear (l, &b->ck, KEY ("cross_attn.k"), dim, dim));
  TRY (load_linear (l, &b->cv, KEY ("cross_attn.v"), dim, dim));
  TRY (load_linear (l, &b->co, KEY ("cross_attn.o"), dim, dim));
  TRY (load_vector (l, &b->cnorm_q, KEY ("cross_attn.norm_q.weight"), dim));
  TRY (load_vector (l, &b->cnorm_k, KEY ("cross_attn.norm_k.weight"), dim));
  TRY (load_linear (l, &b->ffn0, KEY ("ffn.0"), c->ffn_dim, dim));
  TRY (load_linear (l, &b->ffn2, KEY ("ffn.2"), dim, c->ffn_dim));
#undef KEY
  return RL_OK;
}

static RlStatus
load_all (Loader *l)
{
  WanDit *d = l->dit;
  const WanDitConfig *c = &d->config;
  const int64_t dim = c->dim;
  const int64_t patch_shape[5] = { dim, c->in_dim, WAN_PATCH_T, WAN_PATCH_H, WAN_PATCH_W };
  const int64_t head_mod_shape[3] = { 1, 2, dim };

  TRY (load_tensor (l, &d->patch_weight, "patch_embedding.weight", 5, patch_shape));
  TRY (load_vector (l, &d->patch_bias, "patch_embedding.bias", dim));
  TRY (load_linear (l, &d->text0, "text_embedding.0", dim, c->text_dim));
  TRY (load_linear (l, &d->text2, "text_embedding.2", dim, dim));
  TRY (load_linear (l, &d->time0, "time_embedding.0", dim, c->freq_dim));
  TRY (load_linear (l, &d->time2, "time_embedding.2", dim, dim));
  TRY (load_linear (l, &d->time_proj, "time_projection.1", 6 * dim, dim));
  TRY (load_tensor (l, &d->head_modulation, "head.modulation", 3, head_mod_shape));
  TRY (load_linear (l, &d->head, "head.head", 4 * (int64_t) c->out_dim, dim));
  for (int i = 0; i < c->num_layers; i++)
    {
      TRY (rl_weight_set_begin_block (l->weights, i));
      TRY (load_block (l, &d->blocks[i], i));
      TRY (rl_weight_set_end_block (l->weights));
    }
  return rl_weight_set_finish (l->weights);
}

RlStatus
wan_dit_load (const RlBackend     *backend,
              RlContext           *ctx,
              RlSafetensors       *st,
              const WanDitConfig  *config,
              RlDType              act_dtype,
              WanDit             **out)
{
  return wan_dit_load_sharded (backend, ctx, st, config, act_dtype, NULL, out);
}

RlStatus
wan_dit_load_sharded (const RlBackend     *backend,
                      RlContext           *ctx,
                      RlSafetensors       *st,
                      const WanDitConfig  *config,
                      RlDType              act_dtype,
                      const RlFsdpOptions *fsdp,
                      WanDit             **out)
{
  WanDit *d = calloc (1, sizeof *d);
  Loader l = { .dit = d };
  RlStatus s;

  *out = NULL;
  if (d == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "wan: out of memory");
  d->config = *config;
  d->backend = backend;
  d->ops = backend->ops;
  d->ctx = ctx;
  d->act_dtype = act_dtype;
  d->blocks = calloc ((size_t) config->num_layers, sizeof *d->blocks);
  s = d->blocks ? rl_weight_set_new (backend, ctx, st, config->prefix, config->variant, &d->weights)
                : rl_set_error (RL_E_NO_MEMORY, "wan: out of memory");
  if (s == RL_OK && fsdp != NULL)
    s = rl_weight_set_shard_blocks (d->weights, fsdp);
  if (s == RL_OK)
    s = rl_weight_set_store_matrices_as (d->weights, config->matrix_dtype);
  if (s == RL_OK)
    {
      l.weights = d->weights;
      s = load_all (&l);
    }
  if (s < 0)
    {
      wan_dit_free (d);
      return s;
    }
  *out = d;
  return RL_OK;
}

void
wan_dit_free (WanDit *d)
{
  if (d == NULL)
    return;
  rl_weight_set_free (d->weights);
  rl_tensor_release (&d->rope_cos);
  rl_tensor_release (&d->rope_sin);
  free (d->blocks);
  free (d);
}

const WanDitConfig *
wan_dit_config (const WanDit *d)
{
  return &d->config;
}

uint64_t
wan_dit_weight_bytes (const WanDit *dit)
{
  return rl_weight_set_weight_bytes (dit->weights);
}

bool
wan_dit_fsdp_stats (const WanDit *d,
                    RlFsdpStats  *out)
{
  return rl_weight_set_fsdp_stats (d->weights, out);
}

void
wan_dit_set_parallel (WanDit               *d,
                      const WanSeqParallel *parallel)
{
  const WanSeqParallel none = { 0 };

  if (parallel == NULL || parallel->sp == NULL || rl_comm_size (parallel->sp) < 2)
    parallel = &none;
  d->parallel = *parallel;
}

/* ------------------------------------------------------------ forward */

/* Activations of one forward, allocated once and reused by every block. */
typedef struct {
  int64_t   B, L, Lc, F, Hp, Wp;
  int64_t   L_full;      /* tokens of the whole grid; L is this rank's part */
  RlSeqSplit split;      /* this rank's part (one part when not parallel) */
  RlTensor x;          /* f32 [B, L, dim]  residual stream */
  RlTensor h;          /* act [B, L, dim]  normalised input of a sub-block */
  RlTensor q, k, v;    /* act [B, L, dim] */
  RlTensor attn;       /* act [B, L, dim] */
  RlTensor proj;       /* act [B, L, dim]  output projection */
  RlTensor ffn;        /* act [B, L, ffn_dim] */
  RlTensor ctx;        /* act [B, Lc, dim] embedded text */
  RlTensor ctx_hidden; /* act [B, Lc, dim] */
  RlTensor ck, cv;     /* act [B, Lc, dim] */
  RlTensor e;          /* f32 [B, dim]     time embedding */
  RlTensor e0;         /* f32 [B, 6, dim]  time projection */
  RlTensor mod;        /* f32 [B, 6, dim]  block modulation */
  RlTensor head_mod;   /* f32 [B, 2, dim] */
  RlTensor rope_cos, rope_sin;   /* f32 [L, 64] on the device */
} Activations;

static RlStatus
alloc_act (WanDit     *d,
           RlTensor   *t,
           RlDType     dtype,
           int         ndim,
           int64_t     a,
           int64_t     b,
           int64_t     c)
{
  const int64_t shape[3] = { a, b, c };

  return rl_tensor_alloc (t, d->backend->context_allocator (d->ctx), dtype, ndim, shape);
}

static void
release_activations (Activations *a)
{
  RlTensor *all[] = { &a->x, &a->h, &a->q, &a->k, &a->v, &a->attn, &a->proj, &a->ffn, &a->ctx, &a->ctx_hidden, &a->ck, &a->cv, &a->e, &a->e0, &a->mod, &a->head_mod, &a->rope_cos, &a->rope_sin };

  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    rl_tensor_release (all[i]);
}

static RlStatus
alloc_activations (WanDit      *d,
                   Activations *a)
{
  const WanDitConfig *c = &d->config;
  const RlDType act = d->act_dtype;

  TRY (alloc_act (d, &a->x, RL_F32, 3, a->B, a->L, c->dim));
  TRY (alloc_act (d, &a->h, act, 3, a->B, a->L, c->dim));
  TRY (alloc_act (d, &a->q, act, 3, a->B, a->L, c->dim));
  TRY (alloc_act (d, &a->k, act, 3, a->B, a->L, c->dim));
  TRY (alloc_act (d, &a->v, act, 3, a->B, a->L, c->dim));
  TRY (alloc_act (d, &a->attn, act, 3, a->B, a->L, c->dim));
  TRY (alloc_act (d, &a->proj, act, 3, a->B, a->L, c->dim));
  TRY (alloc_act (d, &a->ffn, act, 3, a->B, a->L, c->ffn_dim));
  TRY (alloc_act (d, &a->ctx, act, 3, a->B, a->Lc, c->dim));
  TRY (alloc_act (d, &a->ctx_hidden, act, 3, a->B, a->Lc, c->dim));
  TRY (alloc_act (d, &a->ck, act, 3, a->B, a->Lc, c->dim));
  TRY (alloc_act (d, &a->cv, act, 3, a->B, a->Lc, c->dim));
  TRY (alloc_act (d, &a->e, RL_F32, 2, a->B, c->dim, 1));
  TRY (alloc_act (d, &a->e0, RL_F32, 3, a->B, 6, c->dim));
  TRY (alloc_act (d, &a->mod, RL_F32, 3, a->B, 6, c->dim));
  TRY (alloc_act (d, &a->head_mod, RL_F32, 3, a->B, 2, c->dim));
  return RL_OK;
}

/* Chunk `index` of a [B, n, dim] modulation as a [B, 1, dim] view. */
static RlStatus
mod_chunk (RlTensor       *out,
           const RlTensor *mod,
           int             index)
{
  return rl_tensor_narrow (out, mod, 1, index, 1);
}

/* [B, L, dim] viewed as [B, L, heads, head_dim]. */
static RlStatus
as_heads (RlTensor       *out,
          const RlTensor *t,
          int             heads)
{
  const int64_t shape[4] = { t->shape[0], t->shape[1], heads, WAN_HEAD_DIM };

  return rl_tensor_reshape (out, t, 4, shape);
}

static RlStatus
linear (WanDit          *d,
        RlTensor        *y,
        const RlTensor  *x,
        const WanLinear *lin,
        RlActivation     act)
{
  return d->ops->gemm (d->ctx, y, x, &lin->weight, &lin->bias, act);
}

/* sinusoidal_embedding_1d: [cos(t·f_k), sin(t·f_k)], f_k = 10000^(−k/half),
 * in fp32 as ComfyUI computes it, then uploaded. */
static RlStatus
time_embedding (WanDit      *d,
                Activations *a,
                const float *timestep)
{
  const WanDitConfig *c = &d->config;
  const int half = c->freq_dim / 2;
  const int64_t shape[2] = { a->B, c->freq_dim };
  float *host = malloc (sizeof (float) * (size_t) (a->B * c->freq_dim));
  RlTensor host_t = { 0 }, sinusoid = { 0 }, hidden = { 0 }, silu_e = { 0 }, e0_flat = { 0 };
  RlStatus s;

  if (host == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "wan: out of memory");
  for (int64_t b = 0; b < a->B; b++)
    for (int k = 0; k < half; k++)
      {
        float freq = powf (10000.0f, -(float) k / (float) half);
        float angle = timestep[b] * freq;
        host[b * c->freq_dim + k] = cosf (angle);
        host[b * c->freq_dim + half + k] = sinf (angle);
      }
  s = rl_tensor_wrap (&host_t, host, rl_device_cpu (), RL_F32, 2, shape, NULL, NULL);
  if (s == RL_OK)
    s = alloc_act (d, &sinusoid, RL_F32, 2, a->B, c->freq_dim, 1);
  if (s == RL_OK)
    {
      s = d->backend->transfer (d->ctx, &sinusoid, &host_t);
      if (s == RL_OK)
        s = alloc_act (d, &hidden, RL_F32, 2, a->B, c->dim, 1);
      if (s == RL_OK)
        {
          /* e = time_embedding.2(SiLU(time_embedding.0(s))) */
          s = linear (d, &hidden, &sinusoid, &d->time0, RL_ACT_SILU);
          if (s == RL_OK)
            s = linear (d, &a->e, &hidden, &d->time2, RL_ACT_NONE);
          /* e0 = time_projection.1(SiLU(e)) as [B, 6, dim] */
          if (s == RL_OK)
            s = d->ops->activation (d->ctx, &hidden, &a->e, RL_ACT_SILU);
          if (s == RL_OK)
            {
              const int64_t flat[2] = { a->B, 6 * (int64_t) c->dim };
              s = rl_tensor_reshape (&e0_flat, &a->e0, 2, flat);
              if (s == RL_OK)
                {
                  silu_e = hidden;
                  s = linear (d, &e0_flat, &silu_e, &d->time_proj, RL_ACT_NONE);
                  rl_tensor_release (&e0_flat);
                }
            }
          rl_tensor_release (&hidden);
        }
      rl_tensor_release (&sinusoid);
    }
  free (host);
  return s;
}

/* c = text_embedding.2(GELU_tanh(text_embedding.0(context))) */
static RlStatus
text_embedding (WanDit          *d,
                Activations     *a,
                const RlTensor  *context)
{
  TRY (linear (d, &a->ctx_hidden, context, &d->text0, RL_ACT_GELU_TANH));
  return linear (d, &a->ctx, &a->ctx_hidden, &d->text2, RL_ACT_NONE);
}

/* The residual stream of this rank: its part of all tokens [B, L_full,
 * dim] by the split rule, padding rows zero. */
static RlStatus
take_local_tokens (WanDit         *d,
                   Activations    *a,
                   const RlTensor *tokens)
{
  RlTensor full = { 0 };
  RlStatus s = alloc_act (d, &full, RL_F32, 3, a->B, a->L_full, d->config.dim);

  if (s == RL_OK)
    s = d->ops->copy (d->ctx, &full, tokens);
  if (s == RL_OK)
    s = rl_seq_split_take (d->backend, d->ctx, &a->x, &full, &a->split);
  rl_tensor_release (&full);
  return s;
}

/* x [B, C, T, H, W] → tokens [B, L, dim] through the (1, 2, 2) patch conv,
 * padding odd H/W circularly first (pad_to_patch_size). */
static RlStatus
patch_embed (WanDit          *d,
             Activations     *a,
             const RlTensor  *x)
{
  const WanDitConfig *c = &d->config;
  const int64_t B = x->shape[0], T = x->shape[2], H = x->shape[3], W = x->shape[4];
  const int64_t Hpad = a->Hp * 2, Wpad = a->Wp * 2;
  RlAllocator *alloc = d->backend->context_allocator (d->ctx);
  RlTensor padded = { 0 }, conv = { 0 }, flat = { 0 }, tokens = { 0 };
  const RlTensor *src = x;
  RlConvParams params = { .stride = { WAN_PATCH_T, WAN_PATCH_H, WAN_PATCH_W } };
  RlStatus s = RL_OK;

  if (Hpad != H || Wpad != W)
    {
      const int64_t shape[5] = { B, c->in_dim, T, Hpad, Wpad };
      const int64_t before[5] = { 0 }, after[5] = { 0, 0, 0, Hpad - H, Wpad - W };
      s = rl_tensor_alloc (&padded, alloc, RL_F32, 5, shape);
      if (s == RL_OK)
        s = d->ops->pad (d->ctx, &padded, x, before, after, RL_PAD_CIRCULAR, 0.0f);
      src = &padded;
    }
  if (s == RL_OK)
    {
      const int64_t shape[5] = { B, c->dim, T, a->Hp, a->Wp };
      s = rl_tensor_alloc (&conv, alloc, RL_F32, 5, shape);
    }
  if (s == RL_OK)
    s = d->ops->conv3d (d->ctx, &conv, src, &d->patch_weight, &d->patch_bias, &params);
  if (s == RL_OK)
    {
      const int64_t shape[3] = { B, c->dim, a->L_full };
      s = rl_tensor_reshape (&flat, &conv, 3, shape);
    }
  if (s == RL_OK)
    s = rl_tensor_transpose (&tokens, &flat, 1, 2);
  if (s == RL_OK && d->parallel.sp == NULL)
    s = d->ops->copy (d->ctx, &a->x, &tokens);
  else if (s == RL_OK)
    s = take_local_tokens (d, a, &tokens);
  rl_tensor_release (&tokens);
  rl_tensor_release (&flat);
  rl_tensor_release (&conv);
  rl_tensor_release (&padded);
  return s;
}

/* RoPE tables for this rank's tokens of the (F, Hp, Wp) grid (from the
 * split's offset; padding tokens get the identity), axes {44, 42, 42} of
 * head_dim 128, built on the host and moved to the device into d's
 * cache. */
static RlStatus
build_rope_tables (WanDit      *d,
                   Activations *a)
{
  const int axes[3] = { WAN_HEAD_DIM - 4 * (WAN_HEAD_DIM / 6), 2 * (WAN_HEAD_DIM / 6), 2 * (WAN_HEAD_DIM / 6) };
  const int64_t grid[3] = { a->F, a->Hp, a->Wp };
  const int64_t shape[2] = { a->L, WAN_HEAD_DIM / 2 };
  const size_t bytes = sizeof (float) * (size_t) (a->L * (WAN_HEAD_DIM / 2));
  float *cos_host = malloc (bytes), *sin_host = malloc (bytes);
  RlTensor host_cos = { 0 }, host_sin = { 0 };
  RlStatus s = RL_OK;

  if (cos_host == NULL || sin_host == NULL)
    s = rl_set_error (RL_E_NO_MEMORY, "wan: out of memory for RoPE tables");
  if (s == RL_OK)
    s = rl_tensor_wrap (&host_cos, cos_host, rl_device_cpu (), RL_F32, 2, shape, NULL, NULL);
  if (s == RL_OK)
    s = rl_tensor_wrap (&host_sin, sin_host, rl_device_cpu (), RL_F32, 2, shape, NULL, NULL);
  if (s == RL_OK)
    s = rl_rope_table_3d (&host_cos, &host_sin, 3, axes, grid, a->split.offset, 10000.0);
  if (s == RL_OK)
    s = alloc_act (d, &d->rope_cos, RL_F32, 2, a->L, WAN_HEAD_DIM / 2, 1);
  if (s == RL_OK)
    s = alloc_act (d, &d->rope_sin, RL_F32, 2, a->L, WAN_HEAD_DIM / 2, 1);
  if (s == RL_OK)
    s = d->backend->transfer (d->ctx, &d->rope_cos, &host_cos);
  if (s == RL_OK)
    s = d->backend->transfer (d->ctx, &d->rope_sin, &host_sin);
  free (cos_host);
  free (sin_host);
  return s;
}

/* a's RoPE tables: references to d's cache, rebuilt when the grid, the
 * split or the length changed since the last forward. */
static RlStatus
rope_tables (WanDit      *d,
             Activations *a)
{
  const int64_t key[5] = { a->F, a->Hp, a->Wp, a->split.offset, a->L };

  if (d->rope_cos.data == NULL || memcmp (key, d->rope_key, sizeof key) != 0)
    {
      rl_tensor_release (&d->rope_cos);
      rl_tensor_release (&d->rope_sin);
      TRY (build_rope_tables (d, a));
      memcpy (d->rope_key, key, sizeof key);
    }
  TRY (rl_tensor_view (&a->rope_cos, &d->rope_cos));
  return rl_tensor_view (&a->rope_sin, &d->rope_sin);
}

/* Attention over the whole video sequence: local, or USP over the ranks
 * (this rank's queries against every real key of every rank). */
static RlStatus
attend_sequence (WanDit         *d,
                 Activations    *a,
                 RlTensor       *out,
                 const RlTensor *q,
                 const RlTensor *k,
                 const RlTensor *v)
{
  const float scale = 1.0f / sqrtf ((float) WAN_HEAD_DIM);
  RlUspAttention usp = { d->parallel.ulysses, d->parallel.ring, a->L_full, false };

  if (d->parallel.sp == NULL)
    return d->ops->attention (d->ctx, out, NULL, q, k, v, scale);
  return rl_usp_attention (d->backend, d->ctx, &usp, out, q, k, v, scale);
}

/* Self-attention: x += o(attn(rope(norm_q(q h)), rope(norm_k(k h)), v h)) · m2,
 * h = LayerNorm(x)·(1 + m1) + m0. */
static RlStatus
self_attention (WanDit         *d,
                Activations    *a,
                const WanBlock *b)
{
  const WanDitConfig *c = &d->config;
  const RlTokenGroups groups = { 0 };
  RlTensor shift = { 0 }, scale = { 0 }, gate = { 0 }, qh = { 0 }, kh = { 0 }, vh = { 0 }, oh = { 0 };
  RlStatus s;

  TRY (mod_chunk (&shift, &a->mod, 0));
  TRY (mod_chunk (&scale, &a->mod, 1));
  TRY (mod_chunk (&gate, &a->mod, 2));
  s = d->ops->norm_modulate (d->ctx, &a->h, &a->x, RL_NORM_LAYER, NULL, NULL, c->eps,
                             &shift, &scale, groups);
  if (s == RL_OK) s = linear (d, &a->q, &a->h, &b->q, RL_ACT_NONE);
  if (s == RL_OK) s = linear (d, &a->k, &a->h, &b->k, RL_ACT_NONE);
  if (s == RL_OK) s = linear (d, &a->v, &a->h, &b->v, RL_ACT_NONE);
  if (s == RL_OK) s = d->ops->rms_norm (d->ctx, &a->q, &a->q, &b->norm_q, c->eps);
  if (s == RL_OK) s = d->ops->rms_norm (d->ctx, &a->k, &a->k, &b->norm_k, c->eps);
  if (s == RL_OK)
    {
      s = as_heads (&qh, &a->q, c->num_heads);
      if (s == RL_OK) s = as_heads (&kh, &a->k, c->num_heads);
      if (s == RL_OK) s = as_heads (&vh, &a->v, c->num_heads);
      if (s == RL_OK) s = as_heads (&oh, &a->attn, c->num_heads);
      if (s == RL_OK) s = d->ops->rope (d->ctx, &qh, &qh, &a->rope_cos, &a->rope_sin);
      if (s == RL_OK) s = d->ops->rope (d->ctx, &kh, &kh, &a->rope_cos, &a->rope_sin);
      if (s == RL_OK)
        s = attend_sequence (d, a, &oh, &qh, &kh, &vh);
      rl_tensor_release (&qh);
      rl_tensor_release (&kh);
      rl_tensor_release (&vh);
      rl_tensor_release (&oh);
    }
  if (s == RL_OK) s = linear (d, &a->proj, &a->attn, &b->o, RL_ACT_NONE);
  if (s == RL_OK) s = d->ops->gated_residual (d->ctx, &a->x, &a->proj, &gate, groups);
  rl_tensor_release (&shift);
  rl_tensor_release (&scale);
  rl_tensor_release (&gate);
  return s;
}

/* Text cross-attention, no modulation and no gate:
 * x += o(attn(norm_q(q h), norm_k(k c), v c)), h = LayerNorm_affine(x). */
static RlStatus
cross_attention (WanDit         *d,
                 Activations    *a,
                 const WanBlock *b)
{
  const WanDitConfig *c = &d->config;
  const RlTokenGroups groups = { 0 };
  RlTensor qh = { 0 }, kh = { 0 }, vh = { 0 }, oh = { 0 };
  RlStatus s;

  TRY (d->ops->layer_norm (d->ctx, &a->h, &a->x, &b->norm3_weight, &b->norm3_bias, c->eps));
  TRY (linear (d, &a->q, &a->h, &b->cq, RL_ACT_NONE));
  TRY (linear (d, &a->ck, &a->ctx, &b->ck, RL_ACT_NONE));
  TRY (linear (d, &a->cv, &a->ctx, &b->cv, RL_ACT_NONE));
  TRY (d->ops->rms_norm (d->ctx, &a->q, &a->q, &b->cnorm_q, c->eps));
  TRY (d->ops->rms_norm (d->ctx, &a->ck, &a->ck, &b->cnorm_k, c->eps));

  s = as_heads (&qh, &a->q, c->num_heads);
  if (s == RL_OK) s = as_heads (&kh, &a->ck, c->num_heads);
  if (s == RL_OK) s = as_heads (&vh, &a->cv, c->num_heads);
  if (s == RL_OK) s = as_heads (&oh, &a->attn, c->num_heads);
  if (s == RL_OK)
    s = d->ops->attention (d->ctx, &oh, NULL, &qh, &kh, &vh, 1.0f / sqrtf ((float) WAN_HEAD_DIM));
  rl_tensor_release (&qh);
  rl_tensor_release (&kh);
  rl_tensor_release (&vh);
  rl_tensor_release (&oh);
  if (s == RL_OK) s = linear (d, &a->proj, &a->attn, &b->co, RL_ACT_NONE);
  if (s == RL_OK) s = d->ops->gated_residual (d->ctx, &a->x, &a->proj, NULL, groups);
  return s;
}

/* x += ffn.2(GELU_tanh(ffn.0(h))) · m5, h = LayerNorm(x)·(1 + m4) + m3. */
static RlStatus
feed_forward (WanDit         *d,
              Activations    *a,
              const WanBlock *b)
{
  const WanDitConfig *c = &d->config;
  const RlTokenGroups groups = { 0 };
  RlTensor shift = { 0 }, scale = { 0 }, gate = { 0 };
  RlStatus s;

  TRY (mod_chunk (&shift, &a->mod, 3));
  TRY (mod_chunk (&scale, &a->mod, 4));
  TRY (mod_chunk (&gate, &a->mod, 5));
  s = d->ops->norm_modulate (d->ctx, &a->h, &a->x, RL_NORM_LAYER, NULL, NULL, c->eps,
                             &shift, &scale, groups);
  if (s == RL_OK) s = linear (d, &a->ffn, &a->h, &b->ffn0, RL_ACT_GELU_TANH);
  if (s == RL_OK) s = linear (d, &a->proj, &a->ffn, &b->ffn2, RL_ACT_NONE);
  if (s == RL_OK) s = d->ops->gated_residual (d->ctx, &a->x, &a->proj, &gate, groups);
  rl_tensor_release (&shift);
  rl_tensor_release (&scale);
  rl_tensor_release (&gate);
  return s;
}

static RlStatus
block_forward (WanDit         *d,
               Activations    *a,
               const WanBlock *b,
               int             index)
{
  RlStatus s;

  /* mod = block.modulation [1, 6, dim] + e0 [B, 6, dim] */
  s = d->ops->add (d->ctx, &a->mod, &b->modulation, &a->e0, 1.0f, 1.0f);
  if (s == RL_OK) s = self_attention (d, a, b);
  if (s == RL_OK) s = cross_attention (d, a, b);
  if (s == RL_OK) s = feed_forward (d, a, b);
  if (s < 0)
    return rl_prefix_error (s, "wan block %d: ", index);
  return RL_OK;
}

/* Scatters head features y [B, L, 4·C] (patch order ((pt·2 + ph)·2 + pw)·C
 * + c) into full [B, C, T, 2Hp, 2Wp]. Per (b, f) the tokens [Hp, Wp] ×
 * features [2, 2, C] land in full[b, :, f] seen as [C, Hp, 2, Wp, 2]:
 * five dims, within the view limit. */
static RlStatus
unpatchify (WanDit      *d,
            Activations *a,
            RlTensor    *y,
            RlTensor    *full)
{
  const int64_t C = d->config.out_dim, T = a->F, H2 = 2 * a->Hp, W2 = 2 * a->Wp;
  const int64_t src_shape[5] = { a->Hp, a->Wp, 2, 2, C };
  const int src_perm[5] = { 4, 0, 2, 1, 3 };
  const int64_t dst_shape[5] = { C, a->Hp, 2, a->Wp, 2 };
  const int64_t dst_strides[5] = { T * H2 * W2, 2 * W2, W2, 2, 1 };
  RlStatus s = RL_OK;

  for (int64_t b = 0; s == RL_OK && b < a->B; b++)
    for (int64_t f = 0; s == RL_OK && f < a->F; f++)
      {
        RlTensor src = { 0 }, perm = { 0 }, dst = { 0 };
        float *y_at = (float *) y->data + (b * a->L_full + f * a->Hp * a->Wp) * 4 * C;
        float *full_at = (float *) full->data + (b * C * T + f) * H2 * W2;

        s = rl_tensor_wrap (&src, y_at, y->device, RL_F32, 5, src_shape, NULL, y->storage);
        if (s == RL_OK)
          s = rl_tensor_permute (&perm, &src, src_perm);
        if (s == RL_OK)
          s = rl_tensor_wrap (&dst, full_at, full->device, RL_F32, 5, dst_shape, dst_strides,
                              full->storage);
        if (s == RL_OK)
          s = d->ops->copy (d->ctx, &dst, &perm);
        rl_tensor_release (&dst);
        rl_tensor_release (&perm);
        rl_tensor_release (&src);
      }
  return s;
}

/* y f32 [B, L_full, 4·out_dim] = head(h) of every token: this rank's
 * part, gathered from every rank when parallel (padding dropped). */
static RlStatus
head_tokens (WanDit      *d,
             Activations *a,
             RlTensor    *y)
{
  const int64_t features = 4 * (int64_t) d->config.out_dim;
  RlTensor local = { 0 };
  RlStatus s;

  if (d->parallel.sp == NULL)
    {
      TRY (alloc_act (d, y, RL_F32, 3, a->B, a->L, features));
      return linear (d, y, &a->h, &d->head, RL_ACT_NONE);
    }
  s = alloc_act (d, &local, RL_F32, 3, a->B, a->L, features);
  if (s == RL_OK)
    s = linear (d, &local, &a->h, &d->head, RL_ACT_NONE);
  if (s == RL_OK)
    s = alloc_act (d, y, RL_F32, 3, a->B, a->L_full, features);
  if (s == RL_OK)
    s = rl_seq_split_gather (d->backend, d->ctx, d->parallel.sp, y, &local, &a->split);
  rl_tensor_release (&local);
  return s;
}

/* y = head(LayerNorm(x)·(1 + hm1) + hm0), hm = head.modulation + e; then
 * the patches back into [B, out_dim, T, H, W], cropping the padding that
 * pad_to_patch_size added for odd H or W. */
static RlStatus
head_and_unpatchify (WanDit      *d,
                     Activations *a,
                     RlTensor    *out)
{
  const WanDitConfig *c = &d->config;
  const RlTokenGroups groups = { 0 };
  const int64_t C = c->out_dim, H = out->shape[3], W = out->shape[4];
  const bool padded = (2 * a->Hp != H) || (2 * a->Wp != W);
  RlTensor e3 = { 0 }, shift = { 0 }, scale = { 0 }, y = { 0 }, full = { 0 }, crop = { 0 };
  RlStatus s;

  {
    const int64_t shape[3] = { a->B, 1, c->dim };
    TRY (rl_tensor_reshape (&e3, &a->e, 3, shape));
  }
  s = d->ops->add (d->ctx, &a->head_mod, &d->head_modulation, &e3, 1.0f, 1.0f);
  rl_tensor_release (&e3);
  if (s < 0)
    return s;
  TRY (mod_chunk (&shift, &a->head_mod, 0));
  TRY (mod_chunk (&scale, &a->head_mod, 1));
  s = d->ops->norm_modulate (d->ctx, &a->h, &a->x, RL_NORM_LAYER, NULL, NULL, c->eps,
                             &shift, &scale, groups);
  rl_tensor_release (&shift);
  rl_tensor_release (&scale);
  if (s == RL_OK)
    s = head_tokens (d, a, &y);

  if (s == RL_OK && !padded)
    s = unpatchify (d, a, &y, out);
  else if (s == RL_OK)
    {
      const int64_t shape[5] = { a->B, C, a->F, 2 * a->Hp, 2 * a->Wp };
      s = rl_tensor_alloc (&full, d->backend->context_allocator (d->ctx), RL_F32, 5, shape);
      if (s == RL_OK) s = unpatchify (d, a, &y, &full);
      if (s == RL_OK) s = rl_tensor_narrow (&crop, &full, 3, 0, H);
      if (s == RL_OK) s = rl_tensor_narrow (&crop, &crop, 4, 0, W);
      if (s == RL_OK) s = d->ops->copy (d->ctx, out, &crop);
    }
  rl_tensor_release (&crop);
  rl_tensor_release (&full);
  rl_tensor_release (&y);
  return s;
}

RlStatus
wan_dit_forward (WanDit          *d,
                 const RlTensor  *x,
                 const float     *timestep,
                 const RlTensor  *context,
                 RlTensor        *out)
{
  const WanDitConfig *c = &d->config;
  Activations a = { 0 };
  RlStatus s;

  if (x->ndim != 5 || x->shape[1] != c->in_dim || x->dtype != RL_F32)
    return rl_set_error (RL_E_SHAPE, "wan: latent must be f32 [B, %d, T, H, W]", c->in_dim);
  if (context->ndim != 3 || context->shape[0] != x->shape[0] || context->shape[2] != c->text_dim)
    return rl_set_error (RL_E_SHAPE, "wan: text context must be [B, L, %d] with the latent's batch",
                         c->text_dim);
  if (out->ndim != 5 || out->shape[0] != x->shape[0] || out->shape[1] != c->out_dim ||
      out->shape[2] != x->shape[2] || out->shape[3] != x->shape[3] || out->shape[4] != x->shape[4] ||
      out->dtype != RL_F32 || !rl_tensor_is_contiguous (out))
    return rl_set_error (RL_E_SHAPE, "wan: output must be contiguous f32 [B, %d, T, H, W] like the latent",
                         c->out_dim);

  a.B = x->shape[0];
  a.F = x->shape[2];
  a.Hp = (x->shape[3] + 1) / 2;
  a.Wp = (x->shape[4] + 1) / 2;
  a.L_full = a.F * a.Hp * a.Wp;
  a.Lc = context->shape[1];
  {
    RlComm *sp = d->parallel.sp;
    s = rl_seq_split (a.L_full, sp ? rl_comm_size (sp) : 1, sp ? rl_comm_rank (sp) : 0, &a.split);
    if (s < 0)
      return s;
  }
  a.L = a.split.local_length;

  /* Sharded blocks: block 0's gather overlaps the embeddings. */
  s = rl_weight_set_prefetch_block (d->weights, 0);
  if (s == RL_OK) s = alloc_activations (d, &a);
  if (s == RL_OK) s = rope_tables (d, &a);
  if (s == RL_OK) s = patch_embed (d, &a, x);
  if (s == RL_OK) s = time_embedding (d, &a, timestep);
  if (s == RL_OK) s = text_embedding (d, &a, context);
  for (int i = 0; s == RL_OK && i < c->num_layers; i++)
    {
      s = rl_weight_set_acquire_block (d->weights, i);
      if (s == RL_OK) s = block_forward (d, &a, &d->blocks[i], i);
      if (s == RL_OK) s = rl_weight_set_release_block (d->weights, i);
    }
  {
    RlStatus idle = rl_weight_set_blocks_idle (d->weights);
    if (s == RL_OK) s = idle;
  }
  if (s == RL_OK) s = head_and_unpatchify (d, &a, out);
  release_activations (&a);
  return s;
}
