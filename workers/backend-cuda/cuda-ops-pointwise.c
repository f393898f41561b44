/* Element-wise and layout ops of the CUDA op table: add, mul, activation,
 * scale_shift, fill, copy, convert, concat, pad, upsample, embedding. */
#include "cuda-internal.h"

#include <string.h>

#include "cuda-elementwise.h"
#include "cuda-layout.h"

/* Strides that read `t` as if it had y's shape (0 on broadcast dims). */
static RlStatus
broadcast_strides (const char *op, const char *arg, const RlTensor *t, const RlTensor *y,
                   int64_t *strides)
{
  char dt[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  int lead = y->ndim - t->ndim;
  if (lead < 0)
    goto mismatch;
  for (int d = 0; d < y->ndim; d++) {
    int e = d - lead;
    if (e < 0)
      strides[d] = 0;
    else if (t->shape[e] == y->shape[d])
      strides[d] = t->shape[e] == 1 ? 0 : t->strides[e];
    else if (t->shape[e] == 1)
      strides[d] = 0;
    else
      goto mismatch;
  }
  return RL_OK;
mismatch:
  return rl_set_error (RL_E_SHAPE, "%s: %s %s does not broadcast to the output %s", op, arg,
                       rl_tensor_describe (t, dt, sizeof dt), rl_tensor_describe (y, dy, sizeof dy));
}

static bool
dense_like (const RlTensor *t, const RlTensor *y)
{
  return rl_tensor_same_shape (t, y) && rl_tensor_is_contiguous (t);
}

static RlStatus
binary (RlContext *ctx, const char *op, RlCudaBinaryOp kind, RlTensor *y, const RlTensor *a,
        const RlTensor *b, float alpha, float beta)
{
  RlStatus st;
  int64_t sa[RL_MAX_DIMS] = { 0 }, sb[RL_MAX_DIMS] = { 0 };
  if (a == NULL || b == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "%s: a and b are required", op);
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT)) != RL_OK
      || (st = cuda_check (ctx, op, "a", a, CUDA_FLOAT | CUDA_FLOAT8)) != RL_OK
      || (st = cuda_check (ctx, op, "b", b, CUDA_FLOAT | CUDA_FLOAT8)) != RL_OK
      || (st = broadcast_strides (op, "a", a, y, sa)) != RL_OK
      || (st = broadcast_strides (op, "b", b, y, sb)) != RL_OK)
    return st;
  int64_t count = rl_tensor_numel (y);
  if (count == 0)
    return RL_OK;
  float sc_a = rl_tensor_scale (a), sc_b = rl_tensor_scale (b);
  if (kind == RL_CUDA_BINARY_MUL) {
    alpha = sc_a * sc_b;
  } else {
    alpha *= sc_a;
    beta *= sc_b;
  }
  if (rl_tensor_is_contiguous (y) && dense_like (a, y) && dense_like (b, y))
    return cuda_launch_status (rl_cuda_binary (kind, alpha, beta, y->data, cuda_type (y->dtype),
                                               a->data, cuda_type (a->dtype), b->data,
                                               cuda_type (b->dtype), count, ctx->stream), op);
  int ndim = y->ndim > 0 ? y->ndim : 1;
  int64_t one = 1, zero = 0;
  return cuda_launch_status (rl_cuda_binary_strided (kind, alpha, beta, ndim,
                                                     y->ndim > 0 ? y->shape : &one, y->data,
                                                     cuda_type (y->dtype),
                                                     y->ndim > 0 ? y->strides : &zero, a->data,
                                                     cuda_type (a->dtype), sa, b->data,
                                                     cuda_type (b->dtype), sb, ctx->stream), op);
}

RlStatus
cuda_add (RlContext *ctx, RlTensor *y, const RlTensor *a, const RlTensor *b, float alpha,
          float beta)
{
  return binary (ctx, "add", RL_CUDA_BINARY_ADD, y, a, b, alpha, beta);
}

RlStatus
cuda_mul (RlContext *ctx, RlTensor *y, const RlTensor *a, const RlTensor *b)
{
  return binary (ctx, "mul", RL_CUDA_BINARY_MUL, y, a, b, 1.0f, 0.0f);
}

