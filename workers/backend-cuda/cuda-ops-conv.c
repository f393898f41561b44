/* conv2d and conv3d of the CUDA op table. cuDNN runs them where libcudnn
 * is there and takes the shape (cuda-conv-cudnn.c); otherwise an im2col
 * gather feeds cuBLASLt GEMMs in chunks. $RAYLIGHT_CUDA_CONV picks the
 * path: "cudnn" (an error when cuDNN cannot run it), "im2col", or unset /
 * "auto" (cuDNN, else im2col with the reason written to stderr once).
 * $RAYLIGHT_CUDA_CONV_LOG=1 writes cuDNN's choice for every new shape;
 * $RAYLIGHT_CUDA_CONV_FRAMES_PER_CALL=N makes every conv3d without time
 * padding run N output frames a call (tests of the split). */
#include "cuda-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda-conv-cudnn.h"
#include "cuda-elementwise.h"
#include "cuda-layout.h"

/* Largest im2col scratch a convolution takes at once. */
#define IM2COL_BYTES ((size_t) 256 << 20)
/* Largest cuDNN workspace by default; $RAYLIGHT_CUDA_CONV_WORKSPACE_MIB
 * changes it. cuDNN ranks algorithms by speed: a smaller limit can cost
 * speed, a larger one peak memory. */
#define CUDNN_WORKSPACE_LIMIT ((size_t) 1 << 30)
/* Workspace above which a conv3d runs in several calls over output
 * frames (frames_per_call). */
#define CUDNN_SPLIT_BYTES ((size_t) 256 << 20)

typedef enum { CONV_AUTO, CONV_IM2COL, CONV_CUDNN } ConvPath;

/* One validated convolution: the operands and their geometry. */
typedef struct {
  const char         *op;
  int                 spatial;     /* 2 or 3 */
  RlTensor           *y;
  const RlTensor     *x, *w, *bias;
  RlCudaConvGeometry  g;           /* T first; conv2d has T = 1 */
  int64_t             pad_after[3];
  int64_t             batch, out_ch, positions;
} Conv;

static RlStatus
conv_path (const char *op, ConvPath *out)
{
  const char *asked = getenv ("RAYLIGHT_CUDA_CONV");
  if (asked == NULL || asked[0] == '\0' || strcmp (asked, "auto") == 0)
    *out = CONV_AUTO;
  else if (strcmp (asked, "cudnn") == 0)
    *out = CONV_CUDNN;
  else if (strcmp (asked, "im2col") == 0)
    *out = CONV_IM2COL;
  else
    return rl_set_error (RL_E_INVALID_ARG, "%s: RAYLIGHT_CUDA_CONV=%s; use cudnn, im2col or auto",
                         op, asked);
  return RL_OK;
}

static size_t
workspace_limit (void)
{
  const char *mib = getenv ("RAYLIGHT_CUDA_CONV_WORKSPACE_MIB");
  if (mib != NULL && mib[0] != '\0')
    return (size_t) strtoull (mib, NULL, 10) << 20;
  return CUDNN_WORKSPACE_LIMIT;
}

/* Adds bias[o] to y[b, o, p] in place, broadcast over batch and positions. */
static RlStatus
add_bias (RlContext *ctx, const Conv *c, void *y, RlDType y_dtype)
{
  int64_t shape3[3] = { c->batch, c->out_ch, c->positions };
  int64_t y_strides[3] = { c->out_ch * c->positions, c->positions, 1 };
  int64_t b_strides[3] = { 0, c->bias->strides[0], 0 };
  return cuda_launch_status (rl_cuda_binary_strided (RL_CUDA_BINARY_ADD, 1.0f,
                                                     rl_tensor_scale (c->bias), 3, shape3, y,
                                                     cuda_type (y_dtype), y_strides, y,
                                                     cuda_type (y_dtype), y_strides, c->bias->data,
                                                     cuda_type (c->bias->dtype), b_strides,
                                                     ctx->stream), c->op);
}

/* ------------------------------------------------------------- im2col */

