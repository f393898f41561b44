/* USP attention: Ulysses all-to-all around ring attention (usp-attention.h). */
#include "workers/parallel/usp-attention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/parallel/parallel-util.h"
#include "workers/parallel/ring-attention.h"
#include "workers/runtime/op-profile.h"

RlStatus
rl_usp_groups_new (RlComm *sp, int ulysses_degree, int ring_degree,
                   RlComm **ulysses, RlComm **ring)
{
  RlStatus status;

  if (sp == NULL || ulysses == NULL || ring == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "USP groups: communicator and outputs are required");
  *ulysses = NULL;
  *ring = NULL;
  if (ulysses_degree < 1 || ring_degree < 1
      || ulysses_degree * ring_degree != rl_comm_size (sp))
    return rl_set_error (RL_E_INVALID_ARG, "USP groups: Ulysses degree %d × ring "
                         "degree %d must equal the %d ranks of the group",
                         ulysses_degree, ring_degree, rl_comm_size (sp));
  int s = rl_comm_rank (sp);
  /* Rows of the mesh (consecutive ranks) are Ulysses groups, columns rings. */
  if (ulysses_degree > 1
      && (status = rl_comm_split_exchange (sp, s / ulysses_degree, s % ulysses_degree,
                                           ulysses)) != RL_OK)
    return status;
  if (ring_degree > 1
      && (status = rl_comm_split (sp, s % ulysses_degree, s / ulysses_degree, ring)) != RL_OK) {
    rl_comm_free (*ulysses);
    *ulysses = NULL;
    return status;
  }
  return RL_OK;
}

/* [B, Lloc, U, Hu, X] views of a [B, Lloc, H, X] tensor and [B, U, Lloc,
 * Hu, X] views of a [B, U·Lloc, Hu, X] tensor, permuted to the wire
 * order [U, B, Lloc, Hu, X]. */
static RlStatus
wire_view_of_tokens (RlTensor *view, const RlTensor *t, int u)
{
  int64_t shape[5] = { t->shape[0], t->shape[1], u, t->shape[2] / u, t->shape[3] };
  static const int perm[5] = { 2, 0, 1, 3, 4 };
  RlStatus status = rl_tensor_reshape (view, t, 5, shape);
  return status != RL_OK ? status : rl_tensor_permute (view, view, perm);
}

static RlStatus
wire_view_of_heads (RlTensor *view, const RlTensor *t, int u)
{
  int64_t shape[5] = { t->shape[0], u, t->shape[1] / u, t->shape[2], t->shape[3] };
  static const int perm[5] = { 1, 0, 2, 3, 4 };
  RlStatus status = rl_tensor_reshape (view, t, 5, shape);
  return status != RL_OK ? status : rl_tensor_permute (view, view, perm);
}

/* dst_view (wire order) = all-to-all of src_view (wire order). A side
 * whose wire view is already contiguous (the head-split side when B = 1)
 * is sent from or received into in place; the other is copied, since each
 * destination's part must be one piece: through `src_staging` /
 * `dst_staging` when given (the token-split side's place in the exchange
 * window, where the head-split tensors also live, so that the copy engines
 * move the data), else through a buffer of its own. */
static RlStatus
exchange (const RlBackend *backend, RlContext *ctx, RlComm *comm, RlTensor *dst_view,
          const RlTensor *src_view, const RlTensor *src_staging, const RlTensor *dst_staging)
{
  RlTensor send = { 0 }, recv = { 0 };
  bool recv_in_place = rl_tensor_is_contiguous (dst_view);
  RlStatus status;

  if (rl_tensor_is_contiguous (src_view))
    status = rl_tensor_view (&send, src_view);
  else if (src_staging == NULL)
    status = pl_contiguous (backend, ctx, &send, src_view);
  else if ((status = rl_tensor_wrap (&send, src_staging->data, src_staging->device,
                                     src_view->dtype, src_view->ndim, src_view->shape,
                                     NULL, NULL)) == RL_OK)
    status = backend->ops->copy (ctx, &send, src_view);

  if (status == RL_OK)
    {
      if (recv_in_place)
        status = rl_tensor_view (&recv, dst_view);
      else if (dst_staging != NULL)
        status = rl_tensor_wrap (&recv, dst_staging->data, dst_staging->device, send.dtype, 5,
                                 send.shape, NULL, NULL);
      else
        status = pl_alloc (backend, ctx, &recv, send.dtype, 5, send.shape);
    }
  if (status == RL_OK)
    {
      /* Under RAYLIGHT_OP_PROFILE the exchange gets a row of its own. */
      double t0 = rl_op_profile_active () ? rl_op_profile_clock_ms () : 0.0;
      status = rl_comm_all_to_all (comm, &recv, &send);
      if (rl_op_profile_active ())
        rl_op_profile_add ("ulysses all_to_all", rl_op_profile_clock_ms () - t0);
    }
  if (status == RL_OK && !recv_in_place)
    status = backend->ops->copy (ctx, dst_view, &recv);
  rl_tensor_release (&send);
  rl_tensor_release (&recv);
  return status;
}