/* y = pointwise(x) with any strides on either side (x NULL: fill). */
static RlStatus
pointwise (RlContext *ctx, const char *op, RlCudaPointwise p, RlTensor *y, const RlTensor *x)
{
  int64_t count = rl_tensor_numel (y);
  if (count == 0)
    return RL_OK;
  if (rl_tensor_is_contiguous (y) && (x == NULL || rl_tensor_is_contiguous (x))) {
    if (x == NULL) {
      if (p.alpha == 0.0f && p.out_divisor == 1.0f)
        return cuda_launch_status (rl_cuda_fill (y->data, cuda_type (y->dtype), count, p.beta,
                                                 ctx->stream), op);
    } else {
      return cuda_launch_status (rl_cuda_unary (p, y->data, cuda_type (y->dtype), x->data,
                                                cuda_type (x->dtype), count, ctx->stream), op);
    }
  }
  int64_t one = 1, zero = 0;
  bool scalar = y->ndim == 0;
  return cuda_launch_status (rl_cuda_unary_strided (p, scalar ? 1 : y->ndim,
                                                    scalar ? &one : y->shape, y->data,
                                                    cuda_type (y->dtype),
                                                    scalar ? &zero : y->strides,
                                                    x != NULL ? x->data : NULL,
                                                    x != NULL ? cuda_type (x->dtype) : CUDA_R_32F,
                                                    x != NULL && !scalar ? x->strides : &zero,
                                                    ctx->stream), op);
}

static RlCudaUnaryOp
unary_op (RlActivation act)
{
  switch (act) {
  case RL_ACT_GELU_TANH: return RL_CUDA_UNARY_GELU_TANH;
  case RL_ACT_SILU:      return RL_CUDA_UNARY_SILU;
  case RL_ACT_GELU_ERF:  return RL_CUDA_UNARY_GELU_ERF;
  default:               return RL_CUDA_UNARY_COPY;
  }
}

RlStatus
cuda_activation (RlContext *ctx, RlTensor *y, const RlTensor *x, RlActivation act)
{
  const char *op = "activation";
  RlStatus st;
  if (x == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "activation: x is required");
  if (act < RL_ACT_NONE || act > RL_ACT_GELU_ERF)
    return rl_set_error (RL_E_INVALID_ARG, "activation: unknown activation %d", (int) act);
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT | CUDA_FLOAT8)) != RL_OK
      || (st = cuda_check_same_shape (op, "y", y, "x", x)) != RL_OK)
    return st;
  RlCudaPointwise p = rl_cuda_pointwise (unary_op (act));
  p.in_scale = rl_tensor_scale (x);
  return pointwise (ctx, op, p, y, x);
}

RlStatus
cuda_scale_shift (RlContext *ctx, RlTensor *y, const RlTensor *x, float alpha, float beta)
{
  const char *op = "scale_shift";
  RlStatus st;
  if (x == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "scale_shift: x is required");
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT | CUDA_FLOAT8)) != RL_OK
      || (st = cuda_check_same_shape (op, "y", y, "x", x)) != RL_OK)
    return st;
  RlCudaPointwise p = rl_cuda_pointwise (RL_CUDA_UNARY_COPY);
  p.in_scale = rl_tensor_scale (x);
  p.alpha = alpha;
  p.beta = beta;
  if (alpha == 0.0f) {
    /* 0·x must still propagate NaN like the CPU's x·0 + beta does. */
    p.alpha = 1.0f;
    p.in_scale = 0.0f;
  }
  return pointwise (ctx, op, p, y, x);
}

RlStatus
cuda_fill (RlContext *ctx, RlTensor *y, float value)
{
  RlStatus st = cuda_check (ctx, "fill", "y", y, CUDA_PLAIN);
  if (st != RL_OK)
    return st;
  RlCudaPointwise p = rl_cuda_pointwise (RL_CUDA_UNARY_COPY);
  p.alpha = 0.0f;
  p.beta = value;
  return pointwise (ctx, "fill", p, y, NULL);
}

/* Most calls a strided copy may take as 2-D copies before the element-wise
 * kernel is cheaper. */