static RlStatus
convolve_im2col (RlContext *ctx, const Conv *c)
{
  const char *op = c->op;
  const RlCudaConvGeometry *g = &c->g;
  RlTensor *y = c->y;
  int64_t kdim = g->channels * g->kernel[0] * g->kernel[1] * g->kernel[2];
  RlDType compute = cuda_compute_dtype (c->w->dtype);
  bool y_direct = y->dtype == RL_F32 || y->dtype == compute;
  int csize = rl_cuda_dtype_size (cuda_type (compute));
  int64_t chunk = (int64_t) (IM2COL_BYTES / ((size_t) kdim * (size_t) csize));
  if (chunk < 1) chunk = 1;
  if (chunk > c->positions) chunk = c->positions;
  void *xs = NULL, *ws = NULL, *cols = NULL, *ys = NULL;
  bool x_owned = false, w_owned = false;
  RlStatus st;
  if ((st = cuda_dense_as (ctx, op, c->x, c->x->dtype, &xs, &x_owned)) != RL_OK)
    return st;
  if ((st = cuda_dense_as (ctx, op, c->w, compute, &ws, &w_owned)) != RL_OK
      || (st = cuda_scratch (ctx, (size_t) (chunk * kdim) * (size_t) csize, &cols)) != RL_OK)
    goto out;
  ys = y->data;
  if (!y_direct
      && (st = cuda_scratch (ctx, (size_t) (c->batch * c->out_ch * c->positions) * sizeof (float),
                             &ys)) != RL_OK)
    goto out;
  RlDType out_dtype = y_direct ? y->dtype : RL_F32;
  int osize = rl_cuda_dtype_size (cuda_type (out_dtype));
  int xsize = rl_cuda_dtype_size (cuda_type (c->x->dtype));
  int64_t image = g->channels * g->in[0] * g->in[1] * g->in[2];
  for (int64_t b = 0; b < c->batch && st == RL_OK; b++) {
    char *y_b = (char *) ys + b * c->out_ch * c->positions * osize;
    for (int64_t p0 = 0; p0 < c->positions && st == RL_OK; p0 += chunk) {
      int64_t count = c->positions - p0 < chunk ? c->positions - p0 : chunk;
      st = cuda_launch_status (rl_cuda_im2col (cols, cuda_type (compute),
                                               (const char *) xs + b * image * xsize,
                                               cuda_type (c->x->dtype), g, p0, count, ctx->stream),
                               op);
      /* y_b[O, P] = W[O, K] · cols[count, K]ᵀ, written into columns p0.. */
      RlCudaGemmShape shape = {
        .m = c->out_ch, .n = count, .k = kdim, .ldy = c->positions,
        .x_type = cuda_type (compute), .w_type = cuda_type (compute),
        .y_type = cuda_type (out_dtype), .bias_type = cuda_type (out_dtype),
      };
      RlCudaError error = { 0 };
      if (st == RL_OK && !rl_cuda_gemm_run (ctx->gemm, &shape, ws, cols, NULL, y_b + p0 * osize,
                                            1.0f, 0.0f, ctx->stream, &error))
        st = cuda_error_status (&error, op);
    }
  }
  if (st == RL_OK && c->bias != NULL)
    st = add_bias (ctx, c, ys, out_dtype);
  if (st == RL_OK && !y_direct)
    st = cuda_launch_status (rl_cuda_unary (rl_cuda_pointwise (RL_CUDA_UNARY_COPY), y->data,
                                            cuda_type (y->dtype), ys, CUDA_R_32F,
                                            c->batch * c->out_ch * c->positions, ctx->stream), op);
out:
  if (!y_direct && ys != NULL)
    cuda_scratch_free (ctx, ys);
  if (cols != NULL) cuda_scratch_free (ctx, cols);
  if (x_owned) cuda_scratch_free (ctx, xs);
  if (w_owned) cuda_scratch_free (ctx, ws);
  return st;
}

/* -------------------------------------------------------------- cuDNN */

/* The context's cuDNN convolutions, opened on first use; NULL (and the
 * reason in *why) when libcudnn is not there. */