static RlStatus
check_exchange (const char *op, RlComm *comm, const RlTensor *tokens,
                const RlTensor *heads)
{
  char a[RL_TENSOR_DESCRIBE_SIZE], b[RL_TENSOR_DESCRIBE_SIZE];
  int u = comm != NULL ? rl_comm_size (comm) : 0;

  if (u < 1 || tokens == NULL || heads == NULL || tokens->ndim != 4 || heads->ndim != 4
      || tokens->dtype != heads->dtype || tokens->shape[2] % u != 0
      || heads->shape[0] != tokens->shape[0] || heads->shape[1] != tokens->shape[1] * u
      || heads->shape[2] != tokens->shape[2] / u || heads->shape[3] != tokens->shape[3])
    return rl_set_error (RL_E_SHAPE, "%s: token-split %s and head-split %s must be "
                         "[B, L, H, D] and [B, %d·L, H/%d, D], same dtype",
                         op, tokens != NULL ? rl_tensor_describe (tokens, a, sizeof a) : "NULL",
                         heads != NULL ? rl_tensor_describe (heads, b, sizeof b) : "NULL", u, u);
  if (!rl_tensor_is_contiguous (tokens) || !rl_tensor_is_contiguous (heads))
    return rl_set_error (RL_E_NOT_CONTIGUOUS, "%s: tensors must be contiguous", op);
  return RL_OK;
}

static RlStatus
to_heads (const RlBackend *backend, RlContext *ctx, RlComm *ulysses,
          RlTensor *heads_split, const RlTensor *tokens_split, const RlTensor *staging)
{
  RlTensor src = { 0 }, dst = { 0 };
  RlStatus status;

  if ((status = pl_check_backend ("ulysses to heads", backend, ctx)) != RL_OK
      || (status = check_exchange ("ulysses to heads", ulysses, tokens_split, heads_split)) != RL_OK)
    return status;
  int u = rl_comm_size (ulysses);
  if ((status = wire_view_of_tokens (&src, tokens_split, u)) == RL_OK
      && (status = wire_view_of_heads (&dst, heads_split, u)) == RL_OK)
    status = exchange (backend, ctx, ulysses, &dst, &src, staging, NULL);
  rl_tensor_release (&src);
  rl_tensor_release (&dst);
  return status;
}

static RlStatus
to_tokens (const RlBackend *backend, RlContext *ctx, RlComm *ulysses,
           RlTensor *tokens_split, const RlTensor *heads_split, const RlTensor *staging)
{
  RlTensor src = { 0 }, dst = { 0 };
  RlStatus status;

  if ((status = pl_check_backend ("ulysses to tokens", backend, ctx)) != RL_OK
      || (status = check_exchange ("ulysses to tokens", ulysses, tokens_split, heads_split)) != RL_OK)
    return status;
  int u = rl_comm_size (ulysses);
  if ((status = wire_view_of_heads (&src, heads_split, u)) == RL_OK
      && (status = wire_view_of_tokens (&dst, tokens_split, u)) == RL_OK)
    status = exchange (backend, ctx, ulysses, &dst, &src, NULL, staging);
  rl_tensor_release (&src);
  rl_tensor_release (&dst);
  return status;
}

