/* torchsde's halfway Brownian tree as ComfyUI samples it (see
 * brownian-tree.h). Built with -ffp-contract=off: every float operation
 * rounds on its own, like PyTorch's elementwise kernels. */
#include "workers/sampling/brownian-tree.h"

#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/sampling/seed-sequence.h"

#define POOL_SIZE 24
#define MAX_DEPTH 200
/* At most this many node draws are made at once (one buffer each). */
#define NOISE_BATCH 8

struct RlBrownianNoise {
  uint64_t entropy;
  double   start, end;       /* the root interval, rounded to 6 decimals */
  int      tree_sign;        /* BatchedBrownianTree.sign */
  size_t   count;
  int      batch;            /* node draws made at once (≤ NOISE_BATCH) */
  float   *root;             /* W over [start, end] */
  float   *w, *w2, *noise, *acc;
};

typedef struct {
  double   start, end;
  uint64_t key;
  uint64_t depth;
} Node;

/* Python's round (x, 6): correctly rounded to 6 decimals, ties to even
 * on the exact binary value (glibc printf does the same). */
static double
round6 (double x)
{
  char text[64];
  snprintf (text, sizeof text, "%.6f", x);
  return strtod (text, NULL);
}

/* torch.Generator ().manual_seed (seed); torch.randn (count). */
static void
seeded_randn (uint32_t seed, float *out, size_t count)
{
  RlTorchGenerator generator;
  rl_torch_generator_seed (&generator, seed);
  rl_torch_randn_float (&generator, out, count);
}

void
rl_brownian_noise_free (RlBrownianNoise *noise)
{
  if (noise == NULL)
    return;
  free (noise->root);
  free (noise->w);
  free (noise->w2);
  free (noise->noise);
  free (noise->acc);
  free (noise);
}

RlStatus
rl_brownian_noise_new (uint64_t seed, float sigma_min, float sigma_max,
                       size_t count, RlBrownianNoise **out)
{
  *out = NULL;
  if (!(sigma_min >= 0.0f) || !(sigma_max >= 0.0f) || count == 0)
    return rl_set_error (RL_E_INVALID_ARG, "brownian tree: sigmas %g..%g, "
                         "%zu elements", (double) sigma_min,
                         (double) sigma_max, count);
  RlBrownianNoise *b = calloc (1, sizeof *b);
  if (b == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "brownian tree: no memory");
  b->entropy = seed;
  b->count = count;
  /* BatchedBrownianTree.sort: (a, b, 1) if a < b else (b, a, −1) */
  double t0 = sigma_min < sigma_max ? sigma_min : sigma_max;
  double t1 = sigma_min < sigma_max ? sigma_max : sigma_min;
  b->tree_sign = sigma_min < sigma_max ? 1 : -1;
  b->start = round6 (t0);
  b->end = round6 (t1);
  b->root = malloc (count * sizeof (float));
  b->w = malloc (count * sizeof (float));
  b->w2 = malloc (count * sizeof (float));
  b->batch = omp_get_max_threads ();
  if (b->batch > NOISE_BATCH)
    b->batch = NOISE_BATCH;
  if (b->batch < 1)
    b->batch = 1;
  b->noise = malloc ((size_t) b->batch * count * sizeof (float));
  b->acc = malloc (count * sizeof (float));
  if (!b->root || !b->w || !b->w2 || !b->noise || !b->acc)
    {
      int buffers = 4 + b->batch;
      rl_brownian_noise_free (b);
      return rl_set_error (RL_E_NO_MEMORY, "brownian tree: no memory for "
                           "%d × %zu floats", buffers, count);
    }
  uint32_t seeds[3];
  rl_seed_sequence_state (seed, NULL, 0, POOL_SIZE, seeds, 3);
  seeded_randn (seeds[0], b->root, count);
  float scale = (float) sqrt (t1 - t0);
  for (size_t i = 0; i < count; i++)
    b->root[i] = b->root[i] * scale;
  *out = b;
  return RL_OK;
}

/* One query is planned first (which tree nodes to split, in order), then
 * executed: each split needs torch.randn from the node's own seed, which
 * does not depend on the increments, so the draws of up to
 * b->batch nodes are made in parallel and applied in order. */

typedef enum {
  OP_KEEP_LEFT,            /* W ← left part of W */
  OP_KEEP_RIGHT,           /* W ← right part */
  OP_ADD_LEFT_KEEP_RIGHT,  /* acc += left; W ← right */
  OP_ADD_RIGHT_KEEP_LEFT,  /* acc += right; W ← left */
  OP_SPLIT_BOTH,           /* W ← left; R ← right */
  OP_ADD_W,                /* acc += W */
  OP_TAKE_R,               /* W ← R */
} OpKind;

