/* Argument checks, dtype mapping, errors and scratch for the op table. */
#include "cuda-internal.h"

#include <string.h>

#include "cuda-elementwise.h"

/* workers/checkpoint/gguf-dequant-cuda.h, referenced weakly: resolved when
 * the executable links checkpoint_cuda_dep and pulls the symbol in (-u);
 * absent, GGUF sources report RL_E_NOT_SUPPORTED. */
extern RlStatus rl_gguf_dequantize_cuda (RlDType, const void *, int64_t, RlDType, void *, void *)
  __attribute__ ((weak));

RlDType
cuda_compute_dtype (RlDType w_dtype)
{
  if (w_dtype == RL_F32 || w_dtype == RL_F16)
    return w_dtype;
  return RL_BF16;
}

cudaDataType_t
cuda_type (RlDType dtype)
{
  switch (dtype) {
  case RL_F32:       return CUDA_R_32F;
  case RL_F16:       return CUDA_R_16F;
  case RL_BF16:      return CUDA_R_16BF;
  case RL_F8_E4M3FN: return CUDA_R_8F_E4M3;
  case RL_F8_E5M2:   return CUDA_R_8F_E5M2;
  case RL_I8:        return CUDA_R_8I;
  case RL_I32:       return CUDA_R_32I;
  default:           return (cudaDataType_t) -1;
  }
}

RlStatus
cuda_check (RlContext *ctx, const char *op, const char *arg, const RlTensor *t, unsigned flags)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  if (t == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "%s: %s is NULL", op, arg);
  if (t->device.kind != RL_DEVICE_CUDA || t->device.index != ctx->device)
    return rl_set_error (RL_E_DEVICE_MISMATCH, "%s: %s is %s, expected a tensor on cuda:%d; "
                         "transfer it first", op, arg, rl_tensor_describe (t, desc, sizeof desc),
                         ctx->device);
  if (t->data == NULL && rl_tensor_numel (t) > 0)
    return rl_set_error (RL_E_INVALID_ARG, "%s: %s has no data", op, arg);
  RlDType d = t->dtype;
  bool is16 = d == RL_F32 || d == RL_F16 || d == RL_BF16;
  bool is8 = d == RL_F8_E4M3FN || d == RL_F8_E5M2;
  bool ok = true;
  if (flags & CUDA_FLOAT)
    ok = is16 || ((flags & CUDA_FLOAT8) && is8);
  else if (flags & CUDA_INDEX)
    ok = d == RL_I32 || d == RL_I64;
  else if (flags & CUDA_PLAIN)
    ok = (int) cuda_type (d) != -1;
  if (!ok)
    return rl_set_error (RL_E_DTYPE, "%s: %s is %s; expected %s", op, arg,
                         rl_tensor_describe (t, desc, sizeof desc),
                         (flags & CUDA_FLOAT) ? ((flags & CUDA_FLOAT8) ? "f32, f16, bf16 or f8"
                                                                     : "f32, f16 or bf16")
                         : (flags & CUDA_INDEX) ? "i32 or i64"
                                                : "f32, f16, bf16, f8, i8 or i32");
  if ((flags & CUDA_CONTIGUOUS) && !rl_tensor_is_contiguous (t))
    return rl_set_error (RL_E_NOT_CONTIGUOUS, "%s: %s must be contiguous (%s); copy it first",
                         op, arg, rl_tensor_describe (t, desc, sizeof desc));
  return RL_OK;
}

RlStatus
cuda_check_same_shape (const char *op, const char *name_a, const RlTensor *a,
                       const char *name_b, const RlTensor *b)
{
  char da[RL_TENSOR_DESCRIBE_SIZE], db[RL_TENSOR_DESCRIBE_SIZE];
  if (rl_tensor_same_shape (a, b))
    return RL_OK;
  return rl_set_error (RL_E_SHAPE, "%s: %s %s and %s %s must have the same shape", op, name_a,
                       rl_tensor_describe (a, da, sizeof da), name_b,
                       rl_tensor_describe (b, db, sizeof db));
}