RlStatus
rl_ulysses_to_heads (const RlBackend *backend, RlContext *ctx, RlComm *ulysses,
                     RlTensor *heads_split, const RlTensor *tokens_split)
{
  return to_heads (backend, ctx, ulysses, heads_split, tokens_split, NULL);
}

RlStatus
rl_ulysses_to_tokens (const RlBackend *backend, RlContext *ctx, RlComm *ulysses,
                      RlTensor *tokens_split, const RlTensor *heads_split)
{
  return to_tokens (backend, ctx, ulysses, tokens_split, heads_split, NULL);
}

/* Zero heads appended to x [B, L, H, X] up to `heads`. */
static RlStatus
pad_heads (const RlBackend *backend, RlContext *ctx, RlTensor *out,
           const RlTensor *x, int64_t heads)
{
  int64_t shape[4] = { x->shape[0], x->shape[1], heads, x->shape[3] };
  int64_t before[4] = { 0, 0, 0, 0 }, after[4] = { 0, 0, heads - x->shape[2], 0 };
  RlStatus status = pl_alloc (backend, ctx, out, x->dtype, 4, shape);
  if (status == RL_OK
      && (status = backend->ops->pad (ctx, out, x, before, after, RL_PAD_CONSTANT, 0.0f)) != RL_OK)
    rl_tensor_release (out);
  return status;
}

/* Tensors carved one after another from the Ulysses group's exchange
 * window — the same shapes in the same order on every rank, so at the
 * same offsets, as symmetric memory needs — or, when the group has no
 * window, from the backend's allocator. */
typedef struct {
  const RlBackend *backend;
  RlContext       *ctx;
  char            *at;        /* next free byte of the window, or NULL */
  RlDevice         device;
} Carver;

static size_t
aligned_bytes (RlDType dtype, int ndim, const int64_t *shape)
{
  size_t bytes = rl_dtype_block_bytes (dtype);   /* plain types: one element */
  for (int d = 0; d < ndim; d++)
    bytes *= (size_t) shape[d];
  return (bytes + 255) & ~(size_t) 255;
}

/* Reserves the window for `bytes` of tensors; without one, the carver
 * allocates instead. */
static RlStatus
carver_init (Carver *c, const RlBackend *backend, RlContext *ctx, RlComm *ulysses, size_t bytes)
{
  void *window = NULL;
  RlStatus status = rl_comm_exchange_window (ulysses, bytes, &window);
  *c = (Carver) { backend, ctx, window, rl_comm_device (ulysses) };
  return status;
}

static RlStatus
carve (Carver *c, RlTensor *t, RlDType dtype, int ndim, const int64_t *shape)
{
  if (c->at == NULL)
    return pl_alloc (c->backend, c->ctx, t, dtype, ndim, shape);
  RlStatus status = rl_tensor_wrap (t, c->at, c->device, dtype, ndim, shape, NULL, NULL);
  c->at += aligned_bytes (dtype, ndim, shape);
  return status;
}

/* The head-split tensors of one in-line Ulysses attention and the
 * token-side staging (window only). */
typedef struct {
  RlTensor q, k, v, out, staging;
} HeadSplit;

static RlStatus
head_split_new (const RlBackend *backend, RlContext *ctx, RlComm *ulysses, HeadSplit *hs,
                const RlTensor *q, const RlTensor *k, const RlTensor *v, const RlTensor *out)
{
  int u = rl_comm_size (ulysses);
  int64_t b = q->shape[0], l = q->shape[1] * u, h = q->shape[2] / u;
  int64_t qs[4] = { b, l, h, q->shape[3] }, ks[4] = { b, l, h, k->shape[3] };
  int64_t vs[4] = { b, l, h, v->shape[3] };
  size_t staging = 0;
  const RlTensor *token_side[4] = { q, k, v, out };
  for (int i = 0; i < 4; i++) {
    size_t bytes = aligned_bytes (token_side[i]->dtype, 4, token_side[i]->shape);
    staging = bytes > staging ? bytes : staging;
  }
  size_t need = aligned_bytes (q->dtype, 4, qs) + aligned_bytes (k->dtype, 4, ks)
                + aligned_bytes (v->dtype, 4, vs) + aligned_bytes (out->dtype, 4, vs) + staging;
  Carver c;
  int64_t flat[1] = { (int64_t) staging };
  RlStatus status = carver_init (&c, backend, ctx, ulysses, need);
  if (status == RL_OK && (status = carve (&c, &hs->q, q->dtype, 4, qs)) == RL_OK
      && (status = carve (&c, &hs->k, k->dtype, 4, ks)) == RL_OK
      && (status = carve (&c, &hs->v, v->dtype, 4, vs)) == RL_OK
      && (status = carve (&c, &hs->out, out->dtype, 4, vs)) == RL_OK && c.at != NULL)
    status = carve (&c, &hs->staging, RL_U8, 1, flat);
  return status;
}

