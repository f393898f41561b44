/* 2-D and 3-D convolution by im2col + sgemm, one output frame and a chunk
 * of output positions at a time so the column buffer stays bounded. Zero
 * padding is explicit per side (causal temporal padding included). */
#include "workers/backend-cpu/cpu-internal.h"

#include <cblas.h>

#define COLUMN_BYTES (32u << 20)

typedef struct {
  int64_t batch, in_ch, out_ch;
  int64_t in[3], k[3], out[3];    /* t, h, w */
  int     stride[3], pad[3];      /* pad = pad_before */
} ConvShape;

static RlStatus
conv_shape (const char *op, int spatial, const RlTensor *y, const RlTensor *x,
            const RlTensor *w, const RlTensor *bias, const RlConvParams *params,
            ConvShape *cs)
{
  char dx[RL_TENSOR_DESCRIBE_SIZE], dw[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  int nd = spatial + 2;

  if (params == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "%s: params are required", op);
  if (x->ndim != nd || w->ndim != nd || y->ndim != nd || w->shape[1] != x->shape[1]
      || y->shape[0] != x->shape[0] || y->shape[1] != w->shape[0])
    goto mismatch;
  cs->batch = x->shape[0];
  cs->in_ch = x->shape[1];
  cs->out_ch = w->shape[0];
  for (int i = 0; i < 3; i++)
    {
      int s = i - (3 - spatial);      /* index into params / spatial dims */
      if (s < 0)
        {
          cs->in[i] = cs->k[i] = cs->out[i] = 1;
          cs->stride[i] = 1;
          cs->pad[i] = 0;
          continue;
        }
      int stride = params->stride[s], pb = params->pad_before[s], pa = params->pad_after[s];
      if (stride < 1 || pb < 0 || pa < 0)
        return rl_set_error (RL_E_INVALID_ARG, "%s: spatial dim %d has stride %d and padding %d/%d",
                             op, s, stride, pb, pa);
      cs->in[i] = x->shape[2 + s];
      cs->k[i] = w->shape[2 + s];
      cs->stride[i] = stride;
      cs->pad[i] = pb;
      int64_t span = cs->in[i] + pb + pa - cs->k[i];
      if (span < 0 || cs->k[i] < 1)
        goto mismatch;
      cs->out[i] = span / stride + 1;
      if (y->shape[2 + s] != cs->out[i])
        goto mismatch;
    }
  if (bias != NULL && (bias->ndim != 1 || bias->shape[0] != cs->out_ch))
    return rl_set_error (RL_E_SHAPE, "%s: bias %s must be [%lld]", op,
                         rl_tensor_describe (bias, dx, sizeof dx), (long long) cs->out_ch);
  return RL_OK;
mismatch:
  return rl_set_error (RL_E_SHAPE, "%s: x %s with weight %s and the given stride/padding does not give y %s",
                       op, rl_tensor_describe (x, dx, sizeof dx), rl_tensor_describe (w, dw, sizeof dw),
                       rl_tensor_describe (y, dy, sizeof dy));
}

/* Columns for output frame `to`, positions [p0, p0 + np): row (c,dt,dh,dw). */
static void
im2col (const ConvShape *cs, const float *xb, int64_t to, int64_t p0, int64_t np, float *cols)
{
  int64_t kvol = cs->k[0] * cs->k[1] * cs->k[2];
  int64_t rows = cs->in_ch * kvol;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; r++)
    {
      int64_t c = r / kvol, kk = r % kvol;
      int64_t dt = kk / (cs->k[1] * cs->k[2]);
      int64_t dh = (kk / cs->k[2]) % cs->k[1];
      int64_t dw = kk % cs->k[2];
      int64_t it = to * cs->stride[0] - cs->pad[0] + dt;
      float *out = cols + r * np;
      if (it < 0 || it >= cs->in[0])
        {
          memset (out, 0, (size_t) np * sizeof (float));
          continue;
        }
      const float *plane = xb + (c * cs->in[0] + it) * cs->in[1] * cs->in[2];
      for (int64_t i = 0; i < np; i++)
        {
          int64_t p = p0 + i;
          int64_t oh = p / cs->out[2], ow = p % cs->out[2];
          int64_t ih = oh * cs->stride[1] - cs->pad[1] + dh;
          int64_t iw = ow * cs->stride[2] - cs->pad[2] + dw;
          out[i] = (ih >= 0 && ih < cs->in[1] && iw >= 0 && iw < cs->in[2])
                     ? plane[ih * cs->in[2] + iw] : 0.0f;
        }
    }
}

