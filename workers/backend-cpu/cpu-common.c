/* Argument checks, dtype row conversion and scratch memory for the CPU
 * backend. */
#include "workers/backend-cpu/cpu-internal.h"

#include <math.h>
#include <stdio.h>
#include <omp.h>

#include "workers/checkpoint/gguf-dequant.h"

/* Weak: the CPU backend works without the checkpoint library; GGUF
 * sources then fail with a message saying what to link. backend_cpu_dep
 * asks the linker to pull the symbol in when checkpoint_dep is linked. */
extern RlStatus rl_gguf_dequantize (RlDType dtype, const void *src, int64_t n,
                                    float *dst) __attribute__ ((weak));

RlStatus
cpu_check (const char *op, const char *arg, const RlTensor *t, unsigned flags)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];

  if (t == NULL)
    return rl_set_error (RL_E_INVALID_ARG, "%s: %s is NULL", op, arg);
  if (t->device.kind != RL_DEVICE_CPU)
    return rl_set_error (RL_E_DEVICE_MISMATCH, "%s: %s is %s, the cpu backend needs host tensors",
                         op, arg, rl_tensor_describe (t, desc, sizeof desc));
  if (t->data == NULL && rl_tensor_numel (t) > 0)
    return rl_set_error (RL_E_INVALID_ARG, "%s: %s has no data", op, arg);
  bool ok_dtype = true;
  RlDType d = t->dtype;
  bool is16 = d == RL_F32 || d == RL_F16 || d == RL_BF16;
  bool is8 = d == RL_F8_E4M3FN || d == RL_F8_E5M2;
  if (flags & CPU_FLOAT)
    ok_dtype = is16 || ((flags & CPU_FLOAT8) && is8);
  else if (flags & CPU_INDEX)
    ok_dtype = d == RL_I32 || d == RL_I64;
  else if (flags & CPU_PLAIN)
    ok_dtype = rl_dtype_block_elems (d) == 1;
  if (!ok_dtype)
    return rl_set_error (RL_E_DTYPE, "%s: %s is %s; expected %s", op, arg,
                         rl_tensor_describe (t, desc, sizeof desc),
                         (flags & CPU_FLOAT) ? ((flags & CPU_FLOAT8) ? "f32, f16, bf16 or f8"
                                                                   : "f32, f16 or bf16")
                         : (flags & CPU_INDEX) ? "i32 or i64" : "a non-block dtype");
  if ((flags & CPU_CONTIGUOUS) && !rl_tensor_is_contiguous (t))
    return rl_set_error (RL_E_NOT_CONTIGUOUS, "%s: %s must be contiguous (%s); copy it first",
                         op, arg, rl_tensor_describe (t, desc, sizeof desc));
  return RL_OK;
}

RlStatus
cpu_check_same_shape (const char *op, const char *name_a, const RlTensor *a,
                      const char *name_b, const RlTensor *b)
{
  char da[RL_TENSOR_DESCRIBE_SIZE], db[RL_TENSOR_DESCRIBE_SIZE];
  if (rl_tensor_same_shape (a, b))
    return RL_OK;
  return rl_set_error (RL_E_SHAPE, "%s: %s %s and %s %s must have the same shape", op,
                       name_a, rl_tensor_describe (a, da, sizeof da),
                       name_b, rl_tensor_describe (b, db, sizeof db));
}

RlStatus
cpu_check_dims (const char *op, const char *arg, const RlTensor *t, int ndim,
                const int64_t *sizes)
{
  char desc[RL_TENSOR_DESCRIBE_SIZE];
  bool ok = t->ndim == ndim;
  for (int d = 0; ok && d < ndim; d++)
    ok = sizes == NULL || sizes[d] < 0 || sizes[d] == t->shape[d];
  if (ok)
    return RL_OK;
  char want[96] = "";
  size_t used = 0;
  for (int d = 0; d < ndim && used < sizeof want; d++)
    {
      int n;
      if (sizes == NULL || sizes[d] < 0)
        n = snprintf (want + used, sizeof want - used, "%s*", d ? "," : "");
      else
        n = snprintf (want + used, sizeof want - used, "%s%lld", d ? "," : "",
                      (long long) sizes[d]);
      used += n > 0 ? (size_t) n : 0;
    }
  return rl_set_error (RL_E_SHAPE, "%s: %s is %s; expected shape [%s]", op, arg,
                       rl_tensor_describe (t, desc, sizeof desc), want);
}

float
cpu_load (RlDType dtype, const void *base, int64_t index)
{
  switch (dtype)
    {
    case RL_F32:       return ((const float *) base)[index];
    case RL_BF16:      return rl_bf16_to_f32 (((const uint16_t *) base)[index]);
    case RL_F16:       return rl_f16_to_f32 (((const uint16_t *) base)[index]);
    case RL_F8_E4M3FN: return rl_f8_e4m3fn_to_f32 (((const uint8_t *) base)[index]);
    case RL_F8_E5M2:   return rl_f8_e5m2_to_f32 (((const uint8_t *) base)[index]);
    case RL_F64:       return (float) ((const double *) base)[index];
    case RL_I8:        return (float) ((const int8_t *) base)[index];
    case RL_I16:       return (float) ((const int16_t *) base)[index];
    case RL_I32:       return (float) ((const int32_t *) base)[index];
    case RL_I64:       return (float) ((const int64_t *) base)[index];
    case RL_U8:        return (float) ((const uint8_t *) base)[index];
    case RL_BOOL:      return ((const uint8_t *) base)[index] ? 1.0f : 0.0f;
    default:           return NAN;
    }
}