static void
head_split_release (HeadSplit *hs)
{
  rl_tensor_release (&hs->q);
  rl_tensor_release (&hs->k);
  rl_tensor_release (&hs->v);
  rl_tensor_release (&hs->out);
  rl_tensor_release (&hs->staging);
}

/* The wire view [U, B, Lloc, G, X] of the head group of G heads from
 * `first` of each rank's Hu, of a token-split tensor t [B, Lloc, U·Hu, X]. */
static RlStatus
wire_view_of_token_group (RlTensor *view, const RlTensor *t, int u, int64_t first,
                          int64_t group_heads)
{
  int64_t shape[5] = { t->shape[0], t->shape[1], u, t->shape[2] / u, t->shape[3] };
  static const int perm[5] = { 2, 0, 1, 3, 4 };
  RlStatus status = rl_tensor_reshape (view, t, 5, shape);
  if (status == RL_OK)
    status = rl_tensor_narrow (view, view, 3, first, group_heads);
  return status != RL_OK ? status : rl_tensor_permute (view, view, perm);
}

/* One head group of the pipelined Ulysses attention: its q, k, v packed in
 * wire order, received head-split, its attention output and the output's
 * way back. */
typedef struct {
  int64_t  first, count;   /* which of each rank's heads */
  RlTensor send[3];        /* q, k, v of the group, wire order, contiguous */
  RlTensor heads[3];       /* q, k, v [1, U·Lloc, G, X] */
  RlTensor heads_wire[3];  /* their wire views (contiguous: B = 1) */
  RlTensor out;            /* attention output [1, U·Lloc, G, X] */
  RlTensor out_wire;
  RlTensor back;           /* the output received token-split, wire order */
} HeadGroup;

static void
head_group_release (HeadGroup *g)
{
  for (int t = 0; t < 3; t++)
    {
      rl_tensor_release (&g->send[t]);
      rl_tensor_release (&g->heads[t]);
      rl_tensor_release (&g->heads_wire[t]);
    }
  rl_tensor_release (&g->out);
  rl_tensor_release (&g->out_wire);
  rl_tensor_release (&g->back);
}

/* Bytes of one group's tensors in the window (as head_group_prepare
 * carves them). */
static size_t
head_group_bytes (int u, int64_t group_heads, const RlTensor *const qkv[3], RlDType out_dtype)
{
  size_t bytes = 0;
  for (int t = 0; t < 3; t++)
    {
      int64_t shape[4] = { 1, qkv[t]->shape[1] * u, group_heads, qkv[t]->shape[3] };
      bytes += 2 * aligned_bytes (qkv[t]->dtype, 4, shape);   /* send and heads */
    }
  int64_t out_shape[4] = { 1, qkv[2]->shape[1] * u, group_heads, qkv[2]->shape[3] };
  return bytes + 2 * aligned_bytes (out_dtype, 4, out_shape);   /* out and back */
}