static RlCudaCudnnConv *
context_cudnn (RlContext *ctx, const char **why)
{
  if (!ctx->cudnn_conv_tried) {
    RlCudaError error = { 0 };
    ctx->cudnn_conv_tried = true;
    ctx->cudnn_conv = rl_cuda_cudnn_conv_new (&error);
    if (ctx->cudnn_conv == NULL)
      snprintf (ctx->cudnn_conv_missing, sizeof ctx->cudnn_conv_missing, "%s", error.message);
  }
  *why = ctx->cudnn_conv_missing;
  return ctx->cudnn_conv;
}

/* x as a dense tensor in `compute` with the unequal part of its padding
 * written out, so cuDNN sees the same padding on both sides of each dim
 * (the causal conv's 2 leading frames, ZeroPad2d's one trailing row). */
static RlStatus
dense_padded_input (RlContext *ctx, const Conv *c, RlDType compute, int64_t sym[3], void **out,
                    bool *owned)
{
  const RlTensor *x = c->x;
  int offset = 3 - c->spatial;
  int64_t extra_before[RL_MAX_DIMS] = { 0 }, shape[RL_MAX_DIMS], strides[RL_MAX_DIMS];
  bool uneven = false;
  for (int d = 0; d < 3; d++) {
    int64_t before = c->g.pad_before[d], after = c->pad_after[d];
    sym[d] = before < after ? before : after;
    if (d >= offset) {
      extra_before[2 + d - offset] = before - sym[d];
      uneven = uneven || before != after;
    }
  }
  if (!uneven)
    return cuda_dense_as (ctx, c->op, x, compute, out, owned);
  for (int d = 0; d < x->ndim; d++)
    shape[d] = x->shape[d];
  for (int d = offset; d < 3; d++)
    shape[2 + d - offset] += c->g.pad_before[d] + c->pad_after[d] - 2 * sym[d];
  rl_contiguous_strides (x->ndim, shape, strides);
  int64_t count = 1;
  for (int d = 0; d < x->ndim; d++)
    count *= shape[d];
  RlStatus st = cuda_scratch (ctx, (size_t) count * (size_t) rl_cuda_dtype_size (cuda_type (compute)),
                              out);
  if (st != RL_OK)
    return rl_prefix_error (st, "%s: ", c->op);
  st = cuda_launch_status (rl_cuda_pad (RL_CUDA_PAD_CONSTANT, 0.0f, rl_tensor_scale (x), x->ndim,
                                        *out, cuda_type (compute), shape, strides, x->data,
                                        cuda_type (x->dtype), x->shape, x->strides, extra_before,
                                        ctx->stream), c->op);
  if (st != RL_OK) {
    cuda_scratch_free (ctx, *out);
    *out = NULL;
    return st;
  }
  *owned = true;
  return RL_OK;
}

/* Output frames per cuDNN call for a conv3d whose whole-shape workspace
 * is `workspace` bytes: cuDNN's fastest algorithms for NC[D]HW data copy
 * input and output into an NDHWC workspace, so a wide video conv would
 * hold a workspace the size of both; calls over fewer output frames keep
 * it near CUDNN_SPLIT_BYTES. Frames are independent given their inputs, so
 * only the calls' count changes. */
static int64_t
frames_per_call (const RlCudaConvShape *shape, size_t workspace)
{
  int64_t frames = shape->out[0];
  const char *forced = getenv ("RAYLIGHT_CUDA_CONV_FRAMES_PER_CALL");
  if (forced != NULL && atoll (forced) > 0 && shape->spatial == 3 && shape->pad[0] == 0)
    return atoll (forced) < frames ? atoll (forced) : frames;
  if (shape->spatial != 3 || shape->pad[0] != 0 || frames < 2 || workspace <= CUDNN_SPLIT_BYTES)
    return frames;
  int64_t per = (int64_t) ((double) frames * (double) CUDNN_SPLIT_BYTES / (double) workspace);
  return per < 1 ? 1 : per;
}

/* The shape of the call covering `frames` output frames of `whole`, as a
 * view into whole's x and y. */