#define ROW_COPY_MAX_CALLS 16
/* Narrowest contiguous run worth a 2-D copy row. */
#define ROW_COPY_MIN_BYTES 512

/* Copies src into dst as rows when both share a contiguous innermost run
 * of at least ROW_COPY_MIN_BYTES and at most one more dim (after merging)
 * is left to loop over: a narrow along a middle dim, a concat part, a
 * frame interleave, the Ulysses exchange's packing. Rows move at memory
 * bandwidth (the row-copy kernel; cudaMemcpy2DAsync when the layout is not
 * 16-byte aligned), where the element-wise kernel divides out every index.
 * False (nothing done) when the layout does not fit. */
static bool
copy_as_rows (RlContext *ctx, RlTensor *dst, const RlTensor *src, RlStatus *st)
{
  int64_t shape[RL_MAX_DIMS], ds[RL_MAX_DIMS], ss[RL_MAX_DIMS];
  int n = 0;
  /* dims from innermost outwards, size-1 dims dropped, mergeable ones merged */
  for (int d = src->ndim - 1; d >= 0; d--) {
    if (src->shape[d] == 1)
      continue;
    if (n > 0 && dst->strides[d] == ds[n - 1] * shape[n - 1]
        && src->strides[d] == ss[n - 1] * shape[n - 1]) {
      shape[n - 1] *= src->shape[d];
      continue;
    }
    shape[n] = src->shape[d];
    ds[n] = dst->strides[d];
    ss[n] = src->strides[d];
    n++;
  }
  size_t esize = rl_dtype_block_bytes (src->dtype);
  if (n == 0 || ds[0] != 1 || ss[0] != 1 || rl_dtype_block_elems (src->dtype) != 1
      || (size_t) shape[0] * esize < ROW_COPY_MIN_BYTES)
    return false;
  if (n == 3 && shape[2] > shape[1]) {
    /* the longer outer dim makes the rows, the shorter one the calls */
    int64_t t;
    t = shape[1]; shape[1] = shape[2]; shape[2] = t;
    t = ds[1]; ds[1] = ds[2]; ds[2] = t;
    t = ss[1]; ss[1] = ss[2]; ss[2] = t;
  }
  size_t width = (size_t) shape[0] * esize;
  int64_t rows = n > 1 ? shape[1] : 1;
  size_t dpitch = n > 1 ? (size_t) ds[1] * esize : width;
  size_t spitch = n > 1 ? (size_t) ss[1] * esize : width;
  int64_t calls = 1;
  for (int i = 2; i < n; i++)
    calls *= shape[i];
  if (n > 3 || calls > ROW_COPY_MAX_CALLS || (n > 1 && (ds[1] < shape[0] || ss[1] < shape[0])))
    return false;
  /* One kernel for every call when the layout is 16-byte aligned; the
   * 2-D memcpy otherwise. */
  int64_t dcall = n > 2 ? ds[2] * (int64_t) esize : 0, scall = n > 2 ? ss[2] * (int64_t) esize : 0;
  cudaError_t kernel = rl_cuda_copy_rows (dst->data, (int64_t) dpitch, dcall, src->data,
                                          (int64_t) spitch, scall, (int64_t) width, rows, calls,
                                          ctx->stream);
  if (kernel == cudaSuccess) {
    *st = RL_OK;
    return true;
  }
  if (kernel != cudaErrorInvalidValue) {
    *st = cuda_launch_status (kernel, "copy");
    return true;
  }
  for (int64_t c = 0; c < calls; c++) {
    int64_t d_off = n > 2 ? c * ds[2] : 0, s_off = n > 2 ? c * ss[2] : 0;
    cudaError_t status = cudaMemcpy2DAsync ((char *) dst->data + d_off * (int64_t) esize, dpitch,
                                            (const char *) src->data + s_off * (int64_t) esize,
                                            spitch, width, (size_t) rows,
                                            cudaMemcpyDeviceToDevice, ctx->stream);
    if (status != cudaSuccess) {
      *st = cuda_launch_status (status, "copy");
      return true;
    }
  }
  *st = RL_OK;
  return true;
}