static RlStatus
head_group_prepare (Carver *c, int u, HeadGroup *g, const RlTensor *const qkv[3],
                    RlDType out_dtype)
{
  RlStatus status = RL_OK;
  int64_t group_heads = g->count;
  for (int t = 0; t < 3 && status == RL_OK; t++)
    {
      const RlTensor *x = qkv[t];
      int64_t shape[4] = { 1, x->shape[1] * u, group_heads, x->shape[3] };
      RlTensor src = { 0 };
      status = wire_view_of_token_group (&src, x, u, g->first, group_heads);
      if (status == RL_OK)
        status = carve (c, &g->send[t], x->dtype, 5, src.shape);
      if (status == RL_OK)
        status = c->backend->ops->copy (c->ctx, &g->send[t], &src);
      if (status == RL_OK)
        status = carve (c, &g->heads[t], x->dtype, 4, shape);
      if (status == RL_OK)
        status = wire_view_of_heads (&g->heads_wire[t], &g->heads[t], u);
      rl_tensor_release (&src);
    }
  if (status == RL_OK)
    status = carve (c, &g->out, out_dtype, 4, g->heads[2].shape);
  if (status == RL_OK)
    status = wire_view_of_heads (&g->out_wire, &g->out, u);
  if (status == RL_OK)
    status = carve (c, &g->back, g->out_wire.dtype, 5, g->out_wire.shape);
  return status;
}

/* Starts (or, when `start` is false, runs) in one call the next group's
 * q, k, v exchange and/or the previous group's output return. */
static RlStatus
group_exchange (RlComm *comm, HeadGroup *next, HeadGroup *done, bool start)
{
  RlTensor *outs[4];
  const RlTensor *ins[4];
  int n = 0;
  for (int t = 0; next != NULL && t < 3; t++, n++)
    {
      outs[n] = &next->heads_wire[t];
      ins[n] = &next->send[t];
    }
  if (done != NULL)
    {
      outs[n] = &done->back;
      ins[n++] = &done->out_wire;
    }
  double t0 = rl_op_profile_active () ? rl_op_profile_clock_ms () : 0.0;
  RlStatus status = start ? rl_comm_all_to_all_many_start (comm, n, outs, ins)
                          : rl_comm_all_to_all_many (comm, n, outs, ins);
  if (rl_op_profile_active ())
    rl_op_profile_add (start ? "ulysses all_to_all, started" : "ulysses all_to_all",
                       rl_op_profile_clock_ms () - t0);
  return status;
}

static RlStatus
comm_wait (RlComm *comm)
{
  double t0 = rl_op_profile_active () ? rl_op_profile_clock_ms () : 0.0;
  RlStatus status = rl_comm_wait (comm);
  if (rl_op_profile_active ())
    rl_op_profile_add ("ulysses all_to_all, waited", rl_op_profile_clock_ms () - t0);
  return status;
}

/* out[:, :, group heads] = the returned output of group g. */
static RlStatus
head_group_store (const RlBackend *backend, RlContext *ctx, int u, HeadGroup *g, RlTensor *out)
{
  RlTensor dst = { 0 };
  RlStatus status = wire_view_of_token_group (&dst, out, u, g->first, g->count);
  if (status == RL_OK)
    status = backend->ops->copy (ctx, &dst, &g->back);
  rl_tensor_release (&dst);
  return status;
}

int
rl_usp_head_groups (int64_t heads_per_rank, int64_t *sizes, int max_groups)
{
  int64_t h = heads_per_rank;
  int n = 0;
  const char *env = getenv ("RAYLIGHT_USP_GROUPS");
  if (env != NULL && env[0] != '\0' && strchr (env, ',') != NULL)
    {
      /* An explicit list of sizes ("1,4,4,4,4,3"): used when it holds
       * every head, else in line. */
      int64_t total = 0;
      const char *at = env;
      while (*at != '\0' && n < max_groups)
        {
          char *end = NULL;
          long size = strtol (at, &end, 10);
          if (end == at || size < 1)
            return 1;
          sizes[n++] = size;
          total += size;
          at = *end == ',' ? end + 1 : end;
          if (*end != ',' && *end != '\0')
            return 1;
        }
      return *at == '\0' && total == h && n >= 2 ? n : 1;
    }
  if (env != NULL && env[0] != '\0')
    {
      long groups = strtol (env, NULL, 10);
      if (groups < 2 || groups > h || h % groups != 0 || groups > max_groups)
        return 1;
      for (n = 0; n < groups; n++)
        sizes[n] = h / groups;
      return n;
    }
  if (h < 2)
    return 1;
  /* The edges are small: the first group's inputs and the last group's
   * output travel with nothing to hide them. The middle groups hold up to
   * four heads: an attention call on fewer heads at these lengths leaves
   * SMs idle in its last wave, while each group's exchange takes a small
   * part of its neighbour's attention. */
  if (h < 4)   /* 2-3 heads: one head first, the rest after */
    {
      sizes[0] = 1;
      sizes[1] = h - 1;
      return 2;
    }
  int64_t edge = 2, middle = h - 2 * edge;
  int64_t middle_groups = (middle + 3) / 4;
  if (middle_groups + 2 > max_groups)
    return 1;
  sizes[n++] = edge;
  for (int64_t i = 0; i < middle_groups; i++)   /* as even as possible */
    sizes[n++] = middle / middle_groups + (i < middle % middle_groups ? 1 : 0);
  sizes[n++] = edge;
  return n;
}