static RlStatus
conv_nd (RlContext *ctx, const char *op, int spatial, RlTensor *y, const RlTensor *x,
         const RlTensor *w, const RlTensor *bias, const RlConvParams *params)
{
  ConvShape cs;
  RlStatus st;

  if ((st = cpu_check (op, "y", y, CPU_FLOAT | CPU_CONTIGUOUS)) != RL_OK
      || (st = cpu_check (op, "x", x, CPU_FLOAT)) != RL_OK
      || (st = cpu_check (op, "weight", w, CPU_FLOAT | CPU_FLOAT8)) != RL_OK
      || (bias != NULL && (st = cpu_check (op, "bias", bias, CPU_FLOAT)) != RL_OK)
      || (st = conv_shape (op, spatial, y, x, w, bias, params, &cs)) != RL_OK)
    return st;

  int64_t ck = cs.in_ch * cs.k[0] * cs.k[1] * cs.k[2];
  int64_t positions = cs.out[1] * cs.out[2];
  int64_t in_volume = cs.in_ch * cs.in[0] * cs.in[1] * cs.in[2];
  int64_t chunk = (int64_t) (COLUMN_BYTES / sizeof (float)) / (ck > 0 ? ck : 1);
  if (chunk < 1)
    chunk = 1;
  if (chunk > positions)
    chunk = positions;
  float *xs = NULL, *ws = NULL, *bs = NULL, *cols = NULL, *out = NULL;
  bool x_owned = false, w_owned = false, b_owned = false;

  if ((st = cpu_dense_f32 (ctx, x, &xs, &x_owned)) != RL_OK)
    return st;
  if ((st = cpu_dense_f32 (ctx, w, &ws, &w_owned)) != RL_OK
      || (bias != NULL && (st = cpu_dense_f32 (ctx, bias, &bs, &b_owned)) != RL_OK)
      || (st = cpu_scratch (ctx, (size_t) (ck * chunk + 1) * sizeof (float), (void **) &cols)) != RL_OK
      || (st = cpu_scratch (ctx, (size_t) (cs.out_ch * chunk + 1) * sizeof (float), (void **) &out)) != RL_OK)
    goto done;

  for (int64_t b = 0; b < cs.batch; b++)
    for (int64_t to = 0; to < cs.out[0]; to++)
      for (int64_t p0 = 0; p0 < positions; p0 += chunk)
        {
          int64_t np = positions - p0 < chunk ? positions - p0 : chunk;
          im2col (&cs, xs + b * in_volume, to, p0, np, cols);
          memset (out, 0, (size_t) (cs.out_ch * np) * sizeof (float));   /* beta = 0, NaN-safe */
          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (int) cs.out_ch, (int) np, (int) ck,
                       1.0f, ws, (int) ck, cols, (int) np, 0.0f, out, (int) np);
#pragma omp parallel for schedule(static)
          for (int64_t o = 0; o < cs.out_ch; o++)
            {
              float *row = out + o * np;
              if (bs != NULL)
                for (int64_t i = 0; i < np; i++)
                  row[i] += bs[o];
              int64_t offset = ((b * cs.out_ch + o) * cs.out[0] + to) * positions + p0;
              cpu_store_row (y->dtype, y->data, offset, 1, np, row);
            }
        }
done:
  if (out != NULL)
    cpu_scratch_free (ctx, out);
  if (cols != NULL)
    cpu_scratch_free (ctx, cols);
  cpu_dense_f32_free (ctx, xs, x_owned);
  if (ws != NULL)
    cpu_dense_f32_free (ctx, ws, w_owned);
  if (bs != NULL)
    cpu_dense_f32_free (ctx, bs, b_owned);
  return st;
}

RlStatus
cpu_conv2d (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *w,
            const RlTensor *bias, const RlConvParams *params)
{
  return conv_nd (ctx, "conv2d", 2, y, x, w, bias, params);
}

RlStatus
cpu_conv3d (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *w,
            const RlTensor *bias, const RlConvParams *params)
{
  return conv_nd (ctx, "conv3d", 3, y, x, w, bias, params);
}