static RlCudaConvShape
frames_shape (const RlCudaConvShape *whole, int64_t frames)
{
  RlCudaConvShape part = *whole;
  int64_t x_dims[5] = { whole->batch, whole->in_channels, whole->in[0], whole->in[1], whole->in[2] };
  int64_t y_dims[5] = { whole->batch, whole->out_channels, whole->out[0], whole->out[1],
                        whole->out[2] };
  rl_contiguous_strides (5, x_dims, part.x_strides);
  rl_contiguous_strides (5, y_dims, part.y_strides);
  part.in[0] = (frames - 1) * whole->stride[0] + whole->kernel[0];
  part.out[0] = frames;
  return part;
}

/* Runs the convolution through cuDNN, in several calls over output
 * frames where one would need a large workspace. *refused says cuDNN
 * cannot run it (the status then carries why) and im2col may take over. */
static RlStatus
convolve_cudnn (RlContext *ctx, RlCudaCudnnConv *cudnn, const Conv *c, bool *refused)
{
  const char *op = c->op;
  RlTensor *y = c->y;
  RlDType compute = cuda_compute_dtype (c->w->dtype);
  int offset = 3 - c->spatial;
  int64_t sym[3];
  RlCudaConvShape shape = {
    .spatial = c->spatial, .type = cuda_type (compute), .batch = c->batch,
    .in_channels = c->g.channels, .out_channels = c->out_ch,
  };
  *refused = false;
  void *xs = NULL, *ws = NULL, *ys = y->data, *workspace = NULL;
  bool x_owned = false, w_owned = false, y_direct = y->dtype == compute;
  size_t workspace_bytes = 0, whole_workspace = 0, limit = workspace_limit ();
  RlStatus st = dense_padded_input (ctx, c, compute, sym, &xs, &x_owned);
  if (st != RL_OK)
    return st;
  for (int d = 0; d < c->spatial; d++) {
    int g = offset + d;
    shape.in[d] = c->g.in[g] + c->g.pad_before[g] + c->pad_after[g] - 2 * sym[g];
    shape.kernel[d] = c->g.kernel[g];
    shape.stride[d] = c->g.stride[g];
    shape.pad[d] = sym[g];
    shape.out[d] = c->g.out[g];
  }
  RlCudaError error = { 0 };
  bool first_time = false, unused;
  if (!rl_cuda_cudnn_conv_prepare (cudnn, &shape, limit, &whole_workspace, &first_time, &error)) {
    *refused = true;
    st = rl_set_error (RL_E_NOT_SUPPORTED, "%s: cuDNN cannot run x %lld×%lld×%lld×%lld×%lld "
                       "kernel %lld×%lld×%lld: %s", op, (long long) c->batch,
                       (long long) c->g.channels, (long long) c->g.in[0], (long long) c->g.in[1],
                       (long long) c->g.in[2], (long long) c->g.kernel[0],
                       (long long) c->g.kernel[1], (long long) c->g.kernel[2], error.message);
    if (first_time)
      fprintf (stderr, "raylight cuda: %s (im2col runs it)\n", rl_last_error ());
    goto out;
  }
  /* The calls: `per` output frames each, the last one `rest`; back to one
   * call if cuDNN refuses the views. */
  int64_t frames = shape.out[0], per = frames_per_call (&shape, whole_workspace);
  int64_t rest = frames % per == 0 ? per : frames % per;
  RlCudaConvShape part = frames_shape (&shape, per), last = frames_shape (&shape, rest);
  size_t part_bytes = 0, last_bytes = 0;
  if (per < frames
      && rl_cuda_cudnn_conv_prepare (cudnn, &part, limit, &part_bytes, &unused, &error)
      && rl_cuda_cudnn_conv_prepare (cudnn, &last, limit, &last_bytes, &unused, &error)) {
    workspace_bytes = part_bytes > last_bytes ? part_bytes : last_bytes;
  } else {
    per = rest = frames;
    part = last = shape;
    workspace_bytes = whole_workspace;
  }
  if (first_time && getenv ("RAYLIGHT_CUDA_CONV_LOG") != NULL) {
    char chosen[240];
    rl_cuda_cudnn_conv_describe (cudnn, &part, chosen, sizeof chosen);
    fprintf (stderr, "raylight cuda: %s %lld→%lld x %lld×%lld×%lld kernel %lld×%lld×%lld: %s; "
             "%lld of %lld output frames a call (whole: %.1f MiB)\n", op,
             (long long) c->g.channels, (long long) c->out_ch, (long long) shape.in[0],
             (long long) shape.in[1], (long long) shape.in[2], (long long) c->g.kernel[0],
             (long long) c->g.kernel[1], (long long) c->g.kernel[2], chosen, (long long) per,
             (long long) frames, (double) whole_workspace / (1 << 20));
  }
  if ((st = cuda_dense_as (ctx, op, c->w, compute, &ws, &w_owned)) != RL_OK)
    goto out;
  if (!y_direct
      && (st = cuda_scratch (ctx, (size_t) (c->batch * c->out_ch * c->positions)
                             * (size_t) rl_cuda_dtype_size (cuda_type (compute)), &ys)) != RL_OK)
    goto out;
  if (workspace_bytes > 0 && (st = cuda_scratch (ctx, workspace_bytes, &workspace)) != RL_OK)
    goto out;
  int esize = rl_cuda_dtype_size (cuda_type (compute));
  int64_t x_frame = shape.in[1] * shape.in[2], y_frame = shape.out[1] * shape.out[2];
  for (int64_t f0 = 0; f0 < frames; f0 += per) {
    const RlCudaConvShape *call = frames - f0 < per ? &last : &part;
    const char *x_at = (const char *) xs + f0 * shape.stride[0] * x_frame * esize;
    char *y_at = (char *) ys + f0 * y_frame * esize;
    bool refused_now = false;
    if (!rl_cuda_cudnn_conv_run (cudnn, call, x_at, ws, y_at, workspace, workspace_bytes,
                                 ctx->stream, &refused_now, &error)) {
      if (refused_now) {
        *refused = true;
        st = rl_set_error (RL_E_NOT_SUPPORTED, "%s: cuDNN cannot run it: %s", op, error.message);
        fprintf (stderr, "raylight cuda: %s (im2col runs it)\n", rl_last_error ());
      } else {
        st = cuda_error_status (&error, op);
      }
      goto out;
    }
  }
  if (!y_direct)
    st = cuda_launch_status (rl_cuda_unary (rl_cuda_pointwise (RL_CUDA_UNARY_COPY), y->data,
                                            cuda_type (y->dtype), ys, cuda_type (compute),
                                            c->batch * c->out_ch * c->positions, ctx->stream), op);
  if (st == RL_OK && c->bias != NULL)
    st = add_bias (ctx, c, y->data, y->dtype);
out:
  if (workspace != NULL) cuda_scratch_free (ctx, workspace);
  if (!y_direct && ys != NULL) cuda_scratch_free (ctx, ys);
  if (x_owned) cuda_scratch_free (ctx, xs);
  if (w_owned) cuda_scratch_free (ctx, ws);
  return st;
}