RlStatus
cuda_copy (RlContext *ctx, RlTensor *dst, const RlTensor *src)
{
  const char *op = "copy";
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "dst", dst, 0)) != RL_OK
      || (st = cuda_check (ctx, op, "src", src, 0)) != RL_OK
      || (st = cuda_check_same_shape (op, "dst", dst, "src", src)) != RL_OK)
    return st;
  if (dst->dtype != src->dtype)
    return rl_set_error (RL_E_DTYPE, "copy: dst is %s but src is %s; use convert",
                         rl_dtype_name (dst->dtype), rl_dtype_name (src->dtype));
  if (rl_tensor_numel (src) == 0)
    return RL_OK;
  if (rl_tensor_is_contiguous (dst) && rl_tensor_is_contiguous (src)) {
    cudaError_t status = cudaMemcpyAsync (dst->data, src->data, rl_tensor_nbytes (src),
                                          cudaMemcpyDeviceToDevice, ctx->stream);
    return status == cudaSuccess ? RL_OK : cuda_launch_status (status, op);
  }
  if (copy_as_rows (ctx, dst, src, &st))
    return st;
  if ((int) cuda_type (src->dtype) == -1)
    return rl_set_error (RL_E_NOT_SUPPORTED, "copy: strided copies of %s are not supported on "
                         "cuda", rl_tensor_describe (src, desc, sizeof desc));
  return pointwise (ctx, op, rl_cuda_pointwise (RL_CUDA_UNARY_COPY), dst, src);
}

RlStatus
cuda_convert (RlContext *ctx, RlTensor *dst, const RlTensor *src)
{
  const char *op = "convert";
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "dst", dst, CUDA_PLAIN)) != RL_OK
      || (st = cuda_check (ctx, op, "src", src, 0)) != RL_OK
      || (st = cuda_check_same_shape (op, "dst", dst, "src", src)) != RL_OK)
    return st;
  float src_scale = rl_tensor_scale (src), dst_scale = rl_tensor_scale (dst);
  if (dst->dtype == src->dtype && src_scale == dst_scale)
    return cuda_copy (ctx, dst, src);
  if (rl_tensor_numel (src) == 0)
    return RL_OK;
  if (rl_dtype_is_quantized (src->dtype)) {
    if (!(dst->dtype == RL_F32 || dst->dtype == RL_F16 || dst->dtype == RL_BF16)
        || !rl_tensor_is_contiguous (dst) || dst_scale != 1.0f)
      return rl_set_error (RL_E_DTYPE, "convert: GGUF %s dequantises only into contiguous f32, "
                           "f16 or bf16 (dst %s)", rl_tensor_describe (src, desc, sizeof desc),
                           rl_tensor_describe (dst, desc, sizeof desc));
    void *out = NULL;
    bool owned = false;
    if ((st = cuda_dense_as (ctx, op, src, dst->dtype, &out, &owned)) != RL_OK)
      return st;
    cudaError_t status = cudaMemcpyAsync (dst->data, out, rl_tensor_nbytes (dst),
                                          cudaMemcpyDeviceToDevice, ctx->stream);
    if (owned)
      cuda_scratch_free (ctx, out);
    return status == cudaSuccess ? RL_OK : cuda_launch_status (status, op);
  }
  if ((int) cuda_type (src->dtype) == -1)
    return rl_set_error (RL_E_DTYPE, "convert: src %s has a dtype cuda kernels do not handle",
                         rl_tensor_describe (src, desc, sizeof desc));
  RlCudaPointwise p = rl_cuda_pointwise (RL_CUDA_UNARY_COPY);
  p.in_scale = src_scale;
  bool to_fp8 = dst->dtype == RL_F8_E4M3FN || dst->dtype == RL_F8_E5M2;
  p.out_divisor = to_fp8 ? dst_scale : 1.0f;
  return pointwise (ctx, op, p, dst, src);
}