typedef struct {
  OpKind kind;
  Node   node;
  double midway;
} Op;

typedef struct {
  Op  *ops;
  int  count;
  int  capacity;
} Plan;

static RlStatus
plan_push (Plan *plan, OpKind kind, const Node *node, double midway)
{
  if (plan->count == plan->capacity)
    {
      int capacity = plan->capacity ? 2 * plan->capacity : 64;
      Op *grown = realloc (plan->ops, (size_t) capacity * sizeof *grown);
      if (grown == NULL)
        return rl_set_error (RL_E_NO_MEMORY, "brownian tree: no memory");
      plan->ops = grown;
      plan->capacity = capacity;
    }
  Op op = { .kind = kind, .midway = midway };
  if (node != NULL)
    op.node = *node;
  plan->ops[plan->count++] = op;
  return RL_OK;
}

static bool
op_splits (OpKind kind)
{
  return kind != OP_ADD_W && kind != OP_TAKE_R;
}

static Node
child (const Node *node, double midway, bool right)
{
  Node c = { right ? midway : node->start, right ? node->end : midway,
             2 * node->key + (right ? 1 : 0), node->depth + 1 };
  return c;
}

/* torchsde's _loc over the halfway tree: the intervals covering
 * [ta, tb] ⊆ node, as split operations from node's increment. */
static RlStatus
plan_query (Plan *plan, Node node, double ta, double tb)
{
  RlStatus status = RL_OK;
  while (status == RL_OK && !(ta == node.start && tb == node.end))
    {
      if (node.depth > MAX_DEPTH)
        return rl_set_error (RL_E_INVALID_ARG, "brownian tree: query "
                             "[%.9g, %.9g] does not resolve (sigmas closer "
                             "than 1e-6?)", ta, tb);
      double midway = round6 (0.5 * (node.end + node.start));
      if (tb <= midway)
        {
          status = plan_push (plan, OP_KEEP_LEFT, &node, midway);
          node = child (&node, midway, false);
        }
      else if (ta >= midway)
        {
          status = plan_push (plan, OP_KEEP_RIGHT, &node, midway);
          node = child (&node, midway, true);
        }
      else if (ta == node.start)
        {
          status = plan_push (plan, OP_ADD_LEFT_KEEP_RIGHT, &node, midway);
          node = child (&node, midway, true);
          ta = midway;
        }
      else if (tb == node.end)
        {
          status = plan_push (plan, OP_ADD_RIGHT_KEEP_LEFT, &node, midway);
          node = child (&node, midway, false);
          tb = midway;
        }
      else
        {
          /* both sides partial: only at the first split of a query */
          status = plan_push (plan, OP_SPLIT_BOTH, &node, midway);
          if (status == RL_OK)
            status = plan_query (plan, child (&node, midway, false), ta,
                                 midway);
          if (status == RL_OK)
            status = plan_push (plan, OP_TAKE_R, NULL, 0.0);
          if (status == RL_OK)
            status = plan_query (plan, child (&node, midway, true), midway,
                                 tb);
          return status;
        }
    }
  return status == RL_OK ? plan_push (plan, OP_ADD_W, NULL, 0.0) : status;
}

/* torch.randn from the node's W seed: numpy SeedSequence (entropy,
 * spawn_key = (key, depth), pool_size = 24).generate_state (4)[0]. */
static void
node_noise (const RlBrownianNoise *b, const Node *node, float *out)
{
  uint64_t key[2] = { node->key, node->depth };
  uint32_t seeds[4];
  rl_seed_sequence_state (b->entropy, key, 2, POOL_SIZE, seeds, 4);
  seeded_randn (seeds[0], out, b->count);
}

static void
accumulate_value (float *acc, size_t i, float value, bool started)
{
  acc[i] = started ? acc[i] + value : value;
}

/* One split: left = W·(m − s)·(1/(e − s)) + sqrt((m − s)(e − m)/(e − s))·n
 * and right = W − left, in torchsde's float32 order. */