/* ---------------------------------------------------------- the op */

/* Checks the operands of conv2d (spatial = 2) or conv3d (spatial = 3)
 * and fills *c. */
static RlStatus
conv_validate (RlContext *ctx, Conv *c, const RlConvParams *params)
{
  char dx[RL_TENSOR_DESCRIBE_SIZE], dw[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  const char *op = c->op;
  const RlTensor *x = c->x, *w = c->w, *bias = c->bias;
  RlTensor *y = c->y;
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT)) != RL_OK
      || (st = cuda_check (ctx, op, "weight", w, CUDA_FLOAT | CUDA_FLOAT8)) != RL_OK
      || (bias != NULL && (st = cuda_check (ctx, op, "bias", bias, CUDA_FLOAT)) != RL_OK))
    return st;
  if (params == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "%s: params is NULL", op);
  int nd = c->spatial + 2;
  if (x->ndim != nd || w->ndim != nd || y->ndim != nd)
    return rl_set_error (RL_E_SHAPE, "%s: x %s, weight %s and y %s must be %d-D", op,
                         rl_tensor_describe (x, dx, sizeof dx), rl_tensor_describe (w, dw, sizeof dw),
                         rl_tensor_describe (y, dy, sizeof dy), nd);
  RlCudaConvGeometry *g = &c->g;
  memset (g, 0, sizeof *g);
  g->channels = x->shape[1];
  int offset = 3 - c->spatial; /* conv2d fills T = 1 */
  for (int d = 0; d < 3; d++) {
    g->in[d] = g->out[d] = g->kernel[d] = g->stride[d] = 1;
    c->pad_after[d] = 0;
  }
  bool ok = w->shape[1] == x->shape[1] && y->shape[0] == x->shape[0] && y->shape[1] == w->shape[0];
  for (int d = 0; d < c->spatial; d++) {
    int s = params->stride[d] > 0 ? params->stride[d] : 0;
    int64_t in = x->shape[2 + d], kernel = w->shape[2 + d];
    int64_t padded = in + params->pad_before[d] + params->pad_after[d];
    int64_t expect = s > 0 && padded >= kernel ? (padded - kernel) / s + 1 : -1;
    ok = ok && s > 0 && expect == y->shape[2 + d] && params->pad_before[d] >= 0
         && params->pad_after[d] >= 0;
    g->in[offset + d] = in;
    g->out[offset + d] = y->shape[2 + d];
    g->kernel[offset + d] = kernel;
    g->stride[offset + d] = s;
    g->pad_before[offset + d] = params->pad_before[d];
    c->pad_after[offset + d] = params->pad_after[d];
  }
  if (!ok || (bias != NULL && (bias->ndim != 1 || bias->shape[0] != w->shape[0])))
    return rl_set_error (RL_E_SHAPE, "%s: x %s with weight %s (stride/padding as given) does not "
                         "give y %s, or bias is not [O]", op, rl_tensor_describe (x, dx, sizeof dx),
                         rl_tensor_describe (w, dw, sizeof dw), rl_tensor_describe (y, dy, sizeof dy));
  c->batch = x->shape[0];
  c->out_ch = w->shape[0];
  c->positions = g->out[0] * g->out[1] * g->out[2];
  return RL_OK;
}

