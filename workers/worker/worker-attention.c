/* Attention variants behind the worker's op table. See worker-attention.h. */
#include "worker-attention.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/attention/attention-op.h"
#include "workers/runtime/op-profile.h"
#include "plugins/attention/attention-registry.h"

/* Selectors keep opened variants (cuDNN handles, workspaces), so a job's
 * override is made once per name and kept. */
#define MAX_SELECTORS 8
/* A variant instance may keep one plan (cuDNN's graph) and rebuild it when
 * the shape changes; a Wan block alternates self-attention (Lk = L) and
 * text cross-attention (Lk = 512), which would rebuild it twice a block.
 * So each name keeps a selector (its own variant instances) per problem
 * shape, the least recently used one replaced past this many. */
#define SHAPES_PER_NAME 6

typedef struct {
  int32_t              key[8];
  uint64_t             last_used;
  RlAttentionSelector *selector;   /* NULL: free slot */
} ShapeSelector;

typedef struct {
  char          *name;             /* as requested: "auto", "flash", ... */
  ShapeSelector  shapes[SHAPES_PER_NAME];
} NamedSelector;

struct RlWorkerAttention {
  RlBackend            backend;    /* the base backend with ops = &ops */
  RlOps                ops;
  const RlBackend     *base;
  RlContext           *ctx;
  int                  device;
  int                  rank;
  RlAttentionRegistry *registry;
  RlAttentionBackend   kind;
  NamedSelector        selectors[MAX_SELECTORS];
  int                  n_selectors;
  NamedSelector       *default_selector;
  uint64_t             calls;
  char                 default_name[64];
  const char          *last;       /* variant name of the last call */
  char                 used[256];  /* ",name," of every variant run so far */
  char                 fallback_logged[512];
  /* The CUDA stream the backend's ops of a context run on (set by the
   * worker in CUDA builds): variants run there, ordered by the stream,
   * with no device-wide waits around them. NULL: legacy stream + waits. */
  void               *(*stream_of) (RlContext *ctx);
};

/* The op signature has no user pointer: the attention (and the selector of
 * the running job) are bound to the thread that runs model code. */
static _Thread_local RlWorkerAttention *bound_attention;
static _Thread_local NamedSelector     *bound_selector;

static void
worker_log (RlWorkerAttention *a, const char *fmt, ...)
{
  char line[1024];
  va_list args;
  va_start (args, fmt);
  vsnprintf (line, sizeof line, fmt, args);
  va_end (args);
  fprintf (stderr, "raylight-worker[rank %d]: %s\n", a->rank, line);
}

static void
registry_log (void *user, const char *message)
{
  worker_log (user, "%s", message);
}

static bool
is_auto (const char *name)
{
  return name == NULL || name[0] == '\0' || strcmp (name, "auto") == 0;
}

void
rl_worker_attention_known (const RlWorkerAttention *a, char *out, size_t size)
{
  size_t used = 0;
  out[0] = '\0';
  for (size_t i = 0; i < rl_attention_registry_count (a->registry); i++)
    {
      const RlAttentionVariant *v = rl_attention_registry_get (a->registry, i);
      if (v->backend != (int32_t) a->kind || used + 2 >= size)
        continue;
      int n = snprintf (out + used, size - used, "%s%s", used > 0 ? ", " : "", v->name);
      used = n > 0 && (size_t) n < size - used ? used + (size_t) n : size - 1;
    }
}

/* The selector for `name`, made on first use; NULL with the reason when no
 * variant of that name serves this backend. */
static NamedSelector *
selector_for (RlWorkerAttention *a, const char *name, char *error, size_t error_size)
{
  const char *key = is_auto (name) ? "auto" : name;
  for (int i = 0; i < a->n_selectors; i++)
    if (strcmp (a->selectors[i].name, key) == 0)
      return &a->selectors[i];
  const RlAttentionVariant *variant = is_auto (name) ? NULL
                                      : rl_attention_registry_find (a->registry, name);
  if (!is_auto (name) && (variant == NULL || variant->backend != (int32_t) a->kind))
    {
      char known[256];
      rl_worker_attention_known (a, known, sizeof known);
      snprintf (error, error_size, "unknown attention variant '%s' for the %s backend; known: "
                "auto%s%s (plugin folders: $RAYLIGHT_ATTENTION_PATH, the build tree, the "
                "installed plugins)", name, a->base->name, known[0] ? ", " : "", known);
      return NULL;
    }
  if (a->n_selectors == MAX_SELECTORS)
    {
      snprintf (error, error_size, "too many attention variants requested in one worker");
      return NULL;
    }
  char *copy = strdup (key);
  if (copy == NULL)
    {
      snprintf (error, error_size, "out of memory for an attention selector");
      return NULL;
    }
  a->selectors[a->n_selectors] = (NamedSelector) { .name = copy };
  return &a->selectors[a->n_selectors++];
}