static void
apply_split (RlBrownianNoise *b, const Op *op, const float *noise,
             bool *started)
{
  const Node *node = &op->node;
  double h_reciprocal = 1.0 / (node->end - node->start);
  double left_diff = op->midway - node->start;
  double right_diff = node->end - op->midway;
  float mean_a = (float) left_diff, mean_b = (float) h_reciprocal;
  float spread = (float) sqrt (left_diff * right_diff * h_reciprocal);
  float *w = b->w, *r = b->w2, *acc = b->acc;
  bool was_started = *started;
  OpKind kind = op->kind;
  ptrdiff_t count = (ptrdiff_t) b->count;
#pragma omp parallel for schedule(static)
  for (ptrdiff_t i = 0; i < count; i++)
    {
      float whole = w[i];
      float left = whole * mean_a * mean_b + spread * noise[i];
      float right = whole - left;
      switch (kind)
        {
        case OP_KEEP_LEFT:
          w[i] = left;
          break;
        case OP_KEEP_RIGHT:
          w[i] = right;
          break;
        case OP_ADD_LEFT_KEEP_RIGHT:
          accumulate_value (acc, (size_t) i, left, was_started);
          w[i] = right;
          break;
        case OP_ADD_RIGHT_KEEP_LEFT:
          accumulate_value (acc, (size_t) i, right, was_started);
          w[i] = left;
          break;
        default:  /* OP_SPLIT_BOTH */
          w[i] = left;
          r[i] = right;
          break;
        }
    }
  if (kind == OP_ADD_LEFT_KEEP_RIGHT || kind == OP_ADD_RIGHT_KEEP_LEFT)
    *started = true;
}

static RlStatus
run_plan (RlBrownianNoise *b, const Plan *plan)
{
  int splits = 0;
  for (int i = 0; i < plan->count; i++)
    splits += op_splits (plan->ops[i].kind);
  const Op **pending = malloc ((size_t) (splits ? splits : 1)
                               * sizeof *pending);
  if (pending == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "brownian tree: no memory");
  for (int i = 0, k = 0; i < plan->count; i++)
    if (op_splits (plan->ops[i].kind))
      pending[k++] = &plan->ops[i];

  bool started = false;
  int next_split = 0, batch_start = 0, batch_size = 0;
  for (int i = 0; i < plan->count; i++)
    {
      const Op *op = &plan->ops[i];
      if (op_splits (op->kind))
        {
          if (next_split == batch_start + batch_size)
            {
              batch_start = next_split;
              batch_size = splits - batch_start < b->batch
                             ? splits - batch_start : b->batch;
#pragma omp parallel for schedule(dynamic, 1)
              for (int j = 0; j < batch_size; j++)
                node_noise (b, &pending[batch_start + j]->node,
                            b->noise + (size_t) j * b->count);
            }
          apply_split (b, op,
                       b->noise + (size_t) (next_split - batch_start)
                                  * b->count,
                       &started);
          next_split++;
        }
      else if (op->kind == OP_TAKE_R)
        memcpy (b->w, b->w2, b->count * sizeof (float));
      else
        {
          for (size_t e = 0; e < b->count; e++)
            accumulate_value (b->acc, e, b->w[e], started);
          started = true;
        }
    }
  free (pending);
  return RL_OK;
}

static RlStatus
brownian_draw (void *user, float sigma, float sigma_next, float *out,
               size_t count)
{
  RlBrownianNoise *b = user;
  if (count != b->count)
    return rl_set_error (RL_E_SHAPE, "brownian tree: built for %zu "
                         "elements, asked for %zu", b->count, count);
  /* BatchedBrownianTree.__call__ */
  float lo = sigma < sigma_next ? sigma : sigma_next;
  float hi = sigma < sigma_next ? sigma_next : sigma;
  int sign = b->tree_sign * (sigma < sigma_next ? 1 : -1);
  /* BrownianInterval.__call__: clamp, then the intervals */
  double ta = lo, tb = hi;
  if (ta < b->start)
    ta = b->start;
  if (tb < b->start)
    tb = b->start;
  if (ta > b->end)
    ta = b->end;
  if (tb > b->end)
    tb = b->end;
  float divisor = sqrtf (fabsf (sigma_next - sigma));
  if (ta == tb)
    {
      for (size_t i = 0; i < count; i++)
        out[i] = 0.0f / divisor;
      return RL_OK;
    }
  Node root = { b->start, b->end, 0, 0 };
  Plan plan = { 0 };
  RlStatus status = plan_query (&plan, root, round6 (ta), round6 (tb));
  if (status == RL_OK)
    {
      memcpy (b->w, b->root, count * sizeof (float));
      status = run_plan (b, &plan);
    }
  free (plan.ops);
  if (status != RL_OK)
    return status;
  for (size_t i = 0; i < count; i++)
    out[i] = (b->acc[i] * (float) sign) / divisor;
  return RL_OK;
}

RlNoiseSource
rl_brownian_noise_source (RlBrownianNoise *noise)
{
  return (RlNoiseSource) { .draw = brownian_draw, .user = noise };
}