RlStatus
cuda_concat (RlContext *ctx, RlTensor *y, const RlTensor *const *inputs, int n, int dim)
{
  const char *op = "concat";
  char dy[RL_TENSOR_DESCRIBE_SIZE], di[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_PLAIN)) != RL_OK)
    return st;
  int d = dim < 0 ? dim + y->ndim : dim;
  if (d < 0 || d >= y->ndim || n < 0 || (n > 0 && inputs == NULL))
    return rl_set_error (RL_E_INVALID_ARG, "concat: dim %d / %d inputs invalid for y %s", dim, n,
                         rl_tensor_describe (y, dy, sizeof dy));
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    const RlTensor *t = inputs[i];
    if ((st = cuda_check (ctx, op, "input", t, 0)) != RL_OK)
      return rl_prefix_error (st, "input %d: ", i);
    bool ok = t->ndim == y->ndim;
    for (int e = 0; ok && e < y->ndim; e++)
      ok = e == d || t->shape[e] == y->shape[e];
    if (!ok)
      return rl_set_error (RL_E_SHAPE, "concat: input %d %s does not fit y %s along dim %d", i,
                           rl_tensor_describe (t, di, sizeof di),
                           rl_tensor_describe (y, dy, sizeof dy), d);
    total += t->shape[d];
  }
  if (total != y->shape[d])
    return rl_set_error (RL_E_SHAPE, "concat: inputs add up to %lld along dim %d but y %s has %lld",
                         (long long) total, d, rl_tensor_describe (y, dy, sizeof dy),
                         (long long) y->shape[d]);
  int64_t start = 0;
  for (int i = 0; i < n; i++) {
    RlTensor part = { 0 };
    if ((st = rl_tensor_narrow (&part, y, d, start, inputs[i]->shape[d])) != RL_OK)
      return st;
    st = cuda_convert (ctx, &part, inputs[i]);
    rl_tensor_release (&part);
    if (st != RL_OK)
      return rl_prefix_error (st, "concat input %d: ", i);
    start += inputs[i]->shape[d];
  }
  return RL_OK;
}

RlStatus
cuda_pad (RlContext *ctx, RlTensor *y, const RlTensor *x, const int64_t *pad_before,
          const int64_t *pad_after, RlPadMode mode, float value)
{
  const char *op = "pad";
  char dx[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT | CUDA_FLOAT8)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT | CUDA_FLOAT8)) != RL_OK)
    return st;
  if (pad_before == NULL || pad_after == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "pad: pad_before and pad_after are required");
  if (mode < RL_PAD_CONSTANT || mode > RL_PAD_CIRCULAR)
    return rl_set_error (RL_E_INVALID_ARG, "pad: unknown mode %d", (int) mode);
  bool ok = x->ndim == y->ndim && x->ndim > 0;
  for (int d = 0; ok && d < x->ndim; d++)
    ok = x->shape[d] + pad_before[d] + pad_after[d] == y->shape[d];
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "pad: x %s with the given padding does not give y %s",
                         rl_tensor_describe (x, dx, sizeof dx), rl_tensor_describe (y, dy, sizeof dy));
  if (rl_tensor_numel (y) == 0)
    return RL_OK;
  RlCudaPadMode m = mode == RL_PAD_REPLICATE ? RL_CUDA_PAD_REPLICATE
                    : mode == RL_PAD_CIRCULAR ? RL_CUDA_PAD_CIRCULAR : RL_CUDA_PAD_CONSTANT;
  return cuda_launch_status (rl_cuda_pad (m, value, rl_tensor_scale (x), y->ndim, y->data,
                                          cuda_type (y->dtype), y->shape, y->strides, x->data,
                                          cuda_type (x->dtype), x->shape, x->strides, pad_before,
                                          ctx->stream), op);
}

RlStatus
cuda_upsample_nearest2x (RlContext *ctx, RlTensor *y, const RlTensor *x)
{
  const char *op = "upsample_nearest2x";
  char dx[RL_TENSOR_DESCRIBE_SIZE], dy[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "x", x, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK)
    return st;
  bool ok = (x->ndim == 4 || x->ndim == 5) && y->ndim == x->ndim && y->dtype == x->dtype;
  for (int d = 0; ok && d < x->ndim; d++)
    ok = y->shape[d] == (d >= x->ndim - 2 ? 2 * x->shape[d] : x->shape[d]);
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "upsample_nearest2x: y %s must be x %s with the last two "
                         "dims doubled and the same dtype", rl_tensor_describe (y, dy, sizeof dy),
                         rl_tensor_describe (x, dx, sizeof dx));
  int64_t h = x->shape[x->ndim - 2], w = x->shape[x->ndim - 1];
  return cuda_launch_status (rl_cuda_upsample2x (y->data, x->data, cuda_type (x->dtype),
                                                 cuda_span (x, 0, x->ndim - 2), h, w, ctx->stream),
                             op);
}