/* The selector of `named` for problems shaped like `p`, made on first use;
 * NULL when out of memory. */
static RlAttentionSelector *
shape_selector (RlWorkerAttention *a, NamedSelector *named, const RlAttentionProblem *p)
{
  const int32_t key[8] = { p->batch, p->heads, p->q_len, p->kv_len, p->head_dim, p->v_head_dim,
                           p->qkv_dtype, p->out_dtype };
  ShapeSelector *slot = NULL;
  a->calls++;
  for (int i = 0; i < SHAPES_PER_NAME; i++)
    {
      ShapeSelector *s = &named->shapes[i];
      if (s->selector != NULL && memcmp (s->key, key, sizeof key) == 0)
        {
          s->last_used = a->calls;
          return s->selector;
        }
      if (slot == NULL || s->selector == NULL
          || (slot->selector != NULL && s->last_used < slot->last_used))
        slot = s;
    }
  rl_attention_selector_free (slot->selector);
  slot->selector = rl_attention_selector_new (a->registry, a->kind,
                                              a->kind == RL_ATTENTION_BACKEND_CUDA ? a->device : 0,
                                              named->name);
  memcpy (slot->key, key, sizeof key);
  slot->last_used = a->calls;
  return slot->selector;
}

/* The backend's own attention, with one log line per new reason. */
static RlStatus
run_backend_attention (RlWorkerAttention *a, const char *reason, RlContext *ctx, RlTensor *out,
                       RlTensor *lse, const RlTensor *q, const RlTensor *k, const RlTensor *v,
                       float scale)
{
  if (strcmp (a->fallback_logged, reason) != 0)
    {
      worker_log (a, "attention: using the %s backend's own attention: %s", a->base->name,
                  reason);
      snprintf (a->fallback_logged, sizeof a->fallback_logged, "%s", reason);
    }
  a->last = "backend";
  return a->base->ops->attention (ctx, out, lse, q, k, v, scale);
}

static void
note_first_use (RlWorkerAttention *a, const RlAttentionVariant *variant,
                const RlAttentionProblem *p)
{
  char key[80];
  snprintf (key, sizeof key, ",%s,", variant->name);
  if (strstr (a->used, key) != NULL)
    return;
  size_t have = strlen (a->used);
  snprintf (a->used + have, sizeof a->used - have, "%s", have > 0 ? key + 1 : key);
  worker_log (a, "attention: running '%s' (first problem B=%d H=%d Lq=%d Lk=%d D=%d %s)",
              variant->name, p->batch, p->heads, p->q_len, p->kv_len, p->head_dim,
              rl_attention_dtype_name (p->qkv_dtype));
}

static RlStatus
worker_attention_op (RlContext *ctx, RlTensor *out, RlTensor *lse, const RlTensor *q,
                     const RlTensor *k, const RlTensor *v, float scale)
{
  RlWorkerAttention *a = bound_attention;
  if (a == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "attention: no worker attention is bound to this "
                         "thread");
  NamedSelector *named = bound_selector != NULL ? bound_selector : a->default_selector;
  RlAttentionProblem problem;
  RlAttentionArgs args;
  char why[1024];
  if (rl_attention_describe (out, lse, q, k, v, scale, &problem, &args) != RL_OK)
    {
      snprintf (why, sizeof why, "%s", rl_last_error ());
      return run_backend_attention (a, why, ctx, out, lse, q, k, v, scale);
    }
  RlAttentionSelector *selector = shape_selector (a, named, &problem);
  if (selector == NULL)
    return rl_set_error (RL_E_NO_MEMORY, "attention: out of memory for a selector");
  const RlAttentionVariant *chosen = rl_attention_selector_choose (selector, &problem, why,
                                                                   sizeof why);
  if (chosen == NULL)
    return run_backend_attention (a, why, ctx, out, lse, q, k, v, scale);
  /* On the context's own stream the variant is ordered like any op. Without
   * it (the op table exposes no stream) the variant runs on the legacy
   * stream after the context's queued work and is finished before the next
   * op, which waits for the whole device — collectives in flight included. */
  bool gpu = a->base->device_kind == RL_DEVICE_CUDA;
  bool on_stream = gpu && a->stream_of != NULL;
  if (on_stream)
    args.stream = a->stream_of (ctx);
  bool wait_around = gpu && !on_stream;
  if (wait_around && a->base->synchronize (ctx) != RL_OK)
    return rl_prefix_error (RL_E_DEVICE, "attention: before '%s': ", chosen->name);
  char error[1024] = "";
  int result = rl_attention_selector_run (selector, &problem, &args, error, sizeof error);
  if (result == RL_ATTENTION_OK && wait_around && a->base->synchronize (ctx) != RL_OK)
    return rl_prefix_error (RL_E_DEVICE, "attention: '%s': ", chosen->name);
  if (result == RL_ATTENTION_OK)
    {
      note_first_use (a, chosen, &problem);
      a->last = chosen->name;
      return RL_OK;
    }
  if (result == RL_ATTENTION_UNSUPPORTED || result == RL_ATTENTION_UNAVAILABLE)
    return run_backend_attention (a, error, ctx, out, lse, q, k, v, scale);
  return rl_set_error (result == RL_ATTENTION_INVALID ? RL_E_INVALID_ARG : RL_E_DEVICE,
                       "attention variant '%s': %s", chosen->name, error);
}

