/* Timed wrappers around an op table (op-profile.h). */
#include "workers/runtime/op-profile.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static RlOps inner_ops;
static const RlBackend *profiled_backend;

double
rl_op_profile_clock_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec * 1e-6;
}

typedef struct {
  char   key[64];
  double ms;
  int    calls;
} ProfileRow;

static ProfileRow profile_rows[128];
static int n_profile_rows;

static pthread_mutex_t profile_lock = PTHREAD_MUTEX_INITIALIZER;

static void
profile_add (const char *key, double ms)
{
  int i = 0;
  pthread_mutex_lock (&profile_lock);
  while (i < n_profile_rows && strcmp (profile_rows[i].key, key) != 0)
    i++;
  if (i == n_profile_rows && n_profile_rows < (int) (sizeof profile_rows / sizeof profile_rows[0]))
    snprintf (profile_rows[n_profile_rows++].key, sizeof profile_rows[0].key, "%s", key);
  if (i < n_profile_rows)
    {
      profile_rows[i].ms += ms;
      profile_rows[i].calls++;
    }
  pthread_mutex_unlock (&profile_lock);
}

#define TIMED(key, call)                                   \
  do {                                                     \
    profiled_backend->synchronize (ctx);                   \
    double t0_ = rl_op_profile_clock_ms ();                \
    RlStatus s_ = (call);                                  \
    profiled_backend->synchronize (ctx);                   \
    profile_add ((key), rl_op_profile_clock_ms () - t0_);  \
    return s_;                                             \
  } while (0)

static RlStatus
profile_gemm (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *w,
              const RlTensor *bias, RlActivation act)
{
  char key[64];
  snprintf (key, sizeof key, "gemm [%lld] x [%lld,%lld]%s -> %s", (long long) (rl_tensor_numel (x)
            / x->shape[x->ndim - 1]), (long long) w->shape[0], (long long) w->shape[1],
            act != RL_ACT_NONE ? " +act" : "", rl_dtype_name (y->dtype));
  TIMED (key, inner_ops.gemm (ctx, y, x, w, bias, act));
}

static RlStatus
profile_layer_norm (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *weight,
                    const RlTensor *bias, float eps)
{
  TIMED ("layer_norm", inner_ops.layer_norm (ctx, y, x, weight, bias, eps));
}

static RlStatus
profile_rms_norm (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *weight,
                  float eps)
{
  TIMED ("rms_norm", inner_ops.rms_norm (ctx, y, x, weight, eps));
}

static RlStatus
profile_norm_modulate (RlContext *ctx, RlTensor *y, const RlTensor *x, RlNormKind kind,
                       const RlTensor *norm_weight, const RlTensor *norm_bias, float eps,
                       const RlTensor *shift, const RlTensor *scale, RlTokenGroups groups)
{
  TIMED ("norm_modulate", inner_ops.norm_modulate (ctx, y, x, kind, norm_weight, norm_bias, eps,
                                                   shift, scale, groups));
}

static RlStatus
profile_gated_residual (RlContext *ctx, RlTensor *x, const RlTensor *y, const RlTensor *gate,
                        RlTokenGroups groups)
{
  TIMED ("gated_residual", inner_ops.gated_residual (ctx, x, y, gate, groups));
}

static RlStatus
profile_rope (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *cos,
              const RlTensor *sin)
{
  TIMED ("rope", inner_ops.rope (ctx, y, x, cos, sin));
}

static RlStatus
profile_add_op (RlContext *ctx, RlTensor *y, const RlTensor *a, const RlTensor *b, float alpha,
                float beta)
{
  TIMED ("add", inner_ops.add (ctx, y, a, b, alpha, beta));
}

static RlStatus
profile_activation (RlContext *ctx, RlTensor *y, const RlTensor *x, RlActivation act)
{
  TIMED ("activation", inner_ops.activation (ctx, y, x, act));
}

static RlStatus
profile_copy (RlContext *ctx, RlTensor *dst, const RlTensor *src)
{
  TIMED ("copy", inner_ops.copy (ctx, dst, src));
}

static RlStatus
profile_conv (const char *op, RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *w,
              const RlTensor *bias, const RlConvParams *params, bool three_d)
{
  char key[64];
  snprintf (key, sizeof key, "%s %lld->%lld k%lldx%lld out %lldx%lld", op, (long long) w->shape[1],
            (long long) w->shape[0], (long long) w->shape[2], (long long) w->shape[w->ndim - 1],
            (long long) y->shape[y->ndim - 2], (long long) y->shape[y->ndim - 1]);
  TIMED (key, three_d ? inner_ops.conv3d (ctx, y, x, w, bias, params)
                      : inner_ops.conv2d (ctx, y, x, w, bias, params));
}

static RlStatus
profile_conv3d_shaped (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *w,
                       const RlTensor *bias, const RlConvParams *params)
{
  return profile_conv ("conv3d", ctx, y, x, w, bias, params, true);
}

static RlStatus
profile_conv2d (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *w,
                const RlTensor *bias, const RlConvParams *params)
{
  return profile_conv ("conv2d", ctx, y, x, w, bias, params, false);
}

