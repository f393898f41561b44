/* torchsde's halfway Brownian tree as ComfyUI samples it (see
 * brownian-tree.h). Built with -ffp-contract=off: every float operation
 * rounds on its own, like PyTorch's elementwise kernels. */
#include "workers/sampling/brownian-tree.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/sampling/seed-sequence.h"

#define POOL_SIZE 24
#define MAX_DEPTH 200

struct RlBrownianNoise {
  uint64_t entropy;
  double   start, end;       /* the root interval, rounded to 6 decimals */
  int      tree_sign;        /* BatchedBrownianTree.sign */
  size_t   count;
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
  b->noise = malloc (count * sizeof (float));
  b->acc = malloc (count * sizeof (float));
  if (!b->root || !b->w || !b->w2 || !b->noise || !b->acc)
    {
      rl_brownian_noise_free (b);
      return rl_set_error (RL_E_NO_MEMORY, "brownian tree: no memory for "
                           "5 × %zu floats", count);
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

/* The two children of `node` whose increment is w: left into `left`,
 * right into `right` (either may alias w, not each other). */
static void
split_node (RlBrownianNoise *b, const Node *node, double midway,
            const float *w, float *left, float *right)
{
  uint64_t key[2] = { node->key, node->depth };
  uint32_t seeds[4];
  rl_seed_sequence_state (b->entropy, key, 2, POOL_SIZE, seeds, 4);
  seeded_randn (seeds[0], b->noise, b->count);

  double h_reciprocal = 1.0 / (node->end - node->start);
  double left_diff = midway - node->start;
  double right_diff = node->end - midway;
  float mean_a = (float) left_diff, mean_b = (float) h_reciprocal;
  float spread = (float) sqrt (left_diff * right_diff * h_reciprocal);
  for (size_t i = 0; i < b->count; i++)
    {
      float whole = w[i];
      float part = whole * mean_a * mean_b + spread * b->noise[i];
      if (left != NULL)
        left[i] = part;
      if (right != NULL)
        right[i] = whole - part;
    }
}

static void
accumulate (RlBrownianNoise *b, const float *w, bool *started)
{
  if (!*started)
    memcpy (b->acc, w, b->count * sizeof (float));
  else
    for (size_t i = 0; i < b->count; i++)
      b->acc[i] = b->acc[i] + w[i];
  *started = true;
}

static Node
child (const Node *node, double midway, bool right)
{
  Node c = { right ? midway : node->start, right ? node->end : midway,
             2 * node->key + (right ? 1 : 0), node->depth + 1 };
  return c;
}

/* Adds the increments of the tree intervals covering [ta, tb] ⊆ node,
 * w being node's increment (overwritten). */
static RlStatus
descend (RlBrownianNoise *b, Node node, float *w, double ta, double tb,
         bool *started)
{
  while (!(ta == node.start && tb == node.end))
    {
      if (node.depth > MAX_DEPTH)
        return rl_set_error (RL_E_INVALID_ARG, "brownian tree: query "
                             "[%.9g, %.9g] does not resolve (sigmas closer "
                             "than 1e-6?)", ta, tb);
      double midway = round6 (0.5 * (node.end + node.start));
      if (tb <= midway)
        {
          split_node (b, &node, midway, w, w, NULL);
          node = child (&node, midway, false);
        }
      else if (ta >= midway)
        {
          split_node (b, &node, midway, w, NULL, w);
          node = child (&node, midway, true);
        }
      else if (ta == node.start)
        {
          /* left child whole, then the rest on the right */
          split_node (b, &node, midway, w, b->w2, w);
          accumulate (b, b->w2, started);
          node = child (&node, midway, true);
          ta = midway;
        }
      else if (tb == node.end)
        {
          /* right child whole; the rest on the left */
          split_node (b, &node, midway, w, w, b->w2);
          accumulate (b, b->w2, started);
          node = child (&node, midway, false);
          tb = midway;
        }
      else
        {
          /* both sides partial: only at the first split of a query */
          float *right = malloc (b->count * sizeof (float));
          if (right == NULL)
            return rl_set_error (RL_E_NO_MEMORY, "brownian tree: no memory");
          split_node (b, &node, midway, w, w, right);
          RlStatus status = descend (b, child (&node, midway, false), w, ta,
                                     midway, started);
          if (status == RL_OK)
            status = descend (b, child (&node, midway, true), right, midway,
                              tb, started);
          free (right);
          return status;
        }
    }
  accumulate (b, w, started);
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
  memcpy (b->w, b->root, count * sizeof (float));
  bool started = false;
  RlStatus status = descend (b, root, b->w, round6 (ta), round6 (tb),
                             &started);
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