RlStatus
cuda_embedding (RlContext *ctx, RlTensor *y, const RlTensor *table, const RlTensor *ids)
{
  const char *op = "embedding";
  char dy[RL_TENSOR_DESCRIBE_SIZE], dt[RL_TENSOR_DESCRIBE_SIZE], di[RL_TENSOR_DESCRIBE_SIZE];
  RlStatus st;
  if ((st = cuda_check (ctx, op, "y", y, CUDA_FLOAT | CUDA_CONTIGUOUS)) != RL_OK
      || (st = cuda_check (ctx, op, "table", table, CUDA_FLOAT | CUDA_FLOAT8)) != RL_OK
      || (st = cuda_check (ctx, op, "ids", ids, CUDA_INDEX | CUDA_CONTIGUOUS)) != RL_OK)
    return st;
  int64_t count = rl_tensor_numel (ids);
  bool ok = table->ndim == 2 && y->ndim == ids->ndim + 1
            && y->shape[y->ndim - 1] == table->shape[1];
  for (int d = 0; ok && d < ids->ndim; d++)
    ok = y->shape[d] == ids->shape[d];
  if (!ok)
    return rl_set_error (RL_E_SHAPE, "embedding: table %s, ids %s and y %s disagree (y = ids' "
                         "shape + [D])", rl_tensor_describe (table, dt, sizeof dt),
                         rl_tensor_describe (ids, di, sizeof di), rl_tensor_describe (y, dy, sizeof dy));
  int64_t vocab = table->shape[0], dim = table->shape[1];
  if (count == 0 || dim == 0)
    return RL_OK;
  void *ts = NULL, *flag = NULL;
  bool owned = false;
  if ((st = cuda_dense_as (ctx, op, table, table->dtype, &ts, &owned)) != RL_OK)
    return st;
  unsigned long long first_bad = ~0ull;
  if ((st = cuda_scratch (ctx, sizeof first_bad, &flag)) == RL_OK) {
    cudaError_t status = cudaMemcpyAsync (flag, &first_bad, sizeof first_bad,
                                          cudaMemcpyHostToDevice, ctx->stream);
    if (status == cudaSuccess)
      status = rl_cuda_embedding (y->data, cuda_type (y->dtype), ts, cuda_type (table->dtype),
                                  vocab, dim, ids->data,
                                  ids->dtype == RL_I64 ? CUDA_R_64I : CUDA_R_32I, count, flag,
                                  ctx->stream);
    if (status == cudaSuccess)
      status = cudaMemcpyAsync (&first_bad, flag, sizeof first_bad, cudaMemcpyDeviceToHost,
                                ctx->stream);
    if (status == cudaSuccess)
      status = cudaStreamSynchronize (ctx->stream);
    st = cuda_launch_status (status, op);
    cuda_scratch_free (ctx, flag);
  }
  if (owned)
    cuda_scratch_free (ctx, ts);
  if (st == RL_OK && first_bad != ~0ull) {
    int64_t id = 0;
    size_t isize = ids->dtype == RL_I64 ? 8 : 4;
    cudaMemcpy (&id, (const char *) ids->data + first_bad * isize, isize, cudaMemcpyDeviceToHost);
    if (isize == 4)
      id = (int32_t) id;
    return rl_set_error (RL_E_INVALID_ARG, "embedding: id %lld at position %llu of ids %s is "
                         "outside the table's [0, %lld); check the tokenizer matches the model",
                         (long long) id, first_bad, rl_tensor_describe (ids, di, sizeof di),
                         (long long) vocab);
  }
  return st;
}