enum { MAX_HEAD_GROUPS = 16 };

/* Plain Ulysses (no ring, B = 1) with most of its exchanges hidden behind
 * attention: the heads go in groups of sizes[i] heads. Group 0's q, k, v
 * travel first; then, while group g attends, group g+1's q, k, v and group
 * g−1's output travel in one call; the last group's output returns after
 * it. On NCCL exchange groups the transfers run on the copy engines, so
 * the attention keeps every SM. Only group 0's inputs and the last group's
 * output are exposed, hence small edge groups. The arithmetic is the
 * in-line path's (attention is per head). With collectives that cannot
 * overlap (shared memory) the same order simply runs in turn. */
static RlStatus
ulysses_pipelined (const RlBackend *backend, RlContext *ctx, const RlUspAttention *usp,
                   RlTensor *out, const RlTensor *q, const RlTensor *k, const RlTensor *v,
                   float scale, const int64_t *sizes, int groups)
{
  RlComm *comm = usp->ulysses;
  int u = rl_comm_size (comm);
  const RlTensor *qkv[3] = { q, k, v };
  HeadGroup g[MAX_HEAD_GROUPS];
  Carver c;
  size_t bytes = 0;
  memset (g, 0, sizeof g);
  for (int i = 0; i < groups; i++)
    {
      g[i].first = i > 0 ? g[i - 1].first + g[i - 1].count : 0;
      g[i].count = sizes[i];
      bytes += head_group_bytes (u, sizes[i], qkv, out->dtype);
    }
  RlStatus status = carver_init (&c, backend, ctx, comm, bytes);
  for (int i = 0; i < groups && status == RL_OK; i++)
    status = head_group_prepare (&c, u, &g[i], qkv, out->dtype);
  if (status == RL_OK)
    status = group_exchange (comm, &g[0], NULL, false);
  for (int i = 0; i < groups && status == RL_OK; i++)
    {
      HeadGroup *next = i + 1 < groups ? &g[i + 1] : NULL, *done = i > 0 ? &g[i - 1] : NULL;
      bool started = next != NULL || done != NULL;
      if (started)
        status = group_exchange (comm, next, done, true);
      if (status != RL_OK)
        break;
      /* A failure here must still complete the started exchange. */
      status = rl_ring_attention (backend, ctx, NULL, usp->length, &g[i].out, NULL,
                                  &g[i].heads[0], &g[i].heads[1], &g[i].heads[2], scale);
      RlStatus waited = started ? comm_wait (comm) : RL_OK;
      if (status == RL_OK)
        status = waited;
      if (status == RL_OK && done != NULL)
        status = head_group_store (backend, ctx, u, done, out);
    }
  if (status == RL_OK)
    status = group_exchange (comm, NULL, &g[groups - 1], false);
  if (status == RL_OK)
    status = head_group_store (backend, ctx, u, &g[groups - 1], out);
  for (int i = 0; i < groups; i++)
    head_group_release (&g[i]);
  return status;
}