RlWorkerAttention *
rl_worker_attention_new (const RlBackend *base, RlContext *ctx, int device,
                         const char *requested, int rank, char *error, size_t error_size)
{
  RlWorkerAttention *a = calloc (1, sizeof *a);
  if (a == NULL)
    {
      snprintf (error, error_size, "out of memory for the attention variants");
      return NULL;
    }
  a->base = base;
  a->ctx = ctx;
  a->device = device;
  a->rank = rank;
  a->kind = base->device_kind == RL_DEVICE_CUDA ? RL_ATTENTION_BACKEND_CUDA
                                                : RL_ATTENTION_BACKEND_CPU;
  a->last = "";
  char **dirs = rl_attention_default_dirs ();
  a->registry = rl_attention_registry_new ((const char *const *) dirs, registry_log, a);
  rl_attention_dirs_free (dirs);
  snprintf (a->default_name, sizeof a->default_name, "%s", is_auto (requested) ? "auto"
                                                                                : requested);
  if (a->registry == NULL
      || (a->default_selector = selector_for (a, requested, error, error_size)) == NULL)
    {
      if (a->registry == NULL)
        snprintf (error, error_size, "out of memory for the attention variants");
      rl_worker_attention_free (a);
      return NULL;
    }
  rl_attention_ops_with_variants (base->ops, &a->ops);
  a->ops.attention = worker_attention_op;
  /* RAYLIGHT_OP_PROFILE=1: every op timed on its own; model-jobs prints
   * the table after each job. */
  const char *profile = getenv ("RAYLIGHT_OP_PROFILE");
  if (profile != NULL && profile[0] != '\0' && strcmp (profile, "0") != 0)
    rl_op_profile_install (base, &a->ops);
  a->backend = *base;
  a->backend.ops = &a->ops;
  bound_attention = a;
  bound_selector = NULL;
  char known[256];
  rl_worker_attention_known (a, known, sizeof known);
  worker_log (a, "attention: default '%s' on %s %d (variants here: %s)", a->default_name,
              base->name, device, known[0] ? known : "none; the backend's own attention");
  return a;
}

void
rl_worker_attention_free (RlWorkerAttention *a)
{
  if (a == NULL)
    return;
  if (bound_attention == a)
    bound_attention = NULL, bound_selector = NULL;
  if (rl_op_profile_active ())
    rl_op_profile_uninstall (&a->ops);
  for (int i = 0; i < a->n_selectors; i++)
    {
      for (int j = 0; j < SHAPES_PER_NAME; j++)
        rl_attention_selector_free (a->selectors[i].shapes[j].selector);
      free (a->selectors[i].name);
    }
  rl_attention_registry_free (a->registry);
  free (a);
}

void
rl_worker_attention_set_stream_source (RlWorkerAttention *a, void *(*stream_of) (RlContext *ctx))
{
  if (a != NULL)
    a->stream_of = stream_of;
}

const RlBackend *
rl_worker_attention_backend (RlWorkerAttention *a)
{
  return &a->backend;
}

bool
rl_worker_attention_set_default (RlWorkerAttention *a, const char *name, char *error,
                                 size_t error_size)
{
  NamedSelector *selector = selector_for (a, name, error, error_size);
  if (selector == NULL)
    return false;
  a->default_selector = selector;
  snprintf (a->default_name, sizeof a->default_name, "%s", is_auto (name) ? "auto" : name);
  worker_log (a, "attention: default '%s' (set by the pool)", a->default_name);
  return true;
}

bool
rl_worker_attention_begin (RlWorkerAttention *a, const char *name, char *error,
                           size_t error_size)
{
  NamedSelector *selector = a->default_selector;
  if (name != NULL && name[0] != '\0')
    selector = selector_for (a, name, error, error_size);
  if (selector == NULL)
    return false;
  bound_attention = a;
  bound_selector = selector;
  return true;
}

void
rl_worker_attention_end (RlWorkerAttention *a)
{
  bound_attention = a;
  bound_selector = NULL;
}

const char *
rl_worker_attention_default (const RlWorkerAttention *a)
{
  return a->default_name;
}

const char *
rl_worker_attention_last (const RlWorkerAttention *a)
{
  return a->last;
}