static RlStatus
profile_channel_rms_norm (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *gamma,
                          const RlTensor *bias, float eps)
{
  TIMED ("channel_rms_norm", inner_ops.channel_rms_norm (ctx, y, x, gamma, bias, eps));
}

static RlStatus
profile_concat (RlContext *ctx, RlTensor *y, const RlTensor *const *inputs, int n, int dim)
{
  TIMED ("concat", inner_ops.concat (ctx, y, inputs, n, dim));
}

static RlStatus
profile_pad (RlContext *ctx, RlTensor *y, const RlTensor *x, const int64_t *before,
             const int64_t *after, RlPadMode mode, float value)
{
  TIMED ("pad", inner_ops.pad (ctx, y, x, before, after, mode, value));
}

static RlStatus
profile_upsample (RlContext *ctx, RlTensor *y, const RlTensor *x)
{
  TIMED ("upsample_nearest2x", inner_ops.upsample_nearest2x (ctx, y, x));
}

static RlStatus
profile_mul (RlContext *ctx, RlTensor *y, const RlTensor *a, const RlTensor *b)
{
  TIMED ("mul", inner_ops.mul (ctx, y, a, b));
}

static RlStatus
profile_convert (RlContext *ctx, RlTensor *dst, const RlTensor *src)
{
  TIMED ("convert", inner_ops.convert (ctx, dst, src));
}

static RlStatus
profile_attention (RlContext *ctx, RlTensor *out, RlTensor *lse, const RlTensor *q,
                   const RlTensor *k, const RlTensor *v, float scale)
{
  char key[64];
  snprintf (key, sizeof key, "attention Lq %lld Lk %lld", (long long) q->shape[1],
            (long long) k->shape[1]);
  TIMED (key, inner_ops.attention (ctx, out, lse, q, k, v, scale));
}

void
rl_op_profile_install (const RlBackend *backend, RlOps *ops)
{
  profiled_backend = backend;
  inner_ops = *ops;
  rl_op_profile_reset ();
  if (ops->gemm != NULL) ops->gemm = profile_gemm;
  if (ops->layer_norm != NULL) ops->layer_norm = profile_layer_norm;
  if (ops->rms_norm != NULL) ops->rms_norm = profile_rms_norm;
  if (ops->norm_modulate != NULL) ops->norm_modulate = profile_norm_modulate;
  if (ops->gated_residual != NULL) ops->gated_residual = profile_gated_residual;
  if (ops->rope != NULL) ops->rope = profile_rope;
  if (ops->add != NULL) ops->add = profile_add_op;
  if (ops->activation != NULL) ops->activation = profile_activation;
  if (ops->copy != NULL) ops->copy = profile_copy;
  if (ops->conv3d != NULL) ops->conv3d = profile_conv3d_shaped;
  if (ops->conv2d != NULL) ops->conv2d = profile_conv2d;
  if (ops->channel_rms_norm != NULL) ops->channel_rms_norm = profile_channel_rms_norm;
  if (ops->concat != NULL) ops->concat = profile_concat;
  if (ops->pad != NULL) ops->pad = profile_pad;
  if (ops->upsample_nearest2x != NULL) ops->upsample_nearest2x = profile_upsample;
  if (ops->mul != NULL) ops->mul = profile_mul;
  if (ops->convert != NULL) ops->convert = profile_convert;
  if (ops->attention != NULL) ops->attention = profile_attention;
}

bool
rl_op_profile_active (void)
{
  return profiled_backend != NULL;
}

void
rl_op_profile_uninstall (RlOps *ops)
{
  *ops = inner_ops;
  profiled_backend = NULL;
}

void
rl_op_profile_add (const char *key, double ms)
{
  profile_add (key, ms);
}

void
rl_op_profile_reset (void)
{
  pthread_mutex_lock (&profile_lock);
  memset (profile_rows, 0, sizeof profile_rows);
  n_profile_rows = 0;
  pthread_mutex_unlock (&profile_lock);
}

static int
by_time (const void *a, const void *b)
{
  double x = ((const ProfileRow *) a)->ms, y = ((const ProfileRow *) b)->ms;
  return x < y ? 1 : x > y ? -1 : 0;
}

void
rl_op_profile_print (FILE *out, const char *prefix, const char *title)
{
  pthread_mutex_lock (&profile_lock);
  qsort (profile_rows, (size_t) n_profile_rows, sizeof profile_rows[0], by_time);
  double total = 0;
  for (int i = 0; i < n_profile_rows; i++)
    total += profile_rows[i].ms;
  fprintf (out, "%s%s (%.1f ms in ops, the device synchronised around each)\n", prefix, title,
           total);
  if (n_profile_rows == 0)
    fprintf (out, "%s  no op ran\n", prefix);
  for (int i = 0; i < n_profile_rows; i++)
    fprintf (out, "%s  %8.2f ms %5.1f%% %5d calls  %s\n", prefix, profile_rows[i].ms,
             total > 0 ? 100.0 * profile_rows[i].ms / total : 0.0, profile_rows[i].calls,
             profile_rows[i].key);
  fflush (out);
  pthread_mutex_unlock (&profile_lock);
}