static RlStatus
convolve (RlContext *ctx, const char *op, int spatial, RlTensor *y, const RlTensor *x,
          const RlTensor *w, const RlTensor *bias, const RlConvParams *params)
{
  Conv c = { .op = op, .spatial = spatial, .y = y, .x = x, .w = w, .bias = bias };
  ConvPath path = CONV_AUTO;
  RlStatus st;
  if ((st = conv_validate (ctx, &c, params)) != RL_OK || (st = conv_path (op, &path)) != RL_OK)
    return st;
  if (c.batch == 0 || c.out_ch == 0 || c.positions == 0)
    return RL_OK;
  if (path == CONV_IM2COL)
    return convolve_im2col (ctx, &c);
  const char *missing = NULL;
  RlCudaCudnnConv *cudnn = context_cudnn (ctx, &missing);
  if (cudnn == NULL) {
    if (path == CONV_CUDNN)
      return rl_set_error (RL_E_NOT_SUPPORTED, "%s: RAYLIGHT_CUDA_CONV=cudnn but %s", op, missing);
    if (!ctx->conv_fallback_logged)
      fprintf (stderr, "raylight cuda: convolutions run as im2col + GEMM: %s\n", missing);
    ctx->conv_fallback_logged = true;
    return convolve_im2col (ctx, &c);
  }
  bool refused = false;
  st = convolve_cudnn (ctx, cudnn, &c, &refused);
  if (refused && path == CONV_AUTO)
    return convolve_im2col (ctx, &c);
  return st;
}

RlStatus
cuda_conv2d (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *w,
             const RlTensor *bias, const RlConvParams *params)
{
  return convolve (ctx, "conv2d", 2, y, x, w, bias, params);
}

RlStatus
cuda_conv3d (RlContext *ctx, RlTensor *y, const RlTensor *x, const RlTensor *w,
             const RlTensor *bias, const RlConvParams *params)
{
  return convolve (ctx, "conv3d", 3, y, x, w, bias, params);
}