/* out = Ulysses(ring attention) of (q, k, v), heads already divisible. */
static RlStatus
ulysses_ring (const RlBackend *backend, RlContext *ctx, const RlUspAttention *usp,
              RlTensor *out, const RlTensor *q, const RlTensor *k,
              const RlTensor *v, float scale)
{
  int u = usp->ulysses != NULL ? rl_comm_size (usp->ulysses) : 1;
  if (u == 1)
    return rl_ring_attention (backend, ctx, usp->ring, usp->length, out, NULL, q, k, v, scale);
  int64_t sizes[MAX_HEAD_GROUPS];
  int groups = usp->ring == NULL && q->shape[0] == 1
               ? rl_usp_head_groups (q->shape[2] / u, sizes, MAX_HEAD_GROUPS) : 1;
  if (groups > 1)
    return ulysses_pipelined (backend, ctx, usp, out, q, k, v, scale, sizes, groups);

  HeadSplit hs = { 0 };
  const RlTensor *staging = NULL;
  RlStatus status = head_split_new (backend, ctx, usp->ulysses, &hs, q, k, v, out);
  if (status == RL_OK && hs.staging.data != NULL)
    staging = &hs.staging;
  if (status == RL_OK
      && (status = to_heads (backend, ctx, usp->ulysses, &hs.q, q, staging)) == RL_OK
      && (status = to_heads (backend, ctx, usp->ulysses, &hs.k, k, staging)) == RL_OK
      && (status = to_heads (backend, ctx, usp->ulysses, &hs.v, v, staging)) == RL_OK
      && (status = rl_ring_attention (backend, ctx, usp->ring, usp->length, &hs.out, NULL,
                                      &hs.q, &hs.k, &hs.v, scale)) == RL_OK)
    status = to_tokens (backend, ctx, usp->ulysses, out, &hs.out, staging);
  head_split_release (&hs);
  return status;
}

RlStatus
rl_usp_attention (const RlBackend *backend, RlContext *ctx,
                  const RlUspAttention *usp, RlTensor *out, const RlTensor *q,
                  const RlTensor *k, const RlTensor *v, float scale)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus status;

  if ((status = pl_check_backend ("USP attention", backend, ctx)) != RL_OK)
    return status;
  if (usp == NULL || q == NULL || k == NULL || v == NULL || out == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "USP attention: configuration, q, k, v and out are required");
  if (q->ndim != 4)
    return rl_set_error (RL_E_SHAPE, "USP attention: q %s must be [B, L, H, D]",
                         rl_tensor_describe (q, desc, sizeof desc));
  int u = usp->ulysses != NULL ? rl_comm_size (usp->ulysses) : 1;
  int r = usp->ring != NULL ? rl_comm_size (usp->ring) : 1;
  int64_t heads = q->shape[2];
  if ((status = rl_usp_validate ((int) heads, u, r, u * r, usp->pad_heads)) != RL_OK)
    return status;
  if (!rl_tensor_is_contiguous (q) || !rl_tensor_is_contiguous (k)
      || !rl_tensor_is_contiguous (v) || !rl_tensor_is_contiguous (out))
    return rl_set_error (RL_E_NOT_CONTIGUOUS, "USP attention: q, k, v and out must be contiguous");
  if (heads % u == 0)
    return ulysses_ring (backend, ctx, usp, out, q, k, v, scale);

  /* Zero heads up to a multiple of U: their queries see zero keys and
   * values, their outputs are dropped. */
  int64_t padded = (heads + u - 1) / u * u;
  RlTensor pq = { 0 }, pk = { 0 }, pv = { 0 }, pout = { 0 }, kept = { 0 };
  int64_t os[4] = { out->shape[0], out->shape[1], padded, out->shape[3] };
  if ((status = pad_heads (backend, ctx, &pq, q, padded)) == RL_OK
      && (status = pad_heads (backend, ctx, &pk, k, padded)) == RL_OK
      && (status = pad_heads (backend, ctx, &pv, v, padded)) == RL_OK
      && (status = pl_alloc (backend, ctx, &pout, out->dtype, 4, os)) == RL_OK
      && (status = ulysses_ring (backend, ctx, usp, &pout, &pq, &pk, &pv, scale)) == RL_OK
      && (status = rl_tensor_narrow (&kept, &pout, 2, 0, heads)) == RL_OK)
    status = backend->ops->copy (ctx, out, &kept);
  rl_tensor_release (&pq);
  rl_tensor_release (&pk);
  rl_tensor_release (&pv);
  rl_tensor_release (&pout);
  rl_tensor_release (&kept);
  return status;
}