RlStatus
cuda_launch_status (cudaError_t status, const char *op)
{
  if (status == cudaSuccess)
    return RL_OK;
  if (status == cudaErrorInvalidValue)
    return rl_set_error (RL_E_INVALID_ARG, "%s: the kernel rejected its arguments (sizes, dtypes "
                         "or alignment); this is a bug in the op's checks", op);
  return rl_set_error (RL_E_DEVICE, "%s: kernel launch failed: %s", op,
                       cudaGetErrorString (status));
}

RlStatus
cuda_error_status (const RlCudaError *error, const char *op)
{
  RlStatus status = error->code == cudaErrorMemoryAllocation ? RL_E_DEVICE_OOM : RL_E_DEVICE;
  return rl_set_error (status, "%s: %s", op, error->message);
}

RlStatus
cuda_scratch (RlContext *ctx, size_t bytes, void **out)
{
  return rl_alloc (&ctx->allocator.base, bytes, out);
}

void
cuda_scratch_free (RlContext *ctx, void *ptr)
{
  rl_free (&ctx->allocator.base, ptr);
}

int64_t
cuda_span (const RlTensor *t, int begin, int end)
{
  int64_t n = 1;
  for (int d = begin; d < end; d++)
    n *= t->shape[d];
  return n;
}

static RlStatus
dequantize_blocks (RlContext *ctx, const char *op, const RlTensor *t, RlDType dtype, void *dst)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  if (rl_gguf_dequantize_cuda == NULL)
    return rl_set_error (RL_E_NOT_SUPPORTED, "%s: %s needs the GGUF CUDA dequantisers; link "
                         "checkpoint_cuda_dep", op, rl_tensor_describe (t, desc, sizeof desc));
  if (!rl_tensor_is_contiguous (t))
    return rl_set_error (RL_E_NOT_CONTIGUOUS, "%s: GGUF tensor %s must be whole contiguous rows",
                         op, rl_tensor_describe (t, desc, sizeof desc));
  RlStatus status = rl_gguf_dequantize_cuda (t->dtype, t->data, rl_tensor_numel (t), dtype, dst,
                                             ctx->stream);
  if (status != RL_OK)
    return rl_prefix_error (status, "%s: ", op);
  float scale = rl_tensor_scale (t);
  if (scale == 1.0f)
    return RL_OK;
  RlCudaPointwise p = rl_cuda_pointwise (RL_CUDA_UNARY_COPY);
  p.alpha = scale;
  return cuda_launch_status (rl_cuda_unary (p, dst, cuda_type (dtype), dst, cuda_type (dtype),
                                            rl_tensor_numel (t), ctx->stream), op);
}

RlStatus
cuda_dense_as (RlContext *ctx, const char *op, const RlTensor *t, RlDType dtype, void **out,
               bool *owned)
{
  *owned = false;
  *out = t->data;
  float scale = rl_tensor_scale (t);
  if (t->dtype == dtype && scale == 1.0f && rl_tensor_is_contiguous (t))
    return RL_OK;
  int64_t numel = rl_tensor_numel (t);
  size_t bytes = (size_t) numel * (size_t) rl_cuda_dtype_size (cuda_type (dtype));
  void *dst = NULL;
  RlStatus status = cuda_scratch (ctx, bytes, &dst);
  if (status != RL_OK)
    return rl_prefix_error (status, "%s: ", op);
  if (rl_dtype_is_quantized (t->dtype)) {
    status = dequantize_blocks (ctx, op, t, dtype, dst);
  } else {
    RlCudaPointwise p = rl_cuda_pointwise (RL_CUDA_UNARY_COPY);
    p.in_scale = scale;
    int64_t dense_strides[RL_MAX_DIMS];
    rl_contiguous_strides (t->ndim, t->shape, dense_strides);
    if (rl_tensor_is_contiguous (t))
      status = cuda_launch_status (rl_cuda_unary (p, dst, cuda_type (dtype), t->data,
                                                  cuda_type (t->dtype), numel, ctx->stream), op);
    else
      status = cuda_launch_status (rl_cuda_unary_strided (p, t->ndim, t->shape, dst,
                                                          cuda_type (dtype), dense_strides,
                                                          t->data, cuda_type (t->dtype),
                                                          t->strides, ctx->stream), op);
  }
  if (status != RL_OK) {
    cuda_scratch_free (ctx, dst);
    return status;
  }
  *out = dst;
  *owned = true;
  return RL_OK;
}