void
cpu_store (RlDType dtype, void *base, int64_t index, float v)
{
  if (dtype == RL_F32)
    ((float *) base)[index] = v;
  else
    {
      size_t size = rl_dtype_block_bytes (dtype);
      rl_convert_row_from_f32 (dtype, (char *) base + index * (int64_t) size, &v, 1, 1.0f);
    }
}

void
cpu_load_row (RlDType dtype, const void *base, int64_t start, int64_t stride,
              int64_t n, float *out)
{
  if (stride == 1)
    {
      size_t size = rl_dtype_block_bytes (dtype);
      rl_convert_row_to_f32 (dtype, (const char *) base + start * (int64_t) size, n, 1.0f, out);
      return;
    }
  for (int64_t i = 0; i < n; i++)
    out[i] = cpu_load (dtype, base, start + i * stride);
}

void
cpu_store_row (RlDType dtype, void *base, int64_t start, int64_t stride,
               int64_t n, const float *in)
{
  size_t size = rl_dtype_block_bytes (dtype);
  if (stride == 1)
    {
      rl_convert_row_from_f32 (dtype, (char *) base + start * (int64_t) size, in, n, 1.0f);
      return;
    }
  for (int64_t i = 0; i < n; i++)
    cpu_store (dtype, base, start + i * stride, in[i]);
}

int64_t
cpu_outer_offset (int ndim, const int64_t *shape, const int64_t *strides, int64_t o)
{
  int64_t offset = 0;
  for (int d = ndim - 1; d >= 0; d--)
    {
      int64_t i = o % shape[d];
      o /= shape[d];
      offset += i * strides[d];
    }
  return offset;
}

RlStatus
cpu_scratch (RlContext *ctx, size_t bytes, void **out)
{
  return rl_alloc (ctx->allocator, bytes, out);
}

void
cpu_scratch_free (RlContext *ctx, void *ptr)
{
  rl_free (ctx->allocator, ptr);
}

RlStatus
cpu_dequantize (RlDType dtype, const void *src, int64_t n, float *dst)
{
  if (rl_gguf_dequantize == NULL)
    return rl_set_error (RL_E_NOT_SUPPORTED,
                         "%s dequantisation is not linked into this program; link checkpoint_dep",
                         rl_dtype_name (dtype));
  return rl_gguf_dequantize (dtype, src, n, dst);
}

RlStatus
cpu_dense_f32 (RlContext *ctx, const RlTensor *t, float **out, bool *owned)
{
  int64_t numel = rl_tensor_numel (t);
  float scale = rl_tensor_scale (t);
  RlStatus st;

  *out = NULL;
  *owned = false;
  if (t->dtype == RL_F32 && scale == 1.0f && rl_tensor_is_contiguous (t))
    {
      *out = t->data;
      return RL_OK;
    }
  float *dense;
  if ((st = cpu_scratch (ctx, (size_t) numel * sizeof (float), (void **) &dense)) != RL_OK)
    return st;
  if (rl_dtype_is_quantized (t->dtype))
    {
      char desc[RL_TENSOR_DESCRIBE_SIZE];
      if (!rl_tensor_is_contiguous (t))
        st = rl_set_error (RL_E_NOT_CONTIGUOUS, "dequantise: %s must be contiguous",
                           rl_tensor_describe (t, desc, sizeof desc));
      else
        st = cpu_dequantize (t->dtype, t->data, numel, dense);
      if (st == RL_OK && scale != 1.0f)
        for (int64_t i = 0; i < numel; i++)
          dense[i] *= scale;
    }
  else
    {
      int last = t->ndim - 1;
      int64_t n = t->ndim > 0 ? t->shape[last] : 1;
      int64_t stride = t->ndim > 0 ? t->strides[last] : 1;
      int64_t rows = n > 0 ? numel / n : 0;
#pragma omp parallel for schedule(static)
      for (int64_t r = 0; r < rows; r++)
        {
          int64_t off = cpu_outer_offset (last, t->shape, t->strides, r);
          cpu_load_row (t->dtype, t->data, off, stride, n, dense + r * n);
          if (scale != 1.0f)
            for (int64_t i = 0; i < n; i++)
              dense[r * n + i] *= scale;
        }
    }
  if (st != RL_OK)
    {
      cpu_scratch_free (ctx, dense);
      return st;
    }
  *out = dense;
  *owned = true;
  return RL_OK;
}

void
cpu_dense_f32_free (RlContext *ctx, float *data, bool owned)
{
  if (owned)
    cpu_scratch_free (ctx, data);
}

int
cpu_thread_count (void)
{
  return omp_get_max_threads ();
}

float
cpu_activate (RlActivation act, float x)
{
  switch (act)
    {
    case RL_ACT_GELU_TANH:
      {
        /* 0.5·(1 + tanh u) = σ(2u): one expf instead of tanhf, no
         * cancellation, and the right limits when expf overflows. */
        const float k = 0.7978845608028654f;   /* √(2/π) */
        float u = k * (x + 0.044715f * x * x * x);
        return x / (1.0f + expf (-2.0f * u));
      }
    case RL_ACT_SILU:
      return x / (1.0f + expf (-x));
    case RL_ACT_GELU_ERF:
      return 0.5f * x * (1.0f + erff (x * 0.7071067811865476f));
    case RL_ACT_NONE:
    default:
      return x;
    }
}
